"""Read a cohort manifest (CSV, one row per patient), check all of it, and build the :class:`Cohort`.

The format of the manifest and of its clinical spec is documented in ``data_schemas/README.md``; the checks
themselves live in :mod:`multisurv.cohort.schema`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from multisurv.cohort.cohort import CORE_COLUMNS, DEFAULT_PATH_COLUMNS, OUTCOME_COLUMNS, SLIDE_SEPARATOR, Cohort
from multisurv.cohort.schema import (
    _cell_value,
    _resolve_path,
    check_manifest_frame,
    load_clinical_spec,
    row_schema,
    split_paths,
)
from multisurv.exceptions import ManifestError

__all__ = ["validate_manifest", "load_manifest", "format_problems"]

logger = logging.getLogger(__name__)

_ZIP_MAGIC = b"PK\x03\x04"  # .xlsx, .ods and other ZIP archives
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls
_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def validate_manifest(path: str | Path, *, clinical_spec: str | Path | Mapping[str, Any] | None = None,
                      path_columns: Mapping[str, str] | None = None,
                      pairs: Sequence[tuple[str, str]] | None = None) -> list[str]:
    """Check a manifest and return every problem found, one sentence each (a dry run of :func:`load_manifest`).

    Parameters
    ----------
    path : str or Path
        The manifest CSV.
    clinical_spec : str, Path, dict or None, default=None
        The clinical spec (a ``clinical_variables.v1`` YAML file, or a spec from
        :func:`~multisurv.cohort.schema.load_clinical_spec`). None uses the GIST demo spec.
    path_columns : mapping, optional
        The study's path columns, column -> schema template (``ct_image``, ``ct_mask``, ``wsi``), as
        :func:`multisurv.registry.path_columns` gives them for a study's modalities; None: ``ct_image``,
        ``ct_mask``, ``wsi``.
    pairs : sequence of (str, str), optional
        (image, mask) columns given together (:func:`multisurv.registry.image_mask_pairs`).

    Returns
    -------
    list of str
        Every problem, in the order header, rows (by row number), duplicated ids. Rows are numbered as in a
        spreadsheet: the header is row 1, the first patient row 2. Problems of the clinical spec itself are
        returned instead, since the manifest cannot be checked without it. Empty when the manifest is valid.

    See Also
    --------
    load_manifest : Raise these problems as one ManifestError, or return the Cohort.
    format_problems : The problems as text to print.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> spec = {"schema": "clinical_variables.v1", "variables": []}
    >>> _ = (folder / "cohort.csv").write_text("patient_id,cohort,time,event,ct_image,ct_mask,wsi\\n"
    ...                                        "P1,development,12.5,1,,,\\nP2,development,-3,2,,,\\n")
    >>> for problem in validate_manifest(folder / "cohort.csv", clinical_spec=spec):
    ...     print(problem.split(":")[0])
    cohort.csv row 3 (patient_id='P2'), column 'time'
    cohort.csv row 3 (patient_id='P2'), column 'event'
    """
    try:
        spec = load_clinical_spec(clinical_spec)
    except ManifestError as exc:
        return exc.problems
    return _check(Path(path), spec, path_columns, pairs)[1]


def load_manifest(path: str | Path, *, clinical_spec: str | Path | Mapping[str, Any] | None = None,
                  path_columns: Mapping[str, str] | None = None,
                  pairs: Sequence[tuple[str, str]] | None = None) -> Cohort:
    """Read and check a manifest, then return the validated :class:`~multisurv.cohort.cohort.Cohort`.

    Parameters
    ----------
    path : str or Path
        The manifest CSV: the core columns ``patient_id, cohort, time, event, ct_image, ct_mask, wsi`` in this
        order, then one column per variable of the clinical spec. Relative file paths are read from the
        manifest's folder.
    clinical_spec : str, Path, dict or None, default=None
        The clinical spec (a ``clinical_variables.v1`` YAML file, or a spec from
        :func:`~multisurv.cohort.schema.load_clinical_spec`). None uses the GIST demo spec.
    path_columns, pairs : optional
        The study's path columns and image/mask pairs, as in :func:`validate_manifest`.

    Returns
    -------
    Cohort
        ``table`` is indexed by ``patient_id`` (str) with ``cohort`` (str), ``time`` (float), ``event`` (bool),
        ``ct_image``, ``ct_mask``, ``wsi`` (absolute path as str, or None; a patient's several slides, written
        ``a.svs;b.svs`` in the manifest, are their absolute paths joined by ``;``), then the clinical columns in
        manifest order: numeric and integer variables as float (NaN when empty), categorical ones as str (NaN when
        empty). ``source`` is the absolute path of the manifest.

    Raises
    ------
    ManifestError
        Listing every problem of the manifest at once (see :func:`validate_manifest`), or every problem of
        the clinical spec.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "cohort.csv").write_text(
    ...     "patient_id,cohort,time,event,ct_image,ct_mask,wsi\\nP1,development,12.5,1,,,\\nP2,external,30,0,,,\\n")
    >>> cohort = load_manifest(folder / "cohort.csv", clinical_spec={})
    >>> cohort.ids, cohort.y["time"].tolist()
    (['P1', 'P2'], [12.5, 30.0])
    """
    path = Path(path)
    spec = load_clinical_spec(clinical_spec)
    frame, problems = _check(path, spec, path_columns, pairs)
    if problems or frame is None:
        raise ManifestError(problems, source=str(path))
    cohort = _build_cohort(frame, spec, source=Path(os.path.abspath(path)), path_columns=path_columns)
    logger.info("Loaded %d patients from %s.", len(cohort), path)
    return cohort


def format_problems(problems: Sequence[str], source: str | os.PathLike[str] | None = None, *,
                    limit: int | None = None) -> str:
    """The problems as text to print, in the layout of :class:`~multisurv.exceptions.ManifestError`.

    Parameters
    ----------
    problems : sequence of str
        As returned by :func:`validate_manifest`.
    source : str or path-like, optional
        The manifest, named in the first line.
    limit : int, optional
        Show at most this many problems, then say how many more there are. None shows all.

    Returns
    -------
    str
        One line saying how many problems were found (or that there are none), then one line per problem.

    Examples
    --------
    >>> print(format_problems(["first problem.", "second problem."], "cohort.csv"))
    2 problem(s) found in cohort.csv:
      - first problem.
      - second problem.
    >>> print(format_problems(["first problem.", "second problem."], "cohort.csv", limit=1))
    2 problem(s) found in cohort.csv:
      - first problem.
      ... and 1 more.
    >>> print(format_problems([], "cohort.csv"))
    No problems found in cohort.csv.
    """
    if not problems:
        return "No problems found" + (f" in {source}." if source else ".")
    text = str(ManifestError(problems, source=str(source) if source else None))
    if limit is None or len(problems) <= limit:
        return text
    head = text.split("\n", 1)[0]
    return "\n".join([head, *("  - " + p for p in problems[:limit]), f"  ... and {len(problems) - limit} more."])


def _check(path: Path, spec: Mapping[str, Any], path_columns: Mapping[str, str] | None = None,
           pairs: Sequence[tuple[str, str]] | None = None) -> tuple[pd.DataFrame | None, list[str]]:
    """Read and check a manifest: the frame (None when unreadable) and every problem."""
    frame, problems = _read_frame(path)
    if frame is None:
        return None, problems
    base_dir = Path(os.path.abspath(path)).parent
    return frame, check_manifest_frame(frame, clinical_spec=spec, base_dir=base_dir, source=path.name,
                                       path_columns=path_columns, pairs=pairs)


def _read_frame(path: Path) -> tuple[pd.DataFrame | None, list[str]]:
    """The manifest as text: the header row as columns (kept as written, duplicates too), one row per record.

    Blank lines are kept as empty rows so that row numbers stay those of a spreadsheet.
    """
    name = path.name
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        return None, [f"{name} does not exist (looked for '{os.path.abspath(path)}'). Check the path to the manifest."]
    except IsADirectoryError:
        return None, [f"{name} is a folder, not a CSV file ('{os.path.abspath(path)}'). Give the path to the "
                      "manifest file itself."]
    except OSError as exc:
        return None, [f"{name} could not be opened ({exc.strerror}). Check the file's permissions."]
    if magic in (_ZIP_MAGIC, _OLE_MAGIC):
        return None, [f"{name} is not a readable CSV file: it looks like a spreadsheet workbook (Excel or similar). "
                      "Save the sheet as 'CSV UTF-8 (comma delimited)' and pass that file."]
    try:
        data = pd.read_csv(path, dtype=str, keep_default_na=False, header=None, skip_blank_lines=False,
                           encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return None, [f"{name} is empty: it has no header row. Write the header ({', '.join(CORE_COLUMNS)}, then "
                      "the clinical columns) and one row per patient; see data_schemas/README.md."]
    except UnicodeDecodeError:
        return None, [_encoding_problem(path)]
    except pd.errors.ParserError as exc:
        match = _FIELD_COUNT.search(str(exc))
        if match:
            expected, line, saw = match.groups()
            return None, [f"{name} row {line}: must have {expected} fields like the header; got {saw}. Quote "
                          "values that contain commas, or remove the extra cells."]
        return None, [f"{name} is not a readable CSV file ({str(exc).strip()}). Check that values containing "
                      "commas, quotes or line breaks are quoted, and that the file is comma-separated text."]
    header = [str(value) for value in data.iloc[0]]
    frame = data.iloc[1:].reset_index(drop=True)
    frame.columns = header
    return frame, []


def _encoding_problem(path: Path) -> str:
    """The message for a file that is not UTF-8, naming the line of the first byte that is not."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start: exc.start + 1].hex()
        return (f"{path.name} is not a readable CSV file: line {line} is not UTF-8 text (byte 0x{byte}, "
                f"{exc.reason}). Save the file as 'CSV UTF-8', or convert it from its encoding (often Latin-1 or "
                "Windows-1252) to UTF-8.")
    # pandas failed to decode but Python does not: a decoder difference, so keep the message generic.
    return f"{path.name} is not a readable CSV file: it is not UTF-8 text. Save the file as 'CSV UTF-8'."


