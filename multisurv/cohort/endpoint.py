"""Binary endpoints from survival data: "event by t" with the patients censored before t handled explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from multisurv._validation import check_param, check_survival_y

__all__ = ["HANDLINGS", "BinaryOutcome", "binary_outcome"]

#: How patients censored before the horizon are handled.
HANDLINGS = ("exclude", "ipcw", "refuse")


@dataclass(frozen=True)
class BinaryOutcome:
    """A binary endpoint "event by t" derived from survival data (made by :func:`binary_outcome`).

    Parameters
    ----------
    outcome : ndarray of int, shape (n_samples,)
        1 = event at or before ``t``; 0 = event-free at ``t`` (followed beyond ``t``, or censored exactly at
        ``t``); patients censored before ``t`` also hold 0 but are outside ``mask``.
    mask : ndarray of bool, shape (n_samples,)
        Patients whose status at ``t`` is known: fit and evaluate on these rows.
    weights : ndarray of float, shape (n_samples,)
        1 for every known patient (``"exclude"``), or inverse-probability-of-censoring weights (``"ipcw"``); 0
        outside ``mask``.
    horizon : float
        The time ``t``, in the unit of the survival times.
    handling : {"exclude", "ipcw", "refuse"}
        What was done with the patients censored before ``t``.
    n_events, n_non_events, n_censored_before : int
        Patients with the event by ``t``, known event-free at ``t``, and censored before ``t``.
    note : str
        One sentence for the report: the definition and what happened to the censored patients.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> out = binary_outcome(make_y([100.0, 200.0, 900.0, 800.0, 730.0], [1, 0, 1, 0, 0]), 730, unit="days")
    >>> out.n_events, out.n_non_events, out.n_censored_before, out.handling
    (1, 3, 1, 'exclude')
    >>> out.weights.tolist()
    [1.0, 0.0, 1.0, 1.0, 1.0]
    """

    outcome: np.ndarray
    mask: np.ndarray
    weights: np.ndarray
    horizon: float
    handling: str
    n_events: int
    n_non_events: int
    n_censored_before: int
    note: str


def _censoring_km_left(time: np.ndarray, event: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Kaplan-Meier of the censoring distribution, left limit G(at-) (censorings at ``at`` itself not yet counted)."""
    cens = np.unique(time[~event])
    sorted_t = np.sort(time)
    at_risk = time.size - np.searchsorted(sorted_t, cens, side="left")
    counts = np.bincount(np.searchsorted(cens, time[~event]), minlength=cens.size)
    steps = np.cumprod(1.0 - counts / at_risk)
    k = np.searchsorted(cens, at, side="left")
    return np.where(k > 0, steps[np.maximum(k - 1, 0)], 1.0)


def binary_outcome(y: np.ndarray, t: float, *, handling: Literal["exclude", "ipcw", "refuse"] = "exclude",
                   unit: str = "") -> BinaryOutcome:
    """Turn survival data into the binary endpoint "event by t".

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time``.
    t : float
        Horizon, in the unit of ``time`` (e.g. 730 days for "recurrence within 2 years").
    handling : {"exclude", "ipcw", "refuse"}, default="exclude"
        Patients censored before ``t`` have an unknown status. ``"exclude"`` drops them (complete-case
        analysis; biased toward a higher event rate when censoring is heavy and informative of follow-up);
        ``"ipcw"`` also leaves them out but weights the others by the inverse probability of remaining
        uncensored (cases ``1 / G(T-)``, controls ``1 / G(t)``, G the Kaplan-Meier of censoring), which removes
        that bias under independent censoring; ``"refuse"`` raises when any exists.
    unit : str, optional
        Time unit, for the note (e.g. ``"days"``).

    Returns
    -------
    BinaryOutcome

    Raises
    ------
    ValueError
        With ``handling="refuse"`` when a patient is censored before ``t``, or when ``t`` leaves only one class.

    Notes
    -----
    Fit the logistic model with ``sample_weight`` = ``weights[mask]`` for ``"ipcw"`` (the AUC, calibration and
    Brier score then estimate the population values at t, as in Uno et al. and Graf et al.); for ``"exclude"`` the
    weights are 1. Report ``note`` with the results (TRIPOD item 6a).

    References
    ----------
    .. [1] Vock, D. M. et al. "Adapting machine learning techniques to censored time-to-event health record data:
       a general-purpose approach using inverse probability of censoring weighting", Journal of Biomedical
       Informatics 61, 119-131, 2016.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([100.0, 200.0, 900.0, 800.0, 730.0], [1, 0, 1, 0, 0])
    >>> out = binary_outcome(y, 730, unit="days")
    >>> out.outcome.tolist(), out.mask.tolist()
    ([1, 0, 0, 0, 0], [True, False, True, True, True])
    >>> print(out.note)  # doctest: +NORMALIZE_WHITESPACE
    Endpoint: event by 730 days (1 event, 3 without event at 730 days); 1 patient censored before 730 days
    excluded (complete-case).
    """
    check_param("binary_outcome", "handling", handling, kind="option", options=HANDLINGS)
    y = check_survival_y(y, where="binary_outcome", allow_zero_time=True)
    t = float(t)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"binary_outcome: the horizon 't' must be a finite number > 0; got {t!r}.")
    time, event = y["time"], y["event"]
    case = event & (time <= t)
    unknown = ~event & (time < t)
    mask = ~unknown
    outcome = case.astype(int)
    n_events, n_unknown = int(case.sum()), int(unknown.sum())
    n_non = int(mask.sum()) - n_events
    u = f" {unit}" if unit else ""
    if handling == "refuse" and n_unknown:
        raise ValueError(
            f"binary_outcome: {n_unknown} patient(s) are censored before the horizon t={t:g}{u}, so whether they had "
            "the event by then is unknown. Choose handling='exclude' (complete-case) or 'ipcw' (weighted), or a "
            "shorter horizon."
        )
    if n_events == 0 or n_non == 0:
        kind = "event" if n_events == 0 else "patient event-free"
        raise ValueError(f"binary_outcome: no {kind} at the horizon t={t:g}{u}; the binary endpoint has one class. "
                         "Choose another horizon.")
    weights = mask.astype(float)
    if handling == "ipcw":
        g = np.ones(time.size)
        g[case] = _censoring_km_left(time, event, time[case])
        g[mask & ~case] = _censoring_km_left(time, event, np.array([np.nextafter(t, np.inf)]))[0]
        weights = np.where(mask, 1.0 / g, 0.0)
    plural = "s" if n_unknown != 1 else ""
    how = {"exclude": "excluded (complete-case)", "ipcw": "excluded and the others weighted by the inverse "
           "probability of censoring (Kaplan-Meier)", "refuse": "none"}[handling]
    note = (f"Endpoint: event by {t:g}{u} ({n_events} event{'s' if n_events != 1 else ''}, {n_non} without event at "
            f"{t:g}{u}); {n_unknown} patient{plural} censored before {t:g}{u} {how}.")
    return BinaryOutcome(outcome=outcome, mask=mask, weights=weights, horizon=t, handling=handling,
                         n_events=n_events, n_non_events=n_non, n_censored_before=n_unknown, note=note)
