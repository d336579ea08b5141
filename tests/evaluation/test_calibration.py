"""Grouped calibration at t0 and decision curves, against R (tests/reference/make_calibration_reference.R)."""

import json
from pathlib import Path

import numpy as np
import pytest

from multisurv._validation import make_y
from multisurv.evaluation.calibration import calibration_at, km_at
from multisurv.evaluation.decision_curve import decision_curve

REF = json.loads((Path(__file__).parents[1] / "reference" / "calibration_reference.json").read_text())
Y = make_y(REF["time"], np.asarray(REF["status"]) == 1)
CASES = {f"t0={case['t0']:g}": case for case in REF["cases"]}
#: Closed forms on both sides (quantile groups, Kaplan-Meier, Greenwood log-log band): only the JSON's
#: 15 significant digits separate them.
TOL = 1e-9


@pytest.mark.parametrize("name", CASES)
def test_calibration_matches_r(name):
    """R: summary(survfit(Surv(time, status) ~ 1, conf.type = "log-log"), times = t0) per quantile group."""
    case = CASES[name]
    got = calibration_at(Y, case["surv_prob"], case["t0"], n_groups=case["n_groups"]).table
    want = case["calibration"]
    assert len(got) == len(want)
    for row, ref in zip(got.to_dict(orient="records"), want):
        assert row["n"] == ref["n"] and row["n_events"] == ref["n_events"]
        for key in ("predicted", "observed", "lower", "upper"):
            # R writes NA (the band at zero survival) as null.
            want_value = np.nan if ref[key] is None else ref[key]
            assert row[key] == pytest.approx(want_value, abs=TOL, nan_ok=True), key


@pytest.mark.parametrize("name", CASES)
def test_decision_curve_matches_r(name):
    """R: net benefit from survfit's Kaplan-Meier estimates, Vickers et al. (2008) formula."""
    case = CASES[name]
    want = case["decision_curve"]
    thresholds = [row["threshold"] for row in want]
    got = decision_curve(Y, 1 - np.asarray(case["surv_prob"]), case["t0"], thresholds=thresholds).table
    np.testing.assert_array_equal(got["n_positive"], [row["n_positive"] for row in want])
    np.testing.assert_allclose(got["net_benefit"], [row["net_benefit"] for row in want], atol=TOL)
    np.testing.assert_allclose(got["treat_all"], [row["treat_all"] for row in want], atol=TOL)
    assert (got["treat_none"] == 0).all()


def test_decision_curve_of_a_perfect_predictor_is_the_event_rate():
    """With no censoring before t0 and risk = the outcome, NB equals the event rate at every threshold."""
    time = np.arange(1.0, 21.0)
    y = make_y(time, np.ones(20, bool))
    risk = (time <= 8).astype(float)  # 8 events by t0 = 8.5
    res = decision_curve(y, risk, 8.5, thresholds=[0.1, 0.5, 0.9])
    np.testing.assert_allclose(res.table["net_benefit"], 8 / 20)
    assert res.to_frame().columns[:2].tolist() == ["model", "t0"]


def test_km_at_follows_r_beyond_follow_up():
    """summary(survfit, times, extend = TRUE): last value if it reached 0, NA (here NaN) if censored."""
    assert np.isnan(km_at(make_y([1.0, 2.0], [1, 0]), 5.0)[0])
    assert km_at(make_y([1.0, 2.0], [0, 1]), 5.0)[0] == 0.0
    assert km_at(make_y([3.0, 4.0], [1, 1]), 1.0) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"surv_prob": [0.5, 1.2, 0.3]}, r"'surv_prob' must hold survival probabilities in \[0, 1\]; 1 value"),
    ({"surv_prob": [0.5, np.nan, 0.3]}, "first at position 1"),
    ({"surv_prob": [0.5, 0.3]}, "'surv_prob' has 2 samples but 'y' has 3"),
    ({"t0": 0.0}, "The 't0' parameter of calibration_at must be a float in the range \\(0"),
    ({"n_groups": 0}, "The 'n_groups' parameter of calibration_at must be an int"),
])
def test_calibration_errors(kwargs, match):
    args = {"y": make_y([1.0, 2.0, 3.0], [1, 0, 1]), "surv_prob": [0.5, 0.4, 0.3], "t0": 2.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        calibration_at(**args)


@pytest.mark.parametrize("kwargs, match", [
    ({"risk_t0": [0.5, -0.1, 0.3]}, "Pass 1 - S\\(t0 \\| x\\), not a linear predictor"),
    ({"thresholds": [0.2, 1.0]}, r"'thresholds' must be non-empty probabilities in \[0, 1\)"),
    ({"t0": 10.0, "y": make_y([1.0, 2.0, 3.0], [1, 0, 0])}, "every patient is censored before it"),
])
def test_decision_curve_errors(kwargs, match):
    args = {"y": make_y([1.0, 2.0, 3.0], [1, 0, 1]), "risk_t0": [0.5, 0.4, 0.3], "t0": 2.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        decision_curve(**args)


def test_breslow_baseline_matches_r_survfit_ctype1():
    """R: summary(survfit(coxph(...), newdata = veteran, ctype = 1), times = t0)$surv, from the same lp."""
    from multisurv.evaluation.baseline import BreslowBaseline

    base = BreslowBaseline().fit(Y, REF["lp"])
    for case in REF["cases"]:
        # 1e-9: closed form (Breslow hazard of the fixed linear predictor) on both sides.
        np.testing.assert_allclose(base.predict_survival(REF["lp"], case["t0"]), case["surv_prob_breslow"],
                                   atol=1e-9)
    with pytest.raises(ValueError, match="'t0' must be in \\(0, 999\\]"):
        base.predict_survival([0.0], 2000.0)


def test_calibration_of_constant_predictions_is_one_group():
    """A model that selected nothing predicts the same survival for all: one group, no error."""
    res = calibration_at(Y, np.full(len(Y), 0.4), 90.0, n_groups=5)
    assert res.table["n"].tolist() == [len(Y)]
    assert res.table["observed"].iloc[0] == km_at(Y, 90.0)[0]
