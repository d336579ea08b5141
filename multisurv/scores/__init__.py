"""multisurv.scores."""
