"""write_report(): the study's report.md, built only from the tables the study wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from multisurv._atomic import write_csv_atomic, write_text_atomic
from multisurv.registry import BUILTIN_MODALITIES, model_labels
from multisurv.report.tables import cohort_summary, format_p, slide_count_lines, to_markdown

__all__ = ["write_report", "write_html_report", "summary_table", "model_specifications", "tripod_checklist",
           "fusion_comparison_section", "robustness_section", "reclassification_section",
           "internal_validation_section", "internal_validation_table", "MODEL_LABELS"]

#: Display name of every model of the reference design (from :mod:`multisurv.registry`), in report order.
MODEL_LABELS = model_labels()


def _ci(row) -> str:
    if pd.isna(row.get("cindex")):
        return "n/a"
    return f"{row['cindex']:.3f} ({row['ci_lower']:.3f}-{row['ci_upper']:.3f})"


def summary_table(metrics: pd.DataFrame, *, subset: str = "available",
                  labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per model: C-index (95% CI), n and log-rank p for each cohort, side by side.

    When ``metrics`` has a ``subset`` column (as :func:`multisurv.study.run.run_study` writes it), only the rows of
    that subset are tabulated: ``"available"`` (each model on every patient it scores) or ``"complete"`` (every
    model on the patients who have all modalities).

    Parameters
    ----------
    metrics : pandas.DataFrame
        ``metrics.csv``: ``model, cohort, n, events, cindex, ci_lower, ci_upper`` and optionally ``logrank_p``
        and ``subset``.
    subset : {"available", "complete"}, default="available"
        The subset tabulated when ``metrics`` has a ``subset`` column.
    labels : mapping of str to str, optional
        Display name per model; default :data:`multisurv.study.run.MODEL_LABELS`.

    Returns
    -------
    pandas.DataFrame
        ``Model``, then per cohort (in order of appearance) ``C-index <cohort> (95% CI)``, ``n <cohort> (events)``
        and ``log-rank p <cohort>``.

    Raises
    ------
    ValueError
        When a model and cohort have several rows (several subsets without a ``subset`` column).

    Examples
    --------
    >>> m = pd.DataFrame({"model": ["late_fusion"], "cohort": ["external"], "n": [10], "events": [4],
    ...                   "cindex": [0.8], "ci_lower": [0.7], "ci_upper": [0.9], "logrank_p": [0.01]})
    >>> summary_table(m).iloc[0].tolist()
    ['Late fusion', '0.800 (0.700-0.900)', '10 (4)', '0.010']
    """
    labels = MODEL_LABELS if labels is None else labels
    if "subset" in metrics:
        metrics = metrics[metrics["subset"] == subset]
    if metrics.duplicated(["model", "cohort"]).any():
        raise ValueError("summary_table: several rows for the same model and cohort; pass one subset at a time.")
    out = []
    for model, part in metrics.groupby("model", sort=False):
        row = {"Model": labels.get(model, model)}
        for _, r in part.iterrows():
            c = r["cohort"]
            row[f"C-index {c} (95% CI)"] = _ci(r)
            row[f"n {c} (events)"] = f"{int(r['n'])} ({int(r['events'])})"
            row[f"log-rank p {c}"] = format_p(r.get("logrank_p", float("nan")))
        out.append(row)
    frame = pd.DataFrame(out)
    cohorts = list(dict.fromkeys(metrics["cohort"]))
    order = ["Model"] + [f"{k} {c}{s}" for c in cohorts
                         for k, s in (("C-index", " (95% CI)"), ("n", " (events)"), ("log-rank p", ""))]
    return frame.loc[:, [c for c in order if c in frame.columns]]


