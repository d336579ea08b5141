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
    return make_y(REF["data"]["time"], REF["data"]["status"])


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


# --- stratified and weighted log-rank against survdiff on four real datasets (make_km_cox_reference.R) ---------

KM_REF_DIR = Path(__file__).parents[1] / "reference"
KM_REF = json.loads((KM_REF_DIR / "km_cox_reference.json").read_text())
SURVDIFF_CASES = [(name, i) for name, d in KM_REF["datasets"].items() for i in range(len(d["logrank"]))]


def _survdiff_id(case) -> str:
    name, i = case
    ref = KM_REF["datasets"][name]["logrank"][i]
    strata = f"+strata({ref['strata']})" if ref["strata"] else ""
    return f"{name}-{ref['group']}{strata}-rho{ref['rho']}"


def _frame(name: str):
    import pandas as pd

    return pd.read_csv(KM_REF_DIR / "data" / f"km_{name}.csv")


@pytest.mark.parametrize("case", SURVDIFF_CASES, ids=_survdiff_id)
def test_logrank_matches_survdiff_strata_and_rho(case):
    """R: survdiff(Surv(time, status) ~ group [+ strata(s)], rho = rho): chisq, df, p, obs and exp per group."""
    name, i = case
    ref = KM_REF["datasets"][name]["logrank"][i]
    frame = _frame(name)
    strata = None if ref["strata"] is None else frame[ref["strata"]]
    res = logrank(make_y(frame["time"], frame["status"]), frame[ref["group"]].astype(str), strata=strata,
                  rho=ref["rho"])
    assert res.statistic == pytest.approx(ref["chisq"], abs=TOL_LR, rel=TOL_LR)
    assert res.p_value == pytest.approx(ref["p_value"], abs=TOL_LR, rel=TOL_LR)
    assert res.df == ref["df"]
    assert res.n_per_group == ref["n"]
    assert res.observed == pytest.approx(ref["observed"], abs=TOL_LR)
    assert res.expected == pytest.approx(ref["expected"], abs=TOL_LR)
    assert res.rho == ref["rho"]
    assert res.n_strata == (1 if strata is None else strata.nunique())


@pytest.mark.parametrize("weightings", [{}, {"weightings": "fleming-harrington", "p": 1, "q": 0}],
                         ids=["logrank", "peto_rho1"])
@pytest.mark.parametrize(("name", "group"), [("gbsg2", "tgrade"), ("aids", "ivdrug"), ("veteran", "celltype")])
def test_logrank_agrees_with_lifelines(name, group, weightings):
    from lifelines.statistics import multivariate_logrank_test

    frame = _frame(name)
    res = logrank(make_y(frame["time"], frame["status"]), frame[group], rho=float(weightings.get("p", 0)))
    lf = multivariate_logrank_test(frame["time"], frame[group], frame["status"], **weightings)
    assert res.statistic == pytest.approx(lf.test_statistic, rel=1e-10)
    assert res.df == lf.degrees_of_freedom


def test_logrank_table_is_survdiff_print(y_vet):
    """R: print(survdiff(Surv(time, status) ~ trt, data = veteran)) shows N, Observed, Expected, (O-E)^2/E, (O-E)^2/V."""
    table = logrank(y_vet, REF["data"]["trt"]).table()
    assert list(table.columns) == ["N", "Observed", "Expected", "(O-E)^2/E", "(O-E)^2/V"]
    assert table["N"].tolist() == [69, 68] and table["Observed"].tolist() == [64.0, 64.0]
    np.testing.assert_allclose(table["Expected"], [64.5, 63.5], atol=0.05)  # R prints 64.5 and 63.5
    np.testing.assert_allclose(table["(O-E)^2/V"], REF["logrank"]["trt"]["chisq"], rtol=1e-12)  # 2 groups


def test_stratified_logrank_with_one_stratum_is_the_plain_test(y_vet):
    plain = logrank(y_vet, REF["data"]["trt"])
    one = logrank(y_vet, REF["data"]["trt"], strata=["all"] * 137)
    assert one.statistic == pytest.approx(plain.statistic, rel=1e-12) and one.n_strata == 1


def test_logrank_strata_and_rho_errors(y_vet):
    trt = REF["data"]["trt"]
    with pytest.raises(ValueError, match=r"^'strata' has 2 samples but 'y' has 137\.$"):
        logrank(y_vet, trt, strata=["a", "b"])
    with pytest.raises(ValueError, match=r"^'strata' has 1 missing label\(s\); give every patient a stratum\.$"):
        logrank(y_vet, trt, strata=[None] + ["a"] * 136)
    with pytest.raises(ValueError, match=r"^The 'rho' parameter of logrank must be a float in the range \[0, inf\)\. "
                                         r"Got -1\.0 instead\.$"):
        logrank(y_vet, trt, rho=-1.0)


def test_logrank_group_never_at_risk_at_an_event():
    """A group whose patients all leave before the first event has expected 0; R drops it, and so do we."""
    y = make_y([1.0, 1.5, 3.0, 4.0, 5.0, 6.0], [0, 0, 1, 1, 1, 0])
    res = logrank(y, ["early", "early", "a", "b", "a", "b"])
    assert res.df == 1 and res.expected["early"] == 0.0
    with pytest.raises(ValueError, match=r"^Fewer than two groups have a patient at risk at an event time"):
        logrank(make_y([1.0, 3.0, 4.0], [0, 1, 1]), ["early", "a", "a"])
