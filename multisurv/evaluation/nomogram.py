"""Cox nomogram: points per variable value, total points, linear predictor and survival at t (rms::nomogram's scale)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["Nomogram", "cox_nomogram", "nomogram_values"]

#: Survival probabilities marked on the survival axes by default (those inside the total-points range are kept).
DEFAULT_SURVIVAL_AT = (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05)


@dataclass(frozen=True)
class Nomogram:
    """A Cox model as a nomogram.

    Parameters
    ----------
    coef : dict
        Coefficient per variable (linear predictor ``lp = sum_j coef_j x_j``, uncentred).
    axes : dict of str -> pandas.DataFrame
        Per variable, its axis: columns ``value`` and ``points``.
    scale : float
        Points per unit of linear predictor: ``100 / max_j range_j(coef_j x_j)``.
    lp_offset : float
        Linear predictor at 0 total points: ``sum_j min_j(coef_j x_j)``.
    max_points : float
        Total points when every variable is at its highest-points value.
    survival_axes : dict of float -> pandas.DataFrame
        Per time t, the total points of each survival probability (columns ``survival``, ``points``); empty
        without a baseline.
    baseline : BreslowBaseline or None
        The development baseline hazard the survival axes use.

    Examples
    --------
    Built by :func:`cox_nomogram`:

    >>> nom = cox_nomogram({"a": 0.5, "b": -2.0}, {"a": [0, 4], "b": [0, 0.5]})
    >>> nom.scale, nom.lp_offset, nom.max_points
    (50.0, -1.0, 150.0)
    """

    coef: dict
    axes: dict
    scale: float
    lp_offset: float
    max_points: float
    survival_axes: dict = field(default_factory=dict)
    baseline: object = None

    def points(self, X: pd.DataFrame) -> np.ndarray:
        """Total points of each row of ``X`` (any values, not only the axis ticks).

        Parameters
        ----------
        X : pandas.DataFrame
            One row per patient with (at least) the nomogram's variables.

        Returns
        -------
        numpy.ndarray, shape (n_samples,)
            The total points.

        Raises
        ------
        ValueError
            When ``X`` lacks a variable of the nomogram.

        Examples
        --------
        >>> nom = cox_nomogram({"a": 0.5, "b": -2.0}, {"a": [0, 4], "b": [0, 0.5]})
        >>> X = pd.DataFrame({"a": [0.0, 4.0, 2.0, 1.0], "b": [0.5, 0.0, 0.0, 0.5]})
        >>> nom.points(X).tolist()  # lp = -1 is 0 points, lp = 2 is 150
        [0.0, 150.0, 100.0, 25.0]
        """
        missing = [c for c in self.coef if c not in X]
        if missing:
            raise ValueError(f"'X' lacks the column(s) {', '.join(repr(c) for c in missing)} of the nomogram.")
        return (self.linear_predictor(X) - self.lp_offset) * self.scale

    def linear_predictor(self, X: pd.DataFrame) -> np.ndarray:
        """Uncentred linear predictor ``sum_j coef_j x_j`` of each row of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per patient with (at least) the nomogram's variables.

        Returns
        -------
        numpy.ndarray, shape (n_samples,)
            The linear predictor.

        Examples
        --------
        >>> nom = cox_nomogram({"a": 0.5, "b": -2.0}, {"a": [0, 4], "b": [0, 0.5]})
        >>> X = pd.DataFrame({"a": [0.0, 4.0, 2.0, 1.0], "b": [0.5, 0.0, 0.0, 0.5]})
        >>> nom.linear_predictor(X).tolist()
        [-1.0, 2.0, 1.0, -0.5]
        """
        return np.asarray(X.loc[:, list(self.coef)], dtype=float) @ np.array(list(self.coef.values()))

    def lp_from_points(self, total: ArrayLike) -> np.ndarray:
        """Linear predictor of total points: ``total / scale + lp_offset``.

        Parameters
        ----------
        total : array-like
            Total points.

        Returns
        -------
        numpy.ndarray
            The linear predictor of each total.

        Examples
        --------
        >>> nom = cox_nomogram({"a": 0.5, "b": -2.0}, {"a": [0, 4], "b": [0, 0.5]})
        >>> nom.lp_from_points([0.0, 150.0]).tolist()
        [-1.0, 2.0]
        """
        return np.asarray(total, dtype=float) / self.scale + self.lp_offset

    def survival_from_points(self, total: ArrayLike, t: float) -> np.ndarray:
        """Survival probability at ``t`` of total points (needs the baseline).

        Parameters
        ----------
        total : array-like
            Total points.
        t : float
            Time point, within the baseline's follow-up.

        Returns
        -------
        numpy.ndarray
            Survival probability at ``t`` of each total.

        Raises
        ------
        ValueError
            When the nomogram was built without a baseline hazard.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.evaluation.baseline import BreslowBaseline
        >>> X = pd.DataFrame({"a": [0.0, 4.0, 2.0, 1.0], "b": [0.5, 0.0, 0.0, 0.5]})
        >>> coef, ticks = {"a": 0.5, "b": -2.0}, {"a": [0, 4], "b": [0, 0.5]}
        >>> lp = cox_nomogram(coef, ticks).linear_predictor(X)
        >>> base = BreslowBaseline().fit(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]), lp)
        >>> nom = cox_nomogram(coef, ticks, baseline=base, times=[2.5])
        >>> nom.survival_from_points([0.0, 150.0], 2.5).round(3)
        array([0.935, 0.258])
        """
        if self.baseline is None:
            raise ValueError("This nomogram has no baseline hazard; build it with cox_nomogram(..., baseline=...).")
        return self.baseline.predict_survival(self.lp_from_points(total), t)

    def points_from_survival(self, surv: ArrayLike, t: float) -> np.ndarray:
        """Total points whose survival at ``t`` is ``surv`` (inverse of :meth:`survival_from_points`).

        Parameters
        ----------
        surv : array-like
            Survival probabilities in (0, 1).
        t : float
            Time point, within the baseline's follow-up.

        Returns
        -------
        numpy.ndarray
            The total points of each probability.

        Raises
        ------
        ValueError
            When the nomogram was built without a baseline hazard.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.evaluation.baseline import BreslowBaseline
        >>> X = pd.DataFrame({"a": [0.0, 4.0, 2.0, 1.0], "b": [0.5, 0.0, 0.0, 0.5]})
        >>> coef, ticks = {"a": 0.5, "b": -2.0}, {"a": [0, 4], "b": [0, 0.5]}
        >>> lp = cox_nomogram(coef, ticks).linear_predictor(X)
        >>> base = BreslowBaseline().fit(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]), lp)
        >>> nom = cox_nomogram(coef, ticks, baseline=base, times=[2.5])
        >>> nom.points_from_survival([0.5], 2.5).round(1)
        array([116.4])
        """
        if self.baseline is None:
            raise ValueError("This nomogram has no baseline hazard; build it with cox_nomogram(..., baseline=...).")
        cum_hazard = float(self.baseline.estimator_.cum_baseline_hazard_(t))
        lp = np.log(-np.log(np.asarray(surv, dtype=float)) / cum_hazard)
        return (lp - self.lp_offset) * self.scale


def nomogram_values(X: pd.DataFrame, *, n_ticks: int = 6, quantiles: tuple[float, float] = (0.01, 0.99)
                    ) -> dict[str, np.ndarray]:
    """Round tick values per column spanning the development data's central range (default 1st-99th percentile).

    Binary columns get ``[0, 1]``. Like ``rms::datadist``, this keeps an outlier from squeezing the axis.

    Parameters
    ----------
    X : pandas.DataFrame
        Development data, one column per nomogram variable.
    n_ticks : int, default=6
        About how many ticks per axis.
    quantiles : tuple of float, default=(0.01, 0.99)
        The range of each column the ticks span.

    Returns
    -------
    dict of str to numpy.ndarray
        Column -> its axis values (for :func:`cox_nomogram`).

    Examples
    --------
    >>> nomogram_values(pd.DataFrame({"age": [31.0, 45.0, 52.0, 78.0], "male": [0, 1, 1, 0]}), quantiles=(0, 1))
    {'age': array([40., 50., 60., 70.]), 'male': array([0., 1.])}
    """
    from matplotlib.ticker import MaxNLocator

    out = {}
    for name in X.columns:
        col = pd.to_numeric(X[name], errors="coerce").dropna().to_numpy(float)
        if col.size == 0:
            raise ValueError(f"Column '{name}' has no numeric values to place on a nomogram axis.")
        if set(np.unique(col)) <= {0.0, 1.0}:
            out[name] = np.array([0.0, 1.0])
            continue
        lo, hi = np.quantile(col, quantiles)
        if hi <= lo:
            out[name] = np.array([lo])
            continue
        ticks = MaxNLocator(nbins=n_ticks, steps=[1, 2, 5, 10]).tick_values(lo, hi)
        ticks = ticks[(ticks >= lo - 1e-12 * abs(lo)) & (ticks <= hi + 1e-12 * abs(hi))]
        out[name] = ticks if ticks.size >= 2 else np.array([lo, hi])
    return out


def cox_nomogram(coef: Mapping[str, float], values: Mapping[str, ArrayLike], *, baseline=None,
                 times: Sequence[float] = (), survival_at: Sequence[float] = DEFAULT_SURVIVAL_AT) -> Nomogram:
    """Build the nomogram of a Cox model: 0-100 points for the widest variable, total points to survival at t.

    Parameters
    ----------
    coef : mapping
        Coefficient per variable of the linear predictor (numeric variables; code a binary one 0/1).
    values : mapping
        Axis values per variable (for example :func:`nomogram_values` of the development data).
    baseline : multisurv.evaluation.baseline.BreslowBaseline, optional
        Fitted on the development cohort's outcomes and this model's **uncentred** linear predictor; required for
        survival axes.
    times : sequence of float
        Times t of the survival axes.
    survival_at : sequence of float
        Survival probabilities to mark; those outside the total-points range are dropped.

    Returns
    -------
    Nomogram

    Raises
    ------
    ValueError
        When a variable has no values or no coefficient, every coefficient range is zero, or times are asked
        without a baseline.

    Notes
    -----
    For variable j with axis values ``x``, ``points_j(x) = (coef_j x - min_j) * scale`` with ``min_j`` the smallest
    ``coef_j x`` on its axis and ``scale = 100 / max_j (max_j - min_j)``. Total points ``T`` map back to
    ``lp = T / scale + sum_j min_j`` and to ``S(t) = exp(-H0(t) exp(lp))`` with the Breslow ``H0``: ``rms::nomogram``
    with ``Survival(cph(...))``, which centres the linear predictor on both sides so the points are the same (the
    tests check the axes against rms 6.5 to 1e-9). Written here because no Python package draws nomograms.

    References
    ----------
    .. [1] Harrell, F. E. "Regression Modeling Strategies", 2nd ed., Springer, 2015, section 20.11 (nomograms).
    .. [2] Iasonos, A., Schrag, D., Raj, G. V., Panageas, K. S. "How to build and interpret a nomogram for cancer
       prognosis", Journal of Clinical Oncology 26(8), 1364-1370, 2008.

    Examples
    --------
    >>> nom = cox_nomogram({"a": 0.5, "b": -2.0}, {"a": [0, 4], "b": [0, 0.5]})
    >>> nom.axes["a"]["points"].tolist(), nom.axes["b"]["points"].tolist()
    ([0.0, 100.0], [50.0, 0.0])
    >>> float(nom.lp_from_points(150.0))   # both at their highest points: 0.5 * 4 + (-2) * 0
    2.0
    """
    coef = {str(k): float(v) for k, v in coef.items()}
    missing = [k for k in coef if k not in values]
    extra = [k for k in values if k not in coef]
    if missing or extra:
        raise ValueError(
            f"'coef' and 'values' must name the same variables; only in coef: {missing}, only in values: {extra}."
        )
    if times and baseline is None:
        raise ValueError("Survival axes ('times') need the development 'baseline' (a fitted BreslowBaseline).")
    contrib = {}
    for name, b in coef.items():
        x = np.asarray(values[name], dtype=float)
        if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
            raise ValueError(f"'values' of '{name}' must be a non-empty list of finite numbers; got {values[name]!r}.")
        contrib[name] = (x, b * x)
    ranges = {name: float(xb.max() - xb.min()) for name, (_, xb) in contrib.items()}
    widest = max(ranges.values())
    if widest <= 0:
        raise ValueError("Every variable's points range is zero (zero coefficients or a single value per axis).")
    scale = 100.0 / widest
    axes = {name: pd.DataFrame({"value": x, "points": (xb - xb.min()) * scale}) for name, (x, xb) in contrib.items()}
    lp_offset = float(sum(xb.min() for _, xb in contrib.values()))
    max_points = float(sum(ranges.values()) * scale)
    nom = Nomogram(coef=coef, axes=axes, scale=scale, lp_offset=lp_offset, max_points=max_points, baseline=baseline)
    for t in times:
        surv = np.asarray(survival_at, dtype=float)
        pts = nom.points_from_survival(surv, float(t))
        keep = np.isfinite(pts) & (pts >= 0) & (pts <= max_points)
        nom.survival_axes[float(t)] = pd.DataFrame({"survival": surv[keep], "points": pts[keep]})
    return nom
