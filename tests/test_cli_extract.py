"""`multisurv extract radiomics`: tables, errors, cache, workers, Dask scheduler; and load_cases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from multisurv.cli import main
from multisurv.exceptions import ManifestError
from multisurv.features.cases import load_cases

pytest.importorskip("radiomics")
pytest.importorskip("pyarrow")

pytestmark = pytest.mark.radiomics

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def manifest(tmp_path):
    """Relative paths (read from the manifest's folder), a broken case and a patient without CT."""
    ct = tmp_path / "study" / "ct"
    ct.mkdir(parents=True)
    for name in ("lung1_crop_image.nrrd", "lung1_crop_label.nrrd", "breast1_image.nrrd", "breast1_label.nrrd"):
        shutil.copy(DATA / name, ct / name)
    path = tmp_path / "study" / "manifest.csv"
    path.write_text("patient_id,cohort,ct_image,ct_mask,age\n"
                    "lung1,development,ct/lung1_crop_image.nrrd,ct/lung1_crop_label.nrrd,61\n"
                    "breast1,development,ct/breast1_image.nrrd,ct/breast1_label.nrrd,50\n"
                    "broken,external,ct/breast1_image.nrrd,ct/missing_label.nrrd,70\n"
                    "no_ct,external,,,44\n")
    return path


def run(manifest, out, *extra):
    return main(["extract", "radiomics", str(manifest), "--out", str(out), "--params", "radiomics_ct",
                 "--no-progress", *extra])


def test_tables_errors_and_cached_rerun(manifest, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(manifest, out) == 1  # one patient failed
    printed = capsys.readouterr().out
    assert "radiomics: 2 of 3 CT cases extracted (0 from the cache" in printed
    assert "1 patient(s) without CT case input skipped." in printed
    assert f"1 CT case(s) failed; see {out / 'radiomics_errors.csv'}" in printed

    features = pd.read_parquet(out / "radiomics_features.parquet")
    assert features.index.name == "patient_id" and list(features.index) == ["lung1", "breast1"]
    assert features.shape[1] == 106 and all(c.startswith("ct__original_") for c in features.columns)
    from_csv = pd.read_csv(out / "radiomics_features.csv", index_col="patient_id", float_precision="round_trip")
    pd.testing.assert_frame_equal(from_csv, features, check_exact=True)
    errors = pd.read_csv(out / "radiomics_errors.csv")
    assert list(errors.columns) == ["patient_id", "file", "reason", "error_type"]
    assert errors.loc[0, "patient_id"] == "broken"
    assert errors.loc[0, "file"] == str(manifest.parent / "ct" / "missing_label.nrrd")
    assert "the file does not exist" in errors.loc[0, "reason"]
    diagnostics = pd.read_csv(out / "radiomics_diagnostics.csv", index_col="patient_id")
    assert diagnostics.loc["lung1", "diagnostics_Mask-original_VoxelNum"] == 837
    assert "diagnostics_Versions_PyRadiomics" in diagnostics

    before = {p.name: p.read_bytes() for p in out.glob("radiomics_*")}
    assert run(manifest, out) == 1
    assert "(2 from the cache" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.glob("radiomics_*")} == before  # byte-identical tables

    shutil.copy(DATA / "breast1_label.nrrd", manifest.parent / "ct" / "missing_label.nrrd")
    assert run(manifest, out) == 0
    assert "3 of 3 CT cases extracted (2 from the cache" in capsys.readouterr().out
    assert pd.read_csv(out / "radiomics_errors.csv").empty


def test_workers_and_dask_scheduler_give_the_same_tables(manifest, tmp_path):
    distributed = pytest.importorskip("distributed")
    assert run(manifest, tmp_path / "serial") == 1
    assert run(manifest, tmp_path / "pool", "--workers", "2") == 1
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        assert run(manifest, tmp_path / "dask", "--scheduler", cluster.scheduler_address) == 1
    serial = pd.read_parquet(tmp_path / "serial" / "radiomics_features.parquet")
    for other in ("pool", "dask"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / other / "radiomics_features.parquet"), serial,
                                      check_exact=True)
        assert pd.read_csv(tmp_path / other / "radiomics_errors.csv")["patient_id"].tolist() == ["broken"]


def test_label_option_selects_the_mask_value(tmp_path):
    """--label 2 on masks that mark the tumour with 2 gives the features of the label-1 original."""
    import SimpleITK as sitk

    mask = sitk.ReadImage(str(DATA / "breast1_label.nrrd"))
    sitk.WriteImage(mask * 2, str(tmp_path / "label2.nrrd"))
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"patient_id,ct_image,ct_mask\np1,{DATA / 'breast1_image.nrrd'},label2.nrrd\n")
    assert run(manifest, tmp_path / "default") == 1  # label 1 is absent
    assert "it holds label(s) [2]" in pd.read_csv(tmp_path / "default" / "radiomics_errors.csv").loc[0, "reason"]
    assert run(manifest, tmp_path / "two", "--label", "2") == 0
    reference = tmp_path / "ref.csv"
    reference.write_text(f"patient_id,ct_image,ct_mask\np1,{DATA / 'breast1_image.nrrd'},"
                         f"{DATA / 'breast1_label.nrrd'}\n")
    assert run(reference, tmp_path / "one") == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "two" / "radiomics_features.parquet"),
                                  pd.read_parquet(tmp_path / "one" / "radiomics_features.parquet"), check_exact=True)
    diagnostics = pd.read_csv(tmp_path / "two" / "radiomics_diagnostics.csv", index_col="patient_id")
    assert "'label': 2" in diagnostics.loc["p1", "diagnostics_Configuration_Settings"]