def write_report(
    run_dir: str | Path,
    *,
    cohort,
    metrics: pd.DataFrame,
    failures: pd.DataFrame,
    formulas: Mapping[str, pd.DataFrame],
    fusion_formula: pd.DataFrame,
    elapsed: float,
    extra: Mapping[str, object] | None = None,
    notes: list[str] | None = None,
    evaluation=None,
    internal: pd.DataFrame | None = None,
    labels: Mapping[str, str] | None = None,
    modalities=None,
    available: Mapping[str, pd.Series] | None = None,
    comparison: pd.DataFrame | None = None,
    robustness: list | None = None,
    attention: Mapping[str, object] | None = None,
) -> Path:
    """Write ``run_dir/report.md``, its self-contained twin ``report.html`` and ``tables/summary.csv``.

    ``evaluation`` is the :class:`~multisurv.report.figures.EvaluationFigures` of the run (calibration, decision
    curves, C-index comparison, hazard ratios); its figures get their own sections. ``labels`` are the models'
    display names, ``modalities`` the study's (default: the built-in three), ``available`` who has each modality
    (for the cohort table). ``attention`` (``rows``, ``models``, ``skipped``) describes the attention-MIL slide
    scores and their figures (:func:`multisurv.report.attention.attention_section`). Returns the Markdown path.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (figures are looked up in ``run_dir/figures``).
    cohort : Cohort
        The study's cohort (the cohort table; its ``source`` is named).
    metrics : pandas.DataFrame
        ``metrics.csv`` (see :func:`summary_table`).
    failures : pandas.DataFrame
        The failed extractions (``patient_id``, ``stage``, ``message``).
    formulas : mapping of str to pandas.DataFrame
        Each modality score's formula table (``feature, coef``, last row ``(intercept)``).
    fusion_formula : pandas.DataFrame
        Late fusion's ``term, coef``.
    elapsed : float
        Run time in seconds.
    extra : mapping, optional
        ``label: value`` lines at the head of the report.
    notes : list of str, optional
        Warnings recorded during the run (the Warnings section).
    evaluation : EvaluationFigures, optional
        The evaluation figures and tables.
    internal : pandas.DataFrame, optional
        Internal validation, one row per model.
    labels : mapping of str to str, optional
        Display name per model; default :data:`multisurv.study.run.MODEL_LABELS`.
    modalities : sequence of Modality, optional
        The study's modalities; default the built-in three.
    available : mapping of str to pandas.Series, optional
        Who has each modality (see :func:`multisurv.report.tables.cohort_summary`).
    comparison : pandas.DataFrame, optional
        Paired comparison of the fusion models (:func:`multisurv.study.evaluate.compare_models`).
    robustness : list of dict, optional
        Rows of :func:`robustness_section`.
    attention : mapping, optional
        Keywords of :func:`multisurv.report.attention.attention_section`.

    Returns
    -------
    Path
        ``run_dir/report.md``.

    Examples
    --------
    >>> import tempfile
    >>> from multisurv.cohort.cohort import Cohort
    >>> t = pd.DataFrame({"cohort": ["development", "development", "external"], "time": [5.0, 8.0, 3.0],
    ...                   "event": [True, False, True]}, index=pd.Index(["a", "b", "c"], name="patient_id"))
    >>> metrics = pd.DataFrame({"model": ["late_fusion"], "cohort": ["external"], "n": [1], "events": [1],
    ...                         "cindex": [float("nan")]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = write_report(d, cohort=Cohort(t, path_columns=()), metrics=metrics, failures=pd.DataFrame(),
    ...                         formulas={}, fusion_formula=pd.DataFrame({"term": ["radscore"], "coef": [0.9]}),
    ...                         elapsed=12.0)
    ...     path.name, sorted(p.name for p in Path(d).iterdir())
    ('report.md', ['report.html', 'report.md', 'tables'])
    """
    run_dir = Path(run_dir)
    labels = MODEL_LABELS if labels is None else labels
    modalities = list(BUILTIN_MODALITIES.values()) if modalities is None else list(modalities)
    summary = summary_table(metrics, labels=labels)
    complete = summary_table(metrics, subset="complete", labels=labels) if "subset" in metrics else None
    write_csv_atomic(run_dir / "tables" / "summary.csv", summary, index=False)
    lines = ["# multisurv study report", ""]
    for key, value in (extra or {}).items():
        lines.append(f"- **{key}**: {value}")
    lines += [f"- **Source manifest**: `{cohort.source}`" if cohort.source else "",
              f"- **Run time**: {elapsed:.0f} s", ""]
    lines += ["## Cohorts", "",
              "Patients and events per cohort; `median_time` is the median observed time, `follow_up_median` the "
              "median follow-up by the reverse Kaplan-Meier method (censoring as the event) with its 95% CI; "
              "`missing_*` counts patients without that modality (a failed extraction counts as missing in the "
              "models, see Failures).", "", to_markdown(cohort_summary(cohort.table, available), floatfmt=".2f"), ""]
    lines += slide_count_lines(cohort, modalities)
    lines += ["## Discrimination and risk stratification", "",
              "Harrell's C-index with 95% percentile-bootstrap intervals. Risk groups split at the development "
              "median of each model's score; the same cut-off is applied unchanged to every other cohort. Each "
              "external cohort label is evaluated on its own and, when there are several, pooled "
              "('external (all)'). "
              "Single-modality models are evaluated on the patients who have that modality; fusions on everyone.",
              "", to_markdown(summary), ""]
    if complete is not None and len(complete):
        lines += ["**Same patients for every model**: the patients who have all modalities (complete cases).", "",
                  to_markdown(complete), ""]
        write_csv_atomic(run_dir / "tables" / "summary_complete_cases.csv", complete, index=False)
    if comparison is not None and len(comparison):
        lines += fusion_comparison_section(comparison, labels)
    if robustness:
        lines += robustness_section(robustness)
    own = [m for m in modalities if m.options.get("selector") or m.options.get("model", "linear") != "linear"]
    lines += ["## Models", "",
              "Each modality score is a LASSO-Cox linear predictor (penalty chosen by cross-validation on the "
              "development cohort)"
              + (", except as the config sets: " + "; ".join(f"{m.label}: {_score_method(m)}" for m in own)
                 if own else "")
              + ". Early fusion fits one Cox model on the union of the selected features. "
              f"Late fusion fits a Cox model on the {len(modalities)} scores ("
              + ", ".join(f"{m.score}: {m.label}" for m in modalities) + "), using out-of-fold development "
              "scores.", "",
              "**Missing modalities.** A patient without a modality gets no single-modality score for it. "
              "Late fusion sets a missing score to its development mean (no information added); early fusion sets "
              "missing features to their development medians.", ""]
    # a formula table lists its features, then the centring constant as "(intercept)"
    n_sel = [{"score": name, "selected features": int((f["feature"] != "(intercept)").sum())}
             for name, f in formulas.items()]
    if n_sel:
        lines += [to_markdown(pd.DataFrame(n_sel)), ""]
    lines += ["Late fusion: risk = " + " + ".join(f"{c:.3f} x {t}" for t, c in
                                                 zip(fusion_formula["term"], fusion_formula["coef"])), ""]
    lines += model_specifications(formulas, fusion_formula, labels=labels,
                                  scores={m.name: m.score for m in modalities},
                                  methods={m.name: _score_method(m) for m in modalities})
    if attention:
        from multisurv.report.attention import attention_section

        lines += attention_section(**attention)
    if internal is not None and len(internal):
        lines += internal_validation_section(internal, labels=labels)
    figures = sorted((run_dir / "figures").glob("km_*.png"))
    if figures:
        lines += ["## Kaplan-Meier curves", ""]
        lines += [f"![{p.stem}](figures/{p.name})" for p in figures]
        lines.append("")
    if evaluation is not None:
        lines += _evaluation_sections(evaluation, labels)
    sections = [line[3:] for line in lines if line and line.startswith("## ")]
    lines += tripod_checklist(sections, evaluation=evaluation, n_failures=len(failures))
    lines += ["## Failures", ""]
    if len(failures):
        lines += [f"{len(failures)} case(s) failed during feature extraction; they are treated as missing that "
                  "modality. Details in `failures.csv`.", "",
                  to_markdown(failures.loc[:, [c for c in ("patient_id", "stage", "message") if c in failures]]), ""]
    else:
        lines += ["None.", ""]
    lines += ["## Warnings", ""]
    lines += [f"- {n}" for n in notes] if notes else ["None."]
    lines.append("")
    text = "\n".join(line for line in lines if line is not None)
    path = write_text_atomic(run_dir / "report.md", text + "\n")
    write_html_report(run_dir)
    return path


