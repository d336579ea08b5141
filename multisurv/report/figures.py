"""The study's evaluation figures beyond the per-model Kaplan-Meier curves.

Calibration, decision curves, C-index comparison, forest plot, risk groups by several cut-off rules, time-dependent
ROC curves, the late-fusion nomogram and feature importance. Everything is computed from the study's predictions;
the fitted quantities (Breslow baselines, cut-offs) are fitted on development patients only and applied unchanged
to the other cohorts.
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

__all__ = ["EvaluationFigures", "default_horizon", "default_roc_times", "write_evaluation_figures",
           "write_km_figures", "write_icc_figure"]

logger = logging.getLogger(__name__)


@dataclass
class EvaluationFigures:
    """What :func:`write_evaluation_figures` wrote (paths relative to the run folder) and at which time."""

    t0: float
    figures: dict[str, list[str]] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    primary: str | None = None
    roc_times: tuple = ()
    cutoffs: dict[str, str] = field(default_factory=dict)

    def write_table(self, run_dir: Path, name: str, frame: pd.DataFrame) -> None:
        """Write ``frame`` to ``run_dir/tables/<name>.csv`` and record it under ``tables[name]``."""
        path = Path(run_dir) / "tables" / f"{name}.csv"
        write_csv_atomic(path, frame, index=False, float_format="%.6g")
        self.tables[name] = str(path.relative_to(run_dir))


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


def default_roc_times(time: ArrayLike, *, time_unit: str = "months") -> tuple[float, ...]:
    """Times of the time-dependent ROC curves: 1, 3 and 5 years inside the follow-up, else follow-up quartiles.

    Years are used when ``time_unit`` is months, days or years and at least two of them lie before the 90th
    percentile of the observed times (so enough patients remain under observation); otherwise the 25th, 50th and
    75th percentiles of the observed times, rounded.

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



def write_icc_figure(run_dir: str | Path, name: str, icc: pd.DataFrame, *, method: str, icc_min: float) -> str:
    """The ICC histogram of one modality's features (PNG 300 dpi + PDF); returns the PNG path relative to the run."""
    import matplotlib.pyplot as plt

    from multisurv.plotting.export import save_figure
    from multisurv.plotting.icc import plot_icc

    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    plot_icc(icc, method=method, icc_min=icc_min, ax=ax, title=f"{name}: feature reproducibility")
    paths = save_figure(fig, Path(run_dir) / "figures" / f"icc_{name}", formats=("png", "pdf"), dpi=300)
    plt.close(fig)
    return str(paths[0].relative_to(run_dir))


def write_km_figures(run_dir: str | Path, risk_groups: Sequence, labels: Mapping[str, str]) -> list[Path]:
    """Kaplan-Meier figures (PNG 300 dpi + PDF) of each model's median risk groups on each cohort.

    ``risk_groups`` are the :class:`~multisurv.study.evaluate.RiskGroups` that the evaluation computed (``model``,
    ``cohort``, ``y``, ``groups``); drawing fits nothing. Returns the PNG paths.
    """
    import matplotlib.pyplot as plt

    from multisurv.plotting.export import save_figure
    from multisurv.plotting.km import plot_km

    written = []
    for item in risk_groups:
        fig, ax = plt.subplots(figsize=(6.0, 5.0))
        plot_km(item.y, item.groups, ax=ax, labels={"low": "Low risk", "high": "High risk"},
                title=f"{labels.get(item.model, item.model)}: {item.cohort} cohort")
        stem = f"km_{item.model}_{item.cohort}".replace(" ", "_").replace("(", "").replace(")", "")
        paths = save_figure(fig, Path(run_dir) / "figures" / stem, formats=("png", "pdf"), dpi=300)
        plt.close(fig)
        written.append(paths[0])
    return written


