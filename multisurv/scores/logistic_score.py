"""One modality's model for a binary endpoint: its LASSO-logistic selection and a logistic model of the selected
features, fitted and applied only to patients who have the modality (the binary twin of ``ModalityScore``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from multisurv._validation import check_consistent_length
from multisurv.scores.logistic import LogisticModel
from multisurv.selection._logistic import check_binary_y
from multisurv.selection.lasso_logistic import LassoLogisticSelector

__all__ = ["STUDY_TOL", "LogisticModalityScore", "binary_branch", "modality_columns"]

_OWNER = "LogisticModalityScore"


def modality_columns(X: pd.DataFrame, prefix: str, *, owner: str, name: str) -> list[str]:
    """The columns of ``X`` that start with ``prefix``; raises naming the score when there is none.

    Parameters
    ----------
    X : DataFrame
        Feature table with prefixed column names.
    prefix : str
        The modality's prefix (``ct__``).
    owner, name : str
        The estimator and score named in the error message.

    Returns
    -------
    list of str
        The matching columns, in the order of ``X``.

    Raises
    ------
    ValueError
        If no column starts with ``prefix``.

    Examples
    --------
    >>> modality_columns(pd.DataFrame(columns=["ct__a", "clin__b", "ct__c"]), "ct__", owner="demo", name="radscore")
    ['ct__a', 'ct__c']
    """
    cols = [c for c in X.columns if str(c).startswith(prefix)]
    if not cols:
        raise ValueError(f"{owner}: no column of 'X' starts with the prefix {prefix!r} of score {name!r}. Check the "
                         "modality's feature prefix.")
    return cols


#: Coordinate-descent tolerance of the LASSO-logistic fits inside a study. The selector's own default (1e-12) is set
#: for agreement with glmnet to 1e-5 in the coefficients; 1e-7 selects the same penalty and features on the demo
#: cohort's radiomics at about a fifth of the time, which matters when every fit is repeated in every resample.
STUDY_TOL = 1e-7


def binary_branch(*, l1_ratio: float = 1.0, cv: int = 5, rule: str = "min", tol: float = STUDY_TOL,
                  random_state=None) -> Pipeline:
    """Median imputation, LASSO-logistic selection (penalty by ``cv``-fold CV, ``rule``), unpenalised logistic.

    Parameters
    ----------
    l1_ratio : float, default=1.0
        Elastic-net mixing of the selector (1 is the LASSO).
    cv : int, default=5
        Folds of the selector's cross-validation.
    rule : {"min", "1se"}, default="min"
        How the selector picks the penalty.
    tol : float, default=STUDY_TOL
        Coordinate-descent tolerance of the selector.
    random_state : int, RandomState instance or None, default=None
        Seeds the selector's folds.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted: ``impute`` (median) -> ``select`` (LassoLogisticSelector) -> ``model`` (LogisticModel).

    Examples
    --------
    >>> [name for name, _ in binary_branch().steps]
    ['impute', 'select', 'model']
    """
    return Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                     ("select", LassoLogisticSelector(l1_ratio=l1_ratio, cv=cv, rule=rule, tol=tol,
                                                      random_state=random_state)),
                     ("model", LogisticModel())]).set_output(transform="pandas")  # feature names kept


class LogisticModalityScore(ClassifierMixin, BaseEstimator):
    """A modality's logistic model for a binary endpoint: LASSO-logistic selection, then multivariable logistic.

    Parameters
    ----------
    name : str
        The score's name (``radscore``).
    prefix : str
        Feature prefix of the modality's columns (``ct__``).
    l1_ratio, cv, rule, tol, random_state
        Of the :class:`~multisurv.selection.lasso_logistic.LassoLogisticSelector` (``tol`` default
        :data:`STUDY_TOL`).

    Attributes
    ----------
    columns_ : list of str
        The modality's columns in the training data.
    pipeline_ : Pipeline
        impute -> select -> :class:`~multisurv.scores.logistic.LogisticModel`, fitted on the training patients who
        have the modality.
    selected_features_ : list of str
    n_fit_ : int
        Training patients with the modality.

    Notes
    -----
    A patient has the modality when at least one of its columns is not missing. :meth:`predict_proba` and
    :meth:`decision_function` return NaN for the others, so the model is evaluated on the patients who have the
    modality only (as the survival study's single-modality scores are).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["ct__a", "ct__b", "clin__a"])
    >>> y = rng.uniform(size=120) < 1 / (1 + np.exp(-2 * X["ct__a"]))
    >>> X.iloc[:5, :2] = np.nan
    >>> model = LogisticModalityScore(name="radscore", prefix="ct__", random_state=0).fit(X, y)
    >>> "ct__a" in model.selected_features_, int(np.isnan(model.predict_proba(X)[:, 1]).sum())
    (True, 5)
    """

    def __init__(self, *, name: str, prefix: str, l1_ratio: float = 1.0, cv: int = 5, rule: str = "min",
                 tol: float = STUDY_TOL, random_state=None):
        self.name = name
        self.prefix = prefix
        self.l1_ratio = l1_ratio
        self.cv = cv
        self.rule = rule
        self.tol = tol
        self.random_state = random_state

    def available(self, X: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``X`` that have the modality.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds the modality's columns (``columns_`` once fitted, else those starting with ``prefix``).

        Returns
        -------
        ndarray of bool, shape (n_samples,)
            True where at least one of the modality's columns is not missing.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__a"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * X["ct__a"]))
        >>> X.iloc[:5, :2] = np.nan  # 5 patients without CT
        >>> model = LogisticModalityScore(name="radscore", prefix="ct__", rule="1se", random_state=0).fit(X, y)
        >>> model.available(X.iloc[3:7])
        array([False, False,  True,  True])
        """
        cols = self.columns_ if hasattr(self, "columns_") else modality_columns(X, self.prefix, owner=_OWNER,
                                                                                 name=self.name)
        return X[cols].notna().any(axis=1).to_numpy()

    def fit(self, X: pd.DataFrame, y) -> LogisticModalityScore:
        """Fit selection and logistic model on the rows of ``X`` that have the modality.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
        y : array-like of 0/1 or bool, shape (n_samples,)

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``X`` is not a DataFrame, ``y`` (or ``y`` of the patients with the modality) is not binary, the sizes
            differ, or no column starts with ``prefix``.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__a"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * X["ct__a"]))
        >>> X.iloc[:5, :2] = np.nan  # 5 patients without CT
        >>> model = LogisticModalityScore(name="radscore", prefix="ct__", rule="1se", random_state=0).fit(X, y)
        >>> model.selected_features_, model.n_fit_
        (['ct__a'], 95)
        """
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"{_OWNER}.fit: 'X' must be a DataFrame whose columns carry the modality prefixes.")
        yy = check_binary_y(y, where=f"{_OWNER}.fit ({self.name})")
        check_consistent_length(X=X, y=yy)
        self.columns_ = modality_columns(X, self.prefix, owner=_OWNER, name=self.name)
        rows = self.available(X)
        self.pipeline_ = binary_branch(l1_ratio=self.l1_ratio, cv=self.cv, rule=self.rule, tol=self.tol,
                                       random_state=self.random_state)
        self.pipeline_.fit(X.loc[rows, self.columns_], check_binary_y(yy[rows], where=f"{_OWNER}.fit ({self.name}, "
                                                                                      "patients with the modality)"))
        self.selected_features_ = list(self.pipeline_.named_steps["select"].selected_features_)
        self.n_fit_ = int(rows.sum())
        self.classes_ = np.array([0, 1])
        return self

    @property
    def model_(self) -> LogisticModel:
        """The fitted logistic model of the selected features.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__a"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * X["ct__a"]))
        >>> X.iloc[:5, :2] = np.nan  # 5 patients without CT
        >>> model = LogisticModalityScore(name="radscore", prefix="ct__", rule="1se", random_state=0).fit(X, y)
        >>> model.model_.coef_.round(2)
        array([2.04])
        """
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.named_steps["model"]

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of the event; NaN for patients without the modality.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds the modality's training columns (``columns_``).

        Returns
        -------
        ndarray, shape (n_samples,)
            Log-odds of the fitted pipeline; NaN where the patient lacks the modality.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__a"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * X["ct__a"]))
        >>> X.iloc[:5, :2] = np.nan  # 5 patients without CT
        >>> model = LogisticModalityScore(name="radscore", prefix="ct__", rule="1se", random_state=0).fit(X, y)
        >>> model.decision_function(X.iloc[3:7]).round(2)
        array([  nan,   nan, -1.27,  1.06])
        """
        check_is_fitted(self, "pipeline_")
        out = np.full(len(X), np.nan)
        rows = self.available(X)
        if rows.any():
            out[rows] = self.pipeline_.decision_function(X.loc[rows, self.columns_])
        return out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of (no event, event); NaN rows for patients without the modality.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds the modality's training columns (``columns_``).

        Returns
        -------
        ndarray, shape (n_samples, 2)
            ``1 - p`` and ``p``, the inverse logit of :meth:`decision_function` (NaN rows without the modality).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__a"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * X["ct__a"]))
        >>> X.iloc[:5, :2] = np.nan  # 5 patients without CT
        >>> model = LogisticModalityScore(name="radscore", prefix="ct__", rule="1se", random_state=0).fit(X, y)
        >>> model.predict_proba(X.iloc[3:7]).round(2)
        array([[ nan,  nan],
               [ nan,  nan],
               [0.78, 0.22],
               [0.26, 0.74]])
        """
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class 1 where the event probability is at least 0.5 (0 where the modality is missing).

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds the modality's training columns (``columns_``).

        Returns
        -------
        ndarray of int, shape (n_samples,)
            1 or 0 (0 where the patient lacks the modality).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__a"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * X["ct__a"]))
        >>> X.iloc[:5, :2] = np.nan  # 5 patients without CT
        >>> model = LogisticModalityScore(name="radscore", prefix="ct__", rule="1se", random_state=0).fit(X, y)
        >>> model.predict(X.iloc[3:7])
        array([0, 0, 0, 1])
        """
        return (np.nan_to_num(self.predict_proba(X)[:, 1]) >= 0.5).astype(int)
