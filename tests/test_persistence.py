"""multisurv.persistence: save -> load gives the same model; changed, hostile or incompatible files are refused."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from skops.io._protocol import PROTOCOL

from multisurv._validation import make_y
from multisurv.fusion.strategies import FusionCox
from multisurv.persistence import (TRUSTED_TYPES, ModelLoadError, StudyModel, load_model, model_types, save_model,
                                   sha256_file, sha256_frame)
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.lasso_cox import LassoCoxSelector


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 6)), columns=[f"{p}f{i}" for p in ("ct__", "wsi__") for i in range(3)])
    X.iloc[:15, :3] = np.nan
    y = make_y(rng.exponential(np.exp(-X["ct__f0"].fillna(0) - X["wsi__f0"])), rng.random(120) < 0.8)
    scores = [ModalityScore(name="radscore", prefix="ct__", selector=LassoCoxSelector(cv=3)),
              ModalityScore(name="patscore", prefix="wsi__", selector=LassoCoxSelector(cv=3))]
    est = FusionCox(strategy="late", missing="pattern", scores=scores, cv=3, random_state=0).fit(X, y)
    return StudyModel(estimator=est, feature_columns=list(X.columns), config={"seed": 0}), X, y


def test_round_trip_gives_identical_scores(fitted, tmp_path):
    model, X, y = fitted
    path = save_model(model, tmp_path / "m", data={"X": X, "y": pd.DataFrame(y)}, extra={"c": np.float64(0.7)})
    loaded, manifest = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.estimator.predict(X), model.estimator.predict(X))
    pd.testing.assert_frame_equal(loaded.predict_frame(X), model.predict_frame(X))
    assert manifest["model_sha256"] == sha256_file(tmp_path / "m" / "model.skops")
    assert manifest["data"]["X"] == {"sha256": sha256_frame(X), "rows": 120, "columns": 6}
    assert manifest["feature_columns"] == list(X.columns) and manifest["extra"] == {"c": 0.7}
    assert path == tmp_path / "m" / "manifest.json"


def test_changed_model_file_is_not_read(fitted, tmp_path, monkeypatch):
    model, _, _ = fitted
    save_model(model, tmp_path)
    sio.dump(StudyModel(estimator=None, feature_columns=[]), tmp_path / "model.skops")  # a valid but other model
    calls = []
    monkeypatch.setattr(sio, "load", lambda *a, **k: calls.append(a))
    with pytest.raises(ModelLoadError, match=r"model.skops has SHA-256 [0-9a-f]{64}, but .*manifest.json records "
                                             r"[0-9a-f]{64}: the model file was changed after it was saved"):
        load_model(tmp_path)
    assert calls == []


@pytest.mark.parametrize("package,saved", [("scikit-learn", "0.24.2"), ("python", "3.8.10"), ("multisurv", "9.0.0")])
def test_other_versions_are_refused_unless_allowed(fitted, tmp_path, package, saved):
    model, X, _ = fitted
    save_model(model, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["versions"][package] = saved
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=rf"was saved with other versions: {package} {saved} \(saved\) vs"):
        load_model(tmp_path)
    loaded, _ = load_model(tmp_path, allow_version_mismatch=True)
    np.testing.assert_array_equal(loaded.estimator.predict(X), model.estimator.predict(X))


def test_patch_version_differences_are_accepted(fitted, tmp_path):
    model, _, _ = fitted
    save_model(model, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    major, minor, *_ = manifest["versions"]["numpy"].split(".")
    manifest["versions"]["numpy"] = f"{major}.{minor}.999"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    load_model(tmp_path)


def test_broken_folders(fitted, tmp_path):
    model, _, _ = fitted
    with pytest.raises(ModelLoadError, match=r"manifest.json not found: .* is not a saved multisurv model"):
        load_model(tmp_path)
    save_model(model, tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match=r"manifest.json is not valid JSON"):
        load_model(tmp_path)
    save_model(model, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["format"] = "other.v9"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=r"unknown model format 'other.v9'"):
        load_model(tmp_path)
    sio.dump({"not": "a model"}, tmp_path / "model.skops")
    manifest.update(format="multisurv-model.v2", model_sha256=sha256_file(tmp_path / "model.skops"))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=r"holds a dict, not a multisurv StudyModel"):
        load_model(tmp_path)


def test_round_trip_keeps_pandas_objects_and_tuple_keys(tmp_path):
    frame = pd.DataFrame({"a": [1.5, np.nan], "b": pd.Categorical(["x", "y"]), "c": ["p", None], 3: [True, False]},
                         index=pd.Index(["p1", "p2"], name="patient_id"))
    config = {"frame": frame, "series": frame["a"], "index": pd.RangeIndex(2, 8, 2), (0, 1): "tuple key"}
    save_model(StudyModel(estimator=None, feature_columns=["a"], config={}), tmp_path)
    model = StudyModel(estimator=config, feature_columns=["a"])
    save_model(model, tmp_path)
    loaded, _ = load_model(tmp_path)
    pd.testing.assert_frame_equal(loaded.estimator["frame"], frame)
    pd.testing.assert_series_equal(loaded.estimator["series"], frame["a"])
    pd.testing.assert_index_equal(loaded.estimator["index"], pd.RangeIndex(2, 8, 2))
    assert loaded.estimator[(0, 1)] == "tuple key"
    assert isinstance(model.estimator["frame"], pd.DataFrame)  # saving does not change the model in memory


class _Payload:
    """Creates a marker file when unpickled: stands in for any code a hostile pickle would run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _hostile_manifest(folder: Path, model_file: str, fmt: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({
        "format": fmt, "model_file": model_file, "model_sha256": sha256_file(folder / model_file),
        "versions": {}, "feature_columns": []}))


