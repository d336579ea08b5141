"""Shared fixtures. Figures render with the non-interactive Agg backend; data paths are resolved here."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"
SHARED_DATA = TESTS_DIR.parents[1] / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The vendored test data (see tests/data/README.md for provenance)."""
    return DATA_DIR


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's shared real sample data; tests using it skip when it is absent."""
    if not SHARED_DATA.exists():
        pytest.skip(f"shared sample data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_synthetic_cohort(tmp_path_factory):
    """A small synthetic cohort (30 development, 14 external patients, seed 3) written once for the session.

    Returns ``(folder, manifest, truth)``; tests copy or relabel the manifest, never the images, so every end-to-end
    test shares one set of CTs and slides (and, through a shared ``features`` folder, one feature cache).
    """
    import pandas as pd

    from multisurv.cohort.synthetic import make_synthetic_cohort

    root = tmp_path_factory.mktemp("small_cohort")
    manifest = make_synthetic_cohort(root / "cohort", n_development=30, n_external=14, random_state=3)
    truth = pd.read_csv(root / "cohort" / "truth.csv", dtype={"patient_id": str}).set_index("patient_id")
    return root, manifest, truth


#: Pathomics settings of the end-to-end tests: a small encoder and few tiles per slide keep them fast.
FAST_PATHOMICS = {"encoder": "resnet18", "max_tiles": 4}
