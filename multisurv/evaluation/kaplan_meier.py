"""Kaplan-Meier survival estimate with R's confidence bands, survival at given times and median survival."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from numpy.typing import ArrayLike
from scipy.stats import norm

from multisurv._validation import check_param, check_survival_y, make_y

__all__ = ["KaplanMeierResult", "kaplan_meier", "CONF_TYPES"]

#: Confidence-band transforms, named as R's ``survfit(conf.type=)``.
CONF_TYPES = ("log", "log-log", "plain")
#: R's tolerance for "the curve equals 0.5" in the median rule (``sqrt(.Machine$double.eps)``).
_MEDIAN_TOL = float(np.sqrt(np.finfo(float).eps))
#: Columns of :meth:`KaplanMeierResult.to_frame` and :meth:`KaplanMeierResult.at_times`.
_COLUMNS = ("time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper")


@dataclass(frozen=True, eq=False)
class KaplanMeierResult:
    """A Kaplan-Meier curve with its pointwise confidence band and median survival.

    One entry per distinct observed time (event or censoring), as the rows of R's ``survfit`` object.

    Parameters
    ----------
    time : ndarray of float, shape (n_times,)
        Distinct observed times, increasing.
    n_risk, n_event, n_censor : ndarray of int, shape (n_times,)
        Patients at risk just before ``time``, events and censorings at ``time``.
    surv : ndarray of float, shape (n_times,)
        Kaplan-Meier survival (right-continuous: the value from ``time`` until the next time).
    std_err : ndarray of float, shape (n_times,)
        Greenwood standard error of the cumulative hazard ``-log(surv)``, as R's ``survfit$std.err``
        (``inf`` once ``surv`` reaches 0). The standard error of ``surv`` itself is ``surv * std_err``.
    lower, upper : ndarray of float, shape (n_times,)
        Pointwise confidence band (NaN where ``surv`` is 0).
    conf_type : {"log", "log-log", "plain"}
        Transform of the band.
    confidence : float
        Level of the band.
    median, median_lower, median_upper : float
        Median survival and its confidence interval; NaN when not reached (R's ``NA``).
    n, n_events : int
        Patients and events.

    Examples
    --------
    Returned by :func:`kaplan_meier`:

    >>> from multisurv._validation import make_y
    >>> km = kaplan_meier(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]))
    >>> km.surv.tolist(), km.median  # S = 0.5 from t = 2 to 4: R's median is the midpoint
    ([0.75, 0.5, 0.5, 0.0], 3.0)
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    conf_type: str
    confidence: float
    median: float
    median_lower: float
    median_upper: float
    n: int
    n_events: int

    def to_frame(self) -> pd.DataFrame:
        """Return the curve as a DataFrame, one row per distinct time (the columns of R's ``survfit``).

        Returns
        -------
        pandas.DataFrame
            Columns ``time``, ``n_risk``, ``n_event``, ``n_censor``, ``surv``, ``std_err``, ``lower``, ``upper``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> km = kaplan_meier(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]))
        >>> km.to_frame().round(3)
           time  n_risk  n_event  n_censor  surv  std_err  lower  upper
        0   1.0       4        1         0  0.75    0.289  0.426    1.0
        1   2.0       3        1         0  0.50    0.500  0.188    1.0
        2   3.0       2        0         1  0.50    0.500  0.188    1.0
        3   4.0       1        1         0  0.00      inf    NaN    NaN
        """
        return pd.DataFrame({c: getattr(self, c) for c in _COLUMNS})

    def to_dict(self) -> dict:
        """Return the fields as plain Python types (arrays become lists; NaN stays a float NaN).

        Returns
        -------
        dict
            Field name -> value; arrays as lists, numbers as Python floats and ints.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> km = kaplan_meier(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]))
        >>> d = km.to_dict()
        >>> d["n_risk"], d["median"], d["conf_type"]
        ([4, 3, 2, 1], 3.0, 'log')
        """
        out: dict = {}
        for key, value in self.__dict__.items():
            if isinstance(value, np.ndarray):
                out[key] = value.tolist()
            else:
                out[key] = value
        return out

    def at_times(self, times: ArrayLike, *, extend: bool = False) -> pd.DataFrame:
        """The curve at given times, as R's ``summary(survfit, times = times, extend = extend)``.

        Parameters
        ----------
        times : array-like of float
            Times >= 0; they are sorted (as R sorts them).
        extend : bool, default=False
            Keep times after the last observed time (with ``n_risk`` 0 and the last survival value). By
            default they are dropped, as in R.

        Returns
        -------
        pandas.DataFrame
            Columns ``time, n_risk, n_event, n_censor, surv, std_err, lower, upper``. ``n_risk`` counts the
            patients at risk at ``time`` (observed time >= ``time``); ``n_event`` and ``n_censor`` count
            those in the interval since the previous requested time (from 0 for the first). ``std_err`` is
            the standard error of ``surv`` (R's summary reports it on this scale). Before the first observed
            time the survival is 1 with a band [1, 1].

        Raises
        ------
        ValueError
            If a time is negative or not a finite number.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> km = kaplan_meier(make_y([2.0, 3.0, 4.0, 6.0], [1, 0, 1, 1]))
        >>> at = km.at_times([1, 4, 10], extend=True)
        >>> at["surv"].tolist(), at["n_risk"].tolist(), at["n_event"].tolist()
        ([1.0, 0.375, 0.0], [4, 2, 0], [0, 2, 1])
        """
        req = np.sort(np.asarray(times, dtype=float).ravel())
        if req.size and (not np.all(np.isfinite(req)) or req.min() < 0):
            raise ValueError(f"'times' must be finite numbers >= 0; got {np.asarray(times).tolist()!r}.")
        if not extend:
            req = req[req <= self.time[-1]]
        # Index of the last curve time <= t (-1: before the first time, where S = 1 with a [1, 1] band).
        last = np.searchsorted(self.time, req, side="right") - 1
        before = last < 0
        idx = np.where(before, 0, last)
        surv = np.where(before, 1.0, self.surv[idx])
        with np.errstate(invalid="ignore"):
            std_err = np.where(before, 0.0, self.surv[idx] * self.std_err[idx])
        lower = np.where(before, 1.0, self.lower[idx])
        upper = np.where(before, 1.0, self.upper[idx])
        # At risk at t: everyone whose observed time is >= t, i.e. n_risk at the first curve time >= t.
        first = np.searchsorted(self.time, req, side="left")
        n_risk = np.where(first < self.time.size, self.n_risk[np.minimum(first, self.time.size - 1)], 0)
        # Events and censorings in (previous requested time, t].
        cum_event = np.concatenate([[0], np.cumsum(self.n_event)])
        cum_censor = np.concatenate([[0], np.cumsum(self.n_censor)])
        n_event = np.diff(np.concatenate([[0], cum_event[last + 1]]))
        n_censor = np.diff(np.concatenate([[0], cum_censor[last + 1]]))
        return pd.DataFrame({"time": req, "n_risk": n_risk.astype(int), "n_event": n_event.astype(int),
                             "n_censor": n_censor.astype(int), "surv": surv, "std_err": std_err, "lower": lower,
                             "upper": upper})


