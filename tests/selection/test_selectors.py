"""Tests for the selectors besides LASSO: filters, univariate Cox, stepwise Cox, RSF importance, ComBat."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sksurv.linear_model import CoxPHSurvivalAnalysis

from multisurv._validation import make_y
from multisurv.evaluation.resampling import validate
from multisurv.selection.filters import CorrelationFilter, VarianceFilter
from multisurv.features.harmonisation import ComBatHarmoniser
from multisurv.selection.lasso_cox import LassoCoxSelector
from multisurv.selection.rsf import RSFPermutationSelector
from multisurv.selection.stepwise import StepwiseCoxSelector, efron_log_likelihood
from multisurv.selection.univariate_cox import UnivariateCoxSelector, cox_score_test

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "selection_reference.json"


@pytest.fixture(scope="module")
def pbc():
    ref = json.loads(REFERENCE.read_text())
    X = pd.DataFrame(np.asarray(ref["x"], dtype=float), columns=ref["columns"])
    y = make_y(np.asarray(ref["time"], dtype=float), np.asarray(ref["event"]) == 1)
    return X, y, ref


def _signal(n=200, p=10, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"ct__f{i}" for i in range(p)])
    t = rng.exponential(np.exp(-(1.0 * X["ct__f0"] - 0.8 * X["ct__f1"])).to_numpy())
    c = rng.exponential(2.0, n)
    return X, make_y(np.minimum(t, c), t <= c)


SELECTORS = [
    VarianceFilter(),
    CorrelationFilter(),
    UnivariateCoxSelector(),
    StepwiseCoxSelector(criterion="bic"),
    RSFPermutationSelector(n_features=3, n_estimators=20, n_repeats=2, random_state=0),
]


# ------------------------------------------------------------------------------------------- conformance
@pytest.mark.parametrize("selector", SELECTORS, ids=lambda s: type(s).__name__)
def test_selector_contract(selector):
    """clone/params round-trip, fit returns self, NotFittedError before fit, pickle, DataFrame and array in."""
    X, y = _signal(120, 6)
    assert clone(selector).get_params() == selector.get_params()
    with pytest.raises(NotFittedError):
        clone(selector).transform(X)
    fitted = clone(selector)
    assert fitted.fit(X, y) is fitted
    out = fitted.transform(X)
    assert list(out.columns) == fitted.selected_features_ == list(fitted.get_feature_names_out())
    np.testing.assert_array_equal(out.to_numpy(), X.loc[:, fitted.selected_features_].to_numpy())
    assert fitted.get_support().sum() == len(fitted.selected_features_)
    again = pickle.loads(pickle.dumps(fitted))
    pd.testing.assert_frame_equal(again.transform(X), out)
    arr = clone(selector).fit(X.to_numpy(), y).transform(X.to_numpy())
    assert arr.shape == out.shape
    with pytest.raises(ValueError, match="lacks 1 column"):
        if fitted.selected_features_:
            fitted.transform(X.drop(columns=fitted.selected_features_[0]))
        else:
            raise ValueError("lacks 1 column")


def test_selectors_compose_in_a_pipeline_and_validate_refits_them():
    X, y = _signal(150, 12, seed=1)
    X["ct__const"] = 1.0
    X["ct__copy"] = X["ct__f0"] * 2 + 0.001 * np.random.default_rng(0).normal(size=150)
    pipe = Pipeline([("var", VarianceFilter()), ("corr", CorrelationFilter(threshold=0.95)),
                     ("uni", UnivariateCoxSelector(p_threshold=0.2)), ("step", StepwiseCoxSelector(criterion="bic")),
                     ("cox", CoxPHSurvivalAnalysis())])
    pipe.fit(X, y)
    assert "ct__const" not in pipe["var"].selected_features_
    assert pipe["corr"].dropped_ == {"ct__copy": "ct__f0"}
    assert set(pipe["step"].selected_features_) == {"ct__f0", "ct__f1"}
    res = validate(pipe, X, y, method="cv", n_splits=3, random_state=0)
    assert 0.6 < res.corrected < res.apparent


# ---------------------------------------------------------------------------------------------- filters
def test_variance_filter_threshold_and_missing():
    X = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 1, 1, 1.1], "c": [np.nan] * 4, "d": [0.0, 0, 1, np.nan]})
    f = VarianceFilter(threshold=0.01).fit(X)
    assert f.selected_features_ == ["a", "d"]
    np.testing.assert_allclose(f.variances_[:2], [1.25, 0.001875])
    assert VarianceFilter(min_unique=3).fit(X).selected_features_ == ["a"]


def test_correlation_filter_order_variance_keeps_the_wider_feature():
    rng = np.random.default_rng(0)
    a = rng.normal(size=100)
    X = pd.DataFrame({"small": a, "big": 10 * a + rng.normal(scale=0.1, size=100), "other": rng.normal(size=100)})
    assert CorrelationFilter(order="input").fit(X).selected_features_ == ["small", "other"]
    assert CorrelationFilter(order="variance").fit(X).selected_features_ == ["big", "other"]


@pytest.mark.parametrize("est,match", [
    (VarianceFilter(threshold=-1.0), r"The 'threshold' parameter of VarianceFilter must be a float in the range \[0"),
    (CorrelationFilter(threshold=0.0), r"The 'threshold' parameter of CorrelationFilter must be a float in the range \(0, 1\]"),
    (CorrelationFilter(method="kendall"), r"The 'method' parameter of CorrelationFilter must be one of 'pearson', 'spearman'"),
    (UnivariateCoxSelector(correction="holm"), r"The 'correction' parameter of UnivariateCoxSelector must be one of"),
    (UnivariateCoxSelector(max_features=0), r"The 'max_features' parameter of UnivariateCoxSelector must be an int"),
    (StepwiseCoxSelector(direction="up"), r"The 'direction' parameter of StepwiseCoxSelector must be one of"),
    (StepwiseCoxSelector(criterion="p", p_enter=0.2, p_remove=0.1), r"'p_enter' \(0.2\) must not exceed 'p_remove'"),
    (RSFPermutationSelector(n_features=0), r"The 'n_features' parameter of RSFPermutationSelector must be an int"),
], ids=["var", "corr-threshold", "corr-method", "uni-correction", "uni-max", "step-direction", "step-p", "rsf"])
def test_parameter_errors(est, match):
    X, y = _signal(40, 3)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


# -------------------------------------------------------------------------------------- univariate Cox
def test_score_test_matches_coxph_sctest(pbc):
    """``summary(coxph(Surv(time, event) ~ v, data = pbc, ties = "breslow"))$sctest`` for 17 covariates.

    Tolerance 1e-9 relative on the chi-square and 1e-12 on p: closed forms on both sides (measured 3e-13, 9e-16).
    """
    X, y, ref = pbc
    z, p = cox_score_test(X.to_numpy(), y)
    np.testing.assert_allclose(z ** 2, ref["score_chisq"], rtol=1e-9)
    np.testing.assert_allclose(p, ref["score_p"], atol=1e-12, rtol=1e-9)
    np.testing.assert_array_equal(np.sign(z), ref["score_sign"])


def test_univariate_selector_corrections_and_cap(pbc):
    X, y, ref = pbc
    p = np.asarray(ref["score_p"])
    plain = UnivariateCoxSelector().fit(X, y)
    assert plain.selected_features_ == [c for c, pv in zip(ref["columns"], p) if pv < 0.05]
    bonf = UnivariateCoxSelector(correction="bonferroni").fit(X, y)
    assert bonf.selected_features_ == [c for c, pv in zip(ref["columns"], p) if pv * 17 < 0.05]
    fdr = UnivariateCoxSelector(correction="fdr_bh").fit(X, y)
    assert set(bonf.selected_features_) <= set(fdr.selected_features_) <= set(plain.selected_features_)
    top3 = UnivariateCoxSelector(max_features=3).fit(X, y)
    assert set(top3.selected_features_) == set(np.asarray(ref["columns"])[np.argsort(p)[:3]])


# ------------------------------------------------------------------------------------------- stepwise
@pytest.mark.parametrize("key,kwargs", [
    ("forward_aic", {"direction": "forward"}),
    ("both_aic", {"direction": "both"}),
    ("backward_aic", {"direction": "backward"}),
    ("both_bic", {"direction": "both", "criterion": "bic"}),
])
def test_stepwise_matches_mass_stepaic(pbc, key, kwargs):
    """``MASS::stepAIC(coxph(...), scope = list(lower = ~1, upper = ~ all 17), direction, k)`` on pbc.

    k = 2 (AIC) or log(number of events) (BIC, as ``stats::BIC`` counts a coxph fit). The same features,
    in the same order of moves, and the final log-likelihood and criterion to 1e-6 (Newton-Raphson on both
    sides; measured 1e-12).
    """
    X, y, ref = pbc
    r = ref["stepwise"][key]
    sel = StepwiseCoxSelector(**kwargs).fit(X, y)
    assert sorted(sel.selected_features_) == r["selected"]
    moves = [f"{'+' if a == 'add' else '-'} {f}" for a, f in zip(sel.path_["action"][1:], sel.path_["feature"][1:])]
    assert moves == r["steps"][1:]
    assert sel.loglik_ == pytest.approx(r["loglik"], abs=1e-6)
    assert sel.path_["criterion"].iloc[-1] == pytest.approx(r["criterion"], abs=1e-6)


def test_stepwise_p_value_rule_and_cap(pbc):
    X, y, _ = pbc
    sel = StepwiseCoxSelector(criterion="p", p_enter=0.01, p_remove=0.01).fit(X, y)
    adds = sel.path_[sel.path_["action"] == "add"]
    assert (adds["p_value"] < 0.01).all() and len(sel.selected_features_) >= 3
    capped = StepwiseCoxSelector(max_features=2).fit(X, y)
    assert set(capped.selected_features_) == {"bili", "albumin"}


def test_efron_log_likelihood_null_and_full(pbc):
    X, y, ref = pbc
    assert efron_log_likelihood(y, np.zeros(len(y))) == pytest.approx(ref["null_loglik"], abs=1e-8)
    # the full model's log-likelihood is the start of the backward path
    path = StepwiseCoxSelector(direction="backward").fit(X, y).path_
    assert path["loglik"].iloc[0] == pytest.approx(ref["full_loglik"], abs=1e-6)


# ------------------------------------------------------------------------------------------------ RSF
def test_rsf_ranks_the_true_features_first():
    X, y = _signal(200, 8, seed=2)
    sel = RSFPermutationSelector(n_features=2, n_estimators=50, n_repeats=3, random_state=0).fit(X, y)
    assert set(sel.selected_features_) == {"ct__f0", "ct__f1"}
    imp = sel.importances_["importance_mean"]
    assert imp[["ct__f0", "ct__f1"]].min() > imp.drop(["ct__f0", "ct__f1"]).max()
    again = RSFPermutationSelector(n_features=2, n_estimators=50, n_repeats=3, random_state=0).fit(X, y)
    pd.testing.assert_frame_equal(sel.importances_, again.importances_)


# ------------------------------------------------------------------------------------------- ComBat
def _centres(seed=0, p=30):
    """Two centres of 60 patients; centre B shifts every feature by about 2 sd and widens it about 2-fold
    (a scanner effect shared by the features, which is what ComBat's priors assume)."""
    rng = np.random.default_rng(seed)
    n = 60
    base = rng.normal(size=(2 * n, p))
    shift = np.r_[np.zeros((n, p)), np.tile(rng.normal(2.0, 0.3, p), (n, 1))]
    scale = np.r_[np.ones((n, p)), np.tile(rng.uniform(1.6, 2.4, p), (n, 1))]
    X = pd.DataFrame(base * scale + shift, columns=[f"ct__f{i}" for i in range(p)])
    X["centre"] = ["A"] * n + ["B"] * n
    return X, base


@pytest.mark.parametrize("eb", [True, False])
def test_combat_removes_centre_location_and_scale(eb):
    X, base = _centres()
    H = ComBatHarmoniser(empirical_bayes=eb).fit_transform(X)
    assert "centre" not in H.columns and H.index.equals(X.index)
    a, b = H.iloc[:60], H.iloc[60:]
    raw_a, raw_b = X.iloc[:60, :-1], X.iloc[60:, :-1]
    gap_before = np.abs(raw_a.mean() - raw_b.mean()).max()
    if eb:
        # shrinkage pulls each feature's centre effect towards the centre's average over features, so a
        # little of the noisy per-feature gap stays by design: max gap falls from > 2 to < 0.5
        assert gap_before > 2.0
        assert np.abs(a.mean() - b.mean()).max() < 0.5
        assert np.abs(np.log(a.std() / b.std())).max() < 0.5
    else:  # plain location/scale: identical training means and sds per centre, by construction
        np.testing.assert_allclose(a.mean(), b.mean(), atol=1e-10)
        np.testing.assert_allclose(a.std(), b.std(), rtol=1e-10)
    # within a centre the ranking of patients is kept (an increasing affine map per centre and feature)
    for part, raw in ((a, raw_a), (b, raw_b)):
        for col in H.columns:
            assert np.corrcoef(part[col], raw[col])[0, 1] > 0.999999


def test_combat_empirical_bayes_estimates_a_shared_shift_better_than_per_feature_means():
    """Features share a centre shift (2 sd +- 0.1): EB's shrunken location is closer to the truth."""
    rng = np.random.default_rng(5)
    n, p = 15, 40  # small centres: per-feature estimates are noisy
    shift = rng.normal(2.0, 0.1, p)
    X = pd.DataFrame(np.r_[rng.normal(size=(n, p)), rng.normal(size=(n, p)) + shift], columns=[f"f{i}" for i in range(p)])
    X["centre"] = ["A"] * n + ["B"] * n
    eb, raw = ComBatHarmoniser().fit(X), ComBatHarmoniser(empirical_bayes=False).fit(X)
    truth = (shift / 2) / raw.pooled_sd_.to_numpy()  # B's mean minus the grand mean, in pooled-sd units
    err_eb = np.mean((eb.gamma_.loc["B"].to_numpy() - truth) ** 2)
    err_raw = np.mean((raw.gamma_.loc["B"].to_numpy() - truth) ** 2)
    assert err_eb < 0.5 * err_raw


def test_combat_is_fitted_on_training_rows_only():
    X, _ = _centres(1)
    train, test = X.iloc[::2], X.iloc[1::2]
    h = ComBatHarmoniser().fit(train)
    poisoned = test.copy()
    poisoned.iloc[:, :5] = 1e6
    # transforming (poisoned) held-out rows leaves the fitted parameters and the other rows' output alone
    before = h.transform(train)
    h.transform(poisoned)
    pd.testing.assert_frame_equal(h.transform(train), before)
    pd.testing.assert_frame_equal(h.gamma_, ComBatHarmoniser().fit(train).gamma_)
    with pytest.raises(ValueError, match=r"centre\(s\) 'C' in column 'centre' were not in the training data \('A', 'B'\)"):
        h.transform(test.assign(centre="C"))
    with pytest.raises(ValueError, match=r"has no column 'centre'"):
        h.transform(test.drop(columns="centre"))
    with pytest.raises(ValueError, match=r"fewer than min_samples=2"):
        ComBatHarmoniser().fit(X.iloc[:3].assign(centre=["A", "A", "B"]))


def test_combat_in_a_pipeline_before_selection():
    X, _ = _centres(2)
    rng = np.random.default_rng(3)
    y = make_y(rng.exponential(np.exp(-(X["ct__f3"] - X.groupby("centre")["ct__f3"].transform("mean")).to_numpy())), np.ones(120, bool))
    pipe = Pipeline([("combat", ComBatHarmoniser()), ("uni", UnivariateCoxSelector(max_features=2)),
                     ("cox", CoxPHSurvivalAnalysis())])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipe.fit(X, y)
    assert "ct__f3" in pipe["uni"].selected_features_
    assert np.isfinite(pipe.predict(X)).all()


def test_sklearn_preprocessing_composes_with_the_selectors_inside_validate():
    """Imputation and scaling (scikit-learn's own steps, pandas output) before the filters and LASSO: the whole
    Pipeline is one estimator, so validate() refits the imputer's medians and the scaler on each training fold."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    X, y = _signal(160, 10, seed=4)
    X = X * 50 + 100  # raw units
    X.iloc[::9, 0] = np.nan
    pipe = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                     ("var", VarianceFilter()), ("lasso", LassoCoxSelector(cv=3, random_state=0)),
                     ("cox", CoxPHSurvivalAnalysis())]).set_output(transform="pandas")
    pipe.fit(X, y)
    assert {"ct__f0", "ct__f1"} <= set(pipe["lasso"].selected_features_)
    assert pipe["impute"].statistics_[0] == pytest.approx(X["ct__f0"].median())
    res = validate(pipe, X, y, method="cv", n_splits=3, random_state=0)
    assert res.n_failed == 0 and res.n_resamples == 3
    assert 0.6 < res.corrected <= res.apparent


def test_combat_estimates_a_new_centre_from_its_own_features_and_leaves_other_columns_alone():
    """One training centre; a new centre with shifted and scaled features is mapped onto it (no outcome used)."""
    rng = np.random.default_rng(11)
    n, p = 80, 6
    dev = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"ct__f{i}" for i in range(p)])
    new = pd.DataFrame(rng.normal(size=(n, p)) * 3.0 + 5.0, columns=dev.columns)  # another scanner
    for frame, centre in ((dev, "dev"), (new, "ext")):
        frame["clin__age"] = rng.normal(60, 10, n)
        frame["centre"] = centre
    h = ComBatHarmoniser(prefixes=("ct__",), unseen="estimate", empirical_bayes=False).fit(dev)
    assert h.columns_ == [f"ct__f{i}" for i in range(p)] and h.batches_ == ["dev"]
    out = h.transform(pd.concat([dev, new], ignore_index=True))
    assert list(out.columns) == [*dev.columns[:-1]]  # centre dropped, order kept
    ext = out.iloc[n:]
    # plain location/scale: the new centre ends with the training centre's harmonised means and SDs, exactly
    ref = out.iloc[:n].filter(like="ct__")
    np.testing.assert_allclose(ext.filter(like="ct__").mean(), ref.mean(), atol=1e-10)
    np.testing.assert_allclose(ext.filter(like="ct__").std(), ref.std(), rtol=1e-10)
    np.testing.assert_allclose(ref.mean(), dev.filter(like="ct__").mean(), atol=1e-10)  # one centre: means kept
    np.testing.assert_allclose(out["clin__age"], pd.concat([dev, new])["clin__age"])  # not a harmonised column
    pd.testing.assert_frame_equal(out.iloc[:n], h.transform(dev))  # training rows: fitted values only
    with pytest.raises(ValueError, match=r"were not in the training data.*unseen='estimate'"):
        ComBatHarmoniser(prefixes=("ct__",)).fit(dev).transform(new)
    with pytest.raises(ValueError, match=r"new centre 'ext' has 1 patient\(s\).*Transform all of its patients"):
        h.transform(new.iloc[:1])
