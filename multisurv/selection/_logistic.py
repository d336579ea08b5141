"""Unpenalised logistic regression by Newton-Raphson, and the binary-outcome check, shared by the logistic steps.

scikit-learn's ``LogisticRegression`` has no unpenalised Wald covariance, so the multivariable model, stepwise
selection, the calibration slope and the bootstrap validation fit with this one routine (the same iteration
as R's ``glm``; the tests compare it with ``glm`` and ``rms::lrm``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from multisurv.exceptions import ConvergenceWarning

__all__ = ["LogisticFit", "check_binary_y", "fit_logistic", "log_likelihood"]


@dataclass(frozen=True)
class LogisticFit:
    """One maximum-likelihood logistic fit.

    Attributes
    ----------
    coef : ndarray, shape (n_columns,)
        Coefficients of the design columns (the first is the intercept when the design has one).
    cov : ndarray, shape (n_columns, n_columns)
        Inverse of the observed information at ``coef`` (the Wald covariance).
    log_likelihood : float
    n_iter : int
    converged : bool
    """

    coef: np.ndarray
    cov: np.ndarray
    log_likelihood: float
    n_iter: int
    converged: bool


def check_binary_y(y: ArrayLike, *, name: str = "y", where: str = "") -> np.ndarray:
    """A binary outcome as a float 0/1 vector; refuses other values, NaN and a single class.

    Examples
    --------
    >>> check_binary_y([True, False, 1, 0]).tolist()
    [1.0, 0.0, 1.0, 0.0]
    """
    arr = np.asarray(y)
    suffix = f" in {where}" if where else ""
    if arr.ndim != 1:
        raise ValueError(f"'{name}' must be a 1-D binary outcome (0/1 or bool){suffix}; got shape {arr.shape}.")
    try:
        values = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"'{name}' must be a binary outcome coded 0/1 or bool{suffix}; got dtype {arr.dtype}.") from None
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in np.unique(arr[bad])[:5])
        raise ValueError(
            f"'{name}' must be a binary outcome coded 0/1 or bool{suffix}; {int(bad.sum())} value(s) are not: {shown}. "
            "Recode the outcome (1 = event) or drop those patients."
        )
    n_events = int(values.sum())
    if n_events in (0, values.size):
        kind = "event" if n_events == 0 else "non-event"
        raise ValueError(
            f"'{name}' has no {kind}{suffix} (all {values.size} patients in one class), so no model or AUC can be "
            "estimated. Use a larger cohort or fold."
        )
    return values


def log_likelihood(y: np.ndarray, eta: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Bernoulli log-likelihood at linear predictor ``eta`` (stable for large ``|eta|``).

    Examples
    --------
    >>> round(log_likelihood(np.array([1.0, 0.0]), np.zeros(2)), 6)
    -1.386294
    """
    terms = y * eta - np.logaddexp(0.0, eta)
    return float(terms.sum() if weights is None else (weights * terms).sum())


def fit_logistic(X: np.ndarray, y: np.ndarray, *, offset: np.ndarray | None = None, weights: np.ndarray | None = None,
                 tol: float = 1e-10, max_iter: int = 50, where: str = "the data") -> LogisticFit:
    """Maximum-likelihood logistic regression (Newton-Raphson with step halving).

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_columns)
        The design, intercept column included if wanted.
    y : ndarray, shape (n_samples,)
        0/1 outcome.
    offset : ndarray, optional
        Fixed part of the linear predictor (coefficient 1), as R's ``offset()``.
    weights : ndarray, optional
        Case weights (e.g. inverse-probability-of-censoring weights).
    tol : float, default=1e-10
        Convergence when the relative change of the deviance is below ``tol`` (R's ``glm`` uses 1e-8).
    max_iter : int, default=50
    where : str
        Names the data in the warning.

    Returns
    -------
    LogisticFit
        With ``converged=False`` and a ConvergenceWarning when the iterations ran out or the coefficients diverge
        (complete separation).

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [0, 0, 1, 1, 2, 2]])
    >>> fit = fit_logistic(X, np.array([0, 1, 1, 0, 1, 1.0]))   # R's glm: -0.4172832, 1.2917097
    >>> [round(float(b), 4) for b in fit.coef]
    [-0.4173, 1.2917]
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    coef = np.zeros(p)
    ll = log_likelihood(y, off, w)
    converged = False
    it = 0
    info = np.eye(p)
    for it in range(1, max_iter + 1):
        eta = off + X @ coef
        mu = 1.0 / (1.0 + np.exp(-eta))
        grad = X.T @ (w * (y - mu))
        info = (X * (w * mu * (1.0 - mu))[:, None]).T @ X
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        new_ll = -np.inf
        for _ in range(30):  # step halving keeps the likelihood from decreasing
            new_coef = coef + step
            new_ll = log_likelihood(y, off + X @ new_coef, w)
            if new_ll >= ll - 1e-12 * abs(ll):
                break
            step = step / 2.0
        change = abs(new_ll - ll) / (abs(new_ll) + 0.1)
        coef, ll = new_coef, new_ll
        if change < tol:
            converged = True
            break
    eta = off + X @ coef
    mu = 1.0 / (1.0 + np.exp(-eta))
    info = (X * (w * mu * (1.0 - mu))[:, None]).T @ X
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full((p, p), np.nan)
    if not converged or np.any(np.abs(coef) > 30):
        converged = False
        warnings.warn(
            f"The logistic model did not converge on {where} after {it} iterations (largest |coefficient| "
            f"{np.abs(coef).max():.3g}); the outcome may be separated by the predictors. Drop or merge the "
            "separating variables, or use a penalised model.",
            category=ConvergenceWarning, stacklevel=2,
        )
    return LogisticFit(coef=coef, cov=cov, log_likelihood=ll, n_iter=it, converged=converged)
