"""HDF5 patch files and slide-level pooling (mean, median, max)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("h5py")

from multisurv.features.wsi.patch_store import PatchWriter, read_patches  # noqa: E402
from multisurv.features.wsi.pooling import RunningPool, median_from_patches, pool_features  # noqa: E402


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(37, 70)).astype(np.float32), rng.random(37) > 0.3


def write(path, features, keep, *, classes=None, fail_after=None):
    n, dim = features.shape
    coords = np.column_stack([np.arange(n) * 224, np.zeros(n, dtype=int)])
    probs = None if classes is None else np.full((n, len(classes)), 1 / len(classes))
    with PatchWriter(path, n, dim, coords=coords, tissue=np.linspace(0.5, 1, n), classes=classes,
                     attrs={"patient_id": "p1", "mpp": 0.5, "plan": {"level": 0}}) as writer:
        for start in range(0, n, 8):
            if fail_after is not None and start >= fail_after:
                raise RuntimeError("killed")
            rows = np.arange(start, min(start + 8, n))
            writer.write(rows, features[rows], keep=keep[rows], probabilities=None if probs is None else probs[rows])


def test_round_trip(tmp_path, data):
    features, keep = data
    write(tmp_path / "p1.h5", features, keep, classes=["tumour", "stroma"])
    table = read_patches(tmp_path / "p1.h5")
    np.testing.assert_array_equal(table.features, features)
    np.testing.assert_array_equal(table.keep, keep)
    assert table.coords[3].tolist() == [672, 0] and table.classes == ["tumour", "stroma"]
    assert table.probabilities.shape == (37, 2)
    assert table.attrs == {"patient_id": "p1", "mpp": 0.5, "plan": {"level": 0}}
    assert read_patches(tmp_path / "p1.h5", features=False).features.shape == (37, 0)


def test_a_failed_write_leaves_no_file(tmp_path, data):
    features, keep = data
    with pytest.raises(RuntimeError, match="killed"):
        write(tmp_path / "p1.h5", features, keep, fail_after=16)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("method", ["mean", "median", "max"])
def test_streamed_pooling_equals_numpy_on_kept_patches(tmp_path, data, method):
    features, keep = data
    expected = {"mean": np.mean, "median": np.median, "max": np.max}[method](features[keep].astype(float), axis=0)
    if method == "median":
        write(tmp_path / "p1.h5", features, keep)
        got = median_from_patches(tmp_path / "p1.h5", block=16)  # several column blocks
    else:
        pool = RunningPool(features.shape[1])
        for start in range(0, 37, 8):
            rows = slice(start, start + 8)
            pool.update(features[rows][keep[rows]])
        got = pool.result(method)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(pool_features(features[keep], method), expected, rtol=1e-12)


def test_pooling_errors(tmp_path):
    with pytest.raises(ValueError, match=r"Expected a non-empty \(n_patches, dim\) matrix; got shape \(0, 3\)\."):
        pool_features(np.empty((0, 3)))
    with pytest.raises(ValueError, match="No patch was pooled."):
        RunningPool(3).result("mean")
    write(tmp_path / "p.h5", np.ones((3, 2), dtype=np.float32), np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match=r"No patch of '.*p\.h5' is marked 'keep'; nothing to pool\."):
        median_from_patches(tmp_path / "p.h5")
