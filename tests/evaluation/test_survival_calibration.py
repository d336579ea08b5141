"""Tests for multisurv.evaluation.survival_calibration.calibrate_cox_at (R: rms::calibrate(cph, cmethod = "KM",
u = 1095, m = 100) on gbsg2 with ties broken; tests/reference/make_calibrate_cph_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y
from multisurv.evaluation.survival_calibration import calibrate_cox_at, efron_survival_at
from multisurv.selection.stepwise import _efron_fit

REF = json.loads((Path(__file__).parents[1] / "reference" / "calibrate_cph_reference.json").read_text())
X = pd.DataFrame(np.asarray(REF["x"]).T, columns=REF["columns"])
Y = make_y(REF["time"], np.asarray(REF["status"]) == 1)
SAMPLES = np.asarray(REF["samples0"])


def test_apparent_predictions_match_cph():
    """cph's coefficients and S(1095 | x) (``surv.summary^exp(lp)``): rms fits with coxphFit's eps = 1e-4, so its
    coefficients sit about 2e-6 from the converged Efron fit and, through progrec (values up to 2,380), the
    predicted survival 1e-4 from ours (measured 3.4e-5 .. 1.0e-4): 5e-6 and 3e-4."""
    beta, _, ok = _efron_fit(X.to_numpy(), Y)
    assert ok
    np.testing.assert_allclose(beta, REF["coef"], atol=5e-6)
    lp = X.to_numpy() @ beta
    np.testing.assert_allclose(efron_survival_at(Y, lp, lp, REF["u"]), REF["surv_u"], atol=3e-4)


def test_replays_rms_calibrate_on_its_first_20_resamples():
    """R: ``set.seed(20261205); calibrate(f, cmethod = "KM", u = 1095, m = 100, B = 20)``, the same resamples:
    the groups' Kaplan-Meier (closed form, 1e-9); mean predicted survival and the corrected KM inherit cph's
    per-resample convergence (eps 1e-4): 2e-3 (measured 3.4e-5 and 8.3e-4; 1.5e-4 at B = 200)."""
    res = calibrate_cox_at(X, Y, REF["u"], m=REF["m"], indices=SAMPLES[:20])
    ref = REF["b20"]
    np.testing.assert_allclose(res.table["km"], ref["km"], atol=1e-9)
    np.testing.assert_allclose(res.table["mean_predicted"], ref["mean_predicted"], atol=2e-3)
    np.testing.assert_allclose(res.table["km_corrected"], ref["km_corrected"], atol=2e-3)
    np.testing.assert_array_equal(res.table["n"], ref["n"])
    assert res.table.shape[0] == 6 and res.n_failed == 0  # floor(686 / 100) = 6 groups
    assert 0 < res.mean_abs_error <= res.q90_abs_error


@pytest.mark.slow
def test_b200_replay_and_own_resamples():
    """Replay of 200 resamples: 5e-4 (measured 1.5e-4). Own resamples against rms: per group the optimism's
    resample SD is about 0.05, so two independent 200-resample means differ by about 0.005 (SE); 0.025 is 5 SE
    (measured 0.010)."""
    ref = REF["b200"]
    res = calibrate_cox_at(X, Y, REF["u"], m=REF["m"], indices=SAMPLES)
    np.testing.assert_allclose(res.table["km_corrected"], ref["km_corrected"], atol=5e-4)
    own = calibrate_cox_at(X, Y, REF["u"], m=REF["m"], n_bootstrap=200, random_state=0)
    np.testing.assert_allclose(own.table["km_corrected"], ref["km_corrected"], atol=0.025)


def test_errors():
    with pytest.raises(ValueError, match=r"^calibrate_cox_at: 'u' must lie inside the follow-up"):
        calibrate_cox_at(X, Y, 1e5, n_bootstrap=1)
    with pytest.raises(ValueError, match=r"^The 'm' parameter of calibrate_cox_at must be an int in the range"):
        calibrate_cox_at(X, Y, 1095, m=1)
    with pytest.raises(ValueError, match=r"^calibrate_cox_at: 'X' must be a 2-D table of finite numbers"):
        calibrate_cox_at(X.assign(age=np.nan), Y, 1095)
