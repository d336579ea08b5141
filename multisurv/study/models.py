"""build_models(): the unfitted models of a study, from its config and the registries.

One score per modality (its selector, then a Cox model on the selected features; for a pathomics modality with
``pooling: abmil``, an attention-MIL network on the slide's tiles), then one model per fusion strategy over all the
scores. The CLI, :func:`multisurv.study.run.run_study` and ``multisurv fit`` all build their
models here, so the model a report describes is the model that is saved and later scores a new cohort.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from multisurv.registry import FUSION_STRATEGIES, Modality, load_object

__all__ = ["build_scores", "build_models", "build_selector", "ABMIL_OPTIONS", "uses_abmil"]

#: Settings of the attention-MIL pathomics score a study config may give (``modalities.<name>.abmil``), with their
#: types: keywords of :class:`~multisurv.scores.mil.AttentionMILScore`.
ABMIL_OPTIONS = {"hidden": int, "attention_dim": int, "dropout": float, "loss": str, "ties": str, "n_bins": int,
                 "epochs": int, "patience": int, "learning_rate": float, "weight_decay": float, "max_tiles": int,
                 "validation_fraction": float, "tiles": str, "refit": bool, "device": str, "n_threads": int}


def uses_abmil(modality: Modality) -> bool:
    """Whether a modality's score is an attention-MIL network over its tiles (pathomics with ``pooling: abmil``).

    Parameters
    ----------
    modality : Modality
        A modality of the study.

    Returns
    -------
    bool
        True for a pathomics modality whose ``pooling`` option is ``"abmil"`` (the default pooling is mean).

    Examples
    --------
    >>> from multisurv.registry import make_modality
    >>> uses_abmil(make_modality("pathomics")), uses_abmil(make_modality("pathomics", {"pooling": "abmil"}))
    (False, True)
    """
    return modality.kind == "pathomics" and modality.options.get("pooling", "mean") == "abmil"


def build_selector(steps: Sequence[Mapping[str, Mapping]], seed: int):
    """The selector a modality's ``selector`` list describes: one step, or a scikit-learn Pipeline of steps.

    Parameters
    ----------
    steps : sequence of mapping
        Steps in order, each ``{name: parameters}`` with a name of :data:`multisurv.registry.SELECTORS` (as the
        study config writes them: ``[{variance: {}}, {lasso: {cv: 5}}]``).
    seed : int
        ``random_state`` of every step that takes one (unless the step's parameters set it).

    Returns
    -------
    estimator
        The unfitted selector (a ``Pipeline`` named by the steps when there are several).

    Examples
    --------
    >>> selector = build_selector([{"variance": {}}, {"elastic_net": {"cv": 3}}], seed=0)
    >>> [(name, type(step).__name__) for name, step in selector.steps]
    [('variance', 'VarianceFilter'), ('elastic_net', 'LassoCoxSelector')]
    >>> selector.named_steps["elastic_net"].l1_ratio, selector.named_steps["elastic_net"].random_state
    (0.5, 0)
    """
    import inspect

    from sklearn.pipeline import Pipeline

    from multisurv.registry import SELECTORS

    built = []
    for step in steps:
        (name, params), = step.items()
        cls = load_object(SELECTORS[name].target)
        kwargs = {**SELECTORS[name].defaults, **dict(params or {})}
        if "random_state" in inspect.signature(cls).parameters:
            kwargs.setdefault("random_state", seed)
        built.append((name, cls(**kwargs)))
    return built[0][1] if len(built) == 1 else Pipeline(built)


def build_scores(modalities: Sequence[Modality], selection, seed: int,
                 reproducibility: Mapping[str, object] | None = None, *, mil: bool = True) -> list:
    """One unfitted score per modality: a :class:`~multisurv.scores.modality_score.ModalityScore` (LASSO-Cox
    selection), or for a pathomics modality with ``pooling: abmil`` an
    :class:`~multisurv.scores.mil.AttentionMILScore`.

    The MIL score is built with ``patches=None``: the study sets it to the modality's patch folder once extraction
    has written it (:func:`multisurv.study.run.fit_and_evaluate`). ``mil=False`` gives every modality a
    ``ModalityScore`` on its table features (the mean-pooled ``wsi__`` columns for pathomics): the input of the
    fusions that fuse features rather than scores (early, intermediate).

    Parameters
    ----------
    modalities : sequence of Modality
        The study's modalities, in order.
    selection : SelectionConfig
        LASSO settings (``l1_ratio``, ``cv``, ``rule``, ``max_features``) of every score.
    seed : int
        ``random_state`` of every score and selector.
    reproducibility : mapping, optional
        Modality name -> its reproducibility result; a modality with ``robustness`` settings listed here gets a
        :class:`~multisurv.selection.robustness.RobustnessFilter` before its LASSO.
    mil : bool, default=True
        False builds a ``ModalityScore`` for the ``pooling: abmil`` modalities too.

    Returns
    -------
    list
        One unfitted score per modality, in order, named after the modality's score (``radscore``...).

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
        if m.options.get("selector"):  # the modality's own steps
            own = build_selector(m.options["selector"], seed)
            steps = list(own.steps) if hasattr(own, "steps") else [(next(iter(m.options["selector"][0])), own)]
        else:
            steps = [("lasso", LassoCoxSelector(l1_ratio=selection.l1_ratio, cv=selection.cv, rule=selection.rule,
                                                max_features=selection.max_features, random_state=seed))]
        robustness = m.options.get("robustness")
        if robustness and m.name in (reproducibility or {}):
            from multisurv.selection.robustness import RobustnessFilter

            # the ICC is recomputed on each fit's training rows from the reproducibility features
            steps.insert(0, ("robustness", RobustnessFilter(
                icc=reproducibility[m.name], icc_min=robustness["icc_min"], method=robustness["method"],
                criterion=robustness["criterion"], prefix=m.prefix)))
        if len(steps) == 1:
            return steps[0][1]
        from sklearn.pipeline import Pipeline

        return Pipeline(steps)

    def score(m: Modality):
        if mil and uses_abmil(m):
            from multisurv.scores.mil import AttentionMILScore  # light: torch is imported when it is fitted

            return AttentionMILScore(patches=None, name=m.score, prefix=m.prefix, random_state=seed,
                                     **dict(m.options.get("abmil") or {}))
        model = m.options.get("model", "linear")
        if model != "linear":
            from multisurv.scores.nonlinear import NonlinearScore

            return NonlinearScore(name=m.score, prefix=m.prefix, model=model, selector=selector(m), random_state=seed,
                                  **dict(m.options.get("model_params") or {}))
        return ModalityScore(name=m.score, prefix=m.prefix, selector=selector(m), random_state=seed)

    return [score(m) for m in modalities]


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

    Notes
    -----
    A pathomics modality with ``pooling: abmil`` gets an attention-MIL score; the fusions of scores (``late``,
    ``late_insample``, ``late_pattern``) fuse that score, while the fusions of features (``early``,
    ``intermediate``: ``FusionStrategy.inputs == "features"``) need table columns and keep the LASSO-selected
    mean-pooled tile features as that modality's input.

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
    feature_scores = (build_scores(config.modalities, config.selection, config.seed, reproducibility, mil=False)
                      if any(uses_abmil(m) for m in config.modalities) else scores)
    models: dict = {m.name: s for m, s in zip(config.modalities, scores)}
    options = {"cv": config.fusion.cv, "missing": config.fusion.missing, "penalizer": config.fusion.penalizer,
               "intermediate": config.fusion.intermediate}
    for name in config.fusion.strategies:
        strategy = FUSION_STRATEGIES[name]
        inputs = feature_scores if strategy.inputs == "features" else scores
        models[strategy.model] = load_object(strategy.builder)(inputs, options, config.seed)
    return models
