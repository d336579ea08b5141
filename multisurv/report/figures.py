"""The study's evaluation figures: drawn from the results the evaluation stage computed, fitting nothing.

:func:`write_km_figures` draws the median risk groups of :func:`multisurv.study.evaluate.evaluate_study`;
:func:`write_evaluation_figures` draws the :class:`~multisurv.study.assessment.StudyAssessment` of
:func:`multisurv.study.assessment.assess_study` (calibration, decision curves, forest plot, risk groups by several
cut-off rules with the maxstat scan, time-dependent ROC curves, the late-fusion nomogram and feature importance)
and the C-index comparison of the metrics, and writes the tables those results carry. Every baseline, cut-off and
model behind them was fitted on development patients in the evaluation stage (``tests/test_architecture.py``
checks that no module here fits anything).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pandas as pd

from multisurv._atomic import write_csv_atomic

__all__ = ["EvaluationFigures", "write_evaluation_figures", "write_km_figures", "write_icc_figure"]

@dataclass
class EvaluationFigures:
    """What :func:`write_evaluation_figures` wrote (paths relative to the run folder) and at which time.

    Parameters
    ----------
    t0 : float
        Time point of the calibration and decision curves.
    figures : dict of str to list of str, default={}
        Figure stem -> its files (PNG, PDF), relative to the run folder.
    tables : dict of str to str, default={}
        Table name -> its CSV, relative to the run folder.
    skipped : list of str, default=[]
        What could not be computed or drawn, and why.
    primary : str, optional
        The model whose cut-off rules and ROC curves were drawn.
    roc_times : tuple of float, default=()
        Times of the ROC curves.
    cutoffs : dict of str to str, default={}
        Cut-off rule -> its description.
    reclassification : Reclassification, optional
        The assessment's NRI and IDI over the reference model (:class:`~multisurv.study.evaluate.Reclassification`),
        for the report's section; its table is ``tables/reclassification.csv``.

    Examples
    --------
    >>> out = EvaluationFigures(t0=36.0, primary="late_fusion")
    >>> out.figures, out.skipped
    ({}, [])
    """

    t0: float
    figures: dict[str, list[str]] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    primary: str | None = None
    roc_times: tuple = ()
    cutoffs: dict[str, str] = field(default_factory=dict)
    reclassification: object = None

    def write_table(self, run_dir: Path, name: str, frame: pd.DataFrame) -> None:
        """Write ``frame`` to ``run_dir/tables/<name>.csv`` and record it under ``tables[name]``.

        Parameters
        ----------
        run_dir : Path
            The run folder.
        name : str
            The table's name (file stem).
        frame : pandas.DataFrame
            The table, written without its index, floats with 6 significant digits.

        Examples
        --------
        >>> import tempfile
        >>> out = EvaluationFigures(t0=36.0)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out.write_table(Path(d), "calibration", pd.DataFrame({"group": [1, 2], "observed": [0.8, 0.6]}))
        >>> out.tables
        {'calibration': 'tables/calibration.csv'}
        """
        path = Path(run_dir) / "tables" / f"{name}.csv"
        write_csv_atomic(path, frame, index=False, float_format="%.6g")
        self.tables[name] = str(path.relative_to(run_dir))


def write_icc_figure(run_dir: str | Path, name: str, icc: pd.DataFrame, *, method: str, icc_min: float) -> str:
    """The ICC histogram of one modality's features (PNG 300 dpi + PDF); returns the PNG path relative to the run.

    Parameters
    ----------
    run_dir : str or Path
        The run folder; the figure goes to ``figures/icc_<name>.png`` and ``.pdf``.
    name : str
        The modality.
    icc : pandas.DataFrame
        The ICC table of its features (:class:`~multisurv.features.robustness.ReproducibilityResult`'s ``icc``).
    method : str
        ``"icc2_1"`` or ``"icc3_1"``.
    icc_min : float
        The robustness filter's threshold, drawn as a line.

    Returns
    -------
    str
        ``figures/icc_<name>.png``.

    Examples
    --------
    >>> write_icc_figure("runs/demo", "radiomics", result.icc, method="icc2_1", icc_min=0.75)  # doctest: +SKIP
    'figures/icc_radiomics.png'
    """
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

    Parameters
    ----------
    run_dir : str or Path
        The run folder; figures go to ``figures/km_<model>_<cohort>.png`` and ``.pdf``.
    risk_groups : sequence of RiskGroups
        One figure each.
    labels : mapping of str to str
        Display name per model (figure titles).

    Returns
    -------
    list of Path
        The PNG files written.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from multisurv._validation import make_y
    >>> from multisurv.study.evaluate import RiskGroups
    >>> y = make_y([2.0, 4.0, 6.0, 8.0, 3.0, 9.0], [True, True, False, True, True, False])
    >>> groups = RiskGroups("late_fusion", "external", y, np.array(["high"] * 3 + ["low"] * 3))
    >>> with tempfile.TemporaryDirectory() as d:  # doctest: +SKIP
    ...     [p.name for p in write_km_figures(d, [groups], {"late_fusion": "Late fusion"})]
    ['km_late_fusion_external.png']
    """
    import matplotlib.pyplot as plt

    from multisurv.plotting.export import save_figure
    from multisurv.plotting.km import plot_km

    written = []
    for item in risk_groups:
        fig, ax = plt.subplots(figsize=(6.0, 5.0))
        plot_km(item.y, item.groups, ax=ax, labels={"low": "Low risk", "high": "High risk"},
                title=f"{labels.get(item.model, item.model)}: {item.cohort} cohort")
        stem = _file_stem(f"km_{item.model}_{item.cohort}")
        paths = save_figure(fig, Path(run_dir) / "figures" / stem, formats=("png", "pdf"), dpi=300)
        plt.close(fig)
        written.append(paths[0])
    return written


def write_evaluation_figures(run_dir: str | Path, assessment, *, labels: Mapping[str, str], metrics: pd.DataFrame,
                             time_unit: str = "months") -> EvaluationFigures:
    """Draw the evaluation figures (PNG 300 dpi + PDF) of an assessment and write the tables it carries.

    Parameters
    ----------
    run_dir : path
        The study's run folder; figures go to ``figures/``, tables to ``tables/``.
    assessment : multisurv.study.assessment.StudyAssessment
        What :func:`~multisurv.study.assessment.assess_study` computed: predicted survival, calibration, decision
        curves, hazard ratios, cut-off rules, ROC curves, importance and nomogram. Drawing fits nothing.
    labels : mapping
        Display name per model.
    metrics : pandas.DataFrame
        The study's metrics (for the C-index comparison; the ``available`` subset is drawn).
    time_unit : str
        Unit of time in axis labels.

    Returns
    -------
    EvaluationFigures
        The figures and tables written, with the assessment's ``t0``, primary model, ROC times, cut-off rules and
        what it could not compute (``skipped``).

    Examples
    --------
    >>> from multisurv.study.assessment import assess_study
    >>> assessment = assess_study(predictions, development="development", models=["late_fusion"],
    ...                           complete_ids=list(predictions.index))  # doctest: +SKIP
    >>> out = write_evaluation_figures("runs/demo", assessment, labels={"late_fusion": "Late fusion"},
    ...                                metrics=metrics)  # doctest: +SKIP
    >>> sorted(out.tables)  # doctest: +SKIP
    ['calibration', 'decision_curve', 'risk_group_cutoffs', 'td_roc_auc']
    """
    import matplotlib.pyplot as plt

    from multisurv.plotting.calibration import plot_calibration
    from multisurv.plotting.cindex import plot_cindex_comparison
    from multisurv.plotting.decision_curve import plot_decision_curve
    from multisurv.plotting.export import save_figure

    run_dir = Path(run_dir)
    figures_dir = run_dir / "figures"
    out = EvaluationFigures(t0=assessment.t0, primary=assessment.primary, roc_times=tuple(assessment.roc_times),
                            skipped=list(assessment.skipped))
    tables = assessment.tables()

    def save(fig, stem: str) -> None:
        stem = _file_stem(stem)
        paths = save_figure(fig, figures_dir / stem, formats=("png", "pdf"), dpi=300)
        out.figures[stem] = [str(p.relative_to(run_dir)) for p in paths]
        plt.close(fig)

    def write(name: str) -> None:
        if name in tables:
            out.write_table(run_dir, name, tables[name])

    for curves in assessment.calibration:
        fig, ax = plt.subplots(figsize=(4.8, 4.8))
        plot_calibration(*curves.results, labels=list(curves.cohorts), ax=ax, time_unit=time_unit)
        ax.set_title(labels.get(curves.model, curves.model))
        save(fig, f"calibration_{curves.model}")
    write("calibration")

    for found in assessment.decision_curves:
        fig, ax = plt.subplots(figsize=(5.6, 4.4))
        plot_decision_curve(*found.curves, ax=ax, time_unit=time_unit)
        ax.set_title(f"{found.cohort} cohort, complete cases (n = {found.n})")
        save(fig, f"decision_curve_{found.cohort}")
    write("decision_curve")

    shown = metrics if "subset" not in metrics else metrics[metrics["subset"] == "available"]
    if "cindex" in shown and shown["cindex"].notna().any():
        fig, ax = plt.subplots(figsize=(6.0, 0.5 * shown["model"].nunique() + 1.4))
        plot_cindex_comparison(shown, ax=ax, labels=dict(labels))
        save(fig, "cindex_comparison")

    if assessment.hazard_ratios is not None:
        from multisurv.plotting.forest import plot_forest

        write("late_fusion_hazard_ratios")
        table = assessment.hazard_ratios.table
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(table) + 1.4))
        plot_forest(table, ax=ax, xlabel="Hazard ratio per unit of score (95% CI)")
        ax.set_title(f"Late fusion inputs, development cohort (n = {assessment.hazard_ratios.n})")
        save(fig, "forest_late_fusion")
    _draw_cutoff_rules(out, assessment.cutoff_rules, labels, time_unit, save)
    write("risk_group_cutoffs")
    _draw_roc_curves(assessment.roc, labels, time_unit, save)
    write("td_roc_auc")
    if assessment.importance is not None:
        _draw_importance(assessment.importance, save)
        write("late_fusion_importance")
    if assessment.nomogram is not None:
        _draw_nomogram(assessment.nomogram, labels, time_unit, save)
        write("nomogram_late_fusion")
    if "reclassification" in tables:
        out.reclassification = assessment.reclassification
        write("reclassification")
    return out


