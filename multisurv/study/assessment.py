"""assess_study(): every fitted quantity behind the evaluation figures, computed once, as objects.

:func:`~multisurv.study.evaluate.evaluate_study` gives the metrics (C-index, median risk groups, log-rank);
:func:`assess_study` gives the rest of the evaluation of a study, for the models' predictions:

- predicted survival at ``t0`` of every model: a Breslow baseline per model (:class:`PredictedSurvival`);
- calibration at ``t0`` per model and cohort (:class:`CalibrationCurves`);
- decision curves per external cohort on the complete cases (:class:`DecisionCurves`);
- hazard ratios of late fusion's inputs, a multivariable Cox model of the development out-of-fold scores
  (:class:`HazardRatios`);
- the primary model's risk groups under each cut-off rule, with the maximally selected log-rank scan
  (:class:`CutoffRule`);
- the primary model's time-dependent ROC curves per cohort (:class:`RocCurves`);
- late fusion's importance, standardised coefficients and permutation importance per external cohort
  (:class:`FusionImportance`), and its nomogram (:class:`NomogramResult`);
- with a ``reference`` model, the reclassification (NRI and IDI at ``t0``) of every other model over it on each
  external cohort (:class:`~multisurv.study.evaluate.Reclassification`).

Every fitted quantity (baselines, cut-offs, the Cox model of the scores, the nomogram's baseline) is fitted on
development patients only and applied unchanged to every other cohort: each external label on its own and, when
there is more than one, all external patients pooled (``external (all)``). Each result carries the tidy ``table`` the
run writes; :func:`multisurv.report.figures.write_evaluation_figures` only draws the results and writes those tables.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from multisurv._validation import make_y
from multisurv.study.evaluate import Reclassification, evaluation_groups, reclassify_models

__all__ = ["CalibrationCurves", "CutoffGroups", "CutoffRule", "DecisionCurves", "FusionImportance", "HazardRatios",
           "NomogramResult", "PermutationImportance", "PredictedSurvival", "RocCurves", "StudyAssessment",
           "assess_study", "default_horizon", "default_roc_times"]

logger = logging.getLogger(__name__)

#: Thresholds of the decision curves.
DECISION_THRESHOLDS = np.round(np.arange(0.02, 0.96, 0.02), 2)


def default_horizon(time: ArrayLike) -> float:
    """Default time point for calibration and decision curves: the development cohort's median follow-up.

    The median observed time (events and censorings) keeps roughly half of the patients under observation at
    ``t0``, so the Kaplan-Meier estimates behind both figures rest on many patients. Rounded to a whole unit.

    Parameters
    ----------
    time : array-like of float
        Observed times (events and censorings) of the development cohort.

    Returns
    -------
    float
        The median time, rounded to a whole unit, and at least 1.

    Examples
    --------
    >>> default_horizon([10.0, 20.0, 31.0, 40.0])
    26.0
    """
    return float(max(1.0, np.round(np.median(np.asarray(time, dtype=float)))))


def default_roc_times(time: ArrayLike, *, time_unit: str = "months") -> tuple[float, ...]:
    """Times of the time-dependent ROC curves: 1, 3 and 5 years inside the follow-up, else follow-up quartiles.

    Years are used when ``time_unit`` is months, days or years and at least two of them lie before the 90th
    percentile of the observed times (so enough patients remain under observation); otherwise the 25th, 50th and
    75th percentiles of the observed times, rounded.

    Parameters
    ----------
    time : array-like of float
        Observed times (events and censorings) of the development cohort.
    time_unit : str, default="months"
        Unit of ``time``; ``"months"``, ``"days"`` and ``"years"`` allow the 1, 3 and 5 year times.

    Returns
    -------
    tuple of float
        The ROC times, increasing.

    Examples
    --------
    >>> default_roc_times([6.0, 20.0, 40.0, 70.0, 90.0, 100.0])
    (12.0, 36.0, 60.0)
    >>> default_roc_times([1.0, 2.0, 3.0, 4.0, 5.0], time_unit="weeks")
    (2.0, 3.0, 4.0)
    """
    time = np.asarray(time, dtype=float)
    per_year = {"months": 12.0, "days": 365.25, "years": 1.0}.get(time_unit)
    limit = float(np.quantile(time, 0.9))
    if per_year is not None:
        years = tuple(float(y * per_year) for y in (1, 3, 5) if y * per_year < limit)
        if len(years) >= 2:
            return years
    return tuple(float(np.round(q)) for q in np.unique(np.round(np.quantile(time, [0.25, 0.5, 0.75]))))


# ------------------------------------------------------------------------------------------------ result objects
@dataclass(frozen=True)
class PredictedSurvival:
    """Survival at ``t0`` of every patient under each model, from a Breslow baseline fitted on development.

    Parameters
    ----------
    t0 : float
        The time point.
    baselines : dict of str -> BreslowBaseline
        Per model with a baseline (fitted on the development patients it scores).
    surv : pandas.DataFrame
        Index patient_id, one column per model in ``baselines``; NaN where the model scores no risk.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=90)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 60 + ["external"] * 30,
    ...                      "time": rng.exponential(30 * np.exp(-lp)) + 0.5, "event": rng.random(90) < 0.8,
    ...                      "late_fusion": lp}, index=[f"p{i}" for i in range(90)])
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index))
    >>> res.survival.t0, list(res.survival.baselines), res.survival.surv.shape
    (28.0, ['late_fusion'], (90, 1))
    """

    t0: float
    baselines: dict
    surv: pd.DataFrame


@dataclass(frozen=True)
class CalibrationCurves:
    """One model's calibration at ``t0`` on each cohort with enough patients (``cohorts[i]`` -> ``results[i]``).

    A cohort is calibrated when it has at least twice ``n_groups`` patients with a predicted survival and an event.

    Parameters
    ----------
    model : str
        The model (prediction column).
    cohorts : tuple of str
        The calibrated cohorts.
    results : tuple of CalibrationResult
        :func:`~multisurv.evaluation.calibration.calibration_at` on each cohort.
    table : pandas.DataFrame
        Every result's ``to_frame()`` with ``model`` and ``cohort`` columns (``tables/calibration.csv``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=90)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 60 + ["external"] * 30,
    ...                      "time": rng.exponential(30 * np.exp(-lp)) + 0.5, "event": rng.random(90) < 0.8,
    ...                      "late_fusion": lp}, index=[f"p{i}" for i in range(90)])
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index))
    >>> curves = res.calibration[0]
    >>> curves.model, curves.cohorts, len(curves.table)
    ('late_fusion', ('development', 'external'), 8)
    """

    model: str
    cohorts: tuple
    results: tuple
    table: pd.DataFrame


@dataclass(frozen=True)
class DecisionCurves:
    """Decision curves of every model that scores all complete-case patients of one cohort.

    Parameters
    ----------
    cohort : str
        An external cohort label (or ``external (all)``).
    n : int
        Complete-case patients of the cohort (at least 10).
    curves : tuple of DecisionCurveResult
        One per model, the risk at ``t0`` being one minus its predicted survival.
    table : pandas.DataFrame
        Every curve's ``to_frame()`` with a ``cohort`` column (``tables/decision_curve.csv``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=90)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 60 + ["external"] * 30,
    ...                      "time": rng.exponential(30 * np.exp(-lp)) + 0.5, "event": rng.random(90) < 0.8,
    ...                      "late_fusion": lp}, index=[f"p{i}" for i in range(90)])
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index))
    >>> dc = res.decision_curves[0]
    >>> dc.cohort, dc.n, len(dc.curves)
    ('external', 30, 1)
    """

    cohort: str
    n: int
    curves: tuple
    table: pd.DataFrame


@dataclass(frozen=True)
class HazardRatios:
    """Multivariable Cox model (lifelines) of late fusion's development out-of-fold scores on ``n`` patients.

    Parameters
    ----------
    n : int
        Development patients with every score.
    table : pandas.DataFrame
        ``term, hr, lower, upper, p`` (hazard ratio per unit of score with its 95 % interval).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = pd.DataFrame(rng.normal(size=(90, 2)), columns=["radscore", "clinscore"],
    ...                  index=[f"p{i}" for i in range(90)])
    >>> lp = 0.8 * s["radscore"] + 0.5 * s["clinscore"]
    >>> pred = s.assign(cohort=["development"] * 60 + ["external"] * 30, late_fusion=lp,
    ...                 time=rng.exponential(30 * np.exp(-lp)) + 0.5, event=rng.random(90) < 0.8)
    >>> dev = pred[pred["cohort"] == "development"]
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index),
    ...                    fusion_scores=dev[["radscore", "clinscore", "time", "event"]],
    ...                    fusion_formula=pd.DataFrame({"term": ["radscore", "clinscore"], "coef": [0.8, 0.5]}))
    >>> res.hazard_ratios.n, res.hazard_ratios.table["term"].tolist()
    (60, ['radscore', 'clinscore'])
    """

    n: int
    table: pd.DataFrame


@dataclass(frozen=True)
class CutoffGroups:
    """The patients of one cohort that a cut-off rule splits (drawn as a Kaplan-Meier figure).

    Parameters
    ----------
    cohort : str
        The cohort label.
    y : numpy.ndarray
        Structured array (``event``, ``time``) of the cohort's scored patients.
    risk : pandas.Series
        The primary model's risk of those patients.
    groups : numpy.ndarray
        The group of each patient under the rule.
    origin : str
        Prefix of the figure title: ``""`` on development, ``"fitted on development: "`` elsewhere.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=90)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 60 + ["external"] * 30,
    ...                      "time": rng.exponential(30 * np.exp(-lp)) + 0.5, "event": rng.random(90) < 0.8,
    ...                      "late_fusion": lp}, index=[f"p{i}" for i in range(90)])
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index))
    >>> g = res.cutoff_rules[0].groups[1]
    >>> g.cohort, g.origin, len(g.y) == len(g.risk) == len(g.groups)
    ('external', 'fitted on development: ', True)
    """

    cohort: str
    y: np.ndarray
    risk: pd.Series
    groups: np.ndarray
    origin: str


@dataclass(frozen=True)
class CutoffRule:
    """A cut-off rule of the primary model fitted on ``n_development`` development patients, applied everywhere.

    Parameters
    ----------
    model, method : str
        The primary model and the rule (``"median"``, ``"tertiles"``, ``"maxstat"`` or ``"fixed"``).
    cutoff : RiskCutoff
        Fitted on development; ``cutoff.maxstat_`` holds the scan of the maxstat rule.
    description : str
        ``cutoff.describe()``.
    n_development : int
        Development patients the rule was fitted on.
    groups : tuple of CutoffGroups
        Each cohort with at least 10 scored patients and two groups.
    row : dict
        ``model, method, cutoffs, statistic, corrected_p`` (a row of ``risk_group_cutoffs.csv``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=90)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 60 + ["external"] * 30,
    ...                      "time": rng.exponential(30 * np.exp(-lp)) + 0.5, "event": rng.random(90) < 0.8,
    ...                      "late_fusion": lp}, index=[f"p{i}" for i in range(90)])
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index))
    >>> rule = res.cutoff_rules[0]
    >>> rule.method, rule.n_development, [g.cohort for g in rule.groups]
    ('median', 60, ['development', 'external'])
    """

    model: str
    method: str
    cutoff: object
    description: str
    n_development: int
    groups: tuple
    row: dict


@dataclass(frozen=True)
class RocCurves:
    """Time-dependent ROC curves (one per time) of the primary model on one cohort of ``n`` scored patients.

    Parameters
    ----------
    model : str
        The primary model.
    cohort : str
        The cohort label.
    n : int
        Patients the model scores on the cohort.
    rocs : tuple of TimeDependentROC
        :func:`~multisurv.evaluation.td_auc.time_dependent_roc` at each ROC time that could be computed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=90)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 60 + ["external"] * 30,
    ...                      "time": rng.exponential(30 * np.exp(-lp)) + 0.5, "event": rng.random(90) < 0.8,
    ...                      "late_fusion": lp}, index=[f"p{i}" for i in range(90)])
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index))
    >>> [(r.cohort, r.n, [float(c.t0) for c in r.rocs]) for r in res.roc]
    [('development', 60, [12.0, 36.0, 60.0]), ('external', 30, [12.0, 36.0, 60.0])]
    """

    model: str
    cohort: str
    n: int
    rocs: tuple


@dataclass(frozen=True)
class PermutationImportance:
    """Permutation importance of late fusion's scores on one cohort of ``n`` patients (20 repeats).

    Parameters
    ----------
    cohort : str
        A cohort other than development with at least 20 patients with every score.
    n : int
        Those patients.
    table : pandas.DataFrame
        :func:`~multisurv.evaluation.importance.permutation_importance_cindex`'s table (C-index drop per score).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = pd.DataFrame(rng.normal(size=(90, 2)), columns=["radscore", "clinscore"],
    ...                  index=[f"p{i}" for i in range(90)])
    >>> lp = 0.8 * s["radscore"] + 0.5 * s["clinscore"]
    >>> pred = s.assign(cohort=["development"] * 60 + ["external"] * 30, late_fusion=lp,
    ...                 time=rng.exponential(30 * np.exp(-lp)) + 0.5, event=rng.random(90) < 0.8)
    >>> dev = pred[pred["cohort"] == "development"]
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index),
    ...                    fusion_scores=dev[["radscore", "clinscore", "time", "event"]],
    ...                    fusion_formula=pd.DataFrame({"term": ["radscore", "clinscore"], "coef": [0.8, 0.5]}))
    >>> perm = res.importance.permutation[0]
    >>> perm.cohort, perm.n
    ('external', 30)
    """

    cohort: str
    n: int
    table: pd.DataFrame


@dataclass(frozen=True)
class FusionImportance:
    """Late fusion's importance: standardised coefficients (development) and permutation importance per cohort.

    Parameters
    ----------
    coefficients : pandas.DataFrame
        :func:`~multisurv.evaluation.importance.standardised_coefficients` of the formula (development SDs).
    permutation : tuple of PermutationImportance
        One per cohort other than development with enough patients.
    table : pandas.DataFrame
        Both, with a ``kind`` column (``tables/late_fusion_importance.csv``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = pd.DataFrame(rng.normal(size=(90, 2)), columns=["radscore", "clinscore"],
    ...                  index=[f"p{i}" for i in range(90)])
    >>> lp = 0.8 * s["radscore"] + 0.5 * s["clinscore"]
    >>> pred = s.assign(cohort=["development"] * 60 + ["external"] * 30, late_fusion=lp,
    ...                 time=rng.exponential(30 * np.exp(-lp)) + 0.5, event=rng.random(90) < 0.8)
    >>> dev = pred[pred["cohort"] == "development"]
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index),
    ...                    fusion_scores=dev[["radscore", "clinscore", "time", "event"]],
    ...                    fusion_formula=pd.DataFrame({"term": ["radscore", "clinscore"], "coef": [0.8, 0.5]}))
    >>> res.importance.coefficients["feature"].tolist(), res.importance.table["kind"].nunique()
    (['radscore', 'clinscore'], 2)
    """

    coefficients: pd.DataFrame
    permutation: tuple
    table: pd.DataFrame


@dataclass(frozen=True)
class NomogramResult:
    """Late fusion's nomogram (baseline fitted on development) and its survival times.

    Parameters
    ----------
    nomogram : Nomogram
        :func:`~multisurv.evaluation.nomogram.cox_nomogram` of the late-fusion formula.
    times : tuple of float
        Times of its survival axes: the ROC times and ``t0`` within the development follow-up.
    columns : dict
        Late-fusion term -> the prediction column of its model (for labels).
    table : pandas.DataFrame
        The axes (``value, points, axis``), survival axes included (``tables/nomogram_late_fusion.csv``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = pd.DataFrame(rng.normal(size=(90, 2)), columns=["radscore", "clinscore"],
    ...                  index=[f"p{i}" for i in range(90)])
    >>> lp = 0.8 * s["radscore"] + 0.5 * s["clinscore"]
    >>> pred = s.assign(cohort=["development"] * 60 + ["external"] * 30, late_fusion=lp,
    ...                 time=rng.exponential(30 * np.exp(-lp)) + 0.5, event=rng.random(90) < 0.8)
    >>> dev = pred[pred["cohort"] == "development"]
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index),
    ...                    fusion_scores=dev[["radscore", "clinscore", "time", "event"]],
    ...                    fusion_formula=pd.DataFrame({"term": ["radscore", "clinscore"], "coef": [0.8, 0.5]}))
    >>> res.nomogram.times, res.nomogram.columns
    ((12.0, 22.0, 36.0, 60.0), {'radscore': 'radscore', 'clinscore': 'clinscore'})
    """

    nomogram: object
    times: tuple
    columns: dict
    table: pd.DataFrame


@dataclass
class StudyAssessment:
    """What :func:`assess_study` computed; ``skipped`` says what could not be computed, and why.

    Parameters
    ----------
    t0 : float
        Time point of calibration and decision curves.
    development : str
        The development label.
    primary : str, optional
        The model whose cut-off rules and ROC curves were computed.
    roc_times : tuple of float, default=()
        Times of the ROC curves.
    survival : PredictedSurvival, optional
        Predicted survival at ``t0``.
    calibration : list of CalibrationCurves, default=[]
        One per model with a baseline.
    decision_curves : list of DecisionCurves, default=[]
        One per external cohort with enough complete cases.
    hazard_ratios : HazardRatios, optional
        The Cox model of late fusion's scores.
    cutoff_rules : list of CutoffRule, default=[]
        One per cut-off rule that could be fitted.
    roc : list of RocCurves, default=[]
        One per cohort.
    importance : FusionImportance, optional
        Late fusion's importance.
    nomogram : NomogramResult, optional
        Late fusion's nomogram.
    reclassification : Reclassification, optional
        NRI and IDI at ``t0`` of every other model over the reference model, per external cohort.
    skipped : list of str, default=[]
        What could not be computed, and why (also logged).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=90)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 60 + ["external"] * 30,
    ...                      "time": rng.exponential(30 * np.exp(-lp)) + 0.5, "event": rng.random(90) < 0.8,
    ...                      "late_fusion": lp}, index=[f"p{i}" for i in range(90)])
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index))
    >>> res.t0, res.primary, res.skipped
    (28.0, 'late_fusion', [])
    """

    t0: float
    development: str
    primary: str | None = None
    roc_times: tuple = ()
    survival: PredictedSurvival | None = None
    calibration: list[CalibrationCurves] = field(default_factory=list)
    decision_curves: list[DecisionCurves] = field(default_factory=list)
    hazard_ratios: HazardRatios | None = None
    cutoff_rules: list[CutoffRule] = field(default_factory=list)
    roc: list[RocCurves] = field(default_factory=list)
    importance: FusionImportance | None = None
    nomogram: NomogramResult | None = None
    reclassification: Reclassification | None = None
    skipped: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tidy tables of the results, by the name the run writes them under (``tables/<name>.csv``).

        Returns
        -------
        dict of str to pandas.DataFrame
            Only the results that were computed: ``calibration``, ``decision_curve``,
            ``late_fusion_hazard_ratios``, ``risk_group_cutoffs``, ``td_roc_auc``, ``late_fusion_importance``,
            ``nomogram_late_fusion`` and ``reclassification``.

        Examples
        --------
        >>> StudyAssessment(t0=36.0, development="development").tables()
        {}
        >>> rng = np.random.default_rng(0)
        >>> s = pd.DataFrame(rng.normal(size=(90, 2)), columns=["radscore", "clinscore"],
        ...                  index=[f"p{i}" for i in range(90)])
        >>> lp = 0.8 * s["radscore"] + 0.5 * s["clinscore"]
        >>> pred = s.assign(cohort=["development"] * 60 + ["external"] * 30, late_fusion=lp,
        ...                 time=rng.exponential(30 * np.exp(-lp)) + 0.5, event=rng.random(90) < 0.8)
        >>> dev = pred[pred["cohort"] == "development"]
        >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index),
        ...                    fusion_scores=dev[["radscore", "clinscore", "time", "event"]],
        ...                    fusion_formula=pd.DataFrame({"term": ["radscore", "clinscore"], "coef": [0.8, 0.5]}))
        >>> sorted(res.tables())  # doctest: +NORMALIZE_WHITESPACE
        ['calibration', 'decision_curve', 'late_fusion_hazard_ratios', 'late_fusion_importance',
         'nomogram_late_fusion', 'risk_group_cutoffs', 'td_roc_auc']
        """
        out = {}
        if self.calibration:
            out["calibration"] = pd.concat([c.table for c in self.calibration], ignore_index=True)
        if self.decision_curves:
            out["decision_curve"] = pd.concat([d.table for d in self.decision_curves], ignore_index=True)
        if self.hazard_ratios is not None:
            out["late_fusion_hazard_ratios"] = self.hazard_ratios.table
        if self.cutoff_rules:
            out["risk_group_cutoffs"] = pd.DataFrame([r.row for r in self.cutoff_rules])
        if self.roc:
            out["td_roc_auc"] = pd.DataFrame([{"model": c.model, "cohort": c.cohort, "t": r.t0, "auc": r.auc,
                                               "n_cases": r.n_cases, "n_controls": r.n_controls}
                                              for c in self.roc for r in c.rocs])
        if self.importance is not None:
            out["late_fusion_importance"] = self.importance.table
        if self.nomogram is not None:
            out["nomogram_late_fusion"] = self.nomogram.table
        if self.reclassification is not None and len(self.reclassification.table):
            out["reclassification"] = self.reclassification.table
        return out


