"""Tests for multisurv.selection.lasso_cox (glmnet reference: tests/reference/make_lasso_reference.R)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from multisurv._validation import make_y
from multisurv.exceptions import ConvergenceWarning
from multisurv.selection.lasso_cox import (
    LassoCoxSelector,
    _coxnet_path,
    _fit_standardisation,
    partial_log_likelihood,
)

REF_DIR = Path(__file__).parents[1] / "reference"
LASSO = json.loads((REF_DIR / "lasso_reference.json").read_text())
VETERAN = json.loads((REF_DIR / "veteran_reference.json").read_text())
# Against glmnet: both solve the same convex problem by coordinate descent, but sksurv stops at its own
# tolerance (1e-7, not exposed), so coefficients and CV deviances agree to about 1e-3 (house rule for glmnet).
TOL_GLMNET = 1e-3


def _signal_data(n=300, p=20, seed=0, informative=(0, 1, 2)):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"ct__f{i:02d}" for i in range(p)])
    eta = X.iloc[:, list(informative)].to_numpy() @ np.array([1.0, -0.8, 0.6])[: len(informative)]
    t = rng.exponential(np.exp(-eta))
    c = rng.exponential(2.0, n)
    return X, make_y(np.minimum(t, c), t <= c)


@pytest.fixture(scope="module")
def signal():
    return _signal_data()


@pytest.fixture(scope="module")
def glmnet_case():
    data = LASSO["data"]
    X = np.asarray(data["x"], float).T
    y = make_y(data["time"], data["status"])
    folds = [(np.flatnonzero(np.asarray(data["foldid"]) != k), np.flatnonzero(np.asarray(data["foldid"]) == k))
             for k in range(1, 6)]
    return X, y, np.asarray(LASSO["lambda"]), folds


# --------------------------------------------------------------- reference values
def test_partial_log_likelihood_matches_coxph():
    """R: coxph(Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype, ties = "breslow")$loglik[2],
    evaluated at R's linear predictor (veteran has tied times, so Breslow's tie handling is exercised)."""
    y = make_y(VETERAN["data"]["time"], VETERAN["data"]["status"])
    ll = partial_log_likelihood(y, np.asarray(VETERAN["cox"]["lp"]))
    assert ll == pytest.approx(VETERAN["cox"]["loglik"], abs=1e-6)  # closed form; JSON keeps 15 digits


def test_path_matches_glmnet(glmnet_case):
    """R: glmnet(x, Surv(time, status), family = "cox", nlambda = 30, thresh = 1e-14)$beta (original scale)."""
    X, y, lam, _ = glmnet_case
    _, mean, scale, _ = _fit_standardisation(X)
    np.testing.assert_allclose(scale, LASSO["sd"], rtol=1e-10)
    alphas, path = _coxnet_path((X - mean) / scale, y, l1_ratio=1.0, alphas=lam)
    np.testing.assert_allclose(alphas, lam)
    expected = np.asarray(LASSO["coef"]).T * scale[:, None]  # glmnet's beta to the standardised scale
    np.testing.assert_allclose(path, expected, atol=TOL_GLMNET)


def test_cv_deviance_matches_cv_glmnet(glmnet_case):
    """R: cv.glmnet(..., foldid = rep(1:5, length.out = 137), grouped = TRUE): cvm, cvsd, lambda.min, lambda.1se.

    The times are de-tied in the R script, so glmnet's saturated log-likelihood term is 0 and the two
    deviances are the same quantity.
    """
    X, y, lam, folds = glmnet_case
    _, mean, scale, _ = _fit_standardisation(X)
    _, path = _coxnet_path((X - mean) / scale, y, l1_ratio=1.0, alphas=lam)
    sel = LassoCoxSelector()
    results = sel._cross_validate(X, y, lam, path, folds)
    np.testing.assert_allclose(results["mean_deviance"], LASSO["cvm"], atol=TOL_GLMNET)
    np.testing.assert_allclose(results["se_deviance"], LASSO["cvsd"], atol=TOL_GLMNET)
    assert lam[sel._choose(results)] == pytest.approx(LASSO["lambda_min"])
    assert lam[sel.set_params(rule="1se")._choose(results)] == pytest.approx(LASSO["lambda_1se"])


def test_partial_log_likelihood_by_hand():
    """Events at t=1 (risk set {1,2,3}) and t=2 (tied with a censoring, risk set {2,3}), eta = (0, ln 2, 0):
    l = [0 - ln(1 + 2 + 1)] + [ln 2 - ln(2 + 1)]."""
    y = make_y([1.0, 2.0, 2.0], [1, 1, 0])
    eta = np.array([0.0, np.log(2.0), 0.0])
    expected = -np.log(4.0) + np.log(2.0) - np.log(3.0)
    assert partial_log_likelihood(y, eta) == pytest.approx(expected, abs=1e-12)
    both = partial_log_likelihood(y, np.column_stack([eta, np.zeros(3)]))
    np.testing.assert_allclose(both, [expected, -np.log(3.0) - np.log(2.0)])


# ------------------------------------------------------------------- behaviour
def test_selects_the_informative_features(signal):
    X, y = signal
    sel = LassoCoxSelector(random_state=0).fit(X, y)
    assert {"ct__f00", "ct__f01", "ct__f02"} <= set(sel.selected_features_)
    assert sel.coef_.shape == (20,)
    assert sel.coef_[0] > 0 and sel.coef_[1] < 0  # higher risk = worse: sign follows the hazard
    assert list(sel.get_feature_names_out()) == sel.selected_features_
    assert list(sel.get_support(indices=True)) == [i for i, s in enumerate(sel.support_) if s]
    out = sel.transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == sel.selected_features_
    assert sel.transform(X.to_numpy()).shape == out.shape
    assert sel.alpha_ in sel.alphas_
    results = sel.cv_results_
    assert list(results.columns[:4]) == ["alpha", "n_nonzero", "mean_deviance", "se_deviance"]
    assert results.shape == (sel.alphas_.size, 4 + 5)


def test_reproducible_with_random_state(signal):
    X, y = signal
    a = LassoCoxSelector(random_state=3).fit(X, y)
    b = LassoCoxSelector(random_state=3).fit(X, y)
    pd.testing.assert_frame_equal(a.cv_results_, b.cv_results_)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_1se_is_sparser_and_max_features_caps(signal):
    X, y = signal
    lo = LassoCoxSelector(random_state=0).fit(X, y)
    hi = LassoCoxSelector(random_state=0, rule="1se").fit(X, y)
    assert hi.alpha_ >= lo.alpha_
    assert len(hi.selected_features_) <= len(lo.selected_features_)
    capped = LassoCoxSelector(random_state=0, max_features=1).fit(X, y)
    assert capped.selected_features_ == ["ct__f00"]


def test_fixed_alpha(signal):
    X, y = signal
    small = LassoCoxSelector(alpha=0.02).fit(X, y)
    large = LassoCoxSelector(alpha=0.2).fit(X, y)
    assert small.cv_results_ is None
    assert small.alpha_ == pytest.approx(0.02)
    assert set(large.selected_features_) <= set(small.selected_features_)
    assert 0 < len(large.selected_features_) < len(small.selected_features_)


def test_nothing_selected_warns_in_fit_and_transform(signal):
    X, y = signal
    msg = (r"LassoCoxSelector selected no feature: every coefficient is zero at alpha=50 \(as given\), .*"
           r"Pass a smaller float 'alpha'")
    with pytest.warns(ConvergenceWarning, match=msg):
        sel = LassoCoxSelector(alpha=50.0).fit(X, y)
    assert sel.selected_features_ == [] and not sel.coef_.any()
    with pytest.warns(ConvergenceWarning, match=r"selected no feature, so transform returns 0 columns"):
        assert sel.transform(X).shape == (300, 0)


def test_missing_constant_and_empty_columns(signal):
    X, y = signal
    X = X.copy()
    X.iloc[::7, 0] = np.nan  # some missing values: median-imputed
    X["ct__constant"] = 1.0
    X["ct__empty"] = np.nan
    sel = LassoCoxSelector(random_state=0).fit(X, y)
    assert "ct__f00" in sel.selected_features_
    assert "ct__constant" not in sel.selected_features_ and "ct__empty" not in sel.selected_features_
    assert sel.medians_[0] == pytest.approx(np.nanmedian(X.iloc[:, 0]))
    assert sel.medians_[-1] == 0.0 and sel.scale_[-1] == 1.0


def test_estimator_contract(signal):
    X, y = signal
    sel = LassoCoxSelector(cv=3, n_alphas=10, random_state=0)
    with pytest.raises(NotFittedError):
        sel.transform(X)
    assert clone(sel).get_params() == sel.get_params()
    assert sel.fit(X, y) is sel
    again = pickle.loads(pickle.dumps(sel))
    np.testing.assert_array_equal(again.coef_, sel.coef_)
    assert list(sel.feature_names_in_) == list(X.columns)


def test_fit_on_array_has_no_feature_names(signal):
    X, y = signal
    sel = LassoCoxSelector(cv=3, random_state=0).fit(X.to_numpy(), y)
    assert not hasattr(sel, "feature_names_in_")
    assert sel.selected_features_[0] == "x0"


# ---------------------------------------------------------------- failure cases
@pytest.mark.parametrize(
    ("params", "msg"),
    [
        ({"l1_ratio": 1.5}, "The 'l1_ratio' parameter of LassoCoxSelector must be a float in the range (0, 1]. "
                            "Got 1.5 instead."),
        ({"l1_ratio": 0}, "The 'l1_ratio' parameter of LassoCoxSelector must be a float in the range (0, 1]. "
                          "Got 0 instead."),
        ({"alpha": "auto"}, "The 'alpha' parameter of LassoCoxSelector must be 'cv' or a float in the range "
                            "(0, inf). Got 'auto' instead."),
        ({"alpha": -1.0}, "The 'alpha' parameter of LassoCoxSelector must be a float in the range (0, inf). "
                          "Got -1.0 instead."),
        ({"cv": 1}, "The 'cv' parameter of LassoCoxSelector must be an int in the range [2, inf). Got 1 instead."),
        ({"n_alphas": 1}, "The 'n_alphas' parameter of LassoCoxSelector must be an int in the range [2, inf). "
                          "Got 1 instead."),
        ({"alpha_min_ratio": 1.0}, "The 'alpha_min_ratio' parameter of LassoCoxSelector must be a float in the "
                                   "range (0, 1). Got 1.0 instead."),
        ({"rule": "max"}, "The 'rule' parameter of LassoCoxSelector must be one of 'min', '1se'. Got 'max' instead."),
        ({"max_features": 0}, "The 'max_features' parameter of LassoCoxSelector must be an int in the range "
                              "[1, inf). Got 0 instead."),
    ],
    ids=["l1_ratio_high", "l1_ratio_zero", "alpha_str", "alpha_negative", "cv_one", "n_alphas_one",
         "alpha_min_ratio_one", "rule", "max_features_zero"],
)
def test_param_errors(signal, params, msg):
    X, y = signal
    with pytest.raises(ValueError) as info:
        LassoCoxSelector(**params).fit(X, y)
    assert str(info.value) == msg


def test_too_few_events_for_cv():
    X = pd.DataFrame({"ct__a": np.arange(10.0), "ct__b": np.arange(10.0) ** 2})
    y = make_y(np.arange(1.0, 11.0), [1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    msg = r"^LassoCoxSelector cannot run cv=5 folds with only 2 event\(s\); each fold needs an event\. Lower 'cv'"
    with pytest.raises(ValueError, match=msg):
        LassoCoxSelector().fit(X, y)


def test_length_mismatch(signal):
    X, y = signal
    with pytest.raises(ValueError, match=r"^'y' has 299 samples but 'X' has 300\.$"):
        LassoCoxSelector().fit(X, y[:-1])


def test_transform_errors(signal):
    X, y = signal
    sel = LassoCoxSelector(random_state=0, max_features=2).fit(X, y)
    with pytest.raises(ValueError, match=r"^'X' lacks 1 selected column\(s\) of LassoCoxSelector: 'ct__f00'\.$"):
        sel.transform(X.drop(columns="ct__f00"))
    with pytest.raises(ValueError, match=r"^'X' has 3 features but LassoCoxSelector was fitted with 20\.$"):
        sel.transform(np.zeros((2, 3)))


# ------------------------------------------------------------------------------------------ elastic net
def _correlated_pair(seed=1, n=300):
    """ct__f0 and ct__f1 are two noisy copies (r about 0.99) of the one driver of the hazard; 8 noise features."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n)
    X = pd.DataFrame(rng.normal(size=(n, 10)), columns=[f"ct__f{i}" for i in range(10)])
    X["ct__f0"] = u + 0.1 * rng.normal(size=n)
    X["ct__f1"] = u + 0.1 * rng.normal(size=n)
    t, c = rng.exponential(np.exp(-u)), rng.exponential(2.0, n)
    return X, make_y(np.minimum(t, c), t <= c)


