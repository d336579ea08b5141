"""Saving a study's fitted model (``<run_dir>/model``) for ``multisurv predict``: shared by the survival study
(:mod:`multisurv.study.run`) and the binary study (:mod:`multisurv.study.binary`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

logger = logging.getLogger("multisurv.study.run")


def for_saving(model):
    """A copy of a fitted model whose robustness filters hold their fitted ICC table instead of the reproducibility
    features they recompute it from (prediction needs neither; the safe model format keeps plain tables only)."""
    import copy

    from multisurv.selection.robustness import RobustnessFilter

    model = copy.deepcopy(model)
    seen: set[int] = set()

    def walk(obj) -> None:
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, np.ndarray, pd.DataFrame, pd.Series)):
            return
        seen.add(id(obj))
        if isinstance(obj, RobustnessFilter):  # unfitted templates (estimator parameters) keep no ICC source
            obj.icc = obj.icc_.to_frame() if hasattr(obj, "icc_") else None
        items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else \
            getattr(obj, "__dict__", {}).values()
        for item in items:
            walk(item)

    walk(model)
    return model


def save_fitted_model(run_dir: Path, model, clinical, X_dev: pd.DataFrame, config: Mapping | None, name: str,
                       facts: Mapping, notes: list[str]) -> None:
    """Save the model the report describes (``run_dir/model``) for ``multisurv predict``."""
    from multisurv.persistence import StudyModel, save_model

    if mil_scores(model):
        notes.append(f"model saving: {name} holds an attention-MIL slide score (a torch network that reads the "
                     "patch files), which the safe model format cannot store; model/ was not written. Set "
                     "'figures.primary' to a model without it, or use 'pooling: mean', to save one.")
        logger.warning("The fitted model was not saved: it holds an attention-MIL score.")
        return
    study_model = StudyModel(estimator=for_saving(model), feature_columns=[str(c) for c in X_dev.columns], clinical=clinical,
                             config={"study": dict(config or {}), "model": name})
    try:
        save_model(study_model, run_dir / "model", data={"development_features": X_dev}, extra=dict(facts))
    except (ValueError, TypeError, AttributeError) as exc:  # e.g. a type the safe model format does not allow
        notes.append(f"model saving: {type(exc).__name__}: {exc}")
        logger.warning("The fitted model was not saved: %s", exc)


def mil_scores(obj, seen: set[int] | None = None) -> list:
    """Every :class:`~multisurv.scores.mil.AttentionMILScore` inside a model (fusion scores, Pipeline steps)."""
    from sklearn.base import BaseEstimator

    from multisurv.scores.mil import AttentionMILScore

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, AttentionMILScore):
        return [obj]
    items = obj.values() if isinstance(obj, Mapping) else obj if isinstance(obj, (list, tuple)) else \
        obj.get_params(deep=False).values() if isinstance(obj, BaseEstimator) else ()
    return [found for item in items for found in mil_scores(item, seen)]
