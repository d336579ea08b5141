"""Tests for multisurv.scores.modality_score."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sksurv.metrics import concordance_index_censored

from multisurv._validation import make_y
from multisurv.scores.modality_score import ModalityScore, check_scores, default_scores
from multisurv.selection.lasso_cox import LassoCoxSelector


def _data(n=240, seed=0):
    """ct__ (8 features, 2 informative, on very different scales) and wsi__ (4); 40 patients lack CT."""
    rng = np.random.default_rng(seed)
    ct = rng.normal(size=(n, 8)) * np.array([100.0, 0.01, 1, 1, 1, 1, 1, 1]) + np.array([500.0, 0, 0, 0, 0, 0, 0, 0])
    wsi = rng.normal(size=(n, 4))
    eta = (ct[:, 0] - 500) / 100 - 80 * ct[:, 1] + 0.8 * wsi[:, 0]
    t = rng.exponential(np.exp(-eta))
    c = rng.exponential(2.0, n)
    X = pd.concat([pd.DataFrame(ct, columns=[f"ct__f{i}" for i in range(8)]),
                   pd.DataFrame(wsi, columns=[f"wsi__f{i}" for i in range(4)])], axis=1)
    X.index = pd.Index([f"P{i:03d}" for i in range(n)], name="patient_id")
    X.iloc[:40, :8] = np.nan  # no CT for the first 40 patients
    X.iloc[45, 2] = np.nan  # a single missing value in a patient who has CT
    return X, make_y(np.minimum(t, c), t <= c)


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return ModalityScore(random_state=0).fit(X, y)


def test_nan_for_rows_without_the_modality(data, fitted):
    X, y = data
    risk = fitted.predict(X)
    assert risk.shape == (240,)
    assert np.isnan(risk[:40]).all() and np.isfinite(risk[40:]).all()
    assert fitted.n_train_ == 200
    assert fitted.modality_columns_ == [f"ct__f{i}" for i in range(8)]
    assert {"ct__f0", "ct__f1"} <= set(fitted.selected_features_)
    assert not any(f.startswith("wsi__") for f in fitted.selected_features_)


def test_formula_reproduces_predict_on_the_original_scale(data, fitted):
    X, _ = data
    formula = fitted.formula_
    assert list(formula.columns) == ["feature", "coef", "impute_value"]
    assert formula["feature"].iloc[-1] == "(intercept)"
    coefs = formula.iloc[:-1].set_index("feature")
    rows = X.iloc[40:]
    values = rows[coefs.index].fillna(coefs["impute_value"])
    manual = values.to_numpy() @ coefs["coef"].to_numpy() + formula["coef"].iloc[-1]
    np.testing.assert_allclose(fitted.predict(X)[40:], manual, rtol=1e-12, atol=1e-12)
    # original scale: the 1/100-scaled feature gets a ~100x smaller coefficient than the x100 one's inverse
    assert fitted.coef_["ct__f0"] > 0 and fitted.coef_["ct__f1"] < 0
    assert abs(fitted.coef_["ct__f1"]) > 100 * abs(fitted.coef_["ct__f0"])


def test_score_is_lasso_linear_predictor_centred(data, fitted):
    X, y = data
    sel = fitted.selector_
    assert isinstance(sel, LassoCoxSelector)
    present = X.iloc[40:, :8]
    z = (present.fillna(pd.Series(sel.medians_, index=present.columns)) - sel.mean_) / sel.scale_
    np.testing.assert_allclose(fitted.predict(X)[40:], z.to_numpy() @ sel.coef_, atol=1e-10)
    assert fitted.predict(X)[40:].mean() == pytest.approx(0.0, abs=1e-10)


def test_score_is_harrell_c_on_available_rows(data, fitted):
    X, y = data
    risk = fitted.predict(X)
    expected = concordance_index_censored(y["event"][40:], y["time"][40:], risk[40:])[0]
    assert fitted.score(X, y) == pytest.approx(expected)
    assert fitted.score(X, y) > 0.7


def test_only_prefix_columns_and_present_rows_are_used(data, fitted):
    """Leakage guard: other modalities' columns and the outcomes of patients without CT change nothing."""
    X, y = data
    X2 = X.copy()
    X2.loc[:, [c for c in X if c.startswith("wsi__")]] = 1e6
    y2 = y.copy()
    y2["time"][:40] = 1e-3
    y2["event"][:40] = True
    other = ModalityScore(random_state=0).fit(X2, y2)
    pd.testing.assert_series_equal(other.coef_, fitted.coef_)
    assert other.intercept_ == fitted.intercept_
    pd.testing.assert_frame_equal(other.selector_.cv_results_, fitted.selector_.cv_results_)


