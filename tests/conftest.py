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
