"""Bootstrap internal validation of a whole binary-endpoint pipeline: optimism-corrected AUC, Dxy, calibration
slope, intercept and Brier (``rms::validate`` of an lrm), and the optimism-corrected calibration curve
(``rms::calibrate``), every fitted step refitted in every resample."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import clone

from multisurv._validation import check_consistent_length, check_param
from multisurv.evaluation._result import ResultRecord
from multisurv.evaluation.binary import roc_auc
from multisurv.evaluation.bootstrap import bootstrap_indices, check_indices
from multisurv.exceptions import MultisurvWarning
from multisurv.selection._logistic import check_binary_y, fit_logistic

__all__ = ["BinaryValidationResult", "CalibrationCurveResult", "binary_indexes", "calibrate_binary",
           "validate_binary", "validate_and_calibrate_binary"]

logger = logging.getLogger(__name__)

#: Indexes reported by :func:`validate_binary`, in order.
INDEXES = ("auc", "dxy", "intercept", "slope", "brier")
_CLIP = 1e-12  # probabilities of exactly 0 or 1 (trees, SVMs) are clipped before the logit


@dataclass(frozen=True)
class BinaryValidationResult(ResultRecord):
    """Bootstrap optimism correction of a binary-endpoint model's performance indexes.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per index (``auc``, ``dxy``, ``intercept``, ``slope``, ``brier``) with rms's columns
        ``apparent`` (rms: ``index.orig``), ``training``, ``test``, ``optimism``, ``corrected`` and ``n`` (resamples
        that gave the index).
    n_bootstrap : int
    n_failed : int
        Resamples whose refit failed (e.g. a selection step found nothing); they are left out.

    Examples
    --------
    Returned by :func:`validate_binary`:

    >>> from multisurv.scores.logistic import LogisticModel
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
    >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-X["a"]))
    >>> res = validate_binary(LogisticModel(), X, y, n_bootstrap=10, random_state=0)
    >>> list(res.table.index), res.n_bootstrap, res.n_failed
    (['auc', 'dxy', 'intercept', 'slope', 'brier'], 10, 0)
    """

    table: pd.DataFrame
    n_bootstrap: int
    n_failed: int

    def to_frame(self) -> pd.DataFrame:
        """Return the table with the index names as a column.

        Returns
        -------
        pandas.DataFrame
            ``table`` with its index as a first column ``index``.

        Examples
        --------
        >>> from multisurv.scores.logistic import LogisticModel
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-X["a"]))
        >>> res = validate_binary(LogisticModel(), X, y, n_bootstrap=10, random_state=0)
        >>> list(res.to_frame().columns)
        ['index', 'apparent', 'training', 'test', 'optimism', 'corrected', 'n']
        """
        return self.table.reset_index()

    def corrected(self, index: str) -> float:
        """The optimism-corrected value of one index.

        Parameters
        ----------
        index : str
            A row of ``table``: ``"auc"``, ``"dxy"``, ``"intercept"``, ``"slope"`` or ``"brier"``.

        Returns
        -------
        float
            ``table.loc[index, "corrected"]``.

        Raises
        ------
        KeyError
            If ``index`` is not a row of ``table``.

        Examples
        --------
        >>> from multisurv.scores.logistic import LogisticModel
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-X["a"]))
        >>> res = validate_binary(LogisticModel(), X, y, n_bootstrap=10, random_state=0)
        >>> res.table.loc["auc", ["apparent", "optimism"]].round(3).tolist(), round(res.corrected("auc"), 3)
        ([0.695, -0.001], 0.696)
        """
        return float(self.table.loc[index, "corrected"])


@dataclass(frozen=True)
class CalibrationCurveResult(ResultRecord):
    """Bootstrap optimism-corrected calibration curve (``rms::calibrate``).

    Parameters
    ----------
    table : pandas.DataFrame
        ``predicted`` (the grid), ``apparent`` (smoothed observed on the development data), ``corrected``
        (``apparent - optimism``, clipped to [0, 1]), ``optimism``, ``n`` (resamples with a value there).
    mean_abs_error, q90_abs_error : float
        Mean and 90th percentile of ``|corrected - predicted|`` over the grid (rms prints both).
    apparent_mean_abs_error, apparent_q90_abs_error : float
        The same for the apparent curve.
    n_bootstrap, n_failed : int

    Examples
    --------
    Returned by :func:`calibrate_binary`:

    >>> from multisurv.scores.logistic import LogisticModel
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
    >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-X["a"]))
    >>> cal = calibrate_binary(LogisticModel(), X, y, n_bootstrap=10, random_state=0)
    >>> cal.table.shape, cal.n_bootstrap, round(cal.mean_abs_error, 3)
    ((50, 5), 10, 0.029)
    """

    table: pd.DataFrame
    mean_abs_error: float
    q90_abs_error: float
    apparent_mean_abs_error: float
    apparent_q90_abs_error: float
    n_bootstrap: int
    n_failed: int

    def to_frame(self) -> pd.DataFrame:
        """Return the curve table.

        Returns
        -------
        pandas.DataFrame
            A copy of ``table``.

        Examples
        --------
        >>> from multisurv.scores.logistic import LogisticModel
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-X["a"]))
        >>> cal = calibrate_binary(LogisticModel(), X, y, n_bootstrap=10, random_state=0)
        >>> list(cal.to_frame().columns)
        ['predicted', 'apparent', 'corrected', 'optimism', 'n']
        """
        return self.table.copy()


def binary_indexes(y: ArrayLike, prob: ArrayLike) -> dict[str, float]:
    """AUC, Somers' Dxy (``2 AUC - 1``), calibration intercept and slope (``glm(y ~ logit(p))``) and Brier score.

    Parameters
    ----------
    y : array-like of 0/1, shape (n_samples,)
        Observed outcomes.
    prob : array-like, shape (n_samples,)
        Predicted event probabilities (clipped away from 0 and 1 before the logit).

    Returns
    -------
    dict
        ``auc``, ``dxy``, ``intercept``, ``slope`` and ``brier`` (floats).

    Examples
    --------
    >>> out = binary_indexes([0, 0, 1, 1, 0, 1], [0.2, 0.3, 0.7, 0.6, 0.4, 0.45])
    >>> out["auc"], round(out["dxy"], 4)
    (1.0, 1.0)
    """
    yy = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(prob, dtype=float), _CLIP, 1 - _CLIP)
    auc = roc_auc(yy, p).auc
    logit = np.log(p / (1 - p))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a separated recalibration is reported through its (huge) slope
        fit = fit_logistic(np.column_stack([np.ones(yy.size), logit]), yy, where="the recalibration")
    return {"auc": auc, "dxy": 2 * auc - 1, "intercept": float(fit.coef[0]), "slope": float(fit.coef[1]),
            "brier": float(np.mean((p - yy) ** 2))}


def _take(X, rows):
    return X.iloc[rows] if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)[rows]


def _prob(model, X) -> np.ndarray:
    return np.asarray(model.predict_proba(X), dtype=float)[:, 1]


def _resamples(n: int, n_bootstrap: int, random_state, indices) -> np.ndarray:
    if indices is not None:
        return check_indices(indices, n)
    return bootstrap_indices(n, n_bootstrap, random_state)


def _check(owner: str, X, y, n_bootstrap: int) -> np.ndarray:
    check_param(owner, "n_bootstrap", n_bootstrap, kind="int", low=1)
    yy = check_binary_y(y, where=owner)
    check_consistent_length(X=X, y=yy)
    return yy


def _refits(estimator, X, yy: np.ndarray, samples: np.ndarray, owner: str) -> tuple[list, int]:
    """Refit the whole pipeline on every resample: ``(rows, prob on the resample, prob on X)`` per resample that
    could be refitted, and how many could not (a resample without both classes, a step that selects nothing)."""
    out, failed = [], 0
    for rows in samples:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = clone(estimator).fit(_take(X, rows), yy[rows])
                out.append((rows, _prob(model, _take(X, rows)), _prob(model, X)))
        except ValueError as exc:
            failed += 1
            logger.info("%s: resample skipped (%s)", owner, exc)
    return out, failed


def _validation(yy: np.ndarray, prob: np.ndarray, refits: list, n_samples: int, failed: int,
                owner: str) -> BinaryValidationResult:
    """Harrell's optimism table from the apparent probabilities and the resamples' refits."""
    apparent = binary_indexes(yy, prob)
    train, test = [], []
    for rows, p_train, p_test in refits:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                train_b, test_b = binary_indexes(yy[rows], p_train), binary_indexes(yy, p_test)
        except ValueError as exc:
            failed += 1
            logger.info("%s: resample skipped (%s)", owner, exc)
            continue
        train.append([train_b[k] for k in INDEXES])
        test.append([test_b[k] for k in INDEXES])
    if failed:
        warnings.warn(f"{owner}: {failed} of {n_samples} resamples could not be refitted and were left "
                      "out; the optimism rests on the others.", category=MultisurvWarning, stacklevel=3)
    train_m, test_m = np.asarray(train).mean(axis=0), np.asarray(test).mean(axis=0)
    app = np.array([apparent[k] for k in INDEXES])
    table = pd.DataFrame({"apparent": app, "training": train_m, "test": test_m, "optimism": train_m - test_m,
                          "corrected": app - (train_m - test_m), "n": len(train)},
                         index=pd.Index(INDEXES, name="index"))
    return BinaryValidationResult(table=table, n_bootstrap=n_samples, n_failed=failed)


def validate_binary(estimator, X: pd.DataFrame | ArrayLike, y: ArrayLike, *, n_bootstrap: int = 1000,
                    random_state=None, indices: ArrayLike | None = None) -> BinaryValidationResult:
    """Harrell's bootstrap optimism correction of AUC, Dxy, calibration intercept and slope and Brier score.

    Parameters
    ----------
    estimator : classifier with ``fit`` and ``predict_proba``
        The **whole** pipeline (imputation, LASSO or stepwise selection, the model): it is cloned and refitted on
        every resample, so the optimism includes the selection.
    X : DataFrame or array-like, shape (n_samples, n_features)
    y : array-like of 0/1 or bool, shape (n_samples,)
    n_bootstrap : int, default=1000
    random_state : int, RandomState instance or None
    indices : array-like of int, shape (n_resamples, n_samples), optional
        Resamples to replay (e.g. R's ``sample(n, replace = TRUE) - 1`` after the seed rms used).

    Returns
    -------
    BinaryValidationResult

    Notes
    -----
    For each resample b: fit on it, compute the indexes on it (training) and on the original data (test);
    ``optimism = mean_b(training - test)``, ``corrected = apparent - optimism`` (``rms::validate``, method
    "boot"). The slope and intercept come from ``glm(y ~ logit(p))``; the apparent slope of a maximum-likelihood
    logistic model is 1 and its intercept 0, so their corrected values are the shrinkage and the
    calibration-in-the-large to expect in new patients. Probabilities of exactly 0 or 1 are clipped to 1e-12.

    References
    ----------
    .. [1] Harrell, F. E., Lee, K. L., Mark, D. B. "Multivariable prognostic models: issues in developing models,
       evaluating assumptions and adequacy, and measuring and reducing errors", Statistics in Medicine 15,
       361-387, 1996.
    .. [2] Steyerberg, E. W. "Clinical Prediction Models", 2nd ed., Springer, 2019, chapter 17.

    Examples
    --------
    >>> from multisurv.scores.logistic import LogisticModel
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    >>> y = rng.uniform(size=200) < 1 / (1 + np.exp(-X["a"]))
    >>> res = validate_binary(LogisticModel(), X, y, n_bootstrap=20, random_state=0)
    >>> bool(res.corrected("auc") < res.table.loc["auc", "apparent"])
    True
    """
    yy = _check("validate_binary", X, y, n_bootstrap)
    prob = _prob(clone(estimator).fit(X, yy), X)
    samples = _resamples(yy.size, n_bootstrap, random_state, indices)
    refits, failed = _refits(estimator, X, yy, samples, "validate_binary")
    return _validation(yy, prob, refits, len(samples), failed, "validate_binary")


# ------------------------------------------------------------------ calibration curve
def _lowest(x, y, n, xs, nleft, nright):
    """One local linear fit of R's clowess (``lowest`` in R's src/appl/lowess.c, vectorised), 0-based indices.

    R scans j from ``nleft`` and stops at the first point right of ``xs`` farther than ``0.999 h``; points within
    ``0.999 h`` get tricube weights (1 within ``0.001 h``), others 0.
    """
    rng = x[n - 1] - x[0]
    h = max(xs - x[nleft], x[nright] - xs)
    h9, h1 = 0.999 * h, 0.001 * h
    stop = int(np.searchsorted(x, xs + h9, side="right"))  # first j with x[j] > xs + h9 (then r > h9, x > xs)
    xw = x[nleft:stop]
    r = np.abs(xw - xs)
    w = np.where(r <= h9, np.where(r <= h1, 1.0, (1.0 - (r / h) ** 3) ** 3 if h > 0 else 1.0), 0.0)
    a = w.sum()
    if a <= 0.0:
        return None
    w = w / a
    if h > 0.0:
        a = float(np.dot(w, xw))
        b = xs - a
        c = float(np.dot(w, (xw - a) ** 2))
        if np.sqrt(c) > 0.001 * rng:
            b /= c
            w = w * (b * (xw - a) + 1.0)
    return float(np.dot(w, y[nleft:stop]))


def r_lowess(x: ArrayLike, y: ArrayLike, *, f: float = 2 / 3, delta: float | None = None) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """R's ``lowess(x, y, f, iter = 0)`` (no robustness iterations), as ``rms::calibrate`` smooths.

    Returns the x sorted and the smoothed y. Written here (not statsmodels, which the core does not depend on)
    to reproduce R's algorithm step for step, including its ``delta`` interpolation (default 1 % of the range).

    Examples
    --------
    >>> xs, ys = r_lowess([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 6.0, 8.0, 10.0])
    >>> [round(float(v), 10) for v in ys]
    [2.0, 4.0, 6.0, 8.0, 10.0]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    n = x.size
    delta = 0.01 * (x[-1] - x[0]) if delta is None else delta
    ys = np.zeros(n)
    if n < 2:
        return x, y.copy()
    ns = max(min(int(f * n + 1e-7), n), 2)
    nleft, nright, last, i = 0, ns - 1, -1, 0
    while True:
        if nright < n - 1:
            d1 = x[i] - x[nleft]
            d2 = x[nright + 1] - x[i]
            if d1 > d2:
                nleft += 1
                nright += 1
                continue
        fit = _lowest(x, y, n, x[i], nleft, nright)
        ys[i] = y[i] if fit is None else fit
        if last < i - 1:
            denom = x[i] - x[last]
            for j in range(last + 1, i):
                alpha = (x[j] - x[last]) / denom
                ys[j] = alpha * ys[i] + (1.0 - alpha) * ys[last]
        last = i
        cut = x[last] + delta
        i = last + 1
        while i < n:
            if x[i] > cut:
                break
            if x[i] == x[last]:
                ys[i] = ys[last]
                last = i
            i += 1
        i = max(last + 1, i - 1)
        if last >= n - 1:
            break
    return x, ys


