"""Cox proportional-hazards fit (Efron ties) with R's tests, and R's ``cox.zph`` proportional-hazards test."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError
from lifelines.exceptions import ConvergenceWarning as LifelinesConvergenceWarning
from numpy.typing import ArrayLike
from scipy.stats import chi2, norm

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.evaluation.kaplan_meier import kaplan_meier
from multisurv.exceptions import ConvergenceWarning

__all__ = ["ChiSquareTest", "CoxResult", "ProportionalHazardsResult", "cox_ph", "group_hazard_ratios",
           "proportional_hazards_test", "ZPH_TRANSFORMS"]

#: Time transforms of :func:`proportional_hazards_test`, named as in R's ``cox.zph(transform=)``.
ZPH_TRANSFORMS = ("km", "identity", "rank", "log")
#: lifelines' Newton-Raphson stops when the step norm or the Newton decrement is below this (or, as R, when
#: the log-likelihood changes by < 1e-9 relative). Its default 1e-7 stops early: coefficients 1e-5 off R's on
#: veteran, 3e-7 on gbsg2. 1e-12 costs a step or two and brings them within 1e-11 of R's.
_PRECISION = 1e-12


@dataclass(frozen=True)
class ChiSquareTest:
    """A chi-squared test: ``statistic``, degrees of freedom ``df`` and ``p_value``.

    Parameters
    ----------
    statistic : float
        The chi-squared statistic.
    df : int
        Degrees of freedom.
    p_value : float
        Upper-tail probability of ``statistic`` (:meth:`of` computes it).

    Examples
    --------
    >>> test = ChiSquareTest.of(3.84, 1)
    >>> test.df, round(test.p_value, 3)
    (1, 0.05)
    """

    statistic: float
    df: int
    p_value: float

    @classmethod
    def of(cls, statistic: float, df: int) -> ChiSquareTest:
        """The test of ``statistic`` on ``df`` degrees of freedom.

        Parameters
        ----------
        statistic : float
            The chi-squared statistic.
        df : int
            Degrees of freedom.

        Returns
        -------
        ChiSquareTest
            With ``p_value = chi2.sf(statistic, df)``.

        Examples
        --------
        >>> ChiSquareTest.of(0.0, 2).p_value
        1.0
        """
        return cls(float(statistic), int(df), float(chi2.sf(statistic, df)))


@dataclass(frozen=True, eq=False)
class CoxResult:
    """A fitted Cox proportional-hazards model and its tests (R's ``summary(coxph(...))``).

    Parameters
    ----------
    names : tuple of str
        Coefficient names: numeric columns keep their name, a categorical column ``c`` gives one indicator
        per level but the first, named ``c<level>`` (R's treatment contrasts).
    coef, se, hr, lower, upper, z, p_value : ndarray of float, shape (n_coef,)
        Log hazard ratio, its standard error, hazard ratio ``exp(coef)``, the HR's confidence interval,
        Wald z and two-sided p-value.
    terms : dict
        Input column -> the coefficient names it produced (one term per column).
    loglik_null, loglik : float
        Partial log-likelihood (Efron) at 0 and at the fit.
    lr_test, wald_test, score_test : ChiSquareTest
        Global likelihood-ratio, Wald and score (log-rank) tests of all coefficients = 0.
    n, n_events : int
        Patients and events.
    confidence : float
        Level of the intervals.
    ties : str
        Always ``"efron"``.

    Examples
    --------
    Returned by :func:`cox_ph` and :func:`group_hazard_ratios`:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 3.0, 4.0, 5.0, 8.0, 9.0], [1, 1, 0, 1, 1, 0])
    >>> fit = group_hazard_ratios(y, ["a", "b", "a", "b", "a", "b"])
    >>> fit.names, fit.n, fit.n_events, round(float(fit.hr[0]), 3)
    (('b',), 6, 4, 0.76)
    """

    names: tuple
    coef: np.ndarray
    se: np.ndarray
    hr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    terms: dict
    loglik_null: float
    loglik: float
    lr_test: ChiSquareTest
    wald_test: ChiSquareTest
    score_test: ChiSquareTest
    n: int
    n_events: int
    confidence: float = 0.95
    ties: str = "efron"

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table: one row per coefficient, columns ``coef, se, hr, lower, upper, z, p_value``.

        Returns
        -------
        pandas.DataFrame
            Index ``term`` (``names``); columns ``coef``, ``se``, ``hr``, ``lower``, ``upper``, ``z``, ``p_value``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 3.0, 4.0, 5.0, 8.0, 9.0], [1, 1, 0, 1, 1, 0])
        >>> fit = group_hazard_ratios(y, ["a", "b", "a", "b", "a", "b"])
        >>> table = fit.to_frame()
        >>> list(table.index), table.loc["b", ["hr", "lower", "upper"]].round(3).tolist()
        (['b'], [0.76, 0.105, 5.512])
        """
        return pd.DataFrame({"coef": self.coef, "se": self.se, "hr": self.hr, "lower": self.lower,
                             "upper": self.upper, "z": self.z, "p_value": self.p_value},
                            index=pd.Index(list(self.names), name="term"))

    def to_dict(self) -> dict:
        """Return the fields as plain Python types (arrays become lists, tests become dicts).

        Returns
        -------
        dict
            Field name -> value: arrays and tuples as lists, each :class:`ChiSquareTest` as a dict
            (``statistic``, ``df``, ``p_value``), ``terms`` as a dict of lists.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 3.0, 4.0, 5.0, 8.0, 9.0], [1, 1, 0, 1, 1, 0])
        >>> fit = group_hazard_ratios(y, ["a", "b", "a", "b", "a", "b"])
        >>> d = fit.to_dict()
        >>> d["names"], d["n"], sorted(d["lr_test"])
        (['b'], 6, ['df', 'p_value', 'statistic'])
        """
        out: dict = {}
        for key, value in self.__dict__.items():
            if isinstance(value, np.ndarray):
                out[key] = value.tolist()
            elif isinstance(value, ChiSquareTest):
                out[key] = value.__dict__.copy()
            elif isinstance(value, tuple):
                out[key] = list(value)
            elif isinstance(value, dict):
                out[key] = {k: list(v) for k, v in value.items()}
            else:
                out[key] = value
        return out


