"""LASSO (elastic-net) logistic feature selection for a binary endpoint, the penalty chosen by cross-validation
(lambda-min or 1-SE), as ``glmnet::cv.glmnet(family = "binomial")``.

The path solver (:func:`logistic_path`) takes proximal Newton steps solved by coordinate descent, screened by the
sequential strong rule with KKT checks; with numba installed the whole path is one compiled function
(:func:`_path_loops`), else the same steps run as NumPy array expressions (:func:`_path_numpy`). A whole-pipeline
bootstrap refits it thousands of times: ``experiments/benchmarks/lasso_logistic_speed.py`` measures it against the
solver before screening and compilation (issue 19).
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from multisurv._validation import check_consistent_length, check_param
from multisurv.exceptions import ConvergenceWarning
from multisurv.selection._base import ColumnSelectorMixin
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
                    g_beta[i] += gram[j, i] * delta  # the Gram matrix is symmetric: a contiguous row
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


def _eta(Z, b0, beta):
    """``b0 + Z @ beta`` from the non-zero coefficients only."""
    nonzero = np.flatnonzero(beta)
    return np.full(Z.shape[0], b0) if nonzero.size == 0 else b0 + Z[:, nonzero] @ beta[nonzero]


def _path_numpy(Z, y, alphas, l1_ratio, tol, max_iter, screen):
    """:func:`logistic_path` in NumPy array expressions, run when numba is not installed (:func:`_path_loops`,
    the compiled version, takes the same steps in the same order, written as loops)."""
    n, p = Z.shape
    n_alphas = alphas.shape[0]
    ybar = y.mean()
    b0 = np.log(ybar / (1.0 - ybar))
    beta = np.zeros(p)
    intercepts = np.empty(n_alphas)
    coefs = np.zeros((p, n_alphas))
    ever = np.zeros(p, dtype=np.bool_)
    strong = np.ones(p, dtype=np.bool_)
    score = np.abs(Z.T @ (y - ybar)) / n  # |log-likelihood gradient| / n at the previous solution
    previous = alphas[0]
    passes = 0
    converged = True
    for k in range(n_alphas):
        alpha = alphas[k]
        l1, l2 = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
        if screen:  # sequential strong rule; the KKT check below adds any feature it wrongly left out
            strong = ever | (score >= l1_ratio * (2.0 * alpha - previous))
            strong[np.argmax(score)] = True  # never empty
        newton_converged = False
        scored = False
        for _outer in range(100):
            eta = _eta(Z, b0, beta)
            prob = 1.0 / (1.0 + np.exp(-eta))
            w = np.maximum(prob * (1.0 - prob), 1e-5)
            z = eta + (y - prob) / w  # working response
            sw = w.sum()
            zbar = (w @ z) / sw
            zc = z - zbar
            beta_old = beta.copy()
            b0_old = b0
            scored = False
            while True:
                # Weighted least squares with an unpenalised intercept: centre the screened columns on their
                # weighted means, then coordinate descent on their Gram matrix (covariance updates).
                idx = np.flatnonzero(strong)
                Zs = Z[:, idx]
                zmean = (w @ Zs) / sw
                Zc = Zs - zmean
                Zw = Zc * w.reshape(-1, 1)
                gram = (Zw.T @ Zc) / n
                corr = (Zc.T @ (w * zc)) / n
                diag = np.diag(gram).copy()
                b = beta[idx]
                g_b = gram @ b
                passes = _coordinate_descent(gram, corr, diag, b, g_b, l1, l2, tol, passes, max_iter)
                beta[idx] = b
                if idx.shape[0] == p or passes >= max_iter:
                    break
                # KKT check of the features left out: a zero coefficient is optimal iff |gradient| <= l1. The
                # residual's weighted sum is 0, so a left-out column needs no centring here.
                score = np.abs(Z.T @ (w * (zc - Zc @ b))) / n
                scored = True
                violators = ~strong & (score > l1)
                if not violators.any():
                    break
                strong = strong | violators
            b0 = zbar - zmean @ beta[idx]
            change = max(float(np.max(diag * (beta[idx] - beta_old[idx]) ** 2, initial=0.0)),
                         (b0 - b0_old) ** 2 * sw / n)
            if change < tol:
                newton_converged = True
                break
        if not newton_converged or passes >= max_iter:
            converged = False
        intercepts[k] = b0
        coefs[:, k] = beta
        ever = ever | (beta != 0.0)
        if screen and not scored:  # the last KKT check's gradient serves the next strong rule; else compute it
            score = np.abs(Z.T @ (y - 1.0 / (1.0 + np.exp(-_eta(Z, b0, beta))))) / n
        previous = alpha
    return intercepts, coefs, converged


def _path_loops(Z, y, alphas, l1_ratio, tol, max_iter, screen):
    """:func:`logistic_path`'s algorithm written as loops, for numba (which compiles loops much faster than the
    array expressions of :func:`_path_numpy`, the version run without numba); the same steps in the same order."""
    n, p = Z.shape
    n_alphas = alphas.shape[0]
    ybar = 0.0
    for i in range(n):
        ybar += y[i]
    ybar /= n
    b0 = np.log(ybar / (1.0 - ybar))
    beta = np.zeros(p)
    intercepts = np.empty(n_alphas)
    coefs = np.zeros((p, n_alphas))
    ever = np.zeros(p, dtype=np.bool_)
    strong = np.ones(p, dtype=np.bool_)
    eta = np.empty(n)
    w = np.empty(n)
    zc = np.empty(n)
    resid = np.empty(n)
    score = np.empty(p)
    for i in range(n):
        resid[i] = y[i] - ybar
    _abs_gradient(Z, resid, score)  # |log-likelihood gradient| / n at the previous solution
    previous = alphas[0]
    passes = 0
    converged = True
    for k in range(n_alphas):
        alpha = alphas[k]
        l1, l2 = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
        if screen:  # sequential strong rule; the KKT check below adds any feature it wrongly left out
            threshold = l1_ratio * (2.0 * alpha - previous)
            best = 0
            for j in range(p):
                strong[j] = ever[j] or score[j] >= threshold
                if score[j] > score[best]:
                    best = j
            strong[best] = True  # never empty
        newton_converged = False
        scored = False
        idx = np.flatnonzero(strong)
        diag = np.zeros(0)
        zmean = np.zeros(0)
        for _outer in range(100):
            _linear_predictor(Z, b0, beta, eta)
            sw = 0.0
            swz = 0.0
            for i in range(n):
                prob = 1.0 / (1.0 + np.exp(-eta[i]))
                w[i] = max(prob * (1.0 - prob), 1e-5)
                zc[i] = eta[i] + (y[i] - prob) / w[i]  # working response
                sw += w[i]
                swz += w[i] * zc[i]
            zbar = swz / sw
            for i in range(n):
                zc[i] -= zbar
            beta_old = beta.copy()
            b0_old = b0
            scored = False
            while True:
                # weighted least squares with an unpenalised intercept: centre the screened columns on their
                # weighted means, then coordinate descent on their Gram matrix (covariance updates)
                idx = np.flatnonzero(strong)
                s = idx.shape[0]
                zmean = np.zeros(s)
                for i in range(n):
                    for a in range(s):
                        zmean[a] += w[i] * Z[i, idx[a]]
                for a in range(s):
                    zmean[a] /= sw
                ZcT = np.empty((s, n))  # the centred screened columns, one per row
                for i in range(n):
                    for a in range(s):
                        ZcT[a, i] = Z[i, idx[a]] - zmean[a]
                gram, corr = _weighted_gram(ZcT, w, zc)
                diag = np.empty(s)
                b = np.empty(s)
                for a in range(s):
                    diag[a] = gram[a, a]
                    b[a] = beta[idx[a]]
                g_b = np.zeros(s)
                for a in range(s):
                    for c in range(s):
                        g_b[a] += gram[a, c] * b[c]
                passes = _coordinate_descent(gram, corr, diag, b, g_b, l1, l2, tol, passes, max_iter)
                for a in range(s):
                    beta[idx[a]] = b[a]
                if s == p or passes >= max_iter:
                    break
                # KKT check of the features left out: a zero coefficient is optimal iff |gradient| <= l1 (the
                # residual's weighted sum is 0, so a left-out column needs no centring here)
                for i in range(n):
                    resid[i] = zc[i]
                for a in range(s):
                    for i in range(n):
                        resid[i] -= ZcT[a, i] * b[a]
                for i in range(n):
                    resid[i] *= w[i]
                _abs_gradient(Z, resid, score)
                scored = True
                violated = False
                for j in range(p):
                    if not strong[j] and score[j] > l1:
                        strong[j] = True
                        violated = True
                if not violated:
                    break
            b0 = zbar
            change = 0.0
            for a in range(idx.shape[0]):
                j = idx[a]
                b0 -= zmean[a] * beta[j]
                delta = diag[a] * (beta[j] - beta_old[j]) ** 2
                if delta > change:
                    change = delta
            change = max(change, (b0 - b0_old) ** 2 * sw / n)
            if change < tol:
                newton_converged = True
                break
        if not newton_converged or passes >= max_iter:
            converged = False
        intercepts[k] = b0
        for j in range(p):
            coefs[j, k] = beta[j]
            ever[j] = ever[j] or beta[j] != 0.0
        if screen and not scored:  # the last KKT check's gradient serves the next strong rule; else compute it
            _linear_predictor(Z, b0, beta, eta)
            for i in range(n):
                resid[i] = y[i] - 1.0 / (1.0 + np.exp(-eta[i]))
            _abs_gradient(Z, resid, score)
        previous = alpha
    return intercepts, coefs, converged


def _weighted_gram(ZcT, w, zc):
    """``gram = ZcT W ZcT.T / n`` and ``corr = ZcT W zc / n`` (``W = diag(w)``), as dot products of contiguous rows
    (compiled with reassociation allowed, so that the sums are vectorised)."""
    s, n = ZcT.shape
    gram = np.empty((s, s))
    corr = np.empty(s)
    Zw = np.empty((s, n))
    for a in range(s):
        total = 0.0
        for i in range(n):
            Zw[a, i] = ZcT[a, i] * w[i]
            total += Zw[a, i] * zc[i]
        corr[a] = total / n
    for a in range(s):
        for c in range(a, s):
            total = 0.0
            for i in range(n):
                total += Zw[a, i] * ZcT[c, i]
            gram[a, c] = total / n
            gram[c, a] = gram[a, c]
    return gram, corr


def _abs_gradient(Z, v, out):
    """``out = |Z.T @ v| / n`` (row by row: Z is C-contiguous)."""
    n, p = Z.shape
    for j in range(p):
        out[j] = 0.0
    for i in range(n):
        vi = v[i]
        for j in range(p):
            out[j] += Z[i, j] * vi
    for j in range(p):
        out[j] = abs(out[j]) / n


def _linear_predictor(Z, b0, beta, out):
    """``out = b0 + Z @ beta`` over the non-zero coefficients."""
    nonzero = np.flatnonzero(beta)
    for i in range(Z.shape[0]):
        total = b0
        for j in nonzero:
            total += Z[i, j] * beta[j]
        out[i] = total

def _compile(numba, cache: bool):
    """The compiled path (its loops and their helpers), cached on disk by numba when ``cache``."""
    global _coordinate_descent, _abs_gradient, _linear_predictor, _weighted_gram
    jit = numba.njit(cache=cache, nogil=True)
    _coordinate_descent, _abs_gradient, _linear_predictor = (  # the globals the compiled path calls
        jit(getattr(f, "py_func", f)) for f in (_cd_passes, _abs_gradient, _linear_predictor))
    _weighted_gram = numba.njit(cache=cache, nogil=True, fastmath={"reassoc"})(
        getattr(_weighted_gram, "py_func", _weighted_gram))
    return jit(getattr(_path_loops, "py_func", _path_loops))


_coordinate_descent = _cd_passes
_path_kernel = _path_numpy
try:  # numba (installed with the 'explain' extra, as SHAP's dependency) compiles the path
    import numba as _numba
except ImportError:  # NumPy array expressions, the coordinate-descent loop in pure Python
    pass
else:
    try:  # compiling takes a few seconds; numba's cache (__pycache__, else the user's cache folder) keeps it
        _path_kernel = _compile(_numba, cache=True)
    except RuntimeError:  # no writable cache location
        _path_kernel = _compile(_numba, cache=False)


def _standardisation(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`~multisurv.selection.lasso_cox._fit_standardisation` (medians, means, population sds, usable
    columns); without a NaN (a step in front imputed them), ``np.median`` gives the same medians as its
    ``np.nanmedian`` at a fraction of the time on thousands of columns."""
    if values.shape[0] == 0 or np.isnan(values).any():
        return _fit_standardisation(values)
    medians = np.median(values, axis=0)
    mean = values.mean(axis=0)
    scale = values.std(axis=0)
    usable = scale > 1e-12 * np.maximum(1.0, np.abs(mean))
    return medians, mean, np.where(usable, scale, 1.0), usable


