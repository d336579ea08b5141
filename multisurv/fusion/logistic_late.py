"""Late fusion for a binary endpoint: a logistic model on per-modality scores computed out of fold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from multisurv._validation import check_consistent_length, check_param
from multisurv.scores.logistic import LogisticModel
from multisurv.selection._logistic import check_binary_y
from multisurv.selection.lasso_logistic import LassoLogisticSelector

__all__ = ["LateFusionLogistic", "default_binary_branch"]

_OWNER = "LateFusionLogistic"


def default_binary_branch(random_state=None) -> Pipeline:
    """One modality's score for a binary endpoint: median imputation, LASSO-logistic selection (1-SE rule, 5-fold
    CV), then an unpenalised logistic model whose log-odds is the score.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the selector's cross-validation folds.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted.

    Examples
    --------
    >>> [name for name, _ in default_binary_branch().steps]
    ['impute', 'select', 'model']
    """
    return Pipeline([("impute", SimpleImputer(strategy="median")),
                     ("select", LassoLogisticSelector(rule="1se", cv=5, random_state=random_state)),
                     ("model", LogisticModel())])


def _log_odds(model, X) -> np.ndarray:
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X), dtype=float)
    p = np.clip(np.asarray(model.predict_proba(X), dtype=float)[:, 1], 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


class LateFusionLogistic(ClassifierMixin, BaseEstimator):
    """Logistic model on per-modality scores (log-odds), the scores computed out of fold in training.

    Parameters
    ----------
    branches : sequence of (score_name, prefix, estimator)
        One modality each: the score's name (``radscore``), the feature prefix its columns start with (``ct__``)
        and the estimator (a classifier with ``decision_function`` or ``predict_proba``; ``None`` takes
        :func:`default_binary_branch`).
    cv : int, default=5
        Stratified folds for the out-of-fold training scores (stacking), so the fusion model is not fitted on
        scores that have seen their own outcomes.
    random_state : int or None

    Attributes
    ----------
    branches_ : dict
        Score name -> the branch estimator refitted on all training rows.
    oof_scores_ : pandas.DataFrame
        The out-of-fold training scores the fusion model was fitted on.
    fusion_ : LogisticModel
        The logistic model on the scores (``fusion_.odds_ratios()`` per score).
    columns_ : dict
        Score name -> the feature columns of its modality.

    Notes
    -----
    A patient without a modality (all its columns missing) gets the branch's imputed features; the per-pattern
    policies of the survival late fusion are not implemented here.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
    >>> y = rng.uniform(size=200) < 1 / (1 + np.exp(-(X["ct__a"] + X["clin__a"])))
    >>> branch = Pipeline([("model", LogisticModel())])
    >>> model = LateFusionLogistic([("radscore", "ct__", branch), ("clinscore", "clin__", branch)],
    ...                            random_state=0).fit(X, y)
    >>> list(model.scores(X).columns), model.predict_proba(X).shape
    (['radscore', 'clinscore'], (200, 2))
    """

    def __init__(self, branches: Sequence[tuple], *, cv: int = 5, random_state=None):
        self.branches = branches
        self.cv = cv
        self.random_state = random_state

    def _columns(self, X: pd.DataFrame) -> dict[str, list[str]]:
        out = {}
        for name, prefix, _ in self.branches:
            cols = [c for c in X.columns if str(c).startswith(prefix)]
            if not cols:
                raise ValueError(f"{_OWNER}: no column of 'X' starts with the prefix {prefix!r} of score {name!r}. "
                                 "Check the modality's feature prefix or drop the branch.")
            out[name] = cols
        return out

    def fit(self, X: pd.DataFrame, y) -> LateFusionLogistic:
        """Out-of-fold branch scores, the fusion logistic model on them, and the branches refitted on all rows.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Feature columns named with the modality prefixes.
        y : array-like of 0/1 or bool, shape (n_samples,)

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``cv`` < 2, ``X`` is not a DataFrame, ``branches`` is empty or names a score twice, ``y`` is not binary,
            the sizes differ, or no column starts with a branch's prefix.

        Examples
        --------
        >>> from sklearn.pipeline import Pipeline
        >>> from multisurv.scores.logistic import LogisticModel
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branch = Pipeline([("model", LogisticModel())])
        >>> model = LateFusionLogistic([("radscore", "ct__", branch), ("clinscore", "clin__", branch)],
        ...                            random_state=0).fit(X, y)
        >>> model.oof_scores_.shape
        (100, 2)
        """
        check_param(_OWNER, "cv", self.cv, kind="int", low=2)
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"{_OWNER}.fit: 'X' must be a DataFrame whose columns carry the modality prefixes.")
        names = [b[0] for b in self.branches]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"{_OWNER}: 'branches' must name each score once; got {names}.")
        yy = check_binary_y(y, where=f"{_OWNER}.fit")
        check_consistent_length(X=X, y=yy)
        self.columns_ = self._columns(X)
        folds = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        oof = pd.DataFrame(index=X.index, columns=names, dtype=float)
        self.branches_ = {}
        for name, _, estimator in self.branches:
            est = default_binary_branch(self.random_state) if estimator is None else estimator
            Xm = X[self.columns_[name]]
            for train, test in folds.split(Xm, yy):
                fitted = clone(est).fit(Xm.iloc[train], yy[train])
                oof.iloc[test, oof.columns.get_loc(name)] = _log_odds(fitted, Xm.iloc[test])
            self.branches_[name] = clone(est).fit(Xm, yy)
        self.oof_scores_ = oof
        self.fusion_ = LogisticModel().fit(oof, yy)
        self.classes_ = np.array([0, 1])
        return self

    def scores(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-modality scores (log-odds of each branch refitted on all training rows).

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds every branch's columns (``columns_``).

        Returns
        -------
        pandas.DataFrame
            Index of ``X``, one column per score name: the log-odds of each branch refitted on all training rows
            (its ``decision_function``, else the logit of its ``predict_proba``).

        Examples
        --------
        >>> from sklearn.pipeline import Pipeline
        >>> from multisurv.scores.logistic import LogisticModel
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branch = Pipeline([("model", LogisticModel())])
        >>> model = LateFusionLogistic([("radscore", "ct__", branch), ("clinscore", "clin__", branch)],
        ...                            random_state=0).fit(X, y)
        >>> model.scores(X.iloc[:3]).round(2)
           radscore  clinscore
        0     -0.19       0.73
        1     -1.15       1.35
        2     -0.95      -1.17
        """
        check_is_fitted(self, "fusion_")
        return pd.DataFrame({name: _log_odds(model, X[self.columns_[name]]) for name, model in self.branches_.items()},
                            index=X.index)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Fused log-odds of the event.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds every branch's columns (``columns_``).

        Returns
        -------
        ndarray, shape (n_samples,)
            The fusion model's log-odds on :meth:`scores`.

        Examples
        --------
        >>> from sklearn.pipeline import Pipeline
        >>> from multisurv.scores.logistic import LogisticModel
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branch = Pipeline([("model", LogisticModel())])
        >>> model = LateFusionLogistic([("radscore", "ct__", branch), ("clinscore", "clin__", branch)],
        ...                            random_state=0).fit(X, y)
        >>> model.decision_function(X.iloc[:3]).round(2)
        array([ 1.13,  0.52, -2.17])
        """
        return self.fusion_.decision_function(self.scores(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of (no event, event).

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds every branch's columns (``columns_``).

        Returns
        -------
        ndarray, shape (n_samples, 2)
            ``1 - p`` and ``p``, the inverse logit of :meth:`decision_function`.

        Examples
        --------
        >>> from sklearn.pipeline import Pipeline
        >>> from multisurv.scores.logistic import LogisticModel
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branch = Pipeline([("model", LogisticModel())])
        >>> model = LateFusionLogistic([("radscore", "ct__", branch), ("clinscore", "clin__", branch)],
        ...                            random_state=0).fit(X, y)
        >>> model.predict_proba(X.iloc[:3]).round(2)
        array([[0.24, 0.76],
               [0.37, 0.63],
               [0.9 , 0.1 ]])
        """
        return self.fusion_.predict_proba(self.scores(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class 1 where the fused event probability is at least 0.5.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds every branch's columns (``columns_``).

        Returns
        -------
        ndarray of int, shape (n_samples,)
            1 or 0.

        Examples
        --------
        >>> from sklearn.pipeline import Pipeline
        >>> from multisurv.scores.logistic import LogisticModel
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branch = Pipeline([("model", LogisticModel())])
        >>> model = LateFusionLogistic([("radscore", "ct__", branch), ("clinscore", "clin__", branch)],
        ...                            random_state=0).fit(X, y)
        >>> model.predict(X.iloc[:3])
        array([1, 1, 0])
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
