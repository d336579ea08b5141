"""A study with a binary endpoint: the clinical-prediction-model workflow behind ``endpoint: {type: binary}``.

The same modalities and features as the survival study feed, for the outcome "event by t" (survival data turned
into 0/1, patients censored before t handled as the config says) or a 0/1 manifest column:

- one LASSO-logistic model per modality (:class:`~multisurv.scores.logistic_score.LogisticModalityScore`);
- late fusion, a logistic model on the out-of-fold per-modality log-odds
  (:class:`~multisurv.fusion.logistic_late.LateFusionLogistic`);
- early fusion, one penalised logistic model on the features the modalities' LASSOs selected
  (:class:`~multisurv.fusion.logistic_early.EarlyFusionLogistic`);
- machine-learning comparators tuned by inner CV (:mod:`multisurv.evaluation.comparators`), explained by SHAP.

Everything is fitted on the development patients whose outcome is known; every other patient is only scored.
Evaluation (AUC with DeLong intervals, paired DeLong tests, calibration slope / intercept / Brier /
Hosmer-Lemeshow, decision curves) covers the development cohort (apparent, and optimism-corrected by the
whole-pipeline bootstrap of :func:`~multisurv.evaluation.binary_validation.validate_binary`, every step refitted),
each external cohort and the pooled externals. The results are objects (:class:`BinaryStudyResult`); the report
(:mod:`multisurv.report.binary`) only draws them.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from multisurv.registry import MODALITY_KINDS, Modality, model_labels

__all__ = ["BinaryStudyResult", "BinaryEndpoint", "binary_endpoint", "build_binary_models", "check_endpoint",
           "evaluate_binary", "fit_and_evaluate_binary", "with_outcome_column", "without_outcome_column",
           "COMPARATOR_PREFIX"]

logger = logging.getLogger(__name__)

#: The censored-before-horizon policies a study supports (``binary_outcome``'s "ipcw" needs weighted fits that the
#: study's models do not take yet).
STUDY_HANDLINGS = ("exclude", "refuse")
#: Fusion strategies with a binary twin.
BINARY_STRATEGIES = ("early", "late")
#: Comparator model names in metrics.csv are ``ml_<name>`` (``ml_random_forest``).
COMPARATOR_PREFIX = "ml_"
_CLIP = 1e-12


# ------------------------------------------------------------------------------------------------ config
def check_endpoint(checker, raw: dict, study: Mapping):
    """Check the ``endpoint`` section (``checker`` collects the problems); return its EndpointConfig.

    Every problem is added to ``checker`` (nothing is raised here); a bad value falls back to its default so that
    the check goes on. A binary endpoint also checks what it asks of the other sections (fusion strategies
    "early" / "late" only, no harmonisation, internal validation "none" or "bootstrap", mean pooling).

    Parameters
    ----------
    checker : multisurv.study.config._Checker
        Collects the problems of the whole config (``add``, ``option``, ``number``... helpers).
    raw : dict
        The ``endpoint`` section as read from YAML.
    study : mapping
        The whole raw config (its ``fusion``, ``harmonisation``, ``validation`` and ``modalities`` sections).

    Returns
    -------
    EndpointConfig
        The checked section (defaults where a value was missing or wrong).

    Examples
    --------
    >>> from pathlib import Path
    >>> from multisurv.study.config import _Checker
    >>> checker = _Checker(Path("."))
    >>> cfg = check_endpoint(checker, {"type": "binary", "horizon": 24, "comparators": ["svm"]}, {})
    >>> cfg.type, cfg.horizon, cfg.comparators, checker.problems
    ('binary', 24.0, ('svm',), [])
    >>> _ = check_endpoint(checker, {"type": "binary", "horizon": 24, "column": "response"}, {})
    >>> print(checker.problems[0][:70])
    key 'endpoint': must be given exactly one of 'horizon' (event by t, fr
    """
    from multisurv.evaluation.comparators import COMPARATORS
    from multisurv.study.config import ENDPOINT_TYPES, EndpointConfig

    kind = checker.option(raw, "type", "endpoint.type", "survival", ENDPOINT_TYPES)
    if kind == "survival":
        for key in ("horizon", "column"):
            if raw.get(key) is not None:
                checker.add(f"endpoint.{key}", "absent (or null) with 'type: survival'", raw[key],
                            "Add 'type: binary' to model the binary endpoint, or remove the key.")
        return EndpointConfig()
    horizon, column = raw.get("horizon"), raw.get("column")
    if (horizon is None) == (column is None):
        checker.add("endpoint", "given exactly one of 'horizon' (event by t, from time and event) and 'column' (a 0/1 "
                    "manifest column) with 'type: binary'", {"horizon": horizon, "column": column},
                    "Write e.g. 'horizon: 24' or 'column: response'.")
        horizon = column = None
    if horizon is not None:
        horizon = checker.number(raw, "horizon", "endpoint.horizon", 24.0, 0.0, low_open=True)
    if column is not None:
        column = checker.text(raw, "column", "endpoint.column", None)
        if column in ("patient_id", "cohort", "time", "event"):
            checker.add("endpoint.column", "a manifest column other than the core ones", column,
                        "Name the 0/1 outcome column (for 'event by t' give 'horizon' instead).")
    handling = raw.get("censored_before", "exclude")
    if handling not in STUDY_HANDLINGS:
        checker.add("endpoint.censored_before", "one of " + ", ".join(repr(h) for h in STUDY_HANDLINGS), handling,
                    "Use 'exclude' (complete-case, the count is reported) or 'refuse' (stop when a patient is censored "
                    "before the horizon); inverse-probability weighting is not available in studies yet.")
        handling = "exclude"
    comparators = checker.options(raw, "comparators", "endpoint.comparators", tuple(COMPARATORS), tuple(COMPARATORS)) \
        if raw.get("comparators") not in ([], ()) else ()
    unit = raw.get("unit", "months")
    if not isinstance(unit, str):
        checker.add("endpoint.unit", "a text (the time unit of the horizon)", unit, "Write e.g. 'months'.")
        unit = "months"
    config = EndpointConfig(
        type=kind, horizon=horizon, column=column, censored_before=handling, unit=unit, comparators=comparators,
        comparator_features=checker.option(raw, "comparator_features", "endpoint.comparator_features", "selected",
                                           ("selected", "all")),
        validate_comparators=checker.flag(raw, "validate_comparators", "endpoint.validate_comparators", True),
        shap=checker.flag(raw, "shap", "endpoint.shap", True),
        inner_cv=checker.integer(raw, "inner_cv", "endpoint.inner_cv", 5, 2))
    _check_binary_study(checker, study)
    return config


def _check_binary_study(checker, study: Mapping) -> None:
    """What a binary endpoint asks of the other sections."""
    def section(name):
        value = study.get(name)
        return value if isinstance(value, Mapping) else {}

    strategies = section("fusion").get("strategies", ["early", "late"])
    strategies = [strategies] if isinstance(strategies, str) else strategies
    if isinstance(strategies, (list, tuple)):
        other = [s for s in strategies if s not in BINARY_STRATEGIES]
        if other:
            checker.add("fusion.strategies", "a list of " + " and ".join(repr(s) for s in BINARY_STRATEGIES)
                        + " with a binary endpoint", list(strategies),
                        f"Remove {', '.join(repr(s) for s in other)} (no binary version yet).")
    if section("harmonisation").get("method", "none") != "none":
        checker.add("harmonisation.method", "'none' with a binary endpoint", section("harmonisation").get("method"),
                    "Remove the harmonisation section (ComBat is not wired into the binary study yet).")
    if section("validation").get("internal", "none") not in ("none", "bootstrap"):
        checker.add("validation.internal", "'none' or 'bootstrap' with a binary endpoint (the whole-pipeline bootstrap "
                    "of validation.n_bootstrap resamples always runs)", section("validation").get("internal"),
                    "Remove the key; set validation.n_bootstrap for the number of resamples.")
    for name, entry in (study.get("modalities") or {}).items() if isinstance(study.get("modalities"), Mapping) \
            else ():
        if isinstance(entry, Mapping) and entry.get("pooling", "mean") != "mean":
            checker.add(f"modalities.{name}.pooling", "'mean' with a binary endpoint", entry.get("pooling"),
                        "Remove it (attention-MIL pooling has no binary version yet).")


def with_outcome_column(spec: Mapping, endpoint) -> dict:
    """The clinical spec with the endpoint's 0/1 column added, so that the manifest check reads and checks it.

    Parameters
    ----------
    spec : mapping
        Clinical spec, variable name -> its entry (``multisurv.cohort.synthetic_clinical`` layout).
    endpoint : EndpointConfig
        The study's endpoint; only ``endpoint.column`` is read.

    Returns
    -------
    dict
        A copy of ``spec``; with a ``column`` endpoint, one more entry: a required integer in [0, 1]. Unchanged
        (a copy) for a ``horizon`` endpoint.

    Raises
    ------
    ValueError
        When the column is a clinical variable of the spec (it would be a predictor of itself).

    Examples
    --------
    >>> from multisurv.study.config import EndpointConfig
    >>> spec = with_outcome_column({"age": {"name": "age"}}, EndpointConfig(type="binary", column="response"))
    >>> list(spec), spec["response"]["minimum"], spec["response"]["maximum"]
    (['age', 'response'], 0, 1)
    """
    spec = dict(spec)
    column = endpoint.column
    if column is None:
        return spec
    if column in spec:
        raise ValueError(f"endpoint.column {column!r} is a clinical variable of the clinical spec, so the clinical "
                         "model would use the outcome as a predictor. Remove it from the clinical spec (the endpoint "
                         "column needs no entry there).")
    spec[column] = {"name": column, "type": "integer", "unit": None, "minimum": 0, "exclusive_minimum": None,
                    "maximum": 1, "exclusive_maximum": None, "categories": None, "required": True,
                    "description": "Binary endpoint of the study (1 = event), not a predictor."}
    return spec


def without_outcome_column(cohort, endpoint):
    """The cohort with the endpoint column kept in its table but taken out of its clinical variables.

    Parameters
    ----------
    cohort : Cohort
        The study cohort.
    endpoint : EndpointConfig
        The study's endpoint; only ``endpoint.column`` is read.

    Returns
    -------
    Cohort
        A new cohort without the column among ``clinical_columns`` and ``clinical_spec``, or ``cohort`` itself when
        the endpoint has no column or the column is not a clinical variable.

    Examples
    --------
    >>> from multisurv.cohort.cohort import Cohort
    >>> from multisurv.study.config import EndpointConfig
    >>> t = pd.DataFrame({"patient_id": ["a", "b"], "cohort": ["development"] * 2, "time": [5.0, 30.0],
    ...                   "event": [True, False], "response": [1, 0], "age": [60, 70]}).set_index("patient_id")
    >>> cohort = Cohort(t, clinical_columns=("age", "response"))
    >>> without_outcome_column(cohort, EndpointConfig(type="binary", column="response")).clinical_columns
    ('age',)
    """
    from multisurv.cohort.cohort import Cohort

    column = endpoint.column
    if column is None or column not in cohort.clinical_columns:
        return cohort
    spec = {k: v for k, v in cohort.clinical_spec.items() if k != column}
    return Cohort(cohort.table, tuple(c for c in cohort.clinical_columns if c != column), spec, cohort.source,
                  cohort.path_columns)


# ------------------------------------------------------------------------------------------------ models
def build_binary_models(config) -> dict:
    """Unfitted models of a binary-endpoint study, by name: each modality's logistic model, the fusions, then the
    comparators (``ml_<name>``).

    Parameters
    ----------
    config : StudyConfig
        A study config with ``endpoint.type: binary``; its ``selection`` (LASSO settings), ``fusion`` (strategies,
        penalizer, folds), ``modalities``, ``seed`` and ``endpoint`` (comparators, their features and inner CV) are
        read.

    Returns
    -------
    dict
        Name -> unfitted model: ``LogisticModalityScore`` per modality, ``early_fusion``
        (``EarlyFusionLogistic``) and ``late_fusion`` (``LateFusionLogistic``) as the strategies ask, and
        ``ml_<name>`` per comparator (tuned by inner CV, behind the LASSO selection unless
        ``comparator_features: all``).

    Examples
    --------
    >>> from multisurv.study.config import StudyConfig
    >>> cfg = StudyConfig.from_dict({"schema": "study_config.v1", "name": "x", "out": "runs/x",
    ...                              "cohort": {"synthetic": {}},
    ...                              "endpoint": {"type": "binary", "horizon": 24, "comparators": ["svm"]}})
    >>> list(build_binary_models(cfg))
    ['radiomics', 'pathomics', 'clinical', 'early_fusion', 'late_fusion', 'ml_svm']
    """
    from sklearn.pipeline import Pipeline

    from multisurv.evaluation.comparators import make_comparator
    from multisurv.fusion.logistic_early import BranchSelection, EarlyFusionLogistic
    from multisurv.fusion.logistic_late import LateFusionLogistic
    from multisurv.scores.logistic_score import LogisticModalityScore, binary_branch

    sel, seed = config.selection, config.seed
    lasso = {"l1_ratio": sel.l1_ratio, "cv": sel.cv, "rule": sel.rule, "random_state": seed}
    branches = [(m.score, m.prefix) for m in config.modalities]
    models: dict = {m.name: LogisticModalityScore(name=m.score, prefix=m.prefix, **lasso) for m in config.modalities}
    for strategy in config.fusion.strategies:
        if strategy == "early":
            models["early_fusion"] = EarlyFusionLogistic(branches, penalizer=config.fusion.penalizer, **lasso)
        elif strategy == "late":
            models["late_fusion"] = LateFusionLogistic([(s, p, binary_branch(**lasso)) for s, p in branches],
                                                       cv=config.fusion.cv, random_state=seed)
    endpoint = config.endpoint
    for name in endpoint.comparators:
        tuned = make_comparator(name, seed, inner_cv=endpoint.inner_cv)
        models[COMPARATOR_PREFIX + name] = (tuned if endpoint.comparator_features == "all" else
                                            Pipeline([("select", BranchSelection(branches, **lasso)),
                                                      ("model", tuned)]))
    return models


def binary_labels(modalities: Sequence[Modality], names: Sequence[str]) -> dict[str, str]:
    """Display label of every model of a binary study."""
    from multisurv.evaluation.comparators import COMPARATORS

    labels = model_labels(modalities)
    out = {}
    for name in names:
        if name.startswith(COMPARATOR_PREFIX) and name[len(COMPARATOR_PREFIX):] in COMPARATORS:
            out[name] = COMPARATORS[name[len(COMPARATOR_PREFIX):]].label
        else:
            out[name] = labels.get(name, name)
    return out


# ------------------------------------------------------------------------------------------------ endpoint
@dataclass(frozen=True)
class BinaryEndpoint:
    """The binary outcome of every patient of a cohort.

    Parameters
    ----------
    outcome : pandas.Series
        Index patient_id; 1.0 / 0.0, NaN where unknown (censored before the horizon).
    table : pandas.DataFrame
        Per cohort label: ``n``, ``events``, ``non_events``, ``censored_before`` (left out), ``event_rate``.
    note : str
        The definition and what happened to the patients censored before the horizon (for the report).
    horizon : float, default=nan
        The horizon of an "event by horizon" endpoint; NaN for a manifest column.

    Examples
    --------
    >>> end = BinaryEndpoint(outcome=pd.Series([1.0, 0.0, np.nan], index=["a", "b", "c"]), table=pd.DataFrame(),
    ...                      note="Endpoint: event by 24 months.", horizon=24.0)
    >>> int(end.outcome.notna().sum()), end.horizon
    (2, 24.0)
    """

    outcome: pd.Series
    table: pd.DataFrame
    note: str
    horizon: float = float("nan")


def binary_endpoint(cohort, endpoint) -> BinaryEndpoint:
    """The binary outcome of a cohort from its endpoint config ("event by horizon" or a 0/1 column).

    Parameters
    ----------
    cohort : Cohort
        Every patient (development and external); ``time`` / ``event`` or the endpoint column are read.
    endpoint : EndpointConfig
        ``type: binary`` with a ``horizon`` (event by then, via
        :func:`~multisurv.cohort.endpoint.binary_outcome` with ``censored_before`` and ``unit``) or a ``column``.

    Returns
    -------
    BinaryEndpoint
        The outcome of every patient (NaN: censored before the horizon and excluded, or not a number in the
        column), the count table per cohort label and the note for the report.

    Raises
    ------
    ValueError
        With ``censored_before: refuse`` when a patient is censored before the horizon, or when the endpoint has one
        class only.

    Examples
    --------
    >>> from multisurv.cohort.cohort import Cohort
    >>> from multisurv.study.config import EndpointConfig
    >>> t = pd.DataFrame({"patient_id": ["a", "b", "c", "d"], "cohort": ["development"] * 4,
    ...                   "time": [5.0, 30.0, 10.0, 40.0], "event": [True, False, False, True]}).set_index("patient_id")
    >>> end = binary_endpoint(Cohort(t), EndpointConfig(type="binary", horizon=24.0))
    >>> end.outcome.tolist()
    [1.0, 0.0, nan, 0.0]
    >>> end.table[["cohort", "n", "events", "censored_before"]]
            cohort  n  events  censored_before
    0  development  3       1                1
    """
    from multisurv.cohort.endpoint import binary_outcome

    table = cohort.table
    if endpoint.horizon is not None:
        res = binary_outcome(cohort.y, endpoint.horizon, handling=endpoint.censored_before, unit=endpoint.unit)
        outcome = pd.Series(np.where(res.mask, res.outcome.astype(float), np.nan), index=table.index)
        note, horizon = res.note, float(endpoint.horizon)
    else:
        outcome = pd.to_numeric(table[endpoint.column], errors="coerce").astype(float)
        if outcome.nunique() < 2:
            raise ValueError(f"endpoint.column {endpoint.column!r} holds one class only; the binary endpoint needs "
                             "events and non-events.")
        note = (f"Endpoint: the manifest column '{endpoint.column}' (1 = event): {int((outcome == 1).sum())} events, "
                f"{int((outcome == 0).sum())} without.")
        horizon = float("nan")
    rows = []
    for label, part in outcome.groupby(table["cohort"].astype(str), sort=False):
        known = part.dropna()
        rows.append({"cohort": label, "n": int(known.size), "events": int(known.sum()),
                     "non_events": int(known.size - known.sum()), "censored_before": int(part.isna().sum()),
                     "event_rate": float(known.mean()) if known.size else float("nan")})
    return BinaryEndpoint(outcome=outcome, table=pd.DataFrame(rows), note=note, horizon=horizon)


# ------------------------------------------------------------------------------------------------ evaluation
@dataclass
class BinaryStudyResult:
    """Everything a binary-endpoint study computed (the report draws it; nothing is fitted there).

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per (model, cohort): ``n``, ``events``, ``auc`` with its DeLong ``auc_lower`` / ``auc_upper``,
        ``brier``, calibration ``slope`` / ``intercept`` / ``citl``, Hosmer-Lemeshow ``hl_statistic`` / ``hl_p``.
    validation : pandas.DataFrame
        Whole-pipeline bootstrap of each model on the development cohort: ``model``, ``index`` (auc, dxy,
        intercept, slope, brier), ``apparent``, ``optimism``, ``corrected``, ``n`` (resamples used).
    comparisons : pandas.DataFrame
        Paired DeLong tests: ``cohort``, ``model_a``, ``model_b``, AUCs, difference with interval and ``p_value``.
    predictions : pandas.DataFrame
        Index patient_id; ``cohort``, ``outcome`` (NaN: unknown) and the event probability of each model.
    roc : dict
        (model, cohort) -> DataFrame ``fpr``, ``tpr``, ``threshold``.
    calibration : dict
        Cohort -> {model: DataFrame ``predicted``, ``observed``} (lowess, as ``rms::val.prob`` smooths).
    calibration_curve : CalibrationCurveResult or None
        Bootstrap optimism-corrected curve of the primary model on the development cohort.
    decision_curves : dict
        Cohort -> list of DecisionCurveResult, every model on the same patients.
    nomogram : LogisticNomogram or None
        Of the late-fusion logistic model on the modality scores.
    odds_ratios : dict
        Model -> its coefficient table (odds ratios with Wald intervals; early fusion: per standard deviation).
    shap : dict
        Comparator -> DataFrame ``feature``, ``mean_abs_shap`` (development patients).
    tuning : pandas.DataFrame
        Comparator -> the hyper-parameters inner CV chose and its CV AUC.
    endpoint : BinaryEndpoint
        The outcome of every patient and its count table.
    labels : dict
        Model name -> display label.
    primary : str
        The model whose bootstrap calibration curve is drawn.
    n_bootstrap : int
        Resamples of the whole-pipeline bootstrap.
    roc, calibration, calibration_curve, decision_curves, nomogram, odds_ratios, shap, tuning
        As above; empty (or None) by default.
    notes : list of str, default=[]
        What went wrong or was left out (warnings, skipped evaluations), for the report.
    run_dir : Path or None, default=None
        Where the tables, figures and report were written.
    reclassification : Reclassification or None, default=None
        NRI and IDI of every other model over the reference model on each external cohort
        (:class:`~multisurv.study.evaluate.Reclassification`), from the predicted probabilities.

    Examples
    --------
    >>> res = BinaryStudyResult(metrics=pd.DataFrame({"model": ["late_fusion"], "auc": [0.71]}),
    ...                         validation=pd.DataFrame(), comparisons=pd.DataFrame(), predictions=pd.DataFrame(),
    ...                         endpoint=BinaryEndpoint(pd.Series(dtype=float), pd.DataFrame(), ""),
    ...                         labels={"late_fusion": "Late fusion"}, primary="late_fusion", n_bootstrap=200)
    >>> res.primary, res.roc, res.run_dir
    ('late_fusion', {}, None)
    """

    metrics: pd.DataFrame
    validation: pd.DataFrame
    comparisons: pd.DataFrame
    predictions: pd.DataFrame
    endpoint: BinaryEndpoint
    labels: dict
    primary: str
    n_bootstrap: int
    roc: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    calibration_curve: object = None
    decision_curves: dict = field(default_factory=dict)
    nomogram: object = None
    odds_ratios: dict = field(default_factory=dict)
    shap: dict = field(default_factory=dict)
    tuning: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list = field(default_factory=list)
    run_dir: Path | None = None
    reclassification: object = None


def _prob(model, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(X), dtype=float)[:, 1]


def _cohort_metrics(name: str, label: str, y: np.ndarray, p: np.ndarray) -> dict:
    from multisurv.evaluation.binary import hosmer_lemeshow, logistic_calibration, roc_auc

    row = {"model": name, "cohort": label, "n": int(y.size), "events": int(y.sum())}
    if y.size < 2 or y.min() == y.max():
        return row
    auc = roc_auc(y, p)
    row.update(auc=auc.auc, auc_lower=auc.lower, auc_upper=auc.upper, auc_se=auc.standard_error)
    q = np.clip(p, _CLIP, 1 - _CLIP)
    try:
        cal = logistic_calibration(y, q)
        row.update(brier=cal.brier, slope=cal.slope, slope_lower=cal.slope_lower, slope_upper=cal.slope_upper,
                   intercept=cal.intercept, citl=cal.citl)
    except ValueError as exc:  # e.g. perfectly separated predictions
        row.update(brier=float(np.mean((p - y) ** 2)))
        logger.info("%s, %s: calibration not estimable (%s)", name, label, exc)
    if y.size >= 10:
        hl = hosmer_lemeshow(y, p, n_groups=10)
        row.update(hl_statistic=hl.statistic, hl_df=hl.df, hl_p=hl.p_value)
    return row


def _lowess_curve(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    from multisurv.evaluation.binary_validation import r_lowess

    xs, ys = r_lowess(p, y)
    return pd.DataFrame({"predicted": xs, "observed": np.clip(ys, 0, 1)})


def evaluate_binary(predictions: pd.DataFrame, *, development: str, models: Sequence[str], labels: Mapping,
                    horizon: float = float("nan")) -> dict:
    """Metrics, ROC curves, apparent calibration curves, paired DeLong tests and decision curves of every model in
    every cohort (development, each external label, pooled externals), from the study's predictions.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Index patient_id; ``cohort``, ``outcome`` (NaN: unknown, left out) and one probability column per model
        (NaN: the patient was not scored by that model).
    development : str
        Cohort label of the development cohort; every other label is an external cohort, and with two or more
        external labels they are also pooled (:func:`~multisurv.study.evaluate.evaluation_groups`).
    models : sequence of str
        Probability columns to evaluate, in report order.
    labels : mapping
        Model name -> display label of its decision curve (the name where missing).
    horizon : float, default=nan
        Horizon of an "event by horizon" endpoint, recorded on the decision curves.

    Returns
    -------
    dict
        ``metrics`` (DataFrame, one row per (model, cohort): ``n``, ``events``, ``auc`` with DeLong interval and
        standard error, ``brier``, calibration ``slope`` / ``intercept`` / ``citl``, Hosmer-Lemeshow from 10
        patients), ``comparisons`` (DataFrame of paired DeLong tests per cohort, on the patients every model scored),
        ``roc`` ((model, cohort) -> DataFrame ``fpr``, ``tpr``, ``threshold``), ``calibration`` (cohort -> model ->
        lowess curve), ``decision_curves`` (cohort -> list of DecisionCurveResult) and ``skipped`` (list of str:
        the cohorts without both outcomes among the commonly scored patients).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 40).astype(float)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 20 + ["external"] * 20, "outcome": y,
    ...                      "a": np.clip(0.3 * y + rng.uniform(0, 0.7, 40), 0, 1), "b": rng.uniform(0, 1, 40)})
    >>> res = evaluate_binary(pred, development="development", models=["a", "b"], labels={"a": "A", "b": "B"})
    >>> sorted(res)
    ['calibration', 'comparisons', 'decision_curves', 'metrics', 'roc', 'skipped']
    >>> res["metrics"][["model", "cohort", "n", "auc"]].round(3)
      model       cohort   n    auc
    0     a  development  20  0.702
    1     b  development  20  0.548
    2     a     external  20  0.848
    3     b     external  20  0.374
    >>> res["comparisons"][["cohort", "model_a", "model_b", "p_value"]].round(3)
            cohort model_a model_b  p_value
    0  development       a       b    0.401
    1     external       a       b    0.004
    """
    from sklearn.metrics import roc_curve

    from multisurv.evaluation.binary import binary_decision_curve, compare_auc
    from multisurv.study.evaluate import evaluation_groups

    known = predictions[predictions["outcome"].notna()]
    groups = evaluation_groups(known["cohort"], development)
    rows, pairs, roc, calibration, curves, skipped = [], [], {}, {}, {}, []
    for label, ids in groups.items():
        part = known.loc[ids]
        y_all = part["outcome"].to_numpy(float)
        calibration[label] = {}
        for name in models:
            p = part[name].to_numpy(float)
            ok = np.isfinite(p)
            row = _cohort_metrics(name, label, y_all[ok], p[ok])
            rows.append(row)
            if "auc" in row:
                fpr, tpr, thr = roc_curve(y_all[ok], p[ok])
                roc[(name, label)] = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr})
                calibration[label][name] = _lowess_curve(y_all[ok], p[ok])
        common = part[list(models)].notna().all(axis=1).to_numpy()
        y = y_all[common]
        if common.sum() < 2 or y.min() == y.max():
            skipped.append(f"decision curves and paired DeLong tests, {label}: {int(common.sum())} patient(s) "
                           f"scored by every model, {int(y.sum())} with the event; both outcomes are needed.")
            continue
        curves[label] = [binary_decision_curve(y, part[name].to_numpy(float)[common], name=labels.get(name, name),
                                               horizon=horizon) for name in models]
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                cmp = compare_auc(y, part[a].to_numpy(float)[common], part[b].to_numpy(float)[common])
                pairs.append({"cohort": label, "model_a": a, "model_b": b, "n": int(common.sum()),
                              **{k: v for k, v in cmp.to_dict().items() if k not in ("n_events", "n_non_events")},
                              "events": cmp.n_events})
    return {"metrics": pd.DataFrame(rows), "comparisons": pd.DataFrame(pairs), "roc": roc,
            "calibration": calibration, "decision_curves": curves, "skipped": skipped}


def _available(features: pd.DataFrame, modality: Modality, ids) -> pd.Series:
    """Patients of ``ids`` that have the modality (clinical: everyone)."""
    if MODALITY_KINDS[modality.kind].extractor is None:
        return pd.Series(True, index=ids)
    cols = [c for c in features.columns if str(c).startswith(modality.prefix)]
    return features.loc[ids, cols].notna().any(axis=1) if cols else pd.Series(False, index=ids)


def validate_binary_models(models: Mapping[str, object], raw_dev: pd.DataFrame, y: np.ndarray, *, features,
                           modalities: Sequence[Modality], clinical, clinical_columns: Sequence[str],
                           n_bootstrap: int, random_state: int, calibrate: str | None = None, notes: list,
                           collect) -> tuple[pd.DataFrame, object]:
    """Whole-pipeline bootstrap (``validate_binary``) of every model on the development patients, the clinical
    encoding refitted in every resample; the ``calibrate`` model also gets ``calibrate_binary``'s curve.

    A single-modality model is validated on the development patients who have that modality.
    """
    from multisurv.evaluation.binary_validation import validate_and_calibrate_binary, validate_binary
    from multisurv.study.internal import internal_pipeline

    by_name = {m.name: m for m in modalities}
    frames, curve = [], None
    for name, model in models.items():
        rows = (_available(features, by_name[name], raw_dev.index).to_numpy() if name in by_name
                else np.ones(len(raw_dev), dtype=bool))
        pipeline = internal_pipeline(model, clinical, clinical_columns)
        logger.info("Bootstrap validation of %s (%d resamples).", name, n_bootstrap)
        with collect(notes, f"bootstrap validation of {name}"):
            if name == calibrate:  # one refit per resample serves the validation and the calibration curve
                res, curve = validate_and_calibrate_binary(pipeline, raw_dev.loc[rows], y[rows],
                                                           n_bootstrap=n_bootstrap, random_state=random_state)
            else:
                res = validate_binary(pipeline, raw_dev.loc[rows], y[rows], n_bootstrap=n_bootstrap,
                                      random_state=random_state)
        frames.append(res.to_frame().assign(model=name, n_failed=res.n_failed, n_patients=int(rows.sum())))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(table):
        table = table[["model", "index", *[c for c in table.columns if c not in ("model", "index")]]]
    return table, curve


def _model_tables(fitted: Mapping[str, object], X_train: pd.DataFrame, random_state: int, shap: bool,
                  notes: list, collect) -> tuple[dict, object, dict, pd.DataFrame]:
    """Odds-ratio tables, the late-fusion nomogram, the comparators' SHAP summaries and their tuning."""
    from sklearn.pipeline import Pipeline

    from multisurv.evaluation.logistic_nomogram import logistic_nomogram
    from multisurv.evaluation.nomogram import nomogram_values

    odds, shap_tables, tuning, nomogram = {}, {}, [], None
    for name, model in fitted.items():
        if hasattr(model, "model_"):  # one modality's logistic model
            odds[name] = model.model_.odds_ratios().reset_index()
        elif hasattr(model, "fusion_"):  # late fusion
            odds[name] = model.fusion_.odds_ratios().reset_index()
            scores = model.oof_scores_
            coef = dict(zip(scores.columns, model.fusion_.coef_))
            try:
                nomogram = logistic_nomogram(coef, model.fusion_.intercept_, nomogram_values(scores))
            except ValueError as exc:
                notes.append(f"nomogram: {exc}")
        elif hasattr(model, "selection_"):  # early fusion
            odds[name] = pd.DataFrame({"term": ["(Intercept)", *model.coef_.index],
                                       "coef_per_sd": [model.intercept_, *model.coef_.to_numpy()],
                                       "odds_ratio_per_sd": np.exp([model.intercept_, *model.coef_.to_numpy()])})
        else:  # a comparator: GridSearchCV, or Pipeline([select, GridSearchCV])
            tuned = model[-1] if isinstance(model, Pipeline) else model
            Z = model[:-1].transform(X_train) if isinstance(model, Pipeline) else X_train
            tuning.append({"model": name, "cv_auc": float(tuned.best_score_), "n_features": int(Z.shape[1]),
                           **{k.replace("model__", ""): v for k, v in tuned.best_params_.items()}})
            if shap and Z.shape[1]:
                background = Z.sample(n=min(len(Z), 50), random_state=random_state)
                with collect(notes, f"SHAP of {name}"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", PendingDeprecationWarning)  # shap's matplotlib housekeeping
                    from multisurv.evaluation.comparators import comparator_shap

                    table, _ = comparator_shap(tuned, Z, background=background, random_state=random_state)
                shap_tables[name] = table
    return odds, nomogram, shap_tables, pd.DataFrame(tuning)


# ------------------------------------------------------------------------------------------------ the study
def _save_primary(run_dir: Path, model, clinical, X_train: pd.DataFrame, config, name: str, y_train: np.ndarray,
                  prob: pd.Series, notes: list[str]) -> None:
    """Save the fitted primary model (``run_dir/model``) with its development facts (apparent AUC: optimistic)."""
    from multisurv.evaluation.binary import roc_auc
    from multisurv.study._saving import save_fitted_model

    known = np.isfinite(prob.to_numpy(float))
    apparent = float(roc_auc(y_train[known], prob.to_numpy(float)[known]).auc) if known.sum() else float("nan")
    save_fitted_model(run_dir, model, clinical, X_train, config, name,
                      {"model": name, "endpoint": "binary", "n_patients": int(len(y_train)),
                       "n_events": int(y_train.sum()), "apparent_auc": apparent}, notes)


def fit_and_evaluate_binary(cohort, run_dir: str | Path, *, endpoint, models: Mapping[str, object],
                            modalities: Sequence[Modality], development: str = "development",
                            feature_dir: str | Path | None = None, n_bootstrap: int = 1000, random_state: int = 0,
                            progress: bool = True, extra_report: Mapping | None = None,
                            figure_options: Mapping | None = None, n_workers: int | None = None,
                            reclassification: Mapping | None = None, config: Mapping | None = None,
                            evaluate: bool = True, **ignored):
    """Fit every model of a binary-endpoint study on the development cohort, evaluate it everywhere, write the
    tables, figures and report.

    Parameters
    ----------
    cohort : Cohort
        Every patient, development and external.
    run_dir : path
        Output folder (created).
    endpoint : EndpointConfig
        ``type: binary`` with a ``horizon`` or a ``column``.
    models : mapping
        From :func:`build_binary_models`.
    modalities : sequence of Modality
        The study's modalities (features extracted, labels, availability per model).
    development : str, default="development"
        Cohort label the models are fitted on.
    feature_dir : path, optional
        Feature cache (default ``run_dir/features``).
    n_bootstrap : int
        Resamples of the whole-pipeline bootstrap (rms's B; 1000 by default).
    random_state : int, default=0
        Seed of the bootstrap and of the SHAP background sample.
    progress : bool, default=True
        Show extraction progress.
    extra_report : mapping, optional
        Lines at the top of the report.
    figure_options : mapping, optional
        ``primary``: the model whose bootstrap calibration curve is drawn (default late fusion).
    n_workers : int, optional
        Feature extraction workers.
    reclassification : mapping, optional
        ``reference`` ("auto": the clinical modality's model when the study has one; "none"; or a model name) and
        ``cutoffs`` (risk categories of the categorical NRI): NRI and IDI of every other model over the reference
        on each external cohort, with ``n_bootstrap`` resamples. Default ``{"reference": "auto"}``.
    config : mapping, optional
        The resolved study config, recorded in the saved model (``run_dir/model``).
    evaluate : bool, default=True
        False fits only the primary model (``figure_options["primary"]``) on development, saves it and stops
        (``multisurv fit``): no bootstrap, tables, figures or report.
    **ignored
        Options of the survival study that a binary endpoint does not use (``truth``...).

    Returns
    -------
    BinaryStudyResult or StudyResult
        The evaluation objects; ``run_dir`` then holds ``tables/``, ``figures/``, ``failures.csv``, ``report.md``
        and the primary model in ``model/`` (event probability; ``multisurv predict`` scores a new cohort with it).
        With ``evaluate=False``: a :class:`~multisurv.study.run.StudyResult` whose ``predictions`` hold the
        primary model's event probability of every patient.

    Raises
    ------
    ValueError
        From :func:`binary_endpoint`: a patient censored before the horizon with ``censored_before: refuse``, or an
        endpoint column with one class only; or when the reclassification's reference is not one of ``models``.

    Examples
    --------
    >>> from multisurv.study.config import StudyConfig
    >>> cfg = StudyConfig.from_yaml("experiments/binary_demo/study.yaml")  # doctest: +SKIP
    >>> result = fit_and_evaluate_binary(cohort, "runs/binary", endpoint=cfg.endpoint,
    ...                                  models=build_binary_models(cfg), modalities=cfg.modalities,
    ...                                  n_bootstrap=200)  # doctest: +SKIP
    >>> result.metrics.columns[:4].tolist()  # doctest: +SKIP
    ['model', 'cohort', 'n', 'events']
    """
    from multisurv._atomic import write_csv_atomic
    from multisurv.features.clinical import ClinicalPreprocessor
    from multisurv.report.binary import write_binary_report
    from multisurv.study.evaluate import _reclassification_reference, reclassify_models
    from multisurv.study.run import _collect_warnings, extract_features

    reclassification = dict(reclassification or {})
    reference = _reclassification_reference(reclassification.get("reference", "auto"), modalities, list(models))
    started = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    feature_dir = Path(feature_dir) if feature_dir is not None else run_dir / "features"
    modalities = list(modalities)
    notes: list[str] = []
    end = binary_endpoint(cohort, endpoint)
    write_csv_atomic(run_dir / "tables" / "endpoint.csv", end.table, index=False, float_format="%.6g")
    with _collect_warnings(notes, "feature extraction"):
        features, failures = extract_features(cohort, feature_dir, modalities=modalities, n_workers=n_workers,
                                              progress=progress)
    write_csv_atomic(run_dir / "failures.csv", failures, index=False)

    dev, _ = cohort.split(development)
    train = [i for i in dev.ids if np.isfinite(end.outcome.loc[i])]
    y_train = end.outcome.loc[train].to_numpy(float)
    logger.info("Binary endpoint: %d development patients with a known outcome (%d events).", len(train),
                int(y_train.sum()))
    has_clinical = any(m.kind == "clinical" for m in modalities)
    clinical_columns = list(cohort.clinical_columns) if has_clinical else []
    clinical = (ClinicalPreprocessor.from_spec(cohort.clinical_spec).fit(cohort.clinical.loc[train])
                if has_clinical else None)
    parts = [features] + ([clinical.transform(cohort.clinical)] if clinical is not None else [])
    X = pd.concat(parts, axis=1).loc[cohort.ids]
    X_train = X.loc[train]

    predictions = pd.DataFrame({"cohort": cohort.table["cohort"].astype(str), "outcome": end.outcome})
    if endpoint.horizon is not None:
        predictions = predictions.join(cohort.table[["time", "event"]])
    names = list(models)
    primary = dict(figure_options or {}).get("primary", "late_fusion")
    primary = primary if primary in models else names[-1]
    if not evaluate:  # multisurv fit: the primary model alone, saved
        from multisurv.study.run import StudyResult

        logger.info("Fitting %s on the development cohort.", primary)
        with _collect_warnings(notes, primary):
            model = models[primary].fit(X_train, y_train)
            predictions[primary] = _prob(model, X)
        _save_primary(run_dir, model, clinical, X_train, config, primary, y_train, predictions.loc[train, primary],
                      notes)
        for note in notes:
            logger.warning("%s", note)
        return StudyResult(metrics=pd.DataFrame(), predictions=predictions, run_dir=run_dir, internal=None)
    fitted = {}
    for name, model in models.items():
        logger.info("Fitting %s on the development cohort.", name)
        with _collect_warnings(notes, name):
            fitted[name] = model.fit(X_train, y_train)
            predictions[name] = _prob(fitted[name], X)
    labels = binary_labels(modalities, names)
    evaluation = evaluate_binary(predictions, development=development, models=names, labels=labels,
                                 horizon=end.horizon)
    notes.extend(evaluation["skipped"])
    reclassified = None
    if reference is not None:
        with _collect_warnings(notes, "reclassification"):
            reclassified = reclassify_models(predictions, development=development, reference=reference, models=names,
                                             cutoffs=tuple(reclassification.get("cutoffs", ())),
                                             n_bootstrap=n_bootstrap, random_state=random_state)
        notes.extend(reclassified.skipped)
    _save_primary(run_dir, fitted[primary], clinical, X_train, config, primary, y_train,
                  predictions.loc[train, primary], notes)
    validated = {k: v for k, v in models.items()
                 if endpoint.validate_comparators or not k.startswith(COMPARATOR_PREFIX)}
    raw_dev = pd.concat([features.loc[train], cohort.clinical.loc[train, clinical_columns]], axis=1)
    validation, curve = validate_binary_models(
        validated, raw_dev, y_train, features=features, modalities=modalities,
        clinical=ClinicalPreprocessor.from_spec(cohort.clinical_spec) if has_clinical else None,
        clinical_columns=clinical_columns, n_bootstrap=n_bootstrap, random_state=random_state, calibrate=primary,
        notes=notes, collect=_collect_warnings)
    odds, nomogram, shap_tables, tuning = _model_tables(fitted, X_train, random_state, endpoint.shap, notes,
                                                         _collect_warnings)
    result = BinaryStudyResult(
        metrics=evaluation["metrics"], validation=validation, comparisons=evaluation["comparisons"],
        predictions=predictions, endpoint=end, labels=labels, primary=primary, n_bootstrap=n_bootstrap,
        roc=evaluation["roc"], calibration=evaluation["calibration"], calibration_curve=curve,
        decision_curves=evaluation["decision_curves"], nomogram=nomogram, odds_ratios=odds, shap=shap_tables,
        tuning=tuning, notes=notes, run_dir=run_dir, reclassification=reclassified)
    write_binary_report(run_dir, result, cohort=cohort, failures=failures, modalities=modalities,
                        elapsed=time.perf_counter() - started, extra=dict(extra_report or {}))
    logger.info("Binary study finished in %.0f s; report: %s", time.perf_counter() - started, run_dir / "report.md")
    return result
