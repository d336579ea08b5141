"""Tests for multisurv.evaluation.bootstrap (reference: tests/reference/make_discrimination_reference.R).

R cannot share a random-number stream with Python, so the R script writes the resample indices of
``boot(veteran, cstat, R = 200)`` to the JSON; the tests replay exactly those resamples and compare the
intervals with ``boot.ci``: no Monte Carlo error is left, only float rounding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import concordance_index_censored

from multisurv._validation import make_y
from multisurv.evaluation.bootstrap import (BootstrapResult, bootstrap_ci, bootstrap_indices, bootstrap_interval,
                                            indices_to_counts)
from multisurv.evaluation.comparison import concordance_jackknife
from multisurv.evaluation.concordance import _weighted_cindex
from multisurv.exceptions import MultisurvWarning

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "discrimination_reference.json").read_text())
BOOT = REF["bootstrap"]
# Same replicates, same closed-form interval rule on both sides: only float rounding separates them.
TOL = 1e-10


@pytest.fixture(scope="module")
def veteran():
    d = pd.read_csv(REF_DIR / "data" / "veteran.csv")
    return make_y(d["time"], d["status"]), np.asarray(REF["datasets"]["veteran"]["lp"])


@pytest.fixture(scope="module")
def r_replicates(veteran):
    y, lp = veteran
    idx = np.asarray(BOOT["indices"]) - 1  # R's row numbers are 1-based
    return idx, _weighted_cindex(y["time"], y["event"], lp, indices_to_counts(idx, len(y)))


def test_replayed_resamples_give_r_replicates(veteran, r_replicates):
    """R: boot(veteran, function(d, i) concordance(Surv(time, status) ~ lp, data = d[i, ], reverse = TRUE)$concordance,
    R = 200)$t; Python: the same 200 resamples through multisurv's weighted-pair C."""
    _, t = r_replicates
    np.testing.assert_allclose(t, BOOT["t"], rtol=0, atol=1e-12)


def test_jackknife_influence_matches_empinf(veteran):
    """R: empinf(b, type = "jack") = (n - 1) (t0 - t_-i)."""
    y, lp = veteran
    jack = concordance_jackknife(y, lp)
    np.testing.assert_allclose((len(y) - 1) * (BOOT["t0"] - jack), BOOT["jack_L"], rtol=0, atol=1e-10)


@pytest.mark.parametrize(("method", "confidence", "key"), [
    ("percentile", 0.95, "perc_95"), ("bca", 0.95, "bca_95"), ("percentile", 0.90, "perc_90"), ("bca", 0.90, "bca_90"),
])
def test_interval_matches_boot_ci(veteran, r_replicates, method, confidence, key):
    """R: boot.ci(b, conf, type = "perc") and boot.ci(b, conf, type = "bca", L = empinf(b, type = "jack"))."""
    y, lp = veteran
    _, t = r_replicates
    lo, hi = bootstrap_interval(BOOT["t0"], t, method=method, confidence=confidence,
                                jackknife=concordance_jackknife(y, lp))
    assert lo[0] == pytest.approx(BOOT[key][0], abs=TOL)
    assert hi[0] == pytest.approx(BOOT[key][1], abs=TOL)


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_bootstrap_ci_with_r_indices(veteran, r_replicates, method):
    """The generic driver, given R's indices and a plain statistic (sksurv per resample), gives boot.ci's interval."""
    y, lp = veteran
    idx, _ = r_replicates

    def cstat(i):
        return concordance_index_censored(y["event"][i], y["time"][i], lp[i])[0]

    res = bootstrap_ci(cstat, len(y), indices=idx, method=method)
    key = "perc_95" if method == "percentile" else "bca_95"
    assert res.lower[0] == pytest.approx(BOOT[key][0], abs=TOL)
    assert res.upper[0] == pytest.approx(BOOT[key][1], abs=TOL)
    assert res.estimate[0] == pytest.approx(BOOT["t0"], abs=1e-12)
    assert res.n_bootstrap == (200,)


def test_bca_differs_from_boot_default_regression_influence():
    """Documented: boot.ci's default BCa estimates the influence by regression on the replicates (type "reg"),
    which is noisier; multisurv uses the exact jackknife, so pass L = empinf(b, type = "jack") in R to compare."""
    assert abs(BOOT["bca_95"][0] - BOOT["bca_95_reg"][0]) > 1e-6


def test_order_statistic_rule_by_hand():
    """(B + 1) alpha integer -> that order statistic; otherwise interpolation on the normal-quantile scale."""
    lo, hi = bootstrap_interval(0.0, np.arange(1.0, 80.0), confidence=0.95)  # 80 * 0.025 = 2, 80 * 0.975 = 78
    assert (lo[0], hi[0]) == pytest.approx((2.0, 78.0), abs=1e-12)  # (B + 1) alpha is 2 up to float rounding
    from scipy.stats import norm

    t = np.arange(1.0, 100.0)  # B = 99: 100 * 0.05 = 5 exactly; 100 * 0.025 = 2.5 interpolates between 2 and 3
    lo, _ = bootstrap_interval(0.0, t, confidence=0.95)
    expected = 2 + (norm.ppf(0.025) - norm.ppf(0.02)) / (norm.ppf(0.03) - norm.ppf(0.02))
    assert lo[0] == pytest.approx(expected, abs=1e-12)


