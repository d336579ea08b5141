"""write_report(): the study's report.md, built only from the tables the study wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from multisurv._atomic import write_csv_atomic, write_text_atomic
from multisurv.report.tables import cohort_summary, format_p, to_markdown

__all__ = ["write_report", "write_html_report", "summary_table"]

_LABELS = {
    "radiomics": "Radiomics (radscore)",
    "pathomics": "Pathomics (patscore)",
    "clinical": "Clinical (clinscore)",
    "early_fusion": "Early fusion",
    "late_fusion": "Late fusion",
    "true_lp": "True linear predictor (ceiling)",
}


def _ci(row) -> str:
    if pd.isna(row.get("cindex")):
        return "n/a"
    return f"{row['cindex']:.3f} ({row['ci_lower']:.3f}-{row['ci_upper']:.3f})"


def summary_table(metrics: pd.DataFrame, *, subset: str = "available") -> pd.DataFrame:
    """One row per model: C-index (95% CI), n and log-rank p for each cohort, side by side.

    When ``metrics`` has a ``subset`` column (as :func:`multisurv.pipeline.run_study` writes it), only the rows of
    that subset are tabulated: ``"available"`` (each model on every patient it scores) or ``"complete"`` (every
    model on the patients who have all modalities).

    Examples
    --------
    >>> m = pd.DataFrame({"model": ["late_fusion"], "cohort": ["external"], "n": [10], "events": [4],
    ...                   "cindex": [0.8], "ci_lower": [0.7], "ci_upper": [0.9], "logrank_p": [0.01]})
    >>> summary_table(m).iloc[0].tolist()
    ['Late fusion', '0.800 (0.700-0.900)', '10 (4)', '0.010']
    """
    if "subset" in metrics:
        metrics = metrics[metrics["subset"] == subset]
    if metrics.duplicated(["model", "cohort"]).any():
        raise ValueError("summary_table: several rows for the same model and cohort; pass one subset at a time.")
    out = []
    for model, part in metrics.groupby("model", sort=False):
        row = {"Model": _LABELS.get(model, model)}
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
) -> Path:
    """Write ``run_dir/report.md``, its self-contained twin ``report.html`` and ``tables/summary.csv``.

    ``evaluation`` is the :class:`~multisurv.report.figures.EvaluationFigures` of the run (calibration, decision
    curves, C-index comparison, hazard ratios); its figures get their own sections. Returns the Markdown path.
    """
    run_dir = Path(run_dir)
    summary = summary_table(metrics)
    complete = summary_table(metrics, subset="complete") if "subset" in metrics else None
    write_csv_atomic(run_dir / "tables" / "summary.csv", summary, index=False)
    lines = ["# multisurv study report", ""]
    for key, value in (extra or {}).items():
        lines.append(f"- **{key}**: {value}")
    lines += [f"- **Source manifest**: `{cohort.source}`" if cohort.source else "",
              f"- **Run time**: {elapsed:.0f} s", ""]
    lines += ["## Cohorts", "", to_markdown(cohort_summary(cohort.table)), ""]
    lines += ["## Discrimination and risk stratification", "",
              "Harrell's C-index with 95% percentile-bootstrap intervals. Risk groups split at the development "
              "median of each model's score; the same cut-off is applied unchanged to the external cohort. "
              "Single-modality models are evaluated on the patients who have that modality; fusions on everyone.",
              "", to_markdown(summary), ""]
    if complete is not None and len(complete):
        lines += ["**Same patients for every model**: the patients who have all modalities (complete cases).", "",
                  to_markdown(complete), ""]
        write_csv_atomic(run_dir / "tables" / "summary_complete_cases.csv", complete, index=False)
    lines += ["## Models", "",
              "Each modality score is a LASSO-Cox linear predictor (penalty chosen by cross-validation on the "
              "development cohort). Early fusion fits one Cox model on the union of the selected features. "
              "Late fusion fits a Cox model on the three scores, using out-of-fold development scores.", "",
              "**Missing modalities.** A patient without a modality gets no single-modality score for it. "
              "Late fusion sets a missing score to its development mean (no information added); early fusion sets "
              "missing features to their development medians.", ""]
    n_sel = [{"score": name, "selected features": len(f)} for name, f in formulas.items()]
    if n_sel:
        lines += [to_markdown(pd.DataFrame(n_sel)), ""]
    lines += ["Late fusion: risk = " + " + ".join(f"{c:.3f} x {t}" for t, c in
                                                 zip(fusion_formula["term"], fusion_formula["coef"])), ""]
    figures = sorted((run_dir / "figures").glob("km_*.png"))
    if figures:
        lines += ["## Kaplan-Meier curves", ""]
        lines += [f"![{p.stem}](figures/{p.name})" for p in figures]
        lines.append("")
    if evaluation is not None:
        lines += _evaluation_sections(evaluation)
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


def _evaluation_sections(evaluation) -> list[str]:
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
    if "forest_late_fusion" in figs:
        lines += ["## Hazard ratios of the fused scores", "",
                  "Multivariable Cox model of the out-of-fold modality scores in the development cohort (patients "
                  "with every score). Table: `tables/late_fusion_hazard_ratios.csv`.", "", *images("forest_"), ""]
    if evaluation.skipped:
        lines += ["Not drawn: " + "; ".join(evaluation.skipped), ""]
    return lines


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
    so the file can be mailed or archived on its own.
    """
    import base64
    import html
    import re

    import markdown

    run_dir = Path(run_dir)
    body = markdown.markdown((run_dir / "report.md").read_text(), extensions=["tables"])

    def embed(match: re.Match) -> str:
        src = html.unescape(match.group(2))
        target = run_dir / src
        if src.startswith(("data:", "http:", "https:")) or not target.is_file():
            return match.group(0)
        data = base64.b64encode(target.read_bytes()).decode("ascii")
        return f'{match.group(1)}data:image/{target.suffix.lstrip(".").lower()};base64,{data}{match.group(3)}'

    body = re.sub(r'(<img[^>]*\ssrc=")([^"]+)(")', embed, body)
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<title>multisurv study report</title>\n<style>" + _HTML_STYLE + "</style>\n</head>\n<body>\n"
            + body + "\n</body>\n</html>\n")
    return write_text_atomic(run_dir / "report.html", page)
