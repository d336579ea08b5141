"""multisurv.features.wsi."""