def test_elastic_net_shares_weight_between_correlated_features():
    """The grouping effect (Zou and Hastie 2005): with l1_ratio = 0.5 the two copies get nearly equal weights;
    LASSO puts most of it on one. Relative gap |b0 - b1| / (|b0| + |b1|), CV-chosen penalties, measured for
    seeds 0, 1, 2: LASSO 0.14, 0.78, 0.16; elastic net 0.01, 0.11, 0.01 (the test uses seed 1)."""
    X, y = _correlated_pair()

    def gap(sel):
        b0, b1 = sel.coef_[:2]
        return abs(b0 - b1) / (abs(b0) + abs(b1))

    lasso = LassoCoxSelector(random_state=0).fit(X, y)
    enet = LassoCoxSelector(l1_ratio=0.5, random_state=0).fit(X, y)
    assert {"ct__f0", "ct__f1"} <= set(enet.selected_features_)
    assert gap(enet) < 0.5 * gap(lasso)
    assert gap(lasso) > 0.5  # LASSO picked one copy


@pytest.fixture(scope="module")
def glmnet_enet_case():
    """survival::pbc complete cases (17 covariates), times de-tied, and glmnet's elastic-net path."""
    ref = json.loads((REF_DIR / "selection_reference.json").read_text())
    enet = ref["elastic_net"]
    X = np.asarray(ref["x"], dtype=float)
    y = make_y(enet["time"], np.asarray(ref["event"]) == 1)
    _, mean, scale, _ = _fit_standardisation(X)
    np.testing.assert_allclose(scale, enet["sd"], rtol=1e-10)
    expected = np.asarray(enet["coef"]).T * scale[:, None]  # glmnet's beta to the standardised scale
    return (X - mean) / scale, y, np.asarray(enet["lambda"]), expected


