"""FusionCox (early / late / stacked behind one interface), missing-modality policies, non-linear branches."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from multisurv._validation import make_y
from multisurv.exceptions import ConvergenceWarning
from multisurv.evaluation.resampling import harrell_c
from multisurv.fusion.late import LateFusionCox
from multisurv.scores.nonlinear import NonlinearScore
from multisurv.fusion.strategies import FusionCox


def correlated_cohort(n, seed, *, p=6, missing=(0.3, 0.4, 0.0), rho=0.6):
    """Three modalities whose signals share a latent factor (correlation rho**2 = 0.36 between signals).

    The log-hazard is 0.7 radiomic + 0.7 pathomic + 0.5 clinical signal; feature 0 of each block is its
    signal plus noise, the others are noise. ``missing`` is the fraction of patients without each modality.
    """
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n)
    blocks, eta = [], np.zeros(n)
    for prefix, w in zip(("ct__", "wsi__", "clin__"), (0.7, 0.7, 0.5)):
        signal = rho * u + np.sqrt(1 - rho ** 2) * rng.normal(size=n)
        values = rng.normal(size=(n, p))
        values[:, 0] = signal + 0.3 * rng.normal(size=n)
        eta += w * signal
        blocks.append(pd.DataFrame(values, columns=[f"{prefix}f{i}" for i in range(p)]))
    X = pd.concat(blocks, axis=1)
    for prefix, frac in zip(("ct__", "wsi__", "clin__"), missing):
        X.loc[rng.random(n) < frac, [c for c in X if c.startswith(prefix)]] = np.nan
    t, c = rng.exponential(np.exp(-eta)), rng.exponential(2.0, n)
    return X, make_y(np.minimum(t, c), t <= c)


@pytest.fixture(scope="module")
def train_test():
    return correlated_cohort(400, 0), correlated_cohort(3000, 100)


@pytest.fixture(scope="module")
def models(train_test, fast_scores):
    (X, y), _ = train_test
    out = {}
    for strategy, missing in [("early", "mean"), ("late_insample", "mean"), ("late", "mean"), ("late", "pattern")]:
        out[strategy, missing] = FusionCox(strategy=strategy, missing=missing, scores=fast_scores(), cv=3,
                                           random_state=0).fit(X, y)
    return out


def test_one_interface_three_strategies(train_test, models):
    (X, y), (Xt, yt) = train_test
    assert type(models["early", "mean"].model_).__name__ == "EarlyFusionCox"
    late, stacked = models["late_insample", "mean"].model_, models["late", "mean"].model_
    assert isinstance(late, LateFusionCox) and not late.stacking and late.folds_ == []
    assert stacked.stacking and len(stacked.folds_) == 3
    # late fits on in-sample scores, stacked on out-of-fold ones: the in-sample ones are more extreme
    pd.testing.assert_frame_equal(late.oof_scores_, late.transform_scores(X))
    for name in ("radscore", "patscore", "clinscore"):
        assert harrell_c(y, late.oof_scores_[name].to_numpy()) > harrell_c(y, stacked.oof_scores_[name].to_numpy())
    for model in models.values():
        risk = model.predict(Xt)
        assert risk.shape == (3000,) and np.isfinite(risk).all()
        assert model.score(Xt, yt) == pytest.approx(harrell_c(yt, risk))
    text = models["late", "mean"].formula_text(digits=3)
    assert text.startswith("risk = ") and "* radscore" in text and "* patscore" in text
    assert models["early", "mean"].formula_text().count("z(") == len(models["early", "mean"].coef_)


def test_missing_modality_policies_compared(train_test, models):
    """Score imputation (training mean) vs per-pattern sub-models on 3,000 new patients, 30 % without CT
    and 40 % without a slide, modalities correlated.

    Measured (seeds 0-2 for training, 100-102 for testing): mean imputation 0.7408, 0.7444, 0.7517 and
    per-pattern 0.7393, 0.7442, 0.7523 overall; on the patients missing a modality 0.718 vs 0.718. The two
    policies rank patients almost alike: within a missingness pattern only the ratio of the remaining
    weights matters, and re-fitting it moves it little. The per-pattern sub-models do re-weight as they
    should (checked below); neither policy is worse than early fusion's median imputation here.
    """
    (_, _), (Xt, yt) = train_test
    c = {key: harrell_c(yt, m.predict(Xt)) for key, m in models.items()}
    incomplete = (Xt.filter(like="ct__").isna().all(axis=1) | Xt.filter(like="wsi__").isna().all(axis=1)).to_numpy()
    c_inc = {key: harrell_c(yt[incomplete], m.predict(Xt)[incomplete]) for key, m in models.items()}
    assert abs(c["late", "pattern"] - c["late", "mean"]) < 0.01
    assert abs(c_inc["late", "pattern"] - c_inc["late", "mean"]) < 0.01
    assert min(c.values()) > 0.72
    assert c["late", "mean"] > c["early", "mean"] - 0.01


def test_pattern_submodels_reweight_the_remaining_scores(train_test, models):
    (X, _), (Xt, _) = train_test
    late = models["late", "pattern"].model_
    full = late.submodels_[("radscore", "patscore", "clinscore")]
    no_wsi = late.submodels_[("radscore", "clinscore")]
    # without the correlated patscore, radscore and clinscore carry more weight each
    assert no_wsi["coef"]["radscore"] > full["coef"]["radscore"]
    assert no_wsi["coef"]["clinscore"] > full["coef"]["clinscore"]
    # the sub-model of a pattern is fitted on everyone who has at least those scores
    has = late.oof_scores_.notna()
    assert no_wsi["n"] == int((has["radscore"] & has["clinscore"]).sum())
    assert full["n"] == int(has.all(axis=1).sum())
    # patients are scored by the sub-model of exactly their pattern
    raw = late.transform_scores(Xt)
    rows = raw["patscore"].isna() & raw["radscore"].notna()
    expected = raw.loc[rows, ["radscore", "clinscore"]].to_numpy() @ no_wsi["coef"].to_numpy() - no_wsi["offset"]
    np.testing.assert_allclose(late.predict(Xt)[rows.to_numpy()], expected)


def test_pattern_with_too_few_patients_falls_back_to_mean_imputation(fast_scores):
    X, y = correlated_cohort(200, 3, missing=(0.03, 0.0, 0.0))  # about 6 patients without CT
    model = LateFusionCox(scores=fast_scores(), cv=3, random_state=0, missing="pattern", min_patients=20).fit(X, y)
    no_ct = X.filter(like="ct__").isna().all(axis=1).to_numpy()
    assert ("patscore", "clinscore") in model.submodels_  # fitted on everyone who has both (all patients)
    assert np.isfinite(model.predict(X)).all()
    rare = LateFusionCox(scores=fast_scores(), cv=3, random_state=0, missing="pattern", min_patients=199).fit(X, y)
    assert ("radscore", "patscore", "clinscore") not in rare.submodels_
    mean = LateFusionCox(scores=fast_scores(), cv=3, random_state=0).fit(X, y)
    offset = float(rare.oof_scores_.fillna(rare.oof_score_means_).to_numpy().dot(rare.coef_.to_numpy()).mean())
    np.testing.assert_allclose(rare.predict(X)[~no_ct], mean.predict(X)[~no_ct] - offset)


@pytest.mark.parametrize("params,match", [
    ({"strategy": "mid"}, r"The 'strategy' parameter of FusionCox must be one of 'early', 'late', 'late_insample'"),
    ({"missing": "drop"}, r"The 'missing' parameter of FusionCox must be one of 'mean', 'pattern'"),
    ({"strategy": "early", "missing": "pattern"}, r"strategy='early' imputes missing features"),
], ids=["strategy", "missing", "early-pattern"])
def test_fusion_parameter_errors(train_test, fast_scores, params, match):
    (X, y), _ = train_test
    with pytest.raises(ValueError, match=match):
        FusionCox(scores=fast_scores(), **params).fit(X, y)


def test_fusion_contract(train_test, fast_scores, models):
    (X, y), _ = train_test
    est = FusionCox(scores=fast_scores(), cv=3, random_state=0)
    assert clone(est).get_params()["strategy"] == "late"
    again = pickle.loads(pickle.dumps(models["late", "pattern"]))
    np.testing.assert_array_equal(again.predict(X), models["late", "pattern"].predict(X))


# --------------------------------------------------------------------------------------------- non-linear
def _interaction(n, seed):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["ct__a", "ct__b", "ct__c", "wsi__a"])
    eta = 1.2 * X["ct__a"] * X["ct__b"] + 0.8 * X["wsi__a"]  # a pure interaction: invisible to a linear score
    t = rng.exponential(np.exp(-eta.to_numpy()))
    return X, make_y(t, np.ones(n, bool))


@pytest.mark.parametrize("model", ["rsf", "gbm"])
def test_nonlinear_branch_finds_an_interaction_a_linear_score_misses(model, fast_scores):
    X, y = _interaction(300, 0)
    Xt, yt = _interaction(1000, 1)
    branch = NonlinearScore(name="radscore", prefix="ct__", model=model, n_estimators=50, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="selected no feature"):  # LASSO sees no linear signal
        linear = fast_scores(("radscore",))[0].fit(X, y)
    assert branch.score(Xt, yt) > 0.6
    assert linear.score(Xt, yt) == 0.5
    # a drop-in branch of late fusion
    patscore = fast_scores(("patscore",))[0]
    fused = LateFusionCox(scores=[branch, patscore], cv=3, random_state=0).fit(X, y)
    assert fused.coef_["radscore"] > 0 and fused.score(Xt, yt) > branch.score(Xt, yt)


def test_nonlinear_missing_modality_and_errors():
    X, y = _interaction(120, 2)
    X.loc[X.index[:10], ["ct__a", "ct__b", "ct__c"]] = np.nan
    s = NonlinearScore(model="gbm", n_estimators=20, random_state=0).fit(X, y)
    assert s.n_train_ == 110 and np.isnan(s.predict(X)[:10]).all() and np.isfinite(s.predict(X)[10:]).all()
    with pytest.raises(ValueError, match=r"The 'model' parameter of NonlinearScore must be one of 'rsf', 'gbm'"):
        NonlinearScore(model="svm").fit(X, y)
    with pytest.raises(ValueError, match=r"No column of 'X' starts with 'mri__'"):
        NonlinearScore(prefix="mri__").fit(X, y)
    everything = NonlinearScore(prefix="", model="rsf", n_estimators=20, random_state=0).fit(X, y)
    assert everything.modality_columns_ == list(X.columns)
