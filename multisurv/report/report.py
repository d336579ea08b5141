"""write_report(): the study's report.md, built only from the tables the study wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from multisurv._atomic import write_csv_atomic, write_text_atomic
from multisurv.report.tables import cohort_summary, format_p, to_markdown

__all__ = ["write_report", "summary_table"]

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
) -> Path:
    """Write ``run_dir/report.md`` and ``run_dir/tables/summary.csv``; return the report's path."""
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
    return write_text_atomic(run_dir / "report.md", text + "\n")