def _y_of(frame: pd.DataFrame) -> np.ndarray:
    return make_y(frame["time"].to_numpy(float), frame["event"].to_numpy(bool))


# --------------------------------------------------------------------------------------------------- the stage
def assess_study(predictions: pd.DataFrame, *, development: str, models: Sequence[str], complete_ids: Sequence[str],
                 t0: float | None = None, fusion_scores: pd.DataFrame | None = None, time_unit: str = "months",
                 n_groups: int = 4, primary: str = "late_fusion", roc_times: Sequence[float] | None = None,
                 cutoff_methods: Sequence[str] = ("median", "tertiles", "maxstat"), fixed_cutoff: float | None = None,
                 fusion_formula: pd.DataFrame | None = None, score_models: Mapping[str, str] | None = None,
                 labels: Mapping[str, str] | None = None, random_state: int = 0, reference: str | None = None,
                 reclassified: Sequence[str] | None = None, nri_cutoffs: Sequence[float] = (),
                 n_bootstrap: int = 1000) -> StudyAssessment:
    """Baselines, calibration, decision curves, hazard ratios, cut-off rules, ROC curves, importance, nomogram and
    reclassification.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Index patient_id; columns ``cohort``, ``time``, ``event`` and one risk column per model (higher = worse).
    development : str
        Cohort label used for fitting (baselines, cut-offs, Cox model of the scores); every other label is
        evaluated with them unchanged.
    models : sequence of str
        Risk columns to evaluate.
    complete_ids : sequence of str
        Patients with every modality: decision curves compare all models on these same patients.
    t0 : float, optional
        Time point of calibration and decision curves; default :func:`default_horizon` of the development cohort.
    fusion_scores : pandas.DataFrame, optional
        Development out-of-fold modality scores (late fusion's inputs) with ``time`` and ``event``; when given, a
        multivariable Cox model of the scores (lifelines) gives the hazard ratios.
    time_unit : str
        Unit of time (for the default ROC times).
    n_groups : int
        Risk groups of the calibration.
    primary : str
        Model whose cut-off rules and ROC curves are computed (the first of ``models`` when absent).
    roc_times : sequence of float, optional
        Times of the ROC curves; default :func:`default_roc_times` of the development cohort.
    cutoff_methods : sequence of str
        Rules of :class:`~multisurv.evaluation.cutoffs.RiskCutoff` (``"fixed"`` needs ``fixed_cutoff``).
    fixed_cutoff : float, optional
        A published threshold of the primary score; adds the ``"fixed"`` rule.
    fusion_formula : pandas.DataFrame, optional
        Late fusion's ``term, coef``. With ``fusion_scores`` it gives the importance and the nomogram.
    score_models : mapping, optional
        Score name (a late-fusion term) -> the prediction column of its single-modality model; default the
        built-in modalities' (``radscore`` -> ``radiomics``...).
    labels : mapping, optional
        Display name per model: the name of its decision curve (the ``model`` column of that table).
    random_state : int
        Seeds the permutation importance and the reclassification's bootstrap.
    reference : str, optional
        The "old" model of the reclassification: NRI and IDI at ``t0`` of every model of ``reclassified`` over it,
        from the event probabilities ``1 - S(t0)`` of the development baselines, on each external cohort
        (:func:`~multisurv.study.evaluate.reclassify_models`). None: no reclassification.
    reclassified : sequence of str, optional
        The "new" models; default every model of ``models`` but the reference.
    nri_cutoffs : sequence of float, default=()
        Risk categories (event probabilities by ``t0``) of the categorical NRI; empty: continuous NRI only.
    n_bootstrap : int, default=1000
        Resamples of the NRI and IDI intervals.

    Returns
    -------
    StudyAssessment
        Every result that could be computed; ``skipped`` lists the others, and why.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=90)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 60 + ["external"] * 30,
    ...                      "time": rng.exponential(30 * np.exp(-lp)) + 0.5, "event": rng.random(90) < 0.8,
    ...                      "late_fusion": lp}, index=[f"p{i}" for i in range(90)])
    >>> res = assess_study(pred, development="development", models=["late_fusion"], complete_ids=list(pred.index),
    ...                    cutoff_methods=("median",), roc_times=())
    >>> [c.cohorts for c in res.calibration], [r.method for r in res.cutoff_rules]
    ([('development', 'external')], ['median'])

    With a reference model, every other model's NRI and IDI over it at ``t0`` on the external cohort:

    >>> pred["clinical"] = 0.3 * lp + rng.normal(size=90)
    >>> res = assess_study(pred, development="development", models=["clinical", "late_fusion"],
    ...                    complete_ids=list(pred.index), cutoff_methods=(), roc_times=(), reference="clinical",
    ...                    n_bootstrap=0)
    >>> res.reclassification.table[["model", "reference", "cohort", "kind", "t0"]]
             model reference    cohort        kind    t0
    0  late_fusion  clinical  external  continuous  28.0
    """
    dev = predictions[predictions["cohort"] == development]
    # each other label on its own, then every external patient pooled when there is more than one label
    cohorts = [c for c in evaluation_groups(predictions["cohort"], development) if c != development]
    t0 = default_horizon(dev["time"]) if t0 is None else float(t0)
    out = StudyAssessment(t0=t0, development=development)
    out.survival = _predicted_survival(out, predictions, dev, models, t0)
    out.calibration = _calibration(out.survival, predictions, [development, *cohorts], n_groups, development)
    out.decision_curves = _decision_curves(out, out.survival, predictions, cohorts, complete_ids, dict(labels or {}))
    if fusion_scores is not None and len(fusion_scores):
        out.hazard_ratios = _hazard_ratios(out, fusion_scores)
    primary = primary if primary in predictions else (models[0] if models else None)
    out.primary = primary
    if primary is not None:
        out.cutoff_rules = _cutoff_rules(out, predictions, dev, [development, *cohorts], primary, cutoff_methods,
                                         fixed_cutoff)
        out.roc_times = tuple(float(t) for t in (default_roc_times(dev["time"], time_unit=time_unit)
                                                 if roc_times is None else roc_times))
        out.roc = _roc_curves(out, predictions, [development, *cohorts], primary)
    if fusion_formula is not None and fusion_scores is not None and len(fusion_scores):
        if score_models is None:
            from multisurv.registry import BUILTIN_MODALITIES

            score_models = {m.score: m.name for m in BUILTIN_MODALITIES.values()}
        coef = {str(t): float(c) for t, c in zip(fusion_formula["term"], fusion_formula["coef"])}
        scores = fusion_scores.loc[:, list(coef)].astype(float)
        columns = _score_columns(coef, score_models, predictions)
        out.importance = _fusion_importance(out, predictions, cohorts, coef, scores, columns, random_state)
        out.nomogram = _fusion_nomogram(out, predictions, dev, coef, scores, columns)
    if reference is not None:
        others = [m for m in (models if reclassified is None else reclassified) if m != reference]
        out.reclassification = _reclassification(out, predictions, reference, others, nri_cutoffs, n_bootstrap,
                                                  random_state)
    for note in out.skipped:
        logger.warning("Evaluation figures: %s", note)
    return out


