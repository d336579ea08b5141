"""Harrell's concordance index with a percentile-bootstrap confidence interval."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.evaluation._result import ResultRecord
from multisurv.exceptions import MultisurvWarning

__all__ = ["CIndexResult", "concordance", "harrell_counts"]

#: Two risks closer than this count as tied (scikit-survival's default), in every C-index and AUC of this layer.
TIED_TOL = 1e-8
#: Upper bound on the number of matrix cells held at once by the bootstrap (about 32 MB of float64).
_BLOCK_CELLS = 4_000_000


@dataclass(frozen=True)
class CIndexResult(ResultRecord):
    """Harrell's C with its bootstrap confidence interval.

    Parameters
    ----------
    cindex : float
        Harrell's C on the full sample.
    lower, upper : float
        Percentile-bootstrap bounds (NaN when ``n_bootstrap == 0``).
    n : int
        Number of patients.
    n_events : int
        Number of observed events.
    n_bootstrap : int
        Number of bootstrap samples the interval rests on.
    confidence : float
        Confidence level of the interval.

    Examples
    --------
    Returned by :func:`concordance`:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 0, 1, 0, 1])
    >>> res = concordance(y, [6.0, 4.0, 5.0, 3.0, 1.0, 2.0], n_bootstrap=50, random_state=0)
    >>> round(res.cindex, 4), res.n, res.n_events, res.n_bootstrap
    (0.9091, 6, 4, 50)
    >>> list(res.to_frame().columns)
    ['cindex', 'lower', 'upper', 'n', 'n_events', 'n_bootstrap', 'confidence']
    """

    cindex: float
    lower: float
    upper: float
    n: int
    n_events: int
    n_bootstrap: int
    confidence: float = 0.95


def concordance(y: np.ndarray, risk: ArrayLike, *, n_bootstrap: int = 1000, confidence: float = 0.95,
                random_state=None) -> CIndexResult:
    """Harrell's concordance index of a risk score, with a percentile-bootstrap interval.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float), as built by :func:`multisurv.make_y`.
    risk : array-like, shape (n_samples,)
        Predicted risk; **higher means worse** (earlier event). Must not contain NaN.
    n_bootstrap : int, default=1000
        Number of bootstrap samples (patients drawn with replacement). ``0`` skips the interval.
    confidence : float, default=0.95
        Level of the two-sided percentile interval, in (0, 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap.

    Returns
    -------
    CIndexResult
        Harrell's C with its bootstrap interval (``lower``, ``upper``; NaN when ``n_bootstrap=0``), the numbers of
        patients and events, and the number of bootstrap resamples.

    Raises
    ------
    ValueError
        If ``risk`` contains NaN (the message says how many), if ``y`` and ``risk`` differ in length,
        if no pair of patients is comparable, or if a parameter is out of range.

    See Also
    --------
    sksurv.metrics.concordance_index_censored : the same counts by a pair loop (the tests check equality).

    Notes
    -----
    A pair (i, j) is comparable when patient i had an event and ``time_i < time_j``, or ``time_i == time_j``
    and j was censored (j outlived i). It is concordant when ``risk_i > risk_j``; tied risks
    (``|risk_i - risk_j| <= 1e-8``) count 1/2. Pairs whose event times are tied are not comparable. This is
    ``survival::concordance(Surv(time, status) ~ risk, reverse = TRUE)`` in R; the tests check agreement to
    1e-6. lifelines' ``concordance_index`` expects the opposite sign (higher = longer survival).

    The bootstrap draws patients with replacement. A bootstrap sample is a vector of counts ``w``, so its
    C is ``w' A w / w' B w`` with ``B[i, j] = 1`` for comparable pairs and ``A[i, j]`` their concordance
    score (1, 1/2 or 0); a patient and its own copies are never comparable (tied times). This is exact and
    costs one matrix product for all samples. Samples without a comparable pair are skipped with a warning.

    References
    ----------
    .. [1] Harrell, F. E., Califf, R. M., Pryor, D. B., Lee, K. L., Rosati, R. A. "Multivariable prognostic
       models", Statistics in Medicine 15(4), 361-387, 1996.

    Examples
    --------
    Four patients; times 1, 2, 3, 4 with the third censored. Comparable pairs have an event first:
    (1,2), (1,3), (1,4), (2,3), (2,4); patient 3 is censored and 4 is last. With risk 4, 3, 3, 1 the pairs
    are concordant except (2,3), whose risks tie and count 1/2, so C = 4.5 / 5 = 0.9.

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1])
    >>> concordance(y, [4.0, 3.0, 3.0, 1.0], n_bootstrap=0).cindex
    0.9
    """
    check_param("concordance", "n_bootstrap", n_bootstrap, kind="int", low=0)
    check_param("concordance", "confidence", confidence, kind="float", low=0, high=1, low_open=True,
                high_open=True)
    y = check_survival_y(y)
    risk = np.asarray(risk, dtype=float)
    if risk.ndim != 1:
        raise ValueError(f"'risk' must be 1-dimensional; got shape {risk.shape}.")
    n = check_consistent_length(y=y, risk=risk)
    n_nan = int(np.isnan(risk).sum())
    if n_nan:
        raise ValueError(
            f"'risk' has {n_nan} NaN value(s) out of {n}. Drop the patients without a score (for example a "
            "missing modality) or impute the score before computing the concordance."
        )
    event, time = y["event"], y["time"]
    concordant, _, tied, comparable = harrell_counts(time, event, risk)
    if comparable == 0:
        raise ValueError(
            f"No pair of the {n} patients is comparable (an event followed by a longer time), so the "
            "concordance is undefined. Use a larger sample."
        )
    cindex = (concordant + 0.5 * tied) / comparable

    lower = upper = float("nan")
    n_used = 0
    if n_bootstrap:
        rng = check_random_state(random_state)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(float)
        boot = _weighted_cindex(time, event, risk, counts)
        ok = np.isfinite(boot)
        n_used = int(ok.sum())
        if n_used < n_bootstrap:
            warnings.warn(
                f"{n_bootstrap - n_used} of {n_bootstrap} bootstrap samples had no comparable pair and were "
                f"skipped; the interval rests on {n_used}. Events are rare: interpret the interval with care.",
                category=MultisurvWarning, stacklevel=2,
            )
        if n_used:
            tail = (1.0 - confidence) / 2.0
            lower, upper = (float(q) for q in np.quantile(boot[ok], [tail, 1.0 - tail]))
    return CIndexResult(cindex=cindex, lower=lower, upper=upper, n=n, n_events=int(event.sum()),
                        n_bootstrap=n_used, confidence=float(confidence))


def harrell_counts(time: ArrayLike, event: ArrayLike, risk: ArrayLike, *,
                   tied_tol: float = TIED_TOL) -> tuple[int, int, int, int]:
    """Concordant, discordant, risk-tied and comparable pair counts of Harrell's C, in O(n log n).

    Written here because scikit-survival's ``concordance_index_censored`` loops over pairs (about 20 s at
    n = 100,000); this Fenwick-tree count gives the same four numbers (tested on tied data) in about 1 s.

    Parameters
    ----------
    time, event, risk : array-like, shape (n_samples,)
        Follow-up time, event indicator (the order of ``Surv(time, event)``), and risk score (higher = worse).
    tied_tol : float, default=1e-8
        Sorted risks closer than this to their neighbour count as tied.

    Returns
    -------
    concordant, discordant, tied, comparable : int
        ``C = (concordant + tied / 2) / comparable``.

    Examples
    --------
    >>> harrell_counts([1.0, 2.0, 3.0], [1, 1, 0], [3.0, 2.0, 2.0])
    (2, 0, 1, 3)
    """
    event = np.asarray(event, dtype=bool)
    time = np.asarray(time, dtype=float)
    risk = np.asarray(risk, dtype=float)
    if event.size == 0:
        return 0, 0, 0, 0
    sorted_risk = np.sort(risk)
    group = np.cumsum(np.concatenate([[True], np.diff(sorted_risk) > tied_tol])) - 1
    rank = (group[np.searchsorted(sorted_risk, risk)] + 1).tolist()  # 1-based positions in the tree
    size = int(group[-1]) + 1
    # Longest time first; at equal times the censored come first, so they are in the tree (they outlived the
    # events at that time) while events tied in time are not (they are not comparable with each other).
    order = np.lexsort((event, -time))
    t_sorted, e_sorted = time[order], event[order]
    cuts = (np.flatnonzero((np.diff(t_sorted) != 0) | (np.diff(e_sorted) != 0)) + 1).tolist()
    order, e_sorted = order.tolist(), e_sorted.tolist()
    tree = [0] * (size + 1)
    inserted = concordant = tied = comparable = 0
    for start, stop in zip([0, *cuts], [*cuts, len(order)]):
        members = order[start:stop]
        if e_sorted[start]:
            for i in members:  # pairs with everyone already in the tree (longer time, or censored at this time)
                below, j = 0, rank[i] - 1
                while j > 0:
                    below += tree[j]
                    j -= j & -j
                upto, j = 0, rank[i]
                while j > 0:
                    upto += tree[j]
                    j -= j & -j
                concordant += below
                tied += upto - below
                comparable += inserted
        for i in members:
            j = rank[i]
            while j <= size:
                tree[j] += 1
                j += j & -j
        inserted += stop - start
    return concordant, comparable - concordant - tied, tied, comparable


def pair_blocks(time: np.ndarray, event: np.ndarray, risk: np.ndarray):
    """Yield ``(idx, comparable, score)`` for blocks of patients with an event (Harrell's pairs, R's convention).

    ``comparable[a, j]`` says whether event patient ``idx[a]`` and patient j form a comparable pair (j outlived
    ``idx[a]``, or was censored at the same time); ``score`` is 1 (concordant), 1/2 (risks tied) or 0 on those
    pairs and 0 elsewhere. Blocks keep the matrices near ``_BLOCK_CELLS`` cells, so memory stays bounded.
    """
    n = time.shape[0]
    rows = np.flatnonzero(event)
    block = max(1, _BLOCK_CELLS // max(n, 1))
    for start in range(0, rows.size, block):
        idx = rows[start:start + block]
        t_i = time[idx, None]
        comparable = (time[None, :] > t_i) | ((time[None, :] == t_i) & ~event[None, :])
        diff = risk[idx, None] - risk[None, :]
        score = np.where(np.abs(diff) <= TIED_TOL, 0.5, (diff > 0).astype(float)) * comparable
        yield idx, comparable, score


def _weighted_cindex(time: np.ndarray, event: np.ndarray, risk: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Harrell's C for each row of ``weights`` (patient multiplicities, shape (n_samples_boot, n)).

    Builds the pair matrices row block by row block (rows = patients with an event), so memory stays
    bounded for large n. Returns NaN where a row has no comparable pair.
    """
    num = np.zeros(weights.shape[0])
    den = np.zeros(weights.shape[0])
    for idx, comparable, score in pair_blocks(time, event, risk):
        w_i = weights[:, idx]
        num += np.einsum("bi,bi->b", w_i, weights @ score.T)
        den += np.einsum("bi,bi->b", w_i, weights @ comparable.T.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
