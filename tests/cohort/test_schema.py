"""Tests of multisurv.cohort.schema: the row schema, the clinical spec and the check of a manifest table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from jsonschema import Draft202012Validator

from multisurv.cohort.cohort import CORE_COLUMNS
from multisurv.cohort.schema import (
    DEMO_CLINICAL_SPEC_FILE,
    MANIFEST_SCHEMA_FILE,
    check_manifest_frame,
    load_clinical_spec,
    row_schema,
    schemas_dir,
)
from multisurv.exceptions import ManifestError

GIST_VARIABLES = ["age", "sex", "site", "tumour_size_cm", "mitotic_count", "ki67_percent", "tki_therapy"]


def test_schemas_dir_holds_the_schema_files():
    assert (schemas_dir() / MANIFEST_SCHEMA_FILE).is_file()
    assert (schemas_dir() / DEMO_CLINICAL_SPEC_FILE).is_file()
    assert (schemas_dir() / "README.md").is_file()


def test_core_schema_is_a_valid_draft_2020_12_schema_of_the_core_columns():
    schema = json.loads((schemas_dir() / MANIFEST_SCHEMA_FILE).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert tuple(schema["properties"]) == CORE_COLUMNS
    assert tuple(schema["required"]) == CORE_COLUMNS
    for name, prop in schema["properties"].items():
        assert prop["description"] and prop["x-fix"].endswith("."), name
        assert prop["title"], name


def test_row_schema_adds_one_property_per_clinical_variable():
    spec = load_clinical_spec()
    schema = row_schema(spec)

    Draft202012Validator.check_schema(schema)
    assert list(schema["properties"]) == [*CORE_COLUMNS, *GIST_VARIABLES]
    assert schema["required"] == [*CORE_COLUMNS, *GIST_VARIABLES]
    props = schema["properties"]
    assert props["age"] | {"x-fix": ""} == {
        "title": "years", "description": "Age at diagnosis.", "type": ["number", "null"], "minimum": 0,
        "maximum": 120, "x-fix": "",
    }
    assert props["sex"]["type"] == ["string", "null"] and props["sex"]["enum"] == ["female", "male", None]
    assert props["tumour_size_cm"]["exclusiveMinimum"] == 0 and "minimum" not in props["tumour_size_cm"]
    assert props["mitotic_count"]["type"] == ["integer", "null"]
    # Every call builds a new schema: changing one does not change the next.
    schema["properties"]["time"]["exclusiveMinimum"] = 100
    assert row_schema(spec)["properties"]["time"]["exclusiveMinimum"] == 0


def test_row_schema_validates_a_typed_row():
    validator = Draft202012Validator(row_schema(load_clinical_spec()))
    row = {"patient_id": "GIST-001", "cohort": "development", "time": 12.5, "event": 1, "ct_image": None,
           "ct_mask": None, "wsi": "slides/a.svs", "age": 63, "sex": "female", "site": None,
           "tumour_size_cm": 5.2, "mitotic_count": 3, "ki67_percent": None, "tki_therapy": "no"}
    assert list(validator.iter_errors(row)) == []
    bad = {**row, "time": -1, "event": 2, "sex": "M", "mitotic_count": 2.5}
    assert sorted(e.absolute_path[0] for e in validator.iter_errors(bad)) == ["event", "mitotic_count", "sex", "time"]


def test_required_variable_does_not_allow_empty_cells():
    spec = load_clinical_spec({"stage": {"type": "integer", "minimum": 1, "maximum": 4, "required": True}})
    prop = row_schema(spec)["properties"]["stage"]
    assert prop["type"] == "integer"
    assert prop["x-fix"] == "Correct the value, or drop the row (this variable is required)."


def test_load_clinical_spec_default_is_the_gist_spec():
    spec = load_clinical_spec()
    assert list(spec) == GIST_VARIABLES
    assert spec["age"] == {
        "name": "age", "type": "numeric", "unit": "years", "minimum": 0, "maximum": 120, "exclusive_minimum": None,
        "exclusive_maximum": None, "categories": None, "required": False, "description": "Age at diagnosis.",
    }
    assert spec["sex"]["categories"] == ["female", "male"]
    assert spec["site"]["categories"] == ["stomach", "small_intestine", "colorectum", "other"]
    assert spec["tki_therapy"]["categories"] == ["yes", "no"]  # quoted in the YAML, so not booleans
    assert spec["mitotic_count"]["type"] == "integer" and spec["mitotic_count"]["minimum"] == 0
    assert spec["ki67_percent"]["unit"] == "%"
    assert not any(var["required"] for var in spec.values())


def test_load_clinical_spec_accepts_its_own_output_and_a_parsed_document():
    spec = load_clinical_spec()
    assert load_clinical_spec(spec) == spec
    document = {"schema": "clinical_variables.v1", "variables": [{"name": "ecog", "type": "integer"}]}
    assert load_clinical_spec(document)["ecog"]["required"] is False


def test_load_clinical_spec_from_a_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("schema: clinical_variables.v1\nvariables:\n  - name: grade\n    type: categorical\n"
                    "    categories: ['G1', 'G2', 'G3']\n    required: true\n")
    assert load_clinical_spec(path)["grade"]["categories"] == ["G1", "G2", "G3"]
    path.write_text("schema: clinical_variables.v1\nvariables: []\n")
    assert load_clinical_spec(str(path)) == {}


# ----------------------------------------------------------------------------------------------------------------
# Bad clinical specs: one problem each; the message names the file, the variable, the key and the fix.
# ----------------------------------------------------------------------------------------------------------------

HEAD = "schema: clinical_variables.v1\nvariables:\n"
SPEC_CASES = [
    pytest.param("", "spec.yaml: must be a YAML mapping with the keys 'schema' and 'variables'; got nothing. "
                 "Start from clinical_gist.v1.yaml", id="empty_file"),
    pytest.param("- name: age\n", "spec.yaml: must be a YAML mapping with the keys 'schema' and 'variables'; got list.",
                 id="top_level_list"),
    pytest.param("schema: clinical_variables.v1\nvariables: [\n",
                 "spec.yaml is not valid YAML at line 3, column 1:", id="yaml_syntax"),
    pytest.param("schema: clinical_variables.v2\nvariables: []\n",
                 "spec.yaml, key 'schema': must be 'clinical_variables.v1' (the spec format); got "
                 "'clinical_variables.v2'. Write 'schema: clinical_variables.v1' at the top of the file.",
                 id="wrong_format_version"),
    pytest.param("schema: clinical_variables.v1\n", "spec.yaml: key(s) 'variables' missing. Add them.",
                 id="variables_missing"),
    pytest.param("schema: clinical_variables.v1\nvariables:\n  age: numeric\n",
                 "spec.yaml, key 'variables': must be a list of variables; got {\"age\": \"numeric\"}. List the "
                 "variables as YAML items ('- name: age')", id="variables_not_a_list"),
    pytest.param(HEAD + "  - age\n", "spec.yaml, variable 1: must be a mapping of keys (key: value); got 'age'.",
                 id="variable_not_a_mapping"),
    pytest.param(HEAD + "  - name: age\n", "spec.yaml, variable 1 ('age'): key(s) 'type' missing. Add them.",
                 id="type_missing"),
    pytest.param(HEAD + "  - name: age\n    type: float\n",
                 "spec.yaml, variable 1 ('age'), key 'type': must be one of 'numeric', 'integer' or 'categorical'; "
                 "got 'float'. Use 'numeric' for measurements", id="type_unknown"),
    pytest.param(HEAD + "  - name: age\n    type: numeric\n    minimun: 0\n",
                 "spec.yaml, variable 1 ('age'): unknown key(s) 'minimun'. Known keys: 'name', 'type', 'unit', "
                 "'minimum',", id="key_misspelt"),
    pytest.param(HEAD + "  - name: tumour size\n    type: numeric\n",
                 "spec.yaml, variable 1 ('tumour size'), key 'name': must be a column name made of letters, "
                 "digits and '_', starting with a letter (the header of the manifest column); got 'tumour size'.",
                 id="name_with_space"),
    pytest.param(HEAD + "  - name: time\n    type: numeric\n",
                 "spec.yaml, variable 1 ('time'), key 'name': must not be a core manifest column ('patient_id', "
                 "'cohort', 'time', 'event', 'ct_image', 'ct_mask' and 'wsi'); got 'time'. Rename the variable",
                 id="name_is_core_column"),
    pytest.param(HEAD + "  - name: age\n    type: numeric\n  - name: age\n    type: integer\n",
                 "spec.yaml, variables 1 and 2: both are named 'age'. Give each variable its own name",
                 id="name_duplicated"),
    pytest.param(HEAD + "  - name: tki\n    type: categorical\n    categories: [yes, no]\n",
                 "spec.yaml, variable 1 ('tki'), key 'categories': must be a non-empty list of distinct, non-empty "
                 "texts; got [true, false]. List each allowed value once and quote every one (write \"yes\", not "
                 "yes: YAML reads unquoted yes/no/on/off as true/false", id="categories_unquoted_yes_no"),
    pytest.param(HEAD + "  - name: sex\n    type: categorical\n    categories: []\n",
                 "key 'categories': must be a non-empty list of distinct, non-empty texts; got [].",
                 id="categories_empty"),
    pytest.param(HEAD + "  - name: sex\n    type: categorical\n    categories: ['f', 'f']\n",
                 "got [\"f\", \"f\"]. List each allowed value once", id="categories_repeated"),
    pytest.param(HEAD + "  - name: sex\n    type: categorical\n",
                 "spec.yaml, variable 1 ('sex'), key 'categories': must be given for a categorical variable; got "
                 "nothing. List the allowed values", id="categories_missing"),
    pytest.param(HEAD + "  - name: age\n    type: numeric\n    categories: ['1']\n",
                 "spec.yaml, variable 1 ('age'), key 'categories': must not be given for a numeric variable. Remove "
                 "the categories, or make the variable 'categorical'.", id="categories_on_numeric"),
    pytest.param(HEAD + "  - name: sex\n    type: categorical\n    categories: ['f']\n    minimum: 0\n",
                 "spec.yaml, variable 1 ('sex'), key 'minimum': must not be given for a categorical variable.",
                 id="bound_on_categorical"),
    pytest.param(HEAD + "  - name: age\n    type: numeric\n    minimum: '0'\n",
                 "spec.yaml, variable 1 ('age'), key 'minimum': must be a number; got '0'. Write a number, or "
                 "remove the key if there is no bound.", id="bound_not_a_number"),
    pytest.param(HEAD + "  - name: age\n    type: numeric\n    minimum: 120\n    maximum: 0\n",
                 "spec.yaml, variable 1 ('age'): the lower bound (120) must be below the upper bound (0). Correct "
                 "the bounds.", id="bounds_crossed"),
    pytest.param(HEAD + "  - name: size\n    type: numeric\n    minimum: 0\n    exclusive_minimum: 0\n",
                 "spec.yaml, variable 1 ('size'), keys 'minimum' and 'exclusive_minimum': must not both be given. "
                 "Keep one of them.", id="both_minimums"),
    pytest.param(HEAD + "  - name: age\n    type: numeric\n    required: maybe\n",
                 "spec.yaml, variable 1 ('age'), key 'required': must be true or false; got 'maybe'.",
                 id="required_not_boolean"),
]


@pytest.mark.parametrize("text, fragment", SPEC_CASES)
def test_load_clinical_spec_reports_problem(tmp_path, text, fragment):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError, match=re.escape(fragment)) as info:
        load_clinical_spec(path)
    assert len(info.value.problems) == 1, info.value.problems
    assert info.value.source == str(path)


def test_load_clinical_spec_reports_every_problem_at_once(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + "  - name: age\n    type: float\n  - name: sex\n    type: categorical\n"
                    "    categories: [yes, no]\n    colour: red\n  - type: numeric\n")
    with pytest.raises(ManifestError) as info:
        load_clinical_spec(path)
    problems = info.value.problems
    assert len(problems) == 4, problems
    assert any(p.startswith("spec.yaml, variable 1 ('age'), key 'type'") for p in problems)
    assert any(p.startswith("spec.yaml, variable 2 ('sex'), key 'categories'") for p in problems)
    assert any(p.startswith("spec.yaml, variable 2 ('sex'): unknown key(s) 'colour'") for p in problems)
    assert any(p.startswith("spec.yaml, variable 3: key(s) 'name' missing") for p in problems)


def test_load_clinical_spec_reports_missing_file(tmp_path):
    with pytest.raises(ManifestError, match=re.escape("nope.yaml does not exist (looked for '")):
        load_clinical_spec(tmp_path / "nope.yaml")


def test_load_clinical_spec_checks_a_mapping():
    with pytest.raises(ManifestError, match=re.escape(
            "clinical spec, variable 1 ('age'), key 'type': must be one of 'numeric', 'integer' or 'categorical'")):
        load_clinical_spec({"age": {"type": "number"}})


# ----------------------------------------------------------------------------------------------------------------
# check_manifest_frame on a DataFrame
# ----------------------------------------------------------------------------------------------------------------


def test_check_manifest_frame_numbers_rows_from_two_and_treats_nan_as_empty(tmp_path):
    (tmp_path / "a.svs").write_bytes(b"")
    frame = pd.DataFrame({
        "patient_id": ["P1", "P2", None], "cohort": ["development", "external", np.nan],
        "time": ["5", np.nan, None], "event": [1, "0", None], "ct_image": [np.nan] * 3, "ct_mask": [None] * 3,
        "wsi": ["a.svs", "b.svs", None],
    })
    problems = check_manifest_frame(frame, clinical_spec={}, base_dir=tmp_path, source="study.csv")
    assert problems == [
        "study.csv row 3 (patient_id='P2'), column 'time': must be a number > 0 (the follow-up time); got an empty "
        "cell. Correct the value or drop the row.",
        f"study.csv row 3 (patient_id='P2'), column 'wsi': must be an existing file (the whole-slide image); got "
        f"'b.svs' (resolved to '{tmp_path / 'b.svs'}'), which does not exist. Correct the path (relative paths are "
        "read from the manifest's folder), or leave the cell empty if the patient has no slide.",
    ]


def test_check_manifest_frame_shows_absolute_paths_once(tmp_path):
    missing = tmp_path / "missing.svs"
    frame = pd.DataFrame({"patient_id": ["P1"], "cohort": ["development"], "time": ["5"], "event": ["1"],
                          "ct_image": [""], "ct_mask": [""], "wsi": [str(missing)]})
    problems = check_manifest_frame(frame, clinical_spec={}, base_dir=Path("/elsewhere"))
    assert problems == [
        f"manifest.csv row 2 (patient_id='P1'), column 'wsi': must be an existing file (the whole-slide image); "
        f"got '{missing}', which does not exist. Correct the path (relative paths are read from the manifest's "
        "folder), or leave the cell empty if the patient has no slide."
    ]


def test_check_manifest_frame_empty_frame():
    frame = pd.DataFrame(columns=list(CORE_COLUMNS))
    assert check_manifest_frame(frame, clinical_spec={}, base_dir=".") == [
        "manifest.csv has no patient rows, only a header. Add one row per patient below the header."
    ]
