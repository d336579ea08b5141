"""Report of a binary-endpoint study: tables, paper-ready figures (PNG 300 dpi, PDF, SVG) and ``report.md`` /
``report.html``, drawn from the results :func:`multisurv.study.binary.fit_and_evaluate_binary` computed (nothing is
fitted here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from multisurv._atomic import write_csv_atomic, write_text_atomic
from multisurv.report.tables import cohort_summary, format_p, to_markdown

__all__ = ["FIGURE_FORMATS", "BINARY_TRIPOD_ITEMS", "binary_summary_table", "write_binary_figures",
           "write_binary_report", "write_binary_tables"]

#: Formats of every figure (the PNG at 300 dpi).
FIGURE_FORMATS = ("png", "pdf", "svg")


#: TRIPOD (Collins et al. 2015) items a binary-endpoint study reports, and the report section that holds each.
BINARY_TRIPOD_ITEMS = (
    ("4a, 5a", "Source of data; participants and settings (patients per cohort)", "Endpoint"),
    ("6a", "Outcome: the binary endpoint, its horizon and the patients censored before it", "Endpoint"),
    ("7a", "Predictors: modalities and features", "Models"),
    ("8", "Sample size: patients and events per cohort", "Endpoint"),
    ("9", "Missing data and how it was handled", "Models"),
    ("10a, 10b", "Model type (LASSO-logistic, fusion, comparators) and predictor selection", "Models"),
    ("10b", "Internal validation, every step refitted in each resample", "Internal validation"),
    ("10d", "Performance measures: discrimination and calibration", "Discrimination and calibration"),
    ("10d", "Calibration curves (bootstrap bias-corrected)", "Calibration curves"),
    ("10d", "Clinical usefulness (decision curves)", "Decision curves"),
    ("10d", "Added value of a model over the reference (NRI, IDI)", "Reclassification"),
    ("15a", "Full model: every coefficient (odds ratios)", "Models"),
    ("15b", "How to use the model (nomogram)", "Nomogram"),
    ("16", "Model performance with confidence intervals", "Discrimination and calibration"),
    ("16", "Models compared (paired DeLong)", "Model comparison"),
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_").lower() or "cohort"


def _save(fig, run_dir: Path, stem: str, written: dict) -> None:
    import matplotlib.pyplot as plt

    from multisurv.plotting.export import save_figure

    paths = save_figure(fig, run_dir / "figures" / stem, formats=FIGURE_FORMATS, dpi=300)
    plt.close(fig)
    written[stem] = [str(p.relative_to(run_dir)) for p in paths]


def write_binary_tables(run_dir: str | Path, result) -> dict[str, str]:
    """Write metrics.csv, predictions.csv and the tidy CSV tables of a binary study; return name -> path.

    ``metrics.csv`` and ``predictions.csv`` go in ``run_dir``; the endpoint counts, internal validation, AUC
    comparisons, bootstrap calibration curve, decision curves, ROC curves, odds ratios, nomogram, SHAP, tuning and
    reclassification tables (those the result holds) in ``run_dir/tables``. Each file is written atomically.

    Parameters
    ----------
    run_dir : str or Path
        The study's run folder (``tables/`` is created).
    result : BinaryStudyResult
        What the study computed (:func:`multisurv.study.binary.fit_and_evaluate_binary`).

    Returns
    -------
    dict of str to str
        Table name -> its path relative to ``run_dir`` (``predictions.csv`` is written but not listed).

    Examples
    --------
    >>> import tempfile
    >>> from multisurv.study.binary import BinaryEndpoint, BinaryStudyResult
    >>> metrics = pd.DataFrame({"model": ["late_fusion"], "cohort": ["development"], "n": [40], "events": [18],
    ...                         "auc": [0.74], "auc_lower": [0.58], "auc_upper": [0.90], "brier": [0.21],
    ...                         "slope": [0.9], "intercept": [0.05], "hl_p": [0.42]})
    >>> result = BinaryStudyResult(
    ...     metrics=metrics, validation=pd.DataFrame(), comparisons=pd.DataFrame(),
    ...     predictions=pd.DataFrame({"cohort": ["development"], "outcome": [1.0], "late_fusion": [0.7]}),
    ...     endpoint=BinaryEndpoint(pd.Series([1.0]), pd.DataFrame({"cohort": ["development"], "n": [40]}), ""),
    ...     labels={"late_fusion": "Late fusion"}, primary="late_fusion", n_bootstrap=200)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = write_binary_tables(tmp, result)
    >>> for name, path in written.items():
    ...     print(name, path)
    metrics metrics.csv
    endpoint tables/endpoint.csv
    internal_validation tables/internal_validation.csv
    auc_comparison tables/auc_comparison.csv
    """
    run_dir = Path(run_dir)
    tables = run_dir / "tables"
    out = {}

    def write(name: str, frame: pd.DataFrame, path: Path | None = None) -> None:
        path = path or tables / f"{name}.csv"
        write_csv_atomic(path, frame, index=False, float_format="%.6g")
        out[name] = str(path.relative_to(run_dir))

    write("metrics", result.metrics, run_dir / "metrics.csv")
    write_csv_atomic(run_dir / "predictions.csv", result.predictions, float_format="%.8g")
    write("endpoint", result.endpoint.table)
    write("internal_validation", result.validation)
    write("auc_comparison", result.comparisons)
    if result.calibration_curve is not None:
        write(f"calibration_curve_{result.primary}", result.calibration_curve.to_frame())
    for label, curves in result.decision_curves.items():
        write(f"decision_curve_{_slug(label)}",
              pd.concat([c.table.assign(model=c.name) for c in curves], ignore_index=True))
    rocs = [frame.assign(model=model, cohort=label) for (model, label), frame in result.roc.items()]
    if rocs:
        write("roc", pd.concat(rocs, ignore_index=True))
    for name, table in result.odds_ratios.items():
        write(f"{name}_odds_ratios", table)
    if result.nomogram is not None:
        write("nomogram_late_fusion", result.nomogram.to_frame())
    for name, table in result.shap.items():
        write(f"shap_{name}", table)
    if len(result.tuning):
        write("comparator_tuning", result.tuning)
    reclassification = getattr(result, "reclassification", None)
    if reclassification is not None and len(reclassification.table):
        write("reclassification", reclassification.table)
    return out


def write_binary_figures(run_dir: str | Path, result, *, unit: str = "months") -> dict[str, list[str]]:
    """Draw every figure of a binary study; return stem -> written paths (relative to ``run_dir``).

    Per cohort of ``result.metrics``: ROC curves (``roc_<cohort>``) and calibration curves (``calibration_<cohort>``,
    with the primary model's bias-corrected curve on the development cohort); per cohort with decision curves,
    ``decision_curve_<cohort>``; the late-fusion nomogram and one SHAP bar chart per comparator when the result holds
    them. Every figure is saved as PNG (300 dpi), PDF and SVG in ``run_dir/figures`` (matplotlib's Agg backend).

    Parameters
    ----------
    run_dir : str or Path
        The study's run folder.
    result : BinaryStudyResult
        What the study computed (:func:`multisurv.study.binary.fit_and_evaluate_binary`).
    unit : str, default="months"
        Time unit of the horizon, in the axis labels ("the event by 24 months").

    Returns
    -------
    dict of str to list of str
        Figure stem -> the written files, relative to ``run_dir``.

    Examples
    --------
    >>> written = write_binary_figures("runs/binary", result)  # doctest: +SKIP
    >>> written["roc_development"]  # doctest: +SKIP
    ['figures/roc_development.png', 'figures/roc_development.pdf', 'figures/roc_development.svg']
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from multisurv.plotting.binary import plot_calibration_curves, plot_logistic_nomogram, plot_net_benefit, plot_roc
    from multisurv.plotting.importance import plot_importance

    run_dir = Path(run_dir)
    labels = result.labels
    written: dict[str, list[str]] = {}
    metrics = result.metrics.set_index(["model", "cohort"]) if len(result.metrics) else None
    for label in dict.fromkeys(result.metrics["cohort"]) if len(result.metrics) else ():
        curves = {labels[m]: f for (m, c), f in result.roc.items() if c == label}
        if not curves:
            continue
        aucs = {labels[m]: tuple(metrics.loc[(m, c), ["auc", "auc_lower", "auc_upper"]])
                for (m, c) in result.roc if c == label}
        ax = plot_roc(curves, aucs=aucs)
        ax.set_title(f"ROC curves, {label}", fontsize=10)
        _save(ax.figure, run_dir, f"roc_{_slug(label)}", written)
        calib = {labels[m]: f for m, f in result.calibration.get(label, {}).items()}
        dev_label = _development(result)
        corrected = result.calibration_curve.to_frame() if (result.calibration_curve is not None
                                                              and label == dev_label) else None
        cohorts = result.predictions["cohort"]
        known = result.predictions[cohorts == label if label in set(cohorts) else cohorts != dev_label]
        known = known[known["outcome"].notna()]
        ax = plot_calibration_curves(calib, corrected=corrected,
                                     predicted=known[result.primary].dropna().to_numpy(),
                                     corrected_label=f"{labels[result.primary]}, bias-corrected "
                                                     f"(B = {result.n_bootstrap})")
        ax.set_title(f"Calibration, {label}", fontsize=10)
        _save(ax.figure, run_dir, f"calibration_{_slug(label)}", written)
    horizon = result.endpoint.horizon
    what = f"the event by {horizon:g} {unit}" if np.isfinite(horizon) else "the event"
    for label, curves in result.decision_curves.items():
        ax = plot_net_benefit(curves, xlabel=f"Threshold probability of {what}",
                              max_threshold=min(0.99, float(np.nanmax(result.predictions[result.primary])) + 0.1))
        ax.set_title(f"Decision curves, {label}", fontsize=10)
        _save(ax.figure, run_dir, f"decision_curve_{_slug(label)}", written)
    if result.nomogram is not None:
        ax = plot_logistic_nomogram(result.nomogram, outcome=f"Probability of {what}")
        _save(ax.figure, run_dir, "nomogram_late_fusion", written)
    for name, table in result.shap.items():
        ax = plot_importance(table, value="mean_abs_shap", xlabel="mean |SHAP| (event probability)")
        ax.set_title(f"SHAP, {labels.get(name, name)}", fontsize=10)
        _save(ax.figure, run_dir, f"shap_{name}", written)
    plt.close("all")
    return written


def _development(result) -> str:
    return str(result.metrics["cohort"].iloc[0]) if len(result.metrics) else ""


def _ci(value, lo, hi, fmt: str = ".3f") -> str:
    if not np.isfinite(value):
        return ""
    return f"{value:{fmt}} ({lo:{fmt}}-{hi:{fmt}})"


def binary_summary_table(result) -> pd.DataFrame:
    """One display row per model and cohort: n (events), AUC with its DeLong interval, Brier, calibration slope
    and intercept, Hosmer-Lemeshow p.

    Parameters
    ----------
    result : BinaryStudyResult
        What the study computed (:func:`multisurv.study.binary.fit_and_evaluate_binary`).

    Returns
    -------
    pandas.DataFrame
        Columns ``model`` (display label), ``cohort``, ``n (events)``, ``AUC (95% CI, DeLong)`` (text), ``Brier``,
        ``slope``, ``intercept``, ``Hosmer-Lemeshow p`` (text); empty text where a metric is missing.

    Examples
    --------
    >>> from multisurv.study.binary import BinaryEndpoint, BinaryStudyResult
    >>> metrics = pd.DataFrame({"model": ["late_fusion"], "cohort": ["development"], "n": [40], "events": [18],
    ...                         "auc": [0.74], "auc_lower": [0.58], "auc_upper": [0.90], "brier": [0.21],
    ...                         "slope": [0.9], "intercept": [0.05], "hl_p": [0.42]})
    >>> result = BinaryStudyResult(
    ...     metrics=metrics, validation=pd.DataFrame(), comparisons=pd.DataFrame(),
    ...     predictions=pd.DataFrame({"cohort": ["development"], "outcome": [1.0], "late_fusion": [0.7]}),
    ...     endpoint=BinaryEndpoint(pd.Series([1.0]), pd.DataFrame({"cohort": ["development"], "n": [40]}), ""),
    ...     labels={"late_fusion": "Late fusion"}, primary="late_fusion", n_bootstrap=200)
    >>> binary_summary_table(result)[["model", "n (events)", "AUC (95% CI, DeLong)", "Hosmer-Lemeshow p"]]
             model n (events) AUC (95% CI, DeLong) Hosmer-Lemeshow p
    0  Late fusion    40 (18)  0.740 (0.580-0.900)              0.42
    """
    return _metrics_table(result)


def _metrics_table(result) -> pd.DataFrame:
    m = result.metrics.copy()
    for col in ("auc", "auc_lower", "auc_upper", "brier", "slope", "intercept", "hl_p"):
        if col not in m:
            m[col] = np.nan
    return pd.DataFrame({
        "model": [result.labels.get(v, v) for v in m["model"]], "cohort": m["cohort"],
        "n (events)": [f"{n} ({e})" for n, e in zip(m["n"], m["events"])],
        "AUC (95% CI, DeLong)": [_ci(a, lo, hi) for a, lo, hi in zip(m["auc"], m["auc_lower"], m["auc_upper"])],
        "Brier": m["brier"], "slope": m["slope"], "intercept": m["intercept"],
        "Hosmer-Lemeshow p": [format_p(p) if np.isfinite(p) else "" for p in m["hl_p"]]})


def _validation_table(result) -> pd.DataFrame:
    v = result.validation
    if not len(v):
        return pd.DataFrame()
    wide = v.pivot_table(index="model", columns="index", values=["apparent", "corrected"], sort=False)
    rows = []
    for model in dict.fromkeys(v["model"]):
        row = {"model": result.labels.get(model, model)}
        for index in ("auc", "slope", "intercept", "brier"):
            row[f"{index} apparent"] = wide.loc[model, ("apparent", index)]
            row[f"{index} corrected"] = wide.loc[model, ("corrected", index)]
        row["resamples"] = int(v.loc[v["model"] == model, "n"].min())
        rows.append(row)
    return pd.DataFrame(rows)


def _comparison_table(result, dev: str) -> pd.DataFrame:
    c = result.comparisons
    if not len(c):
        return pd.DataFrame()
    part = c[(c["model_a"] == result.primary) | (c["model_b"] == result.primary)]
    return pd.DataFrame({
        "cohort": part["cohort"], "model A": [result.labels.get(v, v) for v in part["model_a"]],
        "model B": [result.labels.get(v, v) for v in part["model_b"]],
        "AUC A - AUC B (95% CI)": [f"{d:.3f} ({lo:.3f} to {hi:.3f})" for d, lo, hi in
                                   zip(part["difference"], part["lower"], part["upper"])],
        "p (paired DeLong)": [format_p(p) for p in part["p_value"]], "n": part["n"]})


def _figures(written: Mapping[str, list[str]], prefix: str) -> list[str]:
    lines = []
    for stem, paths in written.items():
        if stem.startswith(prefix):
            png = next((p for p in paths if p.endswith(".png")), None)
            if png:
                lines += [f"![{stem}]({png})", ""]
    return lines


def write_binary_report(run_dir: str | Path, result, *, cohort, failures: pd.DataFrame, modalities: Sequence,
                        elapsed: float, extra: Mapping[str, object] | None = None) -> Path:
    """Write the tables, figures, ``report.md`` and ``report.html`` of a binary-endpoint study.

    Calls :func:`write_binary_tables` and :func:`write_binary_figures` (the time unit read from the endpoint note),
    then writes the report: endpoint, cohorts (horizon endpoints only), models and their odds ratios,
    discrimination and calibration, bootstrap validation, paired DeLong comparisons, the figures, the
    reclassification over the reference model, failures and warnings.

    Parameters
    ----------
    run_dir : str or Path
        The study's run folder.
    result : BinaryStudyResult
        What the study computed (:func:`multisurv.study.binary.fit_and_evaluate_binary`).
    cohort : Cohort
        The study cohort (its source manifest and, for a horizon endpoint, its follow-up summary).
    failures : pandas.DataFrame
        Feature-extraction failures (one row per failed case).
    modalities : sequence of Modality
        The study's modalities (named in the models paragraph).
    elapsed : float
        Run time in seconds.
    extra : mapping, optional
        Lines at the top of the report (key -> value).

    Returns
    -------
    Path
        ``run_dir/report.md``.

    Examples
    --------
    >>> path = write_binary_report("runs/binary", result, cohort=cohort, failures=failures,
    ...                            modalities=modalities, elapsed=114.0)  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'report.md'
    """
    from multisurv.report.report import write_html_report

    run_dir = Path(run_dir)
    tables = write_binary_tables(run_dir, result)
    unit = "months"
    match = re.search(r"event by [0-9.eE+-]+ (\S+?) \(", result.endpoint.note)
    if match:
        unit = match.group(1)
    written = write_binary_figures(run_dir, result, unit=unit)
    dev = _development(result)
    labels = result.labels
    lines = ["# multisurv study report (binary endpoint)", ""]
    for key, value in (extra or {}).items():
        lines.append(f"- **{key}**: {value}")
    lines += [f"- **Source manifest**: `{cohort.source}`" if cohort.source else "",
              f"- **Run time**: {elapsed:.0f} s", f"- **Primary model**: {labels.get(result.primary)}", ""]
    lines += ["## Endpoint", "", result.endpoint.note, "",
              "Patients whose status is unknown (censored before the horizon) are neither fitted nor evaluated; "
              "`censored_before` counts them per cohort.", "", to_markdown(result.endpoint.table, floatfmt=".3f"), ""]
    if np.isfinite(result.endpoint.horizon):  # follow-up is meaningful only when the outcome comes from survival data
        lines += ["## Cohorts", "", to_markdown(cohort_summary(cohort.table), floatfmt=".2f"), ""]
    lines += ["## Models", "",
              "Each modality gets a LASSO-logistic model (median imputation, penalty by cross-validated binomial "
              "deviance on the development cohort, then an unpenalised logistic model of the selected features). "
              "Late fusion is a logistic model on the out-of-fold per-modality log-odds ("
              + ", ".join(f"{m.score}: {m.label}" for m in modalities) + "); early fusion one ridge-penalised "
              "logistic model on the union of the features the modalities' LASSOs selected. The machine-learning "
              "comparators are tuned by inner cross-validation (AUC) and explained by SHAP. Everything is fitted on "
              "the development patients with a known outcome; other cohorts are only scored.", ""]
    for name, table in result.odds_ratios.items():
        lines += [f"**{labels.get(name, name)}** (`{tables.get(name + '_odds_ratios', '')}`)", "",
                  to_markdown(table, floatfmt=".3g"), ""]
    if len(result.tuning):
        lines += ["**Comparators' tuning** (inner CV)", "", to_markdown(result.tuning, floatfmt=".3g"), ""]
    lines += ["## Discrimination and calibration", "",
              "AUC with DeLong 95% intervals; calibration slope and intercept from `glm(y ~ logit(p))` "
              "(`rms::val.prob`); Brier score; Hosmer-Lemeshow test over 10 risk groups. Single-modality models are "
              "evaluated on the patients with that modality.", "", to_markdown(_metrics_table(result)), ""]
    validation = _validation_table(result)
    if len(validation):
        lines += ["## Internal validation (bootstrap)", "",
                  f"Optimism-corrected indexes by the whole-pipeline bootstrap (B = {result.n_bootstrap}; imputation, "
                  "clinical encoding, LASSO penalty and selection, fusion and tuning refitted in every resample), as "
                  "`rms::validate`.", "", to_markdown(validation), ""]
    comparison = _comparison_table(result, dev)
    if len(comparison):
        lines += ["## Model comparison (paired DeLong)", "",
                  f"{labels.get(result.primary)} against each other model, on the patients every model scores "
                  f"(all pairs in `{tables.get('auc_comparison')}`).", "", to_markdown(comparison), ""]
    lines += ["## ROC curves", ""] + _figures(written, "roc_")
    lines += ["## Calibration curves", ""]
    if result.calibration_curve is not None:
        cc = result.calibration_curve
        lines += [f"Smoothed (lowess) observed against predicted probability. On the development cohort the "
                  f"bootstrap bias-corrected curve of {labels.get(result.primary)} (`rms::calibrate`, B = "
                  f"{result.n_bootstrap}): mean absolute error {cc.mean_abs_error:.3f} (apparent "
                  f"{cc.apparent_mean_abs_error:.3f}), 90th percentile {cc.q90_abs_error:.3f}.", ""]
    lines += _figures(written, "calibration_")
    lines += ["## Decision curves", "", "Net benefit over threshold probabilities, every model on the same "
              "patients.", ""] + _figures(written, "decision_curve_")
    if getattr(result, "reclassification", None) is not None:
        from multisurv.report.report import reclassification_section

        lines += reclassification_section(result.reclassification, labels,
                                          table=tables.get("reclassification", "tables/reclassification.csv"))
    if result.nomogram is not None:
        lines += ["## Nomogram", "", "Late fusion: points per modality score (log-odds), total points and the "
                  "predicted probability.", ""] + _figures(written, "nomogram_")
    if result.shap:
        lines += ["## Comparators: SHAP", "", "Mean absolute SHAP value of each feature on the event probability "
                  "(development patients; permutation explainer).", ""] + _figures(written, "shap_")
    from multisurv.report.report import tripod_checklist

    lines += tripod_checklist([line[3:] for line in lines if line and line.startswith("## ")],
                              n_failures=len(failures), items=BINARY_TRIPOD_ITEMS)
    lines += ["## Failures", ""]
    lines += ([f"{len(failures)} case(s) failed during feature extraction; see `failures.csv`.", ""] if len(failures)
              else ["None.", ""])
    lines += ["## Warnings", ""] + ([f"- {n}" for n in result.notes] if result.notes else ["None."]) + [""]
    path = write_text_atomic(run_dir / "report.md", "\n".join(line for line in lines if line is not None) + "\n")
    write_html_report(run_dir)
    return path
