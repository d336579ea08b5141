"""load_cases: the per-patient input files of a batch extraction, read from a manifest CSV.

Only ``patient_id`` and the input columns of the stage are read (``ct_image`` and ``ct_mask`` for radiomics,
``wsi`` for pathomics), so a full cohort manifest works as is and so does a three-column file. Relative paths
are read from the manifest's folder, as in :func:`multisurv.cohort.manifest.load_manifest`. Whether each file
exists and can be read is *not* checked here: that is a per-case failure, recorded in the errors table while
the batch goes on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from multisurv.cohort.outcomes import read_csv_table
from multisurv.exceptions import ManifestError

__all__ = ["load_cases"]


def load_cases(manifest: str | os.PathLike, *, roles: Sequence[str], several: Sequence[str] = ()
               ) -> tuple[list[tuple[str, dict[str, str]]], list[str]]:
    """Read ``(patient_id, {role: absolute path})`` for every patient with all the ``roles`` columns filled in.

    Parameters
    ----------
    manifest : str or Path
        CSV file (UTF-8, comma-separated) with a ``patient_id`` column and one column per role.
    roles : sequence of str
        Input columns the stage needs, e.g. ``("ct_image", "ct_mask")``. A patient whose cells are all empty
        is skipped (no data of that modality); a patient with some but not all filled in is an error.
    several : sequence of str, default=()
        Roles whose cell may list several files separated by ``;`` (the slides of one patient, ``"wsi"``): such
        a cell gives the list of absolute paths (one file stays a plain path).

    Returns
    -------
    cases : list of (str, dict)
        In manifest order.
    skipped : list of str
        Patients with every role empty.

    Raises
    ------
    FileNotFoundError
        If the manifest does not exist.
    ManifestError
        Listing every problem: missing columns, empty or duplicated ``patient_id``, partly filled roles.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "m.csv").write_text("patient_id,ct_image,ct_mask\\nP1,ct/p1.nrrd,ct/p1_mask.nrrd\\nP2,,\\n")
    >>> cases, skipped = load_cases(folder / "m.csv", roles=("ct_image", "ct_mask"))
    >>> [pid for pid, _ in cases], skipped
    (['P1'], ['P2'])
    >>> cases[0][1]["ct_image"] == str(folder / "ct" / "p1.nrrd")
    True
    """
    path = Path(manifest)
    if not path.is_file():
        raise FileNotFoundError(f"The manifest {str(path)!r} does not exist. Pass the path of a CSV file with "
                                f"columns 'patient_id', {', '.join(repr(r) for r in roles)}.")
    table = read_csv_table(path, what="manifest")  # empty, non-UTF-8 or broken files: ManifestError with the line
    needed = ["patient_id", *roles]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ManifestError([f"header (row 1): missing column(s) {', '.join(repr(c) for c in missing)}. The manifest "
                             f"needs 'patient_id' and {', '.join(repr(r) for r in roles)} (one row per patient; other "
                             "columns are ignored). Add the column(s)."], source=str(path))
    problems: list[str] = []
    cases: list[tuple[str, dict[str, str]]] = []
    skipped: list[str] = []
    rows_by_id: dict[str, list[int]] = {}
    for i, row in enumerate(table.to_dict("records")):
        row_no = i + 2  # spreadsheet numbering: the header is row 1
        values = {c: str(row[c]).strip() for c in needed}
        if not any(values.values()):
            continue  # blank line
        pid = values["patient_id"]
        if not pid:
            problems.append(f"row {row_no}, column 'patient_id': must be the patient's identifier; got an empty "
                            "cell. Fill it in or drop the row.")
            continue
        rows_by_id.setdefault(pid, []).append(row_no)
        given = [r for r in roles if values[r]]
        if not given:
            skipped.append(pid)
        elif len(given) < len(roles):
            empty = [r for r in roles if not values[r]]
            problems.append(f"row {row_no} (patient_id={pid!r}), column(s) {', '.join(repr(r) for r in empty)}: must "
                            f"be given when {', '.join(repr(r) for r in given)} is; got an empty cell. Fill it in, or "
                            "clear the row's other input columns if the patient has no such data.")
        else:
            cases.append((pid, {r: _resolve_all(values[r], path.parent) if r in several else
                                _resolve(values[r], path.parent) for r in roles}))
    for pid, rows in rows_by_id.items():
        if len(rows) > 1:
            problems.append(f"rows {', '.join(map(str, rows))}, column 'patient_id': must be unique; got {pid!r} in "
                            f"{len(rows)} rows. Keep one row per patient.")
    if problems:
        raise ManifestError(problems, source=str(path))
    return cases, skipped


def _resolve_all(value: str, folder: Path) -> str | list[str]:
    """One path, or the list of the ';'-separated paths of a cell (the several slides of one patient)."""
    paths = [_resolve(part.strip(), folder) for part in value.split(";") if part.strip()]
    return paths[0] if len(paths) == 1 else paths


def _resolve(value: str, folder: Path) -> str:
    candidate = Path(os.path.expanduser(value))
    return os.path.abspath(candidate if candidate.is_absolute() else folder / candidate)

