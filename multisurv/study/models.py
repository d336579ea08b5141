"""build_models(): the unfitted models of a study, from its config and the registries.

One score per modality (its selector, then a Cox model on the selected features), then one model per fusion
strategy over all the scores. The CLI, :func:`multisurv.study.run.run_study` and ``multisurv fit`` all build their
models here, so the model a report describes is the model that is saved and later scores a new cohort.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from multisurv.registry import FUSION_STRATEGIES, Modality, load_object

__all__ = ["build_scores", "build_models"]


def build_scores(modalities: Sequence[Modality], selection, seed: int,
                 reproducibility: Mapping[str, object] | None = None) -> list:
    """One unfitted :class:`~multisurv.scores.modality_score.ModalityScore` per modality (LASSO-Cox selection).

    Examples
    --------
    >>> from multisurv.registry import BUILTIN_MODALITIES
    >>> from multisurv.study.config import SelectionConfig
    >>> [s.name for s in build_scores(BUILTIN_MODALITIES.values(), SelectionConfig(), 0)]
    ['radscore', 'patscore', 'clinscore']
    """
    from multisurv.scores.modality_score import ModalityScore
    from multisurv.selection.lasso_cox import LassoCoxSelector

    def selector(m: Modality):
        lasso = LassoCoxSelector(l1_ratio=selection.l1_ratio, cv=selection.cv, rule=selection.rule,
                                 max_features=selection.max_features, random_state=seed)
        robustness = m.options.get("robustness")
        if not robustness or m.name not in (reproducibility or {}):
            return lasso
        from sklearn.pipeline import Pipeline

        from multisurv.selection.robustness import RobustnessFilter

        # the ICC is recomputed on each fit's training rows from the reproducibility features
        robust = RobustnessFilter(icc=reproducibility[m.name], icc_min=robustness["icc_min"],
                                  method=robustness["method"], criterion=robustness["criterion"], prefix=m.prefix)
        return Pipeline([("robustness", robust), ("lasso", lasso)])

    return [ModalityScore(name=m.score, prefix=m.prefix, selector=selector(m), random_state=seed) for m in modalities]


def build_models(config, reproducibility: Mapping[str, object] | None = None) -> dict:
    """Unfitted models of a study config, by model name: each modality's score, then each fusion strategy.

    Parameters
    ----------
    config : StudyConfig
        Its ``modalities``, ``selection``, ``fusion`` and ``seed`` are used.
    reproducibility : mapping, optional
        Modality name -> :class:`~multisurv.features.robustness.ReproducibilityResult` of the development
        cohort: a modality with ``robustness`` settings gets a
        :class:`~multisurv.selection.robustness.RobustnessFilter` before its LASSO.

    Returns
    -------
    dict
        ``{modality name: ModalityScore, ..., fusion model name: estimator, ...}`` in report order.

    Examples
    --------
    >>> from multisurv.study.config import StudyConfig
    >>> cfg = StudyConfig.from_dict({"schema": "study_config.v1", "name": "x", "out": "runs/x",
    ...                              "cohort": {"synthetic": {}}, "fusion": {"strategies": ["early", "late"]}})
    >>> list(build_models(cfg))
    ['radiomics', 'pathomics', 'clinical', 'early_fusion', 'late_fusion']
    """
    if config.endpoint.type == "binary":  # logistic models, fusions and comparators (multisurv.study.binary)
        from multisurv.study.binary import build_binary_models

        return build_binary_models(config)
    scores = build_scores(config.modalities, config.selection, config.seed, reproducibility)
    models: dict = {m.name: s for m, s in zip(config.modalities, scores)}
    options = {"cv": config.fusion.cv, "missing": config.fusion.missing, "penalizer": config.fusion.penalizer,
               "intermediate": config.fusion.intermediate}
    for name in config.fusion.strategies:
        strategy = FUSION_STRATEGIES[name]
        models[strategy.model] = load_object(strategy.builder)(scores, options, config.seed)
    return models