def robustness_section(rows: list) -> list[str]:
    """Markdown: per modality with a robustness filter, its ICC figure and how many features survived each step.

    Parameters
    ----------
    rows : list of dict
        One per modality: ``modality, source, method, icc_min, candidates, robust, selected, figure, tables`` and
        optionally ``median_seconds`` and ``bands`` (:func:`multisurv.features.reproducibility.icc_summary`).

    Returns
    -------
    list of str
        The section's Markdown lines.

    Examples
    --------
    >>> row = {"modality": "radiomics", "source": "readers", "method": "icc2_1", "icc_min": 0.75, "candidates": 106,
    ...        "robust": 74, "selected": 3, "figure": "figures/icc_radiomics.png",
    ...        "tables": "tables/radiomics_reproducibility_icc.csv", "median_seconds": 4.2}
    >>> robustness_section([row])[4].splitlines()[2]
    '| radiomics | readers | icc2_1 >= 0.75 | 106 | 74 | 3 | 4.2 |'
    """
    table = pd.DataFrame([{"modality": r["modality"], "ICC from": r["source"],
                           "filter": f"{r['method']} >= {r['icc_min']:g}", "features": r["candidates"],
                           "robust": r["robust"], "selected by LASSO": r["selected"],
                           "seconds per patient (median)": "n/a" if r.get("median_seconds") is None else
                           f"{r['median_seconds']:.1f}"} for r in rows])
    lines = ["## Feature robustness", "",
             "Intraclass correlation of each feature (ICC(2,1) absolute agreement or ICC(3,1) consistency; Shrout "
             "and Fleiss 1979, bands of Koo and Li 2016) between readers' masks or across perturbed images and masks "
             "(Zwanenburg et al. 2019), on development patients only (the filter recomputes it on each fit's "
             "training patients). Features below the threshold are dropped before the LASSO.", "",
             to_markdown(table), ""]
    for r in rows:
        lines += [f"![icc_{r['modality']}]({r['figure']})", ""]
        if r.get("bands") is not None:
            bands = r["bands"].reset_index().rename(columns={"n_features": "features (estimate)",
                                                             "n_lower_bound": "features (lower 95% bound)"})
            lines += [f"**{r['modality']}**: features per reliability band (Koo and Li: poor < 0.5 <= moderate < "
                      "0.75 <= good < 0.9 <= excellent); 'kept' reaches the filter's threshold.", "",
                      to_markdown(bands), ""]
        lines += [f"ICC of every feature with its 95% interval: `{r['tables']}`.", ""]
    return lines


