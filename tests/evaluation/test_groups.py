"""Tests for multisurv.evaluation.groups (log-rank reference: tests/reference/make_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from multisurv._validation import make_y
from multisurv.evaluation.groups import LogRankResult, logrank, risk_groups

REF = json.loads((Path(__file__).parents[1] / "reference" / "veteran_reference.json").read_text())
# Log-rank against survival::survdiff: the same closed-form statistic (hypergeometric variance with ties);
# 1e-6 leaves room for the JSON's 15 significant digits only.
TOL_LR = 1e-6


@pytest.fixture(scope="module")
def y_vet():
    return make_y(REF["data"]["status"], REF["data"]["time"])


@pytest.mark.parametrize("factor", ["trt", "celltype"])
def test_logrank_matches_survdiff(y_vet, factor):
    """R: survdiff(Surv(time, status) ~ trt) and ~ celltype on survival::veteran."""
    ref = REF["logrank"][factor]
    res = logrank(y_vet, REF["data"][factor])
    assert res.statistic == pytest.approx(ref["chisq"], abs=TOL_LR)
    assert res.p_value == pytest.approx(ref["p_value"], abs=TOL_LR, rel=TOL_LR)
    assert res.df == ref["df"]
    assert {str(k): v for k, v in res.n_per_group.items()} == ref["n"]


def test_logrank_result_frame(y_vet):
    res = logrank(y_vet, REF["data"]["trt"])
    assert isinstance(res, LogRankResult)
    frame = res.to_frame()
    assert list(frame.columns) == ["statistic", "p_value", "df", "n_1", "n_2"]
    assert res.to_dict()["n_per_group"] == {1: 69, 2: 68}


def test_logrank_on_risk_groups_separates_a_strong_score(y_vet):
    karno = np.asarray(REF["data"]["karno"], float)
    groups = risk_groups(-karno, cutoff=float(np.median(-karno)))
    res = logrank(y_vet, groups)
    assert res.p_value < 1e-3
    assert set(res.n_per_group) == {"high", "low"}


@pytest.mark.parametrize(
    ("risk", "cutoff", "expected"),
    [
        ([0.2, 1.5, -1.0, 0.5], 0.5, ["low", "high", "low", "low"]),  # equal to the cut-off is "low"
        ([3.0, 4.0], 0.0, ["high", "high"]),
        ([-3.0], 0.0, ["low"]),
    ],
    ids=["mixed", "all_high", "single_low"],
)
def test_risk_groups_cases(risk, cutoff, expected):
    assert list(risk_groups(risk, cutoff=cutoff)) == expected


def test_risk_groups_nan_error():
    with pytest.raises(ValueError, match=r"^'risk' has 1 NaN value\(s\) out of 3; a patient without a score"):
        risk_groups([1.0, np.nan, 2.0], cutoff=1.0)


@pytest.mark.parametrize("cutoff", [np.nan, "median", None], ids=["nan", "str", "none"])
def test_risk_groups_cutoff_error(cutoff):
    with pytest.raises(ValueError) as info:
        risk_groups([1.0, 2.0], cutoff=cutoff)
    assert str(info.value) == f"The 'cutoff' parameter of risk_groups must be a finite float. Got {cutoff!r} instead."


def test_logrank_needs_two_groups(y_vet):
    with pytest.raises(ValueError, match=r"^'groups' must contain at least two groups to compare; got 1 \('a'\)\.$"):
        logrank(y_vet, ["a"] * 137)


def test_logrank_length_and_missing(y_vet):
    with pytest.raises(ValueError, match=r"^'groups' has 3 samples but 'y' has 137\.$"):
        logrank(y_vet, ["a", "b", "a"])
    groups = np.array(["a", "b"] * 68 + [None], dtype=object)
    with pytest.raises(ValueError, match=r"^'groups' has 1 missing label\(s\); give every patient a group\.$"):
        logrank(y_vet, groups)