@dataclass(frozen=True)
class ProportionalHazardsResult:
    """Score tests of proportional hazards per term and globally (R's ``cox.zph(fit)$table``).

    Parameters
    ----------
    transform : str
        Time transform ``g(t)`` of the test.
    tests : dict
        Term -> :class:`ChiSquareTest`, in the model's order, then ``"GLOBAL"``.

    Examples
    --------
    Returned by :func:`proportional_hazards_test`:

    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 3.0, 4.0, 5.0, 8.0, 9.0], [1, 1, 0, 1, 1, 0])
    >>> ph = proportional_hazards_test(y, pd.DataFrame({"arm": ["a", "b", "a", "b", "a", "b"]}))
    >>> ph.transform, list(ph.tests)
    ('km', ['arm', 'GLOBAL'])
    """

    transform: str
    tests: dict

    def to_frame(self) -> pd.DataFrame:
        """R's table: one row per term and ``GLOBAL``, columns ``chisq, df, p``.

        Returns
        -------
        pandas.DataFrame
            Index ``term`` (the terms, then ``GLOBAL``); columns ``chisq``, ``df``, ``p``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 3.0, 4.0, 5.0, 8.0, 9.0], [1, 1, 0, 1, 1, 0])
        >>> ph = proportional_hazards_test(y, pd.DataFrame({"arm": ["a", "b", "a", "b", "a", "b"]}))
        >>> table = ph.to_frame()
        >>> list(table.index), table.loc["GLOBAL"].round(3).tolist()
        (['arm', 'GLOBAL'], [0.022, 1.0, 0.883])
        """
        return pd.DataFrame({"chisq": [t.statistic for t in self.tests.values()],
                             "df": [t.df for t in self.tests.values()],
                             "p": [t.p_value for t in self.tests.values()]},
                            index=pd.Index(list(self.tests), name="term"))

    def to_dict(self) -> dict:
        """Return the fields as plain Python types.

        Returns
        -------
        dict
            ``transform`` and ``tests`` (term -> dict with ``statistic``, ``df``, ``p_value``).

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> y = make_y([1.0, 3.0, 4.0, 5.0, 8.0, 9.0], [1, 1, 0, 1, 1, 0])
        >>> ph = proportional_hazards_test(y, pd.DataFrame({"arm": ["a", "b", "a", "b", "a", "b"]}))
        >>> d = ph.to_dict()
        >>> d["transform"], d["tests"]["GLOBAL"]["df"]
        ('km', 1)
        """
        return {"transform": self.transform, "tests": {k: t.__dict__.copy() for k, t in self.tests.items()}}


