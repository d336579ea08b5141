"""multisurv.features."""
