"""Calibration at a time point: predicted survival against Kaplan-Meier survival, by risk group."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sksurv.nonparametric import kaplan_meier_estimator

from multisurv._validation import check_consistent_length, check_param, check_survival_y

__all__ = ["CalibrationResult", "calibration_at", "km_at"]


@dataclass(frozen=True)
class CalibrationResult:
    """Grouped calibration of predicted survival probabilities at time ``t0``.

    Parameters
    ----------
    t0 : float
        Time at which survival is predicted and observed.
    table : pandas.DataFrame
        One row per group (lowest predicted survival first): ``group`` (1 = lowest), ``n``, ``n_events``
        (events up to ``t0``), ``predicted`` (mean predicted survival at ``t0``), ``observed`` (Kaplan-Meier
        survival at ``t0``), ``lower`` and ``upper`` (its 95% log-log band).
    confidence : float
        Level of the band.

    Examples
    --------
    Returned by :func:`calibration_at`:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], [1, 1, 1, 0, 1, 0, 1, 0])
    >>> res = calibration_at(y, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], t0=3.0, n_groups=2)
    >>> res.t0, res.table["n"].tolist()
    (3.0, [4, 4])
    """

    t0: float
    table: pd.DataFrame
    confidence: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """Return the per-group table with ``t0`` as a first column.

        Returns
        -------
        pandas.DataFrame
            A copy of ``table`` with a first column ``t0``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], [1, 1, 1, 0, 1, 0, 1, 0])
        >>> res = calibration_at(y, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], t0=3.0, n_groups=2)
        >>> res.to_frame().round(3)
            t0  group  n  n_events  predicted  observed  lower  upper
        0  3.0      1  4         2       0.35       0.5  0.058  0.845
        1  3.0      2  4         0       0.75       1.0  1.000  1.000
        """
        frame = self.table.copy()
        frame.insert(0, "t0", self.t0)
        return frame

    def to_dict(self) -> dict:
        """Return ``t0``, the level and the table as plain Python values.

        Returns
        -------
        dict
            ``t0``, ``confidence`` and ``groups`` (the table's rows as a list of dicts).

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], [1, 1, 1, 0, 1, 0, 1, 0])
        >>> res = calibration_at(y, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], t0=3.0, n_groups=2)
        >>> out = res.to_dict()
        >>> out["t0"], out["confidence"], list(out["groups"][1])
        (3.0, 0.95, ['group', 'n', 'n_events', 'predicted', 'observed', 'lower', 'upper'])
        """
        return {"t0": self.t0, "confidence": self.confidence, "groups": self.table.to_dict(orient="records")}


def km_at(y: np.ndarray, t0: float, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """Kaplan-Meier survival at ``t0`` with its log-log confidence band.

    Follows R's ``summary(survfit(..., conf.type = "log-log"), times = t0)``: the step function is
    right-continuous, so an event at exactly ``t0`` counts. Beyond the last observed time the estimate is the
    last value when that time was an event that brought survival to 0, and NaN otherwise (not observed).

    Parameters
    ----------
    y : structured array
        Fields ``event`` and ``time``.
    t0 : float
        Time point.
    confidence : float, default=0.95
        Level of the band.

    Returns
    -------
    survival, lower, upper : float

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1])
    >>> round(km_at(y, 2.5)[0], 4)
    0.5
    """
    event = np.asarray(y["event"], dtype=bool)
    time = np.asarray(y["time"], dtype=float)
    if t0 < time.min():
        return 1.0, 1.0, 1.0
    # scikit-survival's Greenwood log-log band is R's conf.type = "log-log" (checked in the tests).
    times, surv, band = kaplan_meier_estimator(event, time, conf_type="log-log", conf_level=confidence)
    k = np.searchsorted(times, t0, side="right") - 1
    if t0 > time.max() and surv[-1] > 0:
        return float("nan"), float("nan"), float("nan")
    lower, upper = band[0][k], band[1][k]
    if surv[k] == 0:  # the band is undefined at 0 survival; R reports NA there too
        lower = upper = float("nan")
    return float(surv[k]), float(lower), float(upper)


def calibration_at(y: ArrayLike, surv_prob: ArrayLike, t0: float, *, n_groups: int = 5,
                   confidence: float = 0.95) -> CalibrationResult:
    """Compare predicted survival at ``t0`` with the Kaplan-Meier estimate in groups of patients.

    Patients are split into ``n_groups`` groups at the quantiles of their predicted survival (R's
    ``cut(p, quantile(p, seq(0, 1, length = n_groups + 1)), include.lowest = TRUE)``), and each group's mean
    prediction is set against its Kaplan-Meier survival at ``t0``, as in ``rms::calibrate``'s grouped
    (``u``-based) method without the bootstrap.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    surv_prob : array-like, shape (n_samples,)
        Predicted probability of surviving beyond ``t0``, in [0, 1].
    t0 : float
        Time point, in the unit of ``y["time"]``.
    n_groups : int, default=5
        Number of quantile groups (fewer when predictions are tied at the quantiles).
    confidence : float, default=0.95
        Level of the Kaplan-Meier band.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ValueError
        If lengths differ, ``surv_prob`` has values outside [0, 1] or NaN, or ``t0`` is not positive.

    References
    ----------
    .. [1] Harrell, F. E. "Regression Modeling Strategies", 2nd ed., Springer, 2015, section 20.13.

    Examples
    --------
    >>> import numpy as np
    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(0)
    >>> time = rng.exponential(10, 200)
    >>> y = make_y(time, np.ones(200, bool))
    >>> res = calibration_at(y, np.full(200, np.exp(-0.5)), t0=5.0, n_groups=1)
    >>> round(float(res.table["predicted"].iloc[0]), 3)
    0.607
    """
    y = check_survival_y(y)
    surv_prob = np.asarray(surv_prob, dtype=float)
    check_consistent_length(y=y, surv_prob=surv_prob)
    check_param("calibration_at", "n_groups", n_groups, kind="int", low=1)
    check_param("calibration_at", "t0", t0, kind="float", low=0.0, low_open=True)
    check_param("calibration_at", "confidence", confidence, kind="float", low=0.0, high=1.0,
                low_open=True, high_open=True)
    bad = ~np.isfinite(surv_prob) | (surv_prob < 0) | (surv_prob > 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"'surv_prob' must hold survival probabilities in [0, 1]; {int(bad.sum())} value(s) are not "
            f"(first at position {first}: {surv_prob[first]!r}). Pass S(t0 | x), not a risk score."
        )
    edges = np.unique(np.quantile(surv_prob, np.linspace(0.0, 1.0, n_groups + 1)))
    if len(edges) < 2:  # every prediction equal (e.g. a model that selected nothing): one group
        groups = np.zeros(len(surv_prob), dtype=int)
    else:
        groups = pd.cut(surv_prob, edges, labels=False, include_lowest=True)
    rows = []
    for g in np.unique(groups):
        mask = groups == g
        sub = y[mask]
        obs, lower, upper = km_at(sub, t0, confidence=confidence)
        rows.append({
            "group": int(g) + 1, "n": int(mask.sum()),
            "n_events": int((sub["event"] & (sub["time"] <= t0)).sum()),
            "predicted": float(surv_prob[mask].mean()),
            "observed": obs, "lower": lower, "upper": upper,
        })
    return CalibrationResult(t0=float(t0), table=pd.DataFrame(rows), confidence=confidence)

