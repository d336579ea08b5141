"""The LASSO-logistic solver as it was before issue 19 (commit 8453b9f), frozen for
``lasso_logistic_speed.py``'s side-by-side timings: NumPy proximal Newton steps with the full ``p x p`` Gram matrix
rebuilt at every step, a numba-compiled coordinate-descent loop over every feature, no screening. Not imported by
the package.

Original module docstring: LASSO (elastic-net) logistic feature selection for a binary endpoint, the penalty chosen
by cross-validation (lambda-min or 1-SE), as ``glmnet::cv.glmnet(family = "binomial")``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.model_selection import StratifiedKFold

from multisurv._validation import check_consistent_length
from multisurv.exceptions import ConvergenceWarning
from multisurv.selection._logistic import check_binary_y
from multisurv.selection.lasso_cox import _fit_standardisation, _impute

__all__ = ["LassoLogisticSelector", "logistic_path"]

_OWNER = "LassoLogisticSelector"
_PROB_MIN = 1e-5  # glmnet clamps held-out probabilities to [1e-5, 1 - 1e-5] for the CV deviance


def _cd_passes(gram, corr, diag, beta, g_beta, l1, l2, tol, passes, max_iter):
    """Cyclic coordinate descent on one weighted least-squares problem (covariance updates), in place on ``beta``
    and ``g_beta = gram @ beta``; passes over the active set until the largest weighted squared change is below
    ``tol``, then a full pass to confirm. Returns the running pass count."""
    p = beta.shape[0]
    active = np.ones(p, dtype=np.bool_)
    while passes < max_iter:
        passes += 1
        max_change = 0.0
        for j in range(p):
            if not active[j] or diag[j] + l2 <= 0.0:  # a column constant in these rows keeps a coefficient of 0
                continue
            old = beta[j]
            g = corr[j] - g_beta[j] + diag[j] * old
            size = abs(g) - l1
            new = (np.sign(g) * size if size > 0.0 else 0.0) / (diag[j] + l2)
            if new != old:
                delta = new - old
                beta[j] = new
                for i in range(p):
                    g_beta[i] += gram[i, j] * delta
                change = diag[j] * delta * delta
                if change > max_change:
                    max_change = change
        if max_change < tol:
            if active.all():
                break
            active[:] = True  # confirm on a full pass
        else:
            any_active = False
            for j in range(p):
                active[j] = beta[j] != 0.0
                any_active = any_active or active[j]
            if not any_active:
                active[:] = True
    return passes


try:  # numba (installed with the 'explain' extra, as SHAP's dependency) compiles the loop: 20-100x faster
    import numba as _numba

    _coordinate_descent = _numba.njit(cache=False, nogil=True)(_cd_passes)
except ImportError:  # pure Python, the same operations in the same order
    _coordinate_descent = _cd_passes


def logistic_path(Z: np.ndarray, y: np.ndarray, alphas: np.ndarray, *, l1_ratio: float = 1.0, tol: float = 1e-10,
                  max_iter: int = 100_000) -> tuple[np.ndarray, np.ndarray, bool]:
    """Elastic-net logistic coefficients along a decreasing penalty path (warm starts), glmnet's objective.

    Minimises ``-l(b0, beta) / n + alpha * (l1_ratio * |beta|_1 + (1 - l1_ratio) / 2 * |beta|_2^2)`` with ``l``
    the Bernoulli log-likelihood and an unpenalised intercept, by proximal Newton steps (iteratively reweighted
    least squares) solved by cyclic coordinate descent, as glmnet does.

    Parameters
    ----------
    Z : ndarray, shape (n_samples, n_features)
        Design (standardised by the caller).
    y : ndarray of 0/1, shape (n_samples,)
    alphas : ndarray
        Penalties, decreasing.
    l1_ratio : float, default=1.0
    tol : float, default=1e-10
        Convergence when the largest weighted squared coefficient change ``w_j * delta_j^2`` is below ``tol``
        (glmnet's ``thresh`` rule).
    max_iter : int, default=100000
        Coordinate passes in total.

    Returns
    -------
    intercepts : ndarray, shape (n_alphas,)
    coefs : ndarray, shape (n_features, n_alphas)
    converged : bool

    Examples
    --------
    >>> Z = np.array([[-1.0], [-0.5], [0.5], [1.0]])
    >>> b0, coef, ok = logistic_path(Z, np.array([0, 1, 0, 1.0]), np.array([10.0, 1e-3]))
    >>> float(coef[0, 0]), ok
    (0.0, True)
    """
    n, p = Z.shape
    ybar = y.mean()
    b0 = np.log(ybar / (1 - ybar))
    beta = np.zeros(p)
    intercepts = np.empty(alphas.size)
    coefs = np.zeros((p, alphas.size))
    passes = 0
    converged = True
    for k, alpha in enumerate(alphas):
        l1, l2 = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
        for _outer in range(100):
            eta = b0 + Z @ beta
            prob = 1.0 / (1.0 + np.exp(-eta))
            w = np.maximum(prob * (1.0 - prob), 1e-5)
            z = eta + (y - prob) / w  # working response
            # Weighted least squares with an unpenalised intercept: centre on the weighted means, then coordinate
            # descent on the Gram matrix (covariance updates, O(p) per coordinate).
            sw = w.sum()
            zmean = Z.T @ w / sw
            Zc = Z - zmean
            gram = (Zc * w[:, None]).T @ Zc / n
            corr = Zc.T @ (w * (z - w @ z / sw)) / n
            diag = np.diag(gram).copy()
            beta_old, b0_old = beta.copy(), b0
            g_beta = gram @ beta
            passes = _coordinate_descent(gram, corr, diag, beta, g_beta, float(l1), float(l2), float(tol), passes,
                                         int(max_iter))
            b0 = float(w @ z / sw - zmean @ beta)
            change = max(np.max(diag * (beta - beta_old) ** 2, initial=0.0), (b0 - b0_old) ** 2 * sw / n)
            if change < tol:
                break
        else:
            converged = False
        if passes >= max_iter:
            converged = False
        intercepts[k] = b0
        coefs[:, k] = beta
    return intercepts, coefs, converged


class LassoLogisticSelector:
    """The three methods of the old selector that ``lasso_logistic_speed.py`` swaps into the current
    :class:`multisurv.selection.lasso_logistic.LassoLogisticSelector` (``fit``, ``_path``, ``_cross_validate``);
    the rest of the class did not change, so it is not copied here."""

    def _path(self, Z: np.ndarray, y: np.ndarray, alphas: np.ndarray, where: str):
        b0, coef, ok = logistic_path(Z, y, alphas, l1_ratio=self.l1_ratio, tol=self.tol, max_iter=self.max_iter)
        if not ok:
            warnings.warn(
                f"{_OWNER}: coordinate descent did not converge on {where} within max_iter={self.max_iter}. Raise "
                "'max_iter' or 'alpha_min_ratio', or loosen 'tol'.",
                category=ConvergenceWarning, stacklevel=3,
            )
        return b0, coef

    def fit(self, X: pd.DataFrame | ArrayLike, y: ArrayLike) -> LassoLogisticSelector:
        """Fit imputation, scaling and the penalised logistic path; choose the penalty and the features.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
            Features; NaN is median-imputed.
        y : array-like of 0/1 or bool, shape (n_samples,)

        Returns
        -------
        self

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * X["a"]))
        >>> sel = LassoLogisticSelector(alpha=0.1).fit(X, y)  # a fixed penalty: no cross-validation
        >>> sel.selected_features_
        ['a']
        """
        self._check_params()
        frame = self._start_fit(X)
        yy = check_binary_y(y, where=f"{_OWNER}.fit")
        check_consistent_length(X=frame, y=yy)
        values = frame.to_numpy(dtype=float)
        self.medians_, self.mean_, self.scale_, usable = _fit_standardisation(values)
        Z = (_impute(values, self.medians_) - self.mean_) / self.scale_
        coef = np.zeros(values.shape[1])
        self.cv_results_ = None
        if not usable.any():
            self.alphas_, self.alpha_, self.intercept_ = np.array([np.inf]), float("inf"), float(np.log(yy.mean() / (1 - yy.mean())))
        else:
            Zu = Z[:, usable]
            alpha_max = float(np.abs(Zu.T @ (yy - yy.mean())).max() / yy.size / self.l1_ratio)
            if self.alpha == "cv":
                self._check_folds(yy)
                alphas = np.geomspace(alpha_max, alpha_max * self.alpha_min_ratio, int(self.n_alphas))
                b0, path = self._path(Zu, yy, alphas, "the full training data")
                path[:, 0] = 0.0  # exactly zero at alpha_max (rounding can leave 1e-17 there)
                self.cv_results_ = self._cross_validate(values[:, usable], yy, alphas)
                self.cv_results_["n_nonzero"] = np.count_nonzero(path, axis=0)
                idx = self._choose(self.cv_results_)
            else:
                target = float(self.alpha)
                alphas = (np.geomspace(alpha_max, target, int(self.n_alphas)) if target < alpha_max
                          else np.array([target]))
                b0, path = self._path(Zu, yy, alphas, "the full training data")
                idx = alphas.size - 1
            self.alphas_, self.alpha_, self.intercept_ = alphas, float(alphas[idx]), float(b0[idx])
            coef[usable] = path[:, idx]
        self.coef_ = coef
        self._finish_fit(coef != 0)
        if not self.selected_features_:
            warnings.warn(
                f"{_OWNER} selected no feature at alpha={self.alpha_:.4g}. Pass a smaller float 'alpha' or "
                "rule='min' to keep some.",
                category=ConvergenceWarning, stacklevel=2,
            )
        return self

    def _cross_validate(self, values: np.ndarray, y: np.ndarray, alphas: np.ndarray,
                        folds: list[tuple[np.ndarray, np.ndarray]] | None = None) -> pd.DataFrame:
        if folds is None:
            self._check_folds(y)
            splitter = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
            folds = list(splitter.split(np.zeros((y.size, 1)), y))
        dev = np.empty((len(folds), alphas.size))
        sizes = np.empty(len(folds))
        for k, (train, test) in enumerate(folds):
            medians, mean, scale, usable = _fit_standardisation(values[train])
            Z = (_impute(values, medians) - mean) / scale
            Z[:, ~usable] = 0.0
            b0, path = self._path(Z[train], y[train], alphas, f"fold {k + 1} of cv={len(folds)}")
            prob = 1.0 / (1.0 + np.exp(-(b0 + Z[test] @ path)))
            prob = np.clip(prob, _PROB_MIN, 1 - _PROB_MIN)
            yt = y[test][:, None]
            dev[k] = (-2 * (yt * np.log(prob) + (1 - yt) * np.log(1 - prob))).mean(axis=0)
            sizes[k] = test.size
        weights = sizes / sizes.sum()
        mean = weights @ dev
        se = np.sqrt((weights @ (dev - mean) ** 2) / (len(folds) - 1))
        table = {"alpha": alphas, "n_nonzero": np.zeros(alphas.size, dtype=int), "mean_deviance": mean, "se_deviance": se}
        table.update({f"split{k}_deviance": dev[k] for k in range(len(folds))})
        return pd.DataFrame(table)
