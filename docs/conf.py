"""Sphinx configuration of the multisurv documentation (build: see README.md; checked by tests/test_docs.py)."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

import multisurv  # noqa: E402

project = "multisurv"
author = "the multisurv developers"
copyright = "2026, the multisurv developers"
release = version = multisurv.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "msdocs",  # docs/_ext/msdocs.py: CLI, config, API and evidence pages generated from the code
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "tutorials/GALLERY_HEADER.rst", "figures/GALLERY_HEADER.rst"]
html_theme = "furo"
html_title = f"multisurv {release}"
html_static_path = []
myst_heading_anchors = 3
smartquotes = False  # keep "--out" and quotes as typed: commands and keys are copied from these pages

# Every warning is an error in CI (-W); references to names that cannot be resolved are warnings too, except
# third-party names: their inventories (intersphinx) would have to be downloaded, which the build never does.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|pandas|pd|scipy|sklearn|sksurv|lifelines|matplotlib|torch|torchvision|openslide|"
               r"SimpleITK|sitk|radiomics|dask|distributed|yaml|jsonschema|PIL|h5py|shap|tifffile|pathlib|"
               r"collections|typing|argparse|concurrent|os|io|logging)(\..*)?"),
    (r"py:.*", r".*(^|\.)_[A-Za-z].*"),          # private helpers are not documented by design
    (r"py:.*", r".*[^\w.].*"),                  # not a name at all (numpydoc splitting a literal type)
    (r"py:.*", r"skops(\..*)?"),
    (r"py:.*", r"(Path|Axes|Figure|DataFrame|Series|ndarray|ArrayLike|Mapping|Sequence|Iterable|Iterator|Callable|"
               r"Any|Literal|Generator|Client|Encoder|Module|Tensor|Pipeline|BaseEstimator|TransformerMixin|"
               r"ValueError|Exception|UserWarning|RuntimeWarning|Warning|ImportError|FileNotFoundError|"
               r"optional|array-like|callable|path|dict|list|tuple|str|int|float|bool|None|object)"),
]

# API reference: numpydoc renders the sections; a public name without a docstring (GL08) is a warning.
autodoc_typehints = "none"           # the numpydoc 'Parameters' section states the types
autodoc_member_order = "bysource"
autosummary_generate = False         # the pages are written by msdocs; autosummary only draws the tables
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = {"GL08", "PR01", "RT01", "EX01"}  # docstring, parameters, Returns, Examples
numpydoc_validation_exclude = {
    r"\.__init__$", r"\.__call__$",
    r"\.[A-Z][A-Z0-9_]*$",  # module constants need no Examples
    r"\.FusionStrategy\.inputs$", r"\.SimulationConfig\.intermediate$",  # fields documented by '#:' comments
    r"\.registry\.Modality$",  # fields under 'Attributes': the config reference reads them from there
}

# Tutorials and the figures gallery: executed during the build; an example that raises fails the build.
sphinx_gallery_conf = {
    "examples_dirs": ["tutorials", "figures"],
    "gallery_dirs": ["auto_tutorials", "auto_figures"],
    "filename_pattern": r"/(plot_|tutorial_)",
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_signature": False,
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "write_computation_times": True,
    "plot_gallery": os.environ.get("MULTISURV_DOCS_EXECUTE", "True"),
}

# Fast subset (MULTISURV_DOCS_FAST=1; tests/test_docs.py's default-run test): every page but the API
# reference, two figure-gallery examples executed, the tutorials rendered without running. References to API
# objects cannot resolve without the API pages, so only those warnings are suppressed; the full build
# (the slow test and the README command) checks them.
if os.environ.get("MULTISURV_DOCS_FAST") == "1":  # the default test run: every page but most executed examples
    sphinx_gallery_conf["filename_pattern"] = r"/plot_0[12]_"

# Matplotlib without a display; library warnings in tutorials are shown as text, never raised.
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib is currently using agg")
