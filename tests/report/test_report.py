"""summary_table: one row per model, one subset at a time."""

from __future__ import annotations

import pandas as pd
import pytest

from multisurv.report.report import summary_table


def _metrics():
    rows = []
    for subset, n in (("available", 90), ("complete", 60)):
        for cohort in ("development", "external"):
            rows.append({"model": "radiomics", "cohort": cohort, "subset": subset, "n": n, "events": n // 3,
                         "cindex": 0.7, "ci_lower": 0.6, "ci_upper": 0.8, "logrank_p": 0.01})
    return pd.DataFrame(rows)


def test_default_is_every_patient_a_model_scores():
    table = summary_table(_metrics())
    assert len(table) == 1
    assert table.loc[0, "n development (events)"] == "90 (30)"


def test_complete_case_subset_on_request():
    table = summary_table(_metrics(), subset="complete")
    assert table.loc[0, "n external (events)"] == "60 (20)"


def test_mixed_rows_without_subset_column_are_refused():
    with pytest.raises(ValueError, match="one subset at a time"):
        summary_table(_metrics().drop(columns="subset"))
