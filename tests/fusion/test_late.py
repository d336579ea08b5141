"""Tests for multisurv.fusion.late."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sksurv.linear_model import CoxPHSurvivalAnalysis

from multisurv.fusion.late import LateFusionCox
from multisurv.scores.modality_score import ModalityScore


@pytest.fixture(scope="module")
def fitted(cohort, fast_scores):
    X, y = cohort
    return LateFusionCox(scores=fast_scores(), cv=3, random_state=0).fit(X, y)


def test_fitted_attributes_and_shapes(cohort, fitted):
    X, y = cohort
    names = ["radscore", "patscore", "clinscore"]
    risk = fitted.predict(X)
    assert risk.shape == (240,) and np.isfinite(risk).all()
    assert list(fitted.coef_.index) == names and (fitted.coef_ > 0).all()
    assert list(fitted.oof_scores_.columns) == names
    assert fitted.oof_scores_.index.equals(X.index)
    assert [s.name for s in fitted.scores_] == names
    assert len(fitted.folds_) == 3
    # NaN out-of-fold score exactly where the modality is missing
    no_ct = X.filter(like="ct__").isna().all(axis=1).to_numpy()
    np.testing.assert_array_equal(fitted.oof_scores_["radscore"].isna().to_numpy(), no_ct)


def test_oof_scores_come_from_models_that_did_not_see_the_rows(cohort, fast_scores, fitted):
    """Recompute each fold by hand: a clone fitted on the other folds, applied to the held-out fold."""
    X, y = cohort
    for train, test in fitted.folds_:
        assert not set(train) & set(test)
        for template in fast_scores():
            expected = clone(template).fit(X.iloc[train], y[train]).predict(X.iloc[test])
            np.testing.assert_array_equal(fitted.oof_scores_[template.name].to_numpy()[test], expected)
    covered = np.sort(np.concatenate([test for _, test in fitted.folds_]))
    np.testing.assert_array_equal(covered, np.arange(240))


def test_oof_scores_ignore_the_outcome_of_their_own_rows(make_multimodal, fast_scores):
    """Leakage: changing the outcome of fold 1's patients leaves their out-of-fold scores unchanged."""
    X, y = make_multimodal(240, seed=2, weights=(1.2, 1.2, 1.2))  # strong signal: every selector selects
    model = LateFusionCox(scores=fast_scores(), cv=3, random_state=0).fit(X, y)
    _, test = model.folds_[0]
    y2 = y.copy()
    y2["time"][test] = 0.5 * y["time"][test]
    y2["event"][test] = True
    other = LateFusionCox(scores=fast_scores(), cv=3, random_state=0).fit(X, y2)
    pd.testing.assert_frame_equal(other.oof_scores_.iloc[test], model.oof_scores_.iloc[test])
    assert not other.oof_scores_.drop(index=X.index[test]).equals(model.oof_scores_.drop(index=X.index[test]))


def test_spy_no_score_predicts_rows_it_was_fitted_on(cohort, fast_scores, monkeypatch):
    """Every out-of-fold prediction is made by a model whose training rows exclude the predicted rows."""
    X, y = cohort
    calls = []
    fit, predict = ModalityScore.fit, ModalityScore.predict

    def spy_fit(self, X, y):
        self.spy_rows = set(X.index)
        return fit(self, X, y)

    def spy_predict(self, X):
        calls.append((self, set(X.index)))  # keeps the object alive, so identities stay unique
        return predict(self, X)

    monkeypatch.setattr(ModalityScore, "fit", spy_fit)
    monkeypatch.setattr(ModalityScore, "predict", spy_predict)
    model = LateFusionCox(scores=fast_scores(), cv=3, random_state=0).fit(X, y)
    oof_calls = [(obj, rows) for obj, rows in calls if not any(obj is s for s in model.scores_)]
    assert len(oof_calls) == 3 * 3
    assert all(not (rows & obj.spy_rows) for obj, rows in oof_calls)
    assert all(len(obj.spy_rows) + len(rows) == 240 for obj, rows in oof_calls)


def test_fusion_is_fitted_on_oof_scores(cohort, fitted):
    """The fusion Cox model sees out-of-fold scores (gaps filled with their mean), never in-sample scores."""
    _, y = cohort
    np.testing.assert_allclose(fitted.oof_score_means_, fitted.oof_scores_.mean())
    filled = fitted.oof_scores_.fillna(fitted.oof_score_means_).to_numpy()
    cox = CoxPHSurvivalAnalysis(alpha=1e-4).fit(filled, y)
    np.testing.assert_allclose(fitted.coef_.to_numpy(), cox.coef_, rtol=1e-10)
    in_sample = fitted.transform_scores(fitted.oof_scores_.index.to_frame().join(cohort[0])).fillna(0).to_numpy()
    assert not np.allclose(CoxPHSurvivalAnalysis(alpha=1e-4).fit(in_sample, y).coef_, cox.coef_)


