"""Risk groups from a cut-off, and the log-rank test between groups."""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from lifelines.statistics import multivariate_logrank_test

from multisurv._validation import check_consistent_length, check_survival_y

__all__ = ["LogRankResult", "risk_groups", "logrank"]


def risk_groups(risk: ArrayLike, *, cutoff: float) -> np.ndarray:
    """Split patients into ``"high"`` and ``"low"`` risk at a cut-off.

    Parameters
    ----------
    risk : array-like, shape (n_samples,)
        Risk score, higher = worse. Must not contain NaN.
    cutoff : float
        Patients with ``risk > cutoff`` are ``"high"``, the others ``"low"``. Fit it on the training data
        (for example the training median) and reuse it unchanged on test data.

    Returns
    -------
    numpy.ndarray of str, shape (n_samples,)

    Raises
    ------
    ValueError
        If ``cutoff`` is not a finite number or ``risk`` contains NaN.

    Examples
    --------
    >>> risk_groups([0.2, 1.5, -1.0, 0.5], cutoff=0.5)
    array(['low', 'high', 'low', 'low'], dtype='<U4')
    """
    if not isinstance(cutoff, numbers.Real) or isinstance(cutoff, bool) or not np.isfinite(cutoff):
        raise ValueError(f"The 'cutoff' parameter of risk_groups must be a finite float. Got {cutoff!r} instead.")
    risk = np.asarray(risk, dtype=float)
    if risk.ndim != 1:
        raise ValueError(f"'risk' must be 1-dimensional; got shape {risk.shape}.")
    n_nan = int(np.isnan(risk).sum())
    if n_nan:
        raise ValueError(
            f"'risk' has {n_nan} NaN value(s) out of {risk.size}; a patient without a score belongs to no "
            "risk group. Drop those patients or impute the score first."
        )
    return np.where(risk > cutoff, "high", "low")


@dataclass(frozen=True)
class LogRankResult:
    """Result of a log-rank test.

    Attributes
    ----------
    statistic : float
        Chi-squared statistic.
    p_value : float
        P-value from the chi-squared distribution with ``df`` degrees of freedom.
    df : int
        Degrees of freedom (number of groups - 1).
    n_per_group : dict
        Group label -> number of patients, in sorted label order.
    """

    statistic: float
    p_value: float
    df: int
    n_per_group: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the fields as a plain dict."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """Return a one-row DataFrame; ``n_per_group`` becomes one ``n_<group>`` column per group."""
        row = {"statistic": self.statistic, "p_value": self.p_value, "df": self.df}
        row.update({f"n_{g}": n for g, n in self.n_per_group.items()})
        return pd.DataFrame([row])


def logrank(y: np.ndarray, groups: ArrayLike) -> LogRankResult:
    """Log-rank test of equal survival across groups.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    groups : array-like, shape (n_samples,)
        Group label per patient (for example the output of :func:`risk_groups`); at least two groups.

    Returns
    -------
    LogRankResult

    Raises
    ------
    ValueError
        If the lengths differ, a label is missing, or fewer than two groups are present.

    See Also
    --------
    lifelines.statistics.multivariate_logrank_test : does the computation.

    Notes
    -----
    Matches ``survival::survdiff(Surv(time, status) ~ group)`` in R (checked to 1e-6 in the tests).

    References
    ----------
    .. [1] Mantel, N. "Evaluation of survival data and two new rank order statistics arising in its
       consideration", Cancer Chemotherapy Reports 50(3), 163-170, 1966.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1, 1, 1, 1], [1.0, 2.0, 3.0, 4.0])
    >>> logrank(y, ["a", "a", "b", "b"]).df
    1
    """
    y = check_survival_y(y)
    groups = pd.Series(np.asarray(groups, dtype=object))
    check_consistent_length(y=y, groups=groups)
    n_missing = int(groups.isna().sum())
    if n_missing:
        raise ValueError(f"'groups' has {n_missing} missing label(s); give every patient a group.")
    counts = groups.value_counts().sort_index()
    if counts.size < 2:
        raise ValueError(
            f"'groups' must contain at least two groups to compare; got {counts.size} "
            f"({', '.join(repr(g) for g in counts.index)})."
        )
    res = multivariate_logrank_test(y["time"], groups.to_numpy(), event_observed=y["event"])
    return LogRankResult(
        statistic=float(res.test_statistic),
        p_value=float(res.p_value),
        df=int(res.degrees_of_freedom),
        n_per_group={k: int(v) for k, v in counts.items()},
    )
