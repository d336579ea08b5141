"""Tests for multisurv.evaluation.comparison (reference: tests/reference/make_discrimination_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import concordance_index_censored

from multisurv._validation import make_y
from multisurv.evaluation.comparison import (ConcordanceComparisonResult, compare_concordance, concordance_jackknife,
                                             concordance_se)
from multisurv.evaluation.concordance import concordance

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "discrimination_reference.json").read_text())
DATASETS = ["veteran", "gbsg2", "whas500"]
# The IJ variance is a closed form of the same pair sums in R and here: 1e-6 on C, z and p; variances are
# ~1e-4, so they are compared with a relative 1e-6.
TOL = 1e-6


def load(name):
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    ref = REF["datasets"][name]
    return make_y(d["time"], d["status"]), np.asarray(ref["lp"]), np.asarray(ref["lp_reduced"]), ref


@pytest.mark.parametrize("name", DATASETS)
def test_variance_test_matches_r(name):
    """R: both <- concordance(coxph(full), coxph(reduced)); contrast c(1, -1): difference, t(c) %*% both$var %*% c,
    z and 2 * pnorm(-|z|)."""
    y, lp, lp2, ref = load(name)
    cmp = ref["comparison"]
    res = compare_concordance(y, lp, lp2, n_bootstrap=0)
    assert (res.cindex_a, res.cindex_b) == pytest.approx(tuple(cmp["cindex"]), abs=TOL)
    assert res.se_a ** 2 == pytest.approx(cmp["var"][0][0], rel=TOL)
    assert res.se_b ** 2 == pytest.approx(cmp["var"][1][1], rel=TOL)
    assert res.se_difference ** 2 == pytest.approx(cmp["var_difference"], rel=TOL)
    assert res.difference == pytest.approx(cmp["difference"], abs=TOL)
    assert res.z == pytest.approx(cmp["z"], abs=TOL)
    assert res.p_value == pytest.approx(cmp["p_value"], abs=TOL)
    half = res.upper - res.difference
    assert half == pytest.approx(1.959963984540054 * res.se_difference, rel=1e-12)


@pytest.mark.parametrize("name", DATASETS)
def test_standard_error_matches_r(name):
    """R: concordance(Surv(time, status) ~ lp, reverse = TRUE)$var (infinitesimal jackknife)."""
    y, lp, _, ref = load(name)
    assert concordance_se(y, lp) ** 2 == pytest.approx(ref["harrell"]["var"], rel=TOL)


def test_jackknife_is_leave_one_out():
    y, lp, _, _ = load("veteran")
    keep = np.arange(60)
    y, lp = y[keep], lp[keep]
    expected = [concordance_index_censored(np.delete(y["event"], i), np.delete(y["time"], i), np.delete(lp, i))[0]
                for i in range(len(y))]
    np.testing.assert_allclose(concordance_jackknife(y, lp), expected, rtol=0, atol=1e-12)


def test_c_index_agrees_with_concordance():
    y, lp, lp2, _ = load("whas500")
    res = compare_concordance(y, lp, lp2, n_bootstrap=0)
    assert res.cindex_a == pytest.approx(concordance(y, lp, n_bootstrap=0).cindex, abs=1e-12)
    assert res.cindex_b == pytest.approx(concordance(y, lp2, n_bootstrap=0).cindex, abs=1e-12)


def test_paired_bootstrap():
    """The bootstrap SE of the difference is close to R's IJ SE, and the paired bootstrap rejects where R does."""
    y, lp, lp2, ref = load("whas500")
    res = compare_concordance(y, lp, lp2, n_bootstrap=400, random_state=0)
    assert res == compare_concordance(y, lp, lp2, n_bootstrap=400, random_state=0)
    assert isinstance(res, ConcordanceComparisonResult)
    assert res.boot_lower < res.difference < res.boot_upper
    assert res.boot_lower > 0 and res.p_value < 0.001  # R: z = 4.0
    assert res.boot_p_value == pytest.approx(2 / 401)  # no replicate <= 0: the smallest possible value
    assert res.n_bootstrap == 400
    assert (res.boot_upper - res.boot_lower) / (res.upper - res.lower) == pytest.approx(1.0, abs=0.25)
    bca = compare_concordance(y, lp, lp2, n_bootstrap=400, random_state=0, method="bca")
    assert bca.boot_lower < bca.difference < bca.boot_upper and bca.method == "bca"
    assert res.to_frame().shape == (1, 18)


def test_identical_scores():
    y, lp, _, _ = load("veteran")
    res = compare_concordance(y, lp, lp.copy(), n_bootstrap=0)
    assert res.difference == 0.0 and res.se_difference == 0.0
    assert np.isnan(res.z) and np.isnan(res.p_value)


# ---------------------------------------------------------------- failure cases
Y3 = make_y([1.0, 2.0, 3.0], [1, 0, 1])


@pytest.mark.parametrize(("a", "b", "msg"), [
    ([1.0, 2.0, 3.0], [1.0, np.nan, 3.0], r"^'risk_b' has 1 NaN value\(s\) out of 3\."),
    ([1.0, 2.0], [1.0, 2.0, 3.0], r"^'risk_a' has 2 samples but 'y' has 3\.$"),
], ids=["nan_in_b", "length_mismatch"])
def test_errors(a, b, msg):
    with pytest.raises(ValueError, match=msg):
        compare_concordance(Y3, a, b, n_bootstrap=0)


def test_no_comparable_pair():
    y = make_y([1.0, 2.0, 3.0], [0, 0, 1])
    with pytest.raises(ValueError, match=r"^No pair of the 3 patients is comparable"):
        compare_concordance(y, [1.0, 2.0, 3.0], [3.0, 2.0, 1.0], n_bootstrap=0)
