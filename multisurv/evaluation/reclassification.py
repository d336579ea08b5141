"""Reclassification between an old and a new model: net reclassification improvement (NRI, categorical and
continuous) and integrated discrimination improvement (IDI), for a binary outcome and for survival at a time t,
with bootstrap intervals. The question they answer: does adding a modality (say pathomics) to the clinical model
move patients to better risk categories?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

from multisurv._validation import check_param, check_survival_y
from multisurv.evaluation._result import ResultRecord
from multisurv.evaluation.binary import check_probability
from multisurv.evaluation.bootstrap import bootstrap_ci
from multisurv.selection._logistic import check_binary_y

__all__ = ["IDIResult", "NRIResult", "idi", "idi_at", "nri", "nri_at"]


@dataclass(frozen=True)
class NRIResult(ResultRecord):
    """Net reclassification improvement of the new model over the old one.

    Parameters
    ----------
    nri : float
        ``nri_events + nri_non_events`` (the sum, not the mean, as Pencina et al.).
    nri_events : float
        ``P(up | event) - P(down | event)``.
    nri_non_events : float
        ``P(down | non-event) - P(up | non-event)``.
    standard_error, z, p_value : float
        Asymptotic (Pencina et al. 2008) for a binary outcome; bootstrap standard error and its Wald z, p for
        survival at t (no closed form with censoring).
    lower, upper : float
        Bootstrap percentile interval of ``nri`` (NaN when ``n_bootstrap=0``).
    events_lower, events_upper, non_events_lower, non_events_upper : float
        Bootstrap intervals of the two components.
    kind : str
        ``"categorical"`` (with ``cutoffs``) or ``"continuous"`` (any up/down move, "NRI(>0)").
    cutoffs : tuple of float
    n, n_events : int
        For survival: ``n_events`` counts events observed by ``t0``.
    n_bootstrap : int
    confidence : float
    t0 : float or None
        The time of a survival NRI; None for a binary outcome.
    method : str
        ``"binary"`` or ``"km"`` (survival: Kaplan-Meier weighting of Pencina, Steyerberg and D'Agostino 2011).

    Examples
    --------
    Returned by :func:`nri` and :func:`nri_at`:

    >>> res = nri([1, 1, 0, 0], [0.2, 0.2, 0.2, 0.2], [0.4, 0.1, 0.1, 0.1], cutoffs=[0.15, 0.3], n_bootstrap=0)
    >>> res.nri, res.kind, res.cutoffs, round(res.standard_error, 4)
    (1.0, 'categorical', (0.15, 0.3), 0.7071)
    """

    nri: float
    nri_events: float
    nri_non_events: float
    standard_error: float
    z: float
    p_value: float
    lower: float
    upper: float
    events_lower: float
    events_upper: float
    non_events_lower: float
    non_events_upper: float
    kind: str
    cutoffs: tuple = field(default_factory=tuple)
    n: int = 0
    n_events: int = 0
    n_bootstrap: int = 0
    confidence: float = 0.95
    t0: float | None = None
    method: str = "binary"


@dataclass(frozen=True)
class IDIResult(ResultRecord):
    """Integrated discrimination improvement: the change in discrimination slope (mean risk of events minus mean
    risk of non-events) from the old to the new model.

    Parameters
    ----------
    idi : float
    slope_old, slope_new : float
        Discrimination slopes (Yates) of the two models.
    standard_error, z, p_value : float
        Asymptotic (Pencina et al. 2008) for a binary outcome; bootstrap for survival at t.
    lower, upper : float
        Bootstrap percentile interval of ``idi``.
    n, n_events, n_bootstrap : int
    confidence : float
    t0 : float or None
    method : str
        ``"binary"`` or ``"ipcw"`` (survival: inverse-probability-of-censoring weights).

    Examples
    --------
    Returned by :func:`idi`:

    >>> res = idi([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5], [0.7, 0.6, 0.4, 0.3], n_bootstrap=0)
    >>> round(res.idi, 6), res.slope_old, round(res.slope_new, 6), res.method
    (0.3, 0.0, 0.3, 'binary')
    """

    idi: float
    slope_old: float
    slope_new: float
    standard_error: float
    z: float
    p_value: float
    lower: float
    upper: float
    n: int = 0
    n_events: int = 0
    n_bootstrap: int = 0
    confidence: float = 0.95
    t0: float | None = None
    method: str = "binary"


# ------------------------------------------------------------------ helpers
def _categories(prob: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
    """Category index of each probability; a cut-off c starts the category above it (p >= c)."""
    return np.searchsorted(cutoffs, prob, side="right")


def _moves(old: np.ndarray, new: np.ndarray, cutoffs: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if cutoffs is None:
        return new > old, new < old
    co, cn = _categories(old, cutoffs), _categories(new, cutoffs)
    return cn > co, cn < co


def _check_cutoffs(cutoffs, owner: str) -> np.ndarray | None:
    if cutoffs is None:
        return None
    c = np.atleast_1d(np.asarray(cutoffs, dtype=float))
    if c.ndim != 1 or c.size == 0 or np.any((c <= 0) | (c >= 1)) or np.any(np.diff(c) <= 0):
        raise ValueError(
            f"{owner}: 'cutoffs' must be increasing risks strictly between 0 and 1 (e.g. [0.1, 0.3]); got "
            f"{cutoffs!r}. Pass None for the continuous NRI."
        )
    return c


def _check_common(owner: str, n_bootstrap, confidence) -> None:
    check_param(owner, "n_bootstrap", n_bootstrap, kind="int", low=0)
    check_param(owner, "confidence", confidence, kind="float", low=0, high=1, low_open=True, high_open=True)


def _wald(estimate: float, se: float) -> tuple[float, float]:
    if not np.isfinite(se) or se <= 0:
        return float("nan"), float("nan")
    z = estimate / se
    return float(z), float(2 * norm.sf(abs(z)))


def _interval(statistic, n: int, n_bootstrap: int, confidence: float, random_state, size: int):
    if n_bootstrap == 0:
        nan = (float("nan"),) * size
        return nan, nan, nan
    res = bootstrap_ci(statistic, n, n_bootstrap=n_bootstrap, confidence=confidence, random_state=random_state)
    return res.lower, res.upper, res.standard_error


# ------------------------------------------------------------------ binary outcome
def _binary_nri(y: np.ndarray, old: np.ndarray, new: np.ndarray, cutoffs) -> np.ndarray:
    ev = y == 1
    if ev.all() or not ev.any():
        raise ValueError("a resample without events or non-events")
    up, down = _moves(old, new, cutoffs)
    nri_e = up[ev].mean() - down[ev].mean()
    nri_ne = down[~ev].mean() - up[~ev].mean()
    return np.array([nri_e + nri_ne, nri_e, nri_ne])


def nri(y: ArrayLike, prob_old: ArrayLike, prob_new: ArrayLike, *, cutoffs: Sequence[float] | None = None,
        n_bootstrap: int = 1000, confidence: float = 0.95, random_state=None) -> NRIResult:
    """Net reclassification improvement for a binary outcome, categorical (with ``cutoffs``) or continuous.

    Parameters
    ----------
    y : array-like of 0/1 or bool, shape (n_samples,)
    prob_old, prob_new : array-like, shape (n_samples,)
        Predicted probabilities of the old (e.g. clinical) and new (e.g. clinical + pathomics) model.
    cutoffs : sequence of float, optional
        Risk-category boundaries in (0, 1), e.g. ``[0.1, 0.3]`` (a risk equal to a cut-off falls in the upper
        category). None gives the continuous NRI ("NRI(>0)": any increase is "up").
    n_bootstrap : int, default=1000
        Resamples of patients for the percentile intervals (0: none).
    confidence : float, default=0.95
    random_state : int, RandomState instance or None

    Returns
    -------
    NRIResult

    Notes
    -----
    ``NRI = [P(up | event) - P(down | event)] + [P(down | non-event) - P(up | non-event)]``; the standard error is
    Pencina et al.'s asymptotic one, ``sqrt((u_e + d_e) / n_e - (u_e - d_e)^2 / n_e + (u_n + d_n) / n_n -
    (u_n - d_n)^2 / n_n)``. The NRI depends on the cut-offs, and the continuous NRI is known to be positive for
    uninformative added markers in overfitted models [2]_: assess the new model on data it was not fitted on.

    References
    ----------
    .. [1] Pencina, M. J., D'Agostino, R. B. Sr, D'Agostino, R. B. Jr, Vasan, R. S. "Evaluating the added
       predictive ability of a new marker: from area under the ROC curve to reclassification and beyond",
       Statistics in Medicine 27(2), 157-172, 2008.
    .. [2] Pepe, M. S., Fan, J., Feng, Z., Gerds, T., Hilden, J. "The net reclassification index (NRI): a
       misleading measure of prediction improvement even with independent test data sets", Statistics in
       Biosciences 7(2), 282-295, 2015.

    Examples
    --------
    >>> y = [1, 1, 0, 0]
    >>> res = nri(y, [0.2, 0.2, 0.2, 0.2], [0.4, 0.1, 0.1, 0.1], cutoffs=[0.15, 0.3], n_bootstrap=0)
    >>> res.nri_events, res.nri_non_events, res.nri
    (0.0, 1.0, 1.0)
    """
    _check_common("nri", n_bootstrap, confidence)
    yy = check_binary_y(y, where="nri")
    old = check_probability(prob_old, yy.size, name="prob_old")
    new = check_probability(prob_new, yy.size, name="prob_new")
    c = _check_cutoffs(cutoffs, "nri")
    est = _binary_nri(yy, old, new, c)
    up, down = _moves(old, new, c)
    ev = yy == 1
    ne, nn = int(ev.sum()), int((~ev).sum())
    ue, de, un, dn = up[ev].mean(), down[ev].mean(), up[~ev].mean(), down[~ev].mean()
    se = float(np.sqrt((ue + de) / ne - (ue - de) ** 2 / ne + (un + dn) / nn - (un - dn) ** 2 / nn))
    z, p = _wald(est[0], se)
    lower, upper, _ = _interval(lambda idx: _binary_nri(yy[idx], old[idx], new[idx], c), yy.size, n_bootstrap,
                                confidence, random_state, 3)
    return NRIResult(nri=float(est[0]), nri_events=float(est[1]), nri_non_events=float(est[2]), standard_error=se,
                     z=z, p_value=p, lower=float(lower[0]), upper=float(upper[0]), events_lower=float(lower[1]),
                     events_upper=float(upper[1]), non_events_lower=float(lower[2]),
                     non_events_upper=float(upper[2]), kind="continuous" if c is None else "categorical",
                     cutoffs=() if c is None else tuple(float(v) for v in c), n=int(yy.size), n_events=ne,
                     n_bootstrap=int(n_bootstrap), confidence=confidence)


def _binary_idi(y: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    ev = y == 1
    if ev.all() or not ev.any():
        raise ValueError("a resample without events or non-events")
    s_old = old[ev].mean() - old[~ev].mean()
    s_new = new[ev].mean() - new[~ev].mean()
    return np.array([s_new - s_old, s_old, s_new])


def idi(y: ArrayLike, prob_old: ArrayLike, prob_new: ArrayLike, *, n_bootstrap: int = 1000,
        confidence: float = 0.95, random_state=None) -> IDIResult:
    """Integrated discrimination improvement for a binary outcome.

    Parameters
    ----------
    y : array-like of 0/1 or bool, shape (n_samples,)
    prob_old, prob_new : array-like, shape (n_samples,)
        Predicted probabilities of the old and the new model.
    n_bootstrap : int, default=1000
    confidence : float, default=0.95
    random_state : int, RandomState instance or None

    Returns
    -------
    IDIResult

    Notes
    -----
    ``IDI = [mean(p_new - p_old | event)] - [mean(p_new - p_old | non-event)]``, with Pencina et al.'s standard
    error ``sqrt(var(p_new - p_old | event) / n_e + var(p_new - p_old | non-event) / n_n)`` (sample variances).

    References
    ----------
    .. [1] Pencina, M. J. et al., Statistics in Medicine 27(2), 157-172, 2008.

    Examples
    --------
    >>> res = idi([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5], [0.7, 0.6, 0.4, 0.3], n_bootstrap=0)
    >>> round(res.idi, 6), round(res.slope_new, 6)
    (0.3, 0.3)
    """
    _check_common("idi", n_bootstrap, confidence)
    yy = check_binary_y(y, where="idi")
    old = check_probability(prob_old, yy.size, name="prob_old")
    new = check_probability(prob_new, yy.size, name="prob_new")
    est = _binary_idi(yy, old, new)
    ev = yy == 1
    d = new - old
    se = float(np.sqrt(np.var(d[ev], ddof=1) / ev.sum() + np.var(d[~ev], ddof=1) / (~ev).sum()))
    z, p = _wald(est[0], se)
    lower, upper, _ = _interval(lambda idx: _binary_idi(yy[idx], old[idx], new[idx]), yy.size, n_bootstrap,
                                confidence, random_state, 3)
    return IDIResult(idi=float(est[0]), slope_old=float(est[1]), slope_new=float(est[2]), standard_error=se, z=z,
                     p_value=p, lower=float(lower[0]), upper=float(upper[0]), n=int(yy.size), n_events=int(ev.sum()),
                     n_bootstrap=int(n_bootstrap), confidence=confidence)


# ------------------------------------------------------------------ survival at t0
def _km_at(time: np.ndarray, event: np.ndarray, t0: float) -> float:
    """Kaplan-Meier survival at t0 (right-continuous: an event at t0 counts); 1 for an empty group."""
    if time.size == 0:
        return 1.0
    ev_times = np.unique(time[event & (time <= t0)])
    if ev_times.size == 0:
        return 1.0
    sorted_t = np.sort(time)
    at_risk = time.size - np.searchsorted(sorted_t, ev_times, side="left")
    d = np.bincount(np.searchsorted(ev_times, time[event & (time <= t0)]), minlength=ev_times.size)
    return float(np.prod(1.0 - d / at_risk))


def _surv_nri(time: np.ndarray, event: np.ndarray, old: np.ndarray, new: np.ndarray, t0: float,
              cutoffs) -> np.ndarray:
    s_all = _km_at(time, event, t0)
    if s_all <= 0 or s_all >= 1:
        raise ValueError("Kaplan-Meier survival at t0 is 0 or 1")
    up, down = _moves(old, new, cutoffs)
    p_up, p_down = up.mean(), down.mean()
    s_up = _km_at(time[up], event[up], t0)
    s_down = _km_at(time[down], event[down], t0)
    nri_e = ((1 - s_up) * p_up - (1 - s_down) * p_down) / (1 - s_all)
    nri_ne = (s_down * p_down - s_up * p_up) / s_all
    return np.array([nri_e + nri_ne, nri_e, nri_ne])


def _check_survival_inputs(owner, y, risk_old, risk_new, t0):
    yy = check_survival_y(y, where=owner)
    old = check_probability(risk_old, yy.shape[0], name="risk_old")
    new = check_probability(risk_new, yy.shape[0], name="risk_new")
    t0 = float(t0)
    if not np.isfinite(t0) or t0 <= yy["time"].min() or t0 >= yy["time"].max():
        raise ValueError(
            f"{owner}: 't0' must lie inside the follow-up, between {yy['time'].min():g} and {yy['time'].max():g} "
            f"(exclusive); got {t0!r}."
        )
    if not np.any(yy["event"] & (yy["time"] <= t0)):
        raise ValueError(f"{owner}: no event is observed by t0={t0:g}, so no patient is a case. Choose a later 't0'.")
    return yy, old, new, t0


def nri_at(y: np.ndarray, risk_old: ArrayLike, risk_new: ArrayLike, t0: float, *,
           cutoffs: Sequence[float] | None = None, n_bootstrap: int = 1000, confidence: float = 0.95,
           random_state=None) -> NRIResult:
    """NRI at time t0 for censored survival data (Kaplan-Meier weighting).

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time``.
    risk_old, risk_new : array-like, shape (n_samples,)
        Predicted probabilities of the event by ``t0`` (``1 - S(t0 | x)``) of the two models.
    t0 : float
        Horizon, inside the follow-up.
    cutoffs : sequence of float, optional
        Risk categories; None for the continuous NRI.
    n_bootstrap : int, default=1000
        Resamples for the percentile intervals and the standard error (0: none).
    confidence : float, default=0.95
    random_state : int, RandomState instance or None

    Returns
    -------
    NRIResult
        ``method="km"``; ``standard_error`` is the bootstrap one (NaN without resamples).

    Notes
    -----
    Who is an "event by t0" is unknown for patients censored before t0, so the conditional probabilities are
    estimated by Bayes' rule with Kaplan-Meier estimates [1]_ (the "KM" estimator of ``nricens``):
    ``P(up | event) = (1 - S_up(t0)) P(up) / (1 - S(t0))`` and ``P(up | non-event) = S_up(t0) P(up) / S(t0)``,
    with ``S_up`` the Kaplan-Meier curve of the patients moved up (likewise down) and ``S`` that of everyone.

    References
    ----------
    .. [1] Pencina, M. J., D'Agostino, R. B. Sr, Steyerberg, E. W. "Extensions of net reclassification
       improvement calculations to measure usefulness of new biomarkers", Statistics in Medicine 30(1), 11-21,
       2011.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 6.0, 7.0], [1, 1, 0, 1, 0, 0])
    >>> res = nri_at(y, [0.5] * 6, [0.9, 0.8, 0.2, 0.7, 0.1, 0.3], 5.0, n_bootstrap=0)
    >>> res.kind, res.method
    ('continuous', 'km')
    """
    _check_common("nri_at", n_bootstrap, confidence)
    yy, old, new, t0 = _check_survival_inputs("nri_at", y, risk_old, risk_new, t0)
    c = _check_cutoffs(cutoffs, "nri_at")
    time, event = yy["time"], yy["event"]
    est = _surv_nri(time, event, old, new, t0, c)
    lower, upper, se = _interval(lambda idx: _surv_nri(time[idx], event[idx], old[idx], new[idx], t0, c),
                                 time.size, n_bootstrap, confidence, random_state, 3)
    z, p = _wald(est[0], se[0])
    return NRIResult(nri=float(est[0]), nri_events=float(est[1]), nri_non_events=float(est[2]),
                     standard_error=float(se[0]), z=z, p_value=p, lower=float(lower[0]), upper=float(upper[0]),
                     events_lower=float(lower[1]), events_upper=float(upper[1]), non_events_lower=float(lower[2]),
                     non_events_upper=float(upper[2]), kind="continuous" if c is None else "categorical",
                     cutoffs=() if c is None else tuple(float(v) for v in c), n=int(time.size),
                     n_events=int(np.sum(event & (time <= t0))), n_bootstrap=int(n_bootstrap),
                     confidence=confidence, t0=t0, method="km")


def _censoring_km(time: np.ndarray, event: np.ndarray, at: np.ndarray, *, left: bool) -> np.ndarray:
    """Kaplan-Meier of the censoring distribution at ``at`` (``left=True``: the left limit G(at-))."""
    cens_times = np.unique(time[~event])
    sorted_t = np.sort(time)
    at_risk = time.size - np.searchsorted(sorted_t, cens_times, side="left")
    counts = np.bincount(np.searchsorted(cens_times, time[~event]), minlength=cens_times.size)
    steps = np.cumprod(1.0 - counts / at_risk)
    k = np.searchsorted(cens_times, at, side="left" if left else "right")
    return np.where(k > 0, steps[np.maximum(k - 1, 0)], 1.0)


def _surv_idi(time: np.ndarray, event: np.ndarray, old: np.ndarray, new: np.ndarray, t0: float) -> np.ndarray:
    case = event & (time <= t0)
    control = time > t0
    if not case.any() or not control.any():
        raise ValueError("a resample without cases or controls at t0")
    w_case = 1.0 / _censoring_km(time, event, time[case], left=True)
    # Controls share the weight 1 / G(t0): plain means.
    s_old = np.average(old[case], weights=w_case) - old[control].mean()
    s_new = np.average(new[case], weights=w_case) - new[control].mean()
    return np.array([s_new - s_old, s_old, s_new])


def idi_at(y: np.ndarray, risk_old: ArrayLike, risk_new: ArrayLike, t0: float, *, n_bootstrap: int = 1000,
           confidence: float = 0.95, random_state=None) -> IDIResult:
    """IDI at time t0 for censored survival data (inverse-probability-of-censoring weights).

    Parameters
    ----------
    y : structured array, shape (n_samples,)
    risk_old, risk_new : array-like, shape (n_samples,)
        Predicted probabilities of the event by ``t0`` of the two models.
    t0 : float
    n_bootstrap : int, default=1000
    confidence : float, default=0.95
    random_state : int, RandomState instance or None

    Returns
    -------
    IDIResult
        ``method="ipcw"``; bootstrap standard error.

    Notes
    -----
    Cases are the patients with an event by t0, weighted ``1 / G(T-)``; controls are those still at risk after t0
    (weight ``1 / G(t0)``, the same for all); patients censored before t0 get weight 0. ``G`` is the
    Kaplan-Meier estimate of the censoring distribution. The discrimination slope of a model is the weighted mean
    risk of cases minus the mean risk of controls; the IDI is its change. This is the IPCW estimator of the
    cumulative/dynamic definition used for time-dependent AUC and Brier scores [1]_.

    References
    ----------
    .. [1] Uno, H., Tian, L., Cai, T., Kohane, I. S., Wei, L. J. "A unified inference procedure for a class of
       measures to assess improvement in risk prediction systems with survival data", Statistics in Medicine
       32(14), 2430-2442, 2013.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 6.0, 7.0], [1, 1, 0, 1, 0, 0])
    >>> res = idi_at(y, [0.5] * 6, [0.9, 0.8, 0.2, 0.7, 0.1, 0.3], 5.0, n_bootstrap=0)
    >>> res.idi > 0
    True
    """
    _check_common("idi_at", n_bootstrap, confidence)
    yy, old, new, t0 = _check_survival_inputs("idi_at", y, risk_old, risk_new, t0)
    time, event = yy["time"], yy["event"]
    est = _surv_idi(time, event, old, new, t0)
    lower, upper, se = _interval(lambda idx: _surv_idi(time[idx], event[idx], old[idx], new[idx], t0), time.size,
                                 n_bootstrap, confidence, random_state, 3)
    z, p = _wald(est[0], se[0])
    return IDIResult(idi=float(est[0]), slope_old=float(est[1]), slope_new=float(est[2]), standard_error=float(se[0]),
                     z=z, p_value=p, lower=float(lower[0]), upper=float(upper[0]), n=int(time.size),
                     n_events=int(np.sum(event & (time <= t0))), n_bootstrap=int(n_bootstrap), confidence=confidence,
                     t0=t0, method="ipcw")
