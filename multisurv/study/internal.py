"""Internal validation of a study's models on the development cohort, clinical encoding refitted in every resample.

A study encodes its clinical variables once on the development cohort before fitting the models; inside a
bootstrap or CV that encoding would have seen the held-out patients. :func:`validate_models` therefore wraps each
model in a Pipeline whose first step (:class:`~multisurv.features.clinical.ClinicalBlock`) imputes and encodes the
raw clinical columns, and hands the pipeline to :func:`~multisurv.evaluation.resampling.validate`, which refits all
of it (encoding, selection, penalty, fusion) on every training sample.
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from multisurv.evaluation.resampling import validate
from multisurv.features.clinical import ClinicalBlock, ClinicalPreprocessor

__all__ = ["validate_models", "internal_pipeline"]

logger = logging.getLogger(__name__)


def internal_pipeline(model, clinical: ClinicalPreprocessor | None, clinical_columns: Sequence[str]) -> Pipeline:
    """``Pipeline([clinical encoding of the raw columns, model])`` (the model alone when there is no clinical block).

    Both steps are clones, so the study's fitted models are left untouched.

    Parameters
    ----------
    model : estimator
        The study's model (cloned).
    clinical : ClinicalPreprocessor or None
        The clinical encoding (cloned); None adds no clinical step.
    clinical_columns : sequence of str
        The raw clinical columns; empty adds no clinical step.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``clinical`` (a :class:`~multisurv.features.clinical.ClinicalBlock`) and ``model``, or ``model``
        alone.

    Examples
    --------
    >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
    >>> pipe = internal_pipeline(CoxPHSurvivalAnalysis(), ClinicalPreprocessor(numeric=["age"]), ["age"])
    >>> [name for name, _ in pipe.steps]
    ['clinical', 'model']
    """
    steps = []
    if clinical is not None and len(clinical_columns):
        steps.append(("clinical", ClinicalBlock(clone(clinical), columns=list(clinical_columns))))
    steps.append(("model", clone(model)))
    return Pipeline(steps)


def validate_models(models: Mapping[str, object], X: pd.DataFrame, y: np.ndarray, *,
                    clinical: ClinicalPreprocessor | None = None, clinical_columns: Sequence[str] = (),
                    method: str = "bootstrap", n_resamples: int = 200, n_splits: int = 5, n_repeats: int = 5,
                    random_state=0, progress: bool = False) -> pd.DataFrame:
    """Internally validate every model on the same resamples of the development cohort.

    Parameters
    ----------
    models : mapping of str to estimator
        Unfitted (or fitted: they are cloned) models by name; each takes the wide feature table.
    X : pandas.DataFrame
        Development patients: imaging features and the **raw** clinical columns ``clinical_columns``.
    y : structured array
        Their outcome (``event``, ``time``).
    clinical : ClinicalPreprocessor, optional
        Unfitted clinical encoding, refitted on each training sample.
    clinical_columns : sequence of str
        The raw clinical columns of ``X``.
    method, n_resamples, n_splits, n_repeats
        As in :func:`~multisurv.evaluation.resampling.validate` (``"bootstrap"``, ``"cv"``, ``"repeated_cv"``).
    random_state : int
        Seeds the resamples; the same seed gives every model the same resamples.
    progress : bool
        Show a progress bar per model.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``model``, ``method``, ``apparent``, ``optimism``, ``corrected``, ``sd``,
        ``n_resamples``, ``n_failed``, ``n``, ``n_events``.

    Examples
    --------
    >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"ct__a": rng.normal(size=60), "age": rng.normal(60, 10, 60)})
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"])), rng.random(60) < 0.8)
    >>> res = validate_models({"cox": CoxPHSurvivalAnalysis()}, X, y, clinical=ClinicalPreprocessor(numeric=["age"]),
    ...                       clinical_columns=["age"], method="cv", n_splits=3)
    >>> res[["model", "method", "n_resamples", "n_failed", "n"]].to_dict("records")
    [{'model': 'cox', 'method': 'cv', 'n_resamples': 3, 'n_failed': 0, 'n': 60}]
    """
    rows = []
    for name, model in models.items():
        logger.info("Internal validation (%s) of %s.", method, name)
        result = validate(internal_pipeline(model, clinical, clinical_columns), X, y, method=method,
                          n_resamples=n_resamples, n_splits=n_splits, n_repeats=n_repeats,
                          random_state=random_state, progress=progress)
        rows.append({"model": name, **result.to_dict()})
    columns = ["model", "method", "apparent", "optimism", "corrected", "sd", "n_resamples", "n_failed", "n",
               "n_events"]
    return pd.DataFrame(rows, columns=columns)
