"""multisurv.fusion."""