def _reclassification(out: StudyAssessment, predictions: pd.DataFrame, reference: str, models: Sequence[str],
                      cutoffs: Sequence[float], n_bootstrap: int, random_state: int) -> Reclassification | None:
    """NRI and IDI at t0 of each model over the reference, from the development baselines' event probabilities."""
    surv = out.survival.surv
    if reference not in surv.columns:
        out.skipped.append(f"reclassification: the reference model {reference} has no survival at t0 (see above).")
        return None
    usable = [m for m in models if m in surv.columns]
    probs = (1.0 - surv[[reference, *usable]]).join(predictions[["cohort", "time", "event"]])
    found = reclassify_models(probs, development=out.development, reference=reference, models=usable, t0=out.t0,
                              cutoffs=cutoffs, n_bootstrap=n_bootstrap, random_state=random_state)
    out.skipped.extend(found.skipped)
    return found


def _predicted_survival(out: StudyAssessment, predictions: pd.DataFrame, dev: pd.DataFrame, models: Sequence[str],
                        t0: float) -> PredictedSurvival:
    """Survival at t0 for every model and patient, from a baseline fitted on development patients only."""
    from multisurv.evaluation.baseline import BreslowBaseline

    surv = pd.DataFrame(index=predictions.index, dtype=float)
    baselines = {}
    for name in models:
        scored = dev[name].notna()
        if scored.sum() < 2 or not dev.loc[scored, "event"].astype(bool).any():
            out.skipped.append(f"{name}: too few development patients with events for a baseline hazard.")
            continue
        base = BreslowBaseline().fit(_y_of(dev[scored]), dev.loc[scored, name])
        if t0 > base.max_time_:
            out.skipped.append(f"{name}: t0 = {t0:g} is beyond the development follow-up.")
            continue
        risk = predictions[name]
        surv.loc[risk.notna(), name] = base.predict_survival(risk[risk.notna()], t0)
        baselines[name] = base
    return PredictedSurvival(t0=t0, baselines=baselines, surv=surv)


