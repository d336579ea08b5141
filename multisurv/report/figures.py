"""The study's evaluation figures beyond Kaplan-Meier: calibration, decision curves, C-index comparison, forest.

Everything here is computed from the study's predictions; the only fitted quantity, the Breslow baseline that
turns a risk score into survival at ``t0``, is fitted on development patients only.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from multisurv._atomic import write_csv_atomic
from multisurv._validation import make_y

__all__ = ["EvaluationFigures", "default_horizon", "write_evaluation_figures"]

logger = logging.getLogger(__name__)


@dataclass
class EvaluationFigures:
    """What :func:`write_evaluation_figures` wrote (paths relative to the run folder) and at which time."""

    t0: float
    figures: dict[str, list[str]] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def default_horizon(time: ArrayLike) -> float:
    """Default time point for calibration and decision curves: the development cohort's median follow-up.

    The median observed time (events and censorings) keeps roughly half of the patients under observation at
    ``t0``, so the Kaplan-Meier estimates behind both figures rest on many patients. Rounded to a whole unit.

    Examples
    --------
    >>> default_horizon([10.0, 20.0, 31.0, 40.0])
    26.0
    """
    return float(max(1.0, np.round(np.median(np.asarray(time, dtype=float)))))



def write_evaluation_figures(run_dir: str | Path, predictions: pd.DataFrame, *, development: str,
                             models: Sequence[str], labels: Mapping[str, str], metrics: pd.DataFrame,
                             complete_ids: Sequence[str], t0: float | None = None,
                             fusion_scores: pd.DataFrame | None = None, time_unit: str = "months",
                             n_groups: int = 4) -> EvaluationFigures:
    """Write calibration, decision-curve, C-index and forest figures (PNG 300 dpi + PDF) and their CSV tables.

    Parameters
    ----------
    run_dir : path
        The study's run folder; figures go to ``figures/``, tables to ``tables/``.
    predictions : pandas.DataFrame
        Index patient_id; columns ``cohort``, ``time``, ``event`` and one risk column per model.
    development : str
        Cohort label used for fitting (the Breslow baselines); every other label is evaluated.
    models : sequence of str
        Risk columns to evaluate.
    labels : mapping
        Display name per model.
    metrics : pandas.DataFrame
        The study's metrics (for the C-index comparison; the ``available`` subset is drawn).
    complete_ids : sequence of str
        Patients with every modality: decision curves compare all models on these same patients.
    t0 : float, optional
        Time point; default :func:`default_horizon` of the development cohort.
    fusion_scores : pandas.DataFrame, optional
        Development out-of-fold modality scores (late fusion's inputs) with ``time`` and ``event``; when given,
        a multivariable Cox model of the scores (lifelines) gives the hazard-ratio forest plot.
    time_unit : str
        Unit of time in axis labels.
    n_groups : int
        Risk groups of the calibration plots.

    Returns
    -------
    EvaluationFigures
    """
    import matplotlib.pyplot as plt

    from multisurv.evaluation.baseline import BreslowBaseline
    from multisurv.evaluation.calibration import calibration_at
    from multisurv.evaluation.decision_curve import decision_curve
    from multisurv.plotting.calibration import plot_calibration
    from multisurv.plotting.cindex import plot_cindex_comparison
    from multisurv.plotting.decision_curve import plot_decision_curve
    from multisurv.plotting.export import save_figure
    from multisurv.plotting.forest import plot_forest

    run_dir = Path(run_dir)
    figures_dir = run_dir / "figures"
    dev = predictions[predictions["cohort"] == development]
    cohorts = [c for c in pd.unique(predictions["cohort"]) if c != development]
    t0 = default_horizon(dev["time"]) if t0 is None else float(t0)
    out = EvaluationFigures(t0=t0)

    def save(fig, stem: str) -> None:
        paths = save_figure(fig, figures_dir / stem, formats=("png", "pdf"), dpi=300)
        out.figures[stem] = [str(p.relative_to(run_dir)) for p in paths]
        plt.close(fig)

    def y_of(frame: pd.DataFrame) -> np.ndarray:
        return make_y(frame["event"].to_numpy(bool), frame["time"].to_numpy(float))

    # Survival at t0 for every model and patient, from a baseline fitted on development patients only.
    surv = pd.DataFrame(index=predictions.index, dtype=float)
    for name in models:
        scored = dev[name].notna()
        if scored.sum() < 2 or not dev.loc[scored, "event"].astype(bool).any():
            out.skipped.append(f"{name}: too few development patients with events for a baseline hazard.")
            continue
        base = BreslowBaseline().fit(y_of(dev[scored]), dev.loc[scored, name])
        if t0 > base.max_time_:
            out.skipped.append(f"{name}: t0 = {t0:g} is beyond the development follow-up.")
            continue
        risk = predictions[name]
        surv.loc[risk.notna(), name] = base.predict_survival(risk[risk.notna()], t0)

    calibration_rows = []
    for name in surv.columns:
        results, names = [], []
        for label in [development, *cohorts]:
            part = predictions[(predictions["cohort"] == label) & surv[name].notna()]
            if len(part) < 2 * n_groups or not part["event"].astype(bool).any():
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # empty bands at zero survival
                res = calibration_at(y_of(part), surv.loc[part.index, name], t0, n_groups=n_groups)
            results.append(res)
            names.append(label)
            calibration_rows.append(res.to_frame().assign(model=name, cohort=label))
        if results:
            fig, ax = plt.subplots(figsize=(4.8, 4.8))
            plot_calibration(*results, labels=names, ax=ax, time_unit=time_unit)
            ax.set_title(labels.get(name, name))
            save(fig, f"calibration_{name}")
    if calibration_rows:
        path = run_dir / "tables" / "calibration.csv"
        write_csv_atomic(path, pd.concat(calibration_rows, ignore_index=True), index=False, float_format="%.6g")
        out.tables["calibration"] = str(path.relative_to(run_dir))

    curve_rows = []
    for label in cohorts:
        ids = [i for i in complete_ids if i in predictions.index and predictions.loc[i, "cohort"] == label]
        part = predictions.loc[ids]
        usable = [m for m in surv.columns if surv.loc[ids, m].notna().all()]
        if len(part) < 10 or not usable:
            out.skipped.append(f"decision curve, {label}: {len(part)} complete-case patients.")
            continue
        try:
            curves = [decision_curve(y_of(part), 1.0 - surv.loc[ids, m], t0, name=labels.get(m, m),
                                     thresholds=np.round(np.arange(0.02, 0.96, 0.02), 2)) for m in usable]
        except ValueError as exc:  # e.g. everyone censored before t0
            out.skipped.append(f"decision curve, {label}: {exc}")
            continue
        fig, ax = plt.subplots(figsize=(5.6, 4.4))
        plot_decision_curve(*curves, ax=ax, time_unit=time_unit)
        ax.set_title(f"{label} cohort, complete cases (n = {len(part)})")
        save(fig, f"decision_curve_{label}")
        curve_rows += [c.to_frame().assign(cohort=label) for c in curves]
    if curve_rows:
        path = run_dir / "tables" / "decision_curve.csv"
        write_csv_atomic(path, pd.concat(curve_rows, ignore_index=True), index=False, float_format="%.6g")
        out.tables["decision_curve"] = str(path.relative_to(run_dir))

    shown = metrics if "subset" not in metrics else metrics[metrics["subset"] == "available"]
    if "cindex" in shown and shown["cindex"].notna().any():
        fig, ax = plt.subplots(figsize=(6.0, 0.5 * shown["model"].nunique() + 1.4))
        plot_cindex_comparison(shown, ax=ax, labels=dict(labels))
        save(fig, "cindex_comparison")

    if fusion_scores is not None and len(fusion_scores):
        from lifelines import CoxPHFitter

        data = fusion_scores.dropna()
        summary = CoxPHFitter().fit(data, duration_col="time", event_col="event").summary
        table = pd.DataFrame({"term": summary.index, "hr": summary["exp(coef)"].to_numpy(),
                              "lower": summary["exp(coef) lower 95%"].to_numpy(),
                              "upper": summary["exp(coef) upper 95%"].to_numpy(), "p": summary["p"].to_numpy()})
        path = run_dir / "tables" / "late_fusion_hazard_ratios.csv"
        write_csv_atomic(path, table, index=False, float_format="%.6g")
        out.tables["late_fusion_hazard_ratios"] = str(path.relative_to(run_dir))
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(table) + 1.4))
        plot_forest(table, ax=ax, xlabel="Hazard ratio per unit of score (95% CI)")
        ax.set_title(f"Late fusion inputs, development cohort (n = {len(data)})")
        save(fig, "forest_late_fusion")
    for note in out.skipped:
        logger.warning("Evaluation figures: %s", note)
    return out
