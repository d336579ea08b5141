"""Statistics of a predicted probability against a binary outcome: AUC with DeLong intervals, the paired DeLong
test, Hosmer-Lemeshow, logistic recalibration (calibration slope and intercept) and the Brier score."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import chi2, norm, rankdata

from multisurv._validation import check_consistent_length, check_param
from multisurv.evaluation._result import ResultRecord
from multisurv.evaluation.decision_curve import DecisionCurveResult
from multisurv.selection._logistic import check_binary_y, fit_logistic

__all__ = [
    "AUCComparison",
    "AUCResult",
    "BinaryCalibrationResult",
    "HosmerLemeshowResult",
    "binary_decision_curve",
    "check_probability",
    "compare_auc",
    "hosmer_lemeshow",
    "logistic_calibration",
    "roc_auc",
]


@dataclass(frozen=True)
class AUCResult(ResultRecord):
    """Area under the ROC curve with its DeLong interval.

    Parameters
    ----------
    auc, lower, upper, standard_error : float
    n_events, n_non_events : int
    confidence : float
    method : str
        ``"delong"``.

    Examples
    --------
    Returned by :func:`roc_auc`:

    >>> res = roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> res.auc, res.method, round(res.standard_error, 4)
    (0.75, 'delong', 0.3536)
    """

    auc: float
    lower: float
    upper: float
    standard_error: float
    n_events: int
    n_non_events: int
    confidence: float
    method: str = "delong"


@dataclass(frozen=True)
class AUCComparison(ResultRecord):
    """Paired DeLong comparison of two AUCs on the same patients (``difference = auc_a - auc_b``).

    Parameters
    ----------
    auc_a, auc_b, difference, standard_error, lower, upper, z, p_value, correlation : float
    n_events, n_non_events : int
    confidence : float

    Examples
    --------
    Returned by :func:`compare_auc`:

    >>> cmp = compare_auc([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.1, 0.5, 0.3, 0.4, 0.2, 0.6])
    >>> cmp.auc_a, round(cmp.auc_b, 4), round(cmp.p_value, 4)
    (1.0, 0.6667, 0.2207)
    """

    auc_a: float
    auc_b: float
    difference: float
    standard_error: float
    lower: float
    upper: float
    z: float
    p_value: float
    correlation: float
    n_events: int
    n_non_events: int
    confidence: float


@dataclass(frozen=True)
class HosmerLemeshowResult(ResultRecord):
    """Hosmer-Lemeshow goodness-of-fit test; ``table`` holds observed and expected counts per risk group.

    Parameters
    ----------
    statistic : float
        The Hosmer-Lemeshow chi-squared statistic.
    df : int
        ``n_groups - 2`` (as ``ResourceSelection::hoslem.test``, even when tied quantiles merge groups).
    p_value : float
        Upper-tail chi-squared probability of ``statistic`` on ``df`` degrees of freedom.
    n_groups : int
        Groups asked for; ``table`` has one row per group actually formed.
    table : pandas.DataFrame
        ``group``, ``n``, ``observed``, ``expected`` (events), ``observed_non_events``, ``expected_non_events``,
        ``mean_probability``.

    Examples
    --------
    Returned by :func:`hosmer_lemeshow`:

    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 200)
    >>> res = hosmer_lemeshow(rng.uniform(size=200) < p, p, n_groups=4)
    >>> res.df, res.table["n"].tolist()  # df = n_groups - 2
    (2, [50, 50, 50, 50])
    """

    statistic: float
    df: int
    p_value: float
    n_groups: int
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Return the per-group table.

        Returns
        -------
        pandas.DataFrame
            A copy of ``table``.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> p = rng.uniform(0.05, 0.95, 200)
        >>> res = hosmer_lemeshow(rng.uniform(size=200) < p, p, n_groups=4)
        >>> list(res.to_frame().columns)
        ['group', 'n', 'observed', 'expected', 'observed_non_events', 'expected_non_events', 'mean_probability']
        """
        return self.table.copy()


