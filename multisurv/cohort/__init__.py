"""multisurv.cohort."""
