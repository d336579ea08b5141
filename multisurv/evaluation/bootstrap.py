"""Bootstrap confidence intervals (percentile and BCa), seeded and replayable from given resample indices."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm
from sklearn.utils import check_random_state

from multisurv._validation import check_param
from multisurv.evaluation._result import ResultRecord
from multisurv.exceptions import MultisurvWarning

__all__ = ["METHODS", "BootstrapResult", "bootstrap_ci", "bootstrap_indices", "bootstrap_interval",
           "indices_to_counts"]

#: Interval methods understood by every function taking ``method``.
METHODS: tuple[str, ...] = ("percentile", "bca")


@dataclass(frozen=True)
class BootstrapResult(ResultRecord):
    """Bootstrap intervals of a statistic with one or more components (e.g. one per time point).

    Parameters
    ----------
    estimate : tuple of float
        The statistic on the full sample, one value per component.
    lower, upper : tuple of float
        Interval bounds per component (NaN when no interval could be formed).
    standard_error : tuple of float
        Standard deviation of the finite bootstrap replicates, per component.
    n_bootstrap : tuple of int
        Number of finite replicates each interval rests on.
    confidence : float
        Confidence level.
    method : str
        ``"percentile"`` or ``"bca"``.

    Examples
    --------
    Returned by :func:`bootstrap_ci`:

    >>> x = np.arange(20.0)
    >>> res = bootstrap_ci(lambda idx: x[idx].mean(), 20, n_bootstrap=200, random_state=0)
    >>> res.estimate, res.n_bootstrap, res.method
    ((9.5,), (200,), 'percentile')
    """

    estimate: tuple
    lower: tuple
    upper: tuple
    standard_error: tuple
    n_bootstrap: tuple
    confidence: float
    method: str

    def to_frame(self) -> pd.DataFrame:
        """Return one row per component.

        Returns
        -------
        pandas.DataFrame
            One row per component: ``estimate``, ``lower``, ``upper``, ``standard_error``, ``n_bootstrap``,
            ``confidence``, ``method``.

        Examples
        --------
        >>> x = np.arange(20.0)
        >>> res = bootstrap_ci(lambda idx: x[idx].mean(), 20, n_bootstrap=200, random_state=0)
        >>> res.to_frame().round(3)
           estimate  lower   upper  standard_error  n_bootstrap  confidence      method
        0       9.5  7.001  11.599           1.231          200        0.95  percentile
        """
        cols = ("estimate", "lower", "upper", "standard_error", "n_bootstrap")
        frame = pd.DataFrame({c: list(getattr(self, c)) for c in cols})
        frame["confidence"] = self.confidence
        frame["method"] = self.method
        return frame


def bootstrap_indices(n: int, n_bootstrap: int, random_state=None) -> np.ndarray:
    """Row indices of ``n_bootstrap`` resamples of ``n`` patients drawn with replacement.

    Parameters
    ----------
    n : int
        Number of patients.
    n_bootstrap : int
        Number of resamples.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    numpy.ndarray of int, shape (n_bootstrap, n)

    Examples
    --------
    >>> bootstrap_indices(4, 2, random_state=0).shape
    (2, 4)
    """
    rng = check_random_state(random_state)
    return rng.randint(0, n, size=(n_bootstrap, n))


def indices_to_counts(indices: np.ndarray, n: int) -> np.ndarray:
    """How many times each patient appears in each resample: shape (n_bootstrap, n), float.

    Parameters
    ----------
    indices : ndarray of int, shape (n_bootstrap, m)
        Row indices drawn for each resample, each in ``[0, n)``.
    n : int
        Number of patients.

    Returns
    -------
    ndarray of float, shape (n_bootstrap, n)
        The count of each patient in each resample.

    Examples
    --------
    >>> indices_to_counts(np.array([[0, 0, 2]]), 3)
    array([[2., 0., 1.]])
    """
    indices = np.asarray(indices)
    b = indices.shape[0]
    flat = (indices + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def bootstrap_interval(estimate: ArrayLike, replicates: ArrayLike, *, method: str = "percentile",
                       confidence: float = 0.95, jackknife: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Percentile or BCa interval from bootstrap replicates, with ``boot::boot.ci``'s order-statistic rule.

    Parameters
    ----------
    estimate : float or array-like, shape (n_components,)
        The statistic on the full sample.
    replicates : array-like, shape (n_bootstrap,) or (n_bootstrap, n_components)
        The statistic on each resample; non-finite replicates are dropped (per component).
    method : {"percentile", "bca"}, default="percentile"
        Interval type.
    confidence : float, default=0.95
        Two-sided level, in (0, 1).
    jackknife : array-like, shape (n_samples,) or (n_samples, n_components), optional
        Leave-one-out estimates; required for ``"bca"`` (they give the acceleration).

    Returns
    -------
    lower, upper : numpy.ndarray, shape (n_components,)

    Raises
    ------
    ValueError
        If ``method`` is unknown, ``confidence`` is out of range, or ``"bca"`` is asked without ``jackknife``.

    Notes
    -----
    The bound at level ``alpha`` is the ``(B + 1) * alpha``-th order statistic of the ``B`` finite replicates,
    interpolated on the normal-quantile scale between neighbours when it is not an integer (Davison & Hinkley,
    1997, eq. 5.8): this is ``boot::boot.ci`` in R, and the reference tests replay R's resamples and agree to
    1e-12. BCa ([1]_) shifts the two levels to ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))`` with
    ``z0 = Phi^-1(#{t* < t} / B)`` and the acceleration ``a = sum(L^3) / (6 sum(L^2)^1.5)`` from the jackknife
    influence values ``L_i = (n - 1) (t - t_-i)``, as ``boot.ci(..., L = empinf(b, type = "jack"))`` computes
    them (scipy's ``bootstrap(method="BCa")`` and Efron & Tibshirani centre on ``mean(t_-i)`` instead of ``t``;
    the two differ by O(1/n), about 1e-6 on the interval at n = 137). An interval that needs an order statistic beyond the sample
    (too few resamples for the level) is clamped to the extreme replicate with a warning, as R does.

    References
    ----------
    .. [1] Efron, B. "Better bootstrap confidence intervals", Journal of the American Statistical Association
       82(397), 171-185, 1987.

    Examples
    --------
    With 999 replicates 1, 2, ..., 999 the 90% bounds are the 50th and 950th order statistics:

    >>> lo, hi = bootstrap_interval(500.0, np.arange(1.0, 1000.0), confidence=0.9)
    >>> float(lo[0]), float(hi[0])
    (50.0, 950.0)
    """
    check_param("bootstrap_interval", "method", method, kind="option", options=METHODS)
    check_param("bootstrap_interval", "confidence", confidence, kind="float", low=0, high=1, low_open=True,
                high_open=True)
    est = np.atleast_1d(np.asarray(estimate, dtype=float))
    reps = np.asarray(replicates, dtype=float).reshape(-1, est.size)
    if method == "bca":
        if jackknife is None:
            raise ValueError("The 'bca' interval needs the leave-one-out estimates: pass 'jackknife'.")
        jack = np.asarray(jackknife, dtype=float).reshape(-1, est.size)
    alpha = np.array([(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    lower = np.full(est.size, np.nan)
    upper = np.full(est.size, np.nan)
    extreme = False
    for k in range(est.size):
        t = reps[:, k][np.isfinite(reps[:, k])]
        if t.size == 0 or not np.isfinite(est[k]):
            continue
        levels = alpha
        if method == "bca":
            levels = _bca_levels(est[k], t, jack[:, k], alpha)
            if levels is None:
                continue
        (lower[k], upper[k]), clamped = _order_statistic_quantile(t, levels)
        extreme |= clamped
    if extreme:
        warnings.warn(
            f"The {confidence:g} {method} interval uses the extreme bootstrap replicates as bounds: "
            "there are too few resamples for this level. Increase 'n_bootstrap'.",
            category=MultisurvWarning, stacklevel=2,
        )
    return lower, upper


def _bca_levels(t0: float, t: np.ndarray, jack: np.ndarray, alpha: np.ndarray) -> np.ndarray | None:
    """BCa-adjusted levels, or None (with a warning) when the bias or the acceleration is undefined."""
    z0 = norm.ppf(np.sum(t < t0) / t.size)
    jack = jack[np.isfinite(jack)]
    influence = (jack.size - 1) * (t0 - jack) if jack.size > 1 else np.zeros(1)
    ss = np.sum(influence ** 2)
    if not np.isfinite(z0) or ss == 0:
        warnings.warn(
            "The BCa interval is undefined here (every bootstrap replicate lies on one side of the estimate, or "
            "the jackknife estimates do not vary); it is reported as NaN. Use method='percentile' or more "
            "resamples.", category=MultisurvWarning, stacklevel=3,
        )
        return None
    a = np.sum(influence ** 3) / (6.0 * ss ** 1.5)
    z = norm.ppf(alpha)
    return norm.cdf(z0 + (z0 + z) / (1.0 - a * (z0 + z)))


def _order_statistic_quantile(t: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, bool]:
    """``boot:::norm.inter``: the (R+1)*alpha-th order statistic, interpolated on the normal scale."""
    t = np.sort(t)
    r = t.size
    rk = (r + 1) * levels
    k = np.trunc(rk).astype(int)
    out = np.empty(levels.size)
    for j in range(levels.size):
        if k[j] == 0:
            out[j] = t[0]
        elif k[j] >= r:
            out[j] = t[-1]
        elif k[j] == rk[j]:
            out[j] = t[k[j] - 1]
        else:
            lo, hi = norm.ppf(k[j] / (r + 1)), norm.ppf((k[j] + 1) / (r + 1))
            out[j] = t[k[j] - 1] + (norm.ppf(levels[j]) - lo) / (hi - lo) * (t[k[j]] - t[k[j] - 1])
    return out, bool(np.any((rk <= 1) | (rk >= r)))


def bootstrap_ci(statistic: Callable[[np.ndarray], float | ArrayLike], n: int, *, n_bootstrap: int = 1000,
                 method: str = "percentile", confidence: float = 0.95, random_state=None,
                 indices: ArrayLike | None = None) -> BootstrapResult:
    """Bootstrap interval of any statistic of ``n`` patients, resampling patients with replacement.

    Parameters
    ----------
    statistic : callable
        ``statistic(idx) -> float or 1-D array``: the statistic on the patients ``idx`` (row indices, with
        repeats). A ``ValueError`` (e.g. no comparable pair in a resample) makes that replicate NaN.
    n : int
        Number of patients.
    n_bootstrap : int, default=1000
        Number of resamples (ignored when ``indices`` is given).
    method : {"percentile", "bca"}, default="percentile"
        Interval type; ``"bca"`` also evaluates the ``n`` leave-one-out statistics.
    confidence : float, default=0.95
        Two-sided level, in (0, 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the resamples.
    indices : array-like of int, shape (n_resamples, n), optional
        Resamples to use instead of drawing them, e.g. R's ``boot.array(b, indices = TRUE) - 1``.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ValueError
        If a parameter is out of range, ``indices`` has the wrong shape or values, or the statistic fails on
        the full sample.

    See Also
    --------
    bootstrap_interval : the interval rule (R's ``boot.ci``).

    Notes
    -----
    Written here rather than with ``scipy.stats.bootstrap`` because the resamples must be replayable (the tests
    feed R's ``boot`` indices to prove the intervals agree with ``boot.ci``) and the metrics pass the replicates
    they compute faster themselves (the C-index evaluates all resamples with one matrix product). Replicates
    that fail are dropped with a warning naming how many.

    Examples
    --------
    >>> x = np.arange(20.0)
    >>> res = bootstrap_ci(lambda idx: x[idx].mean(), 20, n_bootstrap=200, random_state=0)
    >>> res.lower[0] < 9.5 < res.upper[0]
    True
    """
    check_param("bootstrap_ci", "n", n, kind="int", low=1)
    check_param("bootstrap_ci", "n_bootstrap", n_bootstrap, kind="int", low=1)
    check_param("bootstrap_ci", "method", method, kind="option", options=METHODS)
    estimate = np.atleast_1d(np.asarray(statistic(np.arange(n)), dtype=float))
    if indices is None:
        indices = bootstrap_indices(n, n_bootstrap, random_state)
    else:
        indices = check_indices(indices, n)
    reps = np.vstack([_safe(statistic, idx, estimate.size) for idx in indices])
    jack = None
    if method == "bca":
        everyone = np.arange(n)
        jack = np.vstack([_safe(statistic, np.delete(everyone, i), estimate.size) for i in range(n)])
    warn_failed(reps)
    lower, upper = bootstrap_interval(estimate, reps, method=method, confidence=confidence, jackknife=jack)
    return make_result(estimate, lower, upper, reps, confidence, method)


def make_result(estimate, lower, upper, reps, confidence, method) -> BootstrapResult:
    """Pack arrays into a :class:`BootstrapResult` (tuples of Python floats)."""
    reps = np.asarray(reps, dtype=float).reshape(-1, np.size(estimate))
    finite = np.isfinite(reps)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a component with < 2 finite replicates -> NaN
        se = np.array([np.std(reps[finite[:, k], k], ddof=1) if finite[:, k].sum() > 1 else np.nan
                       for k in range(reps.shape[1])])
    as_tuple = lambda a: tuple(float(v) for v in np.atleast_1d(a))  # noqa: E731
    return BootstrapResult(estimate=as_tuple(estimate), lower=as_tuple(lower), upper=as_tuple(upper),
                           standard_error=as_tuple(se), n_bootstrap=tuple(int(v) for v in finite.sum(axis=0)),
                           confidence=float(confidence), method=method)


def check_indices(indices: ArrayLike, n: int) -> np.ndarray:
    """Check user-given resample indices: integers in [0, n), shape (n_resamples, n)."""
    indices = np.asarray(indices)
    if indices.ndim != 2 or indices.shape[1] != n or indices.shape[0] == 0:
        raise ValueError(f"'indices' must have shape (n_resamples, {n}); got {indices.shape}.")
    if not np.issubdtype(indices.dtype, np.integer) or indices.min() < 0 or indices.max() >= n:
        raise ValueError(f"'indices' must be integer row numbers in [0, {n}) (0-based; subtract 1 from R's).")
    return indices


def warn_failed(reps: np.ndarray) -> None:
    """Warn when some bootstrap replicates are undefined (NaN)."""
    reps = np.asarray(reps).reshape(reps.shape[0], -1)
    bad = int((~np.isfinite(reps)).any(axis=1).sum())
    if bad:
        warnings.warn(
            f"{bad} of {reps.shape[0]} bootstrap resamples gave an undefined statistic (e.g. no comparable pair, "
            "or a time beyond the resample's follow-up) and were skipped; the interval rests on the others.",
            category=MultisurvWarning, stacklevel=3,
        )


def _safe(statistic, idx: np.ndarray, size: int) -> np.ndarray:
    try:
        value = np.atleast_1d(np.asarray(statistic(idx), dtype=float))
    except ValueError:
        return np.full(size, np.nan)
    return value
