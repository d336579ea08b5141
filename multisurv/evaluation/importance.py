"""Feature importance of a survival model: standardised Cox coefficients, permutation importance, SHAP values."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from multisurv._validation import check_param, check_survival_y

__all__ = ["LinearRisk", "cindex_scorer", "permutation_importance_cindex", "shap_importance",
           "standardised_coefficients"]


def standardised_coefficients(coef: Mapping[str, float], X: pd.DataFrame) -> pd.DataFrame:
    """Cox coefficients per standard deviation of the development data, and the hazard ratio per SD.

    Parameters
    ----------
    coef : mapping
        Coefficient per feature (log hazard ratio per unit).
    X : pandas.DataFrame
        Development data with those columns (NaN ignored); its standard deviations (ddof=1) scale the coefficients.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature, coef, sd, std_coef, hr_per_sd``, sorted by ``|std_coef|``, largest first.

    Notes
    -----
    A Cox model refitted on z-scored features has exactly ``coef * sd`` as coefficients (the partial likelihood
    is scale equivariant), so the standardised coefficients compare features on one scale without refitting.

    Examples
    --------
    >>> standardised_coefficients({"a": 0.5, "b": -2.0}, pd.DataFrame({"a": [0.0, 2.0], "b": [0.0, 0.1]}))["feature"].tolist()
    ['a', 'b']
    """
    missing = [c for c in coef if c not in X]
    if missing:
        raise ValueError(f"'X' lacks the column(s) {', '.join(repr(c) for c in missing)} named in 'coef'.")
    names = list(coef)
    sd = X.loc[:, names].astype(float).std(ddof=1).to_numpy()
    b = np.array([float(coef[n]) for n in names])
    frame = pd.DataFrame({"feature": names, "coef": b, "sd": sd, "std_coef": b * sd, "hr_per_sd": np.exp(b * sd)})
    return frame.reindex(frame["std_coef"].abs().sort_values(ascending=False).index).reset_index(drop=True)


class LinearRisk(BaseEstimator):
    """A fitted linear risk score ``sum_j coef_j x_j``, a missing value set to its development mean.

    Wraps a published formula (for example the late-fusion model's ``coef_``) as an estimator, so scikit-learn's
    permutation importance can use it. ``fit`` only records the development means.

    Parameters
    ----------
    coef : mapping of str to float
        Feature name -> coefficient (in the order of the terms); must not be empty.

    Examples
    --------
    >>> model = LinearRisk(coef={"a": 2.0}).fit(pd.DataFrame({"a": [1.0, 3.0]}))
    >>> model.predict(pd.DataFrame({"a": [1.0, None]})).tolist()
    [2.0, 4.0]
    """

    def __init__(self, *, coef: Mapping[str, float] | None = None):
        self.coef = coef

    def fit(self, X: pd.DataFrame, y=None) -> "LinearRisk":
        """Record the development means used for missing values.

        Parameters
        ----------
        X : DataFrame, shape (n_samples, n_features)
            Development rows; must hold every feature of ``coef``.
        y : ignored
            Present for scikit-learn's API.

        Returns
        -------
        LinearRisk
            ``self``, with ``feature_names_in_`` and ``means_`` (the development mean of each feature).

        Raises
        ------
        ValueError
            If ``coef`` is empty.

        Examples
        --------
        >>> LinearRisk(coef={"a": 2.0}).fit(pd.DataFrame({"a": [1.0, 3.0]})).means_.to_dict()
        {'a': 2.0}
        """
        if not self.coef:
            raise ValueError("The 'coef' parameter of LinearRisk must be a non-empty mapping of feature -> coefficient.")
        self.feature_names_in_ = np.array(list(self.coef), dtype=object)
        self.means_ = pd.DataFrame(X).loc[:, list(self.coef)].astype(float).mean()
        return self

    def predict(self, X) -> np.ndarray:
        """Risk (higher = worse) of each row.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
            A DataFrame holding the features of ``coef``, or an array with exactly those columns in that order.

        Returns
        -------
        ndarray, shape (n_samples,)
            ``sum_j coef_j x_j`` with a missing value set to its development mean.

        Examples
        --------
        >>> model = LinearRisk(coef={"a": 2.0, "b": -1.0}).fit(pd.DataFrame({"a": [1.0, 3.0], "b": [0.0, 2.0]}))
        >>> model.predict(np.array([[1.0, 1.0], [np.nan, 0.0]])).tolist()
        [1.0, 4.0]
        """
        frame = pd.DataFrame(X, columns=list(self.coef)) if not isinstance(X, pd.DataFrame) else X
        filled = frame.loc[:, list(self.coef)].astype(float).fillna(self.means_)
        return filled.to_numpy() @ np.array([float(v) for v in self.coef.values()])


def cindex_scorer(estimator, X, y) -> float:
    """Harrell's C of ``estimator.predict(X)`` (higher = worse) on ``y``: a scorer for scikit-learn.

    Parameters
    ----------
    estimator : fitted estimator
        Has ``predict(X)`` returning risk (higher = worse).
    X : DataFrame or array-like, shape (n_samples, n_features)
        Passed to ``estimator.predict``.
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).

    Returns
    -------
    float
        Harrell's C (:func:`~multisurv.evaluation.concordance.concordance` without bootstrap).

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    >>> cindex_scorer(LinearRisk(coef={"a": -1.0}).fit(X), X, make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]))
    1.0
    """
    from multisurv.evaluation.concordance import concordance

    return concordance(check_survival_y(y), np.asarray(estimator.predict(X), dtype=float), n_bootstrap=0).cindex


def permutation_importance_cindex(estimator, X: pd.DataFrame, y: np.ndarray, *, n_repeats: int = 20,
                                  random_state=None) -> pd.DataFrame:
    """Drop in Harrell's C when each feature is permuted (scikit-learn's ``permutation_importance``).

    Parameters
    ----------
    estimator : fitted estimator with ``predict`` returning risk (higher = worse)
    X : pandas.DataFrame
        Patients to evaluate on (preferably held out from fitting).
    y : structured array
        Their outcomes.
    n_repeats : int, default=20
        Permutations per feature.
    random_state : int or None
        Seeds the permutations.

    Returns
    -------
    pandas.DataFrame
        Columns ``feature, importance_mean, importance_std, baseline_cindex``, largest importance first.

    See Also
    --------
    sklearn.inspection.permutation_importance : computes it.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> X = pd.DataFrame({"a": [4.0, 3.0, 2.0, 1.0], "b": [1.0, 1.0, 1.0, 1.0]})
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> table = permutation_importance_cindex(LinearRisk(coef={"a": 1.0, "b": 1.0}).fit(X), X, y, random_state=0)
    >>> float(table.loc[table["feature"] == "b", "importance_mean"].iloc[0])
    0.0
    """
    from sklearn.inspection import permutation_importance

    check_param("permutation_importance_cindex", "n_repeats", n_repeats, kind="int", low=1)
    y = check_survival_y(y)
    if len(X) != len(y):
        raise ValueError(f"'X' has {len(X)} samples but 'y' has {len(y)}.")
    result = permutation_importance(estimator, X, y, scoring=cindex_scorer, n_repeats=n_repeats,
                                    random_state=random_state)
    frame = pd.DataFrame({"feature": list(X.columns), "importance_mean": result.importances_mean,
                          "importance_std": result.importances_std,
                          "baseline_cindex": cindex_scorer(estimator, X, y)})
    return frame.sort_values("importance_mean", ascending=False, kind="mergesort").reset_index(drop=True)


def shap_importance(estimator, X: pd.DataFrame, *, background: pd.DataFrame, max_evals: int | None = None,
                    random_state=None) -> tuple[pd.DataFrame, np.ndarray]:
    """SHAP values of a model's risk (for non-linear models such as random survival forests), and mean |SHAP|.

    Parameters
    ----------
    estimator : fitted estimator with ``predict`` returning risk
    X : pandas.DataFrame
        Patients to explain.
    background : pandas.DataFrame
        Development patients the features are masked with (never the explained cohort's own outcomes).
    max_evals : int, optional
        Model evaluations per patient for the permutation explainer; default ``2 * n_features + 1``, its minimum.
    random_state : int or None
        Seeds the explainer.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray)
        ``feature, mean_abs_shap`` (largest first) and the SHAP matrix, shape (n_patients, n_features).

    Raises
    ------
    ImportError
        When ``shap`` is not installed: ``pip install "multisurv[explain]"``.

    Notes
    -----
    Uses ``shap.PermutationExplainer`` on the risk function with an independent masker of the background; each
    patient's SHAP values add up to its risk minus the mean background risk (checked by the tests).

    Examples
    --------
    Skipped in the doctests: importing shap compiles its numba functions (about 6 s). A linear risk
    ``2 a - c``: feature ``b`` gets no SHAP value.

    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    >>> model = LinearRegression().fit(X, 2 * X["a"] - X["c"])
    >>> table, values = shap_importance(model, X.iloc[:10], background=X, random_state=0)  # doctest: +SKIP
    >>> table.round(3)  # doctest: +SKIP
      feature  mean_abs_shap
    0       a          1.959
    1       c          0.504
    2       b          0.000
    >>> values.shape  # doctest: +SKIP
    (10, 3)
    """
    from multisurv._optional import require

    shap = require("shap", extra="explain")
    n_features = X.shape[1]
    masker = shap.maskers.Independent(background, max_samples=min(len(background), 100))
    explainer = shap.PermutationExplainer(lambda data: estimator.predict(pd.DataFrame(data, columns=X.columns)),
                                          masker, seed=random_state)
    values = explainer(X, max_evals=max_evals or 2 * n_features + 1, silent=True)
    matrix = np.asarray(values.values, dtype=float)
    frame = pd.DataFrame({"feature": list(X.columns), "mean_abs_shap": np.abs(matrix).mean(axis=0)})
    return frame.sort_values("mean_abs_shap", ascending=False, kind="mergesort").reset_index(drop=True), matrix
