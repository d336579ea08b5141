"""Tests for multisurv.evaluation.cox against R's coxph(ties = "efron") and cox.zph (survival 3.5).

Reference: tests/reference/make_km_cox_reference.R on veteran, gbsg2, whas500 and aids (scikit-survival's copies).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y
from multisurv.evaluation.cox import (ZPH_TRANSFORMS, ChiSquareTest, CoxResult, ProportionalHazardsResult, cox_ph,
                                      proportional_hazards_test)
from multisurv.exceptions import ConvergenceWarning

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "km_cox_reference.json").read_text())
DATASETS = sorted(REF["datasets"])
# Cox fits are iterative: R's Newton-Raphson stops when the log-likelihood changes by < 1e-9 (relative), ours
# (lifelines) when the step or the Newton decrement is < 1e-12. Newton converges quadratically, so both land
# within ~1e-10 of the maximum: measured max differences 2e-10 (coefficients), 1e-8 (z), 5e-7 relative on a
# 1e-4-sized coefficient. rtol 1e-6 with atol 1e-8 leaves 50x headroom; p-values get rtol 1e-5 because they
# amplify z's error by |z| (up to 9 here).
TOL_COX = {"rtol": 1e-6, "atol": 1e-8}
TOL_P = {"rtol": 1e-5, "atol": 1e-12}
# The log-likelihoods and the score test are closed forms at fixed coefficients (0, or a coefficient vector
# agreeing to 1e-10): measured 3e-12.
TOL_CLOSED = {"rtol": 1e-9, "atol": 1e-8}


@pytest.fixture(scope="module", params=DATASETS)
def case(request):
    name = request.param
    ref = REF["datasets"][name]["cox"]
    frame = pd.read_csv(REF_DIR / "data" / f"km_{name}.csv")
    y = make_y(frame["time"], frame["status"])
    X = frame[ref["covariates"]]
    return name, ref, y, X, cox_ph(y, X)


def test_coefficients_match_coxph(case):
    """R: summary(coxph(Surv(time, status) ~ <covariates>, ties = "efron"))$coefficients and $conf.int."""
    _, ref, _, _, fit = case
    assert list(fit.names) == ref["names"]
    for field in ("coef", "se", "hr", "lower", "upper", "z"):
        np.testing.assert_allclose(getattr(fit, field), ref[field], err_msg=field, **TOL_COX)
    np.testing.assert_allclose(fit.p_value, ref["p_value"], **TOL_P)
    assert (fit.n, fit.n_events) == (ref["n"], ref["n_events"])


def test_global_tests_match_coxph(case):
    """R: fit$loglik, summary(fit)$logtest, $sctest, and fit$wald.test (summary rounds it to 2 decimals)."""
    _, ref, _, _, fit = case
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], ref["loglik"], **TOL_CLOSED)
    for name, tol in (("lr_test", TOL_CLOSED), ("score_test", TOL_CLOSED), ("wald_test", TOL_COX)):
        got, want = getattr(fit, name), ref[name]
        assert got.df == want["df"]
        np.testing.assert_allclose(got.statistic, want["statistic"], err_msg=name, **tol)
        np.testing.assert_allclose(got.p_value, want["p_value"], err_msg=name, **TOL_P)


@pytest.mark.parametrize("transform", ZPH_TRANSFORMS)
def test_proportional_hazards_test_matches_cox_zph(case, transform):
    """R: cox.zph(fit, transform = <transform>)$table (survival 3.5: score test, one row per term + GLOBAL)."""
    _, ref, y, X, fit = case
    want = ref["zph"][transform]
    res = proportional_hazards_test(y, X, fit=fit, transform=transform)
    assert list(res.tests) == [*want["terms"], "GLOBAL"]
    # Closed form at the fitted coefficients; the fit's 1e-10 error moves it by at most ~1e-9 (measured 2e-9).
    for term, test in res.tests.items():
        assert test.df == want["df"][term]
        np.testing.assert_allclose(test.statistic, want["chisq"][term], rtol=1e-6, atol=1e-8, err_msg=term)
        np.testing.assert_allclose(test.p_value, want["p"][term], rtol=1e-5, atol=1e-12, err_msg=term)


def test_veteran_karno_violates_proportional_hazards():
    """The textbook finding (Therneau & Grambsch, 2000): Karnofsky score's effect fades with time."""
    frame = pd.read_csv(REF_DIR / "data" / "km_veteran.csv")
    y = make_y(frame["time"], frame["status"])
    res = proportional_hazards_test(y, frame[REF["datasets"]["veteran"]["cox"]["covariates"]])
    assert res.tests["karno"].p_value < 0.001
    frame = res.to_frame()
    assert list(frame.columns) == ["chisq", "df", "p"] and frame.index[-1] == "GLOBAL"
    assert frame.loc["celltype", "df"] == 3


def test_zph_fits_the_model_when_not_given():
    frame = pd.read_csv(REF_DIR / "data" / "km_aids.csv")
    y = make_y(frame["time"], frame["status"])
    ref = REF["datasets"]["aids"]["cox"]["zph"]["km"]
    res = proportional_hazards_test(y, frame[["tx", "age", "cd4", "karnof"]])
    np.testing.assert_allclose(res.tests["GLOBAL"].statistic, ref["chisq"]["GLOBAL"], rtol=1e-6)


