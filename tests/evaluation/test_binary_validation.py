"""Tests for multisurv.evaluation.binary_validation (R: rms::validate and rms::calibrate of an lrm in
tests/reference/make_logistic_reference.R; gbsg2, "recurrence by 730 days", n = 623, 5 covariates).

rms draws its resamples with ``set.seed(SEED); sample(n, replace = TRUE)`` per resample; the script writes them, so
the replay tests feed the very same resamples and agree to the precision of the logistic fits (rms refits with
``lrm.fit``, tol 1e-13 in calibrate, 1e-7 in validate). The statistical tests draw their own resamples.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv.evaluation.binary_validation import binary_indexes, calibrate_binary, r_lowess, validate_binary
from multisurv.scores.logistic import LogisticModel

REF = json.loads((Path(__file__).parents[1] / "reference" / "logistic_reference.json").read_text())
VAL = REF["validate"]
X = pd.DataFrame(np.asarray(REF["x"]).T, columns=REF["columns"])[VAL["columns"]]
Y = np.asarray(REF["y"])
SAMPLES = np.asarray(VAL["samples0"])
RMS_NAMES = {"dxy": "dxy", "intercept": "intercept", "slope": "slope", "brier": "brier"}


def _check_against_rms(result, rms, tol):
    for ours, theirs in RMS_NAMES.items():
        row = result.table.loc[ours]
        ref = rms[theirs]
        assert row["apparent"] == pytest.approx(ref["index.orig"], abs=tol)
        assert row["training"] == pytest.approx(ref["training"], abs=tol)
        assert row["test"] == pytest.approx(ref["test"], abs=tol)
        assert row["corrected"] == pytest.approx(ref["index.corrected"], abs=tol)


def test_validate_replays_rms_validate_on_its_first_20_resamples():
    """R: ``set.seed(20261204); validate(lrm(y ~ age + tsize + pnodes + progrec + horTh), B = 20)``. Newton fits
    on both sides (rms: lrm.fit's tolerance): 1e-6."""
    res = validate_binary(LogisticModel(), X, Y, indices=SAMPLES[:20])
    _check_against_rms(res, VAL["rms_b20"], 1e-6)
    assert res.n_bootstrap == 20 and res.n_failed == 0
    assert res.table.loc["auc", "corrected"] == pytest.approx((res.table.loc["dxy", "corrected"] + 1) / 2)


@pytest.mark.slow
def test_validate_replays_rms_validate_b200():
    res = validate_binary(LogisticModel(), X, Y, indices=SAMPLES)
    _check_against_rms(res, VAL["rms"], 1e-6)  # measured 1e-8
    np.testing.assert_allclose(res.table.loc[["dxy", "intercept", "slope", "brier"], "corrected"],
                               VAL["manual"]["corrected"], atol=1e-6)


@pytest.mark.slow
def test_validate_with_own_resamples_agrees_statistically():
    """Own 200 resamples against rms's 200: the optimism of Dxy has a bootstrap Monte Carlo SE of about
    sd(train - test) / sqrt(200) ~ 0.002 and of the slope ~ 0.006 here, so 0.01 and 0.03 are 5 SEs."""
    res = validate_binary(LogisticModel(), X, Y, n_bootstrap=200, random_state=0)
    assert res.corrected("dxy") == pytest.approx(VAL["rms"]["dxy"]["index.corrected"], abs=0.01)
    assert res.corrected("slope") == pytest.approx(VAL["rms"]["slope"]["index.corrected"], abs=0.03)


def test_calibrate_replays_rms_calibrate_on_its_first_10_resamples():
    """R: ``set.seed(20261204); calibrate(lrm(...), B = 10)``: the grid (50 points from the 5th smallest to the
    5th largest prediction), the apparent (lowess) and the corrected curve, and rms's mean and 0.9-quantile
    absolute error. R's lowess is reproduced step for step (5e-15 on a tied case), so the fits set the tolerance:
    1e-6 (measured 1e-8 at B = 200)."""
    ref = REF["calibrate"]["seed_a_b10"]
    res = calibrate_binary(LogisticModel(), X, Y, indices=SAMPLES[:10])
    np.testing.assert_allclose(res.table["predicted"], ref["predy"], atol=1e-8)
    np.testing.assert_allclose(res.table["apparent"], ref["apparent"], atol=1e-6)
    np.testing.assert_allclose(res.table["corrected"], ref["corrected"], atol=1e-6)
    assert res.mean_abs_error == pytest.approx(ref["mean_abs_error"], abs=1e-6)
    assert res.q90_abs_error == pytest.approx(ref["q90_abs_error"], abs=1e-6)
    assert res.apparent_mean_abs_error < res.mean_abs_error  # the apparent curve flatters the model


@pytest.mark.slow
def test_calibrate_b200_replay_and_own_resamples():
    """Replay of rms's 200 resamples (1e-6; measured 1.1e-8), then own resamples against two R seeds: R's mean
    absolute error moves by 0.0011 and its 0.9 quantile by 0.0057 between seeds, so 0.005 and 0.02."""
    ref = REF["calibrate"]["seed_a"]
    res = calibrate_binary(LogisticModel(), X, Y, indices=SAMPLES)
    np.testing.assert_allclose(res.table["corrected"], ref["corrected"], atol=1e-6)
    own = calibrate_binary(LogisticModel(), X, Y, n_bootstrap=200, random_state=0)
    for seed in ("seed_a", "seed_b"):
        assert own.mean_abs_error == pytest.approx(REF["calibrate"][seed]["mean_abs_error"], abs=0.005)
        assert own.q90_abs_error == pytest.approx(REF["calibrate"][seed]["q90_abs_error"], abs=0.02)


def test_r_lowess_reproduces_r_on_a_small_case():
    """R 4.2.2: ``lowess(c(1:8, 8), c(0, 1, 0, 0, 1, 1, 0, 1, 1), iter = 0)$y`` (pasted, 15 digits; a tied x at the
    end): closed-form local fits, 1e-12."""
    expected = [0.326610353930817, 0.319071974579697, 0.356439543127215, 0.456493515965749, 0.543506484034251,
                0.713689482470785, 0.751113774949982, 0.805411688142545, 0.805411688142545]
    xs, ys = r_lowess([1, 2, 3, 4, 5, 6, 7, 8, 8], [0, 1, 0, 0, 1, 1, 0, 1, 1])
    np.testing.assert_allclose(ys, expected, atol=1e-12)
    np.testing.assert_array_equal(xs, [1, 2, 3, 4, 5, 6, 7, 8, 8])


def test_indexes_and_errors():
    out = binary_indexes(Y, LogisticModel().fit(X, Y).predict_proba(X)[:, 1])
    assert out["slope"] == pytest.approx(1.0, abs=1e-6) and out["intercept"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match=r"^The 'n_bootstrap' parameter of validate_binary must be an int"):
        validate_binary(LogisticModel(), X, Y, n_bootstrap=0)
    with pytest.raises(ValueError, match=r"^'y' has 622 samples but 'X' has 623\.$"):
        calibrate_binary(LogisticModel(), X, Y[:-1])


class _CountingSelector:
    """A stand-in selection step that records the rows it was fitted on (to prove refitting per resample)."""

    fitted_on: list = []

    def __init__(self, k=2):
        self.k = k

    def get_params(self, deep=True):
        return {"k": self.k}

    def set_params(self, **params):
        self.k = params.get("k", self.k)
        return self

    def fit(self, X, y):
        _CountingSelector.fitted_on.append(len(X))
        corr = [abs(np.corrcoef(X.iloc[:, j], y)[0, 1]) for j in range(X.shape[1])]
        self.columns_ = list(X.columns[np.argsort(corr)[::-1][: self.k]])
        return self

    def transform(self, X):
        return X.loc[:, self.columns_]


def test_whole_pipeline_is_refitted_in_every_resample():
    """Selection inside the pipeline is refitted on each resample (its optimism is counted), never on the full
    data only: 1 apparent fit + 5 resample fits, the resample fits on bootstrap rows."""
    from sklearn.pipeline import Pipeline

    from multisurv.selection.stepwise_logistic import StepwiseLogisticSelector

    _CountingSelector.fitted_on = []
    pipe = Pipeline([("select", _CountingSelector(k=2)), ("model", LogisticModel())])
    res = validate_binary(pipe, X, Y, n_bootstrap=5, random_state=0)
    assert len(_CountingSelector.fitted_on) == 6 and res.n_failed == 0
    stepwise = Pipeline([("select", StepwiseLogisticSelector(criterion="bic")), ("model", LogisticModel())])
    res = validate_binary(stepwise, X, Y, n_bootstrap=5, random_state=0)
    assert res.table.loc["slope", "corrected"] < 1  # selection and fitting overfit: shrinkage expected


def test_validation_and_calibration_from_one_set_of_refits_equal_the_separate_calls():
    """One refit per resample serves both (what a binary study does for its primary model): identical results."""
    from multisurv.evaluation.binary_validation import (calibrate_binary, validate_and_calibrate_binary,
                                                        validate_binary)
    from multisurv.scores.logistic import LogisticModel

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    y = rng.uniform(size=60) < 1 / (1 + np.exp(-1.5 * X["a"]))
    val, cal = validate_and_calibrate_binary(LogisticModel(), X, y, n_bootstrap=30, random_state=4)
    val_alone = validate_binary(LogisticModel(), X, y, n_bootstrap=30, random_state=4)
    cal_alone = calibrate_binary(LogisticModel(), X, y, n_bootstrap=30, random_state=4)
    pd.testing.assert_frame_equal(val.table, val_alone.table)
    pd.testing.assert_frame_equal(cal.table, cal_alone.table)
    assert (val.n_failed, cal.n_failed, cal.mean_abs_error) == (val_alone.n_failed, cal_alone.n_failed,
                                                                  cal_alone.mean_abs_error)
