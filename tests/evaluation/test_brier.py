"""Tests for multisurv.evaluation.brier (reference: tests/reference/make_discrimination_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import brier_score as sk_brier_score
from sksurv.metrics import integrated_brier_score

from multisurv._validation import make_y
from multisurv.evaluation.brier import BrierResult, brier_score

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "discrimination_reference.json").read_text())
DATASETS = ["veteran", "gbsg2", "whas500"]
# The same weighted mean with the same weights and the same survival probabilities (from R) on both sides.
TOL_BS = 1e-6


def load(name):
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    ref = REF["datasets"][name]
    return make_y(d["time"], d["status"]), np.asarray(ref["surv_prob"]), ref


@pytest.mark.parametrize("name", DATASETS)
def test_brier_matches_riskregression(name):
    """R: Score(list(1 - S), Surv(time, status) ~ 1, metrics = "brier", cens.model = "km", times = times). Each
    dataset's times include one equal to a censoring time, which pins G(t) (not G(t-)) for event-free patients."""
    y, surv, ref = load(name)
    assert ref["times_equal_to_a_censoring_time"]
    res = brier_score(y, surv, ref["times"], n_bootstrap=0)
    np.testing.assert_allclose(res.brier, ref["brier"]["brier"], rtol=0, atol=TOL_BS)


@pytest.mark.parametrize("name", DATASETS)
def test_integrated_brier_matches_trapezoid_of_r_brier(name):
    """R: the trapezoidal rule over riskRegression's Brier scores, divided by (last - first time)."""
    y, surv, ref = load(name)
    res = brier_score(y, surv, ref["times"], n_bootstrap=0)
    assert res.ibs == pytest.approx(ref["brier"]["ibs_trapezoid"], abs=TOL_BS)


def test_equals_sksurv_without_ties():
    """With continuous times sksurv's event weight 1 / G(T) equals R's 1 / G(T-): both functions agree exactly."""
    rng = np.random.default_rng(2)
    t_event, t_cens = rng.exponential(5, 300), rng.exponential(8, 300)
    y = make_y(np.minimum(t_event, t_cens), t_event <= t_cens)
    times = np.quantile(y["time"], [0.1, 0.3, 0.5, 0.7])
    surv = np.exp(-times[None, :] / rng.uniform(2, 8, 300)[:, None])
    res = brier_score(y, surv, times, n_bootstrap=0)
    np.testing.assert_allclose(res.brier, sk_brier_score(y, y, surv, times)[1], rtol=0, atol=1e-12)
    assert res.ibs == pytest.approx(integrated_brier_score(y, y, surv, times), abs=1e-12)


def test_known_values_without_censoring():
    y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    # rows: patients (events at 1, 2, 3, 4); columns: S at 2.5 and 3.5, set to the true status
    perfect = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    res = brier_score(y, perfect, [2.5, 3.5], n_bootstrap=0)
    assert res.brier == (0.0, 0.0) and res.ibs == 0.0
    res = brier_score(y, np.full((4, 2), 0.5), [2.5, 3.5], n_bootstrap=0)
    assert res.brier == (0.25, 0.25) and res.ibs == 0.25
    assert np.isnan(brier_score(y, np.full((4, 1), 0.5), [2.5], n_bootstrap=0).ibs)  # one time: no integral


def test_bootstrap_intervals():
    y, surv, ref = load("veteran")
    res = brier_score(y, surv, ref["times"], n_bootstrap=100, random_state=0)
    assert res == brier_score(y, surv, ref["times"], n_bootstrap=100, random_state=0)
    assert isinstance(res, BrierResult)
    assert all(lo < b < hi for lo, b, hi in zip(res.lower, res.brier, res.upper))
    assert res.ibs_lower < res.ibs < res.ibs_upper
    assert res.to_frame().shape == (5, 9)


# ---------------------------------------------------------------- failure cases
Y5 = make_y([1.0, 2.0, 3.0, 4.0, 5.0], [1, 0, 1, 1, 0])


@pytest.mark.parametrize(("surv", "times", "kwargs", "msg"), [
    (np.full((5, 1), 0.5), [2.0, 3.0], {}, r"^'surv_prob' must have shape \(n_samples, n_times\) = \(5, 2\): one "
                                           r"column of survival probabilities per time; got shape \(5, 1\)\.$"),
    (np.full((5, 1), 1.5), [2.0], {}, r"^'surv_prob' must hold probabilities in \[0, 1\]; found values in "
                                      r"\[1\.5, 1\.5\]\. Pass survival probabilities S\(t \| x\), not risk scores\.$"),
    (np.array([[0.5], [np.nan], [0.5], [0.5], [0.5]]), [2.0], {}, r"^'surv_prob' has 1 NaN value\(s\)\."),
    (np.full((5, 1), 0.5), [9.0], {}, r"^brier_score: times \[9\.0\] are outside the follow-up \[1, 5\)"),
    (np.full((5, 1), 0.5), [3.5], {"y_train": make_y([1.0, 2.0, 3.5], [1, 1, 0])},
     r"^brier_score: the censoring survival G\(t\) of the reference data is 0 at t = 3\.5, so the weights of "
     r"patients still event-free are undefined\. Choose earlier times\.$"),
], ids=["too_few_columns", "not_probabilities", "nan", "time_outside", "zero_censoring_survival"])
def test_errors(surv, times, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        brier_score(Y5, surv, times, n_bootstrap=0, **kwargs)