def test_design_names_follow_r():
    frame = pd.read_csv(REF_DIR / "data" / "km_gbsg2.csv")
    y = make_y(frame["time"], frame["status"])
    X = frame[["tgrade", "age"]].assign(hormone=frame["horTh"] == "yes")
    fit = cox_ph(y, X)
    assert fit.names == ("tgradeII", "tgradeIII", "age", "hormone")
    assert fit.terms == {"tgrade": ("tgradeII", "tgradeIII"), "age": ("age",), "hormone": ("hormone",)}
    ordered = X.assign(tgrade=pd.Categorical(X["tgrade"], categories=["III", "II", "I"]))
    refit = cox_ph(y, ordered)
    assert refit.names[:2] == ("tgradeII", "tgradeI")  # a categorical keeps its order: the first is the reference
    assert refit.loglik == pytest.approx(fit.loglik, rel=1e-12)


def test_array_input_and_result_conversions():
    frame = pd.read_csv(REF_DIR / "data" / "km_whas500.csv")
    y = make_y(frame["time"], frame["status"])
    fit = cox_ph(y, frame[["age", "chf"]].to_numpy())
    assert isinstance(fit, CoxResult) and fit.names == ("x0", "x1")
    table = fit.to_frame()
    assert list(table.columns) == ["coef", "se", "hr", "lower", "upper", "z", "p_value"]
    assert list(table.index) == ["x0", "x1"]
    d = fit.to_dict()
    json.dumps(d)
    assert d["lr_test"]["df"] == 2 and d["terms"] == {"x0": ["x0"], "x1": ["x1"]}
    zph = proportional_hazards_test(y, frame[["age", "chf"]].to_numpy(), fit=fit)
    assert isinstance(zph, ProportionalHazardsResult)
    assert json.loads(json.dumps(zph.to_dict()))["tests"]["GLOBAL"]["df"] == 2
    assert ChiSquareTest.of(3.841458820694124, 1).p_value == pytest.approx(0.05)


def test_confidence_level():
    frame = pd.read_csv(REF_DIR / "data" / "km_veteran.csv")
    y = make_y(frame["time"], frame["status"])
    fit90 = cox_ph(y, frame[["karno"]], confidence=0.90)
    fit95 = cox_ph(y, frame[["karno"]])
    assert fit90.lower[0] > fit95.lower[0] and fit90.coef[0] == pytest.approx(fit95.coef[0])


def test_group_without_events_warns():
    rng = np.random.default_rng(0)
    y = make_y(rng.exponential(10, 40), np.r_[np.ones(20), np.zeros(20)])
    with pytest.warns(ConvergenceWarning, match=r"^The Cox fit on 'g' is not reliable: .*'gb'.*Drop or merge it\.$"):
        fit = cox_ph(y, pd.DataFrame({"g": ["a"] * 20 + ["b"] * 20}))
    assert fit.coef[0] < -5


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [1, 2, 3, 4]}),
         r"^'X' has missing values in column\(s\) 'a' \(1\)\. Drop those patients or impute first\.$"),
        (pd.DataFrame({"a": [1.0, 1.0, 1.0, 1.0]}),
         r"^Column\(s\) 'a' of 'X' are constant; a constant covariate has no hazard ratio\. Drop them\.$"),
        (pd.DataFrame({"c": ["x", "x", "x", "x"]}),
         r"^Column 'c' of 'X' has a single level \('x'\); it cannot enter a Cox model\. Drop it\.$"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}), r"^'X' has 3 samples but 'y' has 4\.$"),
        (pd.DataFrame(index=range(4)), r"^'X' has no columns; give at least one covariate\.$"),
        (np.zeros((4, 2, 2)), r"^'X' must be 2-dimensional \(patients x covariates\); got shape \(4, 2, 2\)\.$"),
    ],
    ids=["missing", "constant", "single_level", "length", "no_columns", "3d"],
)
def test_cox_ph_input_errors(X, message):
    y = make_y([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 1])
    with pytest.raises(ValueError, match=message):
        cox_ph(y, X)


def test_cox_ph_collinear_columns_error():
    y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 0, 1, 1, 1, 0])
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0, 7.0], "b": [2.0, 4.0, 6.0, 8.0, 10.0, 14.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"^The Cox model on 'a', 'b' could not be fitted \(.*\)\. A covariate "
                                             r"may separate .* or be collinear with others; drop or merge it\.$"):
            cox_ph(y, X)


def test_parameter_errors():
    y = make_y([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 1])
    X = pd.DataFrame({"a": [1.0, 2.0, 4.0, 3.0]})
    with pytest.raises(ValueError, match=r"^The 'confidence' parameter of cox_ph must be a float in the range "
                                         r"\(0, 1\)\. Got 95 instead\.$"):
        cox_ph(y, X, confidence=95)
    with pytest.raises(ValueError, match=r"^The 'transform' parameter of proportional_hazards_test must be one of "
                                         r"'km', 'identity', 'rank', 'log'\. Got 'KM' instead\.$"):
        proportional_hazards_test(y, X, transform="KM")
    fit = cox_ph(y, X)
    with pytest.raises(ValueError, match=r"^'fit' has coefficients \['a'\] but 'X' gives \['b'\]; pass the "
                                         r"covariates the model was fitted on\.$"):
        proportional_hazards_test(y, X.rename(columns={"a": "b"}), fit=fit)