def _members(predictions: pd.DataFrame, label: str, development: str) -> pd.Series:
    """Rows of cohort ``label`` as :func:`~multisurv.study.evaluate.evaluation_groups` defines it (the pooled
    external cohort included)."""
    ids = evaluation_groups(predictions["cohort"], development).get(label, [])
    return pd.Series(predictions.index.isin(ids), index=predictions.index)


def _calibration(survival: PredictedSurvival, predictions: pd.DataFrame, cohorts: Sequence[str],
                 n_groups: int, development: str) -> list[CalibrationCurves]:
    from multisurv.evaluation.calibration import calibration_at

    surv, t0 = survival.surv, survival.t0
    out = []
    for name in surv.columns:
        results, names, rows = [], [], []
        for label in cohorts:
            part = predictions[_members(predictions, label, development) & surv[name].notna()]
            if len(part) < 2 * n_groups or not part["event"].astype(bool).any():
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # empty bands at zero survival
                res = calibration_at(_y_of(part), surv.loc[part.index, name], t0, n_groups=n_groups)
            results.append(res)
            names.append(label)
            rows.append(res.to_frame().assign(model=name, cohort=label))
        if results:
            out.append(CalibrationCurves(model=name, cohorts=tuple(names), results=tuple(results),
                                         table=pd.concat(rows, ignore_index=True)))
    return out