def _approx_first(xs: np.ndarray, ys: np.ndarray, xout: np.ndarray) -> np.ndarray:
    """R's ``approx(xs, ys, xout, ties = function(v) v[1])``: linear, NaN outside the range."""
    keep = np.concatenate([[True], np.diff(xs) > 0])
    xs, ys = xs[keep], ys[keep]
    out = np.interp(xout, xs, ys)
    out[(xout < xs[0]) | (xout > xs[-1])] = np.nan
    return out


def _calibration_error(y: np.ndarray, prob: np.ndarray, grid: np.ndarray) -> np.ndarray:
    xs, ys = r_lowess(prob, y)
    return _approx_first(xs, ys, grid) - grid


def _default_grid(prob: np.ndarray, owner: str) -> np.ndarray:
    """rms's grid: 50 points from the 5th smallest to the 5th largest apparent prediction."""
    p = np.sort(prob)
    if p.size < 11:
        raise ValueError(f"{owner} needs more than 10 patients to place the default grid; got {p.size}. "
                         "Pass 'grid'.")
    return np.linspace(p[4], p[-5], 50)


def _calibration(yy: np.ndarray, prob: np.ndarray, grid: np.ndarray, refits: list, n_samples: int, failed: int,
                 owner: str) -> CalibrationCurveResult:
    """The bias-corrected curve from the apparent probabilities and the resamples' refits."""
    apparent = _approx_first(*r_lowess(prob, yy), grid)
    total = np.zeros(grid.size)
    count = np.zeros(grid.size, dtype=int)
    for rows, p_train, p_test in refits:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                train = _calibration_error(yy[rows], p_train, grid)
                test = _calibration_error(yy, p_test, grid)
        except ValueError as exc:
            failed += 1
            logger.info("%s: resample skipped (%s)", owner, exc)
            continue
        ok = np.isfinite(train + test)
        total[ok] += (train - test)[ok]
        count[ok] += 1
    if failed:
        warnings.warn(f"{owner}: {failed} of {n_samples} resamples could not be refitted and were left "
                      "out.", category=MultisurvWarning, stacklevel=3)
    with np.errstate(invalid="ignore", divide="ignore"):
        optimism = total / count
    corrected = np.clip(apparent - optimism, 0.0, 1.0)
    err = np.abs(corrected - grid)
    app_err = np.abs(apparent - grid)
    table = pd.DataFrame({"predicted": grid, "apparent": apparent, "corrected": corrected, "optimism": optimism,
                          "n": count})
    return CalibrationCurveResult(table=table, mean_abs_error=float(np.nanmean(err)),
                                  q90_abs_error=float(np.nanquantile(err, 0.9)),
                                  apparent_mean_abs_error=float(np.nanmean(app_err)),
                                  apparent_q90_abs_error=float(np.nanquantile(app_err, 0.9)),
                                  n_bootstrap=n_samples, n_failed=failed)