def test_elastic_net_path_matches_glmnet(glmnet_enet_case):
    """R: ``glmnet(x, Surv(time + 0.001 * row, event), family = "cox", alpha = 0.5, nlambda = 30,
    thresh = 1e-14)$beta`` on survival::pbc (tests/reference/make_selection_reference.R). glmnet's ``alpha``
    is multisurv's ``l1_ratio``; both penalise lambda * (l1_ratio |b|_1 + (1 - l1_ratio) / 2 |b|_2^2) on the
    population-sd scale.

    With scikit-survival's tolerance lowered to 1e-12 both solvers converge to the same optimum: 1e-5
    (measured 3.1e-6). At multisurv's default tolerance the set of non-zero coefficients, which is what a
    selector reports, is glmnet's at every one of the 20 lambdas (the coefficients: see the xfail below).
    """
    Z, y, lam, expected = glmnet_enet_case
    alphas, tight = _coxnet_path(Z, y, l1_ratio=0.5, alphas=lam, tol=1e-12)
    np.testing.assert_allclose(alphas, lam)
    np.testing.assert_allclose(tight, expected, atol=1e-5)
    _, default = _coxnet_path(Z, y, l1_ratio=0.5, alphas=lam)
    np.testing.assert_array_equal(default != 0, expected != 0)


@pytest.mark.xfail(strict=True, reason="scikit-survival's default tolerance (1e-7) leaves the smallest-penalty "
                   "elastic-net coefficients on pbc 1.2e-3 from glmnet's (measured), above the house 1e-3")
def test_elastic_net_path_at_default_tolerance_within_glmnet_house_tolerance(glmnet_enet_case):
    Z, y, lam, expected = glmnet_enet_case
    _, default = _coxnet_path(Z, y, l1_ratio=0.5, alphas=lam)
    np.testing.assert_allclose(default, expected, atol=TOL_GLMNET)