def fusion_comparison_section(comparison: pd.DataFrame, labels: Mapping[str, str] | None = None) -> list[str]:
    """Markdown: every pair of fusion models compared on the same patients of each cohort.

    Parameters
    ----------
    comparison : pandas.DataFrame
        :func:`multisurv.study.evaluate.compare_models`' table.
    labels : mapping of str to str, optional
        Display name per model; default :data:`multisurv.study.run.MODEL_LABELS`.

    Returns
    -------
    list of str
        The section's Markdown lines.

    Examples
    --------
    >>> c = pd.DataFrame({"model_a": ["early_fusion"], "model_b": ["late_fusion"], "cohort": ["external"], "n": [40],
    ...                   "events": [12], "cindex_a": [0.70], "cindex_b": [0.72], "difference": [-0.02],
    ...                   "lower": [-0.08], "upper": [0.04], "p_value": [0.5], "boot_lower": [-0.09],
    ...                   "boot_upper": [0.05], "boot_p_value": [0.52]})
    >>> fusion_comparison_section(c)[4].splitlines()[2].startswith("| Early fusion vs Late fusion | external")
    True
    """
    labels = MODEL_LABELS if labels is None else labels
    table = pd.DataFrame([{
        "Comparison": f"{labels.get(r['model_a'], r['model_a'])} vs {labels.get(r['model_b'], r['model_b'])}",
        "Cohort": r["cohort"], "n (events)": f"{int(r['n'])} ({int(r['events'])})",
        "C a": f"{r['cindex_a']:.3f}", "C b": f"{r['cindex_b']:.3f}",
        "Difference (95% CI)": f"{r['difference']:+.3f} ({r['lower']:+.3f} to {r['upper']:+.3f})",
        "p": format_p(r["p_value"]),
        "Bootstrap 95% CI": "n/a" if pd.isna(r["boot_lower"]) else f"{r['boot_lower']:+.3f} to {r['boot_upper']:+.3f}",
    } for _, r in comparison.iterrows()])
    return ["## Fusion comparison", "",
            "Every pair of fusion models on the same patients of each cohort: Harrell's C of each, the paired "
            "difference with its 95% interval and p (jackknife standard error, z-test) and the paired-bootstrap "
            "interval. Table: `tables/fusion_comparison.csv`.", "", to_markdown(table), ""]


def _with_ci(value: float, lower: float, upper: float) -> str:
    if pd.isna(value):
        return "n/a"
    if pd.isna(lower) or pd.isna(upper):
        return f"{value:+.3f}"
    return f"{value:+.3f} ({lower:+.3f} to {upper:+.3f})"


def reclassification_section(result, labels: Mapping[str, str] | None = None, *,
                             table: str = "tables/reclassification.csv") -> list[str]:
    """Markdown: the NRI and IDI of every model over the reference model on each external cohort.

    Parameters
    ----------
    result : Reclassification
        :func:`multisurv.study.evaluate.reclassify_models`' result (survival when ``result.t0`` is set, else a
        binary endpoint).
    labels : mapping of str to str, optional
        Display name per model; default :data:`MODEL_LABELS`.
    table : str, default="tables/reclassification.csv"
        The CSV the section points to.

    Returns
    -------
    list of str
        The section's Markdown lines (none when the result holds no comparison).

    Examples
    --------
    >>> from multisurv.study.evaluate import Reclassification
    >>> row = {"model": "late_fusion", "cohort": "external", "kind": "continuous", "cutoffs": "", "n": 40,
    ...        "n_events": 12, "nri": 0.41, "lower": 0.05, "upper": 0.8, "nri_events": 0.2, "events_lower": -0.3,
    ...        "events_upper": 0.6, "nri_non_events": 0.21, "non_events_lower": -0.1, "non_events_upper": 0.5,
    ...        "idi": 0.06, "idi_lower": 0.01, "idi_upper": 0.12}
    >>> res = Reclassification(reference="clinical", t0=36.0, cutoffs=(), nri={}, idi={}, table=pd.DataFrame([row]))
    >>> lines = reclassification_section(res)
    >>> lines[0]
    '## Reclassification'
    >>> lines[-2].splitlines()[2].split(" | ")[:4]
    ['| Late fusion', 'external', '40 (12)', '+0.410 (+0.050 to +0.800)']
    """
    labels = MODEL_LABELS if labels is None else labels
    frame = result.table
    if frame is None or not len(frame):
        return []
    ref = labels.get(result.reference, result.reference)
    survival = result.t0 is not None
    when = f" by t0 = {result.t0:g}" if survival else ""
    categories = ""
    if result.cutoffs:
        bounds = [0.0, *result.cutoffs, 1.0]
        categories = ("; the categorical NRI counts only moves between the risk categories "
                      + ", ".join(f"{a:.0%}-{b:.0%}" for a, b in zip(bounds, bounds[1:])))
    head = ["## Reclassification", "",
            f"A positive net reclassification improvement (NRI) means that, compared with the reference model {ref}, "
            f"a model raises the predicted risk of the patients who have the event{when} and lowers it for "
            "those who do not more often than the reverse (the net share of patients with the event moved up plus "
            "the net share of patients without it moved down, from -2 to 2), and a positive integrated "
            "discrimination improvement (IDI) means that it widens the gap in average predicted risk between the two "
            "groups.", "",
            ("Event probabilities by t0 come from each model's Breslow baseline fitted on the development cohort; "
             "censoring is handled by Kaplan-Meier weights for the NRI (Pencina, D'Agostino and Steyerberg 2011) and "
             "by inverse-probability-of-censoring weights for the IDI (Uno et al. 2013); n (events) counts the events "
             "by t0. " if survival else "NRI and IDI from the predicted probabilities of the outcome (Pencina et al. "
             "2008). ")
            + "External patients only, each model on the patients it and the reference both score; 95% bootstrap "
            "percentile intervals. The continuous NRI(>0) counts any change of risk" + categories + ". An NRI can be "
            f"positive for an uninformative added marker (Pepe et al. 2015): read it with the C-index and calibration. "
            f"Table: `{table}`.", ""]
    rows = []
    for _, r in frame.iterrows():
        row = {"Model": labels.get(r["model"], r["model"]), "Cohort": r["cohort"]}
        if result.cutoffs:
            row["NRI type"] = r["kind"]
        row.update({"n (events)": f"{int(r['n'])} ({int(r['n_events'])})",
                    "NRI (95% CI)": _with_ci(r["nri"], r["lower"], r["upper"]),
                    "NRI events": _with_ci(r["nri_events"], r["events_lower"], r["events_upper"]),
                    "NRI non-events": _with_ci(r["nri_non_events"], r["non_events_lower"], r["non_events_upper"]),
                    "IDI (95% CI)": _with_ci(r["idi"], r["idi_lower"], r["idi_upper"])})
        rows.append(row)
    return [*head, to_markdown(pd.DataFrame(rows)), ""]


