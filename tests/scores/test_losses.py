"""Tests for multisurv.scores.losses against R's coxph log-likelihoods and multisurv.evaluation.cox.cox_ph.

References: tests/reference/veteran_reference.json (``coxph(..., ties = "breslow")``, make_reference.R) and
tests/reference/km_cox_reference.json (``coxph(..., ties = "efron")``, make_km_cox_reference.R).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

from multisurv._validation import make_y
from multisurv.evaluation.cox import _design, cox_ph
from multisurv.scores.losses import cox_loss, discrete_risk, discrete_time_loss, make_time_bins, time_to_bin

torch = pytest.importorskip("torch")

REF_DIR = Path(__file__).parents[1] / "reference"
VETERAN = json.loads((REF_DIR / "veteran_reference.json").read_text())
KM_COX = json.loads((REF_DIR / "km_cox_reference.json").read_text())
# The log-likelihood is a closed form at fixed coefficients; in float64 the only differences are the JSON's
# 15 significant digits (R) and summation order: measured below 1e-9 on log-likelihoods of size 1e2-1e4.
TOL_LL = {"rtol": 1e-10, "atol": 1e-8}


def _t(x):
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64)


def test_breslow_matches_coxph_loglik():
    """R: coxph(Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype, ties = "breslow")$loglik[2],
    at R's linear predictor (veteran has tied event times)."""
    y = make_y(VETERAN["data"]["time"], VETERAN["data"]["status"])
    loss = cox_loss(_t(VETERAN["cox"]["lp"]), y["time"], y["event"], ties="breslow", reduction="sum")
    np.testing.assert_allclose(-float(loss), VETERAN["cox"]["loglik"], **TOL_LL)


@pytest.mark.parametrize("name", sorted(KM_COX["datasets"]))
def test_efron_matches_cox_ph_and_coxph(name):
    """R: coxph(Surv(time, status) ~ <covariates>, ties = "efron")$loglik[2], at R's coefficients; and
    multisurv's cox_ph (checked against R in tests/evaluation/test_cox.py) at its own coefficients."""
    ref = KM_COX["datasets"][name]["cox"]
    frame = pd.read_csv(REF_DIR / "data" / f"km_{name}.csv")
    y = make_y(frame["time"], frame["status"])
    design, _ = _design(frame[ref["covariates"]], n=len(y))
    assert list(design.columns) == ref["names"]
    x = design.to_numpy(float)
    loss_r = cox_loss(_t(x @ np.asarray(ref["coef"])), y["time"], y["event"], ties="efron", reduction="sum")
    np.testing.assert_allclose(-float(loss_r), ref["loglik"][1], **TOL_LL)
    fit = cox_ph(y, frame[ref["covariates"]])
    loss = cox_loss(_t(x @ fit.coef), y["time"], y["event"], reduction="sum")
    np.testing.assert_allclose(-float(loss), fit.loglik, **TOL_LL)
    loss0 = cox_loss(_t(np.zeros(len(y))), y["time"], y["event"], reduction="sum")
    np.testing.assert_allclose(-float(loss0), fit.loglik_null, **TOL_LL)


def test_efron_gradient_vanishes_at_the_cox_estimate():
    """At cox_ph's maximum-likelihood coefficients the score (autograd gradient of the loss) is ~0."""
    ref = KM_COX["datasets"]["veteran"]["cox"]
    frame = pd.read_csv(REF_DIR / "data" / "km_veteran.csv")
    y = make_y(frame["time"], frame["status"])
    design, _ = _design(frame[ref["covariates"]], n=len(y))
    x = _t(design.to_numpy(float))
    beta = _t(cox_ph(y, frame[ref["covariates"]]).coef).requires_grad_(True)
    cox_loss(x @ beta, y["time"], y["event"], reduction="sum").backward()
    # cox_ph converges to 1e-12 in the Newton step; the score at its estimate is measured ~1e-9 (karno ~ 50,
    # so the gradient is in units of the covariates); 1e-6 leaves a wide margin yet fails for a wrong gradient.
    assert beta.grad.abs().max().item() < 1e-6


def test_breslow_equals_efron_without_ties():
    rng = np.random.default_rng(0)
    risk = _t(rng.normal(size=30))
    event, time = rng.random(30) < 0.7, rng.permutation(30) + 1.0
    a = cox_loss(risk, time, event, ties="breslow")
    b = cox_loss(risk, time, event, ties="efron")
    assert float(a) == pytest.approx(float(b), rel=1e-12)  # same formula; float64 rounding only


