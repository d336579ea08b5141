"""Internal validation that refits the whole pipeline in every resample: bootstrap optimism and (repeated) CV.

A study pipeline (imputation, scaling, feature selection, penalty choice, score, fusion) is passed as one
estimator; :func:`validate` clones it and fits it afresh on every bootstrap sample or training fold, so no step
ever sees the patients it is tested on. :func:`validate_external` fits once on the development cohort and
tests on an external one; :func:`nested_cv` tunes hyper-parameters in an inner loop inside each outer fold.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, RepeatedStratifiedKFold, StratifiedKFold
from sklearn.utils import check_random_state
from sksurv.exceptions import NoComparablePairException
from sksurv.metrics import concordance_index_censored
from tqdm.auto import tqdm

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.evaluation.concordance import CIndexResult, concordance
from multisurv.exceptions import MultisurvWarning

__all__ = ["ValidationResult", "validate", "validate_external", "nested_cv", "harrell_c", "bootstrap_indices"]

_OWNER = "validate"
#: Default number of bootstrap resamples (rms::validate's B is 40 by default; Harrell recommends 200 or
#: more; 1000 keeps the Monte-Carlo error of the corrected C well under 0.005 for typical cohorts).
DEFAULT_B = 1000


@dataclass(frozen=True, eq=False)
class ValidationResult:
    """Internal-validation estimate of a pipeline's Harrell's C.

    Parameters
    ----------
    method : str
        ``"bootstrap"``, ``"cv"``, ``"repeated_cv"`` or ``"external"``.
    apparent : float
        C of the pipeline fitted on all rows and tested on the same rows (optimistic).
    optimism : float
        Bootstrap: mean over resamples of ``C(boot model on boot sample) - C(boot model on original)``;
        CV: ``apparent - corrected``.
    corrected : float
        The estimate to report. Bootstrap: ``apparent - optimism`` (Harrell's optimism-corrected C).
        CV: mean of the held-out-fold C over all folds (and repeats).
    sd : float
        Bootstrap: standard deviation of the per-resample optimism. Repeated CV: standard deviation of
        the per-repeat mean C (the Monte-Carlo spread of the split, not the sampling error). CV: of the folds.
    n_resamples : int
        Resamples (bootstrap samples or folds) that were fitted and scored.
    n_failed : int
        Resamples whose fit or score failed (listed with their error in ``resamples``).
    n, n_events : int
        Patients and events in the data.
    resamples : pandas.DataFrame
        One row per resample: ``repeat``, ``fold`` (CV), ``n_train``, ``n_test``, ``c_train`` (model on its
        own training rows), ``c_test`` (bootstrap: on the original rows; CV: on the held-out fold),
        ``optimism`` (bootstrap), ``n_warnings`` and ``error``.

    Examples
    --------
    Returned by :func:`validate` and :func:`nested_cv`:

    >>> from multisurv._validation import make_y
    >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    >>> y = make_y(rng.exponential(np.exp(-X["a"])), np.ones(60, bool))
    >>> res = validate(CoxPHSurvivalAnalysis(), X, y, n_resamples=5, random_state=0)
    >>> res.method, res.n_resamples, res.n_failed, res.n
    ('bootstrap', 5, 0, 60)
    >>> round(res.apparent, 3), round(res.corrected, 3)
    (0.745, 0.739)
    """

    method: str
    apparent: float
    optimism: float
    corrected: float
    sd: float
    n_resamples: int
    n_failed: int
    n: int
    n_events: int
    resamples: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        """The scalar fields as a plain dict (without the per-resample table).

        Returns
        -------
        dict
            Every field but ``resamples``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
        >>> y = make_y(rng.exponential(np.exp(-X["a"])), np.ones(60, bool))
        >>> res = validate(CoxPHSurvivalAnalysis(), X, y, n_resamples=5, random_state=0)
        >>> sorted(res.to_dict())
        ['apparent', 'corrected', 'method', 'n', 'n_events', 'n_failed', 'n_resamples', 'optimism', 'sd']
        """
        out = asdict(self)
        out.pop("resamples")
        return out

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of the scalar fields.

        Returns
        -------
        pandas.DataFrame
            One row, one column per key of :meth:`to_dict`.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
        >>> y = make_y(rng.exponential(np.exp(-X["a"])), np.ones(60, bool))
        >>> res = validate(CoxPHSurvivalAnalysis(), X, y, n_resamples=5, random_state=0)
        >>> list(res.to_frame().columns)
        ['method', 'apparent', 'optimism', 'corrected', 'sd', 'n_resamples', 'n_failed', 'n', 'n_events']
        """
        return pd.DataFrame([self.to_dict()])


def harrell_c(y: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C of ``risk`` (higher = worse) on the rows where it is finite; NaN without a comparable pair.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    risk : numpy.ndarray, shape (n_samples,)
        Risk scores; NaN or infinite rows are left out.

    Returns
    -------
    float
        The concordance index, or NaN when fewer than two rows are scored or none has an event.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> harrell_c(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]), np.array([4.0, 3.0, 3.0, 1.0]))
    0.9
    """
    risk = np.asarray(risk, dtype=float)
    keep = np.isfinite(risk)
    if keep.sum() < 2 or not y["event"][keep].any():
        return float("nan")
    try:
        return float(concordance_index_censored(y["event"][keep], y["time"][keep], risk[keep], tied_tol=1e-8)[0])
    except NoComparablePairException:
        return float("nan")


def bootstrap_indices(n: int, n_resamples: int, random_state=None) -> list[np.ndarray]:
    """Row positions of ``n_resamples`` bootstrap samples of ``n`` rows (drawn with replacement).

    Parameters
    ----------
    n : int
        Rows in the data.
    n_resamples : int
        Bootstrap samples to draw.
    random_state : int, numpy.random.RandomState or None, optional
        Seed, as scikit-learn's ``check_random_state`` takes it.

    Returns
    -------
    list of numpy.ndarray
        ``n_resamples`` integer arrays of length ``n``.

    Examples
    --------
    >>> [len(i) for i in bootstrap_indices(5, 2, random_state=0)]
    [5, 5]
    """
    rng = check_random_state(random_state)
    return [rng.randint(0, n, size=n) for _ in range(n_resamples)]


def _take(X, rows: np.ndarray):
    return X.iloc[rows] if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)[rows]


def _default_scorer(model, X, y) -> float:
    return harrell_c(y, model.predict(X))


def _fit_and_score(estimator, X, y, train, tests: Sequence[np.ndarray], scorer, notes: dict[str, int]):
    """Fit a clone on ``train`` rows; score it on its training rows and on each array of ``tests`` rows."""
    model = clone(estimator)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(_take(X, train), y[train])
        scores = [scorer(model, _take(X, train), y[train])] + [scorer(model, _take(X, t), y[t]) for t in tests]
    n_warn = 0
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue
        n_warn += 1
        key = f"{w.category.__name__}: {w.message}"
        notes[key] = notes.get(key, 0) + 1
    return scores, n_warn


def validate(
    estimator,
    X: pd.DataFrame | np.ndarray,
    y: np.ndarray,
    *,
    method: Literal["bootstrap", "cv", "repeated_cv"] = "bootstrap",
    n_resamples: int = DEFAULT_B,
    n_splits: int = 5,
    n_repeats: int = 10,
    resamples: Sequence[Any] | None = None,
    scorer: Callable[[Any, Any, np.ndarray], float] | None = None,
    random_state=None,
    progress: bool = False,
) -> ValidationResult:
    """Validate a whole pipeline by refitting it in every resample.

    Parameters
    ----------
    estimator : estimator
        Anything with ``fit(X, y)`` and ``predict(X) -> risk`` (higher = worse): a
        :class:`~multisurv.scores.modality_score.ModalityScore`, a fusion model, a scikit-learn ``Pipeline``.
        It is cloned for every resample, so every fitted step (selection included) is refitted.
    X : DataFrame or array, shape (n_samples, n_features)
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float).
    method : {"bootstrap", "cv", "repeated_cv"}, default="bootstrap"
        ``"bootstrap"``: Harrell's optimism correction. ``"cv"``: stratified K-fold (stratified on the event
        indicator), once. ``"repeated_cv"``: ``n_repeats`` times with different shuffles.
    n_resamples : int, default=1000
        Bootstrap samples (``method="bootstrap"``).
    n_splits : int, default=5
        Folds (CV methods).
    n_repeats : int, default=10
        Repeats (``method="repeated_cv"``).
    resamples : sequence, optional
        Your own resamples instead of random ones: for the bootstrap, arrays of row positions (each a
        bootstrap sample); for CV, ``(train, test)`` pairs of row positions. Used, for example, to feed the
        same bootstrap samples to ``rms::validate`` and to this function.
    scorer : callable, optional
        ``scorer(fitted_model, X, y) -> float``; default Harrell's C of ``predict(X)`` on the rows where the
        risk is finite (a patient without the modality a single-modality score needs is left out).
    random_state : int, RandomState instance or None, default=None
        Seeds the resamples (the estimator keeps its own ``random_state``).
    progress : bool, default=False
        Show a progress bar.

    Returns
    -------
    ValidationResult

    Raises
    ------
    ValueError
        For a bad parameter, or when every resample failed (the first error is quoted).

    Warns
    -----
    MultisurvWarning
        Once per distinct warning raised inside the resamples (with how many resamples raised it), and when
        some resamples failed.

    See Also
    --------
    validate_external : fit on development, test on an external cohort.
    nested_cv : hyper-parameters tuned inside each outer fold.

    Notes
    -----
    Bootstrap (Harrell's ``rms::validate``): the apparent C is the pipeline fitted and tested on all rows;
    for each bootstrap sample b the pipeline is fitted on it and scored on it (``C_b,boot``) and on the
    original rows (``C_b,orig``); ``optimism = mean_b(C_b,boot - C_b,orig)`` and the corrected C is
    ``apparent - optimism``. Cross-validation: the C of each held-out fold, averaged over folds and repeats.
    Folds are stratified on the event indicator so each holds a share of the events. Each resample's
    pipeline is a fresh clone fitted on that resample's training rows only, which is what keeps selection
    from leaking (see ``tests/evaluation/test_resampling.py`` for the leakage test).

    References
    ----------
    .. [1] Harrell, F. E., Lee, K. L., Mark, D. B. "Multivariable prognostic models: issues in developing
       models, evaluating assumptions and adequacy, and measuring and reducing errors", Statistics in
       Medicine 15(4), 361-387, 1996.
    .. [2] Efron, B., Tibshirani, R. "An Introduction to the Bootstrap", Chapman & Hall, 1993, ch. 17.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from multisurv._validation import make_y
    >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    >>> y = make_y(rng.exponential(np.exp(-X["a"])), np.ones(100, bool))
    >>> res = validate(CoxPHSurvivalAnalysis(), X, y, n_resamples=20, random_state=0)
    >>> bool(res.corrected < res.apparent)
    True
    """
    check_param(_OWNER, "method", method, kind="option", options=("bootstrap", "cv", "repeated_cv"))
    check_param(_OWNER, "n_resamples", n_resamples, kind="int", low=1)
    check_param(_OWNER, "n_splits", n_splits, kind="int", low=2)
    check_param(_OWNER, "n_repeats", n_repeats, kind="int", low=1)
    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
        raise ValueError(f"The 'estimator' parameter of {_OWNER} must have 'fit' and 'predict'. "
                         f"Got {estimator!r} instead.")
    y = check_survival_y(y, where=f"{_OWNER}()")
    n = check_consistent_length(X=X, y=y)
    scorer = _default_scorer if scorer is None else scorer
    notes: dict[str, int] = {}

    if method == "bootstrap":
        samples = bootstrap_indices(n, n_resamples, random_state) if resamples is None else \
            [np.asarray(r, dtype=int) for r in resamples]
        splits = [(s, None) for s in samples]
    else:
        if resamples is not None:
            splits = [(np.asarray(tr, dtype=int), np.asarray(te, dtype=int)) for tr, te in resamples]
        else:
            repeats = n_repeats if method == "repeated_cv" else 1
            splits = list(_stratified_splits(y, n_splits, repeats, random_state))

    everything = np.arange(n)
    (apparent,), _ = _fit_and_score(estimator, X, y, everything, [], scorer, notes)
    rows = []
    for b, (train, test) in enumerate(tqdm(splits, desc=f"validate ({method})", disable=not progress,
                                           unit="resample")):
        row: dict[str, Any] = {"repeat": b if method == "bootstrap" else b // n_splits,
                               "fold": np.nan if method == "bootstrap" else b % n_splits,
                               "n_train": int(train.size), "n_test": int(n if test is None else test.size),
                               "c_train": np.nan, "c_test": np.nan, "n_warnings": 0, "error": ""}
        try:
            (c_train, c_test), n_warn = _fit_and_score(estimator, X, y, train,
                                                       [everything if test is None else test], scorer, notes)
            row.update(c_train=c_train, c_test=c_test, n_warnings=n_warn)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:  # a degenerate resample
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
    table = pd.DataFrame(rows)
    if method == "bootstrap":
        table["optimism"] = table["c_train"] - table["c_test"]
    ok = table["c_test"].notna() & table["c_train"].notna()
    n_failed = int((~ok).sum())
    if not ok.any():
        first = next((e for e in table["error"] if e), "no resample had a comparable pair of patients")
        raise ValueError(f"{_OWNER}: every one of the {len(table)} resamples failed; the first: {first}")

    for message, count in notes.items():
        warnings.warn(f"{_OWNER}: raised {count} time(s) across the fits: {message}", category=MultisurvWarning,
                      stacklevel=2)
    if n_failed:
        warnings.warn(f"{_OWNER}: {n_failed} of {len(table)} resamples failed or could not be scored and were "
                      f"left out (see the 'error' column of the result's resamples table).",
                      category=MultisurvWarning, stacklevel=2)

    good = table[ok]
    if method == "bootstrap":
        optimism = float(good["optimism"].mean())
        corrected = apparent - optimism
        sd = float(good["optimism"].std(ddof=1)) if len(good) > 1 else float("nan")
    else:
        corrected = float(good["c_test"].mean())
        optimism = apparent - corrected
        if method == "repeated_cv":
            per_repeat = good.groupby("repeat")["c_test"].mean()
            sd = float(per_repeat.std(ddof=1)) if len(per_repeat) > 1 else float("nan")
        else:
            sd = float(good["c_test"].std(ddof=1)) if len(good) > 1 else float("nan")
    return ValidationResult(method=method, apparent=float(apparent), optimism=float(optimism),
                            corrected=float(corrected), sd=sd, n_resamples=int(ok.sum()), n_failed=n_failed, n=n,
                            n_events=int(y["event"].sum()), resamples=table)


def _stratified_splits(y: np.ndarray, n_splits: int, n_repeats: int, random_state):
    n_events = int(y["event"].sum())
    n_censored = y.shape[0] - n_events
    if n_events < n_splits:
        raise ValueError(f"{_OWNER} cannot run {n_splits} folds with only {n_events} event(s); each fold needs an "
                         "event. Lower 'n_splits'.")
    if 0 < n_censored < n_splits:  # too few censored patients to spread over the folds: plain K-fold
        rng = check_random_state(random_state)
        for _ in range(n_repeats):
            seed = rng.randint(np.iinfo(np.int32).max)
            yield from KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(y)
        return
    cv = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=random_state)
    yield from cv.split(np.zeros((y.shape[0], 1)), y["event"])


def validate_external(estimator, X_dev, y_dev: np.ndarray, X_ext, y_ext: np.ndarray, *, n_bootstrap: int = 1000,
                      random_state=None) -> tuple[Any, CIndexResult]:
    """Fit on the development cohort and measure Harrell's C on an external cohort.

    Parameters
    ----------
    estimator : estimator
        Cloned, then fitted on ``(X_dev, y_dev)`` only.
    X_dev, y_dev : development features and outcome.
    X_ext, y_ext : external features and outcome; touched only to be scored.
    n_bootstrap : int, default=1000
        Bootstrap resamples of the external patients for the C-index interval (the model is fixed).
    random_state : int, RandomState instance or None

    Returns
    -------
    model : the fitted clone
    result : CIndexResult
        C on the external patients the model scores (rows with a NaN risk are left out; ``result.n`` says
        how many were scored).

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(150, 2)); y = make_y(rng.exponential(np.exp(-X[:, 0])), np.ones(150, bool))
    >>> _, res = validate_external(CoxPHSurvivalAnalysis(), X[:100], y[:100], X[100:], y[100:], n_bootstrap=0)
    >>> bool(res.cindex > 0.6)
    True
    """
    y_dev = check_survival_y(y_dev, name="y_dev", where="the development cohort")
    y_ext = check_survival_y(y_ext, name="y_ext", where="the external cohort")
    check_consistent_length(X_dev=X_dev, y_dev=y_dev)
    check_consistent_length(X_ext=X_ext, y_ext=y_ext)
    model = clone(estimator).fit(X_dev, y_dev)
    risk = np.asarray(model.predict(X_ext), dtype=float)
    keep = np.isfinite(risk)
    if not keep.any():
        raise ValueError("validate_external: the model scored none of the external patients (every risk is NaN); "
                         "they lack the modality the model needs.")
    return model, concordance(y_ext[keep], risk[keep], n_bootstrap=n_bootstrap, random_state=random_state)


class _CIndexScorer:
    """GridSearchCV scorer: Harrell's C of ``predict`` (picklable, unlike a lambda)."""

    def __call__(self, model, X, y) -> float:
        c = harrell_c(np.asarray(y), model.predict(X))
        return 0.5 if np.isnan(c) else c


