"""Internal validation of a study's models: the clinical encoding is refitted inside every resample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sksurv.linear_model import CoxPHSurvivalAnalysis

from multisurv._validation import make_y
from multisurv.study.internal import internal_pipeline, validate_models
from multisurv.evaluation.resampling import validate
from multisurv.features.clinical import ClinicalBlock, ClinicalPreprocessor


class SpyPreprocessor(ClinicalPreprocessor):
    """Records the patients and the age median of every fit (class-level log, shared by clones)."""

    log: list = []

    def fit(self, X, y=None):
        SpyPreprocessor.log.append((frozenset(X.index), float(X["age"].median())))
        return super().fit(X, y)


class CoxOnAll(BaseEstimator):
    """Cox model on every column it is given (the encoded table)."""

    def fit(self, X, y):
        self.columns_ = list(X.columns)
        self.cox_ = CoxPHSurvivalAnalysis(alpha=0.1).fit(X.to_numpy(float), y)
        return self

    def predict(self, X):
        return self.cox_.predict(X[self.columns_].to_numpy(float))


def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 10, n)
    sex = rng.choice(["female", "male"], n)
    ct = rng.normal(size=n)
    t = rng.exponential(np.exp(-0.04 * (age - 60) - 0.8 * ct))
    c = rng.exponential(2.0, n)
    ids = pd.Index([f"P{i:03d}" for i in range(n)], name="patient_id")
    X = pd.DataFrame({"ct__x": ct, "age": age, "sex": sex}, index=ids)
    X.loc[X.index[::7], "age"] = np.nan  # missing values for the imputation to learn
    return X, make_y(np.minimum(t, c), t <= c)


def test_clinical_encoding_is_refitted_on_the_training_rows_of_every_fold():
    X, y = _data()
    SpyPreprocessor.log = []
    table = validate_models({"m": CoxOnAll()}, X, y, clinical=SpyPreprocessor(numeric=["age"], categorical=["sex"]),
                            clinical_columns=["age", "sex"], method="cv", n_splits=3, random_state=0)
    assert table.loc[0, "n_resamples"] == 3 and table.loc[0, "n_failed"] == 0
    everyone = frozenset(X.index)
    apparent, *folds = SpyPreprocessor.log
    assert apparent[0] == everyone and len(folds) == 3
    held_out = [everyone - rows for rows, _ in folds]
    assert all(0 < len(h) < len(X) for h in held_out)
    assert frozenset().union(*held_out) == everyone and sum(map(len, held_out)) == len(X)  # a partition
    for rows, median in folds:  # imputation learned from the training rows only
        assert median == pytest.approx(float(X.loc[sorted(rows), "age"].median()))
        assert median != pytest.approx(float(X["age"].median()))


def test_every_model_gets_the_same_resamples_and_the_study_models_stay_unfitted():
    X, y = _data(seed=1)
    model = CoxOnAll()
    table = validate_models({"a": model, "b": CoxOnAll()}, X, y, clinical=ClinicalPreprocessor(
        numeric=["age"], categorical=["sex"]), clinical_columns=["age", "sex"], method="bootstrap", n_resamples=20,
        random_state=4)
    assert list(table["model"]) == ["a", "b"]
    numbers = ["apparent", "optimism", "corrected", "sd"]
    np.testing.assert_allclose(table.loc[0, numbers].to_numpy(float), table.loc[1, numbers].to_numpy(float))
    assert not hasattr(model, "cox_")  # cloned, not fitted in place
    # the same numbers as validate() on the pipeline built by hand
    by_hand = validate(internal_pipeline(model, ClinicalPreprocessor(numeric=["age"], categorical=["sex"]),
                                         ["age", "sex"]), X, y, n_resamples=20, random_state=4)
    assert table.loc[0, "corrected"] == pytest.approx(by_hand.corrected, abs=1e-12)
    assert table.loc[0, "corrected"] < table.loc[0, "apparent"]  # three fitted coefficients: some optimism


def test_clinical_block_names_a_missing_column_and_keeps_rows_of_a_bootstrap_sample():
    X, _ = _data(n=12)
    block = ClinicalBlock(ClinicalPreprocessor(numeric=["age"]), columns=["age", "grade"])
    with pytest.raises(ValueError, match=r"\['grade'\].*Pass the raw clinical columns"):
        block.fit(X)
    sample = X.iloc[[0, 0, 3, 5, 5, 5]]  # repeated patient ids, as in a bootstrap sample
    out = ClinicalBlock(ClinicalPreprocessor(numeric=["age"]), columns=["age"]).fit(sample).transform(sample)
    assert list(out.index) == list(sample.index) and list(out.columns) == ["ct__x", "sex", "clin__age"]
    np.testing.assert_allclose(out["ct__x"], sample["ct__x"])
