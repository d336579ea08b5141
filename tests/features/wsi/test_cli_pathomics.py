"""`multisurv extract pathomics`: tables, per-slide errors, HDF5 patches, cache, Dask LocalCluster, kill/resume."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from multisurv.cli import main

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
pytest.importorskip("openslide")
pytest.importorskip("h5py")
pytest.importorskip("pyarrow")

from multisurv.features.wsi.patch_store import read_patches  # noqa: E402

pytestmark = pytest.mark.wsi


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A local ResNet-18 state_dict (random, seeded): no download, and no 'randomly initialised' warning."""
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


@pytest.fixture
def manifest(tmp_path, slides):
    """Two good slides (relative paths), every broken slide of the shared data, a missing file, a patient
    without a slide."""
    folder = tmp_path / "study"
    (folder / "wsi").mkdir(parents=True)
    for name in ("a.svs", "b.svs"):
        shutil.copy(slides / "cmu_small_region.svs", folder / "wsi" / name)
    path = folder / "manifest.csv"
    path.write_text("patient_id,wsi,age\n"
                    "a,wsi/a.svs,60\n"
                    f"unopenable,{slides / 'invalid' / 'unopenable.tiff'},61\n"
                    f"unreadable,{slides / 'invalid' / 'unreadable.svs'},62\n"
                    f"tiny,{slides / 'small.svs'},63\n"
                    "missing,wsi/nope.svs,64\n"
                    "b,wsi/b.svs,65\n"
                    "no_slide,,66\n")
    return path


def run(manifest, out, weights, *extra):
    return main(["extract", "pathomics", str(manifest), "--out", str(out), "--encoder", "resnet18", "--weights",
                 str(weights), "--max-tiles", "6", "--batch-size", "4", "--no-progress", *extra])


def test_tables_errors_patches_and_cached_rerun(manifest, weights, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(manifest, out, weights) == 1
    printed = capsys.readouterr().out
    assert "pathomics: 2 of 6 slides extracted (0 from the cache" in printed
    assert "1 patient(s) without slide input skipped." in printed
    assert f"4 slide(s) failed; see {out / 'pathomics_errors.csv'}" in printed

    features = pd.read_parquet(out / "pathomics_features.parquet")
    assert list(features.index) == ["a", "b"] and features.shape[1] == 512
    assert features.columns[0] == "wsi__resnet18_0000" and np.isfinite(features.to_numpy()).all()
    errors = pd.read_csv(out / "pathomics_errors.csv").set_index("patient_id")
    assert list(errors.index) == ["unopenable", "unreadable", "tiny", "missing"]
    assert errors.loc["unopenable", "reason"].startswith("OpenSlide cannot open slide")
    assert "Unsupported TIFF compression" in errors.loc["unopenable", "reason"]
    assert errors.loc["unreadable", "file"].endswith("unreadable.svs")
    assert "has no 224 px tile at level 0 with at least 50% tissue" in errors.loc["tiny", "reason"]
    assert errors.loc["missing", "reason"] == (f"Slide '{manifest.parent / 'wsi' / 'nope.svs'}' does not exist. "
                                              "Correct the 'wsi' path in the manifest.")

    diagnostics = pd.read_csv(out / "pathomics_diagnostics.csv", index_col="patient_id")
    assert diagnostics.loc["a", "n_tiles"] == 6 and diagnostics.loc["a", "n_tissue_tiles"] == 44
    patches = read_patches(diagnostics.loc["a", "patch_file"])
    assert patches.coords.shape == (6, 2) and patches.features.shape == (6, 512)
    assert (patches.tissue >= 0.5).all() and patches.keep.all() and patches.probabilities is None
    assert patches.attrs["mpp"] == pytest.approx(0.499) and patches.attrs["read_size"] == 224
    # the slide vector is the mean of the stored patch features (float32 patches, float64 mean)
    np.testing.assert_allclose(features.loc["a"].to_numpy(), patches.features.astype(float).mean(axis=0),
                               rtol=1e-6)
    # a QC thumbnail next to each patch file (real H&E slide: 2220 x 2967 px -> 766 x 1024 + legend)
    qc = Path(diagnostics.loc["a", "qc_thumbnail"])
    assert qc == Path(diagnostics.loc["a", "patch_file"]).with_name("a.qc.png") and qc.is_file()
    with Image.open(qc) as image:
        assert image.format == "PNG" and image.width == 766 and image.height > 1024

    before = {p.name: p.read_bytes() for p in out.glob("pathomics_*")}
    assert run(manifest, out, weights) == 1
    assert "(2 from the cache" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.glob("pathomics_*")} == before  # byte-identical tables


