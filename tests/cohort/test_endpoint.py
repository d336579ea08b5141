"""Tests for multisurv.cohort.endpoint.binary_outcome (issue 19: "event by t" from survival data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y
from multisurv.cohort.endpoint import binary_outcome
from multisurv.evaluation.reclassification import _censoring_km

REF = json.loads((Path(__file__).parents[1] / "reference" / "binary_reference.json").read_text())
GBSG2 = pd.read_csv(Path(__file__).parents[1] / "reference" / "data" / "gbsg2.csv")
Y = make_y(GBSG2["time"].to_numpy(float), GBSG2["status"].to_numpy() == 1)


def test_exclude_matches_the_r_reference_cohort():
    """R (make_binary_reference.R): ``keep <- !(status == 0 & time < 730); y <- status == 1 & time <= 730``."""
    out = binary_outcome(Y, 730, unit="days")
    np.testing.assert_array_equal(np.flatnonzero(out.mask), REF["rows"])
    np.testing.assert_array_equal(out.outcome[out.mask], REF["y"])
    assert (out.n_events, out.n_non_events, out.n_censored_before) == (165, 458, 63)
    assert out.note == ("Endpoint: event by 730 days (165 events, 458 without event at 730 days); 63 patients "
                        "censored before 730 days excluded (complete-case).")
    assert np.all(out.weights == out.mask)


def test_ipcw_weights_are_inverse_censoring_survival():
    """Cases weighted 1 / G(T-), controls 1 / G(t), G the Kaplan-Meier of censoring with R's tie convention
    (``survfit(Surv(time, 1 - status) ~ 1)``: events at a censoring time are still at risk), as in idi_at, whose
    weights reproduce R to 2e-16 (test_reclassification). scikit-survival's CensoringDistributionEstimator orders
    tied events and censorings the other way (1e-5 apart here), so it is not the reference. The IPCW event rate
    sum(w y) / n estimates the Kaplan-Meier risk 1 - S(730); without ties they are equal, gbsg2's tied times leave
    2.4e-6 (measured), so 1e-5."""
    out = binary_outcome(Y, 730, handling="ipcw")
    case = out.mask & (out.outcome == 1)
    control = out.mask & (out.outcome == 0)
    g_case = _censoring_km(Y["time"], Y["event"], Y["time"][case], left=True)
    g_t = _censoring_km(Y["time"], Y["event"], np.array([730.0]), left=False)[0]
    np.testing.assert_allclose(out.weights[case], 1 / g_case, rtol=1e-12)
    np.testing.assert_allclose(out.weights[control], 1 / g_t, rtol=1e-12)
    assert np.all(out.weights[~out.mask] == 0)
    from sksurv.nonparametric import kaplan_meier_estimator
    times, surv = kaplan_meier_estimator(Y["event"], Y["time"])
    km_risk = 1 - surv[np.searchsorted(times, 730, side="right") - 1]
    assert np.sum(out.outcome * out.weights) / out.weights.size == pytest.approx(km_risk, abs=1e-5)
    assert "weighted by the inverse probability of censoring" in out.note


def test_censored_exactly_at_t_is_event_free():
    out = binary_outcome(make_y([5.0, 3.0, 4.0], [0, 1, 0]), 5.0)
    assert out.mask.tolist() == [True, True, False] and out.outcome.tolist() == [0, 1, 0]


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"t": 730, "handling": "refuse"}, r"^binary_outcome: 63 patient\(s\) are censored before the horizon t=730, so "
                                       r"whether they had the event by then is unknown\. Choose handling='exclude'"),
    ({"t": 10}, r"^binary_outcome: no event at the horizon t=10; the binary endpoint has one class\."),
    ({"t": -1}, r"^binary_outcome: the horizon 't' must be a finite number > 0; got -1\.0\.$"),
    ({"t": 730, "handling": "drop"}, r"^The 'handling' parameter of binary_outcome must be one of 'exclude', 'ipcw', "
                                     r"'refuse'\. Got 'drop' instead\.$"),
], ids=["refuse", "one_class", "negative", "unknown_handling"])
def test_errors(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        binary_outcome(Y, **kwargs)