def _evaluation_sections(evaluation, labels: Mapping[str, str] = MODEL_LABELS) -> list[str]:
    """Markdown sections for the figures of :func:`multisurv.report.figures.write_evaluation_figures`."""
    t0 = f"{evaluation.t0:g}"
    figs = evaluation.figures

    def images(prefix: str) -> list[str]:
        return [f"![{stem}]({paths[0]})" for stem, paths in figs.items() if stem.startswith(prefix)]

    lines: list[str] = []
    if "cindex_comparison" in figs:
        lines += ["## Model comparison", "", "C-index with 95% bootstrap intervals, each model on every patient it "
                  "scores.", "", *images("cindex_comparison"), ""]
    if images("calibration_"):
        lines += [f"## Calibration at t0 = {t0}", "",
                  f"Predicted survival at t0 = {t0} (risk score turned into survival with a Breslow baseline "
                  "hazard fitted on the development cohort) against Kaplan-Meier survival with its 95% band, in "
                  "quartiles of predicted survival. Table: `tables/calibration.csv`.", "", *images("calibration_"), ""]
    if images("decision_curve_"):
        lines += [f"## Decision curves at t0 = {t0}", "",
                  "Net benefit of treating the patients whose predicted probability of the event by t0 reaches each "
                  "threshold (Vickers et al. 2008), every model on the same complete-case patients. Table: "
                  "`tables/decision_curve.csv`.", "", *images("decision_curve_"), ""]
    if getattr(evaluation, "reclassification", None) is not None:
        lines += reclassification_section(evaluation.reclassification, labels,
                                          table=evaluation.tables.get("reclassification",
                                                                      "tables/reclassification.csv"))
    if "forest_late_fusion" in figs:
        lines += ["## Hazard ratios of the fused scores", "",
                  "Multivariable Cox model of the out-of-fold modality scores in the development cohort (patients "
                  "with every score). Table: `tables/late_fusion_hazard_ratios.csv`.", "", *images("forest_"), ""]
    primary = labels.get(evaluation.primary, evaluation.primary)
    if images("riskgroups_"):
        rules = "; ".join(f"**{k}**: {v}" for k, v in evaluation.cutoffs.items())
        lines += [f"## Risk groups by cut-off rule ({primary})", "",
                  "Kaplan-Meier curves (95% bands, censoring ticks, numbers at risk, log-rank p, hazard ratio with 95% "
                  "CI) of the risk groups each rule gives. Every cut-off is fitted on the development cohort and "
                  f"applied unchanged to the other cohorts. Cut-offs: {rules}. The log-rank p of a maximally "
                  "selected cut-off on the development cohort is optimistic; its corrected p (Lausen & Schumacher "
                  "1992) is in the title and in `tables/risk_group_cutoffs.csv`.", "",
                  *images("riskgroups_"), *images("maxstat_scan_"), ""]
    if images("td_roc_"):
        times = ", ".join(f"{t:g}" for t in evaluation.roc_times)
        lines += [f"## Time-dependent ROC curves ({primary})", "",
                  f"Cumulative/dynamic ROC at t = {times} (cases: event by t, weighted by the inverse probability of "
                  "censoring; controls: event-free after t); the AUC in the legend is the time-dependent AUC. Table: "
                  "`tables/td_roc_auc.csv`.", "", *images("td_roc_"), ""]
    if "nomogram_late_fusion" in figs:
        lines += ["## Nomogram (late fusion)", "",
                  "Points per modality score (0-100 for the score with the widest effect), total points, linear "
                  "predictor and predicted survival at the marked times, from the late-fusion formula and the Breslow "
                  "baseline hazard of the development cohort (as `rms::nomogram`). Table: "
                  "`tables/nomogram_late_fusion.csv`.", "", *images("nomogram_"), ""]
    if images("importance_"):
        lines += ["## Feature importance (late fusion)", "",
                  "Standardised coefficients (log hazard ratio per development SD of each score) and, on each "
                  "other cohort, permutation importance: the drop in Harrell's C when a score is permuted (20 "
                  "permutations). The fusion is linear, so SHAP values add nothing here; for non-linear models use "
                  "`multisurv.evaluation.importance.shap_importance`. Table: `tables/late_fusion_importance.csv`.", "",
                  *images("importance_"), ""]
    if evaluation.skipped:
        lines += ["Not drawn: " + "; ".join(evaluation.skipped), ""]
    return lines