def _decision_curves(out: StudyAssessment, survival: PredictedSurvival, predictions: pd.DataFrame,
                     cohorts: Sequence[str], complete_ids: Sequence[str],
                     labels: Mapping[str, str]) -> list[DecisionCurves]:
    """Net benefit of every model on each external cohort's complete cases, on the same patients."""
    from multisurv.evaluation.decision_curve import decision_curve

    surv, t0 = survival.surv, survival.t0
    found = []
    for label in cohorts:
        members = _members(predictions, label, out.development)
        ids = [i for i in complete_ids if i in predictions.index and members.loc[i]]
        part = predictions.loc[ids]
        usable = [m for m in surv.columns if surv.loc[ids, m].notna().all()]
        if len(part) < 10 or not usable:
            out.skipped.append(f"decision curve, {label}: {len(part)} complete-case patients.")
            continue
        try:
            curves = [decision_curve(_y_of(part), 1.0 - surv.loc[ids, m], t0, name=labels.get(m, m),
                                     thresholds=DECISION_THRESHOLDS) for m in usable]
        except ValueError as exc:  # e.g. everyone censored before t0
            out.skipped.append(f"decision curve, {label}: {exc}")
            continue
        found.append(DecisionCurves(cohort=label, n=len(part), curves=tuple(curves),
                                    table=pd.concat([c.to_frame().assign(cohort=label) for c in curves],
                                                    ignore_index=True)))
    return found


