"""Tests for multisurv.selection.lasso_logistic and multisurv.selection.stepwise_logistic (R: glmnet binomial and
stats::step in tests/reference/make_logistic_reference.R; gbsg2, "recurrence by 730 days", n = 623)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from multisurv.exceptions import ConvergenceWarning
from multisurv.selection.lasso_cox import _fit_standardisation
from multisurv.selection.lasso_logistic import LassoLogisticSelector, logistic_path
from multisurv.selection.stepwise_logistic import StepwiseLogisticSelector

REF = json.loads((Path(__file__).parents[1] / "reference" / "logistic_reference.json").read_text())
X = pd.DataFrame(np.asarray(REF["x"]).T, columns=REF["columns"])
Y = np.asarray(REF["y"])
GLMNET = REF["glmnet"]


@pytest.fixture(scope="module")
def standardised():
    _, mean, scale, _ = _fit_standardisation(X.to_numpy())
    np.testing.assert_allclose(scale, GLMNET["sd"], rtol=1e-10)  # population sd, as glmnet standardises
    return (X.to_numpy() - mean) / scale, mean, scale


def test_path_matches_glmnet_binomial(standardised):
    """R: ``glmnet(x, y, family = "binomial", nlambda = 30, thresh = 1e-14)``: beta (times the population sd) and
    a0 at glmnet's 30 lambdas. Coordinate descent on both sides; at tol 1e-14 they agree to 3e-7 (measured), so
    1e-5 (looser than the Cox house 1e-3 because both solvers run to a tight threshold here)."""
    Z, mean, scale = standardised
    lam = np.asarray(GLMNET["lambda"])
    b0, coef, ok = logistic_path(Z, Y.astype(float), lam, tol=1e-14)
    beta = np.asarray(GLMNET["beta"]).T
    assert ok
    np.testing.assert_allclose(coef, beta * scale[:, None], atol=1e-5)
    # glmnet's a0 is on the raw scale: the standardised intercept is a0 + beta . mean
    np.testing.assert_allclose(b0, np.asarray(GLMNET["a0"]) + beta.T @ mean, atol=1e-5)


def test_cv_deviance_and_lambda_min_1se_match_cv_glmnet():
    """R: ``cv.glmnet(x, y, family = "binomial", lambda = <the path's>, foldid = rep(1:5, length.out = 623),
    type.measure = "deviance")``: cvm, cvsd (1e-5, inheriting the path tolerance; measured 1e-6 at the default
    tol) and the chosen lambdas (equal)."""
    foldid = np.asarray(GLMNET["foldid"])
    folds = [(np.flatnonzero(foldid != k), np.flatnonzero(foldid == k)) for k in range(1, 6)]
    lam = np.asarray(GLMNET["lambda"])
    sel = LassoLogisticSelector()
    sel._check_params()
    results = sel._cross_validate(X.to_numpy(), Y.astype(float), lam, folds)
    np.testing.assert_allclose(results["mean_deviance"], GLMNET["cvm"], atol=1e-5)
    np.testing.assert_allclose(results["se_deviance"], GLMNET["cvsd"], atol=1e-5)
    assert lam[sel._choose(results)] == GLMNET["lambda_min"]
    sel.rule = "1se"
    assert lam[sel._choose(results)] == GLMNET["lambda_1se"]


def test_selector_cv_and_fixed_alpha():
    sparse = LassoLogisticSelector(rule="1se", cv=3, n_alphas=15, tol=1e-8, random_state=0).fit(X, Y)
    dense = LassoLogisticSelector(cv=3, n_alphas=15, tol=1e-8, random_state=0).fit(X, Y)
    assert set(sparse.selected_features_) <= set(dense.selected_features_)
    assert "pnodes" in sparse.selected_features_ and "progrec" in sparse.selected_features_
    assert sparse.cv_results_.shape[0] == 15 and sparse.cv_results_["n_nonzero"].iloc[0] == 0
    fixed = LassoLogisticSelector(alpha=GLMNET["lambda"][10], n_alphas=11).fit(X, Y)
    assert fixed.alpha_ == GLMNET["lambda"][10] and fixed.cv_results_ is None
    expected = np.asarray(GLMNET["beta"][10]) * np.asarray(GLMNET["sd"])
    np.testing.assert_allclose(fixed.coef_, expected, atol=1e-4)  # default tol: measured 8e-6 over the path
    prob = fixed.predict_proba(X)[:, 1]
    assert prob.shape == (623,) and np.all((prob > 0) & (prob < 1))
    assert list(fixed.transform(X).columns) == fixed.selected_features_
    assert clone(fixed).get_params() == fixed.get_params()


def test_selector_warns_when_nothing_is_selected():
    with pytest.warns(ConvergenceWarning, match="LassoLogisticSelector selected no feature at alpha=10"):
        sel = LassoLogisticSelector(alpha=10.0).fit(X, Y)
    assert sel.selected_features_ == []


@pytest.mark.parametrize(("params", "msg"), [
    ({"alpha": "auto"}, "The 'alpha' parameter of LassoLogisticSelector must be 'cv' or a float in the range "
                        "(0, inf). Got 'auto' instead."),
    ({"rule": "max"}, "The 'rule' parameter of LassoLogisticSelector must be one of 'min', '1se'. Got 'max' "
                      "instead."),
    ({"cv": 1}, "The 'cv' parameter of LassoLogisticSelector must be an int in the range [2, inf). Got 1 "
                "instead."),
], ids=["alpha", "rule", "cv"])
def test_lasso_param_errors(params, msg):
    with pytest.raises(ValueError) as info:
        LassoLogisticSelector(**params).fit(X, Y)
    assert str(info.value) == msg


def test_lasso_too_few_in_a_class():
    y = np.zeros(623)
    y[:3] = 1
    with pytest.raises(ValueError, match=r"^LassoLogisticSelector cannot run cv=10 folds with only 3 patient"):
        LassoLogisticSelector().fit(X, y)


@pytest.mark.parametrize("case", ["forward_aic", "backward_aic", "both_aic", "both_bic"])
def test_stepwise_matches_step(case):
    """R: ``step(glm(...), scope = list(lower = ~1, upper = ~ all 9), direction, k = 2 or log(n))``: the selected
    set, the order of additions, and the final log-likelihood (1e-8: Newton-Raphson to convergence on both
    sides) and AIC."""
    direction, criterion = case.split("_")
    ref = REF["step"][case]
    sel = StepwiseLogisticSelector(direction=direction, criterion=criterion).fit(X, Y)
    assert set(sel.selected_features_) == set(ref["selected"])
    if direction != "backward":
        assert sel.path_["feature"].tolist()[1:] == ref["selected"]  # step's term order = order of additions
    assert sel.loglik_ == pytest.approx(ref["loglik"], abs=1e-8)
    if criterion == "aic":
        # the criterion counts features only; R's extractAIC also counts the intercept (+2)
        assert sel.path_["criterion"].iloc[-1] + 2 == pytest.approx(ref["aic"], abs=1e-7)
    assert list(sel.coef_.index) == sorted(sel.selected_features_, key=REF["columns"].index)


def test_stepwise_errors():
    with pytest.raises(ValueError, match=r"^'y' must be a binary outcome coded 0/1 or bool in StepwiseLogistic"):
        StepwiseLogisticSelector().fit(X, np.arange(623))
    with pytest.raises(ValueError, match=r"^StepwiseLogisticSelector: 'p_enter' \(0\.2\) must not exceed"):
        StepwiseLogisticSelector(criterion="p", p_enter=0.2, p_remove=0.1).fit(X, Y)


def _strong_rule_design(seed=3, n=80, p=12, n_alphas=20, l1_ratio=1.0):
    """A block of ten features correlated with the first (the sequential strong rule misses active features here)."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, p))
    Z[:, 5:15] += 2 * Z[:, [0]]
    Z = (Z - Z.mean(0)) / Z.std(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-(Z[:, 0] - 0.5 * Z[:, 1] + 0.3 * Z[:, min(20, p - 1)])))).astype(float)
    alphas = np.abs(Z.T @ (y - y.mean())).max() / n / l1_ratio * np.geomspace(1, 0.01, n_alphas)
    return Z, y, alphas