def cox_ph(y: np.ndarray, X, *, confidence: float = 0.95) -> CoxResult:
    """Fit a Cox proportional-hazards model (Efron ties) and test it, as R's ``coxph``.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    X : pandas.DataFrame or array-like, shape (n_samples, n_columns)
        Covariates. Numeric (and bool) columns enter as they are; object, string and categorical columns are
        expanded into indicators of every level but the first (sorted, or the categorical's order), named
        ``<column><level>`` as in R. An array gets columns ``x0, x1, ...``.
    confidence : float, default=0.95
        Level of the hazard ratios' intervals.

    Returns
    -------
    CoxResult

    Raises
    ------
    ValueError
        If sizes differ, ``X`` has missing values or a constant column, or the fit fails (for example when
        a covariate separates the patients with events perfectly).

    Warns
    -----
    multisurv.exceptions.ConvergenceWarning
        When lifelines reports a fragile fit (for example a coefficient drifting to infinity because a group
        has no events); the hazard ratio is then not meaningful.

    See Also
    --------
    lifelines.CoxPHFitter : fits the model (Efron ties), giving coefficients, standard errors and CIs.
    proportional_hazards_test : R's ``cox.zph``.

    Notes
    -----
    Coefficients, standard errors, Wald z, p-values and intervals ``exp(coef -+ z * se)`` come from lifelines,
    run to a precision of 1e-12 (its default 1e-7 stops early, ~1e-5 from R's coefficients). The global
    tests are those of R's ``summary(coxph)``: likelihood ratio ``2 (loglik - loglik_null)``, Wald
    ``coef' V^-1 coef`` and the score test ``U(0)' I(0)^-1 U(0)``, all on ``n_coef`` degrees of freedom.
    lifelines has no score test, so the Efron score and information at 0 (and the log-likelihoods) are
    computed here; the tests check them and the fit against R's ``coxph(ties = "efron")``.

    References
    ----------
    .. [1] Cox, D. R. "Regression models and life-tables", Journal of the Royal Statistical Society B 34(2),
       187-220, 1972.
    .. [2] Efron, B. "The efficiency of Cox's likelihood function for censored data", Journal of the
       American Statistical Association 72(359), 557-565, 1977.

    Examples
    --------
    >>> import pandas as pd
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 3.0, 4.0, 5.0, 8.0, 9.0], [1, 1, 0, 1, 1, 0])
    >>> fit = cox_ph(y, pd.DataFrame({"arm": ["a", "b", "a", "b", "a", "b"]}))
    >>> fit.names, round(float(fit.hr[0]), 3)  # R: exp(coef(coxph(Surv(t, e) ~ arm)))
    (('armb',), 0.76)
    """
    check_param("cox_ph", "confidence", confidence, kind="float", low=0, high=1, low_open=True, high_open=True)
    y = check_survival_y(y)
    design, terms = _design(X, n=y.shape[0])
    names = tuple(design.columns)
    data = design.copy()
    data.columns = [f"x{i}" for i in range(design.shape[1])]  # no clash with the duration/event columns
    data["__time__"] = y["time"]
    data["__event__"] = y["event"]
    fitter = CoxPHFitter(alpha=1.0 - confidence)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitter.fit(data, "__time__", "__event__", fit_options={"precision": _PRECISION})
        except ConvergenceError as exc:
            raise ValueError(
                f"The Cox model on {', '.join(repr(c) for c in terms)} could not be fitted ({str(exc).splitlines()[0]}). "
                "A covariate may separate the patients with events perfectly or be collinear with others; drop "
                "or merge it."
            ) from None
    fragile = []
    for w in caught:
        if issubclass(w.category, LifelinesConvergenceWarning):
            fragile.append(_first_sentence(str(w.message), names))
        elif not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            warnings.warn(w.message, category=w.category, stacklevel=2)
    if fragile:
        warnings.warn(
            f"The Cox fit on {', '.join(repr(c) for c in terms)} is not reliable: {' '.join(fragile)} A covariate "
            "may separate the patients with and without events (for example a group without events) or be "
            "collinear with others; its hazard ratio is then meaningless. Drop or merge it.",
            category=ConvergenceWarning, stacklevel=2)
    summary = fitter.summary
    coef = summary["coef"].to_numpy(float)
    se = summary["se(coef)"].to_numpy(float)
    z_crit = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    x = design.to_numpy(float)
    loglik_null, u0, i0 = _efron(x, y["time"], y["event"], np.zeros(x.shape[1]))
    loglik = _efron(x, y["time"], y["event"], coef)[0]
    k = coef.size
    variance = fitter.variance_matrix_.to_numpy(float)
    with np.errstate(over="ignore"):  # a diverging coefficient gives an infinite bound, as in R
        hr, lower, upper = np.exp(coef), np.exp(coef - z_crit * se), np.exp(coef + z_crit * se)
    return CoxResult(
        names=names, coef=coef, se=se, hr=hr, lower=lower, upper=upper, z=coef / se,
        p_value=2.0 * norm.sf(np.abs(coef / se)), terms=terms,
        loglik_null=float(loglik_null), loglik=float(loglik),
        lr_test=ChiSquareTest.of(2.0 * (loglik - loglik_null), k),
        wald_test=ChiSquareTest.of(float(coef @ np.linalg.solve(variance, coef)), k),
        score_test=ChiSquareTest.of(float(u0 @ np.linalg.solve(i0, u0)), k),
        n=int(y.shape[0]), n_events=int(y["event"].sum()), confidence=float(confidence),
    )


