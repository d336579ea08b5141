"""FeatureStore: settings-named folders, exact round trips, staleness, atomic writes."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pandas as pd
import pytest

from multisurv import __version__
from multisurv.exceptions import MultisurvError
from multisurv.features.store import FeatureStore, input_fingerprint, settings_hash

FP = {"ct_image": {"path": "/data/p1.nrrd", "size": 10, "mtime_ns": 123}}


def make_store(tmp_path, **settings):
    return FeatureStore(tmp_path, modality="ct", name="radiomics", settings=settings or {"binWidth": 25})


def test_folder_is_named_after_settings_and_config_is_written(tmp_path):
    store = make_store(tmp_path, binWidth=25, label=1)
    assert store.directory == tmp_path / "ct" / f"radiomics_{settings_hash({'binWidth': 25, 'label': 1})}"
    config = json.loads(store.config_path.read_text())
    assert config["settings"] == {"binWidth": 25, "label": 1}
    assert config["multisurv_version"] == __version__
    assert store.failures_path == store.directory / "failures.csv"


def test_hash_depends_on_settings_not_key_order(tmp_path):
    assert settings_hash({"a": 1, "b": 2}) == settings_hash({"b": 2, "a": 1})
    assert make_store(tmp_path, binWidth=25).directory != make_store(tmp_path, binWidth=10).directory


def test_config_is_written_once_and_reused(tmp_path):
    first = make_store(tmp_path)
    mtime = first.config_path.stat().st_mtime_ns
    second = make_store(tmp_path)
    assert second.directory == first.directory
    assert second.config_path.stat().st_mtime_ns == mtime


def test_config_with_other_settings_is_refused(tmp_path):
    store = make_store(tmp_path)
    config = json.loads(store.config_path.read_text())
    config["settings"]["binWidth"] = 10
    store.config_path.write_text(json.dumps(config))
    with pytest.raises(MultisurvError, match="holds features for different settings"):
        make_store(tmp_path)


@pytest.mark.parametrize("name", ["", "../up", "a/b", ".hidden", "with space"])
def test_unsafe_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="The 'name' of a FeatureStore must be a folder name"):
        FeatureStore(tmp_path, modality="ct", name=name, settings={})


def test_floats_round_trip_exactly_and_keep_order(tmp_path):
    store = make_store(tmp_path)
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(size=50) * 10.0 ** rng.integers(-300, 300, 50), 0.1 + 0.2, -0.0, 5e-324, np.nan,
                   np.inf, 1.7976931348623157e308]
    names = [f"ct__f{i:03d}" for i in range(len(values))][::-1]
    features = pd.Series(values, index=names)
    store.put("P1", features, FP)
    back = store.get("P1", FP)
    assert list(back.index) == names
    assert back.name == "P1"
    np.testing.assert_array_equal(back.to_numpy(), values)  # exact: NaN == NaN here, no tolerance
    assert np.signbit(back[names[51]])  # -0.0 keeps its sign


def test_missing_and_stale_records_give_none(tmp_path):
    store = make_store(tmp_path)
    assert store.get("P1", FP) is None
    store.put("P1", pd.Series({"a": 1.0}), FP)
    changed = {"ct_image": dict(FP["ct_image"], mtime_ns=124)}
    assert store.get("P1", changed) is None
    assert store.get("P1", FP) is not None


def test_info_is_kept_beside_the_features(tmp_path):
    store = make_store(tmp_path)
    store.put("P1", pd.Series({"a": 1.0}), FP, info={"n_tiles": 3, "spacing": (0.5, 0.5)})
    assert store.get_info("P1") == {"n_tiles": 3, "spacing": [0.5, 0.5]}
    assert store.get_info("P2") == {}


def test_put_is_atomic_when_the_move_fails(tmp_path, monkeypatch):
    store = make_store(tmp_path)
    store.put("P1", pd.Series({"a": 1.0}), FP)
    before = store.path_for("P1").read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put("P1", pd.Series({"a": 2.0}), FP)
    monkeypatch.undo()
    assert store.path_for("P1").read_bytes() == before
    assert [p.name for p in store.directory.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("patient_id", ["a/b", "..", ".x", "GIST 042", "é"])
def test_awkward_patient_ids_stay_inside_the_folder(tmp_path, patient_id):
    store = make_store(tmp_path)
    path = store.put(patient_id, pd.Series({"a": 1.0}), FP)
    assert path.parent == store.directory
    assert store.get(patient_id, FP)["a"] == 1.0


def test_bad_feature_vectors_are_refused(tmp_path):
    store = make_store(tmp_path)
    with pytest.raises(ValueError, match="duplicated name 'a'"):
        store.put("P1", pd.Series([1.0, 2.0], index=["a", "a"]), FP)
    with pytest.raises(ValueError, match="must all be numbers"):
        store.put("P1", pd.Series({"a": "high"}), FP)


def test_unreadable_record_is_recomputed_not_trusted(tmp_path, caplog):
    store = make_store(tmp_path)
    store.path_for("P1").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="multisurv.features.store"):
        assert store.get("P1", FP) is None
    assert "Ignoring unreadable cached features" in caplog.text


def test_fingerprint_tracks_size_and_mtime(tmp_path):
    path = tmp_path / "image.nrrd"
    path.write_bytes(b"1234")
    first = input_fingerprint({"ct_image": path})
    assert first == {"ct_image": {"path": str(path), "size": 4, "mtime_ns": path.stat().st_mtime_ns}}
    os.utime(path, ns=(1, 10**18))
    assert input_fingerprint({"ct_image": path}) != first
    assert input_fingerprint({"ct_image": tmp_path / "gone"})["ct_image"]["missing"] is True


class TestContentFingerprint:
    """Stores key results on the inputs' content (SHA-256), reusing recorded hashes of unchanged files."""

    def test_hash_is_the_sha256_of_the_bytes(self, tmp_path):
        path = tmp_path / "image.nrrd"
        path.write_bytes(b"1234")
        fp = input_fingerprint({"ct_image": path}, content=True)
        # sha256(b"1234"), e.g. `printf 1234 | sha256sum`
        assert fp["ct_image"]["sha256"] == "03ac674216f3e15c761ee1a5e255f067953623c8b388b4459e13f978d7c846f4"

    def test_touched_or_moved_file_with_same_content_stays_valid(self, tmp_path):
        store = make_store(tmp_path)
        path = tmp_path / "a.nrrd"
        path.write_bytes(b"voxels")
        store.put("P1", pd.Series({"ct__a": 1.0}), store.fingerprint("P1", {"ct_image": path}))
        os.utime(path, ns=(1, 10**18))
        assert store.get("P1", store.fingerprint("P1", {"ct_image": path})) is not None
        moved = tmp_path / "moved.nrrd"
        path.rename(moved)
        assert store.get("P1", store.fingerprint("P1", {"ct_image": moved})) is not None

    def test_same_size_and_time_but_other_bytes_is_stale(self, tmp_path):
        store = make_store(tmp_path)
        path = tmp_path / "a.nrrd"
        path.write_bytes(b"voxels")
        store.put("P1", pd.Series({"ct__a": 1.0}), store.fingerprint("P1", {"ct_image": path}))
        stat = path.stat()
        path.write_bytes(b"VOXELS")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # a changed mtime forces a re-read
        assert store.get("P1", store.fingerprint("P1", {"ct_image": path})) is None

    def test_unchanged_files_are_not_read_again(self, tmp_path, monkeypatch):
        store = make_store(tmp_path)
        path = tmp_path / "a.nrrd"
        path.write_bytes(b"voxels")
        fp = store.fingerprint("P1", {"ct_image": path})
        store.put("P1", pd.Series({"ct__a": 1.0}), fp)
        import multisurv.features.store as store_module

        def fail(_):
            raise AssertionError("re-hashed an unchanged file")

        monkeypatch.setattr(store_module, "_file_hash", fail)
        assert store.fingerprint("P1", {"ct_image": path}) == fp

    def test_folder_fingerprint_covers_every_file(self, tmp_path):
        folder = tmp_path / "dicom"
        folder.mkdir()
        for i in range(3):
            (folder / f"s{i}.dcm").write_bytes(bytes([i]) * 10)
        first = input_fingerprint({"ct_image": folder}, content=True)["ct_image"]
        assert (first["size"], first["n_files"]) == (30, 3)
        (folder / "s1.dcm").write_bytes(b"x" * 10)
        second = input_fingerprint({"ct_image": folder}, content=True)["ct_image"]
        assert second["size"] == 30 and second["sha256"] != first["sha256"]