def _strong_rule_misses(Z, y, alphas, b0, coef, l1_ratio=1.0):
    """Features active at a penalty that the sequential strong rule (applied to the given path) would discard."""
    misses = 0
    for k in range(1, alphas.size):
        prob = 1 / (1 + np.exp(-(b0[k - 1] + Z @ coef[:, k - 1])))
        grad = np.abs(Z.T @ (y - prob)) / y.size
        kept = (coef[:, :k] != 0).any(axis=1) | (grad >= l1_ratio * (2 * alphas[k] - alphas[k - 1]))
        misses += int(((coef[:, k] != 0) & ~kept).sum())
    return misses


def _compiled() -> bool:
    import multisurv.selection.lasso_logistic as module

    return module._path_kernel is not module._path_numpy


# the unscreened path (and its tol 1e-16 reference) over 100-200 features takes minutes without numba
needs_compiled = pytest.mark.skipif(not _compiled(), reason="numba not installed: minutes in pure Python")


@pytest.mark.parametrize(("design", "l1_ratio"), [((3, 80, 12, 20), 1.0),
                                                  pytest.param((1, 175, 106, 50), 1.0, marks=needs_compiled),
                                                  pytest.param((0, 60, 200, 30), 1.0, marks=needs_compiled),
                                                  ((0, 100, 40, 10), 0.5)],
                         ids=["n80_p12", "n175_p106", "p_gt_n", "elastic_net"])