def logistic_path(Z: np.ndarray, y: np.ndarray, alphas: np.ndarray, *, l1_ratio: float = 1.0, tol: float = 1e-10,
                  max_iter: int = 100_000, screen: bool = True) -> tuple[np.ndarray, np.ndarray, bool]:
    """Elastic-net logistic coefficients along a decreasing penalty path (warm starts), glmnet's objective.

    Minimises ``-l(b0, beta) / n + alpha * (l1_ratio * |beta|_1 + (1 - l1_ratio) / 2 * |beta|_2^2)`` with ``l``
    the Bernoulli log-likelihood and an unpenalised intercept, by proximal Newton steps (iteratively reweighted
    least squares) solved by cyclic coordinate descent, as glmnet does.

    Each penalty starts from the previous solution. With ``screen`` (the default) the coordinate descent runs on
    the features the sequential strong rule keeps (Tibshirani et al. 2012): those active at an earlier penalty and
    those whose log-likelihood gradient at the previous solution is at least ``l1_ratio * (2 alpha_k -
    alpha_{k-1})``; after it converges, the optimality (KKT) condition ``|gradient_j| <= l1_ratio * alpha`` of
    every feature left out is checked on the same weighted least-squares problem, and the descent resumes with
    any that violate it. So each Newton step solves the same problem as without screening, to the same
    tolerance, and the path agrees with ``screen=False`` within it. The Gram matrix of a step is built for the
    kept features only: ``O(n s^2)`` instead of ``O(n p^2)`` for ``s`` kept of ``p`` features.

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
    screen : bool, default=True
        Sequential strong rule with KKT checks (above); ``False`` runs every coordinate-descent pass over all the
        features, as before screening was added (the reference in the tests).

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
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.normal(size=(100, 40))
    >>> y = (rng.uniform(size=100) < 1 / (1 + np.exp(-2 * Z[:, 0]))).astype(float)
    >>> alphas = np.geomspace(0.2, 0.01, 10)
    >>> screened, full = logistic_path(Z, y, alphas), logistic_path(Z, y, alphas, screen=False)
    >>> bool(np.abs(screened[1] - full[1]).max() < 1e-6)
    True

    References
    ----------
    .. [1] Tibshirani, R., Bien, J., Friedman, J., Hastie, T., Simon, N., Taylor, J., Tibshirani, R. J. "Strong
       rules for discarding predictors in lasso-type problems", Journal of the Royal Statistical Society B 74(2),
       245-266, 2012.
    """
    Z = np.ascontiguousarray(Z, dtype=float)
    y = np.ascontiguousarray(y, dtype=float)
    alphas = np.ascontiguousarray(alphas, dtype=float)
    if Z.shape[1] == 0:  # the intercept alone
        return np.full(alphas.size, np.log(y.mean() / (1 - y.mean()))), np.zeros((0, alphas.size)), True
    intercepts, coefs, converged = _path_kernel(Z, y, alphas, float(l1_ratio), float(tol), int(max_iter),
                                                bool(screen))
    return intercepts, coefs, bool(converged)