@dataclass(frozen=True)
class BinaryCalibrationResult(ResultRecord):
    """Logistic recalibration of predicted probabilities (Cox 1958), as ``rms::val.prob`` reports it.

    Parameters
    ----------
    intercept, slope : float
        From ``logit(P(y = 1)) = intercept + slope * logit(p)``, fitted jointly (``val.prob``'s "Intercept" and
        "Slope"). Perfect calibration: 0 and 1.
    slope_lower, slope_upper : float
        Wald interval of the slope.
    citl : float
        Calibration-in-the-large: the intercept with the slope fixed at 1 (``glm(y ~ offset(logit(p)))``).
    brier : float
        Mean squared error of the probabilities.
    mean_probability, event_rate : float
    n, n_events : int
    confidence : float

    Examples
    --------
    Returned by :func:`logistic_calibration`:

    >>> cal = logistic_calibration([0, 0, 1, 0, 1, 1, 0, 1], [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    >>> round(cal.slope, 3), round(cal.brier, 4), cal.n_events
    (0.805, 0.2, 4)
    """

    intercept: float
    slope: float
    slope_lower: float
    slope_upper: float
    citl: float
    brier: float
    mean_probability: float
    event_rate: float
    n: int
    n_events: int
    confidence: float


def check_probability(prob: ArrayLike, n: int, *, name: str = "prob", open_interval: bool = False) -> np.ndarray:
    """A 1-D float vector of ``n`` probabilities in [0, 1] (or (0, 1) when a logit is taken).

    Parameters
    ----------
    prob : array-like, shape (n,)
        Predicted event probabilities.
    n : int
        The expected length (the number of outcomes).
    name : str, default="prob"
        The argument named in error messages.
    open_interval : bool, default=False
        Refuse exactly 0 and 1 too.

    Returns
    -------
    ndarray of float, shape (n,)

    Raises
    ------
    ValueError
        If ``prob`` is not 1-dimensional, has another length than ``n``, or holds NaN or values outside the interval.

    Examples
    --------
    >>> check_probability([0.2, 0.9], 2)
    array([0.2, 0.9])
    >>> check_probability([0.0, 0.9], 2, open_interval=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: 'prob' must hold probabilities in (0, 1); 1 of 2 are not (first: ...
    """
    prob = np.asarray(prob, dtype=float)
    if prob.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got shape {prob.shape}.")
    check_consistent_length(y=np.empty(n), **{name: prob})
    low_bad = prob <= 0 if open_interval else prob < 0
    high_bad = prob >= 1 if open_interval else prob > 1
    bad = np.isnan(prob) | low_bad | high_bad
    if bad.any():
        rng = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(
            f"'{name}' must hold probabilities in {rng}; {int(bad.sum())} of {n} are not (first: "
            f"{prob[bad][0]!r}). Pass predicted probabilities (predict_proba(X)[:, 1]), not scores"
            + (", and clip probabilities of exactly 0 or 1." if open_interval else ".")
        )
    return prob


def _scores(y: np.ndarray, score: ArrayLike, name: str) -> np.ndarray:
    score = np.asarray(score, dtype=float)
    if score.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got shape {score.shape}.")
    check_consistent_length(y=y, **{name: score})
    if not np.all(np.isfinite(score)):
        raise ValueError(f"'{name}' has {int((~np.isfinite(score)).sum())} non-finite value(s); drop or impute them.")
    return score


