"""``multisurv km DATA.csv --time-col T --event-col E [--group-col G | --score-col S --cutoff median|VALUE]``.

Draws a publication Kaplan-Meier figure from any CSV (one row per patient) and writes the numbers behind it:

- ``km.png`` (300 dpi) and ``km.pdf``: curves with 95% bands, censoring ticks, numbers at risk, log-rank p,
  median survival per group and hazard ratios against the first group;
- ``km.json``: per group the Kaplan-Meier table (time, n at risk, events, censored, survival, lower, upper),
  the median with its CI and the survival at ``--times``; the log-rank test; the hazard ratios;
- ``km_table.csv`` (all groups' Kaplan-Meier tables) and, with ``--times``, ``km_times.csv``.

Groups come from a column (``--group-col``) or from a score split at a cut-off (``--score-col``: patients with a
score above the cut-off are ``high``, the others ``low``; the default cut-off is the median). Without either,
one curve for all patients. The exit code is 0 on success and 2 for a usage or data error; data errors list
every bad row (file, row as in a spreadsheet, column, value) and how to fix it.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["add_commands", "read_km_data", "run_km"]

#: Above this many distinct values a --group-col is almost surely a continuous variable.
MAX_GROUPS = 12
#: At most this many bad rows are listed in one error (the count of the rest follows).
MAX_LISTED = 20


def add_commands(subparsers) -> None:
    """Add ``km`` to the ``multisurv`` parser's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned for the ``multisurv`` command.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="multisurv")
    >>> add_commands(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["km", "data.csv", "--time-col", "t", "--event-col", "e"])
    >>> args.conf_type, args.group_col, args.func.__name__
    ('log', None, '_cmd_km')
    """
    p = subparsers.add_parser(
        "km", help="Kaplan-Meier figure (PNG + PDF) with log-rank test, HR and medians, and its numbers as JSON/CSV.",
        description="Draw a publication Kaplan-Meier figure from a CSV (one row per patient): 95%% bands, "
                    "censoring ticks, numbers at risk, log-rank p, median survival and hazard ratios, as km.png "
                    "(300 dpi) and km.pdf; write the estimates and tests to km.json, km_table.csv (and km_times.csv "
                    "with --times).",
    )
    p.add_argument("data", type=Path, help="CSV file, one row per patient, with a header row.")
    p.add_argument("--time-col", required=True, help="Column with the follow-up time (a number > 0).")
    p.add_argument("--event-col", required=True, help="Column with the event indicator: 1 = event, 0 = censored "
                                                      "(true/false and yes/no are accepted too).")
    split = p.add_mutually_exclusive_group()
    split.add_argument("--group-col", default=None, help="Column with the group of each patient (2 to "
                                                         f"{MAX_GROUPS} groups).")
    split.add_argument("--score-col", default=None, help="Column with a numeric risk score (higher = worse), split "
                                                         "into 'low' and 'high' at --cutoff.")
    p.add_argument("--cutoff", default=None, metavar="median|VALUE",
                   help="With --score-col: 'median' (default) or a number; a score above it is 'high'.")
    p.add_argument("--out", type=Path, default=None,
                   help="Output folder (default: km_<name of DATA> in the current folder).")
    p.add_argument("--conf-type", default="log", choices=("log", "log-log", "plain"),
                   help="Transform of the 95%% bands and median CIs, as R's survfit(conf.type=): log (R's default), "
                        "log-log (lifelines' band), plain.")
    p.add_argument("--times", nargs="+", default=None, metavar="T",
                   help="Report survival at these times (space- or comma-separated), as R's summary(fit, times=).")
    p.add_argument("--time-unit", default=None, help="Unit of the times, shown on the figure (e.g. days, months).")
    p.add_argument("--title", default=None, help="Figure title.")
    p.set_defaults(func=_cmd_km)


def _cmd_km(args) -> int:
    if args.cutoff is not None and args.score_col is None:
        raise ValueError("--cutoff needs --score-col (the score to split). Add --score-col, or drop --cutoff and "
                         "use --group-col for groups you already have.")
    times = _parse_times(args.times)
    out = args.out if args.out is not None else Path(f"km_{args.data.stem}")
    summary = run_km(args.data, out, time_col=args.time_col, event_col=args.event_col, group_col=args.group_col,
                     score_col=args.score_col, cutoff=args.cutoff or "median", conf_type=args.conf_type, times=times,
                     time_unit=args.time_unit, title=args.title)
    print(_format_summary(summary))
    return 0


def _parse_times(values: list[str] | None) -> list[float] | None:
    if values is None:
        return None
    items = [v for value in values for v in value.split(",") if v.strip()]
    times = []
    for item in items:
        try:
            t = float(item)
        except ValueError:
            t = math.nan
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"--times: {item!r} is not a time; give numbers >= 0 in the unit of the time column, "
                             "for example --times 365 730 1825.")
        times.append(t)
    return times


def read_km_data(path: Path, *, time_col: str, event_col: str, group_col: str | None = None,
                 score_col: str | None = None, cutoff: str | float = "median") -> tuple[np.ndarray, np.ndarray, dict]:
    """Read and check a CSV for ``multisurv km``: survival array, group labels, and a description of the split.

    Every problem in the file is collected and reported at once (a :class:`multisurv.exceptions.ManifestError`
    listing file, row, column, value and fix). Rows are numbered as in a spreadsheet: the header is row 1.

    Parameters
    ----------
    path : Path
        The CSV, one row per patient.
    time_col : str
        Column of follow-up times.
    event_col : str
        Column of event indicators (as ``multisurv validate`` reads them).
    group_col : str, optional
        Column of group labels (2 to ``MAX_GROUPS`` distinct values).
    score_col : str, optional
        Column of risk scores, split into ``"high"`` (> cut-off) and ``"low"``.
    cutoff : "median" or float, default="median"
        Cut-off of ``score_col``: its median or a value leaving patients on both sides.

    Returns
    -------
    y : numpy.ndarray
        Structured survival array, fields ``event`` (bool) and ``time`` (float).
    groups : numpy.ndarray
        Group label per patient: ``"all"`` without a group or score column, ``"high"`` / ``"low"`` for a score,
        else the column's labels (integers when every label is one).
    split : dict
        How the groups were made: ``kind`` (``"all"``, ``"column"`` or ``"score"``) and, for a score, ``column``,
        ``cutoff``, ``cutoff_rule`` and ``rule``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ManifestError
        When a named column is missing, or any value is invalid (every problem listed).
    ValueError
        When the file is a folder, empty or unreadable, or the split leaves fewer than two groups (or too many).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = Path(d) / "data.csv"
    ...     _ = path.write_text("id,months,dead,score\\na,5,1,0.9\\nb,12,0,0.1\\nc,7,1,0.5\\nd,20,1,0.2\\n")
    ...     y, groups, split = read_km_data(path, time_col="months", event_col="dead", score_col="score")
    >>> y["time"].tolist(), groups.tolist()
    ([5.0, 12.0, 7.0, 20.0], ['high', 'low', 'high', 'low'])
    >>> split["cutoff"], split["rule"]
    (0.35, "'score' > 0.35 is 'high', otherwise 'low'")
    """
    from multisurv._validation import make_y
    from multisurv.cohort.outcomes import parse_event
    from multisurv.exceptions import ManifestError

    path = Path(path)
    name = path.name
    if not path.exists():
        raise FileNotFoundError(f"{name} does not exist (looked for '{path.resolve()}'). Check the path to the CSV.")
    if path.is_dir():
        raise ValueError(f"{name} is a folder, not a CSV file ('{path.resolve()}'). Give the path to the file.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise ValueError(f"{name} is empty: it has no header row. Write a header and one row per patient.") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValueError(f"{name} is not a readable CSV file ({str(exc).strip().splitlines()[0]}). Save it as "
                         "comma-separated 'CSV UTF-8' text.") from None
    columns = {"--time-col": time_col, "--event-col": event_col, "--group-col": group_col, "--score-col": score_col}
    available = ", ".join(repr(c) for c in frame.columns)
    missing = [f"{name} has no column '{col}' ({option}). Available columns: {available}. Pass one of them to "
               f"{option}." for option, col in columns.items() if col is not None and col not in frame.columns]
    if missing:
        raise ManifestError(missing, source=name)
    if frame.empty:
        raise ValueError(f"{name} has a header but no rows; add one row per patient.")

    problems: list[str] = []
    rows = np.arange(2, len(frame) + 2)  # spreadsheet row numbers

    def bad(row: int, col: str, value: str, rule: str, fix: str) -> None:
        problems.append(f"row {row}, column '{col}': {rule}; got {value!r}. {fix}")

    time = pd.to_numeric(frame[time_col].str.strip(), errors="coerce").to_numpy(float)
    for row, raw, t in zip(rows, frame[time_col], time):
        if raw.strip() == "":
            bad(row, time_col, raw, "missing follow-up time", "Fill it in or drop the row.")
        elif not np.isfinite(t) or t <= 0:
            bad(row, time_col, raw, "must be a number > 0", "Correct the value or drop the row.")
    event, found = parse_event(frame[event_col], source=None, column=event_col, words=True)
    problems += found

    split: dict[str, Any] = {"kind": "all"}
    groups = np.array(["all"] * len(frame), dtype=object)
    if group_col is not None:
        labels = frame[group_col].str.strip()
        for row, raw in zip(rows, frame[group_col]):
            if raw.strip() == "":
                bad(row, group_col, raw, "missing group", "Fill it in or drop the row.")
        groups = _group_labels(labels)
        split = {"kind": "column", "column": group_col}
    score = None
    if score_col is not None:
        score = pd.to_numeric(frame[score_col].str.strip(), errors="coerce").to_numpy(float)
        for row, raw, s in zip(rows, frame[score_col], score):
            if not np.isfinite(s):
                bad(row, score_col, raw, "must be a number (the risk score)", "Correct the value or drop the row.")

    if problems:
        listed = problems[:MAX_LISTED]
        if len(problems) > MAX_LISTED:
            listed.append(f"... and {len(problems) - MAX_LISTED} more problem(s) like these.")
        raise ManifestError(listed, source=name)

    if not event.any():
        raise ValueError(f"{name}: column '{event_col}' has no event (all {len(frame)} rows are censored), so there "
                         "is no survival curve to draw. Check that 1 (or true) marks an event.")
    if score is not None:
        value = _cutoff_value(cutoff, score, name=name, score_col=score_col)
        groups = np.where(score > value, "high", "low").astype(object)
        split = {"kind": "score", "column": score_col, "cutoff": value,
                 "cutoff_rule": "median" if str(cutoff).strip().lower() == "median" else "value",
                 "rule": f"'{score_col}' > {value:g} is 'high', otherwise 'low'"}
        present = set(groups)
        if len(present) < 2:
            only = present.pop()
            raise ValueError(
                f"{name}: the cut-off {value:g} on '{score_col}' puts all {len(frame)} patients in the '{only}' group "
                f"('{score_col}' ranges from {score.min():g} to {score.max():g}; 'high' means > cut-off). Give "
                "--cutoff a value inside that range that leaves patients on both sides."
            )
    elif group_col is not None:
        distinct = pd.unique(groups)
        if len(distinct) < 2:
            raise ValueError(
                f"{name}: column '{group_col}' has a single value ({distinct[0]!r}) in all {len(frame)} rows, so "
                "there are no groups to compare. Choose another --group-col, or omit it for one overall curve."
            )
        if len(distinct) > MAX_GROUPS:
            raise ValueError(
                f"{name}: column '{group_col}' has {len(distinct)} distinct values; more than {MAX_GROUPS} curves "
                f"are unreadable. If it is a score, use --score-col {group_col} (split at the median or --cutoff); "
                "otherwise merge groups first."
            )
    return make_y(time, event), groups, split


def _group_labels(labels: pd.Series) -> np.ndarray:
    """Group labels: integers when every label is one (so 2 sorts before 10), else the text."""
    try:
        numbers = labels.astype(float)
    except ValueError:
        return labels.to_numpy(dtype=object)
    if np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)):
        return numbers.astype(int).to_numpy(dtype=object)
    return labels.to_numpy(dtype=object)


def _cutoff_value(cutoff, score: np.ndarray, *, name: str, score_col: str) -> float:
    if str(cutoff).strip().lower() == "median":
        return float(np.median(score))
    try:
        value = float(cutoff)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"--cutoff must be 'median' or a number; got {cutoff!r}. For example --cutoff median or "
                         f"--cutoff 0.5 (patients with '{score_col}' above it are 'high').")
    return value


def run_km(data: Path, out: Path, *, time_col: str, event_col: str, group_col: str | None = None,
           score_col: str | None = None, cutoff: str | float = "median", conf_type: str = "log",
           times: list[float] | None = None, time_unit: str | None = None, title: str | None = None) -> dict:
    """Do what ``multisurv km`` does and return the summary written to ``km.json``.

    Reads the data with :func:`read_km_data`, computes a Kaplan-Meier curve per group (log-rank test and Cox hazard
    ratios against the first group when there are two or more), draws the curves and writes ``km.png`` (300 dpi),
    ``km.pdf``, ``km_table.csv``, ``km_times.csv`` (with ``times``) and ``km.json`` into ``out``.

    Parameters
    ----------
    data : Path
        The CSV, one row per patient.
    out : Path
        Output folder (created).
    time_col, event_col : str
        Columns of follow-up times and event indicators.
    group_col : str, optional
        Column of group labels.
    score_col : str, optional
        Column of risk scores, split at ``cutoff`` into high and low risk.
    cutoff : "median" or float, default="median"
        Cut-off of ``score_col``.
    conf_type : str, default="log"
        Transformation of the pointwise confidence band (as R's ``survfit(conf.type=)``).
    times : list of float, optional
        Times at which each curve's survival is also tabulated.
    time_unit : str, optional
        Unit of the time axis label.
    title : str, optional
        Figure title.

    Returns
    -------
    dict
        The JSON-ready summary: ``input``, ``settings``, ``groups`` (n, events, median with interval, the curve),
        ``logrank`` and ``hazard_ratios`` (None for one group), ``notes`` (non-estimable hazard ratios) and
        ``files`` (the paths written).

    Raises
    ------
    ValueError
        From :func:`read_km_data`, or when the groups cannot be compared (zero log-rank variance).
    FileNotFoundError
        When ``data`` does not exist.

    Examples
    --------
    >>> summary = run_km(Path("data.csv"), Path("km_out"), time_col="months", event_col="dead",
    ...                  score_col="score")  # doctest: +SKIP
    >>> summary["logrank"]["p_value"], summary["files"]["figure_png"]  # doctest: +SKIP
    (0.021, 'km_out/km.png')
    """
    import warnings

    import matplotlib.pyplot as plt

    from multisurv._atomic import write_csv_atomic, write_json_atomic
    from multisurv.evaluation.cox import group_hazard_ratios
    from multisurv.evaluation.groups import logrank
    from multisurv.evaluation.kaplan_meier import kaplan_meier
    from multisurv.exceptions import ConvergenceWarning
    from multisurv.plotting.export import save_figure
    from multisurv.plotting.km import _group_order, plot_km

    y, groups, split = read_km_data(data, time_col=time_col, event_col=event_col, group_col=group_col,
                                    score_col=score_col, cutoff=cutoff)
    order = _group_order(groups)
    labels = {"low": "Low risk", "high": "High risk"} if split["kind"] == "score" else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    group_entries, tables, at_times = [], [], []
    for group in order:
        mask = groups == group
        km = kaplan_meier(y[mask], conf_type=conf_type)
        table = km.to_frame()
        tables.append(table.assign(group=str(group))[["group", *table.columns]])
        entry = {"group": str(group), "label": labels[group] if labels else str(group), "n": km.n,
                 "n_events": km.n_events,
                 "median": {"median": km.median, "lower": km.median_lower, "upper": km.median_upper},
                 "km": table.to_dict(orient="list")}
        if times is not None:
            at = km.at_times(times, extend=False)
            entry["survival_at"] = at.to_dict(orient="list")
            entry["times_after_follow_up"] = [t for t in sorted(times) if t > km.time[-1]]
            at_times.append(at.assign(group=str(group))[["group", *at.columns]])
        group_entries.append(entry)

    logrank_entry = hr_entry = None
    notes: list[str] = []
    if len(order) >= 2:
        try:
            lr = logrank(y, groups)
        except np.linalg.LinAlgError:
            times = np.unique(y["time"][y["event"]])
            raise ValueError(
                f"{Path(data).name}, columns {time_col!r} and {event_col!r}: the groups cannot be compared: the "
                f"log-rank variance is zero (every patient still at risk has the event at the same time; event "
                f"times: {', '.join(f'{t:g}' for t in times[:5])}), so the test and hazard ratios are undefined. "
                "Check the time column (a constant or default date?), or draw the curve without "
                "--group-col/--score-col.") from None
        logrank_entry = {"statistic": lr.statistic, "df": lr.df, "p_value": lr.p_value,
                         "observed": {str(k): v for k, v in lr.observed.items()},
                         "expected": {str(k): v for k, v in lr.expected.items()},
                         "call": "survdiff(Surv(time, event) ~ group)"}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            fit = group_hazard_ratios(y, groups, order=order)
        notes += [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
        hr_entry = {"reference": str(order[0]), "model": "coxph(Surv(time, event) ~ group, ties = 'efron')",
                    "estimable": not notes,
                    "rows": [{"group": g, "hr": float(h), "lower": float(lo), "upper": float(hi), "p_value": float(p)}
                             for g, h, lo, hi, p in zip(fit.names, fit.hr, fit.lower, fit.upper, fit.p_value)]}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # recorded above, in the JSON and on stdout
        # plot_km makes the figure itself, so it can widen it when the statistics need room beside the curves.
        fig = plot_km(y, groups, labels=labels, title=title, time_unit=time_unit, conf_type=conf_type).figure
    try:
        figures = save_figure(fig, out / "km", formats=("png", "pdf"), dpi=300)
    finally:
        plt.close(fig)

    files = {"figure_png": figures[0], "figure_pdf": figures[1], "table_csv": out / "km_table.csv"}
    write_csv_atomic(files["table_csv"], pd.concat(tables, ignore_index=True), index=False)
    if at_times:
        files["times_csv"] = out / "km_times.csv"
        write_csv_atomic(files["times_csv"], pd.concat(at_times, ignore_index=True), index=False)
    files["json"] = out / "km.json"
    summary = {
        "input": {"file": str(data), "time_col": time_col, "event_col": event_col, "n": int(y.shape[0]),
                  "n_events": int(y["event"].sum()), "split": split},
        "settings": {"conf_type": conf_type, "confidence": 0.95, "time_unit": time_unit, "times": times,
                     "median_rule": "print(survfit) in R: first time the curve (band) is <= 0.5; midpoint of a "
                                    "flat stretch at exactly 0.5; null = not reached"},
        "groups": group_entries,
        "logrank": logrank_entry,
        "hazard_ratios": hr_entry,
        "notes": notes,
        "files": {k: str(v) for k, v in files.items()},
    }
    write_json_atomic(files["json"], _json_ready(summary))
    return summary


def _json_ready(obj):
    """NaN and infinities become null (JSON has neither); numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _format_summary(summary: dict) -> str:
    from multisurv.plotting.km import format_p, format_time

    unit = summary["settings"]["time_unit"]
    lines = [f"{summary['input']['file']}: {summary['input']['n']} patients, {summary['input']['n_events']} events."]
    split = summary["input"]["split"]
    if split["kind"] == "score":
        lines.append(f"Groups: {split['rule']} (cut-off: {split['cutoff_rule']}).")
    lines.append(f"{'group':<16} {'n':>6} {'events':>7}  median (95% CI){', ' + unit if unit else ''}")
    for g in summary["groups"]:
        m = g["median"]
        lines.append(f"{g['label']:<16} {g['n']:>6} {g['n_events']:>7}  {format_time(m['median'])} "
                     f"({format_time(m['lower'])}-{format_time(m['upper'])})")
    if summary["logrank"] is not None:
        lr = summary["logrank"]
        lines.append(f"Log-rank: chi2 = {lr['statistic']:.3f}, df = {lr['df']}, {format_p(lr['p_value'])}")
        ref = summary["hazard_ratios"]["reference"]
        for row in summary["hazard_ratios"]["rows"]:
            lines.append(f"HR {row['group']} vs {ref}: {row['hr']:.2f} ({row['lower']:.2f}-{row['upper']:.2f}), "
                         f"{format_p(row['p_value'])}")
    lines += [f"Note: {n}" for n in summary["notes"]]
    for g in summary["groups"]:
        if g.get("times_after_follow_up"):
            lines.append(f"Note: group {g['label']!r} has no follow-up after {g['km']['time'][-1]:g}; times "
                         f"{', '.join(f'{t:g}' for t in g['times_after_follow_up'])} are left out of its survival "
                         "table (as R's summary(fit, times=) does).")
    files = summary["files"]
    lines.append(f"Wrote {files['figure_png']}, {files['figure_pdf']}, {files['json']}, {files['table_csv']}"
                 + (f", {files['times_csv']}" if "times_csv" in files else "") + ".")
    return "\n".join(lines)
