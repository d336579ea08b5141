"""multisurv.plotting."""
