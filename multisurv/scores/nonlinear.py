"""Non-linear branches: a random survival forest or gradient-boosted survival model as a modality score."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted
from sksurv.ensemble import GradientBoostingSurvivalAnalysis, RandomSurvivalForest

from multisurv._validation import SurvivalScoreMixin, check_consistent_length, check_param, check_survival_y
from multisurv.scores.modality_score import modality_columns, modality_present

__all__ = ["NonlinearScore"]

_OWNER = "NonlinearScore"


class NonlinearScore(SurvivalScoreMixin, BaseEstimator):
    """A modality's (or all modalities') risk from a random survival forest or gradient boosting.

    Drop-in for :class:`~multisurv.scores.modality_score.ModalityScore` inside
    :class:`~multisurv.fusion.late.LateFusionCox` (same ``name``, ``prefix``, ``fit``, ``predict``), or on its
    own with ``prefix=""`` for every column.

    Parameters
    ----------
    name : str, default="radscore"
    prefix : str, default="ct__"
        Columns used; ``""`` uses every column.
    model : {"rsf", "gbm"}, default="rsf"
        ``"rsf"``: scikit-survival's :class:`~sksurv.ensemble.RandomSurvivalForest`; risk is its predicted
        cumulative hazard summed over event times (its ``predict``). ``"gbm"``:
        :class:`~sksurv.ensemble.GradientBoostingSurvivalAnalysis` with the Cox partial-likelihood loss;
        risk is the boosted log-hazard.
    selector : estimator or None, default=None
        Optional multisurv selector (cloned) run first; the model sees only its ``selected_features_``.
    n_estimators : int, default=200
    max_depth : int or None, default=None
        ``None`` means unlimited for the forest and 3 for boosting.
    min_samples_leaf : int, default=5
    learning_rate : float, default=0.05
        Boosting only.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    modality_columns_ : list of str
    selected_features_ : list of str
    medians_ : pandas.Series
        Training medians for NaN in a patient who has the modality.
    model_ : fitted scikit-survival estimator
    n_train_ : int

    Notes
    -----
    As for ``ModalityScore``, patients without the modality (every ``prefix`` column NaN) are left out of
    fitting and get NaN from :meth:`predict`. No formula: a forest has none, which is the price of the
    non-linearity. Higher risk = worse.

    References
    ----------
    .. [1] Ishwaran, H. et al. "Random survival forests", Annals of Applied Statistics 2(3), 841-860, 2008.
    .. [2] Ridgeway, G. "The state of boosting", Computing Science and Statistics 31, 172-181, 1999.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["ct__a", "ct__b", "clin__age"])
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"] ** 2)), np.ones(120, bool))
    >>> s = NonlinearScore(model="gbm", n_estimators=50, random_state=0).fit(X, y)
    >>> bool(s.score(X, y) > 0.6)
    True
    """

    def __init__(self, *, name: str = "radscore", prefix: str = "ct__", model: Literal["rsf", "gbm"] = "rsf",
                 selector=None, n_estimators: int = 200, max_depth: int | None = None, min_samples_leaf: int = 5,
                 learning_rate: float = 0.05, random_state=None):
        self.name = name
        self.prefix = prefix
        self.model = model
        self.selector = selector
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.learning_rate = learning_rate
        self.random_state = random_state

    def _columns(self, X: pd.DataFrame) -> list[str]:
        return list(X.columns) if self.prefix == "" else modality_columns(X, self.prefix)

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> NonlinearScore:
        """Fit on the patients who have the modality.

        Parameters
        ----------
        X : pandas.DataFrame
        y : structured array

        Returns
        -------
        self

        Raises
        ------
        TypeError
            If ``X`` is not a DataFrame.
        ValueError
            If a parameter is invalid, the sizes differ, no column starts with ``prefix``, or ``y`` of the patients
            with the modality is not a valid survival outcome.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__age"])
        >>> X.iloc[:10, :2] = np.nan  # 10 patients without CT
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"].fillna(0))), np.ones(100, bool))
        >>> score = NonlinearScore(model="gbm", n_estimators=20, random_state=0).fit(X, y)
        >>> score.n_train_, score.selected_features_
        (90, ['ct__a', 'ct__b'])
        """
        check_param(_OWNER, "model", self.model, kind="option", options=("rsf", "gbm"))
        check_param(_OWNER, "n_estimators", self.n_estimators, kind="int", low=1)
        check_param(_OWNER, "min_samples_leaf", self.min_samples_leaf, kind="int", low=1)
        check_param(_OWNER, "learning_rate", self.learning_rate, kind="float", low=0, low_open=True)
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{_OWNER} needs 'X' as a pandas DataFrame; got {type(X).__name__}.")
        y = np.asarray(y)
        check_consistent_length(X=X, y=y)
        columns = self._columns(X)
        if not columns:
            raise ValueError(f"No column of 'X' starts with {self.prefix!r} ({_OWNER} {self.name!r}).")
        present = modality_present(X, columns)
        y_m = check_survival_y(y[present], where=f"the patients with {self.prefix!r} features ({_OWNER} {self.name!r})")
        X_m = X.loc[present, columns]
        selected = columns
        if self.selector is not None:
            self.selector_ = clone(self.selector).fit(X_m, y_m)
            selected = [str(c) for c in self.selector_.selected_features_] or columns
        values = X_m.loc[:, selected]
        self.medians_ = values.median(axis=0).fillna(0.0)
        Z = values.fillna(self.medians_).to_numpy(dtype=float)
        if self.model == "rsf":
            est = RandomSurvivalForest(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                       min_samples_leaf=self.min_samples_leaf, random_state=self.random_state)
        else:
            est = GradientBoostingSurvivalAnalysis(loss="coxph", n_estimators=self.n_estimators,
                                                   learning_rate=self.learning_rate,
                                                   max_depth=3 if self.max_depth is None else self.max_depth,
                                                   min_samples_leaf=self.min_samples_leaf, subsample=1.0,
                                                   random_state=self.random_state)
        self.model_ = est.fit(Z, y_m)
        self.modality_columns_ = columns
        self.selected_features_ = selected
        self.n_train_ = int(present.sum())
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Risk (higher = worse); NaN for patients without the modality.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        ndarray, shape (n_samples,)

        Raises
        ------
        ValueError
            If ``X`` lacks a ``prefix`` column seen in fit.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__age"])
        >>> X.iloc[:10, :2] = np.nan  # 10 patients without CT
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"].fillna(0))), np.ones(100, bool))
        >>> score = NonlinearScore(model="gbm", n_estimators=20, random_state=0).fit(X, y)
        >>> score.predict(X.iloc[8:12]).round(2)  # rows 8 and 9 have no CT
        array([  nan,   nan, -0.26,  0.12])
        """
        check_is_fitted(self, "model_")
        missing = [c for c in self.modality_columns_ if c not in X.columns]
        if missing:
            raise ValueError(f"'X' lacks {len(missing)} column(s) that {_OWNER} {self.name!r} was fitted with: "
                             f"{', '.join(repr(c) for c in missing[:5])}.")
        present = modality_present(X, self.modality_columns_)
        risk = np.full(X.shape[0], np.nan)
        if present.any():
            Z = X.loc[present, self.selected_features_].fillna(self.medians_).to_numpy(dtype=float)
            risk[present] = self.model_.predict(Z)
        return risk
