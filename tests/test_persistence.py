"""multisurv.persistence: save -> load gives the same model; changed or incompatible files are refused."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y
from multisurv.fusion.strategies import FusionCox
from multisurv.persistence import ModelLoadError, StudyModel, load_model, save_model, sha256_file, sha256_frame
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.lasso_cox import LassoCoxSelector


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 6)), columns=[f"{p}f{i}" for p in ("ct__", "wsi__") for i in range(3)])
    X.iloc[:15, :3] = np.nan
    y = make_y(rng.random(120) < 0.8, rng.exponential(np.exp(-X["ct__f0"].fillna(0) - X["wsi__f0"])))
    scores = [ModalityScore(name="radscore", prefix="ct__", selector=LassoCoxSelector(cv=3)),
              ModalityScore(name="patscore", prefix="wsi__", selector=LassoCoxSelector(cv=3))]
    est = FusionCox(strategy="stacked", missing="pattern", scores=scores, cv=3, random_state=0).fit(X, y)
    return StudyModel(estimator=est, feature_columns=list(X.columns), config={"seed": 0}), X, y


def test_round_trip_gives_identical_scores(fitted, tmp_path):
    model, X, y = fitted
    path = save_model(model, tmp_path / "m", data={"X": X, "y": pd.DataFrame(y)}, extra={"c": np.float64(0.7)})
    loaded, manifest = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.estimator.predict(X), model.estimator.predict(X))
    pd.testing.assert_frame_equal(loaded.predict_frame(X), model.predict_frame(X))
    assert manifest["model_sha256"] == sha256_file(tmp_path / "m" / "model.joblib")
    assert manifest["data"]["X"] == {"sha256": sha256_frame(X), "rows": 120, "columns": 6}
    assert manifest["feature_columns"] == list(X.columns) and manifest["extra"] == {"c": 0.7}
    assert path == tmp_path / "m" / "manifest.json"


def test_changed_model_file_is_not_unpickled(fitted, tmp_path, monkeypatch):
    model, _, _ = fitted
    save_model(model, tmp_path)
    joblib.dump(StudyModel(estimator=None, feature_columns=[]), tmp_path / "model.joblib")  # a valid but other pickle
    calls = []
    monkeypatch.setattr(joblib, "load", lambda *a, **k: calls.append(a))
    with pytest.raises(ModelLoadError, match=r"model.joblib has SHA-256 [0-9a-f]{64}, but .*manifest.json records "
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
    joblib.dump({"not": "a model"}, tmp_path / "model.joblib")
    manifest.update(format="multisurv-model.v1", model_sha256=sha256_file(tmp_path / "model.joblib"))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=r"holds a dict, not a multisurv StudyModel"):
        load_model(tmp_path)