def _build_cohort(frame: pd.DataFrame, spec: Mapping[str, Mapping[str, Any]], *, source: Path,
                  path_columns: Mapping[str, str] | None = None) -> Cohort:
    """The Cohort of a manifest already checked: typed columns, absolute paths, blank rows dropped."""
    props = row_schema(spec, path_columns)["properties"]
    paths = tuple(DEFAULT_PATH_COLUMNS if path_columns is None else path_columns)
    blank = frame.apply(lambda row: all(str(v).strip() == "" for v in row), axis=1)
    body = frame.loc[~blank]
    base_dir = source.parent

    def column(name: str) -> list[str]:
        return [str(v) for v in body[name]]

    columns: dict[str, pd.Series] = {
        "cohort": pd.Series(column("cohort"), dtype=object),
        "time": pd.Series([float(_cell_value(t, props["time"])) for t in column("time")], dtype=float),
        "event": pd.Series([_cell_value(e, props["event"]) == 1 for e in column("event")], dtype=bool),
    }
    for name in paths:  # a slide column's several slides stay one cell, their absolute paths joined by ';'
        columns[name] = pd.Series([SLIDE_SEPARATOR.join(str(_resolve_path(part, base_dir))
                                                        for part in split_paths(text, props[name])) or None
                                   for text in column(name)], dtype=object)
    for name, var in spec.items():
        values = [_cell_value(text, props[name]) for text in column(name)]
        if var["type"] == "categorical":
            columns[name] = pd.Series([np.nan if v is None else v for v in values], dtype=object)
        else:
            columns[name] = pd.Series([np.nan if v is None else float(v) for v in values], dtype=float)

    table = pd.DataFrame(columns)
    table.index = pd.Index(column("patient_id"), name="patient_id", dtype=object)
    clinical_columns = tuple(c for c in body.columns if c in spec)
    table = table.loc[:, [*OUTCOME_COLUMNS[1:], *paths, *clinical_columns]]
    return Cohort(table, clinical_columns=clinical_columns, clinical_spec=dict(spec), source=source,
                  path_columns=paths)
