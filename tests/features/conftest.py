"""Fixtures shared by the feature-extraction tests: a tiny Cohort builder."""

from __future__ import annotations

import pandas as pd
import pytest

from multisurv.cohort.cohort import Cohort


def _make_cohort(**paths_by_patient) -> Cohort:
    rows = []
    for i, (pid, paths) in enumerate(paths_by_patient.items()):
        row = {"patient_id": pid, "cohort": "development", "time": float(i + 1), "event": bool(i % 2 == 0),
               "ct_image": None, "ct_mask": None, "wsi": None}
        row.update({k: (None if v is None else str(v)) for k, v in paths.items()})
        rows.append(row)
    return Cohort(pd.DataFrame(rows).set_index("patient_id"))


@pytest.fixture(scope="session")
def make_cohort():
    """``make_cohort(p1={"wsi": path}, p2={"ct_image": a, "ct_mask": b})`` -> Cohort with those files."""
    return _make_cohort
