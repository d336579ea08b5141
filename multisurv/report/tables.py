"""Tidy tables for the report: metrics per model and cohort, cohort summary, and markdown rendering."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["cohort_summary", "to_markdown", "format_p"]


def format_p(p: float) -> str:
    """Format a p-value the way journals print it.

    Examples
    --------
    >>> format_p(0.0004), format_p(0.0312), format_p(0.5)
    ('<0.001', '0.031', '0.50')
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    if p < 0.001:
        return "<0.001"
    if p < 0.01:
        return f"{p:.3f}"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def cohort_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Patients, events, median follow-up and available modalities per cohort label.

    ``table`` is a ``Cohort.table`` (columns cohort, time, event, ct_image, wsi).
    """
    rows = []
    for label, part in table.groupby("cohort", sort=False):
        rows.append({
            "cohort": label,
            "patients": len(part),
            "events": int(part["event"].sum()),
            "event_rate": round(float(part["event"].mean()), 3),
            "median_time": round(float(part["time"].median()), 2),
            "with_ct": int(part["ct_image"].notna().sum()),
            "with_wsi": int(part["wsi"].notna().sum()),
            "with_all": int((part["ct_image"].notna() & part["wsi"].notna()).sum()),
        })
    return pd.DataFrame(rows)


def to_markdown(frame: pd.DataFrame, *, floatfmt: str = ".3f", columns: Sequence[str] | None = None) -> str:
    """Render a DataFrame as a GitHub-flavoured markdown table.

    Written here (a dozen lines) rather than adding ``tabulate`` as a dependency only for this.

    Examples
    --------
    >>> print(to_markdown(pd.DataFrame({"model": ["a"], "cindex": [0.71234]})))
    | model | cindex |
    | --- | ---: |
    | a | 0.712 |
    """
    frame = frame if columns is None else frame.loc[:, list(columns)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]

    def cell(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(float(v), floatfmt)
        return str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
