"""Every entry point that reads a manifest or feature table refuses what ``validate`` refuses, in the house form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from multisurv.cli import main
from multisurv.cli_model import ConfigError, load_model_config
from multisurv.cohort.outcomes import (check_ids, parse_event, parse_time, read_csv_table, read_feature_table,
                                       read_outcome_table)
from multisurv.exceptions import ManifestError

pytestmark = pytest.mark.filterwarnings("ignore::multisurv.exceptions.ConvergenceWarning")


def _study(root, n=60, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    x = rng.normal(size=n)
    manifest = pd.DataFrame({"patient_id": ids, "time": np.round(rng.exponential(np.exp(-x)) * 100 + 1, 1),
                             "event": (rng.random(n) < 0.7).astype(int), "age": rng.normal(60, 8, n).round(),
                             "sex": rng.choice(["female", "male"], n)})
    features = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"ct__f{i}" for i in range(4)])
    features["ct__f0"] = x + 0.3 * features["ct__f0"]
    features.insert(0, "patient_id", ids)
    manifest.to_csv(root / "manifest.csv", index=False)
    features.to_csv(root / "radiomics.csv", index=False)
    config = {"schema": "model_config.v1", "manifest": "manifest.csv", "features": ["radiomics.csv"],
              "clinical": {"numeric": ["age"], "categorical": ["sex"]},
              "modalities": [{"name": "radscore", "prefix": "ct__", "selector": [{"lasso": {"alpha": 0.05}}]},
                             {"name": "clinscore", "prefix": "clin__", "selector": [{"lasso": {"alpha": 0.05}}]}],
              "fusion": {"strategy": "late", "cv": 3}, "seed": 0}
    (root / "model.yaml").write_text(yaml.safe_dump(config))
    return manifest, features


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("outcomes")
    manifest, features = _study(root)
    assert main(["fit", str(root / "model.yaml"), "--out", str(root / "model")]) == 0
    return root, manifest, features


def _fit_with(tmp_path, capsys, edit) -> str:
    manifest, _ = _study(tmp_path)
    edit(manifest)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    code = main(["fit", str(tmp_path / "model.yaml"), "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and not (tmp_path / "m").exists()
    return err


def test_parsers_follow_the_manifest_schema():
    event, problems = parse_event(pd.Series(["1", "0", "true", "2", "1.0"]), source="m.csv")
    assert event.tolist() == [True, False, False, False, False] and len(problems) == 3  # 0/1 only, as validate
    time, problems = parse_time(pd.Series(["3", "0", "-1", "x", "inf", ""]), source="m.csv")
    assert time[0] == 3.0 and len(problems) == 5
    assert check_ids(pd.Series(["a", "b"]), source="m.csv") == []


@pytest.mark.parametrize("edit,match", [
    (lambda m: m.__setitem__("event", m["event"].where(m.index != 4, 2)),
     r"manifest.csv row 6 \(patient_id='P004'\), column 'event': must be 1 \(event\) or 0 \(censored\); got '2'"),
    (lambda m: m.__setitem__("patient_id", m["patient_id"].where(m.index != 7, "P003")),
     r"manifest.csv rows 5, 9, column 'patient_id': must be unique; got 'P003' 2 times"),
    (lambda m: m.__setitem__("time", m["time"].astype(object).where(m.index != 2, "-3")),
     r"row 4 \(patient_id='P002'\), column 'time': must be a number > 0; got '-3'"),
    (lambda m: m.__setitem__("time", m["time"].astype(object).where(m.index != 2, "soon")),
     r"row 4 \(patient_id='P002'\), column 'time': must be a number > 0; got 'soon'"),
], ids=["event_2", "duplicate_id", "negative_time", "text_time"])
def test_fit_refuses_what_validate_refuses(tmp_path, capsys, edit, match):
    err = _fit_with(tmp_path, capsys, edit)
    assert pytest.importorskip("re").search(match, err), err


def test_fit_lists_every_problem_at_once(tmp_path, capsys):
    def edit(m):
        m.loc[1, "event"] = 2
        m.loc[2, "event"] = 3
        m.loc[3, "patient_id"] = "P000"
    err = _fit_with(tmp_path, capsys, edit)
    assert "3 problem(s) found" in err and "got '2'" in err and "got '3'" in err and "must be unique" in err


def test_predict_refuses_ids_that_match_no_feature_row(fitted, tmp_path, capsys):
    root, manifest, features = fitted
    other = features.assign(patient_id=[str(i) for i in range(len(features))])  # ids written differently
    other.to_csv(tmp_path / "radiomics.csv", index=False)
    code = main(["predict", str(root / "model" / "model"), str(root / "manifest.csv"), "--features",
                 str(tmp_path / "radiomics.csv"), "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "radiomics.csv: no patient_id matches one of manifest.csv (its ids look like '0'" in err
    assert not (tmp_path / "s.csv").exists()


def test_predict_refuses_unknown_categories_and_duplicates(fitted, tmp_path, capsys):
    root, manifest, _ = fitted
    bad = manifest.copy()
    bad.loc[5, "sex"] = "M"
    bad.loc[6, "patient_id"] = "P000"
    bad.to_csv(tmp_path / "new.csv", index=False)
    args = ["predict", str(root / "model" / "model"), str(tmp_path / "new.csv"), "--features",
            str(root / "radiomics.csv"),
            "--out", str(tmp_path / "s.csv")]
    assert main(args) == 2
    assert "new.csv rows 2, 8, column 'patient_id': must be unique" in capsys.readouterr().err
    bad.loc[6, "patient_id"] = "P006"
    bad.to_csv(tmp_path / "new.csv", index=False)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert ("new.csv row 7 (patient_id='P005'), column 'sex': must be one of 'female', 'male' (the levels the model "
            "was fitted on) or empty; got 'M'") in err
    bad.loc[5, "sex"] = ""  # empty is imputed: accepted
    bad.to_csv(tmp_path / "new.csv", index=False)
    assert main(args) == 0


@pytest.mark.parametrize("content,match", [
    (b"", r"m.csv is empty: it has no header row"),
    (b"patient_id,ct_image,ct_mask\nP1,a\xe9.nrrd,b.nrrd\n", r"m.csv, line 2: must be UTF-8 text; got the byte 0xe9"),
    (b"PK\x03\x04rest", r"must be a CSV text file; got a spreadsheet workbook"),
], ids=["empty", "latin1", "xlsx"])
def test_unreadable_tables_in_the_house_form(tmp_path, capsys, content, match):
    path = tmp_path / "m.csv"
    path.write_bytes(content)
    with pytest.raises(ManifestError, match=match):
        read_csv_table(path)
    with pytest.raises(ManifestError, match=match):
        read_outcome_table(path)
    with pytest.raises(ManifestError, match=match):
        read_feature_table(path)
    from multisurv.features.cases import load_cases

    with pytest.raises(ManifestError, match=match):  # what 'multisurv extract' reads
        load_cases(path, roles=("ct_image", "ct_mask"))


def test_feature_table_cells_must_be_numbers(tmp_path):
    (tmp_path / "f.csv").write_text("patient_id,ct__a,ct__b\nP1,1.5,\nP2,oops,2\n")
    with pytest.raises(ManifestError, match=r"f.csv row 3 \(patient_id='P2'\), column 'ct__a': must be a number "
                                            r"\(or empty\); got 'oops'"):
        read_feature_table(tmp_path / "f.csv")


def test_duplicate_selector_steps_are_a_config_problem(tmp_path):
    _study(tmp_path)
    config = yaml.safe_load((tmp_path / "model.yaml").read_text())
    config["modalities"][0]["selector"] = [{"lasso": {"cv": 3}}, {"lasso": {}}, {"nope": {}}]
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"2 problem\(s\)[\s\S]*selector step 'lasso' is listed 2 times[\s\S]*"
                                          r"unknown selector 'nope'"):
        load_model_config(tmp_path / "model.yaml")


def test_km_with_every_event_at_one_time_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("time,event,group\n5,1,a\n5,1,a\n5,1,b\n5,1,b\n")
    code = main(["km", str(tmp_path / "d.csv"), "--time-col", "time", "--event-col", "event", "--group-col", "group",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "d.csv, columns 'time' and 'event': the groups cannot be compared" in err


def test_classifier_checkpoint_missing_keys_are_all_named(tmp_path):
    torch = pytest.importorskip("torch")
    from multisurv.features.wsi.classifier import CHECKPOINT_FORMAT, TileClassifier

    torch.save({"format": CHECKPOINT_FORMAT, "classes": ["tumour", "stroma"], "backbone": "resnet18",
                "state_dict": {}}, tmp_path / "clf.pt")
    with pytest.raises(ValueError, match=r"clf.pt' lacks 'tumour_class', 'tile_size', 'mpp', 'mean', 'std', "
                                         r"state_dict\['fc.weight'\], state_dict\['fc.bias'\]: it is incomplete"):
        TileClassifier.load(tmp_path / "clf.pt")
