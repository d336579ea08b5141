"""The ``table`` modality kind: precomputed per-patient features (gene expression, any feature table).

Two layouts are read:

- a **wide table** (CSV, TSV or Parquet): one row per patient, an id column (``patient_id`` by default) and one
  numeric column per feature;
- a **folder of per-patient files** ``<folder>/<patient_id>.csv``: either one header row and one value row, or two
  columns ``feature,value``.

Every problem of the file (missing id column, duplicated ids, cells that are not numbers) is listed at once with its
file, row, patient and column, and the fix. Patients of the manifest without a row simply lack the modality (as a
patient without a CT lacks radiomics); rows whose id is not in the manifest are ignored (their count is logged).
Reading fits nothing, so the table is read once for the whole cohort.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from multisurv.exceptions import MultisurvError
from multisurv.features.batch import ExtractionResult

__all__ = ["TableError", "read_feature_table", "read_table_modality", "extract_table_modality"]

logger = logging.getLogger(__name__)

_MAX_LISTED = 20


class TableError(MultisurvError, ValueError):
    """A feature table cannot be used; ``.problems`` lists every problem found.

    Parameters
    ----------
    problems : sequence of str
        Every problem found (the message lists the first ones).
    source : str
        The table (or modality) named in the message.

    Examples
    --------
    >>> err = TableError(["row 3 (patient_id 'P2'): column 'g1' is not a number; got 'x'."], "genes.csv")
    >>> print(err)
    1 problem(s) found in feature table genes.csv:
      - row 3 (patient_id 'P2'): column 'g1' is not a number; got 'x'.
    """

    def __init__(self, problems: Sequence[str], source: str):
        self.problems = list(problems)
        head = f"{len(self.problems)} problem(s) found in feature table {source}:"
        shown = [*self.problems[:_MAX_LISTED]]
        if len(self.problems) > _MAX_LISTED:
            shown.append(f"... and {len(self.problems) - _MAX_LISTED} more.")
        super().__init__("\n".join([head, *("  - " + p for p in shown)]))


def _read_any(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path).astype(str)
    sep = "\t" if suffix in (".tsv", ".tab") else ","
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise TableError([f"{path.name} is not UTF-8 text. Save it as 'CSV UTF-8'."], str(path)) from None
    except pd.errors.EmptyDataError:
        raise TableError([f"{path.name} is empty: write a header row (the id column, then one column per "
                          "feature) and one row per patient."], str(path)) from None


def _numeric(frame: pd.DataFrame, source: str, ids: Sequence[str], row_offset: int = 2) -> tuple[pd.DataFrame,
                                                                                                  list[str]]:
    """Cells as floats (empty and NA texts are missing); one problem per column with non-numeric cells."""
    problems = []
    out = {}
    for column in frame.columns:
        text = frame[column].astype(str).str.strip()
        missing = text.isin(["", "NA", "NaN", "nan", "null", "None"])
        values = pd.to_numeric(text.where(~missing), errors="coerce")
        bad = np.flatnonzero((values.isna() & ~missing).to_numpy())
        if bad.size:
            first = bad[0]
            problems.append(
                f"{source} row {first + row_offset} (patient_id={ids[first]!r}), column {column!r}: must be a number "
                f"(or empty when unknown); got {text.iloc[first]!r}"
                + (f" ({bad.size} cells in this column are not numbers)" if bad.size > 1 else "")
                + ". Correct the values, or drop the column if it is not a feature.")
        out[column] = values.to_numpy(float)
    return pd.DataFrame(out, index=pd.Index(list(ids), name="patient_id")), problems


def read_feature_table(path: str | os.PathLike, *, id_column: str = "patient_id",
                       columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a wide feature table, or a folder of per-patient feature files, as floats indexed by patient_id.

    Parameters
    ----------
    path : str or Path
        A CSV / TSV / Parquet file with one row per patient, or a folder holding ``<patient_id>.csv`` files.
    id_column : str, default="patient_id"
        Column of the wide table holding the patient ids.
    columns : sequence of str, optional
        Keep only these feature columns (each must exist).

    Returns
    -------
    pandas.DataFrame
        Index ``patient_id`` (str); one float column per feature (NaN where a cell is empty).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    TableError
        Listing every problem: no id column, duplicated or empty ids, cells that are not numbers, unknown
        ``columns``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "genes.csv").write_text("patient_id,TP53,KIT\\nP1,1.5,0.2\\nP2,,3\\n")
    >>> read_feature_table(folder / "genes.csv")  # doctest: +NORMALIZE_WHITESPACE
                TP53  KIT
    patient_id
    P1           1.5  0.2
    P2           NaN  3.0
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Feature table {str(path)!r} does not exist. Correct the path (relative paths in a "
                                "study config are read from the config's folder).")
    if path.is_dir():
        return _read_folder(path, columns)
    raw = _read_any(path)
    source = path.name
    problems = []
    if id_column not in raw.columns:
        raise TableError([f"{source}, header (row 1): must have the id column {id_column!r}; got the columns "
                          f"{', '.join(repr(c) for c in list(raw.columns)[:8])}"
                          f"{' ...' if len(raw.columns) > 8 else ''}. Rename the patient id column to "
                          f"{id_column!r}, or set 'id_column' in the modality's config."], str(path))
    ids = raw[id_column].astype(str).str.strip()
    for i in np.flatnonzero((ids == "").to_numpy()):
        problems.append(f"{source} row {i + 2}, column {id_column!r}: must be a patient id; got an empty cell. "
                        "Fill in the id or drop the row.")
    dup = ids[ids.duplicated(keep=False) & (ids != "")]
    for pid, rows in dup.groupby(dup).groups.items():
        listed = ", ".join(str(raw.index.get_loc(r) + 2) for r in rows)
        problems.append(f"{source} rows {listed} (patient_id={pid!r}), column {id_column!r}: must be unique; got "
                        f"{pid!r} in {len(rows)} rows. Keep one row per patient.")
    features = raw.drop(columns=[id_column])
    if columns is not None:
        unknown = [c for c in columns if c not in features.columns]
        if unknown:
            problems.append(f"{source}: the modality's 'columns' lists {', '.join(repr(c) for c in unknown)}, which "
                            "the table does not have. Correct the names or remove them from 'columns'.")
        features = features.loc[:, [c for c in columns if c in features.columns]]
    if features.shape[1] == 0:
        problems.append(f"{source}: has no feature column besides {id_column!r}. Add the feature columns.")
    table, bad = _numeric(features, source, list(ids))
    problems += bad
    if problems:
        raise TableError(problems, str(path))
    return table


def _read_folder(folder: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    rows, problems = {}, []
    for file in sorted(folder.glob("*.csv")):
        raw = _read_any(file)
        if list(raw.columns) == ["feature", "value"]:
            raw = pd.DataFrame([raw["value"].to_list()], columns=raw["feature"].to_list())
        if len(raw) != 1:
            problems.append(f"{file.name}: must hold one patient's features (one value row, or two columns "
                            f"'feature,value'); got {len(raw)} rows. Split it into one file per patient.")
            continue
        values, bad = _numeric(raw, file.name, [file.stem])
        problems += bad
        rows[file.stem] = values.iloc[0]
    if not rows and not problems:
        problems.append(f"{folder.name}: holds no '<patient_id>.csv' file. Put one file per patient in the folder.")
    if problems:
        raise TableError(problems, str(folder))
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "patient_id"
    if columns is not None:
        table = table.reindex(columns=list(columns))
    return table


def read_table_modality(modality, path: str | os.PathLike | None = None) -> pd.DataFrame:
    """A ``table`` modality's features as the study uses them: read, checked and prefixed.

    Columns become ``<prefix><column>`` (a column that already starts with the prefix, as in a table written by
    ``multisurv extract``, keeps its name).

    Parameters
    ----------
    modality : Modality
        A modality of kind ``table`` (options ``path``, optionally ``id_column`` and ``columns``).
    path : str or PathLike, optional
        Read this table instead of the modality's ``path`` (a new cohort's table, for ``multisurv predict``).

    Returns
    -------
    pandas.DataFrame
        Index ``patient_id`` (text), one column per feature.

    Raises
    ------
    TableError
        When there is no path, or the table cannot be used (see :func:`read_feature_table`).

    Examples
    --------
    >>> import tempfile
    >>> from multisurv.registry import make_modality
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"patient_id": ["a"], "g1": [0.5], "genes__g2": [1.0]}).to_csv(folder / "g.csv", index=False)
    >>> read_table_modality(make_modality("genes", {"kind": "table", "path": str(folder / "g.csv")})).columns.tolist()
    ['genes__g1', 'genes__g2']
    """
    path = path if path is not None else modality.options.get("path")
    if path is None:
        raise TableError([f"modality {modality.name!r} (kind 'table') has no 'path'. Add 'path: <file or folder>' "
                          "to its config entry."], modality.name)
    table = read_feature_table(path, id_column=modality.options.get("id_column") or "patient_id",
                               columns=modality.options.get("columns"))
    # a column that already has the prefix keeps its name (a table written by 'multisurv extract', ct__...)
    return table.rename(columns=lambda c: c if str(c).startswith(modality.prefix) else f"{modality.prefix}{c}")


def extract_table_modality(modality, cohort, *, feature_dir=None, progress: bool = True,
                           n_workers: int | None = None) -> ExtractionResult:
    """Features of a ``table`` modality for the cohort (``path`` option; ``id_column``, ``columns`` optional).

    Columns become ``<prefix><column>`` (a column that already starts with the prefix, as in a table written by
    ``multisurv extract``, keeps its name); patients of the cohort without a row get no row (the modality is missing
    for them). ``feature_dir``, ``progress`` and ``n_workers`` are accepted for a common signature and unused
    (reading fits and caches nothing).

    Parameters
    ----------
    modality : Modality
        A modality of kind ``table``, with options ``path`` and optionally ``id_column`` and ``columns``.
    cohort : Cohort
        The patients to return rows for.
    feature_dir, progress, n_workers
        Unused.

    Returns
    -------
    ExtractionResult
        Features of the cohort's patients that have a row, in cohort order; no failures; ``store_dir`` is the
        table's path.

    Raises
    ------
    TableError
        When the modality has no ``path``, or the table cannot be used (see :func:`read_feature_table`).

    Examples
    --------
    >>> import tempfile
    >>> from multisurv.cohort.cohort import Cohort
    >>> from multisurv.registry import make_modality
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"patient_id": ["a", "c"], "g1": [0.5, 1.5]}).to_csv(folder / "genes.csv", index=False)
    >>> cohort = Cohort(pd.DataFrame({"cohort": ["development"] * 2, "time": [3.0, 4.0], "event": [True, False]},
    ...                              index=pd.Index(["a", "b"], name="patient_id")), path_columns=())
    >>> genes = make_modality("genes", {"kind": "table", "path": str(folder / "genes.csv")})
    >>> extract_table_modality(genes, cohort).features.to_dict("index")
    {'a': {'genes__g1': 0.5}}
    """
    table = read_table_modality(modality)
    path = modality.options["path"]
    known = set(map(str, cohort.ids))
    extra = [i for i in table.index if i not in known]
    if extra:
        logger.info("%s: %d row(s) of %s are not patients of the manifest (e.g. %r); ignored.", modality.name,
                    len(extra), Path(path).name, extra[0])
    present = [i for i in cohort.ids if i in table.index]
    if len(present) < len(cohort):
        logger.info("%s: %d of %d patients have no row in %s; the modality is missing for them.", modality.name,
                    len(cohort) - len(present), len(cohort), Path(path).name)
    features = table.loc[present]
    failures = pd.DataFrame(columns=["patient_id", "path", "stage", "error_type", "message"])
    return ExtractionResult(features=features, failures=failures, n_cached=0, store_dir=Path(path))
