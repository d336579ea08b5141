"""multisurv.report."""
