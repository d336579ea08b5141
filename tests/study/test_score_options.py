"""A modality's own selection steps and score model in the study config (``selector``, ``model``, ``model_params``)."""

from __future__ import annotations

import pytest
from sklearn.pipeline import Pipeline

from multisurv.study.config import StudyConfig, StudyConfigError
from multisurv.study.models import build_models


def _config(modalities: dict, **extra) -> dict:
    return {"schema": "study_config.v1", "name": "s", "out": "runs/s", "cohort": {"synthetic": {}},
            "modalities": modalities, **extra}


def test_own_steps_and_models_are_built_in_order_with_the_study_seed():
    cfg = StudyConfig.from_dict(_config(
        {"radiomics": {"selector": [{"variance": {}}, {"correlation": {"threshold": 0.8}}, {"elastic_net": {"cv": 3}}]},
         "pathomics": {},
         "clinical": {"model": "gbm", "model_params": {"n_estimators": 40}, "selector": [{"univariate_cox": {}}]}},
        seed=7))
    models = build_models(cfg)
    selector = models["radiomics"].selector
    assert isinstance(selector, Pipeline) and [n for n, _ in selector.steps] == ["variance", "correlation",
                                                                                  "elastic_net"]
    assert selector.named_steps["correlation"].threshold == 0.8
    assert (selector.named_steps["elastic_net"].l1_ratio, selector.named_steps["elastic_net"].random_state) == (0.5, 7)
    # without 'selector' a modality keeps the study's selection LASSO
    assert type(models["pathomics"].selector).__name__ == "LassoCoxSelector"
    clinical = models["clinical"]
    assert type(clinical).__name__ == "NonlinearScore" and (clinical.model, clinical.n_estimators) == ("gbm", 40)
    assert type(clinical.selector).__name__ == "UnivariateCoxSelector"
    # the fusions fuse these scores; the config round-trips through to_dict (what run.py writes)
    assert models["late_fusion"].scores[2] is clinical
    assert StudyConfig.from_dict(cfg.to_dict()).modalities == cfg.modalities


def test_every_problem_of_the_score_settings_is_listed_with_its_key():
    with pytest.raises(StudyConfigError) as info:
        StudyConfig.from_dict(_config(
            {"radiomics": {"selector": [{"varianse": {}}, {"correlation": {"treshold": 0.9}}, "lasso",
                                        {"lasso": {}}, {"lasso": {"cv": 3}}],
                           "model_params": {"n_estimators": 5}},
             "clinical": {"model": "svm"},
             "pathomics": {"model": "rsf", "model_params": {"trees": 5}}}))
    text = str(info.value)
    assert text.startswith("7 problem(s)")
    for piece in ("'modalities.radiomics.selector[0]': must be a selector step from 'variance'",
                  "Did you mean 'variance'?",
                  "'modalities.radiomics.selector[1].correlation': must be parameters of CorrelationFilter: method, "
                  "order, threshold; got ['treshold']",
                  "'modalities.radiomics.selector[2]': must be one 'name: {parameters}' mapping; got 'lasso'",
                  "Merge the parameters of the 2 'lasso' steps into one.",
                  "'modalities.radiomics.model_params': must be absent with 'model: linear'",
                  "'modalities.clinical.model': must be one of 'linear', 'rsf', 'gbm'; got 'svm'",
                  "'modalities.pathomics.model_params': must be a mapping of rsf settings from"):
        assert piece in text


def test_score_settings_are_refused_where_they_cannot_apply():
    with pytest.raises(StudyConfigError, match=r"'modalities.radiomics': must be no 'selector', 'model', "
                                                r"'model_params' with a binary endpoint"):
        StudyConfig.from_dict(_config({"radiomics": {"selector": [{"lasso": {}}]}, "clinical": {}},
                                      endpoint={"type": "binary", "horizon": 24}))
    pytest.importorskip("torch")
    pytest.importorskip("h5py")
    with pytest.raises(StudyConfigError, match=r"no 'selector', 'model' or 'model_params' with 'pooling: abmil'"):
        StudyConfig.from_dict(_config({"pathomics": {"pooling": "abmil", "model": "rsf"}, "clinical": {}}))


def test_the_report_says_how_each_score_is_made():
    from multisurv.report.report import _score_method

    cfg = StudyConfig.from_dict(_config(
        {"radiomics": {"selector": [{"variance": {}}, {"lasso": {}}]}, "pathomics": {},
         "clinical": {"model": "rsf"}}))
    methods = {m.name: _score_method(m) for m in cfg.modalities}
    assert methods == {
        "radiomics": "variance (drop near-constant features) -> lasso (LASSO-Cox, penalty by CV), then a Cox model on "
                     "the selected features",
        "pathomics": "LASSO-Cox (penalty by CV)",
        "clinical": "LASSO-Cox (penalty by CV), then a random survival forest"}