def _file_stem(stem: str) -> str:
    """A figure's file name from model and cohort labels: ``km_late_external (all)`` -> ``km_late_external_all``."""
    return stem.replace(" ", "_").replace("(", "").replace(")", "")


def _draw_cutoff_rules(out: EvaluationFigures, rules: Sequence, labels: Mapping[str, str], time_unit: str,
                       save: Callable) -> None:
    """KM curves of the primary model's risk groups under each cut-off rule (fitted on development), and the scan."""
    import matplotlib.pyplot as plt

    from multisurv.plotting.cutoff import plot_maxstat_scan
    from multisurv.plotting.km import plot_risk_groups

    for rule in rules:
        name = labels.get(rule.model, rule.model)
        out.cutoffs[rule.method] = rule.description
        for part in rule.groups:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # empty bands where a curve reaches 0
                # plot_km makes the figure itself so it can widen it for the statistics box
                ax = plot_risk_groups(part.y, part.risk, rule.cutoff, time_unit=time_unit,
                                      title=f"{name}, {part.cohort} cohort\n{part.origin}{rule.description}")
            save(ax.figure, f"riskgroups_{rule.model}_{rule.method}_{part.cohort}")
        if rule.cutoff.maxstat_ is not None:
            fig, ax = plt.subplots(figsize=(5.6, 4.0))
            plot_maxstat_scan(rule.cutoff.maxstat_, ax=ax, xlabel=f"Cut-off of the {name} risk score")
            ax.set_title(f"Maximally selected log-rank statistic, development (n = {rule.n_development})")
            save(fig, f"maxstat_scan_{rule.model}")