def test_pickle_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps(_Payload(marker))
    pickle.loads(payload)  # the payload is live: unpickling it does run code
    assert marker.exists()
    marker.unlink()
    old = tmp_path / "old"  # the old pickle format with a matching (rehashed) manifest
    old.mkdir()
    (old / "model.joblib").write_bytes(payload)
    _hostile_manifest(old, "model.joblib", "multisurv-model.v1")
    with pytest.raises(ModelLoadError, match=r"format 'multisurv-model.v1' is a pickle \(model.joblib\), which can "
                                             r"run code when loaded, so this multisurv .* does not load it. Refit"):
        load_model(old)
    renamed = tmp_path / "renamed"  # the pickle under the new name, rehashed
    renamed.mkdir()
    (renamed / "model.skops").write_bytes(payload)
    _hostile_manifest(renamed, "model.skops", "multisurv-model.v2")
    with pytest.raises(ModelLoadError, match=r"model.skops is not a skops model file \(BadZipFile"):
        load_model(renamed)
    assert not marker.exists()


def _skops_calling(folder: Path, marker: Path) -> Path:
    """A skops file whose only object is built by calling ``os.system('touch MARKER')``."""
    folder.mkdir(exist_ok=True)
    arg = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": json.dumps(
        f"touch {marker}"), "is_json": True, "__id__": 1}
    schema = {"__class__": "system", "__module__": "os", "__loader__": "LossNode", "__id__": 2,
              "__reduce__": {"args": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                                      "content": [arg], "__id__": 3}},
              "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
                          "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                                        "content": [], "__id__": 5}, "__id__": 4},
              "protocol": PROTOCOL, "_skops_version": "0.16.0"}
    with zipfile.ZipFile(folder / "model.skops", "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    _hostile_manifest(folder, "model.skops", "multisurv-model.v2")
    return folder / "model.skops"


def test_skops_file_naming_os_system_is_refused_without_running(tmp_path):
    marker = tmp_path / "payload-ran"
    path = _skops_calling(tmp_path / "m", marker)
    sio.load(path, trusted=["os.system"])  # the payload is live: trusting its type does run the command
    assert marker.exists()
    marker.unlink()
    assert model_types(path) >= {"os.system"}
    with pytest.raises(ModelLoadError, match=r"model.skops names type\(s\) that a multisurv model never contains: "
                                             r"os.system. It was not loaded \(nothing in it was constructed\)"):
        load_model(tmp_path / "m")
    assert not marker.exists()


def test_saving_an_untrusted_type_is_refused(tmp_path):
    model = StudyModel(estimator={"f": np.linalg.solve}, feature_columns=[])
    with pytest.raises(ModelLoadError, match=r"holds type\(s\) that a saved model may not contain: .*solve. It was "
                                             r"not saved"):
        save_model(model, tmp_path)
    assert not list(tmp_path.iterdir())


def test_crafted_tree_is_refused(tmp_path):
    from sksurv.ensemble import RandomSurvivalForest

    rng = np.random.default_rng(0)
    y = make_y(rng.exponential(1, 30), rng.random(30) < 0.7)
    forest = RandomSurvivalForest(n_estimators=2, max_depth=2, random_state=0).fit(rng.normal(size=(30, 2)), y)
    save_model(StudyModel(estimator=forest, feature_columns=["a", "b"]), tmp_path)
    load_model(tmp_path)  # a tree as fitted is accepted
    with zipfile.ZipFile(tmp_path / "model.skops") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(files["schema.json"])
    nodes = next(_find(schema, lambda d: d.get("__class__") == "Tree"))["content"]["content"]["nodes"]["file"]
    arr = np.load(__import__("io").BytesIO(files[nodes]), allow_pickle=False)
    arr["left_child"][0] = 10_000  # points far outside the tree
    buf = __import__("io").BytesIO()
    np.save(buf, arr, allow_pickle=False)
    files[nodes] = buf.getvalue()
    with zipfile.ZipFile(tmp_path / "model.skops", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["model_sha256"] = sha256_file(tmp_path / "model.skops")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=r"holds a decision tree whose nodes point outside the tree"):
        load_model(tmp_path)


def _find(node, predicate):
    if isinstance(node, dict):
        if predicate(node):
            yield node
        for value in node.values():
            yield from _find(value, predicate)
    elif isinstance(node, list):
        for value in node:
            yield from _find(value, predicate)


def test_model_folder_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ModelLoadError, match=r"is a file; a saved multisurv model is a folder"):
        load_model(tmp_path / "f")
    with pytest.raises(ModelLoadError, match=r"is a file, not a folder. Choose another '--out' path"):
        save_model(StudyModel(estimator=None, feature_columns=[]), tmp_path / "f")


