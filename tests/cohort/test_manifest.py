"""Tests of multisurv.cohort.manifest: reading, checking and loading a cohort manifest.

Each manifest is written to ``tmp_path`` next to tiny empty files standing in for CT volumes, masks and slides.
Row numbers in messages are spreadsheet rows: the header is row 1, so ``ROWS[i]`` is reported as row ``i + 2``.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from multisurv.cohort.cohort import CORE_COLUMNS, Cohort
from multisurv.cohort.manifest import format_problems, load_manifest, validate_manifest
from multisurv.cohort.schema import load_clinical_spec
from multisurv.exceptions import ManifestError

GIST_COLUMNS = ["age", "sex", "site", "tumour_size_cm", "mitotic_count", "ki67_percent", "tki_therapy"]
FILES = [
    "ct/GIST-001.nii.gz", "ct/GIST-001_mask.nii.gz", "slides/GIST-001.svs",
    "ct/GIST-002.nii.gz", "ct/GIST-002_mask.nii.gz",
    "slides/GIST-003.svs",
]
ROWS = [  # rows 2, 3 and 4 of the manifest
    {"patient_id": "GIST-001", "cohort": "development", "time": "12.5", "event": "1",
     "ct_image": "ct/GIST-001.nii.gz", "ct_mask": "ct/GIST-001_mask.nii.gz", "wsi": "slides/GIST-001.svs",
     "age": "63", "sex": "female", "site": "stomach", "tumour_size_cm": "5.2", "mitotic_count": "3",
     "ki67_percent": "10", "tki_therapy": "yes"},
    {"patient_id": "GIST-002", "cohort": "development", "time": "40", "event": "0",
     "ct_image": "ct/GIST-002.nii.gz", "ct_mask": "ct/GIST-002_mask.nii.gz", "wsi": "",
     "age": "71", "sex": "male", "site": "small_intestine", "tumour_size_cm": "11", "mitotic_count": "12",
     "ki67_percent": "", "tki_therapy": "no"},
    {"patient_id": "GIST-003", "cohort": "external", "time": "7", "event": "1",
     "ct_image": "", "ct_mask": "", "wsi": "slides/GIST-003.svs",
     "age": "", "sex": "", "site": "other", "tumour_size_cm": "", "mitotic_count": "",
     "ki67_percent": "", "tki_therapy": ""},
]

Edit = Callable[[list, list], None]


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """A study folder holding empty stand-ins for the files that ROWS refer to."""
    for relative in FILES:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"")
    return tmp_path


def write_manifest(folder: Path, rows: list[dict], columns: list[str] | None = None,
                   name: str = "cohort.csv") -> Path:
    """Write ``rows`` as a CSV manifest with ``columns`` (default: all keys of the first row)."""
    columns = list(rows[0]) if columns is None else columns
    path = folder / name
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[row.get(c, "") for c in columns] for row in rows])
    return path


def edited_manifest(folder: Path, edit: Edit) -> Path:
    rows, columns = [dict(r) for r in ROWS], list(ROWS[0])
    edit(rows, columns)
    return write_manifest(folder, rows, columns)


def set_cell(i: int, column: str, value: str) -> Edit:
    def edit(rows, columns):
        rows[i][column] = value
    return edit


def drop_column(name: str) -> Edit:
    def edit(rows, columns):
        columns.remove(name)
    return edit


def add_column(name: str, value: str) -> Edit:
    def edit(rows, columns):
        columns.append(name)
        for row in rows:
            row[name] = value
    return edit


def swap_columns(a: str, b: str) -> Edit:
    def edit(rows, columns):
        i, j = columns.index(a), columns.index(b)
        columns[i], columns[j] = b, a
    return edit


# ----------------------------------------------------------------------------------------------------------------
# One problem per manifest: the message names the row, patient, column, what was found and the fix.
# ----------------------------------------------------------------------------------------------------------------

CORE_LIST = "'patient_id', 'cohort', 'time', 'event', 'ct_image', 'ct_mask' and 'wsi', in this order"
TIME_FIX = "(the follow-up time); got {}. Correct the value or drop the row."
EVENT_FIX = ("Write 1 if the event was observed and 0 if the patient was censored (true/false and yes/no are not "
             "accepted)")
PATH_FIX = "Correct the path (relative paths are read from the manifest's folder)"
IMPUTED = "or leave the cell empty if it is unknown (it will be imputed)."
CATEGORY_FIX = "Use one of the allowed values (case matters), add the value to the categories in the clinical spec"

ROW_CASES = [
    pytest.param(drop_column("time"), [
        "cohort.csv, header (row 1): missing required column(s) 'time'.", CORE_LIST,
        "followed by the clinical columns of the spec ('age', 'sex',", "Add the missing column(s)",
    ], id="missing_core_column"),
    pytest.param(drop_column("ki67_percent"), [
        "cohort.csv, header (row 1): missing clinical column(s) 'ki67_percent', declared in the clinical spec.",
        "Add the column(s) (cells may be left empty", "or remove the variable(s) from the clinical spec.",
    ], id="missing_clinical_column"),
    pytest.param(swap_columns("time", "event"), [
        "cohort.csv, header (row 1): the core columns must be columns 1 to 7, in the order 'patient_id',",
        "got 'patient_id', 'cohort', 'event', 'time',", "Reorder the columns.",
    ], id="core_columns_out_of_order"),
    pytest.param(add_column("smoking", "no"), [
        "cohort.csv, header (row 1), column 'smoking' (column 15): must be a core column or a variable of the "
        "clinical spec; got a column that is neither.",
        "Add the variable to the clinical spec (see data_schemas/README.md) or drop the column.",
    ], id="unknown_column"),
    pytest.param(add_column("Age ", ""), [
        "column 'Age ' (column 15): must be a core column", "Did you mean 'age'?",
    ], id="unknown_column_close_to_known"),
    pytest.param(set_cell(1, "time", ""), [
        "cohort.csv row 3 (patient_id='GIST-002'), column 'time': must be a number > 0 "
        + TIME_FIX.format("an empty cell"),
    ], id="time_missing"),
    pytest.param(set_cell(1, "time", "-3"), [
        "cohort.csv row 3 (patient_id='GIST-002'), column 'time': must be a number > 0 " + TIME_FIX.format("'-3'"),
    ], id="time_negative"),
    pytest.param(set_cell(1, "time", "0"), [
        "row 3 (patient_id='GIST-002'), column 'time': must be a number > 0 " + TIME_FIX.format("'0'"),
    ], id="time_zero"),
    pytest.param(set_cell(1, "time", "12 months"), [
        "row 3 (patient_id='GIST-002'), column 'time': must be a number > 0 " + TIME_FIX.format("'12 months'"),
    ], id="time_not_a_number"),
    pytest.param(set_cell(1, "time", "nan"), [
        "row 3 (patient_id='GIST-002'), column 'time': must be a number > 0 " + TIME_FIX.format("'nan'"),
    ], id="time_nan_text"),
    pytest.param(set_cell(1, "time", "3,5"), [
        "column 'time': must be a number > 0 (the follow-up time); got '3,5' (write '.' as the decimal separator).",
    ], id="time_decimal_comma"),
    pytest.param(set_cell(0, "event", "true"), [
        "cohort.csv row 2 (patient_id='GIST-001'), column 'event': must be 0 or 1 (1 = event observed, "
        "0 = censored); got 'true'. " + EVENT_FIX + ", or drop the row.",
    ], id="event_true"),
    pytest.param(set_cell(0, "event", "2"), [
        "row 2 (patient_id='GIST-001'), column 'event': must be 0 or 1", "got '2'.", EVENT_FIX,
    ], id="event_two"),
    pytest.param(set_cell(0, "event", ""), [
        "row 2 (patient_id='GIST-001'), column 'event': must be 0 or 1", "got an empty cell.", EVENT_FIX,
    ], id="event_missing"),
    pytest.param(set_cell(2, "cohort", ""), [
        "cohort.csv row 4 (patient_id='GIST-003'), column 'cohort': must be a non-empty label without leading or "
        "trailing spaces (the cohort or centre label); got an empty cell. Write the patient's cohort label",
    ], id="cohort_missing"),
    pytest.param(set_cell(1, "patient_id", ""), [
        "cohort.csv row 3 (no patient_id), column 'patient_id': must be a non-empty text without leading or "
        "trailing spaces (the patient's identifier); got an empty cell. Give every patient a non-empty, unique id",
    ], id="patient_id_empty"),
    pytest.param(set_cell(1, "patient_id", "GIST-002 "), [
        "cohort.csv row 3 (patient_id='GIST-002 '), column 'patient_id': must be a non-empty text without leading "
        "or trailing spaces", "got 'GIST-002 '.",
    ], id="patient_id_trailing_space"),
    pytest.param(set_cell(2, "patient_id", "GIST-001"), [
        "cohort.csv rows 2 and 4 (patient_id='GIST-001'), column 'patient_id': must be unique (the patient's "
        "identifier); got 'GIST-001' in 2 rows. Keep one row per patient, or give each patient their own id.",
    ], id="patient_id_duplicate"),
    pytest.param(set_cell(2, "wsi", "slides/missing.svs"), [
        "cohort.csv row 4 (patient_id='GIST-003'), column 'wsi': must be an existing file (the whole-slide image); "
        "got 'slides/missing.svs' (resolved to '{root}{sep}slides{sep}missing.svs'), which does not exist. "
        + PATH_FIX + ", or leave the cell empty if the patient has no slide.",
    ], id="wsi_file_missing"),
    pytest.param(set_cell(2, "wsi", "slides/GIST-003.svs;slides/missing.svs"), [
        "cohort.csv row 4 (patient_id='GIST-003'), column 'wsi': must be an existing file (the whole-slide image); "
        "got 'slides/missing.svs' (slide 2 of 2) (resolved to '{root}{sep}slides{sep}missing.svs'), which does not "
        "exist. " + PATH_FIX + ", or leave the cell empty if the patient has no slide.",
    ], id="wsi_second_slide_missing"),
    pytest.param(set_cell(2, "wsi", "slides/GIST-003.svs; ./slides/GIST-003.svs"), [
        "cohort.csv row 4 (patient_id='GIST-003'), column 'wsi': must list each slide once (the whole-slide "
        "image); got './slides/GIST-003.svs' (slide 2 of 2), which is also slide 1. Remove the repeated path.",
    ], id="wsi_slide_listed_twice"),
    pytest.param(set_cell(0, "ct_image", "ct/GIST-001.nii.gz;ct/GIST-002.nii.gz"), [
        "cohort.csv row 2 (patient_id='GIST-001'), column 'ct_image': must be one existing file (the CT volume); "
        "got 'ct/GIST-001.nii.gz;ct/GIST-002.nii.gz', which lists several paths separated by ';'. Give one file "
        "per cell; only slide columns may list several files.",
    ], id="ct_image_list_refused"),
    pytest.param(set_cell(0, "ct_mask", "ct/nope.nii.gz"), [
        "row 2 (patient_id='GIST-001'), column 'ct_mask': must be an existing file (the tumour label volume of "
        "that CT); got 'ct/nope.nii.gz' (resolved to '{root}{sep}ct{sep}nope.nii.gz'), which does not exist.",
        "or leave both 'ct_image' and 'ct_mask' empty if the patient has no CT.",
    ], id="ct_mask_file_missing"),
    pytest.param(set_cell(1, "ct_mask", ""), [
        "cohort.csv row 3 (patient_id='GIST-002'), column 'ct_mask': must be given when 'ct_image' is (a CT needs "
        "both the image and its tumour mask); got an empty cell. Fill in 'ct_mask', or clear 'ct_image' if the "
        "patient has no CT.",
    ], id="ct_image_without_mask"),
    pytest.param(set_cell(1, "ct_image", ""), [
        "row 3 (patient_id='GIST-002'), column 'ct_image': must be given when 'ct_mask' is",
        "Fill in 'ct_image', or clear 'ct_mask' if the patient has no CT.",
    ], id="ct_mask_without_image"),
    pytest.param(set_cell(0, "sex", "M"), [
        "cohort.csv row 2 (patient_id='GIST-001'), column 'sex': must be 'female' or 'male'; got 'M'. "
        + CATEGORY_FIX + ", " + IMPUTED,
    ], id="category_unknown"),
    pytest.param(set_cell(0, "site", "Stomach"), [
        "column 'site': must be one of 'stomach', 'small_intestine', 'colorectum' or 'other'; got 'Stomach'.",
    ], id="category_wrong_case"),
    pytest.param(set_cell(0, "tki_therapy", "true"), [
        "column 'tki_therapy': must be 'yes' or 'no'; got 'true'.",
    ], id="category_boolean_text"),
    pytest.param(set_cell(1, "age", "150"), [
        "cohort.csv row 3 (patient_id='GIST-002'), column 'age': must be a number between 0 and 120 (years); "
        "got '150'. Correct the value, " + IMPUTED,
    ], id="number_above_maximum"),
    pytest.param(set_cell(1, "ki67_percent", "-1"), [
        "column 'ki67_percent': must be a number between 0 and 100 (%); got '-1'.",
    ], id="number_below_minimum"),
    pytest.param(set_cell(1, "tumour_size_cm", "0"), [
        "column 'tumour_size_cm': must be a number > 0 (cm); got '0'.",
    ], id="number_at_exclusive_minimum"),
    pytest.param(set_cell(1, "age", "NA"), [
        "column 'age': must be a number between 0 and 120 (years); got 'NA'.", IMPUTED,
    ], id="number_na_text"),
    pytest.param(set_cell(1, "mitotic_count", "3.5"), [
        "cohort.csv row 3 (patient_id='GIST-002'), column 'mitotic_count': must be an integer >= 0 "
        "(mitoses per 5 mm^2); got '3.5'. Correct the value, " + IMPUTED,
    ], id="integer_expected"),
]


@pytest.mark.parametrize("edit, fragments", ROW_CASES)
def test_validate_manifest_reports_problem(study, edit, fragments):
    path = edited_manifest(study, edit)
    problems = validate_manifest(path)
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment.format(root=study, sep=os.sep) in problems[0]


@pytest.mark.parametrize("edit, fragments", ROW_CASES)
def test_load_manifest_raises_every_problem(study, edit, fragments):
    path = edited_manifest(study, edit)
    with pytest.raises(ManifestError, match=re.escape(fragments[0].format(root=study, sep=os.sep))) as info:
        load_manifest(path)
    assert info.value.problems == validate_manifest(path)
    assert info.value.source == str(path)


def test_validate_manifest_reports_every_problem_at_once(study):
    rows = [dict(r) for r in ROWS]
    rows[0].update(event="yes", age="130")
    rows[1].update(time="-3", ct_mask="", sex="F")
    rows[2].update(patient_id="GIST-001", wsi="slides/none.svs", mitotic_count="2.5")
    columns = [*ROWS[0], "notes"]
    path = write_manifest(study, rows, columns)

    problems = validate_manifest(path)

    expected_starts = [
        "cohort.csv, header (row 1), column 'notes' (column 15): must be a core column",
        "cohort.csv row 2 (patient_id='GIST-001'), column 'event': must be 0 or 1",
        "cohort.csv row 2 (patient_id='GIST-001'), column 'age': must be a number between 0 and 120",
        "cohort.csv row 3 (patient_id='GIST-002'), column 'time': must be a number > 0",
        "cohort.csv row 3 (patient_id='GIST-002'), column 'ct_mask': must be given when 'ct_image' is",
        "cohort.csv row 3 (patient_id='GIST-002'), column 'sex': must be 'female' or 'male'",
        "cohort.csv row 4 (patient_id='GIST-001'), column 'wsi': must be an existing file",
        "cohort.csv row 4 (patient_id='GIST-001'), column 'mitotic_count': must be an integer >= 0",
        "cohort.csv rows 2 and 4 (patient_id='GIST-001'), column 'patient_id': must be unique",
    ]
    assert len(problems) == len(expected_starts), problems
    for problem, start in zip(problems, expected_starts):
        assert problem.startswith(start)
    with pytest.raises(ManifestError, match=r"^9 problem\(s\) found in .*cohort\.csv:") as info:
        load_manifest(path)
    assert info.value.problems == problems


# ----------------------------------------------------------------------------------------------------------------
# Problems with the file itself
# ----------------------------------------------------------------------------------------------------------------

HEADER = ",".join([*CORE_COLUMNS, *GIST_COLUMNS])
FILE_CASES = [
    pytest.param(b"", "cohort.csv is empty: it has no header row. Write the header (patient_id, cohort, time,",
                 id="empty_file"),
    pytest.param(b"\n\n", "cohort.csv is empty: it has no header row.", id="blank_lines_only"),
    pytest.param((HEADER + "\n").encode(),
                 "cohort.csv has no patient rows, only a header. Add one row per patient below the header.",
                 id="header_only"),
    pytest.param((HEADER + "\n,,,,,,,,,,,,,\n").encode(), "cohort.csv has no patient rows, only a header.",
                 id="header_and_empty_row"),
    pytest.param(b"PK\x03\x04\x14\x00\x06\x00", "cohort.csv is not a readable CSV file: it looks like a spreadsheet "
                 "workbook (Excel or similar). Save the sheet as 'CSV UTF-8 (comma delimited)'", id="excel_workbook"),
    pytest.param((HEADER + "\nGIST-001,development,12,1,,,,63,f\xe9minin,,,,,\n").encode("latin-1"),
                 "cohort.csv is not a readable CSV file: line 2 is not UTF-8 text (byte 0xe9, invalid continuation "
                 "byte). Save the file as 'CSV UTF-8', or convert it", id="not_utf8"),
    pytest.param((HEADER + "\nGIST-001,development,12,1,,,,63,female,stomach,5,2,1,yes,extra\n").encode(),
                 "cohort.csv row 2: must have 14 fields like the header; got 15. Quote values that contain commas",
                 id="row_with_extra_field"),
    pytest.param(b'patient_id,cohort\n"GIST-001,development\n',
                 "cohort.csv is not a readable CSV file (", id="unclosed_quote"),
    pytest.param(";".join([*CORE_COLUMNS, *GIST_COLUMNS]).encode() + b"\nGIST-001;development;12;1\n",
                 "cohort.csv, header (row 1): must be comma-separated; got the single column 'patient_id;cohort;"
                 "time;event;ct_image;ct...', which seems to use ';' between values. Save the file with commas",
                 id="semicolon_separated"),
    pytest.param("\t".join(CORE_COLUMNS).encode() + b"\n", "which seems to use tabs between values.",
                 id="tab_separated"),
    pytest.param((HEADER + ",age\n").encode(), "cohort.csv, header (row 1), column 'age': must appear once; got it "
                 "2 times (columns 8 and 15). Keep one of them.", id="duplicated_column"),
    pytest.param((HEADER + ",\nGIST-001,development,12,1,,,,,,,,,,,oops\n").encode(),
                 "cohort.csv, header (row 1), column 15: must have a name; got an empty header above cells with "
                 "values. Name the column, or delete it.", id="unnamed_column_with_values"),
]


@pytest.mark.parametrize("content, fragment", FILE_CASES)
def test_validate_manifest_reports_file_problem(tmp_path, content, fragment):
    path = tmp_path / "cohort.csv"
    path.write_bytes(content)
    problems = validate_manifest(path)
    assert any(fragment in p for p in problems), problems
    with pytest.raises(ManifestError, match=re.escape(fragment)):
        load_manifest(path)


def test_validate_manifest_reports_missing_file(tmp_path):
    problems = validate_manifest(tmp_path / "nope.csv")
    assert problems == [f"nope.csv does not exist (looked for '{tmp_path / 'nope.csv'}'). Check the path to the "
                        "manifest."]


def test_validate_manifest_reports_folder(tmp_path):
    (tmp_path / "cohort.csv").mkdir()
    assert validate_manifest(tmp_path / "cohort.csv")[0].startswith("cohort.csv is a folder, not a CSV file")


# ----------------------------------------------------------------------------------------------------------------
# Valid manifests
# ----------------------------------------------------------------------------------------------------------------


def test_load_manifest_types_and_paths(study):
    path = write_manifest(study, ROWS)

    cohort = load_manifest(path)

    assert isinstance(cohort, Cohort)
    assert validate_manifest(path) == []
    table = cohort.table
    assert cohort.ids == ["GIST-001", "GIST-002", "GIST-003"]
    assert table.index.name == "patient_id"
    assert list(table.columns) == [*CORE_COLUMNS[1:], *GIST_COLUMNS]
    assert cohort.clinical_columns == tuple(GIST_COLUMNS)
    assert cohort.clinical_spec == load_clinical_spec()
    assert cohort.source == path and cohort.source.is_absolute()
    assert table["time"].dtype == np.float64 and table["time"].tolist() == [12.5, 40.0, 7.0]
    assert table["event"].dtype == bool and table["event"].tolist() == [True, False, True]
    assert table["cohort"].tolist() == ["development", "development", "external"]
    assert table.loc["GIST-001", "ct_image"] == str(study / "ct" / "GIST-001.nii.gz")
    assert table.loc["GIST-001", "wsi"] == str(study / "slides" / "GIST-001.svs")
    assert table.loc["GIST-002", "wsi"] is None
    assert table.loc["GIST-003", "ct_image"] is None and table.loc["GIST-003", "ct_mask"] is None
    for name in ("age", "tumour_size_cm", "mitotic_count", "ki67_percent"):
        assert table[name].dtype == np.float64, name
    assert table.loc["GIST-002", "mitotic_count"] == 12.0
    assert np.isnan(table.loc["GIST-003", "age"])
    for name in ("sex", "site", "tki_therapy"):
        assert table[name].dtype == object, name
    assert table.loc["GIST-001", "sex"] == "female"
    assert np.isnan(table.loc["GIST-003", "sex"])
    assert cohort.has_ct.tolist() == [True, True, False]
    assert cohort.has_wsi.tolist() == [True, False, True]
    np.testing.assert_array_equal(cohort.y["time"], [12.5, 40.0, 7.0])


def test_load_manifest_resolves_paths_from_the_manifest_folder(study, monkeypatch):
    """Relative paths are read from the manifest's folder, whatever the working directory."""
    (study / "manifests").mkdir()
    rows = [dict(r) for r in ROWS]
    rows[0].update(ct_image="../ct/GIST-001.nii.gz", ct_mask="../ct/GIST-001_mask.nii.gz",
                   wsi=str(study / "slides" / "GIST-001.svs"))
    for row in rows[1:]:
        for name in ("ct_image", "ct_mask", "wsi"):
            row[name] = "../" + row[name] if row[name] else ""
    path = write_manifest(study / "manifests", rows)
    elsewhere = study / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    cohort = load_manifest(os.path.relpath(path, elsewhere))

    assert cohort.table.loc["GIST-001", "ct_image"] == str(study / "ct" / "GIST-001.nii.gz")
    assert cohort.table.loc["GIST-001", "wsi"] == str(study / "slides" / "GIST-001.svs")
    assert cohort.table.loc["GIST-003", "wsi"] == str(study / "slides" / "GIST-003.svs")
    assert cohort.source == path


