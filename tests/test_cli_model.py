"""``multisurv fit`` and ``multisurv predict``: a retired model config read as a study config, fit -> save -> load ->
predict, refusals."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from multisurv.cli import main
from multisurv.cli_model import ConfigError, load_model_config
from multisurv.cohort.schema import schemas_dir
from multisurv.cohort.synthetic import make_synthetic_table
from multisurv.persistence import load_model

pytestmark = pytest.mark.filterwarnings("ignore::multisurv.exceptions.ConvergenceWarning")


def write_study(root: Path, *, n_dev=120, n_ext=60, seed=0) -> Path:
    """The synthetic cohort's table (no images) with CT and slide features drawn from its latent truth.

    ct__f0 tracks u_ct and ct__f1 the tumour size; wsi__f0 tracks u_path; 6 noise features each. Patients
    the generator marks as lacking CT or a slide are absent from that feature table.
    """
    manifest, truth = make_synthetic_table(n_dev, n_ext, random_state=seed)
    rng = np.random.default_rng(seed)
    ids = manifest["patient_id"]
    ct = pd.DataFrame(rng.normal(size=(len(ids), 8)), columns=[f"ct__f{i}" for i in range(8)])
    ct["ct__f0"] = truth["u_ct"] + 0.3 * ct["ct__f0"]
    ct["ct__f1"] = truth["z_size"] + 0.3 * ct["ct__f1"]
    wsi = pd.DataFrame(rng.normal(size=(len(ids), 8)), columns=[f"wsi__f{i}" for i in range(8)])
    wsi["wsi__f0"] = truth["u_path"] + 0.3 * wsi["wsi__f0"]
    ct.insert(0, "patient_id", ids)
    wsi.insert(0, "patient_id", ids)
    (root / "features").mkdir(parents=True, exist_ok=True)
    ct[truth["has_ct"].to_numpy() == 1].to_csv(root / "features" / "radiomics.csv", index=False)
    wsi[truth["has_wsi"].to_numpy() == 1].to_csv(root / "features" / "pathomics.csv", index=False)
    manifest.to_csv(root / "manifest.csv", index=False)
    config = yaml.safe_load((schemas_dir() / "model_config.v1.yaml").read_text())
    for m in config["modalities"]:  # cheaper CV for tests
        for step in m["selector"]:
            if "lasso" in step:
                step["lasso"]["cv"] = 3
    config["fusion"]["cv"] = 3
    path = root / "model.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("model_study")
    config = write_study(root)
    assert main(["fit", str(config), "--out", str(root / "model")]) == 0
    return root, config


def test_shipped_example_config_is_valid(tmp_path):
    config = write_study(tmp_path, n_dev=30, n_ext=0)
    loaded = load_model_config(config)
    assert loaded["schema"] == "model_config.v1" and len(loaded["modalities"]) == 3
    assert Path(loaded["manifest"]).is_absolute()


def test_fit_then_predict_gives_identical_scores(study, capsys):
    """The old config is written as a study config and fitted by the study core; the saved model scores a cohort
    after save -> load exactly as the in-memory fit of the same study config does."""
    from multisurv.cli_model import read_outcomes, read_table
    from multisurv.study.config import StudyConfig
    from multisurv.study.run import fit_study

    root, config = study
    written = yaml.safe_load((root / "model" / "study_config.yaml").read_text())
    assert written["schema"] == "study_config.v1" and written["figures"]["primary"] == "late_fusion"
    assert {n: m["kind"] for n, m in written["modalities"].items()} == \
        {"radscore": "table", "patscore": "table", "clinscore": "clinical"}
    assert written["modalities"]["patscore"]["selector"][1] == {"univariate_cox": {"p_threshold": 0.1,
                                                                                  "max_features": 200}}
    model, manifest = load_model(root / "model" / "model")
    assert manifest["format"] == "multisurv-model.v2" and manifest["extra"]["model"] == "late_fusion"
    assert manifest["versions"]["scikit-learn"] and manifest["model_class"].endswith("LateFusionCox")
    assert manifest["extra"]["n_patients"] == 120  # the development cohort only
    out = root / "scores.csv"
    code = main(["predict", str(root / "model" / "model"), str(root / "manifest.csv"), "--features",
                 str(root / "features" / "radiomics.csv"), str(root / "features" / "pathomics.csv"),
                 "--out", str(out)])
    assert code == 0 and "Scored 180 patients" in capsys.readouterr().out
    scores = pd.read_csv(out, dtype={"patient_id": str}, float_precision="round_trip").set_index("patient_id")
    assert list(scores.columns) == ["radscore", "patscore", "clinscore", "risk"]
    tables = [read_table(root / "features" / "radiomics.csv"), read_table(root / "features" / "pathomics.csv")]
    X = model.features(read_outcomes(root / "manifest.csv"), tables)
    np.testing.assert_array_equal(scores["risk"].to_numpy(), model.estimator.predict(X))
    # the same study config fitted again in memory gives the same risks (nothing random left unseeded)
    fresh = fit_study(StudyConfig.from_yaml(root / "model" / "study_config.yaml"), root / "refit", progress=False)
    refit, _ = load_model(fresh.run_dir / "model")
    np.testing.assert_array_equal(refit.estimator.predict(X), model.estimator.predict(X))
    # patients without CT have no radscore but do have a fused risk
    no_ct = ~scores.index.isin(read_table(root / "features" / "radiomics.csv").index)
    assert scores.loc[no_ct, "radscore"].isna().all() and scores["risk"].notna().all()


def test_tampered_model_file_is_refused(study, tmp_path, capsys):
    root, _ = study
    copy = tmp_path / "model"
    shutil.copytree(root / "model" / "model", copy)
    data = bytearray((copy / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model.skops").write_bytes(bytes(data))
    code = main(["predict", str(copy), str(root / "manifest.csv"), "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "the model file was changed after it was saved, so it was not loaded" in err
    assert not (tmp_path / "s.csv").exists()


def test_model_from_another_version_is_refused(study, tmp_path, capsys):
    root, _ = study
    copy = tmp_path / "model"
    shutil.copytree(root / "model" / "model", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["versions"]["scikit-learn"] = "0.24.2"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    code = main(["predict", str(copy), str(root / "manifest.csv"), "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert "was saved with other versions: scikit-learn 0.24.2 (saved) vs" in err
    assert "Install the saved versions (scikit-learn==0.24.2)" in err
    # the explicit override loads it (the hash still matches) and scores
    code = main(["predict", str(copy), str(root / "manifest.csv"), "--features", str(root / "features" / "radiomics.csv"),
                 str(root / "features" / "pathomics.csv"), "--out", str(tmp_path / "s.csv"), "--allow-version-mismatch"])
    assert code == 0


def test_predict_names_missing_features(study, tmp_path, capsys):
    root, _ = study
    model = str(root / "model" / "model")
    code = main(["predict", model, str(root / "manifest.csv"), "--out", str(tmp_path / "s.csv")])
    assert code == 2 and "The feature tables lack 16 column(s) the model was fitted with: 'ct__f0'" in \
        capsys.readouterr().err


def test_config_problems_are_listed_together(tmp_path):
    config = write_study(tmp_path, n_dev=20, n_ext=0)
    doc = yaml.safe_load(config.read_text())
    doc["schema"] = "model_config.v0"
    doc["features"].append("features/missing.csv")
    doc["modalities"][0]["model"] = "svm"
    doc["modalities"][1]["selector"] = [{"boruta": {}}]
    doc["fusion"]["strategy"] = "mid"
    config.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as info:
        load_model_config(config)
    text = str(info.value)
    assert text.startswith("5 problem(s) in ")
    for piece in ("'schema' must be 'model_config.v1'", "missing.csv not found", "unknown model 'svm'",
                  "unknown selector 'boruta'", "'fusion.strategy' must be one of"):
        assert piece in text
    assert main(["fit", str(config), "--out", str(tmp_path / "m")]) == 2


def _study_config(root: Path, radiomics: dict, **extra) -> Path:
    """A study config on write_study's tables: a radiomics table modality with ``radiomics`` settings, clinical."""
    doc = {"schema": "study_config.v1", "name": "one_score", "out": "run",
           "cohort": {"manifest": "study_manifest.csv"},
           "modalities": {"radiomics": {"kind": "table", "path": "features/radiomics.csv", "prefix": "ct__",
                                        "score": "radscore", **radiomics},
                          "clinical": {}},
           "fusion": {"strategies": ["late"], "cv": 3}, **extra}
    manifest = pd.read_csv(root / "manifest.csv")
    manifest.drop(columns=["ct_image", "ct_mask", "wsi"]).to_csv(root / "study_manifest.csv", index=False)
    path = root / "study.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_single_modality_is_a_primary_model_and_the_nonlinear_branch(tmp_path, capsys):
    """One score alone: the old 'strategy: none' is refused with the way to say it in a study config (a primary
    model), which fits that score alone (here a gradient-boosted Cox model on univariate-Cox-selected features)."""
    config = write_study(tmp_path, n_dev=80, n_ext=0)
    doc = yaml.safe_load(config.read_text())
    doc["modalities"] = [{"name": "radscore", "prefix": "ct__", "model": "gbm", "params": {"n_estimators": 30},
                          "selector": [{"univariate_cox": {"max_features": 3}}]}]
    doc["fusion"] = {"strategy": "none"}
    doc.pop("clinical")
    config.write_text(yaml.safe_dump(doc))
    assert main(["fit", str(config), "--out", str(tmp_path / "old")]) == 2
    assert "set 'figures.primary: radscore': 'multisurv fit' fits and saves that model alone" in \
        capsys.readouterr().err
    study = _study_config(tmp_path, {"model": "gbm", "model_params": {"n_estimators": 30},
                                     "selector": [{"univariate_cox": {"max_features": 3}}]},
                          figures={"primary": "radiomics"})
    assert main(["fit", str(study), "--out", str(tmp_path / "fit"), "--no-progress"]) == 0
    model, manifest = load_model(tmp_path / "fit" / "model")
    assert type(model.estimator).__name__ == "NonlinearScore" and manifest["extra"]["apparent_cindex"] > 0.6
    assert model.estimator.model == "gbm" and model.estimator.n_estimators == 30


def test_reference_study_recipe_elastic_net_then_stepwise(tmp_path):
    """The published recipe in a study config: penalised selection, then stepwise Cox (BIC) on what it kept; the
    score's formula lists exactly the stepwise selection, which is a subset of the elastic net's."""
    from multisurv.study.config import StudyConfig
    from multisurv.study.run import fit_study

    write_study(tmp_path, n_dev=120, n_ext=0)
    study = _study_config(tmp_path, {"selector": [{"variance": {}}, {"elastic_net": {"cv": 3}},
                                                  {"stepwise": {"criterion": "bic"}}]},
                          figures={"primary": "radiomics"})
    fit_study(StudyConfig.from_yaml(study), tmp_path / "fit", progress=False)
    model, _ = load_model(tmp_path / "fit" / "model")
    score = model.estimator
    steps = score.selector_.named_steps
    assert steps["elastic_net"].l1_ratio == 0.5
    kept, final = set(steps["elastic_net"].selected_features_), steps["stepwise"].selected_features_
    assert set(final) <= kept and list(score.coef_.index) == list(final)
    # ct__f0 tracks u_ct (log-HR 0.85); ct__f1 (tumour size, 0.5) does not survive BIC at n = 120 (measured)
    assert "ct__f0" in final
