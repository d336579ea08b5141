"""Multivariable logistic regression for a binary endpoint: coefficients, odds ratios with Wald intervals, and
the model behind late fusion for binary endpoints (a logistic model on per-modality scores)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from multisurv._validation import check_consistent_length, check_param
from multisurv.selection._base import as_frame, has_names
from multisurv.selection._logistic import check_binary_y, fit_logistic

__all__ = ["LogisticModel"]

_OWNER = "LogisticModel"


class LogisticModel(ClassifierMixin, BaseEstimator):
    """Unpenalised multivariable logistic regression (maximum likelihood), as R's ``glm(family = binomial)``.

    Parameters
    ----------
    confidence : float, default=0.95
        Level of the Wald intervals in :meth:`odds_ratios`.
    tol : float, default=1e-10
        Convergence tolerance of the Newton-Raphson iterations (relative change of the deviance).
    max_iter : int, default=50

    Attributes
    ----------
    coef_ : ndarray, shape (n_features_in_,)
        Log odds ratios per unit of each feature.
    intercept_ : float
    cov_ : ndarray, shape (n_features_in_ + 1, n_features_in_ + 1)
        Wald covariance of (intercept, coef).
    log_likelihood_ : float
    aic_, bic_ : float
    classes_ : ndarray
        ``[0, 1]``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` is a DataFrame.

    See Also
    --------
    multisurv.selection.lasso_logistic.LassoLogisticSelector : LASSO screening before this model.
    multisurv.evaluation.logistic_nomogram.logistic_nomogram : its nomogram.

    Notes
    -----
    ``predict_proba(X)[:, 1]`` is the probability of the event (y = 1); ``decision_function`` is the linear
    predictor (log-odds; higher = event more likely). A separated outcome raises a ConvergenceWarning.

    Examples
    --------
    >>> X = pd.DataFrame({"clin__x": [0, 0, 1, 1, 2, 2]})
    >>> model = LogisticModel().fit(X, [0, 1, 1, 0, 1, 1])   # R: glm gives -0.4172832, 1.2917097
    >>> round(model.intercept_, 4), round(float(model.coef_[0]), 4)
    (-0.4173, 1.2917)
    >>> model.odds_ratios().loc["clin__x", "odds_ratio"].round(3)
    np.float64(3.639)
    """

    def __init__(self, *, confidence: float = 0.95, tol: float = 1e-10, max_iter: int = 50):
        self.confidence = confidence
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X: pd.DataFrame | ArrayLike, y: ArrayLike) -> LogisticModel:
        """Fit by maximum likelihood.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
            Numeric features without missing values (encode categories as dummies first).
        y : array-like of 0/1 or bool, shape (n_samples,)

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If a parameter is invalid, ``y`` is not binary, the sizes differ, or ``X`` has missing or infinite values.

        Examples
        --------
        >>> X = pd.DataFrame({"clin__x": [0, 0, 1, 1, 2, 2]})
        >>> model = LogisticModel().fit(X, [0, 1, 1, 0, 1, 1])
        >>> round(model.intercept_, 4), model.coef_.round(4), model.converged_
        (-0.4173, array([1.2917]), True)
        """
        check_param(_OWNER, "confidence", self.confidence, kind="float", low=0, high=1, low_open=True,
                    high_open=True)
        check_param(_OWNER, "tol", self.tol, kind="float", low=0, low_open=True)
        check_param(_OWNER, "max_iter", self.max_iter, kind="int", low=1)
        frame = as_frame(X)
        if has_names(X):
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        yy = check_binary_y(y, where=f"{_OWNER}.fit")
        check_consistent_length(X=frame, y=yy)
        values = frame.to_numpy(dtype=float)
        if not np.all(np.isfinite(values)):
            bad = [str(c) for c, ok in zip(frame.columns, np.isfinite(values).all(axis=0)) if not ok]
            raise ValueError(
                f"{_OWNER}.fit: 'X' has missing or infinite values in {len(bad)} column(s): "
                f"{', '.join(repr(c) for c in bad[:5])}. Impute them first (e.g. ClinicalPreprocessor)."
            )
        self.n_features_in_ = values.shape[1]
        self._columns = [str(c) for c in frame.columns]
        design = np.column_stack([np.ones(values.shape[0]), values])
        fit = fit_logistic(design, yy, tol=self.tol, max_iter=self.max_iter, where=f"{_OWNER}.fit")
        self.intercept_ = float(fit.coef[0])
        self.coef_ = fit.coef[1:].copy()
        self.cov_ = fit.cov
        self.log_likelihood_ = fit.log_likelihood
        k = design.shape[1]
        self.aic_ = -2 * fit.log_likelihood + 2 * k
        self.bic_ = -2 * fit.log_likelihood + np.log(values.shape[0]) * k
        self.converged_ = fit.converged
        self.classes_ = np.array([0, 1])
        self.n_samples_ = int(values.shape[0])
        return self

    def _values(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        if has_names(X) and hasattr(self, "feature_names_in_"):
            missing = [c for c in self.feature_names_in_ if c not in X.columns]
            if missing:
                raise ValueError(f"'X' lacks {len(missing)} column(s) {_OWNER} was fitted on: "
                                 f"{', '.join(repr(c) for c in missing[:5])}.")
            return X.loc[:, list(self.feature_names_in_)].to_numpy(dtype=float)
        values = np.asarray(X, dtype=float)
        if values.ndim != 2 or values.shape[1] != self.n_features_in_:
            raise ValueError(f"'X' has {values.shape[-1] if values.ndim == 2 else values.shape} features but "
                             f"{_OWNER} was fitted with {self.n_features_in_}.")
        return values

    def decision_function(self, X) -> np.ndarray:
        """Linear predictor (log-odds of the event), shape (n_samples,).

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features_in_)
            The training columns (taken by name when fitted on a DataFrame), without missing values.

        Returns
        -------
        ndarray, shape (n_samples,)
            ``intercept_ + X @ coef_``: the log-odds of the event.

        Raises
        ------
        ValueError
            If ``X`` lacks a training column or has the wrong number of columns.

        Examples
        --------
        >>> X = pd.DataFrame({"clin__x": [0, 0, 1, 1, 2, 2]})
        >>> model = LogisticModel().fit(X, [0, 1, 1, 0, 1, 1])
        >>> model.decision_function(X).round(3)
        array([-0.417, -0.417,  0.874,  0.874,  2.166,  2.166])
        """
        values = self._values(X)
        return self.intercept_ + values @ self.coef_

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of (no event, event), shape (n_samples, 2).

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features_in_)
            The training columns (taken by name when fitted on a DataFrame), without missing values.

        Returns
        -------
        ndarray, shape (n_samples, 2)
            ``1 - p`` and ``p``, the inverse logit of :meth:`decision_function`.

        Raises
        ------
        ValueError
            If ``X`` lacks a training column or has the wrong number of columns.

        Examples
        --------
        >>> X = pd.DataFrame({"clin__x": [0, 0, 1, 1, 2, 2]})
        >>> model = LogisticModel().fit(X, [0, 1, 1, 0, 1, 1])
        >>> model.predict_proba(X.iloc[[0, 2, 4]]).round(3)
        array([[0.603, 0.397],
               [0.294, 0.706],
               [0.103, 0.897]])
        """
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """Class 1 where the event probability is at least 0.5.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features_in_)
            The training columns (taken by name when fitted on a DataFrame), without missing values.

        Returns
        -------
        ndarray of int, shape (n_samples,)
            1 or 0.

        Raises
        ------
        ValueError
            If ``X`` lacks a training column or has the wrong number of columns.

        Examples
        --------
        >>> X = pd.DataFrame({"clin__x": [0, 0, 1, 1, 2, 2]})
        >>> model = LogisticModel().fit(X, [0, 1, 1, 0, 1, 1])
        >>> model.predict(X)
        array([0, 0, 1, 1, 1, 1])
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def odds_ratios(self) -> pd.DataFrame:
        """Coefficient table: ``coef``, ``se``, ``z``, ``p_value``, ``odds_ratio``, ``lower``, ``upper`` (Wald
        interval of the odds ratio at ``confidence``), one row per feature plus ``(Intercept)``; R's
        ``summary(glm)$coefficients`` and ``exp(confint.default(glm))``.

        Returns
        -------
        pandas.DataFrame
            Index ``term`` (``(Intercept)`` then the features); columns ``coef``, ``se``, ``z``, ``p_value`` (two-sided
            Wald), ``odds_ratio`` (``exp(coef)``), ``lower`` and ``upper``.

        Examples
        --------
        >>> X = pd.DataFrame({"clin__x": [0, 0, 1, 1, 2, 2]})
        >>> model = LogisticModel().fit(X, [0, 1, 1, 0, 1, 1])
        >>> model.odds_ratios().loc["clin__x", ["odds_ratio", "lower", "upper"]].round(3).tolist()
        [3.639, 0.279, 47.394]
        """
        check_is_fitted(self, "coef_")
        coef = np.concatenate([[self.intercept_], self.coef_])
        se = np.sqrt(np.diag(self.cov_))
        z = coef / se
        q = norm.ppf(0.5 + self.confidence / 2)
        return pd.DataFrame({"coef": coef, "se": se, "z": z, "p_value": 2 * norm.sf(np.abs(z)),
                             "odds_ratio": np.exp(coef), "lower": np.exp(coef - q * se),
                             "upper": np.exp(coef + q * se)},
                            index=pd.Index(["(Intercept)", *self._columns], name="term"))
