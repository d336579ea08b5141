"""Tests for multisurv.evaluation.uno (reference: tests/reference/make_discrimination_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.datasets import load_gbsg2, load_veterans_lung_cancer, load_whas500
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw

from multisurv._validation import make_y
from multisurv.evaluation.uno import UnoCResult, uno_concordance

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "discrimination_reference.json").read_text())
DATASETS = ["veteran", "gbsg2", "whas500"]
# survival::concordance(timewt = "n/G2") and multisurv are the same weighted pair count with the same weights
# (KM of the censoring, left limit): only float rounding and the JSON's 15 digits separate them.
TOL_C = 1e-6


def load(name):
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    return make_y(d["time"], d["status"]), np.asarray(REF["datasets"][name]["lp"])


@pytest.mark.parametrize(("name", "loader", "fields"), [
    ("veteran", load_veterans_lung_cancer, ("Status", "Survival_in_days")),
    ("gbsg2", load_gbsg2, ("cens", "time")),
    ("whas500", load_whas500, ("fstat", "lenfol")),
])
def test_reference_csv_is_the_sksurv_dataset(name, loader, fields):
    """The CSV R read (tests/reference/data/export_sksurv_datasets.py) is scikit-survival's dataset, row by row."""
    X, y_sk = loader()
    y, lp = load(name)
    np.testing.assert_array_equal(y["event"], y_sk[fields[0]])
    np.testing.assert_array_equal(y["time"], y_sk[fields[1]])
    assert len(lp) == len(y) == REF["datasets"][name]["n"]
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
    np.testing.assert_array_equal(d[numeric].to_numpy(float), X[numeric].to_numpy(float))


@pytest.mark.parametrize("name", DATASETS)
def test_uno_without_truncation_matches_r(name):
    """R: concordance(Surv(time, status) ~ lp, reverse = TRUE, timewt = "n/G2")."""
    y, lp = load(name)
    res = uno_concordance(y, lp, n_bootstrap=0)
    assert res.cindex == pytest.approx(REF["datasets"][name]["uno"]["cindex"], abs=TOL_C)
    assert res.tau == np.inf


@pytest.mark.parametrize("name", DATASETS)
def test_uno_with_tau_matches_r(name):
    """R: concordance(Surv(time, status) ~ lp, reverse = TRUE, timewt = "n/G2", ymax = tau); tau is an event time
    in each dataset, so the test also pins 'time <= tau'."""
    y, lp = load(name)
    ref = REF["datasets"][name]
    assert ref["tau_is_an_event_time"]
    res = uno_concordance(y, lp, tau=float(ref["tau"]), n_bootstrap=0)
    assert res.cindex == pytest.approx(ref["uno_tau"]["cindex"], abs=TOL_C)
    assert res.tau == ref["tau"]


def test_sksurv_defaults_differ_from_r_on_tied_data():
    """Why multisurv adjusts scikit-survival's inputs: called directly, sksurv weighs an event by 1 / G(T)^2 (not
    G(T-)) and keeps time < tau (not <=), so on veteran (whole days, ties) it is off by more than 1e-4 from R."""
    y, lp = load("veteran")
    ref = REF["datasets"]["veteran"]
    direct = concordance_index_ipcw(y, y, lp, tau=float(ref["tau"]))[0]
    assert abs(direct - ref["uno_tau"]["cindex"]) > 1e-4


def test_equals_harrell_without_censoring():
    rng = np.random.default_rng(0)
    time = rng.exponential(size=80) + 0.01
    y = make_y(time, np.ones(80, bool))
    risk = -time + rng.normal(size=80)
    harrell = concordance_index_censored(y["event"], y["time"], risk)[0]
    assert uno_concordance(y, risk, n_bootstrap=0).cindex == pytest.approx(harrell, abs=1e-12)


def test_fixed_reference_gives_same_estimate_and_own_interval():
    y, lp = load("veteran")
    own = uno_concordance(y, lp, tau=200.0, n_bootstrap=50, random_state=0)
    fixed = uno_concordance(y, lp, tau=200.0, y_train=y, n_bootstrap=50, random_state=0)
    assert fixed.cindex == own.cindex
    assert fixed.lower != own.lower  # the censoring distribution is held fixed in the resamples


def test_bootstrap_interval_is_reproducible_and_sensible():
    y, lp = load("veteran")
    a = uno_concordance(y, lp, tau=200.0, n_bootstrap=100, random_state=0)
    b = uno_concordance(y, lp, tau=200.0, n_bootstrap=100, random_state=0)
    assert a == b
    assert isinstance(a, UnoCResult)
    assert a.lower < a.cindex < a.upper
    assert (a.n, a.n_events, a.n_bootstrap, a.method) == (137, 128, 100, "percentile")
    bca = uno_concordance(y, lp, tau=200.0, n_bootstrap=100, random_state=0, method="bca")
    assert bca.lower < bca.cindex < bca.upper and bca.method == "bca"
    frame = a.to_frame()
    assert list(frame.columns) == ["cindex", "lower", "upper", "tau", "n", "n_events", "n_bootstrap", "confidence",
                                   "method"]


# ---------------------------------------------------------------- failure cases
Y3 = make_y([1.0, 2.0, 3.0], [1, 0, 1])


@pytest.mark.parametrize(("risk", "kwargs", "msg"), [
    ([np.nan, 1.0, 2.0], {}, r"^'risk' has 1 NaN value\(s\) out of 3\. Drop the patients without a score"),
    ([1.0, 2.0], {}, r"^'risk' has 2 samples but 'y' has 3\.$"),
    ([[1.0, 2.0, 3.0]], {}, r"^'risk' must be 1-dimensional; got shape \(1, 3\)\.$"),
    ([3.0, 2.0, 1.0], {"tau": -1.0}, r"^The 'tau' parameter of uno_concordance must be a float > 0 or None\. "
                                     r"Got -1\.0 instead\.$"),
    ([3.0, 2.0, 1.0], {"tau": 0.5}, r"^No event at or before tau = 0\.5, so Uno's C is undefined\. Choose a later 'tau'\.$"),
    ([3.0, 2.0, 1.0], {"method": "normal"}, r"^The 'method' parameter of uno_concordance must be one of "
                                            r"'percentile', 'bca'\. Got 'normal' instead\.$"),
    ([3.0, 2.0, 1.0], {"n_bootstrap": -5}, r"^The 'n_bootstrap' parameter of uno_concordance must be an int"),
    ([3.0, 2.0, 1.0], {"y_train": make_y([1.0, 1.5], [1, 0])},
     r"^uno_concordance: 'y' has event times up to 3, after the last follow-up time of 'y_train' \(1\.5\)"),
], ids=["nan_risk", "length_mismatch", "2d_risk", "negative_tau", "tau_before_pairs", "unknown_method",
        "negative_n_bootstrap", "short_reference"])
def test_errors(risk, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        uno_concordance(Y3, risk, **{"n_bootstrap": 0, **kwargs})


def test_no_comparable_pair():
    y = make_y([1.0, 2.0, 3.0], [0, 0, 1])  # the only event is last
    with pytest.raises(ValueError, match=r"^No pair of the 3 patients is comparable \(an event at or before tau "
                                         r"followed by a longer time\), so Uno's C is undefined\."):
        uno_concordance(y, [1.0, 2.0, 3.0], n_bootstrap=0)
