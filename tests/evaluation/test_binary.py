"""Tests for multisurv.evaluation.binary (R reference: tests/reference/make_binary_reference.R, gbsg2 with the
endpoint "recurrence by 730 days", n = 623)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from multisurv.evaluation.binary import compare_auc, hosmer_lemeshow, logistic_calibration, roc_auc

REF = json.loads((Path(__file__).parents[1] / "reference" / "binary_reference.json").read_text())
Y = np.asarray(REF["y"])
# Closed forms on both sides (placement values, quantile groups, chi-square); only the JSON's 15 significant
# digits and summation order separate them.
TOL_CLOSED = 1e-9
# Newton-Raphson logistic fits on both sides, each to its own convergence criterion (rms lrm.fit: 1e-7 on the
# log-likelihood; here 1e-10 relative on the deviance).
TOL_FIT = 1e-6


@pytest.mark.parametrize("case", ["a", "b", "rounded"])
def test_auc_and_delong_interval_match_proc(case):
    """R: ``ci.auc(roc(y, p, direction = "<"), method = "delong")`` and ``var(roc, method = "delong")`` (pROC
    1.18.0); "rounded" has many tied scores (probabilities rounded to 0.1)."""
    prob = {"a": REF["p_a"], "b": REF["p_b"], "rounded": REF["p_rounded"]}[case]
    ref = REF["auc"][case]
    res = roc_auc(Y, prob)
    assert res.auc == pytest.approx(ref["auc"], abs=TOL_CLOSED)
    assert res.standard_error ** 2 == pytest.approx(ref["var"], rel=TOL_CLOSED)
    assert (res.lower, res.upper) == pytest.approx((ref["lower"], ref["upper"]), abs=TOL_CLOSED)
    assert res.auc == pytest.approx(roc_auc_score(Y, prob), abs=1e-12)
    assert (res.n_events, res.n_non_events) == (165, 458)


def test_paired_delong_test_matches_proc():
    """R: ``roc.test(roc_b, roc_a, method = "delong", paired = TRUE)``: z, p and the interval of the difference."""
    ref = REF["auc"]["test_b_vs_a"]
    res = compare_auc(Y, REF["p_b"], REF["p_a"])
    assert res.z == pytest.approx(ref["z"], abs=TOL_CLOSED)
    assert res.p_value == pytest.approx(ref["p_value"], abs=TOL_CLOSED)
    assert (res.lower, res.upper) == pytest.approx((ref["lower"], ref["upper"]), abs=TOL_CLOSED)
    assert res.difference == pytest.approx(REF["auc"]["b"]["auc"] - REF["auc"]["a"]["auc"], abs=TOL_CLOSED)
    assert 0 < res.correlation < 1


def test_compare_auc_of_a_model_with_itself_is_zero():
    res = compare_auc(Y, REF["p_b"], REF["p_b"])
    assert res.difference == 0.0 and res.z == 0.0 and res.p_value == 1.0


@pytest.mark.parametrize(("case", "prob", "g"), [("model_b", "p_b", 10), ("too_extreme", "p_bad", 10),
                                                 ("rounded_g8", "p_rounded", 8)])
def test_hosmer_lemeshow_matches_hoslem_definition(case, prob, g):
    """R: ``ResourceSelection::hoslem.test``'s definition written out in base R (not packaged for Debian):
    type-7 quantile groups, ``cut(include.lowest = TRUE)``, chi-square on g - 2 df. "rounded_g8" has tied
    quantiles, so fewer groups than asked (5 of 8) while df stays g - 2, as hoslem.test does."""
    ref = REF["hoslem"][case]
    res = hosmer_lemeshow(Y, REF[prob], n_groups=g)
    assert res.statistic == pytest.approx(ref["statistic"], rel=TOL_CLOSED)
    assert res.p_value == pytest.approx(ref["p_value"], abs=TOL_CLOSED)
    assert res.df == ref["df"]
    np.testing.assert_array_equal(res.table["n"], ref["n"])
    np.testing.assert_array_equal(res.table["observed"], ref["observed"])
    np.testing.assert_allclose(res.table["expected"], ref["expected"], rtol=TOL_CLOSED)
    assert res.to_frame().shape[0] == len(ref["n"])


def test_calibration_slope_intercept_brier_match_val_prob():
    """R: ``rms::val.prob(p, y)`` (rms 6.5.0) on model B fitted on odd rows, validated on even rows: "Intercept",
    "Slope", "Brier"; calibration-in-the-large from ``glm(y ~ 1, offset = qlogis(p), family = binomial)``; the
    slope's standard error from ``glm(y ~ qlogis(p))``."""
    ref = REF["val_prob"]["odd_even"]
    res = logistic_calibration(ref["y"], ref["p"])
    assert res.intercept == pytest.approx(ref["intercept"], abs=TOL_FIT)
    assert res.slope == pytest.approx(ref["slope"], abs=TOL_FIT)
    assert res.citl == pytest.approx(ref["citl"], abs=TOL_FIT)
    assert res.brier == pytest.approx(ref["brier"], abs=TOL_CLOSED)
    assert (res.slope_upper - res.slope) / 1.959963984540054 == pytest.approx(ref["slope_se"], rel=1e-5)
    # val.prob's "C (ROC)" (0.6733664) is not compared: lrm-based statistics bin the predictions before counting
    # pairs; Hmisc::somers2(p, y) and pROC give the exact 0.6733949 that roc_auc reproduces (checked above).
    assert roc_auc(ref["y"], ref["p"]).auc == pytest.approx(ref["c"], abs=1e-4)
    bad = REF["val_prob"]["too_extreme"]
    res_bad = logistic_calibration(Y, REF["p_bad"])
    assert (res_bad.intercept, res_bad.slope) == pytest.approx((bad["intercept"], bad["slope"]), abs=TOL_FIT)
    assert res_bad.slope < 1  # too extreme predictions: slope below 1