def calibrate_binary(estimator, X: pd.DataFrame | ArrayLike, y: ArrayLike, *, n_bootstrap: int = 1000,
                     grid: ArrayLike | None = None, random_state=None,
                     indices: ArrayLike | None = None) -> CalibrationCurveResult:
    """Bootstrap optimism-corrected calibration curve of a binary-endpoint pipeline (``rms::calibrate`` of an lrm).

    Parameters
    ----------
    estimator : classifier with ``fit`` and ``predict_proba``
        The whole pipeline, refitted in every resample.
    X : DataFrame or array-like, shape (n_samples, n_features)
    y : array-like of 0/1 or bool, shape (n_samples,)
    n_bootstrap : int, default=1000
    grid : array-like, optional
        Predicted probabilities at which to estimate the curve; default rms's: 50 points from the 5th smallest to
        the 5th largest apparent prediction.
    random_state : int, RandomState instance or None
    indices : array-like of int, shape (n_resamples, n_samples), optional
        Resamples to replay.

    Returns
    -------
    CalibrationCurveResult

    Notes
    -----
    The observed probability at a predicted ``p`` is R's ``lowess(p, y, iter = 0)`` interpolated linearly (NaN
    outside the smoothed range). Per resample: the calibration error ``smoothed - grid`` of the model on its
    resample (training) and on the original data (test); ``optimism = mean(training - test)`` over the resamples
    where both exist; ``corrected = apparent - optimism`` (clipped to [0, 1]). rms reports the mean and the 0.9
    quantile of ``|corrected - grid|``.

    References
    ----------
    .. [1] Harrell, F. E. "Regression Modeling Strategies", 2nd ed., Springer, 2015, section 10.11.

    Examples
    --------
    >>> from multisurv.scores.logistic import LogisticModel
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    >>> y = rng.uniform(size=200) < 1 / (1 + np.exp(-X["a"]))
    >>> res = calibrate_binary(LogisticModel(), X, y, n_bootstrap=10, random_state=0)
    >>> res.table.shape[0], 0 <= res.mean_abs_error < 0.2
    (50, True)
    """
    yy = _check("calibrate_binary", X, y, n_bootstrap)
    prob = _prob(clone(estimator).fit(X, yy), X)
    grid = _default_grid(prob, "calibrate_binary") if grid is None else np.asarray(grid, dtype=float)
    samples = _resamples(yy.size, n_bootstrap, random_state, indices)
    refits, failed = _refits(estimator, X, yy, samples, "calibrate_binary")
    return _calibration(yy, prob, grid, refits, len(samples), failed, "calibrate_binary")