def test_load_manifest_reads_several_slides_per_patient(study):
    """A slide cell may list several slides separated by ';': each resolved from the manifest's folder."""
    (study / "slides" / "GIST-001_B.svs").write_bytes(b"")
    rows = [dict(r) for r in ROWS]
    rows[0]["wsi"] = f"slides/GIST-001.svs; {study / 'slides' / 'GIST-001_B.svs'};"  # spaces, a trailing ';'
    path = write_manifest(study, rows)
    assert validate_manifest(path) == []
    cohort = load_manifest(path)
    assert cohort.table.loc["GIST-001", "wsi"] == (f"{study / 'slides' / 'GIST-001.svs'};"
                                                   f"{study / 'slides' / 'GIST-001_B.svs'}")
    assert cohort.table.loc["GIST-003", "wsi"] == str(study / "slides" / "GIST-003.svs")
    counts = cohort.slide_counts()
    assert counts.counts.to_dict() == {"GIST-001": 2, "GIST-003": 1}
    assert counts.sentence() == "slides per patient ('wsi'): median 1.5 (1-2); 1 of 2 patients with more than one"


def test_load_manifest_expands_home(study, monkeypatch):
    monkeypatch.setenv("HOME", str(study))
    rows = [dict(r) for r in ROWS]
    rows[2]["wsi"] = "~/slides/GIST-003.svs"
    cohort = load_manifest(write_manifest(study, rows))
    assert cohort.table.loc["GIST-003", "wsi"] == str(study / "slides" / "GIST-003.svs")


