"""Tests for multisurv.evaluation.td_auc (reference: tests/reference/make_discrimination_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import cumulative_dynamic_auc

from multisurv._validation import make_y
from multisurv.evaluation.td_auc import TimeDependentAUCResult, time_dependent_auc

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "discrimination_reference.json").read_text())
DATASETS = ["veteran", "gbsg2", "whas500"]
# riskRegression's AUC and multisurv's are the same weighted pair count with the same weights: only float
# rounding and the JSON's 15 digits separate them.
TOL_AUC = 1e-6


def load(name):
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    return make_y(d["time"], d["status"]), np.asarray(REF["datasets"][name]["lp"])


@pytest.mark.parametrize("name", DATASETS)
def test_auc_matches_riskregression(name):
    """R: Score(list(risk), Surv(time, status) ~ 1, metrics = "auc", cens.model = "km", times = times), with
    risk = 1 - S(t | x) of the Cox model, a strictly increasing function of its linear predictor lp (used here)."""
    y, lp = load(name)
    ref = REF["datasets"][name]
    res = time_dependent_auc(y, lp, ref["times"], n_bootstrap=0)
    np.testing.assert_allclose(res.auc, ref["auc"]["auc"], rtol=0, atol=TOL_AUC)
    assert res.times == tuple(float(t) for t in ref["auc"]["time"])


def test_equals_sksurv_without_ties():
    """With continuous times (no event tied with a censoring) G(T-) = G(T), so sksurv's own call agrees exactly."""
    rng = np.random.default_rng(1)
    t_event, t_cens = rng.exponential(5, 300), rng.exponential(8, 300)
    y = make_y(np.minimum(t_event, t_cens), t_event <= t_cens)
    risk = -np.log(t_event) + rng.normal(size=300)
    times = np.quantile(y["time"], [0.2, 0.5, 0.8])
    res = time_dependent_auc(y, risk, times, n_bootstrap=0)
    auc, mean_auc = cumulative_dynamic_auc(y, y, risk, times)
    np.testing.assert_allclose(res.auc, auc, rtol=0, atol=1e-12)
    assert res.mean_auc == pytest.approx(mean_auc, abs=1e-12)


def test_perfect_and_reversed_ranking():
    y = make_y([1.0, 2.0, 3.0, 4.0, 5.0], [1, 1, 1, 1, 1])
    assert time_dependent_auc(y, [5, 4, 3, 2, 1], [1.5, 3.5], n_bootstrap=0).auc == (1.0, 1.0)
    assert time_dependent_auc(y, [1, 2, 3, 4, 5], [1.5, 3.5], n_bootstrap=0).auc == (0.0, 0.0)
    assert time_dependent_auc(y, [1, 1, 1, 1, 1], [1.5, 3.5], n_bootstrap=0).auc == (0.5, 0.5)


def test_bootstrap_intervals():
    y, lp = load("veteran")
    times = REF["datasets"]["veteran"]["times"][:3]
    res = time_dependent_auc(y, lp, times, n_bootstrap=100, random_state=0)
    again = time_dependent_auc(y, lp, times, n_bootstrap=100, random_state=0)
    assert res == again
    assert isinstance(res, TimeDependentAUCResult)
    assert all(lo < a < hi for lo, a, hi in zip(res.lower, res.auc, res.upper))
    assert res.mean_lower < res.mean_auc < res.mean_upper
    assert res.n_bootstrap == 100
    frame = res.to_frame()
    assert list(frame.columns) == ["time", "auc", "lower", "upper", "n", "n_events", "n_bootstrap", "confidence",
                                   "method"]
    assert frame.shape == (3, 9)


# ---------------------------------------------------------------- failure cases
Y5 = make_y([1.0, 2.0, 3.0, 4.0, 5.0], [1, 0, 1, 1, 0])


@pytest.mark.parametrize(("risk", "times", "msg"), [
    ([5, 4, 3, 2, 1], [3.0, 2.0], r"^time_dependent_auc: 'times' must be strictly increasing; got \[3\.0, 2\.0\]\.$"),
    ([5, 4, 3, 2, 1], [2.0, 5.0], r"^time_dependent_auc: times \[5\.0\] are outside the follow-up \[1, 5\) of the "
                                  r"data; .* Choose times inside it\.$"),
    ([5, 4, 3, 2, 1], [], r"^time_dependent_auc: 'times' must be a non-empty 1-D list of finite numbers"),
    ([5, 4, np.nan, 2, 1], [2.0], r"^'risk' has 1 NaN value\(s\) out of 5\."),
], ids=["decreasing_times", "time_at_end_of_follow_up", "no_times", "nan_risk"])
def test_errors(risk, times, msg):
    with pytest.raises(ValueError, match=msg):
        time_dependent_auc(Y5, risk, times, n_bootstrap=0)
