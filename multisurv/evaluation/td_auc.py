"""Cumulative/dynamic time-dependent AUC with inverse-probability-of-censoring weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sksurv.metrics import cumulative_dynamic_auc
from sksurv.nonparametric import CensoringDistributionEstimator

from multisurv._validation import check_survival_y
from multisurv.evaluation._checks import check_common, check_risk, check_times
from multisurv.evaluation._result import PerTimeResult
from multisurv.evaluation.bootstrap import bootstrap_ci
from multisurv.evaluation.concordance import TIED_TOL
from multisurv.evaluation.ipcw import censoring_reference, check_reference

__all__ = ["TimeDependentAUCResult", "TimeDependentROC", "time_dependent_auc", "time_dependent_roc"]


@dataclass(frozen=True)
class TimeDependentAUCResult(PerTimeResult):
    """Time-dependent AUC at each time, with bootstrap intervals.

    Parameters
    ----------
    times : tuple of float
        Evaluation times.
    auc, lower, upper : tuple of float
        AUC(t) and its bootstrap bounds at each time (bounds NaN when ``n_bootstrap == 0``).
    mean_auc, mean_lower, mean_upper : float
        scikit-survival's summary over the times (AUC(t) weighted by the drop of the Kaplan-Meier curve) and
        its bounds.
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
    Returned by :func:`time_dependent_auc`; ``to_frame`` gives one row per time:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> time_dependent_auc(y, [4.0, 1.0, 3.0, 2.0], [2.5], n_bootstrap=0).to_frame()
       time  auc  lower  upper  n  n_events  n_bootstrap  confidence      method
    0   2.5  0.5    NaN    NaN  4         4            0        0.95  percentile
    """

    _value = "auc"  # the per-time estimate in to_frame (a class attribute, not a field)

    times: tuple
    auc: tuple
    lower: tuple
    upper: tuple
    mean_auc: float
    mean_lower: float
    mean_upper: float
    n: int
    n_events: int
    n_bootstrap: int
    confidence: float = 0.95
    method: str = "percentile"


def time_dependent_auc(y: np.ndarray, risk: ArrayLike, times: ArrayLike, *, y_train: np.ndarray | None = None,
                       n_bootstrap: int = 1000, method: str = "percentile", confidence: float = 0.95,
                       random_state=None) -> TimeDependentAUCResult:
    """Cumulative/dynamic AUC of a risk score at given times, with bootstrap intervals.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float) of the patients being evaluated.
    risk : array-like, shape (n_samples,)
        Predicted risk; **higher means worse**. Must not contain NaN.
    times : array-like of float
        Strictly increasing times within ``[min(time), max(time))`` of ``y``.
    y_train : structured array, optional
        Data the censoring distribution is estimated from; default ``y`` (as R's ``riskRegression::Score``).
    n_bootstrap : int, default=1000
        Bootstrap resamples of the patients; ``0`` skips the intervals. A resample whose follow-up ends before
        the last time is skipped (counted in ``n_bootstrap``).
    method : {"percentile", "bca"}, default="percentile"
        Interval type.
    confidence : float, default=0.95
        Two-sided level, in (0, 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap.

    Returns
    -------
    TimeDependentAUCResult

    Raises
    ------
    ValueError
        On NaN risks, a length mismatch, times that are not increasing or outside the follow-up, an undefined
        censoring weight, or a parameter out of range.

    See Also
    --------
    sksurv.metrics.cumulative_dynamic_auc : computes the estimate.

    Notes
    -----
    At time t the cases are the patients with an event at ``T_i <= t`` (weight ``1 / G(T_i-)``), the controls
    those with ``T_j > t`` (all the same weight ``1 / G(t)``, which cancels). AUC(t) is the weighted share of
    case-control pairs in which the case has the higher risk, tied risks counting 1/2. This equals R's
    ``riskRegression::Score(..., metrics = "auc", cens.model = "km")``; the tests check it to 1e-6 on three
    datasets (see :mod:`multisurv.evaluation.ipcw` for the weight convention, which differs from
    scikit-survival's own default when an event and a censoring share a time).

    References
    ----------
    .. [1] Uno, H., Cai, T., Tian, L., Wei, L. J. "Evaluating prediction rules for t-year survivors with
       censored regression models", Journal of the American Statistical Association 102(478), 527-537, 2007.
    .. [2] Hung, H., Chiang, C. T. "Estimation methods for time-dependent AUC models with survival data",
       Canadian Journal of Statistics 38(1), 8-26, 2010.

    Examples
    --------
    No censoring; at t = 2.5 the cases are patients 1 and 2 (risks 4 and 1), the controls 3 and 4 (risks 3 and
    2). The case with risk 4 outranks both controls, the case with risk 1 neither: AUC = 2 / 4.

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> time_dependent_auc(y, [4.0, 1.0, 3.0, 2.0], [2.5], n_bootstrap=0).auc
    (0.5,)
    """
    check_common("time_dependent_auc", n_bootstrap, method, confidence)
    y = check_survival_y(y)
    risk = check_risk(risk, len(y))
    times = check_times(times, y, owner="time_dependent_auc")
    ref = check_reference(y, y_train, owner="time_dependent_auc", horizon=float(times[-1]))
    fixed_ref = None if y_train is None else censoring_reference(ref)

    def statistic(idx: np.ndarray) -> np.ndarray:
        yb = y[idx]
        auc, mean_auc = cumulative_dynamic_auc(censoring_reference(yb) if fixed_ref is None else fixed_ref, yb,
                                               risk[idx], times, tied_tol=TIED_TOL)
        return np.r_[auc, mean_auc]

    estimate = statistic(np.arange(len(y)))
    lower = upper = np.full(estimate.size, np.nan)
    n_used = 0
    if n_bootstrap:
        boot = bootstrap_ci(statistic, len(y), n_bootstrap=n_bootstrap, method=method, confidence=confidence,
                            random_state=random_state)
        lower, upper, n_used = np.array(boot.lower), np.array(boot.upper), min(boot.n_bootstrap)
    k = times.size
    as_tuple = lambda a: tuple(float(v) for v in a)  # noqa: E731
    return TimeDependentAUCResult(
        times=as_tuple(times), auc=as_tuple(estimate[:k]), lower=as_tuple(lower[:k]), upper=as_tuple(upper[:k]),
        mean_auc=float(estimate[k]), mean_lower=float(lower[k]), mean_upper=float(upper[k]), n=len(y),
        n_events=int(y["event"].sum()), n_bootstrap=int(n_used), confidence=float(confidence), method=method,
    )


@dataclass(frozen=True)
class TimeDependentROC:
    """Cumulative/dynamic ROC curve at one time.

    Parameters
    ----------
    t0 : float
        Evaluation time.
    fpr, tpr : tuple of float
        False- and true-positive rates from (0, 0) to (1, 1); a patient is positive when ``risk >= threshold``.
    thresholds : tuple of float
        Threshold of each point (``inf`` for the first).
    auc : float
        Trapezoidal area under the curve: the AUC :func:`time_dependent_auc` reports at ``t0``.
    n_cases, n_controls : int
        Patients with an event by ``t0``, and still event-free after it.

    Examples
    --------
    Returned by :func:`time_dependent_roc`:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> roc = time_dependent_roc(y, [4.0, 1.0, 3.0, 2.0], 2.5)
    >>> roc.auc, roc.n_cases, roc.n_controls
    (0.5, 2, 2)
    """

    t0: float
    fpr: tuple
    tpr: tuple
    thresholds: tuple
    auc: float
    n_cases: int
    n_controls: int

    def to_frame(self) -> pd.DataFrame:
        """Return the curve, one row per threshold: ``threshold, fpr, tpr`` plus ``t0`` and ``auc``.

        Returns
        -------
        pandas.DataFrame
            Columns ``threshold``, ``fpr``, ``tpr``, ``t0``, ``auc``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
        >>> roc = time_dependent_roc(y, [4.0, 1.0, 3.0, 2.0], 2.5)
        >>> roc.to_frame()
           threshold  fpr  tpr   t0  auc
        0        inf  0.0  0.0  2.5  0.5
        1        4.0  0.0  0.5  2.5  0.5
        2        3.0  0.5  0.5  2.5  0.5
        3        2.0  1.0  0.5  2.5  0.5
        4        1.0  1.0  1.0  2.5  0.5
        """
        return pd.DataFrame({"threshold": self.thresholds, "fpr": self.fpr, "tpr": self.tpr, "t0": self.t0,
                             "auc": self.auc})


def time_dependent_roc(y: np.ndarray, risk: ArrayLike, t0: float, *, y_train: np.ndarray | None = None
                       ) -> TimeDependentROC:
    """Cumulative/dynamic ROC curve of a risk score at ``t0`` with the IPCW of :func:`time_dependent_auc`.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    risk : array-like, shape (n_samples,)
        Predicted risk; **higher means worse**. Must not contain NaN.
    t0 : float
        Time within ``[min(time), max(time))`` of ``y``.
    y_train : structured array, optional
        Data the censoring distribution is estimated from; default ``y``.

    Returns
    -------
    TimeDependentROC

    Raises
    ------
    ValueError
        As :func:`time_dependent_auc`, or when there is no case or no control at ``t0``.

    Notes
    -----
    The curve's points are the weighted sensitivity (cases weighted by ``1 / G(T_i-)``) and the unweighted
    false-positive rate at each distinct risk value; tied risks (within 1e-8) form one step, so the trapezoidal
    area counts a tied case-control pair 1/2, exactly scikit-survival's ``cumulative_dynamic_auc``. The points are
    computed here because scikit-survival returns only the area; the tests check the area against it.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> roc = time_dependent_roc(y, [4.0, 1.0, 3.0, 2.0], 2.5)
    >>> roc.auc, roc.tpr, roc.fpr
    (0.5, (0.0, 0.5, 0.5, 0.5, 1.0), (0.0, 0.0, 0.5, 1.0, 1.0))
    """
    y = check_survival_y(y)
    risk = check_risk(risk, len(y))
    t0 = float(check_times([t0], y, owner="time_dependent_roc")[0])
    ref = check_reference(y, y_train, owner="time_dependent_roc", horizon=t0)
    weight = CensoringDistributionEstimator().fit(censoring_reference(ref)).predict_ipcw(y)
    is_case = y["event"] & (y["time"] <= t0)
    is_control = y["time"] > t0
    if not is_case.any() or not is_control.any():
        raise ValueError(
            f"time_dependent_roc: at t0 = {t0:g} there are {int(is_case.sum())} case(s) (event by t0) and "
            f"{int(is_control.sum())} control(s) (event-free after t0); both are needed. Choose another t0."
        )
    order = np.argsort(-risk, kind="mergesort")
    r = risk[order]
    tp = np.cumsum(np.where(is_case[order], weight[order], 0.0))
    fp = np.cumsum(is_control[order].astype(float))
    last_of_tie = np.r_[np.abs(np.diff(r)) > TIED_TOL, True]  # a step ends where the next risk differs
    tpr = np.r_[0.0, tp[last_of_tie]] / tp[-1]
    fpr = np.r_[0.0, fp[last_of_tie]] / fp[-1]
    auc = float(np.trapezoid(tpr, fpr))
    return TimeDependentROC(t0=t0, fpr=tuple(fpr.tolist()), tpr=tuple(tpr.tolist()),
                            thresholds=tuple([np.inf, *r[last_of_tie].tolist()]), auc=auc,
                            n_cases=int(is_case.sum()), n_controls=int(is_control.sum()))
