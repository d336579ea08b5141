"""Schemas of the cohort manifest and of its clinical spec, and the check that collects every problem.

The core columns of one manifest row are described by ``data_schemas/cohort_manifest.v1.schema.json``
(JSON Schema, draft 2020-12). The clinical columns are described by a clinical spec
(``clinical_variables.v1``, a YAML file; the GIST demo spec is ``data_schemas/clinical_gist.v1.yaml``),
which :func:`row_schema` turns into further JSON Schema properties, so every cell goes through one validator.
What JSON Schema cannot express (the header, unique ids, files that exist, CT image and mask given together)
is checked in code here. Both formats are documented in ``data_schemas/README.md``.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from jsonschema import Draft202012Validator

import multisurv
from multisurv.cohort.cohort import CORE_COLUMNS, DEFAULT_PATH_COLUMNS, OUTCOME_COLUMNS
from multisurv.exceptions import ManifestError

__all__ = ["load_clinical_spec", "row_schema", "check_manifest_frame", "split_paths"]

MANIFEST_SCHEMA_FILE = "cohort_manifest.v1.schema.json"
DEMO_CLINICAL_SPEC_FILE = "clinical_gist.v1.yaml"
CLINICAL_SPEC_FORMAT = "clinical_variables.v1"
CLINICAL_TYPES = ("numeric", "integer", "categorical")

# clinical spec key -> JSON Schema keyword, for the bounds of numeric and integer variables.
_BOUND_KEYWORDS = {
    "minimum": "minimum",
    "exclusive_minimum": "exclusiveMinimum",
    "maximum": "maximum",
    "exclusive_maximum": "exclusiveMaximum",
}
# A number as a spreadsheet writes it; unlike float() this refuses 'nan', 'inf' and '1_000'.
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_BOUND_FIX = "Write a number, or remove the key if there is no bound."
_TEXT_FIX = "Write it as text (in quotes if it starts with a symbol such as '%')."

# The clinical spec format (clinical_variables.v1) as JSON Schema. 'x-expected' and 'x-fix' feed the messages.
_VARIABLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "type"],
    "additionalProperties": False,
    "properties": {
        "name": {
            "title": "the header of the manifest column",
            "type": "string",
            "pattern": r"^[A-Za-z][A-Za-z0-9_]*$",
            "x-expected": "a column name made of letters, digits and '_', starting with a letter",
            "x-fix": "Rename the variable, and its manifest column, to match.",
        },
        "type": {
            "enum": list(CLINICAL_TYPES),
            "x-fix": "Use 'numeric' for measurements, 'integer' for counts and 'categorical' for labels.",
        },
        "unit": {"type": ["string", "null"], "x-expected": "a text", "x-fix": _TEXT_FIX},
        **{key: {"type": "number", "x-expected": "a number", "x-fix": _BOUND_FIX} for key in _BOUND_KEYWORDS},
        "categories": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1},
            "x-expected": "a non-empty list of distinct, non-empty texts",
            "x-fix": (
                'List each allowed value once and quote every one (write "yes", not yes: YAML reads unquoted '
                "yes/no/on/off as true/false and 1 as a number)."
            ),
        },
        "required": {
            "type": "boolean",
            "x-expected": "true or false",
            "x-fix": "Write true if an empty cell is an error, or false (the default) if it is imputed later.",
        },
        "description": {"type": ["string", "null"], "x-expected": "a text", "x-fix": _TEXT_FIX},
    },
}
_SPEC_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:multisurv:clinical_variables.v1",
    "type": "object",
    "required": ["schema", "variables"],
    "additionalProperties": False,
    "properties": {
        "schema": {
            "const": CLINICAL_SPEC_FORMAT,
            "title": "the spec format",
            "x-expected": repr(CLINICAL_SPEC_FORMAT),
            "x-fix": f"Write 'schema: {CLINICAL_SPEC_FORMAT}' at the top of the file.",
        },
        "description": {"type": ["string", "null"], "x-expected": "a text", "x-fix": _TEXT_FIX},
        "variables": {
            "type": "array",
            "items": _VARIABLE_SCHEMA,
            "x-expected": "a list of variables",
            "x-fix": "List the variables as YAML items ('- name: age'), or write 'variables: []' for none.",
        },
    },
}


def schemas_dir() -> Path:
    """The folder holding the manifest schema and the demo clinical spec.

    Every lookup of ``data_schemas/`` goes through this function. A wheel carries the folder inside the package
    (``multisurv/data_schemas``, mapped in pyproject.toml); a source checkout or editable install has it at the
    top of the repository.
    """
    package = Path(multisurv.__file__).resolve().parent
    for candidate in (package / "data_schemas", package.parent / "data_schemas"):
        if (candidate / "cohort_manifest.v1.schema.json").is_file():
            return candidate
    raise FileNotFoundError(
        f"multisurv's schema folder 'data_schemas' was not found next to {package}. Reinstall multisurv "
        '(pip install -e ".[all]" from the repository).'
    )


# --------------------------------------------------------------------------------------------------------------
# The clinical spec
# --------------------------------------------------------------------------------------------------------------


def load_clinical_spec(path: str | Path | Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Load and check a clinical spec (format ``clinical_variables.v1``).

    Parameters
    ----------
    path : str, Path, mapping or None, default=None
        A YAML file in the ``clinical_variables.v1`` format (see ``data_schemas/README.md``). None loads the
        GIST demo spec, ``data_schemas/clinical_gist.v1.yaml``. A mapping is checked the same way; it is either
        such a document already parsed or a spec returned by this function.

    Returns
    -------
    dict
        Variable name -> variable, in the order of the spec. Every variable is a dict with the keys ``name``,
        ``type`` (``'numeric'``, ``'integer'`` or ``'categorical'``), ``unit``, ``minimum``, ``maximum``,
        ``exclusive_minimum``, ``exclusive_maximum``, ``categories`` (None when not given), ``required``
        (bool) and ``description`` (str).

    Raises
    ------
    ManifestError
        If the file is missing or is not YAML, or if the spec breaks its format; every problem is listed.

    See Also
    --------
    row_schema : The JSON Schema of one manifest row, core and clinical columns.

    Examples
    --------
    >>> spec = load_clinical_spec()
    >>> list(spec)
    ['age', 'sex', 'site', 'tumour_size_cm', 'mitotic_count', 'ki67_percent', 'tki_therapy']
    >>> spec["sex"]["categories"]
    ['female', 'male']
    """
    if path is None:
        path = schemas_dir() / DEMO_CLINICAL_SPEC_FILE
    if isinstance(path, Mapping):
        source = where = "clinical spec"
        document = _spec_document(path)
    else:
        path = Path(path)
        source, where = str(path), path.name
        document = _read_yaml(path)
    problems = _check_spec_document(document, where)
    if problems:
        raise ManifestError(problems, source=source)
    return {var["name"]: _normalise_variable(var) for var in document["variables"]}