def write_evaluation_figures(run_dir: str | Path, predictions: pd.DataFrame, *, development: str,
                             models: Sequence[str], labels: Mapping[str, str], metrics: pd.DataFrame,
                             complete_ids: Sequence[str], t0: float | None = None,
                             fusion_scores: pd.DataFrame | None = None, time_unit: str = "months",
                             n_groups: int = 4, primary: str = "late_fusion", roc_times: Sequence[float] | None = None,
                             cutoff_methods: Sequence[str] = ("median", "tertiles", "maxstat"),
                             fixed_cutoff: float | None = None, fusion_formula: pd.DataFrame | None = None,
                             score_models: Mapping[str, str] | None = None,
                             random_state: int = 0) -> EvaluationFigures:
    """Write the evaluation figures (PNG 300 dpi + PDF) and their CSV tables.

    Calibration, decision curves, C-index comparison and forest plot as before; for the ``primary`` model also
    Kaplan-Meier curves of the risk groups of each cut-off rule (fitted on development, applied unchanged to every
    cohort) with the maximally selected statistic's scan, time-dependent ROC curves, the nomogram of the late-fusion
    formula and its feature importance (standardised coefficients; permutation importance on each other cohort).

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
    primary : str
        Model whose risk groups and ROC curves are drawn (the first of ``models`` when absent).
    roc_times : sequence of float, optional
        Times of the ROC curves; default :func:`default_roc_times` of the development cohort.
    cutoff_methods : sequence of str
        Cut-off rules of :class:`~multisurv.evaluation.cutoffs.RiskCutoff` to draw (``"fixed"`` needs
        ``fixed_cutoff``).
    fixed_cutoff : float, optional
        A published threshold of the primary score; adds the ``"fixed"`` rule.
    fusion_formula : pandas.DataFrame, optional
        Late fusion's ``term, coef``. With ``fusion_scores`` it gives the nomogram and the importance figures.
    score_models : mapping, optional
        Score name (a late-fusion term) -> the prediction column of its single-modality model; default the
        built-in modalities' (``radscore`` -> ``radiomics``...).
    random_state : int
        Seeds the permutation importance.

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
        return make_y(frame["time"].to_numpy(float), frame["event"].to_numpy(bool))

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
        out.write_table(run_dir, "calibration", pd.concat(calibration_rows, ignore_index=True))

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
        out.write_table(run_dir, "decision_curve", pd.concat(curve_rows, ignore_index=True))

    shown = metrics if "subset" not in metrics else metrics[metrics["subset"] == "available"]
    if "cindex" in shown and shown["cindex"].notna().any():
        fig, ax = plt.subplots(figsize=(6.0, 0.5 * shown["model"].nunique() + 1.4))
        plot_cindex_comparison(shown, ax=ax, labels=dict(labels))
        save(fig, "cindex_comparison")

    if fusion_scores is not None and len(fusion_scores):
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
        if summary is not None:
            table = pd.DataFrame({"term": summary.index, "hr": summary["exp(coef)"].to_numpy(),
                                  "lower": summary["exp(coef) lower 95%"].to_numpy(),
                                  "upper": summary["exp(coef) upper 95%"].to_numpy(), "p": summary["p"].to_numpy()})
            out.write_table(run_dir, "late_fusion_hazard_ratios", table)
            fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(table) + 1.4))
            plot_forest(table, ax=ax, xlabel="Hazard ratio per unit of score (95% CI)")
            ax.set_title(f"Late fusion inputs, development cohort (n = {len(data)})")
            save(fig, "forest_late_fusion")
    primary = primary if primary in predictions else (models[0] if models else None)
    out.primary = primary
    if primary is not None:
        _risk_group_figures(out, predictions, dev, cohorts, primary, labels, cutoff_methods, fixed_cutoff, time_unit,
                            save, run_dir, y_of)
        _roc_figures(out, predictions, dev, [development, *cohorts], primary, labels, roc_times, time_unit, save,
                     run_dir, y_of)
    if fusion_formula is not None and fusion_scores is not None and len(fusion_scores):
        if score_models is None:
            from multisurv.registry import BUILTIN_MODALITIES

            score_models = {m.score: m.name for m in BUILTIN_MODALITIES.values()}
        _fusion_figures(out, predictions, dev, cohorts, fusion_formula, fusion_scores, labels, t0, time_unit, save,
                        run_dir, y_of, random_state, score_models)
    for note in out.skipped:
        logger.warning("Evaluation figures: %s", note)
    return out


def _risk_group_figures(out, predictions, dev, cohorts, primary, labels, methods, fixed_cutoff, time_unit, save,
                        run_dir, y_of) -> None:
    """KM curves of the primary model's risk groups for each cut-off rule, fitted on development only."""
    import matplotlib.pyplot as plt

    from multisurv.evaluation.cutoffs import RiskCutoff
    from multisurv.plotting.cutoff import plot_maxstat_scan
    from multisurv.plotting.km import plot_risk_groups

    methods = list(methods) + (["fixed"] if fixed_cutoff is not None and "fixed" not in methods else [])
    scored_dev = dev[dev[primary].notna()]
    rows = []
    name = labels.get(primary, primary)
    for method in methods:
        try:
            cut = RiskCutoff(method=method, value=fixed_cutoff).fit(y_of(scored_dev), scored_dev[primary])
        except ValueError as exc:
            out.skipped.append(f"{method} cut-off of {primary}: {exc}")
            continue
        out.cutoffs[method] = cut.describe()
        rows.append({"model": primary, "method": method, "cutoffs": ";".join(f"{c:.6g}" for c in cut.cutoffs_),
                     "statistic": cut.maxstat_.statistic if cut.maxstat_ else np.nan,
                     "corrected_p": cut.maxstat_.p_value if cut.maxstat_ else np.nan})
        for label in [dev["cohort"].iloc[0], *cohorts]:
            part = predictions[(predictions["cohort"] == label) & predictions[primary].notna()]
            groups = cut.transform(part[primary])
            # on other cohorts the rule (and a maxstat corrected p) is the development one, applied unchanged
            origin = "" if label == dev["cohort"].iloc[0] else "fitted on development: "
            if len(part) < 10 or np.unique(groups).size < 2:
                out.skipped.append(f"risk groups ({method}), {label}: fewer than two groups or 10 patients.")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # empty bands where a curve reaches 0
                # plot_km makes the figure itself so it can widen it for the statistics box
                ax = plot_risk_groups(y_of(part), part[primary], cut, time_unit=time_unit,
                                      title=f"{name}, {label} cohort\n{origin}{cut.describe()}")
            save(ax.figure, f"riskgroups_{primary}_{method}_{label}")
        if cut.maxstat_ is not None:
            fig, ax = plt.subplots(figsize=(5.6, 4.0))
            plot_maxstat_scan(cut.maxstat_, ax=ax, xlabel=f"Cut-off of the {name} risk score")
            ax.set_title(f"Maximally selected log-rank statistic, development (n = {len(scored_dev)})")
            save(fig, f"maxstat_scan_{primary}")
    if rows:
        out.write_table(run_dir, "risk_group_cutoffs", pd.DataFrame(rows))