def kaplan_meier(y: np.ndarray, *, conf_type: str = "log", confidence: float = 0.95) -> KaplanMeierResult:
    """Kaplan-Meier estimate with a pointwise confidence band and the median survival with its CI.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float), as built by :func:`multisurv.make_y`. A sample without
        any event is allowed (the curve stays at 1).
    conf_type : {"log", "log-log", "plain"}, default="log"
        Transform of the confidence band, as R's ``survfit(conf.type=)``: ``"log"`` (R's default),
        ``"log-log"`` (lifelines' "exponential Greenwood" band) or ``"plain"`` (linear, clipped to [0, 1]).
    confidence : float, default=0.95
        Level of the band and of the median's interval, in (0, 1).

    Returns
    -------
    KaplanMeierResult

    Raises
    ------
    ValueError
        If ``y`` is not a valid survival array or a parameter is out of range.

    See Also
    --------
    lifelines.KaplanMeierFitter : computes the survival curve and the event table used here.
    KaplanMeierResult.at_times : survival at given times (R's ``summary(fit, times=)``).

    Notes
    -----
    With ``d`` events among ``n`` at risk at each time (lifelines' event table), ``surv`` is the product of
    ``1 - d/n`` and ``std_err`` the Greenwood standard error of the cumulative hazard,
    ``sqrt(sum d / (n (n - d)))``. lifelines reports only the log-log band, so all three bands are computed
    here from that one standard error, exactly as R's ``survfit`` does (``z`` is the normal quantile):

    - ``"log"``: ``surv * exp(-z * std_err)`` to ``min(1, surv * exp(z * std_err))``;
    - ``"log-log"``: ``surv ** exp(-+ z * std_err / log(surv))``, i.e. the band of ``log(-log(surv))``;
    - ``"plain"``: ``surv -+ z * surv * std_err``, clipped to [0, 1].

    Where ``surv`` is 0 the band is NaN (R: NA). Where ``surv`` is 1 (before the first event) the band
    is [1, 1]; R's log-log band is NA there (0/0 in its formula), lifelines' is [1, 1].

    **Median survival** follows R's ``print(survfit)`` (``survival:::survmean``): the median is the first
    time at which the curve is <= 0.5. If the curve equals 0.5 there (within ``sqrt(machine eps)``),
    i.e. it is flat at exactly one half, the median is the midpoint between that time and the time the
    curve next drops below 0.5; if it never drops below (the curve ends at 0.5), the median is the time it
    reached 0.5. The interval applies the same rule to the lower band (lower limit) and the upper band
    (upper limit). NaN means "not reached". ``quantile(fit, 0.5)`` in R differs in one case only: when the
    curve ends exactly at 0.5 it returns the midpoint with the last follow-up time.

    References
    ----------
    .. [1] Kaplan, E. L., Meier, P. "Nonparametric estimation from incomplete observations", Journal of the
       American Statistical Association 53(282), 457-481, 1958.
    .. [2] Brookmeyer, R., Crowley, J. "A confidence interval for the median survival time", Biometrics
       38(1), 29-41, 1982.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> km = kaplan_meier(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]))
    >>> km.surv.tolist(), km.median
    ([0.75, 0.5, 0.5, 0.0], 3.0)
    """
    check_param("kaplan_meier", "conf_type", conf_type, kind="option", options=CONF_TYPES)
    check_param("kaplan_meier", "confidence", confidence, kind="float", low=0, high=1, low_open=True,
                high_open=True)
    y = _check_y(y)
    kmf = KaplanMeierFitter().fit(y["time"], y["event"])
    table = kmf.event_table
    table = table[table["removed"] > 0]  # lifelines adds a row at time 0; R's rows are the observed times
    time = table.index.to_numpy(dtype=float)
    n_risk = table["at_risk"].to_numpy(dtype=int)
    n_event = table["observed"].to_numpy(dtype=int)
    n_censor = table["censored"].to_numpy(dtype=int)
    # The product itself, as R forms it: lifelines' exp(sum(log(...))) leaves last-digit noise (0.7500000000000001).
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        increments = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event).astype(float)), 0.0)
    std_err = np.sqrt(np.cumsum(increments))
    lower, upper = _band(surv, std_err, conf_type, confidence)
    return KaplanMeierResult(
        time=time, n_risk=n_risk, n_event=n_event, n_censor=n_censor, surv=surv, std_err=std_err, lower=lower,
        upper=upper, conf_type=conf_type, confidence=float(confidence), median=_median(time, surv),
        median_lower=_median(time, lower), median_upper=_median(time, upper), n=int(y.shape[0]),
        n_events=int(y["event"].sum()),
    )


