"""The `multisurv` command: each sub-command wraps a library function and reports user errors without a traceback."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from multisurv.cli import main


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.wsi
@pytest.mark.radiomics
def test_synth_writes_a_valid_reproducible_cohort(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "a"), "--seed", "5", "--n-development", "3",
                 "--n-external", "2", "--no-progress"]) == 0
    assert "manifest.csv" in capsys.readouterr().out
    manifest = pd.read_csv(tmp_path / "a" / "manifest.csv")
    assert list(manifest["cohort"]) == ["development"] * 3 + ["external"] * 2
    assert main(["validate", str(tmp_path / "a" / "manifest.csv")]) == 0
    assert main(["synth", "--out", str(tmp_path / "b"), "--seed", "5", "--n-development", "3",
                 "--n-external", "2", "--no-progress"]) == 0
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_run_on_a_missing_manifest_says_which_file(tmp_path, capsys):
    code = main(["run", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "nope.csv" in err and "Traceback" not in err


def test_validate_with_a_bad_clinical_spec_lists_the_spec_problem(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text("schema: clinical_variables.v1\nvariables:\n  - name: tki\n    type: categorical\n"
                    "    categories: [yes, no]\n")
    manifest = tmp_path / "m.csv"
    manifest.write_text("patient_id,cohort,time,event,ct_image,ct_mask,wsi,tki\nP1,development,3,1,,,,yes\n")
    assert main(["validate", str(manifest), "--clinical-spec", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "'categories'" in out and "quote" in out


def test_validate_counts_slides_per_patient(tmp_path, capsys):
    for name in ("a1.svs", "a2.svs", "b.svs"):
        (tmp_path / name).write_bytes(b"")
    manifest = tmp_path / "m.csv"
    manifest.write_text("patient_id,cohort,time,event,ct_image,ct_mask,wsi\nA,development,3,1,,,a1.svs;a2.svs\n"
                        "B,development,4,0,,,b.svs\nC,development,5,0,,,\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("schema: clinical_variables.v1\nvariables: []\n")
    assert main(["validate", str(manifest), "--clinical-spec", str(spec)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == ("Slides per patient ('wsi'): median 1.5 (1-2); 1 of 2 "
                                                        "patients with more than one.")


def test_unknown_subcommand_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.wsi
@pytest.mark.radiomics
@pytest.mark.filterwarnings("ignore")  # random-init encoder and small-sample warnings are expected here
def test_demo_command_runs_the_whole_study_on_a_small_synthetic_cohort(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--n-development", "24", "--n-external", "10",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| Late fusion |" in printed and "Demo finished in" in printed
    for name in ("report.md", "report.html", "metrics.csv", "predictions.csv", "tables/late_fusion_formula.csv"):
        assert (tmp_path / "demo" / name).is_file(), name


def test_validate_with_a_study_config_checks_the_columns_its_modalities_read(tmp_path, capsys):
    """A study of a feature table and the clinical variables reads no image column: validate --config checks the
    manifest as run will (the binary endpoint column included), where the default check asks for image columns."""
    from multisurv.cohort.synthetic import make_synthetic_table

    manifest, _ = make_synthetic_table(n_development=20, n_external=10, random_state=0)
    manifest = manifest.drop(columns=["ct_image", "ct_mask", "wsi"]).assign(response=(manifest["event"]).astype(int))
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    pd.DataFrame({"patient_id": manifest["patient_id"], "g1": range(30)}).to_csv(tmp_path / "genes.csv", index=False)
    (tmp_path / "study.yaml").write_text(
        "schema: study_config.v1\nname: v\nout: run\ncohort: {manifest: manifest.csv}\n"
        "modalities: {genes: {kind: table, path: genes.csv}, clinical: {}}\n"
        "endpoint: {type: binary, column: response}\n")
    assert main(["validate", "--config", str(tmp_path / "study.yaml")]) == 0
    assert f"{tmp_path / 'manifest.csv'}: valid for the study" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "manifest.csv")]) == 1  # the default study: images and no 'response'
    out = capsys.readouterr().out
    assert "missing required column(s) 'ct_image', 'ct_mask' and 'wsi'" in out and "'response'" in out
    assert main(["validate", "--config", str(tmp_path / "study.yaml"), "--clinical-spec", "x.yaml"]) == 2
    assert "--clinical-spec with --config: the study config's cohort.clinical_spec is used" in capsys.readouterr().err