def _roc_figures(out, predictions, dev, cohorts, primary, labels, roc_times, time_unit, save, run_dir, y_of) -> None:
    """Time-dependent ROC curves of the primary model at the ROC times, one figure per cohort."""
    import matplotlib.pyplot as plt

    from multisurv.evaluation.td_auc import time_dependent_roc
    from multisurv.plotting.td_roc import plot_td_roc

    times = tuple(float(t) for t in (default_roc_times(dev["time"], time_unit=time_unit) if roc_times is None
                                     else roc_times))
    out.roc_times = times
    rows = []
    for label in cohorts:
        part = predictions[(predictions["cohort"] == label) & predictions[primary].notna()]
        rocs = []
        for t in times:
            try:
                rocs.append(time_dependent_roc(y_of(part), part[primary], t))
            except ValueError as exc:
                out.skipped.append(f"ROC at t = {t:g}, {label}: {exc}")
        if not rocs:
            continue
        rows += [{"model": primary, "cohort": label, "t": r.t0, "auc": r.auc, "n_cases": r.n_cases,
                  "n_controls": r.n_controls} for r in rocs]
        fig, ax = plt.subplots(figsize=(4.8, 4.8))
        plot_td_roc(*rocs, ax=ax, time_unit=time_unit)
        ax.set_title(f"{labels.get(primary, primary)}, {label} cohort (n = {len(part)})")
        save(fig, f"td_roc_{primary}_{label}")
    if rows:
        out.write_table(run_dir, "td_roc_auc", pd.DataFrame(rows))


def _score_columns(terms, score_models: Mapping[str, str], predictions: pd.DataFrame) -> dict[str, str]:
    """Prediction column of each late-fusion term: the term itself, or its modality's model."""
    found = {}
    for term in terms:
        if term in predictions:
            found[term] = term
        elif score_models.get(term) in predictions:
            found[term] = score_models[term]
    return found