def test_in_sample_logistic_fit_is_perfectly_calibrated_in_the_large():
    """A maximum-likelihood logistic model reproduces its own event rate: intercept 0, slope 1, citl 0."""
    res = logistic_calibration(Y, REF["p_b"])
    assert (res.intercept, res.slope, res.citl) == pytest.approx((0.0, 1.0, 0.0), abs=1e-6)
    assert res.mean_probability == pytest.approx(res.event_rate, abs=1e-9)


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda: roc_auc([0, 0, 0], [0.1, 0.2, 0.3]),
         r"^'y' has no event in roc_auc \(all 3 patients in one class\)"),
        (lambda: roc_auc([0, 1, 2], [0.1, 0.2, 0.3]),
         r"^'y' must be a binary outcome coded 0/1 or bool in roc_auc; 1 value\(s\) are not: 2"),
        (lambda: roc_auc([0, 1], [0.1, 0.2, 0.3]), r"^'score' has 3 samples but 'y' has 2\.$"),
        (lambda: roc_auc([0, 1], [0.1, np.nan]), r"^'score' has 1 non-finite value\(s\)"),
        (lambda: roc_auc([0, 1], [0.1, 0.2], confidence=1.5),
         r"^The 'confidence' parameter of roc_auc must be a float in the range \(0, 1\)\. Got 1\.5 instead\.$"),
        (lambda: hosmer_lemeshow([0, 1], [0.1, 1.2]), r"^'prob' must hold probabilities in \[0, 1\]; 1 of 2"),
        (lambda: hosmer_lemeshow([0, 1], [0.1, 0.2], n_groups=2),
         r"^The 'n_groups' parameter of hosmer_lemeshow must be an int in the range \[3, inf\)"),
        (lambda: logistic_calibration([0, 1], [0.0, 0.5]),
         r"^'prob' must hold probabilities in \(0, 1\); 1 of 2 .* clip probabilities of exactly 0 or 1\.$"),
        (lambda: compare_auc([0, 1], [0.1, 0.2], [0.1]), r"^'score_b' has 1 samples but 'y' has 2\.$"),
    ],
    ids=["one_class", "not_binary", "length", "nan", "confidence", "prob_range", "groups", "logit_of_zero",
         "compare_length"],
)
def test_errors(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_binary_decision_curve_matches_closed_form():
    """R: net benefit ``TP / n - FP / n * pt / (1 - pt)`` with positive = ``p >= pt`` (dcurves::dca's definition,
    written in base R: dcurves is not packaged for Debian) for model B at thresholds 0.05 .. 0.6; closed form, 1e-12."""
    from multisurv.evaluation.binary import binary_decision_curve

    ref = REF["dca"]
    res = binary_decision_curve(Y, REF["p_b"], thresholds=ref["thresholds"], name="B", horizon=730)
    np.testing.assert_allclose(res.table["net_benefit"], ref["net_benefit"], atol=1e-12)
    np.testing.assert_allclose(res.table["treat_all"], ref["treat_all"], atol=1e-12)
    np.testing.assert_array_equal(res.table["n_positive"], ref["n_positive"])
    assert res.to_frame()["t0"].iloc[0] == 730 and res.name == "B"
    with pytest.raises(ValueError, match=r"^binary_decision_curve: 'thresholds' must lie strictly between 0 and 1"):
        binary_decision_curve(Y, REF["p_b"], thresholds=[0.0])
