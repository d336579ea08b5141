"""Risk-group cut-offs fitted on development data: median, tertiles, a fixed value, maximally selected log-rank.

The cut-off is a fitted quantity: :class:`RiskCutoff` learns it from the development cohort in ``fit`` and
``transform`` applies it unchanged to any cohort, so an external validation never sees its own data in its groups.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.evaluation._result import ResultRecord

__all__ = ["MaxstatResult", "RiskCutoff", "logrank_scores", "maxstat_cutoff"]

CUTOFF_METHODS = ("median", "tertiles", "fixed", "maxstat")
P_METHODS = ("lau92", "permutation")


@dataclass(frozen=True)
class MaxstatResult(ResultRecord):
    """Maximally selected log-rank statistic over the candidate cut-offs of a score.

    Parameters
    ----------
    cutoff : float
        The cut-off with the largest standardised statistic; patients with ``x <= cutoff`` form one group.
    statistic : float
        That largest standardised log-rank statistic (absolute value).
    p_value : float
        Corrected p-value for having chosen the best of many cut-offs (``p_method``).
    p_method : str
        ``"lau92"`` (Lausen & Schumacher 1992 approximation) or ``"permutation"`` (conditional Monte Carlo).
    cuts, stats : tuple of float
        Every candidate cut-off and its standardised statistic (the X-tile style scan).
    min_prop, max_prop : float
        Smallest and largest share of patients allowed at or below a cut-off.
    n_permutations : int
        Permutations behind a ``"permutation"`` p-value (0 otherwise).

    Examples
    --------
    Returned by :func:`maxstat_cutoff`:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1] * 8)
    >>> res = maxstat_cutoff(y, [9.0, 9.0, 9.0, 9.0, 1.0, 1.0, 1.0, 1.0])
    >>> res.cutoff
    1.0
    """

    cutoff: float
    statistic: float
    p_value: float
    p_method: str
    cuts: tuple
    stats: tuple
    min_prop: float
    max_prop: float
    n_permutations: int = 0

    def to_frame(self) -> pd.DataFrame:
        """Return the scan, one row per candidate cut-off: ``cut, statistic``.

        Returns
        -------
        pandas.DataFrame
            Columns ``cut`` (``cuts``) and ``statistic`` (``stats``).

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1] * 8)
        >>> res = maxstat_cutoff(y, [9.0, 9.0, 9.0, 9.0, 1.0, 1.0, 1.0, 1.0])
        >>> res.to_frame().round(4)
           cut  statistic
        0  1.0      2.066
        """
        return pd.DataFrame({"cut": self.cuts, "statistic": self.stats})


def logrank_scores(y: np.ndarray) -> np.ndarray:
    """Log-rank scores of R's ``maxstat``: ``event_i - sum over times s <= time_i of d(s) / (n - r(s) + 1)``.

    ``d(s)`` counts the events at time ``s`` and ``r(s)`` is the largest rank of the patients tied at ``s``, so
    without ties ``n - r(s) + 1`` is the number at risk (the usual log-rank scores); tied events are divided by
    the number at risk after the rest of their tie group, the convention of ``exactRankTests::cscores.Surv``, which
    ``maxstat`` uses and the tests reproduce.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).

    Returns
    -------
    ndarray, shape (n_samples,)
        One score per patient, in the order of ``y``.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> logrank_scores(make_y([1.0, 2.0, 3.0], [1, 0, 1])).round(4).tolist()
    [0.6667, -0.3333, -0.3333]
    """
    y = check_survival_y(y)
    time, event = y["time"], y["event"].astype(float)
    unique, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=event, minlength=unique.size)
    max_rank = np.cumsum(np.bincount(inv, minlength=unique.size))
    return event - np.cumsum(d / (y.shape[0] - max_rank + 1.0))[inv]


def _scan(scores: np.ndarray, x: np.ndarray, min_prop: float, max_prop: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidate cut-offs and their standardised statistics (conditional mean and variance of the score sums)."""
    n = x.size
    order = np.argsort(x, kind="mergesort")
    xs, ss = x[order], scores[order]
    unique, counts = np.unique(xs, return_counts=True)
    m = np.cumsum(counts)  # patients with x <= each distinct value
    keep = (m >= max(1, np.floor(min_prop * n))) & (m <= np.floor(max_prop * n)) & (m < n)
    m, cuts = m[keep], unique[keep]
    if m.size == 0:
        raise ValueError(
            f"No cut-off leaves between {min_prop:g} and {max_prop:g} of the {n} patients at or below it "
            "(too few distinct scores). Widen 'min_prop'/'max_prop' or use another cut-off method."
        )
    total, sq = ss.sum(), (ss ** 2).sum()
    expected = m / n * total
    variance = m * (n - m) / (n ** 2 * (n - 1.0)) * (n * sq - total ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        stats = np.abs(np.cumsum(ss)[m - 1] - expected) / np.sqrt(variance)
    return cuts, np.nan_to_num(stats, nan=0.0)


def maxstat_cutoff(y: np.ndarray, x: ArrayLike, *, min_prop: float = 0.1, max_prop: float = 0.9,
                   p_method: str = "lau92", n_permutations: int = 10000, random_state=None) -> MaxstatResult:
    """Cut-off of ``x`` that best separates survival (maximally selected log-rank statistic), with a corrected p.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    x : array-like, shape (n_samples,)
        Score or covariate to dichotomise. Must not contain NaN.
    min_prop, max_prop : float, default=0.1, 0.9
        Only cut-offs with between ``floor(min_prop n)`` and ``floor(max_prop n)`` patients at or below them
        are tried (R's ``maxstat`` defaults).
    p_method : {"lau92", "permutation"}, default="lau92"
        ``"lau92"``: Lausen & Schumacher's (1992) approximation of the p-value of the maximum; ``"permutation"``:
        the share of ``n_permutations`` random permutations of the scores whose maximum reaches the observed one
        (R's ``pmethod = "condMC"``).
    n_permutations : int, default=10000
        Permutations for ``p_method="permutation"``.
    random_state : int, RandomState instance or None
        Seeds the permutations.

    Returns
    -------
    MaxstatResult

    Raises
    ------
    ValueError
        On NaN in ``x``, a length mismatch, parameters out of range or no admissible cut-off.

    Notes
    -----
    With log-rank scores ``a`` (:func:`logrank_scores`) sorted by ``x``, the statistic of the cut-off leaving ``m``
    patients at or below it is ``|S_m - m mean(a)| / sqrt(m (n - m) / (n^2 (n - 1)) (n sum a^2 - (sum a)^2))``, the
    sum of the first ``m`` scores standardised by its permutation mean and variance. The naive log-rank p of the
    chosen split is far too small; the Lau92 p is ``4 phi(b) / b + phi(b) (b - 1 / b) log(e2 (1 - e1) /
    ((1 - e2) e1))`` with ``b`` the maximum and ``e1, e2 = min_prop, max_prop``. These few lines are written here
    because no Python package provides the statistic; the tests check them against R's ``maxstat`` 0.7.

    References
    ----------
    .. [1] Lausen, B., Schumacher, M. "Maximally selected rank statistics", Biometrics 48(1), 73-85, 1992.
    .. [2] Hothorn, T., Lausen, B. "On the exact distribution of maximally selected rank statistics",
       Computational Statistics & Data Analysis 43(2), 121-137, 2003.
    .. [3] Camp, R. L., Dolled-Filhart, M., Rimm, D. L. "X-tile: a new bio-informatics tool for biomarker
       assessment and outcome-based cut-point optimization", Clinical Cancer Research 10(21), 7252-7259, 2004.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1] * 8)
    >>> maxstat_cutoff(y, [9.0, 9.0, 9.0, 9.0, 1.0, 1.0, 1.0, 1.0]).cutoff   # the four deaths first have x = 9
    1.0
    """
    check_param("maxstat_cutoff", "min_prop", min_prop, kind="float", low=0, high=0.5, low_open=True)
    check_param("maxstat_cutoff", "max_prop", max_prop, kind="float", low=0.5, high=1, high_open=True)
    check_param("maxstat_cutoff", "p_method", p_method, kind="option", options=P_METHODS)
    check_param("maxstat_cutoff", "n_permutations", n_permutations, kind="int", low=1)
    y = check_survival_y(y)
    x = _check_score(x, "x")
    check_consistent_length(y=y, x=x)
    scores = logrank_scores(y)
    cuts, stats = _scan(scores, x, min_prop, max_prop)
    best = int(np.argmax(stats))
    b = float(stats[best])
    used = 0
    if p_method == "lau92":
        phi = norm.pdf(b)
        p = 4 * phi / b + phi * (b - 1 / b) * np.log(max_prop * (1 - min_prop) / ((1 - max_prop) * min_prop))
        p = 1.0 if b < 1 else float(min(1.0, max(0.0, p)))  # R returns 1 below b = 1; above, p <= 1 is kept
    else:
        rng = np.random.default_rng(random_state) if not isinstance(random_state, np.random.RandomState) \
            else np.random.default_rng(random_state.randint(2 ** 31))
        hits = 0
        for _ in range(n_permutations):
            hits += _scan(rng.permutation(scores), x, min_prop, max_prop)[1].max() >= b - 1e-12
        p, used = hits / n_permutations, n_permutations
    return MaxstatResult(cutoff=float(cuts[best]), statistic=b, p_value=p, p_method=p_method,
                         cuts=tuple(float(c) for c in cuts), stats=tuple(float(s) for s in stats),
                         min_prop=float(min_prop), max_prop=float(max_prop), n_permutations=used)


def _check_score(x: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got shape {x.shape}.")
    n_nan = int(np.isnan(x).sum())
    if n_nan:
        raise ValueError(
            f"'{name}' has {n_nan} NaN value(s) out of {x.size}; a patient without a score belongs to no "
            "risk group. Drop those patients or impute the score first."
        )
    return x


class RiskCutoff(BaseEstimator):
    """Risk groups from cut-offs fitted on development patients and applied unchanged to any cohort.

    Parameters
    ----------
    method : {"median", "tertiles", "fixed", "maxstat"}, default="median"
        ``"median"``: the development median; ``"tertiles"``: the development 1/3 and 2/3 quantiles (three groups);
        ``"fixed"``: ``value``; ``"maxstat"``: the maximally selected log-rank cut-off (:func:`maxstat_cutoff`,
        X-tile style) with its corrected p-value.
    value : float, optional
        The cut-off for ``method="fixed"`` (for example a published threshold).
    min_prop, max_prop, p_method, n_permutations, random_state
        Passed to :func:`maxstat_cutoff` when ``method="maxstat"``.

    Attributes
    ----------
    cutoffs_ : tuple of float
        Fitted cut-offs, increasing. A patient with ``risk > cutoff`` is above it.
    labels_ : tuple of str
        Group labels from lowest to highest risk: ``("low", "high")`` or ``("low", "intermediate", "high")``.
    maxstat_ : MaxstatResult or None
        The scan and corrected p-value (``method="maxstat"`` only).

    Examples
    --------
    >>> cut = RiskCutoff(method="tertiles").fit(None, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    >>> cut.cutoffs_
    (3.0, 5.0)
    >>> cut.transform([0.0, 3.0, 3.5, 9.0]).tolist()
    ['low', 'low', 'intermediate', 'high']
    """

    def __init__(self, *, method: str = "median", value: float | None = None, min_prop: float = 0.1,
                 max_prop: float = 0.9, p_method: str = "lau92", n_permutations: int = 10000, random_state=None):
        self.method = method
        self.value = value
        self.min_prop = min_prop
        self.max_prop = max_prop
        self.p_method = p_method
        self.n_permutations = n_permutations
        self.random_state = random_state

    def fit(self, y: np.ndarray | None, risk: ArrayLike) -> "RiskCutoff":
        """Fit the cut-off(s) on development outcomes ``y`` (needed for ``"maxstat"`` only) and scores ``risk``.

        Parameters
        ----------
        y : structured array of shape (n_samples,), or None
            Development outcomes (fields ``event``, ``time``); only ``method="maxstat"`` uses them.
        risk : array-like, shape (n_samples,)
            Development risk scores (higher = worse).

        Returns
        -------
        RiskCutoff
            ``self``, fitted (``cutoffs_``, ``labels_``; ``maxstat_`` for maxstat).

        Raises
        ------
        ValueError
            When ``risk`` is empty or not finite, ``method`` is unknown, ``value`` is missing for ``"fixed"``, or
            ``y`` is missing for ``"maxstat"``.

        Examples
        --------
        >>> RiskCutoff().fit(None, [1.0, 2.0, 3.0, 4.0]).cutoffs_
        (2.5,)
        >>> RiskCutoff(method="fixed", value=3.0).fit(None, [1.0, 2.0]).labels_
        ('low', 'high')
        """
        check_param("RiskCutoff", "method", self.method, kind="option", options=CUTOFF_METHODS)
        risk = _check_score(risk, "risk")
        if risk.size == 0:
            raise ValueError("'risk' is empty; fit the cut-off on the development patients' scores.")
        self.maxstat_ = None
        if self.method == "fixed":
            value = self.value
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
                raise ValueError(
                    f"The 'value' parameter of RiskCutoff must be a finite float when method='fixed'. Got {value!r} "
                    "instead."
                )
            self.cutoffs_ = (float(value),)
        elif self.method == "median":
            self.cutoffs_ = (float(np.median(risk)),)
        elif self.method == "tertiles":
            self.cutoffs_ = tuple(float(q) for q in np.quantile(risk, [1 / 3, 2 / 3]))
        else:
            if y is None:
                raise ValueError("RiskCutoff(method='maxstat') needs the development outcomes 'y' in fit.")
            self.maxstat_ = maxstat_cutoff(y, risk, min_prop=self.min_prop, max_prop=self.max_prop,
                                           p_method=self.p_method, n_permutations=self.n_permutations,
                                           random_state=self.random_state)
            self.cutoffs_ = (self.maxstat_.cutoff,)
        if y is not None:
            check_consistent_length(y=check_survival_y(y), risk=risk)
        self.labels_ = ("low", "high") if len(self.cutoffs_) == 1 else ("low", "intermediate", "high")
        return self

    def transform(self, risk: ArrayLike) -> np.ndarray:
        """Group label per patient (``risk`` above a cut-off moves the patient up one group).

        Parameters
        ----------
        risk : array-like, shape (n_samples,)
            Risk scores of any cohort, on the scale the cut-offs were fitted on.

        Returns
        -------
        numpy.ndarray of str, shape (n_samples,)
            The group of each patient (``labels_``; a risk equal to a cut-off stays in the lower group).

        Examples
        --------
        >>> cut = RiskCutoff().fit(None, [1.0, 2.0, 3.0, 4.0])  # median 2.5
        >>> cut.transform([0.0, 2.5, 2.6, 10.0]).tolist()
        ['low', 'low', 'high', 'high']
        """
        check_is_fitted(self, "cutoffs_")
        risk = _check_score(risk, "risk")
        index = np.searchsorted(np.asarray(self.cutoffs_), risk, side="left")  # risk == cut-off stays below
        return np.asarray(self.labels_)[index]

    def fit_transform(self, y: np.ndarray | None, risk: ArrayLike) -> np.ndarray:
        """Fit on ``(y, risk)`` and return the groups of the same patients.

        Parameters
        ----------
        y : structured array of shape (n_samples,), or None
            Development outcomes (used by ``"maxstat"`` only).
        risk : array-like, shape (n_samples,)
            Development risk scores.

        Returns
        -------
        numpy.ndarray of str, shape (n_samples,)
            The group of each patient.

        Examples
        --------
        >>> RiskCutoff().fit_transform(None, [1.0, 2.0, 3.0, 4.0]).tolist()
        ['low', 'low', 'high', 'high']
        """
        return self.fit(y, risk).transform(risk)

    def describe(self) -> str:
        """One line for a figure title or a report: the method, the cut-off(s) and, for maxstat, the corrected p.

        Returns
        -------
        str
            For example ``"development median 0.12"``.

        Examples
        --------
        >>> RiskCutoff().fit(None, [1.0, 2.0, 3.0, 4.0]).describe()
        'development median 2.5'
        """
        check_is_fitted(self, "cutoffs_")
        cuts = ", ".join(f"{c:.3g}" for c in self.cutoffs_)
        if self.method == "maxstat":
            m = self.maxstat_
            name = "Lau92" if m.p_method == "lau92" else "permutation"
            p = "p < 0.001" if m.p_value < 0.001 else f"p = {m.p_value:.3f}"
            return f"maximally selected log-rank cut-off {cuts} (corrected {p}, {name})"
        return {"median": f"development median {cuts}", "tertiles": f"development tertiles {cuts}",
                "fixed": f"fixed cut-off {cuts}"}[self.method]