def _placements(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """DeLong's structural components: per event V10 (share of non-events scored lower, ties 1/2), per non-event
    V01 (share of events scored higher), by midranks (Sun and Xu 2014)."""
    events = y == 1
    x, z = score[events], score[~events]
    m, n = x.size, z.size
    r_all = rankdata(score)
    v10 = (r_all[events] - rankdata(x)) / n
    v01 = 1.0 - (r_all[~events] - rankdata(z)) / m
    return float(v10.mean()), v10, v01


def roc_auc(y: ArrayLike, score: ArrayLike, *, confidence: float = 0.95) -> AUCResult:
    """AUC of a score for a binary outcome, with DeLong's standard error and a Wald interval.

    Parameters
    ----------
    y : array-like of 0/1 or bool, shape (n_samples,)
    score : array-like, shape (n_samples,)
        Predicted probability or any score where higher means "event more likely".
    confidence : float, default=0.95

    Returns
    -------
    AUCResult

    Raises
    ------
    ValueError
        When ``y`` is not binary with both classes, lengths differ, or ``score`` is not finite.

    Notes
    -----
    ``AUC = P(score_event > score_non-event) + P(tie) / 2``. Its variance is ``S10 / m + S01 / n`` with ``S10`` and
    ``S01`` the sample variances of the placement values [1]_; the interval ``AUC +- z * se`` is truncated to
    [0, 1]. This is ``pROC::ci.auc(roc(y, score, direction = "<"), method = "delong")``.

    References
    ----------
    .. [1] DeLong, E. R., DeLong, D. M., Clarke-Pearson, D. L. "Comparing the areas under two or more correlated
       receiver operating characteristic curves: a nonparametric approach", Biometrics 44(3), 837-845, 1988.

    Examples
    --------
    >>> res = roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> res.auc
    0.75
    """
    check_param("roc_auc", "confidence", confidence, kind="float", low=0, high=1, low_open=True, high_open=True)
    yy = check_binary_y(y, where="roc_auc")
    s = _scores(yy, score, "score")
    auc, v10, v01 = _placements(yy, s)
    se = float(np.sqrt(np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size))
    zq = norm.ppf(0.5 + confidence / 2)
    return AUCResult(auc=auc, lower=float(max(0.0, auc - zq * se)), upper=float(min(1.0, auc + zq * se)), standard_error=se,
                     n_events=int(v10.size), n_non_events=int(v01.size), confidence=confidence)


def compare_auc(y: ArrayLike, score_a: ArrayLike, score_b: ArrayLike, *, confidence: float = 0.95) -> AUCComparison:
    """Paired DeLong test of two AUCs measured on the same patients.

    Parameters
    ----------
    y : array-like of 0/1 or bool, shape (n_samples,)
    score_a, score_b : array-like, shape (n_samples,)
        The two models' scores (higher = event more likely).
    confidence : float, default=0.95
        Level of the interval for the difference.

    Returns
    -------
    AUCComparison

    Notes
    -----
    ``z = (AUC_a - AUC_b) / sqrt(V_a + V_b - 2 C_ab)`` with the DeLong covariance matrix ``S10 / m + S01 / n`` of
    the two models' placement values; two-sided p from the normal. This is
    ``pROC::roc.test(roc_a, roc_b, method = "delong", paired = TRUE)``.

    References
    ----------
    .. [1] DeLong, E. R., DeLong, D. M., Clarke-Pearson, D. L., Biometrics 44(3), 837-845, 1988.

    Examples
    --------
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> cmp = compare_auc(y, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.1, 0.5, 0.3, 0.4, 0.2, 0.6])
    >>> round(cmp.difference, 4), round(cmp.p_value, 4)
    (0.3333, 0.2207)
    """
    check_param("compare_auc", "confidence", confidence, kind="float", low=0, high=1, low_open=True, high_open=True)
    yy = check_binary_y(y, where="compare_auc")
    sa, sb = _scores(yy, score_a, "score_a"), _scores(yy, score_b, "score_b")
    auc_a, v10a, v01a = _placements(yy, sa)
    auc_b, v10b, v01b = _placements(yy, sb)
    m, n = v10a.size, v01a.size
    cov = np.cov(np.vstack([v10a, v10b])) / m + np.cov(np.vstack([v01a, v01b])) / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = auc_a - auc_b
    se = float(np.sqrt(max(var, 0.0)))
    z = diff / se if se > 0 else (0.0 if diff == 0 else np.copysign(np.inf, diff))
    zq = norm.ppf(0.5 + confidence / 2)
    corr = float(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])) if cov[0, 0] > 0 and cov[1, 1] > 0 else float("nan")
    return AUCComparison(auc_a=auc_a, auc_b=auc_b, difference=diff, standard_error=se, lower=float(diff - zq * se),
                         upper=float(diff + zq * se), z=float(z), p_value=float(2 * norm.sf(abs(z))), correlation=corr,
                         n_events=m, n_non_events=n, confidence=confidence)


def _quantile_groups(prob: np.ndarray, n_groups: int) -> np.ndarray:
    """R's ``cut(p, unique(quantile(p, seq(0, 1, 1/g))), include.lowest = TRUE)`` as 0-based group codes."""
    breaks = np.unique(np.quantile(prob, np.linspace(0, 1, n_groups + 1)))  # type 7, as R's default
    if breaks.size < 2:
        return np.zeros(prob.size, dtype=int)
    codes = np.searchsorted(breaks, prob, side="left") - 1  # right-closed (a, b]
    return np.clip(codes, 0, breaks.size - 2)  # the lowest break belongs to the first group


