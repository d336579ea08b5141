"""Brier score at given times and the integrated Brier score, with inverse-probability-of-censoring weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import trapezoid

from multisurv._validation import check_survival_y
from multisurv.evaluation._checks import check_common, check_times
from multisurv.evaluation._result import PerTimeResult
from multisurv.evaluation.bootstrap import bootstrap_ci
from multisurv.evaluation.ipcw import censoring_survival, check_reference

__all__ = ["BrierResult", "brier_score"]


@dataclass(frozen=True)
class BrierResult(PerTimeResult):
    """Brier score at each time and the integrated Brier score, with bootstrap intervals.

    Parameters
    ----------
    times : tuple of float
        Evaluation times.
    brier, lower, upper : tuple of float
        Brier score BS(t) and its bootstrap bounds at each time (bounds NaN when ``n_bootstrap == 0``).
    ibs, ibs_lower, ibs_upper : float
        Integrated Brier score over ``[times[0], times[-1]]`` (NaN with a single time) and its bounds.
    n, n_events : int
        Patients and observed events.
    n_bootstrap : int
        Fewest bootstrap samples any interval rests on.
    confidence : float
        Confidence level.
    method : str
        Interval type.

    Examples
    --------
    Returned by :func:`brier_score`; ``to_frame`` gives one row per time:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> brier_score(y, [[0.0], [0.5], [0.5], [1.0]], [2.5], n_bootstrap=0).to_frame()
       time  brier  lower  upper  n  n_events  n_bootstrap  confidence      method
    0   2.5  0.125    NaN    NaN  4         4            0        0.95  percentile
    """

    _value = "brier"  # the per-time estimate in to_frame (a class attribute, not a field)

    times: tuple
    brier: tuple
    lower: tuple
    upper: tuple
    ibs: float
    ibs_lower: float
    ibs_upper: float
    n: int
    n_events: int
    n_bootstrap: int
    confidence: float = 0.95
    method: str = "percentile"


def brier_score(y: np.ndarray, surv_prob: ArrayLike, times: ArrayLike, *, y_train: np.ndarray | None = None,
                n_bootstrap: int = 1000, method: str = "percentile", confidence: float = 0.95,
                random_state=None) -> BrierResult:
    """IPCW Brier score of predicted survival probabilities at given times, and the integrated Brier score.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float) of the patients being evaluated.
    surv_prob : array-like, shape (n_samples, n_times)
        Predicted probability that patient i is event-free at ``times[k]`` (column k), in [0, 1]; e.g. a Cox
        model's ``S(t | x)``. A risk score alone is not enough: the Brier score judges calibrated probabilities.
    times : array-like of float, shape (n_times,)
        Strictly increasing times within ``[min(time), max(time))`` of ``y``.
    y_train : structured array, optional
        Data the censoring distribution is estimated from; default ``y`` (as R's ``riskRegression::Score``).
    n_bootstrap : int, default=1000
        Bootstrap resamples of the patients; ``0`` skips the intervals.
    method : {"percentile", "bca"}, default="percentile"
        Interval type.
    confidence : float, default=0.95
        Two-sided level, in (0, 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap.

    Returns
    -------
    BrierResult

    Raises
    ------
    ValueError
        If ``surv_prob`` has the wrong shape, NaN or values outside [0, 1], if the times are not increasing or
        outside the follow-up, if a censoring weight is undefined, or if a parameter is out of range.

    See Also
    --------
    sksurv.metrics.brier_score, sksurv.metrics.integrated_brier_score : the same quantities with the event
        weight ``1 / G(T_i)``.

    Notes
    -----
    ``BS(t) = 1/n sum_i [ S_i(t)^2 1(T_i <= t, event) / G(T_i-) + (1 - S_i(t))^2 1(T_i > t) / G(t) ]`` with ``G``
    the Kaplan-Meier estimate of the censoring distribution (Graf et al. 1999). Patients censored before t
    contribute nothing. This is R's ``riskRegression::Score(..., metrics = "brier", cens.model = "km")``; the
    tests check it to 1e-6 on three datasets, including a time equal to a censoring time. Computed here (a
    weighted mean) rather than with ``sksurv.metrics.brier_score`` because scikit-survival weights an event by
    ``1 / G(T_i)``, which differs from R when an event and a censoring share a time; without such ties both
    agree to 1e-12 (tested). ``G`` itself comes from scikit-survival's ``CensoringDistributionEstimator``.

    The integrated Brier score is ``integral of BS(t) dt / (times[-1] - times[0])`` by the trapezoidal rule
    over the given times (scikit-survival's ``integrated_brier_score``); pass a fine grid of times for a
    good approximation. riskRegression's ``summary = "ibs"`` integrates a step function from 0 instead, so
    its value differs.

    References
    ----------
    .. [1] Graf, E., Schmoor, C., Sauerbrei, W., Schumacher, M. "Assessment and comparison of prognostic
       classification schemes for survival data", Statistics in Medicine 18(17-18), 2529-2545, 1999.

    Examples
    --------
    No censoring: at t = 2.5 the first two patients had the event (target 0), the others not (target 1).

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> brier_score(y, [[0.0], [0.5], [0.5], [1.0]], [2.5], n_bootstrap=0).brier
    (0.125,)
    """
    check_common("brier_score", n_bootstrap, method, confidence)
    y = check_survival_y(y)
    times = check_times(times, y, owner="brier_score")
    surv_prob = _check_surv_prob(surv_prob, len(y), times.size)
    ref = check_reference(y, y_train, owner="brier_score", horizon=float(times[-1]))
    _check_horizon(ref, times)

    def statistic(idx: np.ndarray) -> np.ndarray:
        yb = y[idx]
        return _brier(yb, surv_prob[idx], times, yb if y_train is None else ref)

    estimate = statistic(np.arange(len(y)))
    k = times.size
    lower = upper = np.full(k + 1, np.nan)
    n_used = 0
    if n_bootstrap:
        boot = bootstrap_ci(statistic, len(y), n_bootstrap=n_bootstrap, method=method, confidence=confidence,
                            random_state=random_state)
        lower, upper, n_used = np.array(boot.lower), np.array(boot.upper), min(boot.n_bootstrap[:k])
    as_tuple = lambda a: tuple(float(v) for v in a)  # noqa: E731
    return BrierResult(
        times=as_tuple(times), brier=as_tuple(estimate[:k]), lower=as_tuple(lower[:k]), upper=as_tuple(upper[:k]),
        ibs=float(estimate[k]), ibs_lower=float(lower[k]), ibs_upper=float(upper[k]), n=len(y),
        n_events=int(y["event"].sum()), n_bootstrap=int(n_used), confidence=float(confidence), method=method,
    )


def _brier(y: np.ndarray, surv_prob: np.ndarray, times: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``[BS(t_1), ..., BS(t_k), IBS]`` (IBS NaN for one time); ValueError when a needed weight is undefined."""
    time, event = y["time"][:, None], y["event"][:, None]
    if times[-1] >= y["time"].max():
        raise ValueError("The last time is beyond this sample's follow-up.")
    case = event & (time <= times[None, :])
    control = time > times[None, :]
    g_case = censoring_survival(ref, y["time"], left=True)[:, None]
    g_t = censoring_survival(ref, times)[None, :]
    if np.any(g_t <= 0) or np.any(g_case[case.any(axis=1)] <= 0):
        raise ValueError("The censoring survival is 0 at a needed time.")
    terms = (np.where(case, surv_prob ** 2 / np.where(case, g_case, 1.0), 0.0)
             + np.where(control, (1.0 - surv_prob) ** 2 / g_t, 0.0))
    brier = terms.mean(axis=0)
    ibs = trapezoid(brier, times) / (times[-1] - times[0]) if times.size > 1 else np.nan
    return np.r_[brier, ibs]


def _check_surv_prob(surv_prob: ArrayLike, n: int, k: int) -> np.ndarray:
    surv_prob = np.asarray(surv_prob, dtype=float)
    if surv_prob.ndim == 1 and k == 1:
        surv_prob = surv_prob[:, None]
    if surv_prob.shape != (n, k):
        raise ValueError(
            f"'surv_prob' must have shape (n_samples, n_times) = ({n}, {k}): one column of survival probabilities "
            f"per time; got shape {surv_prob.shape}."
        )
    n_nan = int(np.isnan(surv_prob).sum())
    if n_nan:
        raise ValueError(f"'surv_prob' has {n_nan} NaN value(s). Drop those patients or predict for them first.")
    if surv_prob.min() < 0 or surv_prob.max() > 1:
        raise ValueError(
            f"'surv_prob' must hold probabilities in [0, 1]; found values in [{surv_prob.min():g}, "
            f"{surv_prob.max():g}]. Pass survival probabilities S(t | x), not risk scores."
        )
    return surv_prob


def _check_horizon(ref: np.ndarray, times: np.ndarray) -> None:
    g_t = censoring_survival(ref, times)
    if np.any(g_t <= 0):
        first = float(times[g_t <= 0][0])
        raise ValueError(
            f"brier_score: the censoring survival G(t) of the reference data is 0 at t = {first:g}, so the "
            "weights of patients still event-free are undefined. Choose earlier times."
        )