def _check_y(y) -> np.ndarray:
    """check_survival_y, except that a sample without events is allowed (its curve is simply 1)."""
    arr = np.asarray(y)
    if arr.dtype.names is not None and set(arr.dtype.names) == {"event", "time"} and arr.shape[0] > 0 \
            and not np.asarray(arr["event"], dtype=bool).any():
        arr = make_y(arr["time"], arr["event"])
        if not np.all(np.isfinite(arr["time"])) or np.any(arr["time"] <= 0):
            raise ValueError("'y' has times that are not finite numbers > 0.")
        return arr
    return check_survival_y(y)


def _band(surv: np.ndarray, std_err: np.ndarray, conf_type: str, confidence: float):
    """R's ``survfit_confint`` for a Kaplan-Meier curve (standard error on the cumulative-hazard scale)."""
    z = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half = z * std_err * surv
            lower, upper = np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0)
        elif conf_type == "log":
            lower, upper = surv * np.exp(-z * std_err), np.minimum(surv * np.exp(z * std_err), 1.0)
        else:  # log-log
            shift = z * std_err / np.log(surv)
            loglog = np.log(-np.log(surv))
            lower, upper = np.exp(-np.exp(loglog - shift)), np.exp(-np.exp(loglog + shift))
            lower = np.where(surv == 1.0, 1.0, lower)
            upper = np.where(surv == 1.0, 1.0, upper)
    zero = surv == 0.0
    return np.where(zero, np.nan, lower), np.where(zero, np.nan, upper)


def _median(time: np.ndarray, curve: np.ndarray) -> float:
    """First time ``curve`` <= 0.5, with R's flat-at-one-half midpoint rule (``survival:::survmean``)."""
    keep = ~np.isnan(curve) & (curve < 0.5 + _MEDIAN_TOL)
    if not keep.any():
        return float("nan")
    x, y = time[keep], curve[keep]
    if abs(y[0] - 0.5) < _MEDIAN_TOL:
        below = np.flatnonzero(y < y[0])
        if below.size:
            return float((x[0] + x[below[0]]) / 2.0)
    return float(x[0])
