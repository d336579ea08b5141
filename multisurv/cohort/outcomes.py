"""One reader and one parser per concept for every entry point that reads a table: ids, event, time, categories.

``multisurv validate`` checks a cohort manifest against its schema; the other commands (``fit``, ``predict``,
``extract``) read manifests and feature tables too and must refuse exactly what ``validate`` refuses, with the
same row / column / fix sentences. This module holds those shared pieces:

- :func:`read_csv_table`: a CSV as text, or a :class:`~multisurv.exceptions.ManifestError` for an empty file, a
  file that is not UTF-8, a spreadsheet workbook or a broken CSV (never a bare pandas error);
- :func:`parse_event` (``0`` / ``1`` only, as the manifest schema says) and :func:`parse_time` (a number > 0);
- :func:`check_ids`: missing and duplicated patient ids, with every row;
- :func:`read_outcome_table`: all of the above for a table indexed by ``patient_id``;
- :func:`check_feature_overlap` and :func:`check_categories`: patients that match no feature row, and category
  levels a fitted model has never seen.

Rows are numbered as in a spreadsheet (header = row 1), as :func:`multisurv.cohort.manifest.validate_manifest`
numbers them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from multisurv.exceptions import ManifestError

__all__ = ["read_csv_table", "parse_event", "parse_time", "check_ids", "read_outcome_table", "read_feature_table",
           "check_feature_overlap", "check_categories"]

_ZIP_MAGIC, _OLE_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


def read_csv_table(path: str | os.PathLike, *, what: str = "table") -> pd.DataFrame:
    """Read a CSV as text (``dtype=str``, empty cells as ``""``), refusing unreadable files in the house form.

    Parameters
    ----------
    path : str or Path
        The CSV file (UTF-8, a byte-order mark allowed).
    what : str, default="table"
        What the file is, named in the messages (``"manifest"``, ``"feature table"``).

    Returns
    -------
    pandas.DataFrame
        Every column as text, empty cells as ``""``, default RangeIndex.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ManifestError
        When the file is empty, a folder, a spreadsheet workbook, not UTF-8 (the line of the first bad byte is
        given) or not parseable as CSV.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "m.csv"
    >>> _ = path.write_bytes(b"patient_id,age\\nP1,\\xe9\\n")
    >>> try:
    ...     read_csv_table(path, what="manifest")
    ... except ManifestError as exc:
    ...     print(exc.problems[0][:61])
    m.csv, line 2: must be UTF-8 text; got the byte 0xe9 (invalid
    """
    path = Path(path)
    name = path.name
    if path.is_dir():
        raise ManifestError([f"{name} is a folder, not a CSV file. Give the path to the {what} file itself."],
                            source=str(path))
    if not path.is_file():
        raise FileNotFoundError(f"The {what} {str(path)!r} does not exist (looked for '{path.resolve()}'). Check the "
                                "path.")
    data = path.read_bytes()
    if data[:4] in (_ZIP_MAGIC, _OLE_MAGIC):
        raise ManifestError([f"{name}: must be a CSV text file; got a spreadsheet workbook (Excel or similar). Save "
                             "the sheet as 'CSV UTF-8 (comma delimited)' and pass that file."], source=str(path))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestError([f"{name}, line {line}: must be UTF-8 text; got the byte 0x{data[exc.start]:02x} "
                             f"({exc.reason}). Save the file as 'CSV UTF-8', or convert it from its encoding (often "
                             "Latin-1 or Windows-1252) to UTF-8."], source=str(path)) from None
    if not data.strip():
        raise ManifestError([f"{name} is empty: it has no header row. Write the header and one row per patient."],
                            source=str(path))
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ManifestError([f"{name} is not a readable CSV file ({first}). Check that values containing commas, "
                             "quotes or line breaks are quoted and that the file is comma-separated."],
                            source=str(path)) from None


_TRUE_WORDS = frozenset({"1", "1.0", "true", "yes"})
_FALSE_WORDS = frozenset({"0", "0.0", "false", "no"})


def _rows(index: Iterable[int]) -> list[int]:
    return [int(i) + 2 for i in index]


def parse_event(values: pd.Series, *, source: str | None, column: str = "event",
                ids: Sequence[str] | None = None, words: bool = False) -> tuple[np.ndarray, list[str]]:
    """The event indicator as bool, and a problem per cell that is not ``0`` or ``1`` (the manifest schema's rule).

    The one event parser of every entry point (manifest, ``fit``, ``predict``, ``extract``, ``km``, ``evaluate``).
    ``values`` is the column as read (text, default RangeIndex); ``ids`` name the patient of each row; ``source``
    (the file name) starts each problem unless it is ``None``. ``words=True`` also accepts ``true``/``false`` and
    ``yes``/``no`` (any case) and ``1.0``/``0.0``, for the prediction tables of other tools that ``km`` and
    ``evaluate`` read; a multisurv manifest takes ``0``/``1`` only.

    Parameters
    ----------
    values : pandas.Series
        The column as read.
    source : str or None
        The file name starting each problem.
    column : str, default="event"
        The column's name in the problems.
    ids : sequence of str, optional
        The patient of each row, named in the problems.
    words : bool, default=False
        Also accept true/false, yes/no and 1.0/0.0.

    Returns
    -------
    event : ndarray of bool
        True where the cell means an event (False for censored and for invalid cells).
    problems : list of str
        One per invalid cell, with its row (the file's line: row 2 is the first data row).

    Examples
    --------
    >>> event, problems = parse_event(pd.Series(["1", "0", "2", ""]), source="m.csv", ids=["a", "b", "c", "d"])
    >>> event.tolist(), len(problems)
    ([True, False, False, False], 2)
    >>> print(problems[0])
    m.csv row 4 (patient_id='c'), column 'event': must be 1 (event) or 0 (censored); got '2'. Correct the value.
    >>> parse_event(pd.Series(["TRUE", "no", "1.0"]), source=None, words=True)[0].tolist()
    [True, False, True]
    """
    text = values.astype(str).str.strip()
    true, false = ({"1"}, {"0"}) if not words else (_TRUE_WORDS, _FALSE_WORDS)
    text = text.str.lower() if words else text
    ok = text.isin(true | false)
    rule = "must be 1 (event) or 0 (censored)" + ("; true/false and yes/no are accepted too" if words else "")
    start = "" if source is None else f"{source} "
    problems = [f"{start}row {row}{_who(ids, k)}, column {column!r}: {rule}; got {raw!r}. Correct the value."
                for k, (row, raw) in enumerate(zip(_rows(range(len(text))), values)) if not ok.iloc[k]]
    return text.isin(true).to_numpy(), problems


def parse_time(values: pd.Series, *, source: str, column: str = "time",
               ids: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Follow-up time as float, and a problem per cell that is not a finite number > 0.

    Parameters
    ----------
    values : pandas.Series
        The column as read.
    source : str
        The file name starting each problem.
    column : str, default="time"
        The column's name in the problems.
    ids : sequence of str, optional
        The patient of each row, named in the problems.

    Returns
    -------
    time : ndarray of float
        The parsed times (NaN where the cell is not a number).
    problems : list of str
        One per cell that is not a finite number > 0.

    Examples
    --------
    >>> time, problems = parse_time(pd.Series(["12.5", "-3", "soon"]), source="m.csv")
    >>> float(time[0]), [p.split(": ", 1)[1] for p in problems]
    (12.5, ["must be a number > 0; got '-3'. Correct the value or drop the row.", "must be a number > 0; got \
'soon'. Correct the value or drop the row."])
    """
    time = pd.to_numeric(values.astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(time) & (time > 0))
    problems = [f"{source} row {row}{_who(ids, k)}, column {column!r}: must be a number > 0; got {raw!r}. Correct "
                "the value or drop the row." for k, (row, raw) in enumerate(zip(_rows(range(len(time))), values))
                if bad[k]]
    return time, problems


def _who(ids: Sequence[str] | None, k: int) -> str:
    return "" if ids is None else f" (patient_id={str(ids[k])!r})"


def check_ids(ids: pd.Series, *, source: str, column: str = "patient_id") -> list[str]:
    """Problems of the id column: empty ids, and each id given more than once (with all its rows).

    Parameters
    ----------
    ids : pandas.Series
        The id column as read (stripped before comparing).
    source : str
        The file name starting each problem.
    column : str, default="patient_id"
        The column's name in the problems.

    Returns
    -------
    list of str
        The problems (empty when every id is filled in and unique).

    Examples
    --------
    >>> print(check_ids(pd.Series(["P1", "P2", "P1"]), source="m.csv")[0])
    m.csv rows 2, 4, column 'patient_id': must be unique; got 'P1' 2 times (the second row would take the first \
patient's data). Keep one row per patient.
    """
    text = ids.astype(str).str.strip()
    problems = [f"{source} row {row}, column {column!r}: must not be empty. Fill in the patient's id or drop the row."
                for row, t in zip(_rows(range(len(text))), text) if t == ""]
    for value, rows in text[text != ""].groupby(text[text != ""]).groups.items():
        if len(rows) > 1:
            listed = ", ".join(str(r) for r in _rows(rows))
            problems.append(f"{source} rows {listed}, column {column!r}: must be unique; got {value!r} {len(rows)} "
                            "times (the second row would take the first patient's data). Keep one row per patient.")
    return problems


def read_outcome_table(path: str | os.PathLike, *, outcome: bool = True, time_col: str = "time",
                       event_col: str = "event", id_col: str = "patient_id", what: str = "manifest") -> pd.DataFrame:
    """A table indexed by ``patient_id`` (text), its ids, times and events checked as ``validate`` checks them.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    outcome : bool, default=True
        Require ``time_col`` and ``event_col`` and parse them (``time`` float > 0, ``event`` bool from 0/1).
        With False (scoring a new cohort) they are neither required nor read.
    time_col, event_col, id_col : str
        The columns of the time (default ``"time"``), the event (``"event"``) and the patient id
        (``"patient_id"``).
    what : str, default="manifest"
        What the file is, named in the messages.

    Returns
    -------
    pandas.DataFrame
        Index ``patient_id`` (text); the other columns typed as ``pandas.read_csv`` types them, with ``time``
        and ``event`` replaced by the parsed values.

    Raises
    ------
    ManifestError
        Listing every problem: missing columns, empty or duplicated ids, events other than 0/1, times that are
        not numbers > 0 (plus the unreadable-file problems of :func:`read_csv_table`).
    FileNotFoundError
        When ``path`` does not exist.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "outcomes.csv"
    >>> _ = path.write_text("patient_id,time,event,age\\n007,12.5,1,61\\n008,30,0,70\\n", encoding="utf-8")
    >>> table = read_outcome_table(path)
    >>> table.index.tolist(), table["event"].tolist(), table["time"].tolist()
    (['007', '008'], [True, False], [12.5, 30.0])
    """
    path = Path(path)
    frame = read_csv_table(path, what=what)
    name = path.name
    needed = [id_col, *((time_col, event_col) if outcome else ())]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ManifestError([f"{name}, header (row 1): missing column(s) {', '.join(repr(c) for c in missing)}. Add "
                             "them (one row per patient)."], source=str(path))
    if frame.empty:
        raise ManifestError([f"{name} has a header but no rows. Add one row per patient."], source=str(path))
    ids = frame[id_col].astype(str).str.strip()
    problems = check_ids(ids, source=name, column=id_col)
    parsed = {}
    if outcome:
        parsed[time_col], found = parse_time(frame[time_col], source=name, column=time_col, ids=list(ids))
        problems += found
        parsed[event_col], found = parse_event(frame[event_col], source=name, column=event_col, ids=list(ids))
        problems += found
    if problems:
        raise ManifestError(problems, source=str(path))
    typed = pd.read_csv(path, dtype={id_col: str}, encoding="utf-8-sig")
    for column, values in parsed.items():
        typed[column] = values
    typed[id_col] = ids.to_numpy()
    return typed.set_index(id_col)


def read_feature_table(path: str | os.PathLike, *, id_col: str = "patient_id") -> pd.DataFrame:
    """A feature table (CSV or Parquet) indexed by ``patient_id`` (text), every other column a number.

    Parameters
    ----------
    path : str or Path
        A CSV file, or a ``.parquet`` file (its index may hold the ids).
    id_col : str, default="patient_id"
        The id column.

    Returns
    -------
    pandas.DataFrame
        Index ``id_col`` (text); every other column as float, empty cells NaN.

    Raises
    ------
    ManifestError
        Listing the unreadable-file problems of :func:`read_csv_table`, a missing id column, empty or duplicated
        ids, and cells that are not numbers (at most 10, then how many more).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "radiomics.csv"
    >>> _ = path.write_text("patient_id,ct__a,ct__b\\nP1,0.5,\\nP2,1.5,2\\n", encoding="utf-8")
    >>> read_feature_table(path).to_dict("index")
    {'P1': {'ct__a': 0.5, 'ct__b': nan}, 'P2': {'ct__a': 1.5, 'ct__b': 2.0}}
    """
    path = Path(path)
    name = path.name
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else read_csv_table(path, what="feature table")
    if id_col not in frame.columns:
        if frame.index.name != id_col:
            raise ManifestError([f"{name}, header (row 1): missing column {id_col!r}; every feature table needs one "
                                 "(one row per patient)."], source=str(path))
        frame = frame.reset_index()
    ids = frame[id_col].astype(str).str.strip()
    problems = check_ids(ids, source=name, column=id_col)
    values = frame.drop(columns=id_col)
    numeric = values.apply(pd.to_numeric, errors="coerce")
    text = values.astype(str).apply(lambda c: c.str.strip())
    bad = numeric.isna() & ~(text.isin(["", "nan", "NaN", "NA", "None"]) | values.isna())
    cells = [(r, c) for c, column in enumerate(bad.columns) for r in np.flatnonzero(bad[column].to_numpy())]
    for r, c in sorted(cells)[:10]:
        problems.append(f"{name} row {r + 2} (patient_id={ids.iloc[r]!r}), column {values.columns[c]!r}: must be a "
                        f"number (or empty); got {values.iat[r, c]!r}. Correct the value.")
    if len(cells) > 10:
        problems.append(f"{name}: {len(cells) - 10} more cell(s) that are not numbers.")
    if problems:
        raise ManifestError(problems, source=str(path))
    numeric.index = pd.Index(ids.to_numpy(), name=id_col)
    return numeric.astype(float)


def check_feature_overlap(ids: Sequence[str], tables: Mapping[str, pd.DataFrame], *, source: str) -> list[str]:
    """Problems when a feature table shares no patient with the manifest (ids written differently, wrong file).

    A patient missing from one table only lacks that modality (a legitimate case); a table that matches nobody
    would silently score everyone as having no such data.

    Parameters
    ----------
    ids : sequence of str
        The manifest's patient ids.
    tables : mapping of str to pandas.DataFrame
        Feature tables by name (the name starts each problem), indexed by patient id.
    source : str
        The manifest, named in the problems.

    Returns
    -------
    list of str
        One problem per non-empty table that shares no id with a non-empty manifest.

    Examples
    --------
    >>> t = pd.DataFrame({"ct__a": [1.0]}, index=pd.Index(["1"], name="patient_id"))
    >>> print(check_feature_overlap(["P001"], {"radiomics.csv": t}, source="m.csv")[0])  # doctest: +ELLIPSIS
    radiomics.csv: no patient_id matches one of m.csv (its ids look like '1'; the manifest's like 'P001'). ...
    """
    wanted = {str(i) for i in ids}
    problems = []
    for name, table in tables.items():
        have = {str(i) for i in table.index}
        if have and wanted and not (have & wanted):
            problems.append(f"{name}: no patient_id matches one of {source} (its ids look like "
                            f"{sorted(have)[0]!r}; the manifest's like {sorted(wanted)[0]!r}). Write the ids the same "
                            "way in both files, or pass the feature table of this cohort.")
    return problems


def check_categories(frame: pd.DataFrame, levels: Mapping[str, Sequence[str]], *, source: str) -> list[str]:
    """A problem per cell of a categorical column whose level is not in ``levels`` (those a model was fitted on).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, indexed by patient id; empty cells are allowed (they are imputed).
    levels : mapping of str to sequence of str
        Column -> its known levels; columns absent from ``frame`` are skipped.
    source : str
        The file name starting each problem.

    Returns
    -------
    list of str
        One problem per cell with an unknown level.

    Examples
    --------
    >>> frame = pd.DataFrame({"sex": ["female", "M"]}, index=pd.Index(["P1", "P2"], name="patient_id"))
    >>> print(check_categories(frame, {"sex": ["female", "male"]}, source="m.csv")[0])
    m.csv row 3 (patient_id='P2'), column 'sex': must be one of 'female', 'male' (the levels the model was fitted \
on) or empty; got 'M'. Correct the value, or leave it empty to impute it.
    """
    problems = []
    for column, known in levels.items():
        if column not in frame.columns:
            continue
        allowed = {str(v) for v in known}
        for k, (pid, value) in enumerate(frame[column].items()):
            text = "" if pd.isna(value) else str(value).strip()
            if text and text not in allowed:
                problems.append(f"{source} row {k + 2} (patient_id={str(pid)!r}), column {column!r}: must be one of "
                                f"{', '.join(repr(v) for v in known)} (the levels the model was fitted on) or empty; "
                                f"got {text!r}. Correct the value, or leave it empty to impute it.")
    return problems
