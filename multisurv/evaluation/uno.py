"""Uno's concordance index: Harrell's C with inverse-probability-of-censoring weights, truncated at tau."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from sksurv.exceptions import NoComparablePairException
from sksurv.metrics import concordance_index_ipcw

from multisurv._validation import check_survival_y
from multisurv.evaluation._checks import check_common, check_risk
from multisurv.evaluation._result import ResultRecord
from multisurv.evaluation.bootstrap import bootstrap_ci
from multisurv.evaluation.concordance import TIED_TOL
from multisurv.evaluation.ipcw import censoring_reference, check_reference

__all__ = ["UnoCResult", "uno_concordance"]


@dataclass(frozen=True)
class UnoCResult(ResultRecord):
    """Uno's C with its bootstrap confidence interval.

    Parameters
    ----------
    cindex : float
        Uno's C on the full sample.
    lower, upper : float
        Bootstrap bounds (NaN when ``n_bootstrap == 0``).
    tau : float
        Truncation time (``inf`` when none was given).
    n, n_events : int
        Patients and observed events.
    n_bootstrap : int
        Number of bootstrap samples the interval rests on.
    confidence : float
        Confidence level.
    method : str
        Interval type, ``"percentile"`` or ``"bca"``.

    Examples
    --------
    Returned by :func:`uno_concordance`:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 0, 1, 0, 1])
    >>> uno_concordance(y, [6.0, 4.0, 5.0, 3.0, 1.0, 2.0], n_bootstrap=0)  # doctest: +NORMALIZE_WHITESPACE
    UnoCResult(cindex=0.9203539823008849, lower=nan, upper=nan, tau=inf, n=6, n_events=4, n_bootstrap=0,
               confidence=0.95, method='percentile')
    """

    cindex: float
    lower: float
    upper: float
    tau: float
    n: int
    n_events: int
    n_bootstrap: int
    confidence: float = 0.95
    method: str = "percentile"


def uno_concordance(y: np.ndarray, risk: ArrayLike, *, tau: float | None = None, y_train: np.ndarray | None = None,
                    n_bootstrap: int = 1000, method: str = "percentile", confidence: float = 0.95,
                    random_state=None) -> UnoCResult:
    """Uno's concordance index of a risk score, truncated at ``tau``, with a bootstrap interval.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float) of the patients being evaluated (see :func:`multisurv.make_y`).
    risk : array-like, shape (n_samples,)
        Predicted risk; **higher means worse**. Must not contain NaN.
    tau : float, optional
        Truncation time: only events at ``time <= tau`` count as the earlier member of a pair (R's ``ymax``).
        Choose it where enough patients are still followed; the default uses every event.
    y_train : structured array, optional
        Data the censoring distribution is estimated from, e.g. the training cohort of the model. By default
        ``y`` itself (R's convention, and the only choice when the evaluation cohort has its own censoring
        pattern, as an external cohort does).
    n_bootstrap : int, default=1000
        Bootstrap resamples of the patients; ``0`` skips the interval. With ``y_train`` given the censoring
        distribution stays fixed, otherwise it is re-estimated in each resample.
    method : {"percentile", "bca"}, default="percentile"
        Interval type (see :func:`multisurv.evaluation.bootstrap.bootstrap_interval`).
    confidence : float, default=0.95
        Two-sided level, in (0, 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap.

    Returns
    -------
    UnoCResult

    Raises
    ------
    ValueError
        On NaN risks, a length mismatch, no comparable pair, a censoring distribution that is unknown or zero
        at a used event time (the message names the ``tau`` to choose), or a parameter out of range.

    See Also
    --------
    sksurv.metrics.concordance_index_ipcw : computes the estimate.
    multisurv.evaluation.concordance.concordance : Harrell's C (no weights).

    Notes
    -----
    A comparable pair (i, j) has an event for i at ``T_i <= tau`` and ``T_j > T_i`` (or ``T_j == T_i`` with j
    censored); it weighs ``1 / G(T_i-)^2``, with ``G`` the Kaplan-Meier estimate of the censoring distribution
    (see :mod:`multisurv.evaluation.ipcw` for the tie and left-limit conventions). Concordant pairs count 1,
    tied risks (within 1e-8) 1/2. This equals R's ``survival::concordance(Surv(time, status) ~ risk,
    reverse = TRUE, timewt = "n/G2", ymax = tau)``; the tests check it to 1e-6 on three datasets. Note that
    scikit-survival's own ``tau`` keeps ``time < tau``; multisurv keeps ``time <= tau`` like R.

    References
    ----------
    .. [1] Uno, H., Cai, T., Pencina, M. J., D'Agostino, R. B., Wei, L. J. "On the C-statistics for evaluating
       overall adequacy of risk prediction procedures with censored survival data", Statistics in Medicine
       30(10), 1105-1117, 2011.

    Examples
    --------
    Without censoring every weight is 1 and Uno's C is Harrell's C:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> uno_concordance(y, [4.0, 3.0, 1.0, 2.0], n_bootstrap=0).cindex
    0.8333333333333334
    """
    check_common("uno_concordance", n_bootstrap, method, confidence)
    if tau is not None and (not isinstance(tau, numbers.Real) or isinstance(tau, bool) or not tau > 0):
        raise ValueError(f"The 'tau' parameter of uno_concordance must be a float > 0 or None. Got {tau!r} instead.")
    y = check_survival_y(y)
    risk = check_risk(risk, len(y))
    horizon = np.inf if tau is None else float(tau)
    ref = check_reference(y, y_train, owner="uno_concordance", horizon=horizon)
    fixed_ref = None if y_train is None else censoring_reference(ref)

    def statistic(idx: np.ndarray) -> float:
        yb = y[idx]
        return _uno(yb, risk[idx], censoring_reference(yb) if fixed_ref is None else fixed_ref, horizon)

    cindex = statistic(np.arange(len(y)))
    lower = upper = float("nan")
    n_used = 0
    if n_bootstrap:
        boot = bootstrap_ci(statistic, len(y), n_bootstrap=n_bootstrap, method=method, confidence=confidence,
                            random_state=random_state)
        lower, upper, n_used = boot.lower[0], boot.upper[0], boot.n_bootstrap[0]
    return UnoCResult(cindex=cindex, lower=lower, upper=upper, tau=horizon, n=len(y), n_events=int(y["event"].sum()),
                      n_bootstrap=n_used, confidence=float(confidence), method=method)


def _uno(y: np.ndarray, risk: np.ndarray, ref: np.ndarray, horizon: float) -> float:
    # sksurv keeps time < tau; the next float up makes it time <= tau (R's ymax).
    tau = None if np.isinf(horizon) else float(np.nextafter(horizon, np.inf))
    if not np.any(y["event"] & (y["time"] <= horizon)):
        raise ValueError(f"No event at or before tau = {horizon:g}, so Uno's C is undefined. Choose a later 'tau'.")
    try:
        return float(concordance_index_ipcw(ref, y, risk, tau=tau, tied_tol=TIED_TOL)[0])
    except NoComparablePairException:
        raise ValueError(
            f"No pair of the {len(y)} patients is comparable (an event at or before tau followed by a longer "
            "time), so Uno's C is undefined. Use a larger sample or a later 'tau'."
        ) from None