def test_cox_loss_invariances():
    """A shift of every risk and a reordering of the rows leave the loss unchanged; large risks do not overflow."""
    rng = np.random.default_rng(1)
    risk = rng.normal(size=40)
    event, time = rng.random(40) < 0.6, np.round(rng.exponential(5, 40))  # rounding makes ties
    event[0] = True
    base = float(cox_loss(_t(risk), time, event))
    perm = rng.permutation(40)
    assert float(cox_loss(_t(risk[perm]), time[perm], event[perm])) == pytest.approx(base, rel=1e-12)
    assert float(cox_loss(_t(risk + 800.0), time, event)) == pytest.approx(base, rel=1e-9)  # exp(800) overflows


def test_cox_loss_reduction_mean_divides_by_events():
    event, time = np.array([1, 0, 1, 1], bool), np.array([1.0, 2.0, 2.0, 3.0])
    risk = _t([0.3, -0.2, 0.1, 0.5])
    assert float(cox_loss(risk, time, event, reduction="mean")) * 3 == pytest.approx(
        float(cox_loss(risk, time, event, reduction="sum")), rel=1e-12)


def test_cox_loss_without_events_is_zero_with_zero_gradient():
    risk = _t([0.3, -0.2, 0.1]).requires_grad_(True)
    loss = cox_loss(risk, [1.0, 2.0, 3.0], [False, False, False])
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(risk.grad, torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("kwargs,match", [
    ({"ties": "exact"}, "The 'ties' parameter of cox_loss must be one of 'efron', 'breslow'. Got 'exact'"),
    ({"reduction": "none"}, "The 'reduction' parameter of cox_loss must be one of 'mean', 'sum'"),
])
def test_cox_loss_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cox_loss(_t([0.0, 1.0]), [1.0, 2.0], [True, True], **kwargs)


def test_cox_loss_size_mismatch():
    with pytest.raises(ValueError, match="'risk' has 2 samples but 'event' has 3 and 'time' 3"):
        cox_loss(_t([0.0, 1.0]), [1.0, 2.0, 3.0], [True, True, False])


def test_discrete_time_loss_is_person_period_cross_entropy():
    """The NLL equals the binary cross-entropy of the person-period table (scikit-learn's log_loss)."""
    rng = np.random.default_rng(2)
    n, k = 25, 4
    logits = rng.normal(size=(n, k))
    event, bins = rng.random(n) < 0.5, rng.integers(0, k, n)
    labels, probs = [], []
    for i in range(n):
        for j in range(bins[i] + 1):
            labels.append(int(event[i] and j == bins[i]))
            probs.append(1.0 / (1.0 + np.exp(-logits[i, j])))
    expected = log_loss(labels, probs, normalize=False, labels=[0, 1])
    got = float(discrete_time_loss(_t(logits), event, bins, reduction="sum"))
    assert got == pytest.approx(expected, rel=1e-10)  # same sum in float64
    assert float(discrete_time_loss(_t(logits), event, bins)) == pytest.approx(expected / n, rel=1e-10)


def test_discrete_time_loss_bad_bins():
    with pytest.raises(ValueError, match=r"'time_bin' must lie in \[0, 2\]"):
        discrete_time_loss(_t(np.zeros((2, 3))), [True, False], [0, 3])


def test_time_bins_and_risk():
    y = make_y([1.0, 2.0, 3.0, 4.0, 9.0], [1, 1, 1, 1, 0])
    cuts = make_time_bins(y, n_bins=2)
    assert cuts.tolist() == [2.5]  # the median event time
    assert time_to_bin(y["time"], cuts).tolist() == [0, 0, 1, 1, 1]
    risk = discrete_risk(_t([[-3.0, -3.0], [3.0, 3.0]]))
    assert float(risk[1]) > float(risk[0])  # larger hazards, higher risk
    with pytest.raises(ValueError, match="needs at least one event"):
        make_time_bins(make_y([1.0, 2.0], [0, 0]))
    with pytest.raises(ValueError, match="The 'n_bins' parameter of make_time_bins"):
        make_time_bins(y, n_bins=1)