def internal_validation_table(internal: pd.DataFrame, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The internal-validation results (one row per model) formatted for the report and the console.

    Parameters
    ----------
    internal : pandas.DataFrame
        :func:`multisurv.study.internal.validate_models`' table: ``model, method, apparent, optimism, corrected,
        n_resamples, n_failed, n, n_events``.
    labels : mapping of str to str, optional
        Display name per model; default :data:`multisurv.study.run.MODEL_LABELS`.

    Returns
    -------
    pandas.DataFrame
        Columns ``Model, Method, Apparent C, Optimism, Corrected C, Resamples (failed), n (events)`` as text.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["late_fusion"], "method": ["bootstrap"], "apparent": [0.80], "optimism": [0.03],
    ...                   "corrected": [0.77], "sd": [0.01], "n_resamples": [200], "n_failed": [0], "n": [100],
    ...                   "n_events": [40]})
    >>> internal_validation_table(t).iloc[0].tolist()
    ['Late fusion', 'bootstrap', '0.800', '+0.030', '0.770', '200 (0)', '100 (40)']
    """
    labels = MODEL_LABELS if labels is None else labels
    return pd.DataFrame([{"Model": labels.get(r["model"], r["model"]), "Method": r["method"],
                          "Apparent C": f"{r['apparent']:.3f}", "Optimism": f"{r['optimism']:+.3f}",
                          "Corrected C": f"{r['corrected']:.3f}",
                          "Resamples (failed)": f"{r['n_resamples']} ({r['n_failed']})",
                          "n (events)": f"{r['n']} ({r['n_events']})"} for _, r in internal.iterrows()])


def internal_validation_section(internal: pd.DataFrame, labels: Mapping[str, str] | None = None) -> list[str]:
    """Markdown section of the development cohort's internal validation (see :func:`internal_validation_table`).

    Parameters
    ----------
    internal : pandas.DataFrame
        As for :func:`internal_validation_table`; the first row's ``method`` names the method.
    labels : mapping of str to str, optional
        Display name per model; default :data:`multisurv.study.run.MODEL_LABELS`.

    Returns
    -------
    list of str
        The section's Markdown lines.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["late_fusion"], "method": ["cv"], "apparent": [0.80], "optimism": [0.03],
    ...                   "corrected": [0.77], "sd": [0.01], "n_resamples": [5], "n_failed": [0], "n": [100],
    ...                   "n_events": [40]})
    >>> internal_validation_section(t)[0]
    '## Internal validation'
    """
    method = str(internal["method"].iloc[0])
    how = {"bootstrap": "Harrell's bootstrap optimism correction: corrected C = apparent C - mean optimism, the "
                        "optimism of each resample being C on its bootstrap sample minus C on the original patients",
           "cv": "cross-validation: corrected C = mean C on the held-out folds",
           "repeated_cv": "repeated cross-validation: corrected C = mean C on the held-out folds of every repeat"}
    return ["## Internal validation", "",
            f"Development cohort only, by {how.get(method, method)}. Every step (clinical imputation and encoding, "
            "feature selection and its penalty, the scores, the fusion) is refitted in every resample. `n` counts the "
            "development cohort; a single-modality model is scored on the patients who have that modality. Table: "
            "`tables/internal_validation.csv`.", "", to_markdown(internal_validation_table(internal, labels)), ""]


def _score_method(modality) -> str:
    """A modality score's selection steps and model, in words (from the registry's descriptions)."""
    from multisurv.registry import SCORE_MODEL_LABELS, SELECTORS

    steps = [next(iter(step)) for step in modality.options.get("selector") or []]
    chain = " -> ".join(f"{s} ({SELECTORS[s].description})" if s in SELECTORS else s for s in steps)
    kind = modality.options.get("model", "linear")
    model = SCORE_MODEL_LABELS.get(kind, kind)
    if not steps:
        return "LASSO-Cox (penalty by CV)" + ("" if kind == "linear" else f", then {model}")
    return f"{chain}, then {model}"


def model_specifications(formulas: Mapping[str, pd.DataFrame], fusion_formula: pd.DataFrame, *,
                         labels: Mapping[str, str] | None = None,
                         scores: Mapping[str, str] | None = None,
                         methods: Mapping[str, str] | None = None) -> list[str]:
    """Markdown: a table of the models (inputs, method, number of terms) and each fitted formula in full.

    ``formulas`` maps a model name to its ``formula_`` table (``feature, coef``, last row ``(intercept)``);
    ``scores`` maps a modality model name to its score name (default: the built-in modalities').

    Parameters
    ----------
    formulas : mapping of str to pandas.DataFrame
        Model name -> its formula table.
    fusion_formula : pandas.DataFrame
        Late fusion's ``term, coef``.
    labels : mapping of str to str, optional
        Display name per model; default :data:`multisurv.study.run.MODEL_LABELS`.
    scores : mapping of str to str, optional
        Modality model name -> score name.
    methods : mapping of str to str, optional
        Modality model name -> how its score is made, in words (default "LASSO-Cox (penalty by CV)").

    Returns
    -------
    list of str
        The sub-section's Markdown lines: the table of models, then each formula in a code block.

    Examples
    --------
    >>> f = pd.DataFrame({"feature": ["ct__a", "(intercept)"], "coef": [0.5, -1.0]})
    >>> fusion = pd.DataFrame({"term": ["radscore"], "coef": [0.9]})
    >>> [line for line in model_specifications({"radiomics": f}, fusion) if line.startswith("radscore")]
    ['radscore = 0.5 * ct__a - 1']
    """
    from multisurv.scores.formula import format_formula

    labels = MODEL_LABELS if labels is None else labels
    scores = {m.name: m.score for m in BUILTIN_MODALITIES.values()} if scores is None else scores
    rows, blocks = [], []
    for name, table in formulas.items():
        label = labels.get(name, name)
        score = scores.get(name, name)
        terms = table[table["feature"] != "(intercept)"]
        intercept = table.loc[table["feature"] == "(intercept)", "coef"]
        rows.append({"model": label, "inputs": f"{name} features",
                     "method": (methods or {}).get(name, "LASSO-Cox (penalty by CV)"),
                     "terms": len(terms), "formula table": f"`tables/{name}_formula.csv`"})
        blocks += [f"**{label}**", "", "```",
                   format_formula(dict(zip(terms["feature"], terms["coef"])), name=score,
                                  constant=float(intercept.iloc[0]) if len(intercept) else 0.0),
                   "```", ""]
    fusion = dict(zip(fusion_formula["term"], fusion_formula["coef"]))
    rows.append({"model": labels.get("late_fusion", "Late fusion"), "inputs": ", ".join(fusion),
                 "method": "Cox on out-of-fold scores", "terms": len(fusion),
                 "formula table": "`tables/late_fusion_formula.csv`"})
    late_label = labels.get("late_fusion", "Late fusion")
    blocks += [f"**{late_label}**", "", "```", format_formula(fusion, name="risk"), "```", ""]
    return ["### Model specifications and formulas", "",
            "Each formula is the fitted model on the raw features (a missing feature is set to its development "
            "median before scoring; see the formula tables for those values).", "",
            to_markdown(pd.DataFrame(rows)), "", *blocks]


#: TRIPOD (Collins et al. 2015) items a multisurv run can report, and the report section that holds each.
_TRIPOD_ITEMS = (
    ("4a, 5a", "Source of data; participants and settings", "Cohorts"),
    ("6a", "Outcome: time to event and event indicator", "Cohorts"),
    ("7a", "Predictors: modalities and features", "Models"),
    ("8", "Sample size: patients and events", "Cohorts"),
    ("9", "Missing data and how it was handled", "Models"),
    ("10a, 10b", "Model type and predictor selection", "Models"),
    ("10b", "Internal validation, every step refitted in each resample", "Internal validation"),
    ("10c", "Predictions in the validation cohort(s) from the development model, unchanged", "Discrimination and "
     "risk stratification"),
    ("10d", "Performance measures: discrimination", "Discrimination and risk stratification"),
    ("10d", "Performance measures: calibration", "Calibration at t0"),
    ("10d", "Performance measures: clinical usefulness (decision curves)", "Decision curves at t0"),
    ("11", "Risk groups: how they were created", "Risk groups by cut-off rule"),
    ("13a, 13b", "Participants: numbers and characteristics per cohort", "Cohorts"),
    ("14a", "Participants and events in each analysis", "Discrimination and risk stratification"),
    ("15a", "Full model: every coefficient and the baseline", "Models"),
    ("15b", "How to use the model (nomogram)", "Nomogram (late fusion)"),
    ("16", "Model performance with confidence intervals", "Model comparison"),
    ("16", "Time-dependent discrimination", "Time-dependent ROC curves"),
)


def tripod_checklist(sections, *, evaluation=None, n_failures: int = 0, items=None) -> list[str]:
    """Markdown: a TRIPOD-style checklist of what this report contains, each item with the section holding it.

    ``sections`` are the report's section titles (``## ...`` headings). Items whose section is absent are marked
    "not in this report"; the discussion items (18-22) are the authors' to write.

    Parameters
    ----------
    sections : iterable of str
        The report's section titles.
    evaluation : EvaluationFigures, optional
        Not read; accepted for the caller's signature.
    n_failures : int, default=0
        Failed feature extractions, named in the last row.
    items : sequence of (str, str, str), optional
        ``(TRIPOD item, topic, report section)`` rows; default the survival study's (a binary study passes its own,
        :data:`multisurv.report.binary.BINARY_TRIPOD_ITEMS`).

    Returns
    -------
    list of str
        The section's Markdown lines.

    Examples
    --------
    >>> lines = tripod_checklist(["Cohorts"])
    >>> lines[6]
    '| 4a, 5a | Source of data; participants and settings | yes | Cohorts |'
    """
    sections = list(sections)
    rows = ["## TRIPOD checklist", "",
            "What this report contains, by TRIPOD item (Collins et al., BMJ 2015;350:g7594). Items 1-3 (title, "
            "abstract, background) and 18-22 (discussion, funding) are the authors' to write.", "",
            "| TRIPOD item | topic | reported | where |", "| --- | --- | --- | --- |"]
    for item, topic, section in (_TRIPOD_ITEMS if items is None else items):
        found = any(s.startswith(section.split(" (")[0]) for s in sections)
        rows.append(f"| {item} | {topic} | {'yes' if found else 'no'} | {section if found else 'not in this report'} |")
    rows.append(f"| 13a | Failed feature extractions | yes | Failures ({n_failures}) |")
    rows.append("")
    return rows


_HTML_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f2f2f2; }
img { max-width: 100%; height: auto; display: block; margin: 0.75rem 0; }
code { background: #f5f5f5; padding: 0 0.2rem; }
"""