def group_hazard_ratios(y: np.ndarray, groups: ArrayLike, *, order=None, confidence: float = 0.95) -> CoxResult:
    """Hazard ratio of each group against a reference group, from a Cox model on group indicators.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    groups : array-like, shape (n_samples,)
        Group label per patient; at least two groups.
    order : sequence, optional
        The groups, reference first; the others' hazard ratios come in this order. Default: sorted labels.
    confidence : float, default=0.95
        Level of the intervals.

    Returns
    -------
    CoxResult
        ``names`` are the non-reference group labels (as str); ``terms`` maps ``"group"`` to them. The score
        test is the log-rank test (R's ``coxph`` prints it as such).

    Raises
    ------
    ValueError
        If a label is missing or not in ``order``, or fewer than two groups are given.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 3.0, 4.0, 5.0, 8.0, 9.0], [1, 1, 0, 1, 1, 0])
    >>> fit = group_hazard_ratios(y, ["a", "b", "a", "b", "a", "b"])
    >>> fit.names, round(float(fit.hr[0]), 3)
    (('b',), 0.76)
    """
    labels = pd.Series(np.asarray(groups, dtype=object))
    if labels.isna().any():
        raise ValueError(f"'groups' has {int(labels.isna().sum())} missing label(s); give every patient a group.")
    present = pd.unique(labels)
    if order is None:
        try:
            order = sorted(present)
        except TypeError:  # mixed label types: keep first-seen order
            order = list(present)
    order = list(order)
    unknown = [g for g in present if g not in order]
    if unknown:
        raise ValueError(f"'groups' has label(s) {', '.join(repr(g) for g in unknown)} not in 'order' "
                         f"({', '.join(repr(g) for g in order)}).")
    order = [g for g in order if g in set(present)]
    if len(order) < 2:
        raise ValueError(f"'groups' must contain at least two groups to compare; got {len(order)} "
                         f"({', '.join(repr(g) for g in order)}).")
    codes = pd.Categorical(labels, categories=order).codes
    indicators = pd.DataFrame({f"__group_{k}": (codes == k).astype(float) for k in range(1, len(order))})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = cox_ph(y, indicators, confidence=confidence)
        except ConvergenceWarning:
            fragile = True
        else:
            fragile = False
    if fragile:  # fit again, letting the warning through with the groups' names
        without = [str(g) for k, g in enumerate(order) if not np.asarray(y)["event"][codes == k].any()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = cox_ph(y, indicators, confidence=confidence)
        detail = (f"group(s) {', '.join(repr(g) for g in without)} have no events" if without
                  else "the groups separate the patients with events almost perfectly")
        warnings.warn(f"The hazard ratios between groups are not estimable: {detail}, so the Cox estimate drifts "
                      "to 0 or infinity. Report the log-rank test and the Kaplan-Meier curves instead.",
                      category=ConvergenceWarning, stacklevel=2)
    names = tuple(str(g) for g in order[1:])
    return replace(fit, names=names, terms={"group": names})


def proportional_hazards_test(y: np.ndarray, X, *, fit: CoxResult | None = None,
                              transform: str = "km") -> ProportionalHazardsResult:
    """Test proportional hazards per term and globally, as R's ``cox.zph`` (survival >= 3.0).

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    X : pandas.DataFrame or array-like, shape (n_samples, n_columns)
        The covariates of the model, as given to :func:`cox_ph`.
    fit : CoxResult, optional
        The fitted model; fitted with :func:`cox_ph` when omitted.
    transform : {"km", "identity", "rank", "log"}, default="km"
        Time function ``g(t)``: ``"km"`` is ``1 - S(t-)`` with ``S`` the Kaplan-Meier curve of all patients
        (R's default), ``"identity"`` the time itself, ``"rank"`` its rank (ties averaged), ``"log"`` its log.

    Returns
    -------
    ProportionalHazardsResult
        A chi-squared test per input column (a categorical column is one term with one degree of freedom per
        indicator) and ``"GLOBAL"`` on all coefficients.

    Raises
    ------
    ValueError
        If ``fit`` was not fitted on these covariates, or as :func:`cox_ph`.

    See Also
    --------
    lifelines.CoxPHFitter.check_assumptions : lifelines' test, the older approximation (see Notes).

    Notes
    -----
    Each covariate ``x`` gets a time-varying companion ``x * (g(t) - mean of g over the event times)``. The
    statistic is the score test that the companions' coefficients are 0, at the fitted coefficients, using the
    full Efron information matrix of the augmented model (original and companion coefficients) and setting the
    score of the original coefficients to 0. This is what ``cox.zph`` does since survival 3.0. lifelines'
    ``proportional_hazard_test`` and survival < 3.0 use Grambsch and Therneau's approximation (scaled
    Schoenfeld residuals against ``g(t)``, with the information averaged over event times), which gives
    different numbers, so the computation is done here; the tests check it against R.

    References
    ----------
    .. [1] Grambsch, P. M., Therneau, T. M. "Proportional hazards tests and diagnostics based on weighted
       residuals", Biometrika 81(3), 515-526, 1994.
    .. [2] Therneau, T. M. "survival: a package for survival analysis in R", ``cox.zph`` documentation,
       version 3.

    Examples
    --------
    >>> import pandas as pd
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 3.0, 4.0, 5.0, 8.0, 9.0, 2.0, 6.0], [1, 1, 0, 1, 1, 0, 1, 1])
    >>> X = pd.DataFrame({"arm": ["a", "b", "a", "b", "a", "b", "b", "a"]})
    >>> list(proportional_hazards_test(y, X).tests)
    ['arm', 'GLOBAL']
    """
    check_param("proportional_hazards_test", "transform", transform, kind="option", options=ZPH_TRANSFORMS)
    y = check_survival_y(y)
    design, terms = _design(X, n=y.shape[0])
    if fit is None:
        fit = cox_ph(y, X)
    elif tuple(design.columns) != tuple(fit.names):
        raise ValueError(
            f"'fit' has coefficients {list(fit.names)} but 'X' gives {list(design.columns)}; pass the covariates "
            "the model was fitted on."
        )
    time, event = y["time"], y["event"]
    if transform == "km":
        km = kaplan_meier(y)
        before = np.searchsorted(km.time, time, side="left")  # number of curve times < t
        g = 1.0 - np.concatenate([[1.0], km.surv])[before]  # 1 - S(t-)
    elif transform == "identity":
        g = time.copy()
    elif transform == "rank":
        g = pd.Series(time).rank(method="average").to_numpy(float)
    else:
        g = np.log(time)
    g = g - g[event].mean()
    x = design.to_numpy(float)
    p = x.shape[1]
    u_rows, i_rows, row_time = _efron_rows(x, time, event, fit.coef)
    g_row = _at_time(time, g, row_time)
    u = np.concatenate([np.zeros(p), (g_row[:, None] * u_rows).sum(axis=0)])
    i11 = i_rows.sum(axis=0)
    i12 = (g_row[:, None, None] * i_rows).sum(axis=0)
    i22 = (g_row[:, None, None] ** 2 * i_rows).sum(axis=0)
    info = np.block([[i11, i12], [i12.T, i22]])
    tests = {}
    column = {name: j for j, name in enumerate(design.columns)}
    for term, names in terms.items():
        kk = list(range(p)) + [p + column[name] for name in names]
        sub_u = u[kk]
        tests[term] = ChiSquareTest.of(float(sub_u @ np.linalg.solve(info[np.ix_(kk, kk)], sub_u)), len(names))
    tests["GLOBAL"] = ChiSquareTest.of(float(u @ np.linalg.solve(info, u)), p)
    return ProportionalHazardsResult(transform=transform, tests=tests)


def _first_sentence(message: str, names: tuple) -> str:
    """First sentence of a lifelines warning, with its internal column names (x0, x1, ...) replaced by ours."""
    text = " ".join(message.split())
    end = text.find(". ")
    text = text if end < 0 else text[: end + 1]
    return re.sub(r"\bx(\d+)\b", lambda m: repr(names[int(m.group(1))]) if int(m.group(1)) < len(names)
                  else m.group(0), text)


def _at_time(time: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``values`` (a function of time, one per patient) looked up at the times ``at``."""
    order = np.argsort(time, kind="stable")
    return values[order][np.searchsorted(time[order], at)]


def _design(X, *, n: int) -> tuple[pd.DataFrame, dict]:
    """Numeric design matrix with R-style indicator columns, and the term -> columns map."""
    if not isinstance(X, pd.DataFrame):
        arr = np.asarray(X)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"'X' must be 2-dimensional (patients x covariates); got shape {arr.shape}.")
        X = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    check_consistent_length(y=np.empty(n), X=X)
    if X.shape[1] == 0:
        raise ValueError("'X' has no columns; give at least one covariate.")
    missing = X.isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        listed = ", ".join(f"'{c}' ({k})" for c, k in missing.items())
        raise ValueError(f"'X' has missing values in column(s) {listed}. Drop those patients or impute first.")
    parts, terms = [], {}
    for col in X.columns:
        values = X[col]
        name = str(col)
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values) \
                and not isinstance(values.dtype, pd.CategoricalDtype):
            parts.append(pd.Series(values.to_numpy(float), name=name))
            terms[name] = (name,)
            continue
        cat = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
        levels = [lev for lev in cat.cat.categories if (cat == lev).any()]
        if len(levels) < 2:
            raise ValueError(f"Column '{name}' of 'X' has a single level ({levels[0]!r}); it cannot enter a Cox "
                             "model. Drop it.")
        dummies = [pd.Series((cat == lev).to_numpy(float), name=f"{name}{lev}") for lev in levels[1:]]
        parts.extend(dummies)
        terms[name] = tuple(d.name for d in dummies)
    design = pd.concat(parts, axis=1)
    constant = [c for c in design.columns if np.ptp(design[c].to_numpy()) == 0]
    if constant:
        raise ValueError(f"Column(s) {', '.join(repr(c) for c in constant)} of 'X' are constant; a constant "
                         "covariate has no hazard ratio. Drop them.")
    return design, terms


def _efron(x: np.ndarray, time: np.ndarray, event: np.ndarray, beta: ArrayLike):
    """Efron partial log-likelihood, score vector and information matrix at ``beta``."""
    beta = np.asarray(beta, dtype=float)
    u_rows, i_rows, _, loglik = _efron_rows(x, time, event, beta, with_loglik=True)
    return loglik, u_rows.sum(axis=0), i_rows.sum(axis=0)


def _efron_rows(x: np.ndarray, time: np.ndarray, event: np.ndarray, beta: np.ndarray, *, with_loglik=False):
    """Efron score and information contributions, one row per event (its share of its tied set).

    Hand-written because lifelines exposes neither the score test nor the per-event-time terms R's
    ``cox.zph`` needs. With ``m`` tied events at ``t``, the ``k``-th (k = 0..m-1) removes ``k/m`` of the tied
    patients' weight from the risk set. Covariates are centred first (as R does) so the information's
    differences of sums lose no precision. Returns ``(u_rows, i_rows, row_time[, loglik])``.
    """
    xc = x - x.mean(axis=0)
    eta = xc @ beta
    eta = eta - eta.max()
    risk = np.exp(eta)
    unique, inv = np.unique(time, return_inverse=True)
    n_times, p = unique.size, x.shape[1]
    # Per distinct time: sums over everyone with that time, and over the events only.
    r_all = np.bincount(inv, weights=risk, minlength=n_times)
    a_all = np.zeros((n_times, p))
    c_all = np.zeros((n_times, p, p))
    np.add.at(a_all, inv, risk[:, None] * xc)
    np.add.at(c_all, inv, risk[:, None, None] * xc[:, :, None] * xc[:, None, :])
    ev = event.astype(bool)
    m = np.bincount(inv[ev], minlength=n_times)
    r_dead = np.bincount(inv[ev], weights=risk[ev], minlength=n_times)
    a_dead = np.zeros((n_times, p))
    c_dead = np.zeros((n_times, p, p))
    x_dead = np.zeros((n_times, p))
    np.add.at(a_dead, inv[ev], risk[ev, None] * xc[ev])
    np.add.at(c_dead, inv[ev], risk[ev, None, None] * xc[ev, :, None] * xc[ev, None, :])
    np.add.at(x_dead, inv[ev], xc[ev])
    # Risk sets: everyone with time >= t.
    r_risk = np.cumsum(r_all[::-1])[::-1]
    a_risk = np.cumsum(a_all[::-1], axis=0)[::-1]
    c_risk = np.cumsum(c_all[::-1], axis=0)[::-1]
    # One row per event: its time index j and its Efron fraction k/m.
    j = np.repeat(np.arange(n_times), m)
    k = np.concatenate([np.arange(mm) for mm in m[m > 0]]) if ev.any() else np.zeros(0, int)
    frac = k / m[j]
    denom = r_risk[j] - frac * r_dead[j]
    a = a_risk[j] - frac[:, None] * a_dead[j]
    c = c_risk[j] - frac[:, None, None] * c_dead[j]
    mean = a / denom[:, None]
    u_rows = x_dead[j] / m[j][:, None] - mean
    i_rows = c / denom[:, None, None] - mean[:, :, None] * mean[:, None, :]
    if not with_loglik:
        return u_rows, i_rows, unique[j]
    loglik = float(eta[ev].sum() - np.log(denom).sum())
    return u_rows, i_rows, unique[j], loglik