def _hazard_ratios(out: StudyAssessment, fusion_scores: pd.DataFrame) -> HazardRatios | None:
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    data = fusion_scores.dropna()
    constant = [c for c in data.columns if c not in ("time", "event") and data[c].nunique() < 2]
    if constant:  # a score that selected no feature is constant: it has no hazard ratio
        out.skipped.append("forest plot: constant score(s) " + ", ".join(constant) + " left out.")
        data = data.drop(columns=constant)
    try:
        summary = (CoxPHFitter().fit(data, duration_col="time", event_col="event").summary
                   if data.shape[1] > 2 else None)
    except ConvergenceError as exc:
        summary = None
        out.skipped.append(f"forest plot: the Cox model of the scores did not converge ({str(exc)[:80]}).")
    if summary is None:
        return None
    table = pd.DataFrame({"term": summary.index, "hr": summary["exp(coef)"].to_numpy(),
                          "lower": summary["exp(coef) lower 95%"].to_numpy(),
                          "upper": summary["exp(coef) upper 95%"].to_numpy(), "p": summary["p"].to_numpy()})
    return HazardRatios(n=len(data), table=table)


def _cutoff_rules(out: StudyAssessment, predictions: pd.DataFrame, dev: pd.DataFrame, cohorts: Sequence[str],
                  primary: str, methods: Sequence[str], fixed_cutoff: float | None) -> list[CutoffRule]:
    """The primary model's cut-off rules, fitted on development only, and the groups they give on each cohort."""
    from multisurv.evaluation.cutoffs import RiskCutoff

    methods = list(methods) + (["fixed"] if fixed_cutoff is not None and "fixed" not in methods else [])
    scored_dev = dev[dev[primary].notna()]
    rules = []
    for method in methods:
        try:
            cut = RiskCutoff(method=method, value=fixed_cutoff).fit(_y_of(scored_dev), scored_dev[primary])
        except ValueError as exc:
            out.skipped.append(f"{method} cut-off of {primary}: {exc}")
            continue
        groups = []
        for label in cohorts:
            part = predictions[_members(predictions, label, out.development) & predictions[primary].notna()]
            assigned = cut.transform(part[primary])
            # on other cohorts the rule (and a maxstat corrected p) is the development one, applied unchanged
            origin = "" if label == out.development else "fitted on development: "
            if len(part) < 10 or np.unique(assigned).size < 2:
                out.skipped.append(f"risk groups ({method}), {label}: fewer than two groups or 10 patients.")
                continue
            groups.append(CutoffGroups(cohort=label, y=_y_of(part), risk=part[primary], groups=assigned,
                                       origin=origin))
        row = {"model": primary, "method": method, "cutoffs": ";".join(f"{c:.6g}" for c in cut.cutoffs_),
               "statistic": cut.maxstat_.statistic if cut.maxstat_ else np.nan,
               "corrected_p": cut.maxstat_.p_value if cut.maxstat_ else np.nan}
        rules.append(CutoffRule(model=primary, method=method, cutoff=cut, description=cut.describe(),
                                n_development=len(scored_dev), groups=tuple(groups), row=row))
    return rules


