"""Machine-learning comparators for a binary endpoint (random forest, AdaBoost, gradient boosting, SVM), each tuned
by inner cross-validation, and their SHAP summaries: the "does machine learning beat the logistic model" table of a
clinical-prediction paper, one registry looked up by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import AdaBoostClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from multisurv._validation import check_param
from multisurv.evaluation.importance import shap_importance

__all__ = ["COMPARATORS", "ComparatorSpec", "comparator_shap", "make_comparator", "make_comparators"]


@dataclass(frozen=True)
class ComparatorSpec:
    """One comparator: how to build the classifier, whether it needs scaled features, and its tuning grid.

    Parameters
    ----------
    label : str
        Name for tables and figures.
    build : callable
        ``build(random_state) -> classifier`` with ``predict_proba``.
    scale : bool
        Standardise features first (SVM).
    grid : dict
        Hyper-parameter grid searched by inner cross-validation (keys without the ``model__`` prefix).

    Examples
    --------
    The entries of :data:`COMPARATORS`:

    >>> spec = COMPARATORS["svm"]
    >>> spec.label, spec.scale, sorted(spec.grid)
    ('SVM (RBF)', True, ['estimator__C', 'estimator__gamma'])
    >>> type(spec.build(0)).__name__
    'CalibratedClassifierCV'
    """

    label: str
    build: Callable
    scale: bool
    grid: dict


#: The registry: name -> ComparatorSpec. Grids are deliberately small (inner CV runs inside every bootstrap
#: resample of a whole-pipeline validation); widen them for a final model.
COMPARATORS: dict[str, ComparatorSpec] = {
    "random_forest": ComparatorSpec(
        "Random forest", lambda rs: RandomForestClassifier(n_estimators=300, random_state=rs), False,
        {"min_samples_leaf": [1, 5, 10], "max_features": ["sqrt", 0.5]}),
    "adaboost": ComparatorSpec(
        "AdaBoost", lambda rs: AdaBoostClassifier(random_state=rs), False,
        {"n_estimators": [50, 200], "learning_rate": [0.1, 1.0]}),
    "gradient_boosting": ComparatorSpec(
        "Gradient boosting", lambda rs: GradientBoostingClassifier(random_state=rs), False,
        {"n_estimators": [100, 300], "learning_rate": [0.05, 0.1], "max_depth": [2, 3]}),
    # Platt scaling of the SVM's decision values by internal cross-validation (what SVC(probability=True) did
    # before its deprecation in scikit-learn 1.9).
    "svm": ComparatorSpec(
        "SVM (RBF)", lambda rs: CalibratedClassifierCV(SVC(kernel="rbf", random_state=rs), method="sigmoid",
                                                       ensemble=False, cv=5), True,
        {"estimator__C": [0.1, 1.0, 10.0], "estimator__gamma": ["scale", 0.01]}),
}


def make_comparator(name: str, random_state=None, *, inner_cv: int = 5, scoring: str = "roc_auc",
                    n_jobs: int | None = None) -> GridSearchCV:
    """One comparator, tuned by inner cross-validation.

    Parameters
    ----------
    name : str
        A key of :data:`COMPARATORS`.
    random_state : int or None
        Seeds the model and the inner folds.
    inner_cv : int, default=5
        Stratified inner folds of the grid search.
    scoring : str, default="roc_auc"
        scikit-learn scorer of the grid search (``"neg_log_loss"`` or ``"neg_brier_score"`` favour calibration).
    n_jobs : int or None
        Passed to GridSearchCV.

    Returns
    -------
    sklearn.model_selection.GridSearchCV
        Over ``Pipeline(impute (median)[, scale], model)``; ``fit(X, y)`` tunes and refits on all of ``X``, and
        ``predict_proba(X)[:, 1]`` is the event probability.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).

    Examples
    --------
    >>> make_comparator("svm", random_state=0).estimator.steps[-1][0]
    'model'
    """
    if name not in COMPARATORS:
        raise ValueError(f"Unknown comparator {name!r}. Choose one of: {', '.join(repr(k) for k in COMPARATORS)}.")
    check_param("make_comparator", "inner_cv", inner_cv, kind="int", low=2)
    spec = COMPARATORS[name]
    steps = [("impute", SimpleImputer(strategy="median"))]
    if spec.scale:
        steps.append(("scale", StandardScaler()))
    steps.append(("model", spec.build(random_state)))
    grid = {f"model__{k}": v for k, v in spec.grid.items()}
    folds = StratifiedKFold(n_splits=inner_cv, shuffle=True, random_state=random_state)
    return GridSearchCV(Pipeline(steps), grid, cv=folds, scoring=scoring, refit=True, n_jobs=n_jobs)


def make_comparators(random_state=None, *, names: Sequence[str] | None = None, inner_cv: int = 5,
                     scoring: str = "roc_auc", n_jobs: int | None = None) -> dict[str, GridSearchCV]:
    """The comparators by name (default all of :data:`COMPARATORS`), each tuned by inner cross-validation.

    Parameters
    ----------
    random_state : int or None
        Seeds every model and its inner folds.
    names : sequence of str or None, default=None
        Keys of :data:`COMPARATORS`; None means all of them, in registry order.
    inner_cv : int, default=5
        Stratified inner folds of each grid search.
    scoring : str, default="roc_auc"
        scikit-learn scorer of the grid searches.
    n_jobs : int or None
        Passed to each GridSearchCV.

    Returns
    -------
    dict of str to sklearn.model_selection.GridSearchCV
        Name -> unfitted :func:`make_comparator`.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or ``inner_cv`` < 2.

    Examples
    --------
    >>> sorted(make_comparators(random_state=0))
    ['adaboost', 'gradient_boosting', 'random_forest', 'svm']
    """
    names = list(COMPARATORS) if names is None else list(names)
    return {name: make_comparator(name, random_state, inner_cv=inner_cv, scoring=scoring, n_jobs=n_jobs)
            for name in names}


class _EventProbability:
    """Adapter: ``predict`` returns the event probability, the function SHAP explains."""

    def __init__(self, model):
        self.model = model

    def predict(self, X):
        return np.asarray(self.model.predict_proba(X))[:, 1]


def comparator_shap(model, X: pd.DataFrame, *, background: pd.DataFrame, max_evals: int | None = None,
                    random_state=None) -> tuple[pd.DataFrame, np.ndarray]:
    """SHAP summary of a fitted classifier's event probability: mean |SHAP| per feature and the SHAP matrix.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba`` (e.g. from :func:`make_comparators`)
    X : pandas.DataFrame
        Patients to explain.
    background : pandas.DataFrame
        Development patients the features are masked with.
    max_evals : int, optional
        Model evaluations per patient (default ``2 * n_features + 1``).
    random_state : int or None

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray)
        ``feature, mean_abs_shap`` (largest first) and the matrix, shape (n_patients, n_features); each row adds
        up to the patient's probability minus the mean background probability.

    Raises
    ------
    ImportError
        When ``shap`` is not installed: ``pip install "multisurv[explain]"``.

    Examples
    --------
    Skipped in the doctests: importing shap compiles its numba functions (about 6 s).

    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    >>> y = (X["a"] + 0.3 * rng.normal(size=60) > 0).astype(int)
    >>> clf = LogisticRegression().fit(X, y)
    >>> table, values = comparator_shap(clf, X.iloc[:10], background=X, random_state=0)  # doctest: +SKIP
    >>> table.round(3)  # doctest: +SKIP
      feature  mean_abs_shap
    0       a          0.333
    1       b          0.036
    2       c          0.015
    >>> values.shape  # doctest: +SKIP
    (10, 3)
    """
    return shap_importance(_EventProbability(model), X, background=background, max_evals=max_evals,
                           random_state=random_state)
