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
    """:class:`~multisurv.fusion.early.EarlyFusionCox` on the features every score selects (ridge ``penalizer``)."""
    from multisurv.fusion.early import EarlyFusionCox

    return EarlyFusionCox(scores=list(scores), penalizer=options.get("penalizer", 0.1), random_state=seed)


def late(scores: Sequence, options: Mapping[str, Any], seed: int):
    """:class:`~multisurv.fusion.late.LateFusionCox` on out-of-fold scores (stacking); missing by ``missing``."""
    from multisurv.fusion.late import LateFusionCox

    return LateFusionCox(scores=list(scores), cv=options.get("cv", 5), missing=options.get("missing", "mean"),
                         random_state=seed)


def late_insample(scores: Sequence, options: Mapping[str, Any], seed: int):
    """Late fusion on in-sample scores (the usual published recipe; optimistic, kept for comparison)."""
    from multisurv.fusion.late import LateFusionCox

    return LateFusionCox(scores=list(scores), cv=options.get("cv", 5), missing=options.get("missing", "mean"),
                         stacking=False, random_state=seed)


def late_pattern(scores: Sequence, options: Mapping[str, Any], seed: int):
    """Out-of-fold late fusion with one sub-model per missing-modality pattern."""
    from multisurv.fusion.late import LateFusionCox

    return LateFusionCox(scores=list(scores), cv=options.get("cv", 5), missing="pattern", random_state=seed)


def intermediate(scores: Sequence, options: Mapping[str, Any], seed: int):
    """:class:`~multisurv.fusion.intermediate.IntermediateFusionCox` on the features every score selects (torch);
    its settings come from ``fusion.intermediate`` of the config."""
    from multisurv.fusion.intermediate import IntermediateFusionCox

    return IntermediateFusionCox(scores=list(scores), random_state=seed, **dict(options.get("intermediate") or {}))