def _draw_roc_curves(found: Sequence, labels: Mapping[str, str], time_unit: str, save: Callable) -> None:
    """Time-dependent ROC curves of the primary model at the ROC times, one figure per cohort."""
    import matplotlib.pyplot as plt

    from multisurv.plotting.td_roc import plot_td_roc

    for curves in found:
        fig, ax = plt.subplots(figsize=(4.8, 4.8))
        plot_td_roc(*curves.rocs, ax=ax, time_unit=time_unit)
        ax.set_title(f"{labels.get(curves.model, curves.model)}, {curves.cohort} cohort (n = {curves.n})")
        save(fig, f"td_roc_{curves.model}_{curves.cohort}")


def _draw_importance(importance, save: Callable) -> None:
    """Late fusion's standardised coefficients and its permutation importance on each cohort."""
    import matplotlib.pyplot as plt

    from multisurv.plotting.importance import plot_importance

    table = importance.coefficients
    fig, ax = plt.subplots(figsize=(5.6, 0.4 * len(table) + 1.4))
    plot_importance(table, value="std_coef", ax=ax, xlabel="log hazard ratio per SD of the score (development)")
    ax.set_title("Late fusion: standardised coefficients")
    save(fig, "importance_late_fusion_coefficients")
    for found in importance.permutation:
        perm = found.table
        fig, ax = plt.subplots(figsize=(5.6, 0.4 * len(perm) + 1.4))
        plot_importance(perm, value="importance_mean", error="importance_std", ax=ax,
                        xlabel="Drop in Harrell's C when permuted (mean, SD of 20)")
        ax.set_title(f"Late fusion, {found.cohort} cohort (n = {found.n}, C = {perm['baseline_cindex'].iloc[0]:.3f})")
        save(fig, f"importance_late_fusion_permutation_{found.cohort}")


def _draw_nomogram(result, labels: Mapping[str, str], time_unit: str, save: Callable) -> None:
    """The late-fusion nomogram (its baseline hazard fitted on development)."""
    import matplotlib.pyplot as plt

    from multisurv.plotting.nomogram import plot_nomogram

    coef = result.nomogram.coef
    fig, ax = plt.subplots(figsize=(8.0, 0.55 * (4 + len(coef) + len(result.times)) + 0.6))
    plot_nomogram(result.nomogram, ax=ax, labels={t: labels.get(result.columns[t], t) for t in coef},
                  time_unit=time_unit)
    ax.set_title("Late fusion nomogram (baseline hazard: development cohort)")
    save(fig, "nomogram_late_fusion")
