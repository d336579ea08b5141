"""Tidy tables for the report: metrics per model and cohort, cohort summary, and markdown rendering."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["cohort_summary", "slide_count_lines", "reverse_km_follow_up", "to_markdown", "format_p"]


def format_p(p: float) -> str:
    """Format a p-value the way journals print it.

    Parameters
    ----------
    p : float or None
        The p-value.

    Returns
    -------
    str
        ``"<0.001"``; three decimals below 0.1; two from 0.1; ``"n/a"`` for None or NaN.

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


def reverse_km_follow_up(time, event) -> tuple[float, float, float]:
    """Median follow-up by the reverse Kaplan-Meier method, with its 95% CI.

    The censoring indicator is treated as the event (Schemper & Smith 1996), so patients who died count as followed
    up to their death only; the median of the curve is the median potential follow-up. NaN when not reached.

    Parameters
    ----------
    time : array-like of float
        Observed times.
    event : array-like of bool
        True for an event, False for a censoring.

    Returns
    -------
    median, lower, upper : float
        The median follow-up and its 95% interval; all NaN when every patient had the event.

    Examples
    --------
    >>> reverse_km_follow_up([1.0, 2.0, 3.0, 4.0], [1, 0, 0, 0])[0]
    3.0
    """
    from multisurv._validation import make_y
    from multisurv.evaluation.kaplan_meier import kaplan_meier

    event = np.asarray(event, dtype=bool)
    if event.all():
        return (float("nan"),) * 3
    km = kaplan_meier(make_y(np.asarray(time, dtype=float), ~event))
    return float(km.median), float(km.median_lower), float(km.median_upper)


def cohort_summary(table: pd.DataFrame, available: Mapping[str, pd.Series] | None = None) -> pd.DataFrame:
    """Patients, events, follow-up and available/missing modalities per cohort label.

    ``table`` is a ``Cohort.table`` (columns cohort, time, event and the path columns). ``available`` maps a
    short modality name to a boolean Series (by patient_id) saying who has it; default ``ct`` (``ct_image``) and
    ``wsi`` (``wsi``). ``median_time`` is the median observed time; ``follow_up_median`` (and its 95% CI) the
    reverse Kaplan-Meier median follow-up.

    Parameters
    ----------
    table : pandas.DataFrame
        A ``Cohort.table``.
    available : mapping of str to pandas.Series, optional
        Short modality name -> boolean Series by patient_id (who has it).

    Returns
    -------
    pandas.DataFrame
        One row per cohort label, in order of appearance: ``cohort, patients, events, event_rate, median_time,
        follow_up_median, follow_up_95ci`` (``NR``: not reached), then ``with_<name>``, ``with_all`` and
        ``missing_<name>`` per modality.

    Examples
    --------
    >>> t = pd.DataFrame({"cohort": ["development"] * 3 + ["external"] * 2, "time": [5.0, 8.0, 12.0, 3.0, 9.0],
    ...                   "event": [True, False, False, True, False], "ct_image": ["a.nii", None, "c.nii", None, None],
    ...                   "wsi": ["a.svs", "b.svs", None, "d.svs", None]})
    >>> cohort_summary(t)[["cohort", "patients", "events", "with_ct", "with_all", "missing_wsi"]].to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'cohort': 'development', 'patients': 3, 'events': 1, 'with_ct': 2, 'with_all': 1, 'missing_wsi': 1},
     {'cohort': 'external', 'patients': 2, 'events': 1, 'with_ct': 0, 'with_all': 0, 'missing_wsi': 1}]
    """
    if available is None:
        available = {name: table[column].notna() for name, column in (("ct", "ct_image"), ("wsi", "wsi"))
                     if column in table}
    rows = []
    for label, part in table.groupby("cohort", sort=False):
        fu, fu_lo, fu_hi = reverse_km_follow_up(part["time"], part["event"])
        has = {name: flags.reindex(part.index).fillna(False).astype(bool) for name, flags in available.items()}
        row = {
            "cohort": label,
            "patients": len(part),
            "events": int(part["event"].sum()),
            "event_rate": round(float(part["event"].mean()), 3),
            "median_time": round(float(part["time"].median()), 2),
            "follow_up_median": round(fu, 2),
            "follow_up_95ci": "NR" if np.isnan(fu) else f"{fu_lo:.1f}-{fu_hi:.1f}".replace("nan", "NR"),
        }
        row.update({f"with_{name}": int(flags.sum()) for name, flags in has.items()})
        if has:
            row["with_all"] = int(np.logical_and.reduce([f.to_numpy() for f in has.values()]).sum())
        row.update({f"missing_{name}": int((~flags).sum()) for name, flags in has.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def slide_count_lines(cohort, modalities: Sequence = ()) -> list[str]:
    """Markdown lines counting the slides per patient of each pathomics modality (its slide column may list a
    patient's several slides, separated by ';'); empty when no patient has a slide.

    The counts are the cohort module's (:func:`multisurv.cohort.cohort.count_slides`); this only writes them.

    Parameters
    ----------
    cohort : Cohort
        The study's cohort.
    modalities : sequence of Modality, default=()
        The study's modalities; only those of kind ``pathomics`` whose slide column is in the table count.

    Returns
    -------
    list of str
        One bullet line per such modality with a slide, then an empty line; ``[]`` when there is none.

    Examples
    --------
    >>> from multisurv.cohort.cohort import Cohort
    >>> from multisurv.registry import BUILTIN_MODALITIES
    >>> t = pd.DataFrame({"patient_id": ["a", "b"], "wsi": ["/s/a1.svs;/s/a2.svs", "/s/b.svs"]}).set_index("patient_id")
    >>> slide_count_lines(Cohort(t, path_columns=("wsi",)), BUILTIN_MODALITIES.values())
    ["- Pathomics (patscore): slides per patient ('wsi'): median 1.5 (1-2); 1 of 2 patients with more than one.", '']
    """
    from multisurv.cohort.cohort import count_slides

    lines = []
    for modality in modalities:
        column = modality.columns.get("slide") if modality.kind == "pathomics" else None
        if column is None or column not in cohort.table:
            continue
        counts = count_slides(cohort.table, column)
        if counts.n_patients:
            lines.append(f"- {modality.label}: {counts.sentence()}.")
    return [*lines, ""] if lines else []


def to_markdown(frame: pd.DataFrame, *, floatfmt: str = ".3f", columns: Sequence[str] | None = None) -> str:
    """Render a DataFrame as a GitHub-flavoured markdown table.

    Written here (a dozen lines) rather than adding ``tabulate`` as a dependency only for this.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index is not written.
    floatfmt : str, default=".3f"
        Format of float cells (NaN is an empty cell).
    columns : sequence of str, optional
        Columns to write, in order; default all.

    Returns
    -------
    str
        The table, numeric columns right-aligned, without a final newline.

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
