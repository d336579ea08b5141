"""Tests for multisurv.evaluation.comparators (ML comparators for a binary endpoint, SHAP summaries)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from multisurv.evaluation.binary import roc_auc
from multisurv.evaluation.comparators import COMPARATORS, comparator_shap, make_comparator, make_comparators


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(160, 4)), columns=["clin__a", "clin__b", "clin__c", "clin__d"])
    logit = 1.5 * X["clin__a"] - 1.0 * X["clin__b"] ** 2 + 0.5
    y = (rng.uniform(size=160) < 1 / (1 + np.exp(-logit))).astype(int)
    X.iloc[3, 2] = np.nan  # imputed inside the pipeline
    return X, y


@pytest.mark.parametrize("name", list(COMPARATORS))
def test_each_comparator_tunes_and_predicts(data, name):
    X, y = data
    model = make_comparator(name, random_state=0, inner_cv=3)
    spec = COMPARATORS[name]
    # a one-point grid (and 25 trees for the forest) keeps the test quick; the tuning machinery is the same
    model.param_grid = {f"model__{k}": v[:1] for k, v in spec.grid.items()}
    if name in ("random_forest", "adaboost", "gradient_boosting"):
        model.param_grid["model__n_estimators"] = [25]
    model.fit(X.iloc[:120], y[:120])
    prob = model.predict_proba(X.iloc[120:])[:, 1]
    assert prob.shape == (40,) and np.all((prob >= 0) & (prob <= 1))
    assert roc_auc(y[120:], prob).auc > 0.6  # a learnable signal (AUC 0.5 = chance) on held-out patients
    again = make_comparator(name, random_state=0, inner_cv=3)
    again.param_grid = model.param_grid
    np.testing.assert_allclose(again.fit(X.iloc[:120], y[:120]).predict_proba(X.iloc[120:])[:, 1], prob)


def test_registry_and_errors():
    assert sorted(make_comparators(random_state=1, names=["svm", "adaboost"])) == ["adaboost", "svm"]
    with pytest.raises(ValueError, match=r"^Unknown comparator 'xgboost'\. Choose one of: 'random_forest', "
                                         r"'adaboost', 'gradient_boosting', 'svm'\.$"):
        make_comparator("xgboost")
    with pytest.raises(ValueError, match=r"^The 'inner_cv' parameter of make_comparator must be an int"):
        make_comparator("svm", inner_cv=1)


@pytest.mark.slow  # importing shap and its permutation explainer take about a minute on a loaded 2-core machine
def test_shap_summary_adds_up_to_the_probability(data):
    pytest.importorskip("shap")
    X, y = data
    Xc = X.fillna(0.0)
    model = make_comparator("random_forest", random_state=0, inner_cv=3)
    model.param_grid = {"model__min_samples_leaf": [5], "model__max_features": ["sqrt"], "model__n_estimators": [25]}
    model.fit(Xc, y)
    background = Xc.iloc[:10]
    summary, matrix = comparator_shap(model, Xc.iloc[:4], background=background, random_state=0)
    assert matrix.shape == (4, 4) and summary["feature"].iloc[0] in {"clin__a", "clin__b"}
    prob = model.predict_proba(Xc.iloc[:4])[:, 1]
    base = model.predict_proba(background)[:, 1].mean()
    np.testing.assert_allclose(matrix.sum(axis=1), prob - base, atol=1e-8)  # SHAP's efficiency property
