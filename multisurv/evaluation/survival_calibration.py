"""Bootstrap optimism-corrected calibration of a Cox model at a time u, as ``rms::calibrate(cph, cmethod = "KM")``:
patients grouped by predicted survival, Kaplan-Meier observed survival per group, optimism of
"observed - predicted" by refitting the Cox model on every resample."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.evaluation._result import ResultRecord
from multisurv.evaluation.bootstrap import bootstrap_indices, check_indices
from multisurv.exceptions import MultisurvWarning
from multisurv.selection.stepwise import _efron_fit

__all__ = ["CoxCalibrationResult", "calibrate_cox_at", "efron_survival_at"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoxCalibrationResult(ResultRecord):
    """Grouped calibration of a Cox model at ``u``, apparent and optimism-corrected.

    Parameters
    ----------
    u : float
    table : pandas.DataFrame
        One row per group of predicted survival: ``group``, ``mean_predicted``, ``km`` (observed, apparent),
        ``apparent_error`` (``km - mean_predicted``), ``optimism``, ``km_corrected`` (``km - optimism``), ``n``
        (resamples that gave the group a value).
    mean_abs_error, q90_abs_error : float
        Mean and 90th percentile over groups of ``|km_corrected - mean_predicted|``.
    apparent_mean_abs_error, apparent_q90_abs_error : float
        The same for the apparent ``|km - mean_predicted|``.
    cuts : ndarray
        Group boundaries on predicted survival (rms's).
    n_bootstrap, n_failed : int

    Examples
    --------
    Returned by :func:`calibrate_cox_at`:

    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=100)})
    >>> y = make_y(rng.exponential(np.exp(-X["a"])), np.ones(100, bool))
    >>> res = calibrate_cox_at(X, y, 1.0, m=50, n_bootstrap=5, random_state=0)
    >>> res.u, res.table.shape, res.n_bootstrap, res.n_failed  # m=50 of 100 patients: two groups
    (1.0, (2, 7), 5, 0)
    """

    u: float
    table: pd.DataFrame
    mean_abs_error: float
    q90_abs_error: float
    apparent_mean_abs_error: float
    apparent_q90_abs_error: float
    cuts: np.ndarray
    n_bootstrap: int
    n_failed: int

    def to_frame(self) -> pd.DataFrame:
        """Return the per-group table with ``u``.

        Returns
        -------
        pandas.DataFrame
            ``table`` with a last column ``u``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame({"a": rng.normal(size=100)})
        >>> y = make_y(rng.exponential(np.exp(-X["a"])), np.ones(100, bool))
        >>> res = calibrate_cox_at(X, y, 1.0, m=50, n_bootstrap=5, random_state=0)
        >>> list(res.to_frame().columns)
        ['group', 'mean_predicted', 'km', 'apparent_error', 'optimism', 'km_corrected', 'n', 'u']
        """
        return self.table.assign(u=self.u)


def efron_survival_at(y: np.ndarray, lp_fit: np.ndarray, lp_new: np.ndarray, u: float) -> np.ndarray:
    """Survival at ``u`` of a Cox model: ``exp(-H0(u) exp(lp_new))``, with the Efron-type baseline hazard of the
    fitting data (``survival::survfit.coxph`` for an Efron fit: a tie of d events adds
    ``sum_{l<d} 1 / (S - l/d S_D)``), ``lp_fit`` the fitting data's linear predictor on the same scale.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        The fitting data's outcomes (fields ``event`` and ``time``).
    lp_fit : ndarray, shape (n_samples,)
        The fitting data's linear predictor.
    lp_new : array-like, shape (n_new,)
        Linear predictors to predict for, on the same scale.
    u : float
        Time point.

    Returns
    -------
    ndarray, shape (n_new,)
        ``exp(-H0(u) * exp(lp_new))``.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0], [1, 1, 0])
    >>> round(float(efron_survival_at(y, np.zeros(3), np.zeros(1), 2.5)[0]), 6)   # exp(-(1/3 + 1/2))
    0.434598
    """
    time, event = y["time"], y["event"]
    w = np.exp(lp_fit)
    h = 0.0
    for t in np.unique(time[event & (time <= u)]):
        at_risk = w[time >= t].sum()
        tied = event & (time == t)
        d = int(tied.sum())
        s_d = w[tied].sum()
        h += sum(1.0 / (at_risk - ll / d * s_d) for ll in range(d))
    return np.exp(-h * np.exp(np.asarray(lp_new, dtype=float)))


def _km_at_u(time: np.ndarray, event: np.ndarray, u: float) -> float:
    """Kaplan-Meier at u (the last value at a time <= u + 1e-6, as rms::groupkm)."""
    ev = np.unique(time[event & (time <= u + 1e-6)])
    if ev.size == 0:
        return 1.0
    sorted_t = np.sort(time)
    at_risk = time.size - np.searchsorted(sorted_t, ev, side="left")
    d = np.bincount(np.searchsorted(ev, time[event & (time <= u + 1e-6)]), minlength=ev.size)
    return float(np.prod(1.0 - d / at_risk))


def _grouped_error(y: np.ndarray, surv: np.ndarray, cuts: np.ndarray, u: float) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray]:
    """rms::groupkm with given cuts (``cut2``: intervals closed on the left, the last also on the right): per group
    the mean prediction and the Kaplan-Meier at u (NaN for a group with fewer than 2 patients)."""
    surv = np.where(np.abs(surv) < 1e-10, 0.0, surv)
    g = cuts.size - 1
    codes = np.clip(np.searchsorted(cuts, surv, side="right") - 1, 0, g - 1)
    pred = np.full(g, np.nan)
    km = np.full(g, np.nan)
    for k in range(g):
        rows = codes == k
        if rows.sum() >= 1:
            pred[k] = surv[rows].mean()
        if rows.sum() >= 2:
            km[k] = _km_at_u(y["time"][rows], y["event"][rows], u)
    return pred, km, km - pred


def calibrate_cox_at(X: pd.DataFrame | ArrayLike, y: np.ndarray, u: float, *, m: int = 150, n_bootstrap: int = 1000,
                     random_state=None, indices: ArrayLike | None = None) -> CoxCalibrationResult:
    """Bootstrap optimism-corrected calibration of an unpenalised Cox model at time ``u`` (rms, ``cmethod="KM"``).

    Parameters
    ----------
    X : DataFrame or array-like, shape (n_samples, n_features)
        The model's covariates (numeric, no missing values); the Cox model (Efron ties) is refitted on every
        resample.
    y : structured array, shape (n_samples,)
    u : float
        Time of the calibration.
    m : int, default=150
        Patients per group: ``floor(n / m)`` groups cut at quantiles of the predicted survival (rms's ``m``).
    n_bootstrap : int, default=1000
    random_state : int, RandomState instance or None
    indices : array-like of int, shape (n_resamples, n_samples), optional
        Resamples to replay (rms's, for the reference test).

    Returns
    -------
    CoxCalibrationResult

    Notes
    -----
    Groups are cut once, on the apparent predictions (``quantile(c(0, 1, S(u|x)), seq(0, 1, length = g + 1))``);
    per resample the Cox model is refitted and "observed - predicted" computed in those groups on the resample
    (training) and on the original data (test); resamples with fewer than 5 events are skipped, as in rms.
    ``km_corrected = km - mean(training - test)``. rms prints a mean and 0.9-quantile absolute error only for its
    default smooth ("hare", polspline) method; here they are taken over the groups of the KM method.

    References
    ----------
    .. [1] Harrell, F. E. "Regression Modeling Strategies", 2nd ed., Springer, 2015, section 20.13.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=300)})
    >>> y = make_y(rng.exponential(np.exp(-X["a"])), np.ones(300, bool))
    >>> res = calibrate_cox_at(X, y, 1.0, m=100, n_bootstrap=5, random_state=0)
    >>> res.table.shape[0]
    3
    """
    check_param("calibrate_cox_at", "m", m, kind="int", low=2)
    check_param("calibrate_cox_at", "n_bootstrap", n_bootstrap, kind="int", low=1)
    y = check_survival_y(y, where="calibrate_cox_at")
    values = np.asarray(X, dtype=float)
    if values.ndim != 2 or not np.all(np.isfinite(values)):
        raise ValueError("calibrate_cox_at: 'X' must be a 2-D table of finite numbers (impute first).")
    check_consistent_length(X=values, y=y)
    u = float(u)
    if not (y["time"].min() < u < y["time"].max()):
        raise ValueError(f"calibrate_cox_at: 'u' must lie inside the follow-up ({y['time'].min():g} to "
                         f"{y['time'].max():g}); got {u:g}.")
    beta, _, ok = _efron_fit(values, y)
    lp = values @ beta
    surv = efron_survival_at(y, lp, lp, u)
    g = max(1, values.shape[0] // m)
    cuts = np.unique(np.quantile(np.concatenate([[0.0, 1.0], surv]), np.linspace(0, 1, g + 1)))
    pred, km, apparent = _grouped_error(y, surv, cuts, u)
    samples = bootstrap_indices(y.shape[0], n_bootstrap, random_state) if indices is None else \
        check_indices(indices, y.shape[0])
    total = np.zeros(pred.size)
    count = np.zeros(pred.size, dtype=int)
    failed = 0
    for rows in samples:
        yb, Xb = y[rows], values[rows]
        if yb["event"].sum() < 5:
            failed += 1
            continue
        b, _, ok = _efron_fit(Xb, yb)
        if not ok or not np.all(np.isfinite(b)):
            failed += 1
            continue
        lp_b = Xb @ b
        train = _grouped_error(yb, efron_survival_at(yb, lp_b, lp_b, u), cuts, u)[2]
        test = _grouped_error(y, efron_survival_at(yb, lp_b, values @ b, u), cuts, u)[2]
        okk = np.isfinite(train + test)
        total[okk] += (train - test)[okk]
        count[okk] += 1
    if failed:
        warnings.warn(f"calibrate_cox_at: {failed} of {len(samples)} resamples had fewer than 5 events or a Cox fit "
                      "that did not converge and were left out.", category=MultisurvWarning, stacklevel=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        optimism = total / count
    corrected = km - optimism
    err, app_err = np.abs(corrected - pred), np.abs(km - pred)
    table = pd.DataFrame({"group": np.arange(pred.size), "mean_predicted": pred, "km": km, "apparent_error": apparent,
                          "optimism": optimism, "km_corrected": corrected, "n": count})
    return CoxCalibrationResult(u=u, table=table, mean_abs_error=float(np.nanmean(err)),
                                q90_abs_error=float(np.nanquantile(err, 0.9)),
                                apparent_mean_abs_error=float(np.nanmean(app_err)),
                                apparent_q90_abs_error=float(np.nanquantile(app_err, 0.9)), cuts=cuts,
                                n_bootstrap=len(samples), n_failed=failed)
