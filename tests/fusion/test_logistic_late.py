"""Tests for multisurv.fusion.logistic_late.LateFusionLogistic (binary endpoint late fusion)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from multisurv.evaluation.binary import roc_auc
from multisurv.evaluation.binary_validation import validate_binary
from multisurv.fusion.logistic_late import LateFusionLogistic
from multisurv.scores.logistic import LogisticModel


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    n = 400
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=["ct__a", "ct__b", "ct__c", "clin__a", "clin__b", "wsi__a"])
    logit = 1.2 * X["ct__a"] + 0.8 * X["clin__a"] - 0.5
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def _model(random_state=0):
    branch = Pipeline([("model", LogisticModel())])
    return LateFusionLogistic([("radscore", "ct__", branch), ("clinscore", "clin__", branch),
                               ("patscore", "wsi__", branch)], cv=5, random_state=random_state)


def test_fusion_weights_informative_scores_and_discriminates_held_out(data):
    X, y = data
    model = _model().fit(X.iloc[:300], y[:300])
    table = model.fusion_.odds_ratios()
    assert table.loc["radscore", "coef"] > 0.5 and table.loc["clinscore", "coef"] > 0.5  # both modalities count
    assert table.loc["patscore", "p_value"] > 0.01  # a noise modality (wsi__a) earns no clear weight
    prob = model.predict_proba(X.iloc[300:])[:, 1]
    assert roc_auc(y[300:], prob).auc > 0.7
    assert list(model.scores(X.iloc[300:]).columns) == ["radscore", "clinscore", "patscore"]
    # out-of-fold training scores differ from the in-sample scores of the refitted branches (no leakage)
    assert not np.allclose(model.oof_scores_.to_numpy(), model.scores(X.iloc[:300]).to_numpy())


def test_whole_fusion_validates_by_bootstrap(data):
    X, y = data
    res = validate_binary(_model(), X, y, n_bootstrap=3, random_state=0)
    assert res.n_failed == 0 and res.table.loc["auc", "corrected"] <= res.table.loc["auc", "apparent"] + 0.02


def test_errors(data):
    X, y = data
    with pytest.raises(ValueError, match=r"^LateFusionLogistic: no column of 'X' starts with the prefix 'pet__' of "
                                         r"score 'petscore'\."):
        LateFusionLogistic([("petscore", "pet__", None)]).fit(X, y)
    with pytest.raises(ValueError, match=r"^LateFusionLogistic\.fit: 'X' must be a DataFrame"):
        _model().fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match=r"^LateFusionLogistic: 'branches' must name each score once"):
        LateFusionLogistic([("s", "ct__", None), ("s", "clin__", None)]).fit(X, y)
