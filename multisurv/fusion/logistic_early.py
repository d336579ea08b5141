"""Early fusion for a binary endpoint: each modality's LASSO-logistic selection, then one penalised logistic model
on the union of the selected features; :class:`BranchSelection` is that selection on its own (the features the
machine-learning comparators see)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from multisurv._validation import check_consistent_length, check_param
from multisurv.scores.logistic import LogisticModel
from multisurv.scores.logistic_score import STUDY_TOL, modality_columns
from multisurv.selection._logistic import check_binary_y
from multisurv.selection.lasso_logistic import LassoLogisticSelector

__all__ = ["BranchSelection", "EarlyFusionLogistic"]


class BranchSelection(TransformerMixin, BaseEstimator):
    """Per modality, LASSO-logistic selection on its (median-imputed) columns; keeps the union of the selected.

    Parameters
    ----------
    branches : sequence of (score_name, prefix)
        One modality each.
    l1_ratio, cv, rule, tol, random_state
        Of each modality's :class:`~multisurv.selection.lasso_logistic.LassoLogisticSelector`.

    Attributes
    ----------
    selected_ : dict
        Score name -> the features its modality's LASSO kept.
    selected_features_ : list of str
        Their union, in branch order; :meth:`transform` returns these columns unchanged (missing values kept).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(150, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
    >>> y = rng.uniform(size=150) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
    >>> sel = BranchSelection([("radscore", "ct__"), ("clinscore", "clin__")], rule="1se", random_state=0).fit(X, y)
    >>> sel.selected_features_
    ['ct__a', 'clin__a']
    """

    def __init__(self, branches: Sequence[tuple[str, str]], *, l1_ratio: float = 1.0, cv: int = 5,
                 rule: str = "min", tol: float = STUDY_TOL, random_state=None):
        self.branches = branches
        self.l1_ratio = l1_ratio
        self.cv = cv
        self.rule = rule
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y) -> BranchSelection:
        """Select within each modality on the training rows.

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
            If ``X`` is not a DataFrame, ``y`` is not binary, the sizes differ, or no column starts with a branch's
            prefix.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branches = [("radscore", "ct__"), ("clinscore", "clin__")]
        >>> BranchSelection(branches, rule="1se", random_state=0).fit(X, y).selected_
        {'radscore': ['ct__a'], 'clinscore': ['clin__a']}
        """
        if not isinstance(X, pd.DataFrame):
            raise ValueError("BranchSelection.fit: 'X' must be a DataFrame whose columns carry the modality prefixes.")
        yy = check_binary_y(y, where="BranchSelection.fit")
        check_consistent_length(X=X, y=yy)
        self.selected_ = {}
        for name, prefix in self.branches:
            cols = modality_columns(X, prefix, owner="BranchSelection", name=name)
            Xm = pd.DataFrame(SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(X[cols]),
                              columns=cols, index=X.index)
            selector = LassoLogisticSelector(l1_ratio=self.l1_ratio, cv=self.cv, rule=self.rule, tol=self.tol,
                                             random_state=self.random_state).fit(Xm, yy)
            self.selected_[name] = list(selector.selected_features_)
        self.selected_features_ = [c for cols in self.selected_.values() for c in cols]
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The selected columns of ``X``.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds the selected columns (taken by name).

        Returns
        -------
        DataFrame, shape (n_samples, n_selected)
            ``X[selected_features_]``, values unchanged (missing values kept).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branches = [("radscore", "ct__"), ("clinscore", "clin__")]
        >>> BranchSelection(branches, rule="1se", random_state=0).fit(X, y).transform(X.iloc[:2]).round(2)
           ct__a  clin__a
        0   0.13     0.64
        1  -0.54     1.30
        """
        check_is_fitted(self, "selected_features_")
        return X.loc[:, self.selected_features_]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the selected features.

        Parameters
        ----------
        input_features : ignored
            Present for scikit-learn's transformer API.

        Returns
        -------
        ndarray of str
            ``selected_features_``.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branches = [("radscore", "ct__"), ("clinscore", "clin__")]
        >>> BranchSelection(branches, rule="1se", random_state=0).fit(X, y).get_feature_names_out()
        array(['ct__a', 'clin__a'], dtype=object)
        """
        check_is_fitted(self, "selected_features_")
        return np.asarray(self.selected_features_, dtype=object)


class EarlyFusionLogistic(ClassifierMixin, BaseEstimator):
    """One penalised logistic model on the features every modality's LASSO-logistic selected.

    Parameters
    ----------
    branches : sequence of (score_name, prefix)
    penalizer : float, default=0.1
        Ridge penalty per patient on the standardised coefficients, as the survival early fusion's: the model
        minimises ``-loglik / n + penalizer / 2 * ||beta||^2`` (0: unpenalised maximum likelihood).
    l1_ratio, cv, rule, tol, random_state
        Of the per-modality selection (:class:`BranchSelection`).

    Attributes
    ----------
    selection_ : BranchSelection
    pipeline_ : Pipeline
        impute (median) -> standardise -> logistic model, on the selected features.
    selected_features_ : list of str
    coef_ : pandas.Series
        Coefficient per selected feature (per development standard deviation).
    intercept_ : float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(150, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
    >>> y = rng.uniform(size=150) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
    >>> model = EarlyFusionLogistic([("radscore", "ct__"), ("clinscore", "clin__")], rule="1se",
    ...                             random_state=0).fit(X, y)
    >>> list(model.coef_.index), model.predict_proba(X).shape
    (['ct__a', 'clin__a'], (150, 2))
    """

    def __init__(self, branches: Sequence[tuple[str, str]], *, penalizer: float = 0.1, l1_ratio: float = 1.0,
                 cv: int = 5, rule: str = "min", tol: float = STUDY_TOL, random_state=None):
        self.branches = branches
        self.penalizer = penalizer
        self.l1_ratio = l1_ratio
        self.cv = cv
        self.rule = rule
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y) -> EarlyFusionLogistic:
        """Select per modality, then fit the logistic model on the union.

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
            If ``penalizer`` is negative, ``y`` is not binary, or the per-modality selection refuses ``X`` (see
            :meth:`BranchSelection.fit`).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branches = [("radscore", "ct__"), ("clinscore", "clin__")]
        >>> EarlyFusionLogistic(branches, rule="1se", random_state=0).fit(X, y).coef_.round(2)
        ct__a      0.73
        clin__a    0.84
        dtype: float64
        """
        check_param("EarlyFusionLogistic", "penalizer", self.penalizer, kind="float", low=0)
        yy = check_binary_y(y, where="EarlyFusionLogistic.fit")
        self.selection_ = BranchSelection(self.branches, l1_ratio=self.l1_ratio, cv=self.cv, rule=self.rule,
                                          tol=self.tol, random_state=self.random_state).fit(X, yy)
        self.selected_features_ = list(self.selection_.selected_features_)
        if not self.selected_features_:  # nothing selected anywhere: the intercept-only model
            self.pipeline_ = Pipeline([("model", LogisticModel())])
        else:
            model = (LogisticModel() if self.penalizer == 0 else
                     LogisticRegression(C=1.0 / (self.penalizer * len(yy)), max_iter=1000, tol=1e-8))
            self.pipeline_ = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                                       ("scale", StandardScaler()),
                                       ("model", model)]).set_output(transform="pandas")
        self.pipeline_.fit(self.selection_.transform(X), yy)
        fitted = self.pipeline_.named_steps["model"]
        self.coef_ = pd.Series(np.ravel(fitted.coef_), index=self.selected_features_, dtype=float)
        self.intercept_ = float(np.ravel(fitted.intercept_)[0])
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of the event.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds the selected columns; NaN is imputed with the training medians.

        Returns
        -------
        ndarray, shape (n_samples,)
            ``intercept_ + sum(coef_ * standardised feature)``.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branches = [("radscore", "ct__"), ("clinscore", "clin__")]
        >>> model = EarlyFusionLogistic(branches, rule="1se", random_state=0).fit(X, y)
        >>> model.decision_function(X.iloc[:3]).round(2)
        array([ 0.36,  0.4 , -1.33])
        """
        check_is_fitted(self, "pipeline_")
        return np.asarray(self.pipeline_.decision_function(self.selection_.transform(X)), dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of (no event, event).

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds the selected columns; NaN is imputed with the training medians.

        Returns
        -------
        ndarray, shape (n_samples, 2)
            ``1 - p`` and ``p``, the inverse logit of :meth:`decision_function`.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branches = [("radscore", "ct__"), ("clinscore", "clin__")]
        >>> model = EarlyFusionLogistic(branches, rule="1se", random_state=0).fit(X, y)
        >>> model.predict_proba(X.iloc[:3]).round(2)
        array([[0.41, 0.59],
               [0.4 , 0.6 ],
               [0.79, 0.21]])
        """
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class 1 where the event probability is at least 0.5.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Holds the selected columns; NaN is imputed with the training medians.

        Returns
        -------
        ndarray of int, shape (n_samples,)
            1 or 0.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "clin__a", "clin__b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * (X["ct__a"] + X["clin__a"])))
        >>> branches = [("radscore", "ct__"), ("clinscore", "clin__")]
        >>> EarlyFusionLogistic(branches, rule="1se", random_state=0).fit(X, y).predict(X.iloc[:3])
        array([1, 1, 0])
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
