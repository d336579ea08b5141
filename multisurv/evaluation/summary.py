"""Every discrimination and prediction-error metric of one set of predictions, as one tidy table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from multisurv._validation import check_survival_y
from multisurv.evaluation._checks import check_common, check_risk, check_times
from multisurv.evaluation.bootstrap import bootstrap_indices, bootstrap_interval, indices_to_counts, warn_failed
from multisurv.evaluation.brier import brier_score
from multisurv.evaluation.comparison import _influence
from multisurv.evaluation.concordance import _weighted_cindex
from multisurv.evaluation.td_auc import time_dependent_auc
from multisurv.evaluation.uno import uno_concordance

__all__ = ["COLUMNS", "default_times", "evaluate_predictions"]

#: Columns of the table :func:`evaluate_predictions` returns.
COLUMNS: tuple[str, ...] = ("metric", "time", "estimate", "lower", "upper", "se", "n", "n_events", "n_bootstrap",
                            "confidence", "ci_method", "note")


def default_times(y: np.ndarray) -> np.ndarray:
    """The 25th, 50th and 75th percentiles of the observed event times (observed values, duplicates dropped).

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).

    Returns
    -------
    ndarray
        Up to three increasing times (``np.quantile(..., method="lower")`` of the event times), keeping only those
        at or after the first follow-up time and before the last.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> default_times(make_y([1.0, 2.0, 3.0, 4.0, 5.0], [1, 1, 1, 1, 0])).tolist()
    [1.0, 2.0, 3.0]
    """
    y = check_survival_y(y)
    events = y["time"][y["event"]]
    times = np.unique(np.quantile(events, [0.25, 0.5, 0.75], method="lower"))
    return times[(times >= y["time"].min()) & (times < y["time"].max())]


def evaluate_predictions(y: np.ndarray, risk: ArrayLike, *, times: ArrayLike | None = None, tau: float | None = None,
                         surv_prob: ArrayLike | None = None, y_train: np.ndarray | None = None,
                         n_bootstrap: int = 1000, method: str = "percentile", confidence: float = 0.95,
                         random_state: int = 0) -> pd.DataFrame:
    """Harrell's C, Uno's C, time-dependent AUC and (given survival probabilities) Brier scores, with intervals.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    risk : array-like, shape (n_samples,)
        Predicted risk, **higher means worse**; no NaN.
    times : array-like of float, optional
        Times for the AUC and the Brier score, strictly increasing inside the follow-up. Default:
        :func:`default_times` (quartiles of the event times).
    tau : float, optional
        Truncation time of Uno's C (events at ``time <= tau``); default: none.
    surv_prob : array-like, shape (n_samples, n_times), optional
        Predicted survival probabilities at ``times``; without them the Brier rows are left out.
    y_train : structured array, optional
        Reference data for the censoring distribution of Uno's C, the AUC and the Brier score (default ``y``).
    n_bootstrap : int, default=1000
        Bootstrap resamples for every interval (the same resamples for every metric); ``0`` skips them.
    method : {"percentile", "bca"}, default="percentile"
        Interval type.
    confidence : float, default=0.95
        Two-sided level, in (0, 1).
    random_state : int, default=0
        Seed of the resamples.

    Returns
    -------
    pandas.DataFrame
        One row per metric (and time): columns :data:`COLUMNS`. ``metric`` is ``harrell_c``, ``uno_c``
        (``time`` = tau, NaN for none), ``auc`` (per time), ``mean_auc``, ``brier`` (per time) and ``ibs``.
        ``se`` is the infinitesimal-jackknife standard error of Harrell's C (R's), NaN elsewhere. A metric that
        is undefined on these data (e.g. an IPCW weight at a late tau) has NaN values and the reason in
        ``note``.

    Raises
    ------
    ValueError
        On invalid ``y``, ``risk``, ``times`` or ``surv_prob`` (the messages of the individual metrics).

    See Also
    --------
    multisurv.evaluation.concordance.concordance, multisurv.evaluation.uno.uno_concordance,
    multisurv.evaluation.td_auc.time_dependent_auc, multisurv.evaluation.brier.brier_score

    Notes
    -----
    Each metric's definition, and its agreement with R, is documented in its own function. The resamples are
    drawn once from ``random_state`` and shared by every metric, so the intervals describe the same bootstrap
    world. Harrell's C uses the fast weighted-pair computation of :func:`concordance`; its BCa acceleration
    comes from the exact leave-one-out C's.

    Examples
    --------
    Events at 1, 2, 4, 5 and censorings at 3, 6 give 12 comparable pairs; only (5, 6) is discordant, so
    Harrell's C is 11/12. The two patients with an event by t = 2.5 have the two highest risks: AUC(2.5) = 1.

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 0, 1, 1, 0])
    >>> table = evaluate_predictions(y, [6, 5, 4, 3, 1, 2], times=[2.5, 4.5], n_bootstrap=0)
    >>> table["metric"].tolist()
    ['harrell_c', 'uno_c', 'auc', 'auc', 'mean_auc']
    >>> float(table["estimate"][0]), float(table["estimate"][2])
    (0.9166666666666666, 1.0)
    """
    check_common("evaluate_predictions", n_bootstrap, method, confidence)
    y = check_survival_y(y)
    n = len(y)
    risk = check_risk(risk, n)
    times = default_times(y) if times is None else check_times(times, y, owner="evaluate_predictions")
    opts = dict(n_bootstrap=n_bootstrap, method=method, confidence=confidence, random_state=random_state)
    n_events = int(y["event"].sum())
    rows: list[dict] = []

    def row(metric, estimate, lower=np.nan, upper=np.nan, *, time=np.nan, se=np.nan, used=0, note=""):
        rows.append(dict(metric=metric, time=float(time), estimate=float(estimate), lower=float(lower),
                         upper=float(upper), se=float(se), n=n, n_events=n_events, n_bootstrap=int(used),
                         confidence=float(confidence), ci_method=method if n_bootstrap else "none", note=note))

    # Harrell's C: point estimate and IJ standard error, then the shared resamples through the weighted pairs.
    cindex, infl, jack = _influence(y["time"], y["event"], risk)
    lower = upper = np.nan
    used = 0
    if n_bootstrap:
        counts = indices_to_counts(bootstrap_indices(n, n_bootstrap, random_state), n)
        reps = _weighted_cindex(y["time"], y["event"], risk, counts)
        warn_failed(reps[:, None])
        used = int(np.isfinite(reps).sum())
        if used:
            lo, hi = bootstrap_interval(cindex, reps, method=method, confidence=confidence, jackknife=jack)
            lower, upper = lo[0], hi[0]
    row("harrell_c", cindex, lower, upper, se=float(np.sqrt(infl @ infl)), used=used)

    try:
        uno = uno_concordance(y, risk, tau=tau, y_train=y_train, **opts)
        row("uno_c", uno.cindex, uno.lower, uno.upper, time=np.nan if tau is None else tau, used=uno.n_bootstrap)
    except ValueError as exc:
        row("uno_c", np.nan, time=np.nan if tau is None else tau, note=str(exc))

    if times.size:
        try:
            auc = time_dependent_auc(y, risk, times, y_train=y_train, **opts)
            for t, a, lo, hi in zip(auc.times, auc.auc, auc.lower, auc.upper):
                row("auc", a, lo, hi, time=t, used=auc.n_bootstrap)
            row("mean_auc", auc.mean_auc, auc.mean_lower, auc.mean_upper, used=auc.n_bootstrap)
        except ValueError as exc:
            for t in times:
                row("auc", np.nan, time=t, note=str(exc))
    if surv_prob is not None:
        try:
            brier = brier_score(y, surv_prob, times, y_train=y_train, **opts)
        except ValueError as exc:
            if "surv_prob" in str(exc):
                raise
            for t in times:
                row("brier", np.nan, time=t, note=str(exc))
        else:
            for t, b, lo, hi in zip(brier.times, brier.brier, brier.lower, brier.upper):
                row("brier", b, lo, hi, time=t, used=brier.n_bootstrap)
            if len(brier.times) > 1:
                row("ibs", brier.ibs, brier.ibs_lower, brier.ibs_upper, used=brier.n_bootstrap)
    return pd.DataFrame(rows, columns=list(COLUMNS))