class LassoLogisticSelector(ColumnSelectorMixin):
    """Select features with a LASSO (or elastic-net) logistic model for a binary endpoint.

    The features are median-imputed and standardised (population sd, as glmnet) in :meth:`fit`; the penalty is
    chosen on a path by stratified K-fold cross-validation of the binomial deviance; the selected features are
    those with a non-zero coefficient at the chosen penalty.

    Parameters
    ----------
    l1_ratio : float, default=1.0
        Elastic-net mixing in (0, 1] (glmnet's ``alpha``); 1 is the LASSO.
    alpha : "cv" or float, default="cv"
        Penalty (glmnet's ``lambda``): ``"cv"`` chooses it on the path; a float is fitted exactly (the path is run
        from the largest penalty down to it).
    cv : int, default=10
        Folds (stratified on the outcome), as cv.glmnet's default.
    n_alphas : int, default=50
    alpha_min_ratio : float, default=0.01
        Smallest penalty on the path as a fraction of the largest.
    rule : {"min", "1se"}, default="min"
        ``"min"``: lambda-min; ``"1se"``: the largest penalty within one standard error of the minimum.
    tol : float, default=1e-12
        Coordinate-descent tolerance: the largest weighted squared coefficient change of a pass (glmnet's
        ``thresh`` rule, not scaled by the null deviance). 1e-12 agrees with glmnet (thresh 1e-14) to about 1e-5.
    max_iter : int, default=100000
    random_state : int, RandomState instance or None

    Attributes
    ----------
    alphas_ : ndarray
    alpha_ : float
    coef_ : ndarray, shape (n_features_in_,)
        On the standardised scale; divide by ``scale_`` for the raw scale.
    intercept_ : float
    medians_, mean_, scale_ : ndarray
    support_ : ndarray of bool
    selected_features_ : list of str
    cv_results_ : pandas.DataFrame or None
        ``alpha``, ``n_nonzero``, ``mean_deviance``, ``se_deviance``, ``split<k>_deviance``.

    Notes
    -----
    The CV criterion is cv.glmnet's ``type.measure = "deviance"`` with ``grouped = TRUE``: per fold the mean of
    ``-2 (y log p + (1 - y) log(1 - p))`` over held-out patients (p clamped to [1e-5, 1 - 1e-5]); the mean over
    folds weighted by fold size, and its standard error ``sqrt(weighted variance / (K - 1))``.

    References
    ----------
    .. [1] Friedman, J., Hastie, T., Tibshirani, R. "Regularization paths for generalized linear models via
       coordinate descent", Journal of Statistical Software 33(1), 2010.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(300, 6)), columns=[f"clin__v{i}" for i in range(6)])
    >>> y = rng.uniform(size=300) < 1 / (1 + np.exp(-2 * X["clin__v0"]))
    >>> LassoLogisticSelector(rule="1se", random_state=0).fit(X, y).selected_features_
    ['clin__v0']
    """

    def __init__(self, *, l1_ratio: float = 1.0, alpha: float | Literal["cv"] = "cv", cv: int = 10,
                 n_alphas: int = 50, alpha_min_ratio: float = 0.01, rule: Literal["min", "1se"] = "min",
                 tol: float = 1e-12, max_iter: int = 100_000, random_state=None):
        self.l1_ratio = l1_ratio
        self.alpha = alpha
        self.cv = cv
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.rule = rule
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def _check_params(self) -> None:
        check_param(_OWNER, "l1_ratio", self.l1_ratio, kind="float", low=0, high=1, low_open=True)
        if not (isinstance(self.alpha, str) and self.alpha == "cv"):
            if isinstance(self.alpha, str):
                raise ValueError(f"The 'alpha' parameter of {_OWNER} must be 'cv' or a float in the range (0, inf). "
                                 f"Got {self.alpha!r} instead.")
            check_param(_OWNER, "alpha", self.alpha, kind="float", low=0, low_open=True)
        check_param(_OWNER, "cv", self.cv, kind="int", low=2)
        check_param(_OWNER, "n_alphas", self.n_alphas, kind="int", low=2)
        check_param(_OWNER, "alpha_min_ratio", self.alpha_min_ratio, kind="float", low=0, high=1, low_open=True,
                    high_open=True)
        check_param(_OWNER, "rule", self.rule, kind="option", options=("min", "1se"))
        check_param(_OWNER, "tol", self.tol, kind="float", low=0, low_open=True)
        check_param(_OWNER, "max_iter", self.max_iter, kind="int", low=1)

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
        # One BLAS thread: the matrices are small (patients x features), so more threads only add synchronisation,
        # which costs more than the arithmetic on a busy machine.
        with threadpool_limits(limits=1, user_api="blas"):
            self.medians_, self.mean_, self.scale_, usable = _standardisation(values)
            Z = (_impute(values, self.medians_) - self.mean_) / self.scale_
            coef = np.zeros(values.shape[1])
            self.cv_results_ = None
            if not usable.any():
                self.alphas_, self.alpha_ = np.array([np.inf]), float("inf")
                self.intercept_ = float(np.log(yy.mean() / (1 - yy.mean())))
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
            medians, mean, scale, usable = _standardisation(values[train])
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

    def _check_folds(self, y: np.ndarray) -> None:
        n_minority = int(min(y.sum(), y.size - y.sum()))
        if n_minority < self.cv:
            raise ValueError(
                f"{_OWNER} cannot run cv={self.cv} folds with only {n_minority} patient(s) in the smaller outcome "
                "class; each fold needs both classes. Lower 'cv' or pass a float 'alpha'."
            )

    def _choose(self, results: pd.DataFrame) -> int:
        mean = results["mean_deviance"].to_numpy()
        best = int(np.argmin(mean))
        if self.rule == "min":
            return best
        threshold = mean[best] + results["se_deviance"].to_numpy()[best]
        return int(np.flatnonzero(mean <= threshold)[0])

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of (no event, event) of the penalised model itself, shape (n_samples, 2).

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features_in_)
            All the training columns (taken by name when fitted on a DataFrame); NaN is imputed with the training
            medians and the columns are standardised as in :meth:`fit`.

        Returns
        -------
        ndarray, shape (n_samples, 2)
            ``1 - p`` and ``p``, with ``p = 1 / (1 + exp(-(intercept_ + Z @ coef_)))`` on the standardised features ``Z``.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * X["a"]))
        >>> sel = LassoLogisticSelector(alpha=0.1).fit(X, y)
        >>> sel.predict_proba(X.iloc[:2]).round(3)
        array([[0.453, 0.547],
               [0.458, 0.542]])
        """
        check_is_fitted(self, "coef_")
        values = np.asarray(X.loc[:, list(self._columns)] if isinstance(X, pd.DataFrame) and
                            hasattr(self, "feature_names_in_") else X, dtype=float)
        Z = (_impute(values, self.medians_) - self.mean_) / self.scale_
        p = 1.0 / (1.0 + np.exp(-(self.intercept_ + Z @ self.coef_)))
        return np.column_stack([1 - p, p])
