"""Tests for multisurv.fusion.early."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from multisurv._validation import make_y
from multisurv.fusion.early import EarlyFusionCox
from multisurv.scores.modality_score import ModalityScore

VETERAN = json.loads((Path(__file__).parents[1] / "reference" / "veteran_reference.json").read_text())


@pytest.fixture(scope="module")
def fitted(cohort, fast_scores):
    X, y = cohort
    return EarlyFusionCox(scores=fast_scores()).fit(X, y)


def test_predicts_every_row(cohort, fitted):
    X, _ = cohort
    risk = fitted.predict(X)
    assert risk.shape == (240,) and np.isfinite(risk).all()
    assert X.isna().any(axis=1).sum() > 30  # many patients miss a modality, yet all get a risk
    selected = [f for s in fitted.scores_ for f in s.selected_features_]
    assert fitted.features_ == selected
    assert {"ct__f0", "wsi__f0", "clin__f0"} <= set(fitted.features_)
    assert list(fitted.coef_.index) == fitted.features_
    assert fitted.coef_["ct__f0"] > 0


def test_missing_modality_gets_training_medians(cohort, fitted):
    X, y = cohort
    no_wsi = X.index[X.filter(like="wsi__").isna().all(axis=1)]
    filled = X.loc[no_wsi].copy()
    for col in fitted.features_:
        if col.startswith("wsi__"):
            filled[col] = fitted.impute_values_[col]
    np.testing.assert_allclose(fitted.predict(X.loc[no_wsi]), fitted.predict(filled), rtol=1e-12)
    # medians come from the training rows that have the value
    np.testing.assert_allclose(fitted.impute_values_["wsi__f0"], X["wsi__f0"].median())


def test_no_leakage_from_held_out_rows(cohort, fast_scores):
    """Fit on the training rows; poisoned test rows change neither the model nor the training predictions."""
    X, y = cohort
    train, test = X.index[:180], X.index[180:]
    model = EarlyFusionCox(scores=fast_scores()).fit(X.loc[train], y[:180])
    before = model.predict(X.loc[train])
    poisoned = X.copy()
    poisoned.loc[test] = 1e6
    poisoned.loc[test[:10]] = np.nan
    after = model.predict(poisoned)
    np.testing.assert_array_equal(after[:180], before)
    assert np.isfinite(after).all()
    np.testing.assert_allclose(model.impute_values_["ct__f0"], X.loc[train, "ct__f0"].median())


def test_cox_engine_matches_coxph():
    """R: coxph(Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype, ties = "breslow").

    With penalizer=0 and a selector that keeps every column, the early-fusion Cox model is a plain Cox fit
    (on standardised columns; coef_ / scale_ is the raw-scale coefficient). Newton-Raphson to tol 1e-9 on
    both sides: 1e-4 is the house tolerance for Cox coefficients.
    """
    d = VETERAN["data"]
    cell = np.asarray(d["celltype"])
    X = pd.DataFrame({
        "vet__karno": d["karno"], "vet__age": d["age"], "vet__diagtime": d["diagtime"], "vet__prior": d["prior"],
        "vet__trt": d["trt"], "vet__celltypesmallcell": (cell == "smallcell") * 1.0,
        "vet__celltypeadeno": (cell == "adeno") * 1.0, "vet__celltypelarge": (cell == "large") * 1.0,
    }).astype(float)
    y = make_y(d["time"], d["status"])

    class KeepAll(BaseEstimator):
        def fit(self, X, y):
            self.selected_features_ = list(X.columns)
            return self

    model = EarlyFusionCox(scores=[ModalityScore(name="vet", prefix="vet__", selector=KeepAll())], penalizer=0.0)
    model.fit(X, y)
    raw = model.coef_ / model.scale_
    expected = pd.Series(VETERAN["cox"]["coef"]).rename(lambda c: f"vet__{c}")
    np.testing.assert_allclose(raw[expected.index], expected, atol=1e-4)


def test_estimator_contract(cohort, fast_scores):
    X, y = cohort
    model = EarlyFusionCox(scores=fast_scores(("radscore", "patscore")), penalizer=1.0)
    with pytest.raises(NotFittedError):
        model.predict(X)
    assert clone(model).get_params()["penalizer"] == 1.0
    assert model.fit(X, y) is model
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert 0.6 < model.score(X, y) <= 1.0


@pytest.mark.parametrize(
    ("params", "msg"),
    [
        ({"penalizer": -0.1}, "The 'penalizer' parameter of EarlyFusionCox must be a float in the range [0, inf). "
                              "Got -0.1 instead."),
        ({"scores": []}, "The 'scores' parameter of EarlyFusionCox must be a non-empty sequence of ModalityScore or "
                         "None. Got [] instead."),
    ],
    ids=["negative_penalizer", "empty_scores"],
)
def test_param_errors(cohort, params, msg):
    X, y = cohort
    with pytest.raises(ValueError) as info:
        EarlyFusionCox(**params).fit(X, y)
    assert str(info.value) == msg


def test_predict_missing_columns(cohort, fitted):
    X, _ = cohort
    with pytest.raises(ValueError, match=r"^'X' lacks 1 column\(s\) that EarlyFusionCox was fitted with: 'ct__f0'\.$"):
        fitted.predict(X.drop(columns="ct__f0"))