def _read_yaml(path: Path) -> Any:
    """Parse a YAML file, raising ManifestError naming the file when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problem = (f"{path.name} does not exist (looked for '{os.path.abspath(path)}'). Check the path to the "
                   "clinical spec, or pass None to use the GIST demo spec.")
        raise ManifestError([problem], source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"{path.name} could not be read as UTF-8 text ({exc}). Check the file and its permissions."
        raise ManifestError([problem], source=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc)
        problem = f"{path.name} is not valid YAML{at}: {what}. Fix the syntax (compare with {DEMO_CLINICAL_SPEC_FILE})."
        raise ManifestError([problem], source=str(path)) from None


def _spec_document(spec: Mapping[str, Any]) -> Any:
    """Turn a mapping into a spec document: a parsed YAML document stays as it is; a loaded spec is rebuilt."""
    if isinstance(spec.get("schema"), str):
        return dict(spec)
    variables = []
    for name, var in spec.items():
        if isinstance(var, Mapping):
            var = {key: value for key, value in var.items() if value is not None}
            var = {"name": name, **var}
        variables.append(var)
    return {"schema": CLINICAL_SPEC_FORMAT, "variables": variables}


def _check_spec_document(document: Any, source: str) -> list[str]:
    """Every problem of a clinical spec document: its format first, then the checks across keys."""
    problems: dict[str, None] = {}
    for error in Draft202012Validator(_SPEC_SCHEMA).iter_errors(document):
        problems[_spec_problem(error, document, source)] = None
    if problems:
        return list(problems)
    seen: dict[str, int] = {}
    for i, var in enumerate(document["variables"]):
        where = f"{source}, variable {i + 1} ({var['name']!r})"
        for problem in _check_variable(var, where):
            problems[problem] = None
        if var["name"] in seen:
            problems[
                f"{source}, variables {seen[var['name']] + 1} and {i + 1}: both are named {var['name']!r}. "
                "Give each variable its own name (one per manifest column)."
            ] = None
        seen.setdefault(var["name"], i)
    return list(problems)


def _check_variable(var: Mapping[str, Any], where: str) -> list[str]:
    """The checks on one variable that need more than one key."""
    problems = []
    if var["name"] in CORE_COLUMNS:
        problems.append(
            f"{where}, key 'name': must not be a core manifest column ({_and_list(CORE_COLUMNS)}); "
            f"got {var['name']!r}. Rename the variable and its manifest column."
        )
    bounds = [key for key in _BOUND_KEYWORDS if var.get(key) is not None]
    if var["type"] == "categorical":
        if var.get("categories") is None:
            problems.append(
                f"{where}, key 'categories': must be given for a categorical variable; got nothing. "
                "List the allowed values, e.g. categories: [\"female\", \"male\"]."
            )
        if bounds:
            problems.append(
                f"{where}, key {bounds[0]!r}: must not be given for a categorical variable. "
                "Remove the bound, or make the variable 'numeric' or 'integer'."
            )
        return problems
    if var.get("categories") is not None:
        problems.append(
            f"{where}, key 'categories': must not be given for a {var['type']} variable. "
            "Remove the categories, or make the variable 'categorical'."
        )
    for inclusive, exclusive in (("minimum", "exclusive_minimum"), ("maximum", "exclusive_maximum")):
        if inclusive in bounds and exclusive in bounds:
            problems.append(
                f"{where}, keys {inclusive!r} and {exclusive!r}: must not both be given. Keep one of them."
            )
    lows = [var[key] for key in ("minimum", "exclusive_minimum") if key in bounds]
    highs = [var[key] for key in ("maximum", "exclusive_maximum") if key in bounds]
    if lows and highs and max(lows) >= min(highs):
        problems.append(
            f"{where}: the lower bound ({max(lows):g}) must be below the upper bound ({min(highs):g}). "
            "Correct the bounds."
        )
    return problems


def _spec_problem(error: Any, document: Any, source: str) -> str:
    """One sentence for one JSON Schema error in a clinical spec document."""
    path = list(error.absolute_path)
    if not path or (path[0] == "variables" and len(path) == 2):
        if path:
            where = _variable_where(source, path[1], error.instance)
            schema = _VARIABLE_SCHEMA
            fix_hint = "Compare it with the variables of " + DEMO_CLINICAL_SPEC_FILE + "."
        else:
            where, schema = source, _SPEC_SCHEMA
            fix_hint = f"Start from {DEMO_CLINICAL_SPEC_FILE} and see data_schemas/README.md."
        if error.validator == "type":
            got = type(error.instance).__name__ if error.instance is not None else "nothing"
            what = "a mapping of keys (key: value)" if path else "a YAML mapping with the keys 'schema' and 'variables'"
            return f"{where}: must be {what}; got {_shown(error.instance) if path else got}. {fix_hint}"
        if error.validator == "required":
            missing = [key for key in error.validator_value if key not in error.instance]
            return f"{where}: key(s) {_and_list(missing)} missing. Add them. {fix_hint}"
        if error.validator == "additionalProperties":
            unknown = [key for key in error.instance if key not in schema["properties"]]
            return (
                f"{where}: unknown key(s) {_and_list(unknown)}. Known keys: {_and_list(schema['properties'])}. "
                "Correct the spelling or remove the key(s)."
            )
        return f"{where}: {error.message}. {fix_hint}"  # pragma: no cover - every keyword on these levels is above
    if path[0] == "variables" and len(path) > 2:
        where = _variable_where(source, path[1], document["variables"][path[1]])
        key = path[2]
        prop = _VARIABLE_SCHEMA["properties"][key]
        value = document["variables"][path[1]][key]
    else:
        where, key = source, path[0]
        prop = _SPEC_SCHEMA["properties"][key]
        value = document[key]
    return _sentence(where, f"key {key!r}", prop, _shown(value))


def _variable_where(source: str, index: int, variable: Any) -> str:
    name = variable.get("name") if isinstance(variable, Mapping) else None
    return f"{source}, variable {index + 1}" + (f" ({name!r})" if isinstance(name, str) else "")


def _normalise_variable(var: Mapping[str, Any]) -> dict[str, Any]:
    """A variable with every key present (None when not given), so later code need not guess."""
    return {
        "name": var["name"],
        "type": var["type"],
        "unit": var.get("unit"),
        **{key: var.get(key) for key in _BOUND_KEYWORDS},
        "categories": list(var["categories"]) if var.get("categories") is not None else None,
        "required": bool(var.get("required", False)),
        "description": var.get("description") or "",
    }


# --------------------------------------------------------------------------------------------------------------
# The row schema
# --------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _core_schema_text() -> str:
    return (schemas_dir() / MANIFEST_SCHEMA_FILE).read_text(encoding="utf-8")


def row_schema(clinical_spec: Mapping[str, Mapping[str, Any]],
               path_columns: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one manifest row: the core columns, then one property per variable.

    Parameters
    ----------
    clinical_spec : dict
        A spec as returned by :func:`load_clinical_spec`.
    path_columns : mapping, optional
        The study's path columns: column name -> the template property it is checked against (``ct_image``,
        ``ct_mask`` or ``wsi``); None means the reference design's ``ct_image``, ``ct_mask``, ``wsi``.

    Returns
    -------
    dict
        A new JSON Schema; its ``properties`` are in manifest column order and each has ``x-fix``, the fix
        shown in messages. A cell is null when empty, a number when its column is numeric and its text is
        a number, and its text otherwise. Optional clinical variables allow null.

    Examples
    --------
    >>> schema = row_schema(load_clinical_spec())
    >>> list(schema["properties"])[:8]
    ['patient_id', 'cohort', 'time', 'event', 'ct_image', 'ct_mask', 'wsi', 'age']
    >>> schema["properties"]["age"]["maximum"]
    120
    """
    schema = _with_path_columns(json.loads(_core_schema_text()), path_columns)
    for name, var in clinical_spec.items():
        schema["properties"][name] = _clinical_property(var)
        schema["required"].append(name)
    return schema


