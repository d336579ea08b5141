"""``multisurv evaluate PREDICTIONS.csv``: every discrimination and error metric of any model's predictions.

The CSV has one row per patient: follow-up time, event indicator, the model's risk score (higher = worse) and
optionally a group column (e.g. the cohort) and predicted survival probabilities at the evaluation times. For
each group (or the whole file) the command prints a table and writes ``evaluation.csv`` (tidy: one row per
group, metric and time) and ``evaluation.json`` to ``--out``: Harrell's C (with R's infinitesimal-jackknife
standard error), Uno's C (truncated at ``--tau``), the time-dependent AUC at ``--times`` and their KM-weighted
mean, and, given ``--surv-cols``, the Brier score at each time and the integrated Brier score; every metric
with a bootstrap interval (see :func:`multisurv.evaluation.summary.evaluate_predictions`).

Bad input is reported all at once, naming the file, the column, the line and the fix. Exit code 0 on success,
2 for a usage or input error.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Sequence

__all__ = ["add_commands", "read_predictions"]

#: Examples of bad values quoted per problem (the count is always given).
_MAX_EXAMPLES = 5


def add_commands(subparsers) -> None:
    """Add ``evaluate`` to the ``multisurv`` parser's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned for the ``multisurv`` command.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="multisurv")
    >>> add_commands(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["evaluate", "pred.csv", "--time-col", "t", "--event-col", "e", "--score-col", "s"])
    >>> args.n_bootstrap, args.ci, args.confidence, args.func.__name__
    (1000, 'percentile', 0.95, '_cmd_evaluate')
    """
    p = subparsers.add_parser(
        "evaluate", help="Evaluate any model's predictions: C-indices, time-dependent AUC, Brier scores, with CIs.",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
    )
    p.add_argument("predictions", type=Path, help="CSV with one row per patient.")
    p.add_argument("--time-col", required=True, help="Column of follow-up times (> 0, one unit throughout).")
    p.add_argument("--event-col", required=True, help="Column of event indicators: 1/0 or true/false.")
    p.add_argument("--score-col", required=True, help="Column of risk scores, higher = worse (e.g. a Cox linear "
                                                       "predictor). Use a minus sign for a 'higher = better' score.")
    p.add_argument("--group-col", default=None, help="Evaluate each value of this column separately (e.g. cohort).")
    p.add_argument("--times", type=_float_list, default=None, metavar="T1,T2,...",
                   help="Times for the AUC and the Brier score (default: quartiles of each group's event times).")
    p.add_argument("--tau", type=float, default=None, help="Truncation time of Uno's C (default: none).")
    p.add_argument("--surv-cols", type=_name_list, default=None, metavar="C1,C2,...",
                   help="Columns of predicted survival probabilities S(t | x), one per --times value (same order); "
                        "adds the Brier and integrated Brier scores.")
    p.add_argument("--out", type=Path, default=None,
                   help="Output folder (default: <predictions stem>_evaluation next to the CSV).")
    p.add_argument("--n-bootstrap", type=int, default=1000, help="Bootstrap resamples per interval (0: none).")
    p.add_argument("--ci", choices=("percentile", "bca"), default="percentile", help="Bootstrap interval type.")
    p.add_argument("--confidence", type=float, default=0.95, help="Interval level (default 0.95).")
    p.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap resamples (default 0).")
    p.set_defaults(func=_cmd_evaluate)


def _float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 365,730; got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _name_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _cmd_evaluate(args) -> int:
    import pandas as pd

    from multisurv._atomic import write_csv_atomic, write_json_atomic
    from multisurv._validation import make_y
    from multisurv.evaluation.summary import evaluate_predictions

    if args.surv_cols and (args.times is None or len(args.surv_cols) != len(args.times)):
        n_times = 0 if args.times is None else len(args.times)
        raise ValueError(f"--surv-cols names {len(args.surv_cols)} column(s) but --times gives {n_times} time(s); "
                         "give one survival-probability column per time, in the same order.")
    data = read_predictions(args.predictions, time_col=args.time_col, event_col=args.event_col,
                            score_col=args.score_col, group_col=args.group_col, surv_cols=args.surv_cols or ())
    out = args.out or args.predictions.with_name(f"{args.predictions.stem}_evaluation")
    tables = []
    report = {"input": str(args.predictions), "columns": {"time": args.time_col, "event": args.event_col,
                                                          "score": args.score_col, "group": args.group_col,
                                                          "surv": args.surv_cols},
              "settings": {"times": args.times, "tau": args.tau, "n_bootstrap": args.n_bootstrap, "ci": args.ci,
                           "confidence": args.confidence, "seed": args.seed},
              "groups": {}}
    for group, rows in data.groupby("group", sort=False):
        y = make_y(rows["time"].to_numpy(), rows["event"].to_numpy())
        surv = rows[list(args.surv_cols)].to_numpy(float) if args.surv_cols else None
        try:
            table = evaluate_predictions(y, rows["score"].to_numpy(), times=args.times, tau=args.tau, surv_prob=surv,
                                         n_bootstrap=args.n_bootstrap, method=args.ci, confidence=args.confidence,
                                         random_state=args.seed)
        except ValueError as exc:
            raise ValueError(f"{args.predictions}, group '{group}': {exc}") from None
        print(_format_group(group, table, len(y), int(y["event"].sum()), args.group_col))
        table.insert(0, "group", group)
        tables.append(table)
        report["groups"][str(group)] = {"n": len(y), "n_events": int(y["event"].sum()),
                                        "metrics": _json_rows(table.drop(columns="group"))}
    result = pd.concat(tables, ignore_index=True)
    csv_path = write_csv_atomic(Path(out) / "evaluation.csv", result, index=False)
    json_path = write_json_atomic(Path(out) / "evaluation.json", report)
    print(f"Wrote {csv_path} and {json_path}")
    return 0


def read_predictions(path: Path, *, time_col: str, event_col: str, score_col: str, group_col: str | None = None,
                     surv_cols: Sequence[str] = ()):
    """Read and check a predictions CSV; return columns ``time, event, score, group`` and the ``surv_cols``.

    Every problem is collected first, then one ``ValueError`` lists them all (file, column, line, value, fix).
    ``group`` is ``"all"`` without ``group_col``.

    Parameters
    ----------
    path : Path
        The predictions CSV, one row per patient.
    time_col : str
        Column of follow-up times (numbers > 0).
    event_col : str
        Column of event indicators (1/0 or true/false).
    score_col : str
        Column of risk scores (higher = worse); a missing score is an error.
    group_col : str, optional
        Column whose values are evaluated separately (no label may be empty).
    surv_cols : sequence of str, default=()
        Columns of predicted survival probabilities (numbers in [0, 1]).

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (float), ``event`` (bool), ``score`` (float), ``group`` (str) and one per ``surv_cols``,
        in the file's row order.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    ValueError
        When the file is not a readable CSV, a named column is missing, it has no rows, a value is invalid, or a
        group (the file without ``group_col``) has no event.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = Path(d) / "pred.csv"
    ...     _ = path.write_text("id,months,dead,score\\na,5,1,0.9\\nb,12,0,0.1\\nc,7,1,0.5\\nd,20,1,0.2\\n")
    ...     data = read_predictions(path, time_col="months", event_col="dead", score_col="score")
    >>> data
       time  event  score group
    0   5.0   True    0.9   all
    1  12.0  False    0.1   all
    2   7.0   True    0.5   all
    3  20.0   True    0.2   all
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file. Check the path of the predictions CSV.")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read as a CSV file ({exc}). Export the predictions as comma-separated "
                         "text with a header row.") from None
    wanted = {"--time-col": time_col, "--event-col": event_col, "--score-col": score_col}
    if group_col is not None:
        wanted["--group-col"] = group_col
    for k, col in enumerate(surv_cols):
        wanted[f"--surv-cols #{k + 1}"] = col
    missing = [f"column '{col}' (given by {opt}) is not in the file" for opt, col in wanted.items()
               if col not in raw.columns]
    if missing:
        available = ", ".join(f"'{c}'" for c in raw.columns)
        raise ValueError(_problems(path, missing) + f"\nAvailable columns: {available}.")
    if raw.empty:
        raise ValueError(f"{path}: the file has a header but no rows; there is nothing to evaluate.")

    problems: list[str] = []
    time = _numbers(raw[time_col], time_col, "follow-up time", problems, positive=True)
    event = _events(raw[event_col], event_col, problems)
    score = _numbers(raw[score_col], score_col, "risk score", problems,
                     missing_fix="Drop the patients without a score (e.g. a missing modality) or impute the score; "
                                 "multisurv does not drop patients silently.")
    surv = {col: _numbers(raw[col], col, "survival probability", problems, unit_interval=True) for col in surv_cols}
    if group_col is None:
        group = pd.Series("all", index=raw.index)
    else:
        group = raw[group_col].str.strip()
        empty = group == ""
        if empty.any():
            problems.append(f"column '{group_col}': {int(empty.sum())} row(s) have no group label "
                            f"({_where(raw.index[empty])}). Fill them in or drop those rows.")
    if problems:
        raise ValueError(_problems(path, problems))
    data = pd.DataFrame({"time": time, "event": event, "score": score, "group": group, **surv})
    no_event = [(g, len(rows)) for g, rows in data.groupby("group", sort=False) if not rows["event"].any()]
    if no_event:
        where = "the file" if group_col is None else "group"
        problems = [(f"{where} '{g}' (column '{group_col}') " if group_col else "the file ")
                    + f"has {n} patient(s) and no event in column '{event_col}': no metric is defined. "
                    + ("Drop that group from the CSV or check the event column." if group_col
                       else "Check the event column (1 = event, 0 = censored).")
                    for g, n in no_event]
        raise ValueError(_problems(path, problems))
    return data


