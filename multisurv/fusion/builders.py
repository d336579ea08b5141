"""Builders of the fusion strategies named in :data:`multisurv.registry.FUSION_STRATEGIES`.

Each takes the study's unfitted modality scores, the ``fusion`` options of the config and the seed, and returns an
unfitted estimator. Adding a fusion family means one builder here (or in its own module) and one registry entry.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

__all__ = ["early", "late", "late_insample", "late_pattern", "intermediate", "INTERMEDIATE_OPTIONS"]

#: Settings of intermediate fusion a study config may give (``fusion.intermediate``), with their types.
INTERMEDIATE_OPTIONS = {"fusion": str, "hidden": int, "kron_dim": int, "dropout": float, "modality_dropout": float,
                        "loss": str, "ties": str, "n_bins": int, "epochs": int, "patience": int,
                        "learning_rate": float, "weight_decay": float, "validation_fraction": float, "device": str,
                        "n_threads": int, "refit": bool}


def early(scores: Sequence, options: Mapping[str, Any], seed: int):
    """:class:`~multisurv.fusion.early.EarlyFusionCox` on the features every score selects (ridge ``penalizer``).

    Parameters
    ----------
    scores : sequence of ModalityScore
        The study's unfitted modality scores, one per modality (passed on as a list).
    options : mapping
        The ``fusion`` section of the study config; reads ``penalizer`` (default 0.1).
    seed : int
        The study's seed, passed as ``random_state``.

    Returns
    -------
    EarlyFusionCox
        Unfitted.

    Examples
    --------
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> scores = [ModalityScore(name="radscore", prefix="ct__"), ModalityScore(name="patscore", prefix="wsi__")]
    >>> early(scores, {"penalizer": 0.5}, seed=0).get_params()["penalizer"]
    0.5
    """
    from multisurv.fusion.early import EarlyFusionCox

    return EarlyFusionCox(scores=list(scores), penalizer=options.get("penalizer", 0.1), random_state=seed)


def late(scores: Sequence, options: Mapping[str, Any], seed: int):
    """:class:`~multisurv.fusion.late.LateFusionCox` on out-of-fold scores (stacking); missing by ``missing``.

    Parameters
    ----------
    scores : sequence of ModalityScore
        The study's unfitted modality scores, one per modality (passed on as a list).
    options : mapping
        The ``fusion`` section of the study config; reads ``cv`` (default 5) and ``missing`` (default
        ``"mean"``).
    seed : int
        The study's seed, passed as ``random_state``.

    Returns
    -------
    LateFusionCox
        Unfitted, with ``stacking=True`` (out-of-fold scores).

    Examples
    --------
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> scores = [ModalityScore(name="radscore", prefix="ct__"), ModalityScore(name="patscore", prefix="wsi__")]
    >>> model = late(scores, {"cv": 3}, seed=0)
    >>> model.cv, model.missing, model.stacking
    (3, 'mean', True)
    """
    from multisurv.fusion.late import LateFusionCox

    return LateFusionCox(scores=list(scores), cv=options.get("cv", 5), missing=options.get("missing", "mean"),
                         random_state=seed)


def late_insample(scores: Sequence, options: Mapping[str, Any], seed: int):
    """Late fusion on in-sample scores (the usual published recipe; optimistic, kept for comparison).

    Parameters
    ----------
    scores : sequence of ModalityScore
        The study's unfitted modality scores, one per modality (passed on as a list).
    options : mapping
        The ``fusion`` section of the study config; reads ``cv`` (default 5) and ``missing``
        (default ``"mean"``).
    seed : int
        The study's seed, passed as ``random_state``.

    Returns
    -------
    LateFusionCox
        Unfitted, with ``stacking=False`` (in-sample scores).

    Examples
    --------
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> scores = [ModalityScore(name="radscore", prefix="ct__"), ModalityScore(name="patscore", prefix="wsi__")]
    >>> late_insample(scores, {}, seed=0).stacking
    False
    """
    from multisurv.fusion.late import LateFusionCox

    return LateFusionCox(scores=list(scores), cv=options.get("cv", 5), missing=options.get("missing", "mean"),
                         stacking=False, random_state=seed)


def late_pattern(scores: Sequence, options: Mapping[str, Any], seed: int):
    """Out-of-fold late fusion with one sub-model per missing-modality pattern.

    Parameters
    ----------
    scores : sequence of ModalityScore
        The study's unfitted modality scores, one per modality (passed on as a list).
    options : mapping
        The ``fusion`` section of the study config; reads ``cv`` (default 5).
    seed : int
        The study's seed, passed as ``random_state``.

    Returns
    -------
    LateFusionCox
        Unfitted, with ``missing="pattern"``.

    Examples
    --------
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> scores = [ModalityScore(name="radscore", prefix="ct__"), ModalityScore(name="patscore", prefix="wsi__")]
    >>> late_pattern(scores, {"missing": "mean"}, seed=0).missing  # always "pattern"
    'pattern'
    """
    from multisurv.fusion.late import LateFusionCox

    return LateFusionCox(scores=list(scores), cv=options.get("cv", 5), missing="pattern", random_state=seed)


def intermediate(scores: Sequence, options: Mapping[str, Any], seed: int):
    """:class:`~multisurv.fusion.intermediate.IntermediateFusionCox` on the features every score selects (torch);
    its settings come from ``fusion.intermediate`` of the config.

    Parameters
    ----------
    scores : sequence of ModalityScore
        The study's unfitted modality scores, one per modality (passed on as a list).
    options : mapping
        The ``fusion`` section of the study config; its ``intermediate`` mapping (keys in
        :data:`INTERMEDIATE_OPTIONS`) is passed as keyword arguments.
    seed : int
        The study's seed, passed as ``random_state``.

    Returns
    -------
    IntermediateFusionCox
        Unfitted.

    Examples
    --------
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> scores = [ModalityScore(name="radscore", prefix="ct__"), ModalityScore(name="patscore", prefix="wsi__")]
    >>> model = intermediate(scores, {"intermediate": {"fusion": "kronecker", "epochs": 50}}, seed=0)
    >>> model.fusion, model.epochs, model.random_state
    ('kronecker', 50, 0)
    """
    from multisurv.fusion.intermediate import IntermediateFusionCox

    return IntermediateFusionCox(scores=list(scores), random_state=seed, **dict(options.get("intermediate") or {}))