def test_trusted_types_are_only_multisurv_and_its_numerical_stack():
    roots = {t.split(".")[0] for t in TRUSTED_TYPES}
    assert roots <= {"builtins", "numpy", "multisurv", "sklearn", "sksurv"}
    assert not any(t.startswith(("builtins.eval", "builtins.exec", "os.", "subprocess.")) for t in TRUSTED_TYPES)


@pytest.mark.slow
def test_every_fit_config_saves_with_trusted_types_only(tmp_path):
    """Each selector x fusion (and each non-linear model) a study config can ask for saves and reloads."""
    from multisurv.features.clinical import ClinicalPreprocessor
    from multisurv.registry import FUSION_STRATEGIES
    from multisurv.study.config import StudyConfig
    from multisurv.study.models import build_models

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(80, 8)), columns=[f"{p}f{i}" for p in ("ct__", "wsi__") for i in range(4)])
    X.iloc[:10, :4] = np.nan
    y = make_y(rng.exponential(np.exp(-X["ct__f0"].fillna(0) - X["wsi__f0"])), rng.random(80) < 0.8)
    clinical_raw = pd.DataFrame({"age": rng.normal(60, 5, 80), "sex": rng.choice(["female", "male"], 80)},
                                index=X.index)
    clinical = ClinicalPreprocessor(numeric=["age"], categorical=["sex"]).fit(clinical_raw)
    (tmp_path / "t.csv").write_text("patient_id,f0\nP1,1.0\n")  # the config checks that a table exists

    def models(radiomics: dict, pathomics: dict, strategies: list[str]) -> dict:
        table = {"kind": "table", "path": str(tmp_path / "t.csv")}
        return build_models(StudyConfig.from_dict({
            "schema": "study_config.v1", "name": "s", "out": str(tmp_path), "cohort": {"synthetic": {}},
            "modalities": {"ct": {**table, "prefix": "ct__", **radiomics},
                           "wsi": {**table, "prefix": "wsi__", **pathomics}},
            "fusion": {"strategies": strategies, "cv": 3}}))

    selectors = {"variance": {}, "correlation": {"threshold": 0.9}, "univariate_cox": {"p_threshold": 0.5},
                 "lasso": {"cv": 3}, "elastic_net": {"cv": 3}, "stepwise": {},
                 "rsf": {"n_features": 2, "n_estimators": 10, "n_repeats": 2}}
    lasso = {"selector": [{"lasso": {"cv": 3}}]}
    estimators = []
    for name, params in selectors.items():
        built = models({"selector": [{name: params}]}, lasso, ["early", "late", "late_insample"])
        estimators += [built[FUSION_STRATEGIES[s].model] for s in ("early", "late", "late_insample")]
    for model in ("rsf", "gbm"):
        built = models(lasso, {"model": model, "model_params": {"n_estimators": 10}, "selector": [{"variance": {}}]},
                       ["late", "late_pattern"])
        estimators += [built["late_fusion_pattern"], built["wsi"]]
    estimators.append(models({"selector": [{"variance": {}}, {"correlation": {}}, {"lasso": {"cv": 3}}]}, lasso,
                             ["late"])["ct"])
    for i, estimator in enumerate(estimators):
        estimator.fit(X, y)
        model = StudyModel(estimator=estimator, feature_columns=list(X.columns), clinical=clinical, config={"i": i})
        save_model(model, tmp_path / str(i))
        assert model_types(tmp_path / str(i) / "model.skops") <= set(TRUSTED_TYPES)
        loaded, _ = load_model(tmp_path / str(i))
        np.testing.assert_array_equal(loaded.estimator.predict(X), estimator.predict(X))
        pd.testing.assert_frame_equal(loaded.clinical.transform(clinical_raw), clinical.transform(clinical_raw))