class TestUsageErrors:
    def test_unknown_params_name(self, manifest, tmp_path, capsys):
        assert main(["extract", "radiomics", str(manifest), "--out", str(tmp_path), "--params", "ibsi"]) == 2
        err = capsys.readouterr().err
        assert "Unknown radiomics params 'ibsi'" in err and "'radiomics_ct_ibsi'" in err and "Traceback" not in err

    def test_manifest_without_mask_column(self, tmp_path, capsys):
        path = tmp_path / "m.csv"
        path.write_text("patient_id,ct_image\nP1,a.nrrd\n")
        assert main(["extract", "radiomics", str(path), "--out", str(tmp_path / "o")]) == 2
        assert "header (row 1): missing column(s) 'ct_mask'" in capsys.readouterr().err

    def test_unreachable_scheduler(self, manifest, tmp_path, capsys, monkeypatch):
        pytest.importorskip("distributed")
        monkeypatch.setattr("multisurv.cli_extract.CONNECT_TIMEOUT", "1s")
        code = run(manifest, tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9")
        assert code == 2
        assert "Cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in capsys.readouterr().err


class TestLoadCases:
    def test_every_problem_is_listed(self, tmp_path):
        path = tmp_path / "m.csv"
        path.write_text("patient_id,ct_image,ct_mask\nP1,a.nrrd,\n,b.nrrd,b_mask.nrrd\nP2,c.nrrd,c_m.nrrd\n"
                        "P2,d.nrrd,d_m.nrrd\n")
        with pytest.raises(ManifestError) as info:
            load_cases(path, roles=("ct_image", "ct_mask"))
        assert info.value.problems == [
            "row 2 (patient_id='P1'), column(s) 'ct_mask': must be given when 'ct_image' is; got an empty cell. "
            "Fill it in, or clear the row's other input columns if the patient has no such data.",
            "row 3, column 'patient_id': must be the patient's identifier; got an empty cell. Fill it in or drop "
            "the row.",
            "rows 4, 5, column 'patient_id': must be unique; got 'P2' in 2 rows. Keep one row per patient.",
        ]

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match=r"The manifest '.*nope\.csv' does not exist\. Pass the path of "
                                                    r"a CSV file with columns 'patient_id', 'wsi'\."):
            load_cases(tmp_path / "nope.csv", roles=("wsi",))


def test_killed_cli_run_resumes_without_repeating_finished_cases(tmp_path):
    """SIGKILL `multisurv extract radiomics` half-way (real PyRadiomics); the rerun keeps every finished case as it
    was (record files untouched) and extracts only the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import SimpleITK as sitk

    ct = tmp_path / "ct"
    ct.mkdir()
    rows = ["patient_id,ct_image,ct_mask"]
    for i in range(10):  # distinct files (content differs by one voxel) so that each case is real work
        image = sitk.ReadImage(str(DATA / "breast1_image.nrrd"))
        image[0, 0, 0] = i
        sitk.WriteImage(image, str(ct / f"p{i}.nrrd"))
        rows.append(f"p{i},ct/p{i}.nrrd,{DATA / 'breast1_label.nrrd'}")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "multisurv.cli", "-q", "extract", "radiomics", str(manifest), "--out", str(out),
               "--params", "radiomics_gist_2246", "--no-progress"]

    def records():
        return {p.name: p.stat().st_mtime_ns for p in out.glob("ct/radiomics_*/p*.json")}

    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(records()) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = records()
    assert 3 <= len(done) < 10, "the run was not killed half-way"
    assert not (out / "radiomics_features.parquet").exists()  # killed before the tables

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"radiomics: 10 of 10 CT cases extracted ({len(done)} from the cache" in rerun.stdout
    after = records()
    assert len(after) == 10
    assert {name: after[name] for name in done} == done  # finished cases were not recomputed or rewritten
    features = pd.read_parquet(out / "radiomics_features.parquet")
    assert features.shape == (10, 2246) and features.notna().all().all()


def test_progress_bar_on_stderr(manifest, tmp_path, capsys):
    assert main(["extract", "radiomics", str(manifest), "--out", str(tmp_path / "o"), "--params", "radiomics_ct"]) == 1
    captured = capsys.readouterr()
    # tqdm's bar, e.g. "radiomics:  33%|###3      | 1/3 [00:00<00:01,  1.73CT case/s]"
    assert "radiomics:" in captured.err and "CT case/s]" in captured.err and "/3 [" in captured.err
