"""Decision curve analysis for a survival outcome at a time point (net benefit against treat all / none)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.evaluation.calibration import km_at

__all__ = ["DecisionCurveResult", "decision_curve"]


@dataclass(frozen=True)
class DecisionCurveResult:
    """Net benefit of a model over a range of threshold probabilities.

    Parameters
    ----------
    t0 : float
        Time horizon of the event probability.
    table : pandas.DataFrame
        One row per threshold: ``threshold``, ``n_positive`` (patients whose predicted risk reaches the
        threshold), ``net_benefit`` (the model), ``treat_all`` and ``treat_none`` (always 0).
    name : str
        Model name used in plots.

    Examples
    --------
    Returned by :func:`decision_curve`:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 0, 1, 0, 0])
    >>> res = decision_curve(y, [0.9, 0.8, 0.2, 0.6, 0.1, 0.1], t0=4.5, thresholds=[0.25, 0.5])
    >>> res.t0, res.name, res.table["net_benefit"].tolist()
    (4.5, 'model', [0.5, 0.5])
    """

    t0: float
    table: pd.DataFrame
    name: str = "model"

    def to_frame(self) -> pd.DataFrame:
        """Return the table with ``model`` and ``t0`` columns first.

        Returns
        -------
        pandas.DataFrame
            A copy of ``table`` with first columns ``model`` (``name``) and ``t0``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 0, 1, 0, 0])
        >>> res = decision_curve(y, [0.9, 0.8, 0.2, 0.6, 0.1, 0.1], t0=4.5, thresholds=[0.25, 0.5])
        >>> res.to_frame().round(3)
           model   t0  threshold  n_positive  net_benefit  treat_all  treat_none
        0  model  4.5       0.25           3          0.5      0.407         0.0
        1  model  4.5       0.50           3          0.5      0.111         0.0
        """
        frame = self.table.copy()
        frame.insert(0, "t0", self.t0)
        frame.insert(0, "model", self.name)
        return frame


def decision_curve(y: ArrayLike, risk_t0: ArrayLike, t0: float, *, thresholds: ArrayLike | None = None,
                   name: str = "model") -> DecisionCurveResult:
    """Net benefit of treating patients whose predicted event probability by ``t0`` reaches a threshold.

    For a threshold probability p_t, with "positive" patients those whose ``risk_t0 >= p_t``, the net benefit
    is ``(1 - S+(t0)) * P(+) - S+(t0) * P(+) * p_t / (1 - p_t)``, where ``S+`` is the Kaplan-Meier survival
    of the positive patients and ``P(+)`` their share (Vickers et al., 2008): true positives are the
    positives who have the event by ``t0``, false positives those who survive it, both estimated with
    censoring handled by Kaplan-Meier. "Treat all" is the same with everyone positive; "treat none" is 0.
    Written here because no maintained Python package computes it for censored outcomes.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    risk_t0 : array-like, shape (n_samples,)
        Predicted probability of the event by ``t0`` (``1 - S(t0 | x)``), in [0, 1].
    t0 : float
        Time horizon.
    thresholds : array-like, optional
        Threshold probabilities in [0, 1); default 0.01 to 0.99 by 0.01.
    name : str, default="model"
        Name of the model, kept for plots and tables.

    Returns
    -------
    DecisionCurveResult

    Raises
    ------
    ValueError
        If lengths differ, probabilities fall outside [0, 1], a threshold is outside [0, 1), or the
        Kaplan-Meier survival at ``t0`` is not estimable because everyone is censored before it.

    References
    ----------
    .. [1] Vickers, A. J., Cronin, A. M., Elkin, E. B., Gonen, M. "Extensions to decision curve analysis, a
       novel method for evaluating diagnostic tests, prediction models and molecular markers", BMC Medical
       Informatics and Decision Making 8:53, 2008.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 0, 1, 0, 0])
    >>> res = decision_curve(y, [0.9, 0.8, 0.2, 0.6, 0.1, 0.1], t0=4.5, thresholds=[0.5])
    >>> round(float(res.table["net_benefit"].iloc[0]), 3)
    0.5
    """
    y = check_survival_y(y)
    risk_t0 = np.asarray(risk_t0, dtype=float)
    check_consistent_length(y=y, risk_t0=risk_t0)
    check_param("decision_curve", "t0", t0, kind="float", low=0.0, low_open=True)
    bad = ~np.isfinite(risk_t0) | (risk_t0 < 0) | (risk_t0 > 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"'risk_t0' must hold event probabilities by t0 in [0, 1]; {int(bad.sum())} value(s) are not "
            f"(first at position {first}: {risk_t0[first]!r}). Pass 1 - S(t0 | x), not a linear predictor."
        )
    thresholds = np.round(np.arange(0.01, 1.0, 0.01), 2) if thresholds is None \
        else np.asarray(thresholds, dtype=float).ravel()
    if thresholds.size == 0 or np.any((thresholds < 0) | (thresholds >= 1)) or not np.all(np.isfinite(thresholds)):
        raise ValueError("'thresholds' must be non-empty probabilities in [0, 1); "
                         f"got {thresholds.tolist()!r}.")
    n = len(y)
    s_all = km_at(y, t0)[0]
    if np.isnan(s_all):
        raise ValueError(
            f"Kaplan-Meier survival at t0={t0} is not estimable: every patient is censored before it "
            f"(last follow-up {y['time'].max():g}). Choose an earlier 't0'."
        )
    rows = []
    for pt in thresholds:
        odds = pt / (1.0 - pt)
        positive = risk_t0 >= pt
        n_pos = int(positive.sum())
        if n_pos == 0:
            nb = 0.0
        else:
            s_pos = km_at(y[positive], t0)[0]
            if np.isnan(s_pos):  # all positives censored before t0: their outcome is unknown
                nb = float("nan")
            else:
                share = n_pos / n
                nb = (1.0 - s_pos) * share - s_pos * share * odds
        rows.append({"threshold": float(pt), "n_positive": n_pos, "net_benefit": float(nb),
                     "treat_all": float((1.0 - s_all) - s_all * odds), "treat_none": 0.0})
    return DecisionCurveResult(t0=float(t0), table=pd.DataFrame(rows), name=str(name))
