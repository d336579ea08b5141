"""StudyConfig (study_config.v1) and `multisurv run CONFIG.yaml`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from multisurv.cli import main
from multisurv.study.config import StudyConfig, StudyConfigError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "data_schemas" / "study_config.v1.yaml"
GIST_CONFIG = ROOT / "experiments" / "gist_fusion" / "study.yaml"


def _write(path: Path, mapping: dict) -> Path:
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return path


def _minimal(**over) -> dict:
    base = {"schema": "study_config.v1", "name": "t", "out": "out",
            "cohort": {"synthetic": {"n_development": 20, "n_external": 10}}}
    base.update(over)
    return base


def test_the_schema_file_is_a_valid_config_and_round_trips():
    cfg = StudyConfig.from_yaml(SCHEMA_FILE)
    assert cfg.cohort.synthetic.n_development == 60
    assert cfg.out == (SCHEMA_FILE.parent / "../runs/example_synthetic").resolve()
    again = StudyConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict())))
    assert again == StudyConfig(**{**cfg.__dict__, "source": None})


def test_gist_config_has_the_reference_shape():
    cfg = StudyConfig.from_yaml(GIST_CONFIG)
    syn = cfg.cohort.synthetic
    assert (syn.n_development, syn.n_external, syn.n_ct, syn.n_wsi) == (254, 42, 218, 186)
    assert cfg.radiomics.params == "radiomics_gist_2246" and cfg.pathomics.encoder == "resnet50"


def test_defaults_fill_every_optional_section():
    cfg = StudyConfig.from_dict(_minimal())
    assert (cfg.seed, cfg.selection.cv, cfg.selection.rule, cfg.fusion.missing, cfg.validation.n_bootstrap) == \
        (0, 5, "min", "mean", 1000)
    assert cfg.radiomics.params == "radiomics_ct" and cfg.pathomics.max_tiles is None


def test_every_problem_is_reported_at_once_with_its_key_path(tmp_path):
    bad = _minimal(seed=-1, fusion={"missing": "median", "cv": 1}, selection={"rule": "2se", "l1_ratio": 0},
                   pathomics={"encoder": "vit_l"}, radiomics={"params": "gist"}, validation={"n_bootstrap": "many"})
    bad["harmonisation"] = {"method": "ComBat", "empirical_bayes": "yes"}
    bad["schema"] = "study_config.v0"
    bad["cohort"]["synthetic"]["n_ct"] = 25
    with pytest.raises(StudyConfigError) as exc:
        StudyConfig.from_yaml(_write(tmp_path / "bad.yaml", bad))
    text = str(exc.value)
    assert str(tmp_path / "bad.yaml") in text
    expected = ["key 'schema': must be exactly 'study_config.v1'", "key 'seed': must be a whole number >= 0",
                "key 'harmonisation.method': must be one of 'none', 'combat'; got 'ComBat'",
                "key 'harmonisation.empirical_bayes': must be true or false; got 'yes'",
                "key 'fusion.missing': must be one of 'mean', 'pattern'; got 'median'",
                "key 'fusion.cv': must be a whole number >= 2; got 1",
                "key 'selection.rule': must be one of 'min', '1se'; got '2se'",
                "key 'selection.l1_ratio': must be a number in (0.0, 1.0]; got 0",
                "key 'pathomics.encoder': must be one of",
                "key 'radiomics.params': must be a shipped params name",
                "key 'validation.n_bootstrap': must be a whole number >= 0; got 'many'",
                "key 'cohort.synthetic.n_ct': must be at most n_development (20); got 25"]
    for message in expected:
        assert message in text
    assert len(exc.value.problems) == len(expected)


def test_strategy_validation_and_figure_keys_are_checked_together():
    cfg = StudyConfig.from_dict(_minimal(fusion={"strategies": ["late", "late_insample"]},
                                         validation={"internal": "bootstrap", "n_resamples": 50},
                                         figures={"primary": "late_fusion_insample", "roc_times": [6, 12],
                                                  "cutoff_methods": ["fixed"], "fixed_cutoff": 0.25}))
    assert cfg.fusion.strategies == ("late", "late_insample")
    assert (cfg.validation.internal, cfg.validation.n_resamples) == ("bootstrap", 50)
    assert cfg.figures.roc_times == (6.0, 12.0) and cfg.figures.fixed_cutoff == 0.25
    assert StudyConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict()))) == cfg
    with pytest.raises(StudyConfigError) as exc:
        StudyConfig.from_dict(_minimal(fusion={"strategies": ["early", "early", "stack"]},
                                       validation={"internal": "loocv", "n_splits": 1},
                                       figures={"primary": "late_fusion_pattern", "roc_times": [12, -1],
                                                "cutoff_methods": ["median", "fixed"]}))
    expected = ["key 'fusion.strategies': must be a list of distinct names from 'early', 'late', 'late_insample', "
                "'late_pattern', 'intermediate'; got ['early', 'early', 'stack']",
                "key 'validation.internal': must be one of 'none', 'bootstrap', 'cv', 'repeated_cv'; got 'loocv'",
                "key 'validation.n_splits': must be a whole number >= 2; got 1",
                # the primary model must be one the study fits: late_pattern is not among the strategies
                "key 'figures.primary': must be one of 'radiomics', 'pathomics', 'clinical', 'early_fusion', "
                "'late_fusion'; got 'late_fusion_pattern'",
                "key 'figures.roc_times': must be null or a list of positive times",
                "key 'figures.fixed_cutoff': must be a number when figures.cutoff_methods lists 'fixed'"]
    for message in expected:
        assert message in str(exc.value)
    assert len(exc.value.problems) == len(expected)
    with pytest.raises(StudyConfigError, match=r"fusion.strategies': must be a list that includes 'late' .* "
                                               r"Add 'late' to the list"):
        StudyConfig.from_dict(_minimal(fusion={"strategies": ["early"]}))


def test_unknown_keys_are_errors_with_a_suggestion():
    with pytest.raises(StudyConfigError, match=r"key 'fusion.misssing': must be one of the known keys .* "
                                               r"Did you mean 'missing'\?"):
        StudyConfig.from_dict(_minimal(fusion={"misssing": "mean"}))
    with pytest.raises(StudyConfigError, match=r"key 'seeds': .*Did you mean 'seed'"):
        StudyConfig.from_dict(_minimal(seeds=1))


def test_manifest_paths_are_read_from_the_config_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "m.csv").write_text("x")
    cfg = StudyConfig.from_yaml(_write(tmp_path / "s.yaml", {
        "schema": "study_config.v1", "name": "t", "out": "runs/t", "cohort": {"manifest": "data/m.csv"}}))
    assert cfg.cohort.manifest == tmp_path / "data" / "m.csv" and cfg.out == tmp_path / "runs" / "t"
    with pytest.raises(StudyConfigError, match=r"key 'cohort.manifest': must be an existing file .*resolved to "
                                               rf"{tmp_path}/nope.csv"):
        StudyConfig.from_yaml(_write(tmp_path / "s2.yaml", {
            "schema": "study_config.v1", "name": "t", "out": "o", "cohort": {"manifest": "nope.csv"}}))


def test_missing_cohort_and_manifest_with_synthetic_are_refused():
    with pytest.raises(StudyConfigError, match=r"key 'cohort': must be a mapping with 'manifest' or 'synthetic'"):
        StudyConfig.from_dict({"schema": "study_config.v1", "name": "t", "out": "o"})
    raw = _minimal()
    raw["cohort"]["manifest"] = "m.csv"
    with pytest.raises(StudyConfigError, match=r"key 'cohort.manifest': must be absent when 'cohort.synthetic'"):
        StudyConfig.from_dict(raw)


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(StudyConfigError, match="not valid YAML"):
        StudyConfig.from_yaml(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        StudyConfig.from_yaml(tmp_path / "none.yaml")


def test_cli_run_with_a_bad_config_lists_the_problems_without_a_traceback(tmp_path, capsys):
    path = _write(tmp_path / "study.yaml", _minimal(fusion={"missing": "median"}))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "key 'fusion.missing'" in err and "Traceback" not in err


def test_reclassification_settings_round_trip_and_every_problem_is_listed(tmp_path, capsys):
    assert StudyConfig.from_dict(_minimal()).validation.reclassification == {"reference": "auto", "cutoffs": ()}
    cfg = StudyConfig.from_dict(_minimal(validation={"reclassification": {"reference": "radiomics",
                                                                           "cutoffs": [0.1, 0.3]}}))
    assert cfg.validation.reclassification == {"reference": "radiomics", "cutoffs": (0.1, 0.3)}
    assert StudyConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict()))) == cfg
    off = StudyConfig.from_dict(_minimal(validation={"reclassification": {"reference": None}}))
    assert off.validation.reclassification["reference"] == "none"
    with pytest.raises(StudyConfigError) as exc:
        StudyConfig.from_dict(_minimal(validation={"n_bootstrap": -1, "reclassification": {
            "reference": 3, "cutoffs": [0.3, 0.1], "cutoff": [0.2]}}))
    expected = ["key 'validation.reclassification.cutoff': must be one of the known keys (cutoffs, reference); got "
                "'cutoff'. Remove or rename it. Did you mean 'cutoffs'?",
                "key 'validation.reclassification.reference': must be 'auto', 'none' or the name of a model of the "
                "study", "Write e.g. 'reference: clinical'",
                "key 'validation.reclassification.cutoffs': must be null or a list of increasing event probabilities "
                "strictly between 0 and 1 (the risk categories of the categorical NRI); got [0.3, 0.1]. Write e.g. "
                "[0.1, 0.3]", "key 'validation.n_bootstrap': must be a whole number >= 0; got -1"]
    for message in expected:
        assert message in str(exc.value)
    assert len(exc.value.problems) == 4
    # a model name is checked against the study's models when the run starts, before anything is extracted
    path = _write(tmp_path / "study.yaml", _minimal(validation={"reclassification": {"reference": "clinicl"}}))
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert ("key 'validation.reclassification.reference': must be 'auto', 'none' or a model of the study "
            "('radiomics', 'pathomics', 'clinical', 'early_fusion', 'late_fusion'); got 'clinicl'.") in err
    assert str(path) in err and "Traceback" not in err and not (tmp_path / "out").exists()


def test_cli_run_on_a_manifest_still_needs_out(tmp_path, capsys):
    assert main(["run", str(tmp_path / "m.csv")]) == 2
    assert "'--out' is required" in capsys.readouterr().err


def _tiny_manifest(folder: Path) -> Path:
    folder.mkdir()
    for name in ("a_img.nrrd", "a_mask.nrrd", "b.tiff"):
        (folder / name).write_bytes(name.encode() * 10)
    (folder / "spec.yaml").write_text("schema: clinical_variables.v1\nvariables:\n  - name: age\n    type: numeric\n")
    (folder / "m.csv").write_text("patient_id,cohort,time,event,ct_image,ct_mask,wsi,age\n"
                                  "A,development,3,1,a_img.nrrd,a_mask.nrrd,,50\n"
                                  "B,external,5,0,,,b.tiff,60\n")
    return folder / "m.csv"


def test_cli_run_config_records_config_seeds_and_hashes_and_passes_the_settings(tmp_path, monkeypatch, capsys):
    import multisurv.study.run

    _tiny_manifest(tmp_path / "data")
    config = _write(tmp_path / "study.yaml", {
        "schema": "study_config.v1", "name": "tiny", "seed": 7, "out": "runs/tiny", "feature_cache": "shared/features",
        "cohort": {"manifest": "data/m.csv", "clinical_spec": "data/spec.yaml"},
        "radiomics": {"params": "radiomics_gist_2266", "workers": 1},
        "pathomics": {"encoder": "resnet18", "max_tiles": 4},
        "selection": {"cv": 3, "rule": "1se"},
        "validation": {"n_bootstrap": 50, "internal": "repeated_cv", "n_splits": 4, "n_repeats": 2},
        "fusion": {"missing": "pattern", "cv": 4, "strategies": ["early", "late", "late_insample"]},
        "figures": {"primary": "early_fusion", "horizon": 24, "cutoff_methods": ["tertiles"]},
        "harmonisation": {"method": "combat", "empirical_bayes": False}})
    seen = {}

    class Stop(ValueError):
        pass

    def fake_run_study(cohort, run_dir, **kwargs):
        seen.update(kwargs, n=len(cohort), run_dir=run_dir)
        raise Stop("stopped by the test")

    monkeypatch.setattr(multisurv.study.run, "fit_and_evaluate", fake_run_study)
    assert main(["run", str(config), "--no-progress"]) == 2  # the fake raises a ValueError after the records
    assert "stopped by the test" in capsys.readouterr().err
    out = tmp_path / "runs" / "tiny"
    assert seen["n"] == 2 and Path(seen["run_dir"]) == out
    assert seen["random_state"] == 7 and seen["n_bootstrap"] == 50
    modalities = {m.name: m for m in seen["modalities"]}
    assert modalities["radiomics"].options == {"params": "radiomics_gist_2266", "workers": 1}
    assert modalities["pathomics"].options == {"encoder": "resnet18", "weights": None, "tile_size": 224,
                                               "max_tiles": 4}
    models = seen["models"]
    assert list(models) == ["radiomics", "pathomics", "clinical", "early_fusion", "late_fusion", "late_fusion_insample"]
    assert models["late_fusion_insample"].stacking is False and models["late_fusion"].stacking is True
    assert seen["internal_validation"] == {"method": "repeated_cv", "n_resamples": 200, "n_splits": 4, "n_repeats": 2}
    assert seen["figure_options"] == {"primary": "early_fusion", "t0": 24.0, "roc_times": None,
                                      "cutoff_methods": ("tertiles",), "fixed_cutoff": None}
    assert seen["harmonisation"] == {"empirical_bayes": False}
    assert seen["reclassification"] == {"reference": "auto", "cutoffs": ()}
    assert seen["feature_dir"] == tmp_path / "shared" / "features"  # read from the config's folder
    assert models["radiomics"].selector.rule == "1se" and models["radiomics"].selector.cv == 3
    assert models["late_fusion"].missing == "pattern" and models["late_fusion"].cv == 4
    assert models["late_fusion"].random_state == 7

    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text())
    assert resolved["seed"] == 7 and resolved["cohort"]["manifest"] == str(tmp_path / "data" / "m.csv")
    assert StudyConfig.from_dict(resolved).fusion.missing == "pattern"
    record = json.loads((out / "run.json").read_text())
    assert record["seeds"]["study"] == 7
    sha = hashlib.sha256((tmp_path / "data" / "m.csv").read_bytes()).hexdigest()
    assert record["inputs_sha256"]["manifest"] == sha
    hashes = pd.read_csv(out / "data_hashes.csv")
    assert sorted(hashes["column"]) == ["ct_image", "ct_mask", "wsi"]
    row = hashes.set_index("column").loc["wsi"]
    assert row["sha256"] == hashlib.sha256((tmp_path / "data" / "b.tiff").read_bytes()).hexdigest()
    assert record["data_files"]["n"] == 3


@pytest.mark.slow
@pytest.mark.wsi
@pytest.mark.radiomics
# 10 external patients: some C-index bootstrap resamples have no comparable pair, which run_study warns about
@pytest.mark.filterwarnings("ignore::multisurv.exceptions.MultisurvWarning")
def test_cli_run_config_end_to_end_on_a_small_synthetic_cohort(tmp_path, capsys):
    config = _write(tmp_path / "study.yaml", {
        "schema": "study_config.v1", "name": "small", "seed": 1, "out": "run",
        "cohort": {"synthetic": {"n_development": 30, "n_external": 10, "seed": 7, "n_ct": 26, "n_wsi": 20}},
        "pathomics": {"encoder": "resnet18", "max_tiles": 4}, "selection": {"cv": 3},
        "validation": {"n_bootstrap": 50}})
    assert main(["run", str(config), "--no-progress"]) == 0
    out = tmp_path / "run"
    printed = capsys.readouterr().out
    assert "Late fusion" in printed and "finished in" in printed
    manifest = pd.read_csv(out / "cohort" / "manifest.study.csv", keep_default_na=False)
    dev = manifest[manifest["cohort"] == "development"]
    assert (dev["ct_image"] != "").sum() == 26 and (dev["wsi"] != "").sum() == 20  # seed 7 made 29 and 22
    metrics = pd.read_csv(out / "metrics.csv")
    available = metrics[(metrics["subset"] == "available") & (metrics["cohort"] == "development")]
    assert available.set_index("model").loc["radiomics", "n"] == 26
    assert available.set_index("model").loc["pathomics", "n"] == 20
    assert metrics["cindex"].between(0, 1).all()
    for name in ("config.yaml", "config.resolved.yaml", "run.json", "data_hashes.csv", "versions.json",
                 "report.md", "predictions.csv"):
        assert (out / name).is_file(), name
    assert len(pd.read_csv(out / "data_hashes.csv")) == json.loads((out / "run.json").read_text())["data_files"]["n"]


def test_null_clinical_variables_widen_the_synthetic_cohort_to_the_reference_shape(tmp_path, monkeypatch):
    import multisurv.study.run

    seen = {}

    class Stop(ValueError):
        pass

    def fake_run_study(cohort, run_dir, **kwargs):
        seen["cohort"] = cohort
        raise Stop("stopped by the test")

    monkeypatch.setattr(multisurv.study.run, "fit_and_evaluate", fake_run_study)
    tables = {}
    for n_dev in (3, 4):
        config = _write(tmp_path / f"s{n_dev}.yaml", _minimal(
            out=f"run{n_dev}", cohort={"synthetic": {"n_development": n_dev, "n_external": 1, "seed": 5,
                                                     "n_null_clinical": 23}}))
        assert main(["run", str(config), "--no-progress"]) == 2
        cohort = seen["cohort"]
        assert len(cohort.clinical_columns) == 30 and list(cohort.clinical_columns[:7]) == [
            "age", "sex", "site", "tumour_size_cm", "mitotic_count", "ki67_percent", "tki_therapy"]
        assert cohort.clinical_spec["finding_03"]["categories"] == ["absent", "present"]
        spec_file = tmp_path / f"run{n_dev}" / "cohort" / "clinical_spec.study.yaml"
        record = json.loads((tmp_path / f"run{n_dev}" / "run.json").read_text())
        assert record["inputs_sha256"]["clinical_spec"] == hashlib.sha256(spec_file.read_bytes()).hexdigest()
        tables[n_dev] = cohort.table
    # a patient's values depend on the seed and the patient only, not on the cohort size
    extra = [c for c in tables[3].columns if c.startswith(("lab_", "finding_"))]
    assert len(extra) == 23
    pd.testing.assert_frame_equal(tables[3].loc["SYN-D0001", extra].to_frame(),
                                  tables[4].loc["SYN-D0001", extra].to_frame())
    with pytest.raises(StudyConfigError, match=r"cohort.clinical_spec': must be absent when"):
        StudyConfig.from_dict(_minimal(cohort={"synthetic": {"n_null_clinical": 2}, "clinical_spec": str(SCHEMA_FILE)}))


@pytest.mark.parametrize("bad", [5, [{"a": 1}], [], ["late", None]])
def test_a_strategy_list_of_the_wrong_shape_is_a_listed_problem_not_a_crash(bad):
    with pytest.raises(StudyConfigError, match=r"key 'fusion.strategies': must be a list of distinct names"):
        StudyConfig.from_dict(_minimal(fusion={"strategies": bad}))


def test_cli_refuses_options_a_config_makes_meaningless(tmp_path, capsys):
    path = _write(tmp_path / "study.yaml", _minimal())
    assert main(["run", str(path), "--workers", "4", "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "--workers, --seed cannot be combined with a study config" in err and "Traceback" not in err


def test_demo_is_run_on_the_shipped_config_with_the_command_line_settings(tmp_path, monkeypatch):
    import multisurv.study.run

    seen = {}

    class Stop(ValueError):
        pass

    def fake(cohort, run_dir, **kwargs):
        seen.update(kwargs, n=len(cohort))
        raise Stop("stopped by the test")

    monkeypatch.setattr(multisurv.study.run, "fit_and_evaluate", fake)
    assert main(["demo", "--out", str(tmp_path / "demo"), "--n-development", "3", "--n-external", "2",
                 "--bootstrap", "7", "--no-progress"]) == 2
    assert seen["n"] == 5 and seen["n_bootstrap"] == 7 and seen["random_state"] == 0
    assert list(seen["models"]) == ["radiomics", "pathomics", "clinical", "early_fusion", "late_fusion"]
    resolved = yaml.safe_load((tmp_path / "demo" / "config.resolved.yaml").read_text())
    assert resolved["name"] == "demo" and resolved["cohort"]["synthetic"]["n_development"] == 3