def test_screened_path_equals_unscreened_path(design, l1_ratio):
    """The sequential strong rule with KKT checks (the default) against coordinate descent over every feature in
    every pass (``screen=False``, the solver as it was before screening): same intercepts and coefficients within
    the solver's convergence tolerance, the same non-zero pattern, all converged.

    Tolerance: both runs stop when a pass changes no coefficient by more than ``w_j delta_j^2 < tol`` (1e-12 here),
    so each lies some distance from the exact minimiser, and the two (which visit the coordinates in different
    orders) may differ by up to about that distance. The test takes that distance as measured: the unscreened path
    against the same path run to tol 1e-16 (3.8e-5 and 3.2e-4 on the first two designs; screened minus unscreened
    measured 5.2e-6, 1.4e-7 and 0 on the others). The first two designs have features that the strong rule discards
    although they are active, so the KKT check is exercised."""
    Z, y, alphas = _strong_rule_design(*design, l1_ratio=l1_ratio)
    b0_s, coef_s, ok_s = logistic_path(Z, y, alphas, l1_ratio=l1_ratio, tol=1e-12)
    b0_u, coef_u, ok_u = logistic_path(Z, y, alphas, l1_ratio=l1_ratio, tol=1e-12, screen=False)
    b0_x, coef_x, ok_x = logistic_path(Z, y, alphas, l1_ratio=l1_ratio, tol=1e-16, screen=False)
    assert ok_s and ok_u and ok_x
    error = max(np.abs(coef_u - coef_x).max(), np.abs(b0_u - b0_x).max())  # the solver's own error at tol 1e-12
    assert 0 < error < 1e-3
    np.testing.assert_allclose(coef_s, coef_u, rtol=0, atol=error)
    np.testing.assert_allclose(b0_s, b0_u, rtol=0, atol=error)
    np.testing.assert_array_equal(coef_s != 0, coef_u != 0)
    if design[0] in (3, 1):
        assert _strong_rule_misses(Z, y, alphas, b0_x, coef_x, l1_ratio) > 0


@needs_compiled
def test_selector_chooses_the_same_penalty_and_features_without_screening(monkeypatch):
    """The whole selector (path, 5-fold CV deviance, lambda-min) with and without screening, at the study's
    tolerance 1e-7 on a design with more features than events: the same penalty, the same features, CV deviances
    within 1e-4 (coefficients agree within the tolerance, measured 2e-3 there, and the deviance of held-out patients
    moves by about that times the linear predictor's sensitivity)."""
    import functools

    import multisurv.selection.lasso_logistic as module

    Z, y, _ = _strong_rule_design(1, 175, 106, 50)
    X = pd.DataFrame(Z, columns=[f"f{j}" for j in range(Z.shape[1])])
    screened = LassoLogisticSelector(cv=5, tol=1e-7, random_state=0).fit(X, y)
    monkeypatch.setattr(module, "logistic_path", functools.partial(module.logistic_path, screen=False))
    unscreened = LassoLogisticSelector(cv=5, tol=1e-7, random_state=0).fit(X, y)
    assert screened.alpha_ == unscreened.alpha_
    assert screened.selected_features_ == unscreened.selected_features_
    np.testing.assert_allclose(screened.cv_results_["mean_deviance"], unscreened.cv_results_["mean_deviance"],
                               rtol=0, atol=1e-4)


def test_standardisation_without_nan_matches_the_shared_one():
    """The selector's standardisation skips the NaN handling when there is no NaN: the same numbers."""
    from multisurv.selection.lasso_logistic import _standardisation

    rng = np.random.default_rng(0)
    values = rng.normal(size=(41, 30)) * rng.lognormal(size=30)
    values[:, 3] = 2.5  # constant: not usable
    for a, b in zip(_standardisation(values), _fit_standardisation(values)):
        np.testing.assert_array_equal(a, b)
    values[0, 0] = np.nan
    for a, b in zip(_standardisation(values), _fit_standardisation(values)):
        np.testing.assert_array_equal(a, b)


def test_compiled_path_and_numpy_fallback_agree():
    """numba (with the 'explain' extra) compiles the path written as loops; without it the NumPy version runs the
    same steps with array expressions (the coordinate-descent loop shared). They differ only in the summation order
    of the Gram matrix and gradients: 1e-13 measured, 1e-10 allowed."""
    pytest.importorskip("numba")
    import multisurv.selection.lasso_logistic as module

    assert module._path_kernel is not module._path_numpy
    Z, y, alphas = _strong_rule_design(3, 80, 12, 20)  # the KKT check adds features here
    for screen in (True, False):
        compiled = module.logistic_path(Z, y, alphas, tol=1e-9, screen=screen)
        numpy = module._path_numpy(Z, y, alphas, 1.0, 1e-9, 100_000, screen)
        assert compiled[2] and numpy[2]
        np.testing.assert_allclose(compiled[1], numpy[1], rtol=0, atol=1e-10)
        np.testing.assert_allclose(compiled[0], numpy[0], rtol=0, atol=1e-10)


def test_a_constant_column_keeps_a_zero_coefficient():
    """A feature constant in the fitted rows (as in a CV fold) has no curvature: it stays at 0 instead of 0 / 0."""
    rng = np.random.default_rng(1)
    Z = np.column_stack([rng.normal(size=60), np.zeros(60)])
    y = (rng.random(60) < 1 / (1 + np.exp(-Z[:, 0]))).astype(float)
    b0, coef, ok = logistic_path(Z, y, np.array([0.05, 0.01]), tol=1e-9)
    assert ok and np.isfinite(coef).all() and (coef[1] == 0).all() and (coef[0] != 0).all()