def hosmer_lemeshow(y: ArrayLike, prob: ArrayLike, *, n_groups: int = 10) -> HosmerLemeshowResult:
    """Hosmer-Lemeshow test over groups of predicted risk.

    Parameters
    ----------
    y : array-like of 0/1 or bool, shape (n_samples,)
    prob : array-like, shape (n_samples,)
        Predicted probabilities in [0, 1].
    n_groups : int, default=10
        Number of quantile groups (at least 3).

    Returns
    -------
    HosmerLemeshowResult

    Notes
    -----
    The definition of ``ResourceSelection::hoslem.test(y, prob, g)``: groups cut at the type-7 quantiles of
    ``prob`` (tied quantiles merged, intervals closed on the right, the lowest included),
    ``statistic = sum over groups and both outcomes of (observed - expected)^2 / expected`` and a chi-square p
    with ``n_groups - 2`` degrees of freedom. A large p is no proof of calibration (the test has little power in
    small samples and rejects trivial miscalibration in large ones); report it with the calibration curve.

    References
    ----------
    .. [1] Hosmer, D. W., Lemeshow, S. "Goodness of fit tests for the multiple logistic regression model",
       Communications in Statistics - Theory and Methods 9(10), 1043-1069, 1980.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 500)
    >>> res = hosmer_lemeshow(rng.uniform(size=500) < p, p)
    >>> res.df, res.p_value > 0.01
    (8, True)
    """
    check_param("hosmer_lemeshow", "n_groups", n_groups, kind="int", low=3)
    yy = check_binary_y(y, where="hosmer_lemeshow")
    p = check_probability(prob, yy.size)
    codes = _quantile_groups(p, n_groups)
    frame = pd.DataFrame({"group": codes, "y": yy, "p": p})
    table = frame.groupby("group").agg(n=("y", "size"), observed=("y", "sum"), expected=("p", "sum"),
                                       mean_probability=("p", "mean")).reset_index()
    table["observed_non_events"] = table["n"] - table["observed"]
    table["expected_non_events"] = table["n"] - table["expected"]
    table = table[["group", "n", "observed", "expected", "observed_non_events", "expected_non_events",
                   "mean_probability"]]
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(((table["observed"] - table["expected"]) ** 2 / table["expected"]).sum()
                      + ((table["observed_non_events"] - table["expected_non_events"]) ** 2
                         / table["expected_non_events"]).sum())
    df = n_groups - 2
    return HosmerLemeshowResult(statistic=stat, df=df, p_value=float(chi2.sf(stat, df)), n_groups=n_groups,
                                table=table)


def logistic_calibration(y: ArrayLike, prob: ArrayLike, *, confidence: float = 0.95) -> BinaryCalibrationResult:
    """Calibration slope and intercept (logistic recalibration), calibration-in-the-large and the Brier score.

    Parameters
    ----------
    y : array-like of 0/1 or bool, shape (n_samples,)
    prob : array-like, shape (n_samples,)
        Predicted probabilities in (0, 1) (their logit is taken).
    confidence : float, default=0.95
        Level of the slope's Wald interval.

    Returns
    -------
    BinaryCalibrationResult

    Notes
    -----
    ``rms::val.prob(prob, y)``'s "Intercept" and "Slope" come from ``lrm(y ~ qlogis(prob))``; its "Brier" is
    ``mean((prob - y)^2)``. A slope below 1 means predictions too extreme (overfitting), above 1 too modest.
    Calibration-in-the-large is ``coef(glm(y ~ 1, offset = qlogis(prob), family = binomial))``.

    References
    ----------
    .. [1] Cox, D. R. "Two further applications of a model for binary regression", Biometrika 45, 562-565, 1958.
    .. [2] Van Calster, B. et al. "Calibration: the Achilles heel of predictive analytics", BMC Medicine 17, 230,
       2019.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> p = rng.uniform(0.05, 0.95, 2000)
    >>> res = logistic_calibration(rng.uniform(size=2000) < p, p)
    >>> 0.8 < res.slope < 1.2 and abs(res.intercept) < 0.2
    True
    """
    check_param("logistic_calibration", "confidence", confidence, kind="float", low=0, high=1, low_open=True,
                high_open=True)
    yy = check_binary_y(y, where="logistic_calibration")
    p = check_probability(prob, yy.size, open_interval=True)
    logit = np.log(p / (1 - p))
    joint = fit_logistic(np.column_stack([np.ones(yy.size), logit]), yy, where="logistic_calibration")
    large = fit_logistic(np.ones((yy.size, 1)), yy, offset=logit, where="logistic_calibration (offset)")
    zq = norm.ppf(0.5 + confidence / 2)
    se = float(np.sqrt(joint.cov[1, 1]))
    return BinaryCalibrationResult(
        intercept=float(joint.coef[0]), slope=float(joint.coef[1]), slope_lower=float(joint.coef[1] - zq * se),
        slope_upper=float(joint.coef[1] + zq * se), citl=float(large.coef[0]), brier=float(np.mean((p - yy) ** 2)),
        mean_probability=float(p.mean()), event_rate=float(yy.mean()), n=int(yy.size), n_events=int(yy.sum()),
        confidence=confidence,
    )