def _numbers(column, name: str, what: str, problems: list[str], *, positive: bool = False,
             unit_interval: bool = False, missing_fix: str = "Fill them in or drop those rows."):
    import numpy as np
    import pandas as pd

    text = column.str.strip()
    values = pd.to_numeric(text, errors="coerce")
    empty = text == ""
    not_number = values.isna() & ~empty
    if empty.any():
        problems.append(f"column '{name}': {int(empty.sum())} row(s) have no {what} ({_where(column.index[empty])}). "
                        + missing_fix)
    if not_number.any():
        problems.append(f"column '{name}': {int(not_number.sum())} value(s) are not numbers "
                        f"({_where(column.index[not_number], text)}). Correct them or drop those rows.")
    ok = values.notna()
    if positive:
        bad = ok & ~(np.isfinite(values) & (values > 0))
        if bad.any():
            problems.append(f"column '{name}': {int(bad.sum())} {what}(s) are not finite numbers > 0 "
                            f"({_where(column.index[bad], text)}). Times must be positive, in one unit; correct "
                            "them or drop those rows.")
    if unit_interval:
        bad = ok & ~((values >= 0) & (values <= 1))
        if bad.any():
            problems.append(f"column '{name}': {int(bad.sum())} value(s) are not probabilities in [0, 1] "
                            f"({_where(column.index[bad], text)}). Give S(t | x), not a risk score or a percentage.")
    elif not positive:
        bad = ok & ~np.isfinite(values)
        if bad.any():
            problems.append(f"column '{name}': {int(bad.sum())} value(s) are infinite "
                            f"({_where(column.index[bad], text)}). Correct them or drop those rows.")
    return values.to_numpy(float)