def _roc_curves(out: StudyAssessment, predictions: pd.DataFrame, cohorts: Sequence[str],
                primary: str) -> list[RocCurves]:
    """Time-dependent ROC curves of the primary model at the ROC times, per cohort."""
    from multisurv.evaluation.td_auc import time_dependent_roc

    found = []
    for label in cohorts:
        part = predictions[_members(predictions, label, out.development) & predictions[primary].notna()]
        rocs = []
        for t in out.roc_times:
            try:
                rocs.append(time_dependent_roc(_y_of(part), part[primary], t))
            except ValueError as exc:
                out.skipped.append(f"ROC at t = {t:g}, {label}: {exc}")
        if rocs:
            found.append(RocCurves(model=primary, cohort=label, n=len(part), rocs=tuple(rocs)))
    return found


def _score_columns(terms, score_models: Mapping[str, str], predictions: pd.DataFrame) -> dict[str, str]:
    """Prediction column of each late-fusion term: the term itself, or its modality's model."""
    found = {}
    for term in terms:
        if term in predictions:
            found[term] = term
        elif score_models.get(term) in predictions:
            found[term] = score_models[term]
    return found


def _fusion_importance(out: StudyAssessment, predictions: pd.DataFrame, cohorts: Sequence[str], coef: dict,
                       scores: pd.DataFrame, columns: dict, random_state: int) -> FusionImportance:
    """Standardised coefficients (development SDs) and permutation importance on each other cohort."""
    from multisurv.evaluation.importance import LinearRisk, permutation_importance_cindex, standardised_coefficients

    coefficients = standardised_coefficients(coef, scores)
    parts = [coefficients.assign(kind="standardised coefficient (development)")]
    permutation = []
    if len(columns) == len(coef):
        model = LinearRisk(coef=coef).fit(scores)
        for label in cohorts:
            part = predictions[_members(predictions, label, out.development)]
            X = part.loc[:, [columns[t] for t in coef]].set_axis(list(coef), axis=1)
            X = X[X.notna().all(axis=1)]
            if len(X) < 20 or not part.loc[X.index, "event"].astype(bool).any():
                out.skipped.append(f"permutation importance, {label}: {len(X)} patients with every score.")
                continue
            perm = permutation_importance_cindex(model, X, _y_of(part.loc[X.index]), n_repeats=20,
                                                 random_state=random_state)
            parts.append(perm.assign(kind=f"permutation, {label}"))
            permutation.append(PermutationImportance(cohort=label, n=len(X), table=perm))
    else:
        out.skipped.append("permutation importance: the late-fusion scores are not all among the predictions.")
    return FusionImportance(coefficients=coefficients, permutation=tuple(permutation),
                            table=pd.concat(parts, ignore_index=True))