def test_missing_modality_uses_the_training_mean(cohort, fitted):
    """A patient missing WSI gets the risk it would get if its patscore equalled the training mean."""
    X, _ = cohort
    scores = fitted.transform_scores(X)
    no_wsi = scores["patscore"].isna().to_numpy() & scores.drop(columns="patscore").notna().all(axis=1).to_numpy()
    assert no_wsi.sum() > 10  # patients missing WSI only
    manual = scores.copy()
    manual.loc[no_wsi, "patscore"] = fitted.score_means_["patscore"]
    np.testing.assert_allclose(fitted.predict(X)[no_wsi], manual.to_numpy()[no_wsi] @ fitted.coef_.to_numpy())
    in_sample = pd.DataFrame({s.name: s.predict(X) for s in fitted.scores_}, index=X.index)
    pd.testing.assert_series_equal(fitted.score_means_, in_sample.mean())


def test_no_leakage_from_held_out_rows(cohort, fast_scores):
    """Fit on training rows only; poisoned test rows change neither the model nor the training predictions."""
    X, y = cohort
    model = LateFusionCox(scores=fast_scores(("radscore", "patscore")), cv=3, random_state=0)
    model.fit(X.iloc[:180], y[:180])
    before = model.predict(X.iloc[:180])
    poisoned = X.copy()
    poisoned.iloc[180:] = -1e6
    poisoned.iloc[180:190] = np.nan
    after = model.predict(poisoned)
    np.testing.assert_array_equal(after[:180], before)
    assert np.isfinite(after).all()


def test_late_fusion_beats_each_informative_modality(make_multimodal, fast_scores):
    """Sanity check of the mechanics: two independent, equally informative modalities fuse into a better score.

    Large n (600 train, 600 test) and a fixed seed; the margin is not tuned.
    """
    X, y = make_multimodal(1200, seed=1, weights=(0.8, 0.8, 0.0), missing=(0.0, 0.0, 0.0))
    X = X.drop(columns=X.filter(like="clin__").columns)
    model = LateFusionCox(scores=fast_scores(("radscore", "patscore")), cv=3, random_state=0)
    model.fit(X.iloc[:600], y[:600])
    test_X, test_y = X.iloc[600:], y[600:]
    fused = model.score(test_X, test_y)
    single = {s.name: s.score(test_X, test_y) for s in model.scores_}
    assert fused > max(single.values()) + 0.02, (fused, single)


def test_estimator_contract(cohort, fast_scores):
    X, y = cohort
    model = LateFusionCox(scores=fast_scores(("radscore",)), cv=2, random_state=0)
    with pytest.raises(NotFittedError):
        model.predict(X)
    assert clone(model).get_params()["cv"] == 2
    assert model.fit(X, y) is model
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_default_scores_are_seeded(cohort):
    X, y = cohort
    model = LateFusionCox(cv=2, random_state=5)
    model.fit(X, y)
    assert [s.name for s in model.scores_] == ["radscore", "patscore", "clinscore"]
    assert all(s.random_state == 5 for s in model.scores_)


# ---------------------------------------------------------------- failure cases
@pytest.mark.parametrize(
    ("params", "msg"),
    [
        ({"cv": 1}, "The 'cv' parameter of LateFusionCox must be an int in the range [2, inf). Got 1 instead."),
        ({"scores": "radscore"}, "The 'scores' parameter of LateFusionCox must be a sequence of ModalityScore or "
                                 "None. Got 'radscore' instead."),
    ],
    ids=["cv_one", "scores_str"],
)
def test_param_errors(cohort, params, msg):
    X, y = cohort
    with pytest.raises(ValueError) as info:
        LateFusionCox(**params).fit(X, y)
    assert str(info.value) == msg


def test_duplicate_score_names(cohort):
    X, y = cohort
    scores = [ModalityScore(name="s"), ModalityScore(name="s", prefix="wsi__")]
    with pytest.raises(ValueError, match=r"^The scores of LateFusionCox must have unique names; 's' is used more"):
        LateFusionCox(scores=scores).fit(X, y)


def test_fold_failure_names_the_fold(cohort):
    X, y = cohort
    y2 = y.copy()
    # Only 2 of the patients with CT have an event: a 3-fold split leaves some fold with too few for the selector.
    has_ct = X.filter(like="ct__").notna().any(axis=1).to_numpy()
    y2["event"][has_ct] = False
    y2["event"][np.flatnonzero(has_ct)[:2]] = True
    with pytest.raises(ValueError, match=r"^LateFusionCox, fold \d of cv=3: "):
        LateFusionCox(scores=[ModalityScore()], cv=3, random_state=0).fit(X, y2)


def test_too_few_patients_and_not_a_frame(cohort):
    X, y = cohort
    with pytest.raises(ValueError, match=r"^LateFusionCox cannot split 3 patients into cv=5 folds\. Lower 'cv'\.$"):
        LateFusionCox().fit(X.iloc[:3], y[:3])
    with pytest.raises(TypeError, match=r"^LateFusionCox needs 'X' as a pandas DataFrame"):
        LateFusionCox().fit(X.to_numpy(), y)