def _events(column, name: str, problems: list[str]):
    from multisurv.cohort.outcomes import parse_event

    event, found = parse_event(column.reset_index(drop=True), source=None, column=name, words=True)
    problems += found[:_MAX_EXAMPLES] + ([f"... and {len(found) - _MAX_EXAMPLES} more like these."]
                                         if len(found) > _MAX_EXAMPLES else [])
    return event


def _where(index, values=None) -> str:
    """``line 4 ('abc'), line 9 ('x') and 3 more``: file lines (header = line 1) with the offending values."""
    items = []
    for i in list(index)[:_MAX_EXAMPLES]:
        item = f"line {int(i) + 2}"
        if values is not None:
            item += f": {values[i]!r}"
        items.append(item)
    more = len(index) - len(items)
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def _problems(path: Path, problems: list[str]) -> str:
    return "\n".join([f"{len(problems)} problem(s) found in {path}:", *("  - " + p for p in problems)])


def _format_group(group, table, n: int, n_events: int, group_col: str | None) -> str:
    from multisurv.report.tables import to_markdown

    head = f"{group_col} = '{group}'" if group_col else "All patients"
    shown = table.copy()
    level = f"{100 * float(table['confidence'].iloc[0]):g}% CI"
    shown[level] = [("" if math.isnan(lo) else f"{lo:.3f}-{hi:.3f}") for lo, hi in zip(table["lower"], table["upper"])]
    shown["time"] = ["" if math.isnan(t) else f"{t:g}" for t in table["time"]]
    body = to_markdown(shown, columns=["metric", "time", "estimate", level, "note"])
    return f"\n{head}: {n} patients, {n_events} events\n{body}"


def _json_rows(table) -> list[dict]:
    rows = table.to_dict(orient="records")
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]