def test_pooling_and_magnification_options(manifest, weights, tmp_path):
    out = tmp_path / "out"
    assert run(manifest, out, weights, "--pooling", "max", "--magnification", "10") == 1
    diagnostics = pd.read_csv(out / "pathomics_diagnostics.csv", index_col="patient_id")
    # 20x slide at 10x: level 0 (the only level), 448 px regions resized to 224 px, 0.998 um/px
    assert diagnostics.loc["a", "read_size"] == 448 and diagnostics.loc["a", "tile_mpp"] == pytest.approx(0.998)
    patches = read_patches(diagnostics.loc["a", "patch_file"])
    features = pd.read_parquet(out / "pathomics_features.parquet")
    np.testing.assert_array_equal(features.loc["a"].to_numpy(), patches.features.max(axis=0).astype(float))
    assert "_10x_resnet18_custom_max_" in Path(diagnostics.loc["a", "patch_file"]).parent.parent.name


def test_dask_local_cluster_gives_the_serial_tables(manifest, weights, tmp_path):
    distributed = pytest.importorskip("distributed")
    assert run(manifest, tmp_path / "serial", weights) == 1
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        assert run(manifest, tmp_path / "dask", weights, "--scheduler", cluster.scheduler_address) == 1
    serial = pd.read_parquet(tmp_path / "serial" / "pathomics_features.parquet")
    dask = pd.read_parquet(tmp_path / "dask" / "pathomics_features.parquet")
    # Same model and tiles; two models run concurrently in worker threads, whose float32 convolutions may split
    # their sums differently, hence a float32-level tolerance rather than bit equality.
    pd.testing.assert_frame_equal(dask, serial, check_exact=False, rtol=1e-5, atol=1e-6)
    assert pd.read_csv(tmp_path / "dask" / "pathomics_errors.csv")["patient_id"].tolist() == [
        "unopenable", "unreadable", "tiny", "missing"]


@pytest.mark.slow  # ~40 s: two fresh interpreters importing torch
def test_killed_run_resumes_without_repeating_finished_slides(tmp_path, slides, weights):
    """SIGKILL `multisurv extract pathomics` half-way; the rerun keeps finished slides untouched."""
    rows = ["patient_id,wsi"]
    for i in range(8):
        shutil.copy(slides / "cmu_small_region.svs", tmp_path / f"s{i}.svs")
        rows.append(f"s{i},s{i}.svs")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "multisurv.cli", "-q", "extract", "pathomics", str(manifest), "--out", str(out),
               "--encoder", "resnet18", "--weights", str(weights), "--max-tiles", "12", "--no-progress"]

    def records():
        return {p.name: p.stat().st_mtime_ns for p in out.glob("wsi/*/s*.json")}

    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(records()) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = records()
    assert 2 <= len(done) < 8, "the run was not killed half-way"
    finished = list(out.glob("wsi/*/patches/s*.h5"))  # a half-written patch file still has its temporary name
    assert len(finished) >= len(done) and all(read_patches(p).features.shape == (12, 512) for p in finished)

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"pathomics: 8 of 8 slides extracted ({len(done)} from the cache" in rerun.stdout
    after = records()
    assert len(after) == 8 and {name: after[name] for name in done} == done
    assert pd.read_parquet(out / "pathomics_features.parquet").shape == (8, 512)