def binary_decision_curve(y: ArrayLike, prob: ArrayLike, *, thresholds: ArrayLike | None = None, name: str = "model",
                          horizon: float = float("nan")) -> DecisionCurveResult:
    """Decision curve for a binary outcome: net benefit of treating patients whose predicted risk reaches a threshold.

    Parameters
    ----------
    y : array-like of 0/1 or bool, shape (n_samples,)
    prob : array-like, shape (n_samples,)
        Predicted probabilities of the event.
    thresholds : array-like, optional
        Threshold probabilities in (0, 1); default 0.01, 0.02, ..., 0.99.
    name : str, default="model"
    horizon : float, optional
        The horizon t of an "event by t" endpoint, kept as the result's ``t0`` (NaN for a plain binary outcome).

    Returns
    -------
    multisurv.evaluation.decision_curve.DecisionCurveResult
        The same result (and plots) as the survival decision curve: ``threshold``, ``n_positive``,
        ``net_benefit``, ``treat_all``, ``treat_none``.

    Notes
    -----
    With "positive" meaning ``prob >= p_t``: ``net benefit = TP / n - FP / n * p_t / (1 - p_t)``; treat all:
    ``prevalence - (1 - prevalence) * p_t / (1 - p_t)``; treat none: 0. This is ``dcurves::dca(y ~ prob)`` (not
    packaged for Debian; the reference script writes the closed form in base R).

    References
    ----------
    .. [1] Vickers, A. J., Elkin, E. B. "Decision curve analysis: a novel method for evaluating prediction models",
       Medical Decision Making 26(6), 565-574, 2006.

    Examples
    --------
    >>> res = binary_decision_curve([1, 0, 1, 0], [0.9, 0.6, 0.7, 0.1], thresholds=[0.5])
    >>> res.table[["net_benefit", "treat_all"]].round(4).values.tolist()
    [[0.25, 0.0]]
    """
    yy = check_binary_y(y, where="binary_decision_curve")
    p = check_probability(prob, yy.size)
    t = np.round(np.arange(1, 100) / 100, 2) if thresholds is None else np.atleast_1d(np.asarray(thresholds, float))
    if t.ndim != 1 or np.any((t <= 0) | (t >= 1)):
        raise ValueError(f"binary_decision_curve: 'thresholds' must lie strictly between 0 and 1; got {thresholds!r}.")
    n = yy.size
    positive = p[None, :] >= t[:, None]
    tp = (positive & (yy[None, :] == 1)).sum(axis=1)
    fp = (positive & (yy[None, :] == 0)).sum(axis=1)
    odds = t / (1 - t)
    prevalence = yy.mean()
    table = pd.DataFrame({"threshold": t, "n_positive": positive.sum(axis=1), "net_benefit": tp / n - fp / n * odds,
                          "treat_all": prevalence - (1 - prevalence) * odds, "treat_none": 0.0})
    return DecisionCurveResult(t0=float(horizon), table=table, name=name)