def _fusion_figures(out, predictions, dev, cohorts, formula, fusion_scores, labels, t0, time_unit, save, run_dir,
                    y_of, random_state, score_models) -> None:
    """Nomogram of the late-fusion formula and its importance (coefficients per SD; permutation on other cohorts)."""
    import matplotlib.pyplot as plt

    from multisurv.evaluation.baseline import BreslowBaseline
    from multisurv.evaluation.importance import LinearRisk, permutation_importance_cindex, standardised_coefficients
    from multisurv.evaluation.nomogram import cox_nomogram, nomogram_values
    from multisurv.plotting.importance import plot_importance
    from multisurv.plotting.nomogram import plot_nomogram

    coef = {str(t): float(c) for t, c in zip(formula["term"], formula["coef"])}
    scores = fusion_scores.loc[:, list(coef)].astype(float)
    columns = _score_columns(coef, score_models, predictions)

    table = standardised_coefficients(coef, scores)
    importance = [table.assign(kind="standardised coefficient (development)")]
    fig, ax = plt.subplots(figsize=(5.6, 0.4 * len(table) + 1.4))
    plot_importance(table, value="std_coef", ax=ax, xlabel="log hazard ratio per SD of the score (development)")
    ax.set_title("Late fusion: standardised coefficients")
    save(fig, "importance_late_fusion_coefficients")

    if len(columns) == len(coef):
        model = LinearRisk(coef=coef).fit(scores)
        for label in cohorts:
            part = predictions[predictions["cohort"] == label]
            X = part.loc[:, [columns[t] for t in coef]].set_axis(list(coef), axis=1)
            X = X[X.notna().all(axis=1)]
            if len(X) < 20 or not part.loc[X.index, "event"].astype(bool).any():
                out.skipped.append(f"permutation importance, {label}: {len(X)} patients with every score.")
                continue
            perm = permutation_importance_cindex(model, X, y_of(part.loc[X.index]), n_repeats=20,
                                                 random_state=random_state)
            importance.append(perm.assign(kind=f"permutation, {label}"))
            fig, ax = plt.subplots(figsize=(5.6, 0.4 * len(perm) + 1.4))
            plot_importance(perm, value="importance_mean", error="importance_std", ax=ax,
                            xlabel="Drop in Harrell's C when permuted (mean, SD of 20)")
            ax.set_title(f"Late fusion, {label} cohort (n = {len(X)}, C = {perm['baseline_cindex'].iloc[0]:.3f})")
            save(fig, f"importance_late_fusion_permutation_{label}")
    else:
        out.skipped.append("permutation importance: the late-fusion scores are not all among the predictions.")
    out.write_table(run_dir, "late_fusion_importance", pd.concat(importance, ignore_index=True))

    # Nomogram: the baseline is the one of the calibration figures (development y and the model's risk), provided
    # the formula reproduces that risk; the axes span the development scores.
    fused = "late_fusion"
    if fused not in predictions or len(columns) != len(coef):
        out.skipped.append("nomogram: the late-fusion risk or its scores are not among the predictions.")
        return
    scored = dev[dev[fused].notna()]
    complete = scored[scored[[columns[t] for t in coef]].notna().all(axis=1)]
    lp = complete.loc[:, [columns[t] for t in coef]].to_numpy(float) @ np.array(list(coef.values()))
    # The formula table keeps 6 significant digits, so the reproduced risk differs by ~1e-6 x score (measured
    # 2.7e-6 in the demo); a wrong formula differs by orders of magnitude more.
    if len(complete) == 0 or not np.allclose(lp, complete[fused].to_numpy(float), rtol=1e-4, atol=1e-4):
        out.skipped.append("nomogram: the late-fusion formula does not reproduce the late-fusion risk.")
        return
    base = BreslowBaseline().fit(y_of(scored), scored[fused])
    times = tuple(t for t in dict.fromkeys([*out.roc_times, t0]) if t <= base.max_time_)
    nom = cox_nomogram(coef, nomogram_values(scores), baseline=base, times=sorted(times))
    fig, ax = plt.subplots(figsize=(8.0, 0.55 * (4 + len(coef) + len(times)) + 0.6))
    plot_nomogram(nom, ax=ax, labels={t: labels.get(columns[t], t) for t in coef}, time_unit=time_unit)
    ax.set_title("Late fusion nomogram (baseline hazard: development cohort)")
    save(fig, "nomogram_late_fusion")
    rows = [axis.assign(axis=name) for name, axis in nom.axes.items()]
    rows += [axis.rename(columns={"survival": "value"}).assign(axis=f"survival at {t:g}")
             for t, axis in nom.survival_axes.items()]
    out.write_table(run_dir, "nomogram_late_fusion", pd.concat(rows, ignore_index=True))