def nested_cv(estimator, param_grid: Mapping[str, Sequence] | Sequence[Mapping[str, Sequence]], X, y, *,
              inner_cv: int = 3, n_splits: int = 5, n_repeats: int = 1, random_state=None,
              progress: bool = False) -> ValidationResult:
    """Nested cross-validation: hyper-parameters chosen by an inner CV inside each outer training fold.

    Parameters
    ----------
    estimator : estimator
        The pipeline to tune (``fit`` / ``predict`` returning risk).
    param_grid : dict or list of dicts
        As for :class:`sklearn.model_selection.GridSearchCV` (use ``step__param`` names for a Pipeline).
    X, y : features and structured outcome.
    inner_cv : int, default=3
        Inner folds (shuffled K-fold, seeded) on each outer training set; scored by Harrell's C.
    n_splits, n_repeats : int
        Outer folds and repeats (stratified on the event indicator).
    random_state : int, RandomState instance or None
    progress : bool

    Returns
    -------
    ValidationResult
        ``corrected`` is the outer-fold C of the tuned pipeline: tuning is part of what is validated.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(90, 2)); y = make_y(rng.exponential(np.exp(-X[:, 0])), np.ones(90, bool))
    >>> res = nested_cv(CoxPHSurvivalAnalysis(), {"alpha": [0.1, 10.0]}, X, y, n_splits=3, random_state=0)
    >>> res.n_resamples
    3
    """
    check_param("nested_cv", "inner_cv", inner_cv, kind="int", low=2)
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    search = GridSearchCV(estimator, param_grid, scoring=_CIndexScorer(),
                          cv=KFold(n_splits=inner_cv, shuffle=True, random_state=seed), error_score="raise")
    return validate(search, X, y, method="repeated_cv" if n_repeats > 1 else "cv", n_splits=n_splits,
                    n_repeats=n_repeats, random_state=random_state, progress=progress)