def validate_and_calibrate_binary(estimator, X: pd.DataFrame | ArrayLike, y: ArrayLike, *, n_bootstrap: int = 1000,
                                  grid: ArrayLike | None = None, random_state=None,
                                  indices: ArrayLike | None = None) -> tuple[BinaryValidationResult,
                                                                              CalibrationCurveResult]:
    """:func:`validate_binary` and :func:`calibrate_binary` from one set of refits (each resample's pipeline is
    fitted once and serves both), with the same results as the two calls on the same resamples.

    Parameters
    ----------
    estimator : classifier with ``fit`` and ``predict_proba``
        The whole pipeline, refitted in every resample.
    X : DataFrame or array-like, shape (n_samples, n_features)
    y : array-like of 0/1 or bool, shape (n_samples,)
    n_bootstrap : int, default=1000
    grid : array-like, optional
        The calibration curve's grid (default rms's, as :func:`calibrate_binary`).
    random_state : int, RandomState instance or None
    indices : array-like of int, shape (n_resamples, n_samples), optional
        Resamples to replay.

    Returns
    -------
    tuple of (BinaryValidationResult, CalibrationCurveResult)
        What :func:`validate_binary` and :func:`calibrate_binary` return.

    Examples
    --------
    >>> from multisurv.scores.logistic import LogisticModel
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    >>> y = rng.uniform(size=200) < 1 / (1 + np.exp(-X["a"]))
    >>> val, cal = validate_and_calibrate_binary(LogisticModel(), X, y, n_bootstrap=10, random_state=0)
    >>> val.table.equals(validate_binary(LogisticModel(), X, y, n_bootstrap=10, random_state=0).table)
    True
    >>> cal.table.equals(calibrate_binary(LogisticModel(), X, y, n_bootstrap=10, random_state=0).table)
    True
    """
    yy = _check("validate_and_calibrate_binary", X, y, n_bootstrap)
    prob = _prob(clone(estimator).fit(X, yy), X)
    grid = _default_grid(prob, "calibrate_binary") if grid is None else np.asarray(grid, dtype=float)
    samples = _resamples(yy.size, n_bootstrap, random_state, indices)
    refits, failed = _refits(estimator, X, yy, samples, "validate_and_calibrate_binary")
    return (_validation(yy, prob, refits, len(samples), failed, "validate_binary"),
            _calibration(yy, prob, grid, refits, len(samples), failed, "calibrate_binary"))