def _with_path_columns(schema: dict[str, Any], path_columns: Mapping[str, str] | None) -> dict[str, Any]:
    """The core schema with the study's path columns in place of the reference design's (same templates)."""
    if path_columns is None:
        return schema
    templates = {name: schema["properties"].pop(name) for name in DEFAULT_PATH_COLUMNS}
    for column, template in path_columns.items():
        prop = dict(templates[template])
        if column != template:
            prop["title"] = f"{prop['title']} (column {column!r})"
            prop["x-fix"] = prop["x-fix"].replace(f"'{template}'", f"'{column}'")
        schema["properties"][column] = prop
    schema["required"] = [*OUTCOME_COLUMNS, *path_columns]
    return schema


def _clinical_property(var: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema property of one clinical variable."""
    prop: dict[str, Any] = {}
    if var.get("unit"):
        prop["title"] = var["unit"]
    if var.get("description"):
        prop["description"] = var["description"]
    optional = not var.get("required", False)
    if var["type"] == "categorical":
        prop["type"] = ["string", "null"] if optional else "string"
        prop["enum"] = list(var["categories"]) + ([None] if optional else [])
        prop["x-fix"] = ("Use one of the allowed values (case matters), add the value to the categories in the "
                         "clinical spec")
    else:
        base = "number" if var["type"] == "numeric" else "integer"
        prop["type"] = [base, "null"] if optional else base
        for key, keyword in _BOUND_KEYWORDS.items():
            if var.get(key) is not None:
                prop[keyword] = var[key]
        prop["x-fix"] = "Correct the value"
    prop["x-fix"] += (", or leave the cell empty if it is unknown (it will be imputed)." if optional
                      else ", or drop the row (this variable is required).")
    return prop


# --------------------------------------------------------------------------------------------------------------
# The check of a manifest
# --------------------------------------------------------------------------------------------------------------


def check_manifest_frame(
    frame: pd.DataFrame,
    *,
    clinical_spec: Mapping[str, Mapping[str, Any]],
    base_dir: str | Path,
    source: str = "manifest.csv",
    path_columns: Mapping[str, str] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> list[str]:
    """Check a manifest table and return every problem found, one sentence each.

    Parameters
    ----------
    frame : pandas.DataFrame
        The manifest as read with ``dtype=str, keep_default_na=False``: the header as columns (duplicates
        allowed, so they can be reported) and one row per CSV record, blank rows included. Row ``i`` (0-based
        position) is reported as row ``i + 2``, its row number in a spreadsheet whose header is row 1.
        An empty cell (or NaN) is a missing value. Rows whose cells are all empty are skipped.
    clinical_spec : dict
        A spec as returned by :func:`load_clinical_spec`.
    base_dir : str or Path
        The folder relative paths are read from: the manifest's folder.
    source : str, default="manifest.csv"
        The file name used in messages.
    path_columns : mapping, optional
        The study's path columns (see :func:`row_schema`); None: ``ct_image``, ``ct_mask``, ``wsi``.
    pairs : sequence of (str, str), optional
        (image, mask) columns that must be given together; None: ``("ct_image", "ct_mask")`` when both exist.

    Returns
    -------
    list of str
        Every problem, never only the first: header problems, then each row's problems in row and column
        order, then duplicated patient ids. Empty when the manifest is valid.

    Examples
    --------
    >>> frame = pd.DataFrame({"patient_id": ["P1"], "cohort": ["development"], "time": ["-3"], "event": ["1"],
    ...                       "ct_image": [""], "ct_mask": [""], "wsi": [""]})
    >>> check_manifest_frame(frame, clinical_spec={}, base_dir=".")
    ["manifest.csv row 2 (patient_id='P1'), column 'time': must be a number > 0 (the follow-up time); got '-3'. \
Correct the value or drop the row."]
    """
    schema = row_schema(clinical_spec, path_columns)
    props = schema["properties"]
    known = list(props)
    paths = list(DEFAULT_PATH_COLUMNS if path_columns is None else path_columns)
    if pairs is None:
        pairs = [("ct_image", "ct_mask")] if {"ct_image", "ct_mask"} <= set(paths) else []
    header = ["" if _is_missing(c) else str(c) for c in frame.columns]
    cells = [[_raw_text(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    separator = _wrong_separator(header, known)
    if separator:
        return [
            f"{source}, header (row 1): must be comma-separated; got the single column {_shorten(header[0])!r}, "
            f"which seems to use {separator} between values. Save the file with commas (in Excel: 'CSV UTF-8 "
            "(comma delimited)')."
        ]
    # the reference design's columns keep their fixed order; a study's own path columns may come in any order
    problems = _check_header(header, cells, known, clinical_spec, source, (*OUTCOME_COLUMNS, *paths),
                             ordered=None if path_columns is None else OUTCOME_COLUMNS)

    position = {name: header.index(name) for name in known if name in header}
    validator = Draft202012Validator(schema)
    base_dir = Path(base_dir)
    rows_of_id: dict[str, list[int]] = {}
    n_patients = 0
    for i, raw_row in enumerate(cells):
        if not any(text.strip() for text in raw_row):
            continue
        n_patients += 1
        row_number = i + 2
        raw = {name: raw_row[pos] for name, pos in position.items()}
        pid = raw.get("patient_id")
        if pid and pid.strip():
            rows_of_id.setdefault(pid, []).append(row_number)
        where = f"{source} row {row_number} " + (f"(patient_id={pid!r})" if pid and pid.strip() else "(no patient_id)")
        problems.extend(_check_row(raw, props, validator, base_dir, where, paths, pairs))

    if n_patients == 0:
        problems.append(
            f"{source} has no patient rows, only a header. Add one row per patient below the header."
        )
    for pid, rows in rows_of_id.items():
        if len(rows) > 1:
            listed = _and_list([str(r) for r in rows], quote=False)
            problems.append(
                f"{source} rows {listed} (patient_id={pid!r}), column 'patient_id': must be unique "
                f"({props['patient_id']['title']}); got {pid!r} in {len(rows)} rows. "
                "Keep one row per patient, or give each patient their own id."
            )
    return problems


def _check_header(header: list[str], cells: list[list[str]], known: list[str],
                  clinical_spec: Mapping[str, Any], source: str, core: Sequence[str] = CORE_COLUMNS,
                  ordered: Sequence[str] | None = None) -> list[str]:
    """Problems of the header: duplicated, unnamed, missing, misplaced and unknown columns."""
    where = f"{source}, header (row 1)"
    problems = []
    for j, name in enumerate(header):
        if name.strip() == "" and any(row[j].strip() for row in cells):
            problems.append(
                f"{where}, column {j + 1}: must have a name; got an empty header above cells with values. "
                "Name the column, or delete it."
            )
    counts = {name: [j + 1 for j, n in enumerate(header) if n == name] for name in header if name.strip()}
    for name, places in counts.items():
        if len(places) > 1:
            problems.append(
                f"{where}, column {name!r}: must appear once; got it {len(places)} times (columns "
                f"{_and_list([str(p) for p in places], quote=False)}). Keep one of them."
            )

    expected = (f"The manifest starts with the core columns {_and_list(core)}, in this order, followed by "
                "the clinical columns of the spec" + (f" ({_and_list(clinical_spec)})." if clinical_spec else "."))
    missing_core = [c for c in core if c not in header]
    if missing_core:
        problems.append(
            f"{where}: missing required column(s) {_and_list(missing_core)}. {expected} Add the missing "
            "column(s); see data_schemas/README.md."
        )
    elif header[: len(ordered or core)] != list(ordered or core):
        first = list(ordered or core)
        problems.append(
            f"{where}: the core columns must be columns 1 to {len(first)}, in the order "
            f"{_and_list(first)}; got {_and_list(header[: len(first)])}. Reorder the columns."
        )
    missing_clinical = [c for c in clinical_spec if c not in header]
    if missing_clinical:
        problems.append(
            f"{where}: missing clinical column(s) {_and_list(missing_clinical)}, declared in the clinical spec. "
            "Add the column(s) (cells may be left empty unless the variable is required), or remove the "
            "variable(s) from the clinical spec."
        )
    for j, name in enumerate(header):
        if name.strip() and name not in known and counts[name][0] == j + 1:
            close = difflib.get_close_matches(name.strip().lower(), known, n=1, cutoff=0.75)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            if name in DEFAULT_PATH_COLUMNS:  # a built-in modality's column, in a study without that modality
                problems.append(
                    f"{where}, column {name!r} (column {j + 1}): must be a column that a modality of the study reads "
                    "or a variable of the clinical spec; got an image column that no modality of this study reads. "
                    "Drop the column, or declare the modality that reads it under the study config's modalities."
                )
                continue
            problems.append(
                f"{where}, column {name!r} (column {j + 1}): must be a core column or a variable of the clinical "
                f"spec; got a column that is neither. Add the variable to the clinical spec (see "
                f"data_schemas/README.md) or drop the column.{hint}"
            )
    return problems


def _wrong_separator(header: list[str], known: list[str]) -> str | None:
    """The separator a one-column header seems to use instead of commas (';' or a tab), if any."""
    if len(header) != 1 or header[0] in known:
        return None
    for separator, said in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
        if separator in header[0]:
            return said
    return None


def _check_row(raw: Mapping[str, str], props: Mapping[str, Any], validator: Draft202012Validator,
               base_dir: Path, where: str, paths: Sequence[str] = tuple(DEFAULT_PATH_COLUMNS),
               pairs: Sequence[tuple[str, str]] = (("ct_image", "ct_mask"),)) -> list[str]:
    """Every problem of one row, in column order."""
    instance = {name: _cell_value(text, props[name]) for name, text in raw.items()}
    failed: dict[str, None] = {}
    found: list[tuple[int, str]] = []
    order = {name: k for k, name in enumerate(props)}
    for error in validator.iter_errors(instance):
        if error.absolute_path:
            failed[error.absolute_path[0]] = None
        # 'required' and 'additionalProperties' concern the header, reported once by _check_header.
    for name in failed:
        found.append((order[name], _sentence(where, f"column {name!r}", props[name], _got(raw[name], props[name]))))

    for name in paths:
        if name in failed or instance.get(name) is None:
            continue
        found.extend((order[name], message) for message in _path_problems(instance[name], props[name], base_dir,
                                                                         f"{where}, column {name!r}"))
    for image, mask in pairs:
        if image in raw and mask in raw and (instance[image] is None) != (instance[mask] is None):
            empty, given = (mask, image) if instance[mask] is None else (image, mask)
            what, noun = (("a CT needs both the image and its tumour mask", "CT") if image == "ct_image" else
                          ("an image needs its tumour mask", "such image"))
            found.append((order[empty], (
                f"{where}, column {empty!r}: must be given when {given!r} is ({what}); got an empty cell. Fill in "
                f"{empty!r}, or clear {given!r} if the patient has no {noun}."
            )))
    return [message for _, message in sorted(found, key=lambda item: item[0])]


def _path_problems(text: str, prop: Mapping[str, Any], base_dir: Path, where: str) -> list[str]:
    """Problems of one path cell: each file must exist; a slide column (``x-separator``) may list several
    files separated by ';' (each checked, none twice), any other path column holds one file."""
    separator = prop.get("x-separator")
    parts = split_paths(text, prop)
    if separator is None and ";" in text and not _resolve_path(text, base_dir).exists():
        return [f"{where}: must be one existing file ({prop['title']}); got {text!r}, which lists several paths "
                "separated by ';'. Give one file per cell; only slide columns may list several files."]
    problems = []
    seen: dict[Path, int] = {}
    for k, part in enumerate(parts, start=1):
        which = f" (slide {k} of {len(parts)})" if len(parts) > 1 else ""
        resolved = _resolve_path(part, base_dir)
        if resolved in seen:
            problems.append(f"{where}: must list each slide once ({prop['title']}); got {part!r}{which}, which is "
                            f"also slide {seen[resolved]}. Remove the repeated path.")
            continue
        seen[resolved] = k
        if not resolved.exists():
            shown = repr(part) + which
            if str(resolved) != part:
                shown += f" (resolved to '{resolved}')"
            problems.append(f"{where}: must be an existing file ({prop['title']}); got {shown}, which does not "
                            f"exist. {prop['x-fix']}")
    return problems


def split_paths(text: str, prop: Mapping[str, Any]) -> list[str]:
    """The paths of one path cell: split at the column's ``x-separator`` (slide columns: ';'), blanks dropped.

    Parameters
    ----------
    text : str
        The cell.
    prop : mapping
        The column's schema property; its ``x-separator`` (if any) separates several paths.

    Returns
    -------
    list of str
        The paths, stripped (``[]`` for a blank cell).

    Examples
    --------
    >>> split_paths("a.svs; b.svs;", {"x-separator": ";"}), split_paths("ct.nrrd", {})
    (['a.svs', 'b.svs'], ['ct.nrrd'])
    """
    separator = prop.get("x-separator")
    if separator is None:
        return [text] if text.strip() else []
    return [part.strip() for part in text.split(separator) if part.strip()]


# --------------------------------------------------------------------------------------------------------------
# Cells and sentences (shared with manifest.py)
# --------------------------------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _raw_text(value: Any) -> str:
    """The text of one cell; missing (None, NaN) becomes ''."""
    return "" if _is_missing(value) else str(value)


def _types(prop: Mapping[str, Any]) -> set[str]:
    kind = prop.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _cell_value(text: str, prop: Mapping[str, Any]) -> Any:
    """The typed value of one cell: None when empty, a number when the column is numeric and the text is one.

    Any other text is kept as it is, so the validator reports it with the text the user wrote.
    """
    if text.strip() == "":
        return None
    types = _types(prop)
    if types & {"number", "integer"} and _NUMBER.match(text.strip()):
        value = float(text)
        if math.isfinite(value):
            return int(value) if "integer" in types and value.is_integer() else value
    return text


def _resolve_path(text: str, base_dir: Path) -> Path:
    """An absolute path: ``~`` expanded, relative paths read from ``base_dir``; symlinks are not followed."""
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    return Path(os.path.abspath(path))


def _got(text: str, prop: Mapping[str, Any]) -> str:
    """How a cell is shown after 'got' in a message."""
    if text.strip() == "":
        return "an empty cell"
    if _types(prop) & {"number", "integer"} and _NUMBER.match(text.strip().replace(",", ".")) \
            and not _NUMBER.match(text.strip()):
        return f"{text!r} (write '.' as the decimal separator)"
    return repr(text)


def _shown(value: Any) -> str:
    """How a YAML value is shown after 'got' in a message (JSON-like, as the user wrote it)."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, default=str)


def _sentence(where: str, what: str, prop: Mapping[str, Any], got: str) -> str:
    """The house message: where, what, what it must be (and what it means), what was found, the fix."""
    expected = prop.get("x-expected") or _expectation(prop)
    meaning = f" ({prop['title']})" if prop.get("title") else ""
    return f"{where}, {what}: must be {expected}{meaning}; got {got}. {prop['x-fix']}"


def _expectation(prop: Mapping[str, Any]) -> str:
    """The requirement of a property in words, generated from its constraints."""
    if "enum" in prop:
        options = [value for value in prop["enum"] if value is not None]
        listed = _or_list([repr(value) for value in options])
        return listed if len(options) <= 2 else f"one of {listed}"
    types = _types(prop)
    if types & {"number", "integer"}:
        noun = "an integer" if "integer" in types else "a number"
        low = [(prop[k], s) for k, s in (("minimum", ">="), ("exclusiveMinimum", ">")) if k in prop]
        high = [(prop[k], s) for k, s in (("maximum", "<="), ("exclusiveMaximum", "<")) if k in prop]
        if low and high and low[0][1] == ">=" and high[0][1] == "<=":
            return f"{noun} between {low[0][0]:g} and {high[0][0]:g}"
        bounds = " and ".join(f"{sign} {value:g}" for value, sign in low + high)
        return f"{noun} {bounds}".rstrip()
    return "a non-empty text" if prop.get("minLength") else "a text"


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width] + "..."


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _and_list(items: Any, *, quote: bool = True) -> str:
    """'a', 'b' and 'c' (names quoted unless ``quote`` is False)."""
    items = [repr(i) if quote else str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