def write_html_report(run_dir: str | Path) -> Path:
    """Render ``run_dir/report.md`` as one self-contained ``report.html`` (figures embedded as PNG data).

    Uses the ``markdown`` package (with its tables extension); every local ``<img>`` becomes a base64 data URI
    so the file can be mailed or archived on its own. The report holds user data (study name, patient ids,
    cohort labels, column names, error messages), so raw HTML in the Markdown is shown as text, never run, and
    a link or image may only point to http(s), mailto or a file of the run (see :func:`_safe_url`).

    Parameters
    ----------
    run_dir : str or Path
        The run folder holding ``report.md`` and its figures.

    Returns
    -------
    Path
        ``run_dir/report.html``.

    Raises
    ------
    FileNotFoundError
        When ``run_dir/report.md`` does not exist.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "report.md").write_text("# Study\\n\\n<script>alert(1)</script>\\n", encoding="utf-8")
    ...     page = write_html_report(d).read_text(encoding="utf-8")
    >>> "<h1>Study</h1>" in page, "<script>" in page
    (True, False)
    """
    import base64
    import html
    import re

    import markdown

    run_dir = Path(run_dir)
    converter = markdown.Markdown(extensions=["tables"])
    converter.preprocessors.deregister("html_block")  # raw HTML blocks and inline tags become escaped text
    converter.inlinePatterns.deregister("html")
    body = converter.convert((run_dir / "report.md").read_text(encoding="utf-8"))
    body = re.sub(r'(<a[^>]*\shref=")([^"]*)(")', lambda m: m.group(1) + _safe_url(m.group(2)) + m.group(3), body)

    def embed(match: re.Match) -> str:
        src = html.unescape(match.group(2))
        target = run_dir / src
        if _safe_url(match.group(2)) != match.group(2) or not target.is_file() or not _inside(target, run_dir):
            return match.group(1) + match.group(3)  # only the run's own figures are shown
        data = base64.b64encode(target.read_bytes()).decode("ascii")
        return f'{match.group(1)}data:image/{target.suffix.lstrip(".").lower()};base64,{data}{match.group(3)}'

    body = re.sub(r'(<img[^>]*\ssrc=")([^"]+)(")', embed, body)
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>multisurv study report</title>\n<style>" + _HTML_STYLE + "</style>\n</head>\n<body>\n"
            + body + "\n</body>\n</html>\n")
    return write_text_atomic(run_dir / "report.html", page)


def _safe_url(url: str) -> str:
    """``url`` (HTML-escaped) if it is relative or http(s)/mailto, else ``"#"`` (no ``javascript:``, ``data:``...).

    Examples
    --------
    >>> _safe_url("figures/km.png"), _safe_url("https://doi.org/x"), _safe_url("JaVa&#115;cript:alert(1)")
    ('figures/km.png', 'https://doi.org/x', '#')
    """
    import html
    import re

    plain = re.sub(r"[\x00-\x20\x7f]", "", html.unescape(url)).lower()
    scheme = re.match(r"^([a-z][a-z0-9+.-]*):", plain)
    return url if scheme is None or scheme.group(1) in ("http", "https", "mailto") else "#"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
