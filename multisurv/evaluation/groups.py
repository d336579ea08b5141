"""Risk groups from a cut-off, and the log-rank test between groups (stratified, Fleming-Harrington weights)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import chi2

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.evaluation._result import ResultRecord

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
        ``"high"`` or ``"low"`` for each patient.

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
class LogRankResult(ResultRecord):
    """Result of a log-rank test.

    Parameters
    ----------
    statistic : float
        Chi-squared statistic.
    p_value : float
        P-value from the chi-squared distribution with ``df`` degrees of freedom.
    df : int
        Degrees of freedom (number of groups with a non-zero expected count - 1).
    n_per_group : dict
        Group label -> number of patients, in sorted label order.
    observed, expected : dict
        Group label -> observed and expected numbers of events (weighted by ``S(t-)**rho``), summed over
        strata: R's ``survdiff`` ``obs`` and ``exp``.
    variance : dict
        Group label -> diagonal of the variance matrix of ``observed - expected``.
    rho : float
        Fleming-Harrington exponent (0: log-rank, 1: Peto-Peto).
    n_strata : int
        Number of strata (1 when unstratified).

    Examples
    --------
    Returned by :func:`logrank`:

    >>> from multisurv._validation import make_y
    >>> res = logrank(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1]), ["a", "a", "b", "b"])
    >>> res.df, res.n_per_group, round(res.p_value, 4)
    (1, {'a': 2, 'b': 2}, 0.0896)
    """

    statistic: float
    p_value: float
    df: int
    n_per_group: dict = field(default_factory=dict)
    observed: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    variance: dict = field(default_factory=dict)
    rho: float = 0.0
    n_strata: int = 1

    def to_frame(self) -> pd.DataFrame:
        """Return a one-row DataFrame; ``n_per_group`` becomes one ``n_<group>`` column per group.

        Returns
        -------
        pandas.DataFrame
            Columns ``statistic``, ``p_value``, ``df`` and ``n_<group>`` for each group.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> res = logrank(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1]), ["a", "a", "b", "b"])
        >>> res.to_frame().round(4)
           statistic  p_value  df  n_a  n_b
        0     2.8824   0.0896   1    2    2
        """
        row = {"statistic": self.statistic, "p_value": self.p_value, "df": self.df}
        row.update({f"n_{g}": n for g, n in self.n_per_group.items()})
        return pd.DataFrame([row])

    def table(self) -> pd.DataFrame:
        """Per-group table as R prints a ``survdiff``: ``N, Observed, Expected, (O-E)^2/E, (O-E)^2/V``.

        Returns
        -------
        pandas.DataFrame
            Index ``group`` (sorted labels); columns ``N``, ``Observed``, ``Expected``, ``(O-E)^2/E`` and ``(O-E)^2/V``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
        >>> logrank(y, ["a", "a", "b", "b"]).table()["Observed"].tolist()
        [2.0, 2.0]
        """
        groups = list(self.n_per_group)
        obs = np.array([self.observed[g] for g in groups])
        exp = np.array([self.expected[g] for g in groups])
        var = np.array([self.variance[g] for g in groups])
        with np.errstate(divide="ignore", invalid="ignore"):
            return pd.DataFrame({"N": [self.n_per_group[g] for g in groups], "Observed": obs, "Expected": exp,
                                 "(O-E)^2/E": (obs - exp) ** 2 / exp, "(O-E)^2/V": (obs - exp) ** 2 / var},
                                index=pd.Index(groups, name="group"))


def logrank(y: np.ndarray, groups: ArrayLike, *, strata: ArrayLike | None = None, rho: float = 0.0) -> LogRankResult:
    """Log-rank test of equal survival across groups, optionally stratified and weighted.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    groups : array-like, shape (n_samples,)
        Group label per patient (for example the output of :func:`risk_groups`); at least two groups.
    strata : array-like, shape (n_samples,), optional
        Stratum label per patient. Groups are compared within each stratum and the per-stratum sums are
        added, as R's ``survdiff(Surv(time, status) ~ group + strata(s))``.
    rho : float, default=0.0
        Fleming-Harrington G-rho exponent: each event time is weighted by ``S(t-)**rho``, with ``S`` the
        Kaplan-Meier curve of all patients of the stratum. 0 is the log-rank test, 1 the Peto-Peto
        modification of the Gehan-Wilcoxon test (R's ``survdiff(rho=)``).

    Returns
    -------
    LogRankResult
        The chi-square statistic, its degrees of freedom and p-value, and per group the patients, observed and
        expected events (``to_frame()``, ``table()``).

    Raises
    ------
    ValueError
        If the lengths differ, a label is missing, fewer than two groups are present (or fewer than two
        have a patient at risk at an event time), or ``rho`` is negative.

    See Also
    --------
    lifelines.statistics.multivariate_logrank_test : the same unstratified test (the tests check agreement).

    Notes
    -----
    At each event time ``t`` of a stratum, with ``d`` events among ``n`` at risk and ``n_g``, ``d_g`` those
    of group g: ``O_g = sum w d_g``, ``E_g = sum w d n_g / n`` and
    ``V_gh = sum w^2 d (n - d) / (n (n - 1)) n_g (1[g = h] - n_h / n)``, summed over times and strata. Groups
    with ``E_g = 0`` are dropped (as R does), then one more group, and ``chisq = (O - E)' V^-1 (O - E)``.
    lifelines has neither strata nor per-group observed/expected counts, so these closed-form sums (R's
    ``survdiff``) are computed here; the tests check them against R to 1e-6 and against lifelines.

    References
    ----------
    .. [1] Mantel, N. "Evaluation of survival data and two new rank order statistics arising in its
       consideration", Cancer Chemotherapy Reports 50(3), 163-170, 1966.
    .. [2] Harrington, D. P., Fleming, T. R. "A class of rank test procedures for censored survival data",
       Biometrika 69(3), 553-566, 1982.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> logrank(y, ["a", "a", "b", "b"]).df
    1
    """
    check_param("logrank", "rho", rho, kind="float", low=0)
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
    if strata is None:
        stratum = np.zeros(y.shape[0], dtype=int)
    else:
        strata = pd.Series(np.asarray(strata, dtype=object))
        check_consistent_length(y=y, strata=strata)
        n_missing = int(strata.isna().sum())
        if n_missing:
            raise ValueError(f"'strata' has {n_missing} missing label(s); give every patient a stratum.")
        stratum = pd.factorize(strata, sort=False)[0]
    labels = list(counts.index)
    code = pd.Categorical(groups, categories=labels).codes
    n_groups = len(labels)
    obs = np.zeros(n_groups)
    exp = np.zeros(n_groups)
    var = np.zeros((n_groups, n_groups))
    for s in np.unique(stratum):
        mask = stratum == s
        o, e, v = _survdiff_stratum(y["time"][mask], y["event"][mask], code[mask], n_groups, float(rho))
        obs += o
        exp += e
        var += v
    used = np.flatnonzero(exp > 0)
    if used.size < 2:
        raise ValueError(
            "Fewer than two groups have a patient at risk at an event time, so the groups cannot be compared. "
            "Check the group labels, or merge small groups."
        )
    diff = (obs - exp)[used[1:]]
    statistic = float(diff @ np.linalg.solve(var[np.ix_(used[1:], used[1:])], diff))
    df = int(used.size - 1)
    return LogRankResult(
        statistic=statistic,
        p_value=float(chi2.sf(statistic, df)),
        df=df,
        n_per_group={k: int(v) for k, v in counts.items()},
        observed={g: float(o) for g, o in zip(labels, obs)},
        expected={g: float(e) for g, e in zip(labels, exp)},
        variance={g: float(v) for g, v in zip(labels, np.diag(var))},
        rho=float(rho),
        n_strata=int(np.unique(stratum).size),
    )


def _survdiff_stratum(time: np.ndarray, event: np.ndarray, code: np.ndarray, n_groups: int, rho: float):
    """Observed, expected and variance matrix of one stratum (R's ``survdiff2`` sums, vectorised)."""
    unique, inv = np.unique(time, return_inverse=True)
    removed = np.zeros((n_groups, unique.size))
    deaths = np.zeros((n_groups, unique.size))
    np.add.at(removed, (code, inv), 1.0)
    np.add.at(deaths, (code, inv), event.astype(float))
    at_risk_g = np.cumsum(removed[:, ::-1], axis=1)[:, ::-1]  # n_g(t): observed time >= t
    at_risk = at_risk_g.sum(axis=0)
    d = deaths.sum(axis=0)
    if rho == 0:
        weight = np.ones(unique.size)
    else:
        km = np.cumprod(1.0 - d / at_risk)
        weight = np.concatenate([[1.0], km[:-1]]) ** rho  # left-continuous S(t-) of the pooled stratum
    is_event = d > 0
    w, n, dd, n_g = weight[is_event], at_risk[is_event], d[is_event], at_risk_g[:, is_event]
    obs = (deaths[:, is_event] * w).sum(axis=1)
    exp = (w * dd * n_g / n).sum(axis=1)
    several = n > 1  # one patient at risk: no variance
    w, n, dd, n_g = w[several], n[several], dd[several], n_g[:, several]
    k = w ** 2 * dd * (n - dd) / (n * (n - 1.0))
    share = n_g / n
    var = np.diag((k * n_g).sum(axis=1)) - (k * share) @ n_g.T if n.size else np.zeros((n_groups, n_groups))
    return obs, exp, var