def _fusion_nomogram(out: StudyAssessment, predictions: pd.DataFrame, dev: pd.DataFrame, coef: dict,
                     scores: pd.DataFrame, columns: dict) -> NomogramResult | None:
    """The nomogram of the late-fusion formula, with the development baseline of the late-fusion risk.

    The baseline is the one of the calibration (development y and the model's risk), provided the formula
    reproduces that risk; the axes span the development scores.
    """
    from multisurv.evaluation.baseline import BreslowBaseline
    from multisurv.evaluation.nomogram import cox_nomogram, nomogram_values

    fused = "late_fusion"
    if fused not in predictions or len(columns) != len(coef):
        out.skipped.append("nomogram: the late-fusion risk or its scores are not among the predictions.")
        return None
    scored = dev[dev[fused].notna()]
    complete = scored[scored[[columns[t] for t in coef]].notna().all(axis=1)]
    lp = complete.loc[:, [columns[t] for t in coef]].to_numpy(float) @ np.array(list(coef.values()))
    # The formula table keeps 6 significant digits, so the reproduced risk differs by ~1e-6 x score (measured
    # 2.7e-6 in the demo); a wrong formula differs by orders of magnitude more.
    if len(complete) == 0 or not np.allclose(lp, complete[fused].to_numpy(float), rtol=1e-4, atol=1e-4):
        out.skipped.append("nomogram: the late-fusion formula does not reproduce the late-fusion risk.")
        return None
    base = BreslowBaseline().fit(_y_of(scored), scored[fused])
    times = tuple(sorted(t for t in dict.fromkeys([*out.roc_times, out.t0]) if t <= base.max_time_))
    nom = cox_nomogram(coef, nomogram_values(scores), baseline=base, times=list(times))
    rows = [axis.assign(axis=name) for name, axis in nom.axes.items()]
    rows += [axis.rename(columns={"survival": "value"}).assign(axis=f"survival at {t:g}")
             for t, axis in nom.survival_axes.items()]
    return NomogramResult(nomogram=nom, times=times, columns=dict(columns), table=pd.concat(rows, ignore_index=True))
