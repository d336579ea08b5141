"""multisurv.evaluation."""
