"""multisurv.selection."""