def test_predict_is_row_wise(data, fitted):
    """Poisoned or missing held-out rows do not change the scores of the other rows (nothing is refitted)."""
    X, _ = data
    clean = fitted.predict(X)
    poisoned = X.copy()
    poisoned.iloc[200:, :8] = 1e9
    poisoned.iloc[190:200, :8] = np.nan
    out = fitted.predict(poisoned)
    np.testing.assert_array_equal(out[:190], clean[:190])
    assert np.isnan(out[190:200]).all()


def test_selector_without_coefficients_gets_a_cox_refit(data):
    X, y = data

    class FirstTwo(BaseEstimator):
        def fit(self, X, y):
            self.selected_features_ = list(X.columns[:2])
            return self

    score = ModalityScore(selector=FirstTwo()).fit(X, y)
    assert score.selected_features_ == ["ct__f0", "ct__f1"]
    assert score.coef_["ct__f0"] > 0 and score.coef_["ct__f1"] < 0
    assert score.predict(X)[40:].mean() == pytest.approx(0.0, abs=1e-8)


def test_random_state_is_passed_to_the_selector(data):
    X, y = data
    score = ModalityScore(selector=LassoCoxSelector(cv=3), random_state=7).fit(X, y)
    assert score.selector_.random_state == 7 and score.selector_.cv == 3
    assert score.selector is not score.selector_


def test_estimator_contract(data):
    X, y = data
    score = ModalityScore(name="patscore", prefix="wsi__", random_state=0)
    with pytest.raises(NotFittedError):
        score.predict(X)
    assert clone(score).get_params() == score.get_params()
    assert score.fit(X, y) is score
    again = pickle.loads(pickle.dumps(score))
    np.testing.assert_array_equal(again.predict(X), score.predict(X))


def test_defaults_and_check_scores():
    assert [(s.name, s.prefix) for s in default_scores()] == [("radscore", "ct__"), ("patscore", "wsi__"),
                                                            ("clinscore", "clin__")]
    twice = [ModalityScore(name="a"), ModalityScore(name="a", prefix="wsi__")]
    with pytest.raises(ValueError, match=r"^The scores of X must have unique names; 'a' is used more than once\."):
        check_scores(twice, "X")


# ---------------------------------------------------------------- failure cases
def test_no_prefix_columns(data):
    X, y = data
    msg = (r"^No column of 'X' starts with 'clin__' \(ModalityScore 'clinscore'\)\. Prefixes present: 'ct__', "
           r"'wsi__'\. Add the columns or drop this score\.$")
    with pytest.raises(ValueError, match=msg):
        ModalityScore(name="clinscore", prefix="clin__").fit(X, y)


def test_no_events_among_patients_with_the_modality(data):
    X, y = data
    y2 = y.copy()
    y2["event"][40:] = False
    with pytest.raises(ValueError, match=r"no observed event in the 200 patients with 'ct__' features "
                                         r"\(ModalityScore 'radscore'\)"):
        ModalityScore().fit(X, y2)


def test_not_a_dataframe(data):
    X, y = data
    with pytest.raises(TypeError, match=r"^ModalityScore needs 'X' as a pandas DataFrame"):
        ModalityScore().fit(X.to_numpy(), y)


def test_predict_missing_columns(data, fitted):
    X, _ = data
    with pytest.raises(ValueError, match=r"^'X' lacks 1 column\(s\) that ModalityScore 'radscore' was fitted "
                                         r"with: 'ct__f7'\.$"):
        fitted.predict(X.drop(columns="ct__f7"))


@pytest.mark.parametrize(
    ("params", "msg"),
    [
        ({"name": ""}, "The 'name' parameter of ModalityScore must be a non-empty str. Got '' instead."),
        ({"prefix": 3}, "The 'prefix' parameter of ModalityScore must be a non-empty str. Got 3 instead."),
        ({"selector": "lasso"}, "The 'selector' parameter of ModalityScore must be an estimator with 'fit' or "
                                "None. Got 'lasso' instead."),
    ],
    ids=["empty_name", "int_prefix", "str_selector"],
)
def test_param_errors(data, params, msg):
    X, y = data
    with pytest.raises(ValueError) as info:
        ModalityScore(**params).fit(X, y)
    assert str(info.value) == msg