def test_load_manifest_skips_blank_rows_and_keeps_row_numbers(study):
    path = write_manifest(study, ROWS)
    lines = path.read_text().splitlines()
    lines[2:2] = ["", ",,,,,,,,,,,,,"]  # rows 3 and 4 are empty, so GIST-002 is now row 5
    path.write_text("\n".join(lines) + "\n")
    assert load_manifest(path).ids == ["GIST-001", "GIST-002", "GIST-003"]

    path.write_text(path.read_text().replace("GIST-002,development,40,", "GIST-002,development,-40,"))
    assert validate_manifest(path)[0].startswith("cohort.csv row 5 (patient_id='GIST-002'), column 'time'")


def test_load_manifest_accepts_excel_bom_and_integral_event(study):
    rows = [dict(r) for r in ROWS]
    rows[0]["event"], rows[0]["mitotic_count"] = "1.0", "3.0"
    path = write_manifest(study, rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    cohort = load_manifest(path)
    assert cohort.table["event"].tolist() == [True, False, True]
    assert cohort.table.loc["GIST-001", "mitotic_count"] == 3.0


def test_load_manifest_with_custom_spec(study):
    spec = {"grade": {"type": "categorical", "categories": ["1", "2", "3"], "required": True}}
    rows = [{**{c: r[c] for c in CORE_COLUMNS}, "grade": g} for r, g in zip(ROWS, ["1", "3", ""])]
    path = write_manifest(study, rows)

    problems = validate_manifest(path, clinical_spec=spec)

    assert problems == [
        "cohort.csv row 4 (patient_id='GIST-003'), column 'grade': must be one of '1', '2' or '3'; got an empty "
        "cell. Use one of the allowed values (case matters), add the value to the categories in the clinical spec, "
        "or drop the row (this variable is required)."
    ]
    rows[2]["grade"] = "2"
    cohort = load_manifest(write_manifest(study, rows), clinical_spec=spec)
    assert cohort.clinical_columns == ("grade",)
    assert cohort.table["grade"].tolist() == ["1", "3", "2"]
    assert cohort.clinical_spec["grade"]["required"] is True


def test_load_manifest_without_clinical_columns(study):
    path = write_manifest(study, [{c: r[c] for c in CORE_COLUMNS} for r in ROWS])
    cohort = load_manifest(path, clinical_spec={})
    assert cohort.clinical_columns == () and cohort.clinical.shape == (3, 0)
    # The same manifest under the GIST spec lacks the clinical columns.
    assert validate_manifest(path)[0].startswith("cohort.csv, header (row 1): missing clinical column(s) 'age',")


def test_bad_clinical_spec_is_reported_before_the_manifest(study, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("schema: clinical_variables.v1\nvariables:\n  - name: age\n    type: float\n")
    path = write_manifest(study, ROWS)
    problems = validate_manifest(path, clinical_spec=spec)
    assert problems == [
        "spec.yaml, variable 1 ('age'), key 'type': must be one of 'numeric', 'integer' or 'categorical'; got "
        "'float'. Use 'numeric' for measurements, 'integer' for counts and 'categorical' for labels."
    ]
    with pytest.raises(ManifestError, match=re.escape(f"1 problem(s) found in {spec}:")):
        load_manifest(path, clinical_spec=spec)


def test_format_problems():
    assert format_problems(["a.", "b."], Path("cohort.csv")) == (
        "2 problem(s) found in cohort.csv:\n  - a.\n  - b."
    )
    assert format_problems([]) == "No problems found."
    assert format_problems(["a.", "b.", "c."], "cohort.csv", limit=2) == (
        "3 problem(s) found in cohort.csv:\n  - a.\n  - b.\n  ... and 1 more."
    )
    assert format_problems(["a."], limit=1) == "1 problem(s) found:\n  - a."
