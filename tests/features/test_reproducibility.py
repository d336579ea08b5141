"""Tests for multisurv.features.reproducibility: ICC(2,1) and ICC(3,1) against R's psych::ICC."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv.features.reproducibility import ICC_COLUMNS, icc_table, intraclass_correlation

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((ROOT / "reference" / "icc_reference.json").read_text())
BASELINE = ROOT / "data" / "pyradiomics_baseline"
STATS = ("icc2_1", "icc2_1_low", "icc2_1_high", "icc3_1", "icc3_1_low", "icc3_1_high")
# ICCs and their bounds lie in [-1, 1]: R and numpy compute them in double precision from the same inputs
# (numbers in the JSON have 15 significant digits), so 1e-8 absolute leaves room only for rounding.
ICC_TOL = 1e-8
# Mean squares and F have the feature's own units (up to 1e9 for Energy-like features): compared relatively.
MS_RTOL = 1e-8


def _baseline_ratings():
    ref = REFERENCE["radiomics"]
    cases, variants = ref["cases"], ref["variants"]
    values = {}
    for cls in ref["classes"]:
        table = pd.read_csv(BASELINE / f"baseline_{cls}.csv", index_col=0)
        rows = table.loc[table.index.str.startswith("original_")]
        for name, row in rows.iterrows():
            values[name] = np.array([[float(row[c + v]) for v in variants] for c in cases])
    return values


def test_radiomics_features_match_psych_icc():
    """psych::ICC(x, alpha = 0.05, lmer = FALSE) per feature; see tests/reference/make_icc_reference.R."""
    values = _baseline_ratings()
    expected = pd.DataFrame(REFERENCE["radiomics"]["features"]).set_index("feature")
    assert len(expected) == 93
    ratings = np.stack([values[f] for f in expected.index], axis=2)
    got = intraclass_correlation(ratings, features=list(expected.index))
    assert list(got.columns) == list(ICC_COLUMNS)
    for col in STATS:
        np.testing.assert_allclose(got[col], expected[col], rtol=0, atol=ICC_TOL, err_msg=col)
    for col in ("ms_subjects", "ms_raters", "ms_error", "f_subjects"):
        np.testing.assert_allclose(got[col], expected[col], rtol=MS_RTOL, atol=0, err_msg=col)
    assert (got["n_subjects"] == 3).all() and (got["n_raters"] == 3).all()


@pytest.mark.parametrize("case", ["shrout_fleiss", "shrout_fleiss_na"])
def test_shrout_fleiss_table_matches_psych_icc(case):
    """Shrout and Fleiss (1979) Table 2; with one missing rating the subject is left out (R: na.omit)."""
    ref = REFERENCE[case]
    ratings = np.array([[np.nan if v is None else v for v in row] for row in ref["ratings"]], dtype=float)
    got = intraclass_correlation(ratings).iloc[0]
    for col in STATS:
        assert got[col] == pytest.approx(ref["result"][col], abs=ICC_TOL), col
    assert got["n_subjects"] == ref["result"]["n_subjects"]


def test_published_shrout_fleiss_values():
    """The paper's own rounded values: ICC(2,1) = 0.29, ICC(3,1) = 0.71 (Shrout and Fleiss 1979, Table 4)."""
    got = intraclass_correlation(REFERENCE["shrout_fleiss"]["ratings"]).iloc[0]
    assert round(got["icc2_1"], 2) == 0.29 and round(got["icc3_1"], 2) == 0.71


def test_invariant_to_shift_and_scale_of_large_features():
    """ICCs do not change when a feature is multiplied by 1e9 and shifted (Energy-like magnitudes)."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 3, 5))
    a = intraclass_correlation(base)
    b = intraclass_correlation(base * 1e9 + 1e12)
    # centring and scaling inside keep ~1e-12 relative precision; 1e-6 still catches any lost cancellation.
    np.testing.assert_allclose(a[list(STATS)], b[list(STATS)], atol=1e-6)


def test_offset_reader_lowers_absolute_agreement_only():
    """A reader who adds a constant keeps consistency (ICC(3,1) = 1) but loses absolute agreement."""
    x = np.arange(10.0)
    got = intraclass_correlation(np.column_stack([x, x + 3.0])).iloc[0]
    assert got["icc3_1"] == pytest.approx(1.0) and got["icc2_1"] < 0.8


def test_constant_feature_is_nan_and_missing_subject_only_drops_that_feature():
    ratings = np.random.default_rng(1).normal(size=(6, 2, 2))
    ratings[:, :, 0] = 5.0
    ratings[0, 1, 1] = np.nan
    got = intraclass_correlation(ratings, features=["const", "f"])
    assert np.isnan(got.loc["const", "icc2_1"]) and got.loc["const", "n_subjects"] == 6
    assert got.loc["f", "n_subjects"] == 5 and np.isfinite(got.loc["f", "icc3_1"])


def test_vectorised_over_thousands_of_features_matches_loop():
    rng = np.random.default_rng(2)
    subject = rng.normal(size=(30, 1, 3000))
    ratings = subject + 0.3 * rng.normal(size=(30, 4, 3000))
    start = time.perf_counter()
    fast = intraclass_correlation(ratings)
    elapsed = time.perf_counter() - start
    slow = pd.concat([intraclass_correlation(ratings[:, :, j]) for j in range(0, 3000, 500)])
    np.testing.assert_allclose(fast.iloc[::500][list(STATS)].to_numpy(), slow[list(STATS)].to_numpy(), atol=1e-12)
    assert elapsed < 2.0  # generous: about 0.05 s on one core


def test_icc_table_aligns_patients_and_features():
    rng = np.random.default_rng(3)
    idx = [f"P{i}" for i in range(8)]
    r1 = pd.DataFrame(rng.normal(size=(8, 3)), index=idx, columns=["ct__a", "ct__b", "clin__age"])
    r2 = (r1 + 0.1 * rng.normal(size=(8, 3))).drop(index="P0").iloc[::-1]
    got = icc_table({"reader1": r1, "reader2": r2}, prefix="ct__")
    assert list(got.index) == ["ct__a", "ct__b"] and (got["n_subjects"] == 7).all()
    expected = intraclass_correlation(np.stack([r1.loc[idx[1:], ["ct__a", "ct__b"]].to_numpy(),
                                                r2.loc[idx[1:], ["ct__a", "ct__b"]].to_numpy()], axis=1))
    np.testing.assert_allclose(got["icc2_1"].to_numpy(), expected["icc2_1"].to_numpy())


@pytest.mark.parametrize("call, match", [
    (lambda: intraclass_correlation(np.ones((1, 2))), "at least 2 subjects and 2 raters; got 1 subject"),
    (lambda: intraclass_correlation(np.ones(4)), r"must have shape \(n_subjects, n_raters\)"),
    (lambda: intraclass_correlation(np.ones((3, 2, 2)), features=["a"]), "'features' has 1 names but 'ratings' has 2"),
    (lambda: intraclass_correlation(np.ones((3, 2)), confidence=1.0), "'confidence' parameter"),
    (lambda: icc_table([pd.DataFrame({"a": [1.0]})]), "at least 2 raters"),
    (lambda: icc_table([pd.DataFrame({"a": [1.0, 2.0]}), pd.DataFrame({"b": [1.0, 2.0]})]), "share 2 patient"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