def test_vector_statistic_and_result_shape():
    x = np.random.default_rng(0).normal(size=60)
    res = bootstrap_ci(lambda i: [x[i].mean(), np.median(x[i])], 60, n_bootstrap=300, random_state=1)
    assert isinstance(res, BootstrapResult)
    assert len(res.estimate) == len(res.lower) == len(res.upper) == 2
    assert all(lo < est < hi for lo, est, hi in zip(res.lower, res.estimate, res.upper))
    frame = res.to_frame()
    assert list(frame.columns) == ["estimate", "lower", "upper", "standard_error", "n_bootstrap", "confidence",
                                   "method"]
    assert frame.shape == (2, 7)
    # the bootstrap SE of a mean is close to s / sqrt(n)
    assert res.standard_error[0] == pytest.approx(x.std(ddof=1) / np.sqrt(60), rel=0.2)


def test_seeded_and_reproducible():
    x = np.arange(30.0)
    a = bootstrap_ci(lambda i: x[i].mean(), 30, n_bootstrap=100, random_state=0)
    b = bootstrap_ci(lambda i: x[i].mean(), 30, n_bootstrap=100, random_state=0)
    c = bootstrap_ci(lambda i: x[i].mean(), 30, n_bootstrap=100, random_state=1)
    assert a == b
    assert a.lower != c.lower
    np.testing.assert_array_equal(bootstrap_indices(5, 3, 7), bootstrap_indices(5, 3, 7))


def test_bca_of_a_skewed_statistic_is_shifted():
    """For the variance of a right-skewed sample, BCa moves the interval right of the percentile interval."""
    x = np.random.default_rng(3).exponential(size=80)
    perc = bootstrap_ci(lambda i: x[i].var(), 80, n_bootstrap=1000, random_state=0)
    bca = bootstrap_ci(lambda i: x[i].var(), 80, n_bootstrap=1000, random_state=0, method="bca")
    assert bca.upper[0] > perc.upper[0] and bca.lower[0] > perc.lower[0]


def test_counts_from_indices():
    idx = np.array([[0, 0, 2], [1, 2, 2]])
    np.testing.assert_array_equal(indices_to_counts(idx, 3), [[2, 0, 1], [0, 1, 2]])


# ---------------------------------------------------------------- failure cases
def test_failed_resamples_are_skipped_with_a_warning():
    x = np.arange(10.0)

    def stat(i):
        if np.unique(i).size < 7:
            raise ValueError("too few distinct")
        return x[i].mean()

    with pytest.warns(MultisurvWarning, match=r"bootstrap resamples gave an undefined statistic"):
        res = bootstrap_ci(stat, 10, n_bootstrap=200, random_state=0)
    assert 0 < res.n_bootstrap[0] < 200


def test_too_few_resamples_warn_about_extreme_bounds():
    with pytest.warns(MultisurvWarning, match=r"uses the extreme bootstrap replicates as bounds"):
        bootstrap_interval(0.5, [0.1, 0.4, 0.6], confidence=0.95)


def test_bca_undefined_when_all_replicates_on_one_side():
    with pytest.warns(MultisurvWarning, match=r"The BCa interval is undefined here"):
        lo, hi = bootstrap_interval(0.0, np.arange(1.0, 100.0), method="bca", jackknife=np.arange(5.0))
    assert np.isnan(lo[0]) and np.isnan(hi[0])


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"method": "basic"}, "The 'method' parameter of bootstrap_interval must be one of 'percentile', 'bca'. "
                          "Got 'basic' instead."),
    ({"confidence": 0.0}, "The 'confidence' parameter of bootstrap_interval must be a float in the range (0, 1). "
                          "Got 0.0 instead."),
    ({"method": "bca"}, "The 'bca' interval needs the leave-one-out estimates: pass 'jackknife'."),
], ids=["unknown_method", "confidence_zero", "bca_without_jackknife"])
def test_interval_param_errors(kwargs, msg):
    with pytest.raises(ValueError) as info:
        bootstrap_interval(0.5, np.linspace(0, 1, 50), **kwargs)
    assert str(info.value) == msg


@pytest.mark.parametrize(("indices", "msg"), [
    (np.zeros((3, 4), int), r"^'indices' must have shape \(n_resamples, 5\); got \(3, 4\)\.$"),
    (np.full((3, 5), 5), r"^'indices' must be integer row numbers in \[0, 5\) \(0-based; subtract 1 from R's\)\.$"),
], ids=["wrong_shape", "one_based"])
def test_bad_indices(indices, msg):
    with pytest.raises(ValueError, match=msg):
        bootstrap_ci(lambda i: float(i.mean()), 5, indices=indices)
