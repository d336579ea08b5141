"""Attention-MIL slide pooling in a study (``pooling: abmil``): the pathomics score and late fusion use an
AttentionMILScore trained on development tiles only; early fusion keeps the mean-pooled features; the report and the
QC folder get attention heatmaps of the highest- and lowest-risk external patients."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from multisurv.study.config import StudyConfig, StudyConfigError

from ..conftest import FAST_PATHOMICS

#: Small and quick MIL settings: the tiny cohort has 30 development slides of 4 tiles.
FAST_ABMIL = {"epochs": 8, "patience": 4, "hidden": 16, "attention_dim": 8, "validation_fraction": 0.3}
BASE = {"schema": "study_config.v1", "name": "abmil", "out": "runs/x", "cohort": {"synthetic": {}}}


def _config(**pathomics) -> dict:
    return {**BASE, "modalities": {"pathomics": pathomics, "clinical": {}},
            "fusion": {"strategies": ["early", "late"]}}


# ------------------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("pathomics,match", [
    ({"pooling": "attention"}, r"modalities\.pathomics\.pooling': must be one of 'mean', 'abmil'; got 'attention'"),
    ({"abmil": {"epochs": 3}}, r"modalities\.pathomics\.abmil': must be given only with 'pooling: abmil'"),
    ({"pooling": "abmil", "abmil": {"epoch": 3}}, r"abmil\.epoch': must be one of the known keys .*Did you mean "
                                                  r"'epochs'\?"),
    ({"pooling": "abmil", "abmil": {"epochs": "many"}}, r"abmil\.epochs': must be a int; got 'many'"),
    ({"pooling": "abmil", "abmil": {"loss": "mse"}}, r"The 'loss' parameter of AttentionMILScore must be one of "
                                                     r"'cox', 'discrete'\. Got 'mse' instead\."),
], ids=["unknown_pooling", "abmil_without_pooling", "misspelt_setting", "wrong_type", "bad_loss"])
def test_pooling_config_errors(pathomics, match):
    with pytest.raises(StudyConfigError, match=match):
        StudyConfig.from_dict(_config(**pathomics))


def test_pooling_on_a_table_modality_says_only_pathomics_has_tile_stores(tmp_path):
    table = tmp_path / "genes.csv"
    table.write_text("patient_id,g1\nP1,1.0\n")
    raw = {**BASE, "modalities": {"clinical": {}, "genes": {"kind": "table", "path": str(table),
                                                              "pooling": "abmil"}}}
    with pytest.raises(StudyConfigError, match=r"modalities\.genes\.pooling': must be set on a pathomics modality "
                                               r"only .*tile stores"):
        StudyConfig.from_dict(raw)


def test_abmil_is_refused_with_a_binary_endpoint():
    raw = {**_config(pooling="abmil"), "endpoint": {"type": "binary", "horizon": 24}, "fusion": {}}
    with pytest.raises(StudyConfigError, match=r"modalities\.pathomics\.pooling': must be 'mean' with a binary "
                                               r"endpoint"):
        StudyConfig.from_dict(raw)


def test_default_pooling_is_mean_and_abmil_round_trips():
    mean = StudyConfig.from_dict(_config())
    assert "pooling" not in mean.modality("pathomics").options
    cfg = StudyConfig.from_dict(_config(pooling="abmil", abmil={"epochs": 3}))
    assert cfg.modality("pathomics").options["abmil"] == {"epochs": 3}
    assert StudyConfig.from_dict(cfg.to_dict()).modalities == cfg.modalities


# --------------------------------------------------------------------------------------------- build_models
def test_build_models_gives_the_mil_score_to_the_score_and_late_fusion_only():
    from multisurv.scores.mil import AttentionMILScore
    from multisurv.scores.modality_score import ModalityScore
    from multisurv.study.models import build_models

    cfg = StudyConfig.from_dict({**_config(pooling="abmil", abmil={"epochs": 3}),
                                 "fusion": {"strategies": ["early", "late", "late_insample"]}})
    models = build_models(cfg)
    assert isinstance(models["pathomics"], AttentionMILScore)
    assert models["pathomics"].epochs == 3 and models["pathomics"].name == "patscore"
    assert [type(s) for s in models["late_fusion"].scores] == [AttentionMILScore, ModalityScore]
    assert [type(s) for s in models["late_fusion_insample"].scores] == [AttentionMILScore, ModalityScore]
    assert [type(s) for s in models["early_fusion"].scores] == [ModalityScore, ModalityScore]  # features
    mean = build_models(StudyConfig.from_dict(_config()))
    assert isinstance(mean["pathomics"], ModalityScore)


# ------------------------------------------------------------------------------- wiring, on patch files only
def _patch_cohort(folder, n_dev=40, n_ext=12, n_tiles=6, dim=8, seed=0):
    """Patch files (no slides) whose tiles carry the true risk, mean-pooled ``wsi__`` columns and a clinical
    column; ids ``D00..`` development, ``E00..`` external."""
    from multisurv._validation import make_y
    from multisurv.features.wsi.patch_store import PatchWriter

    rng = np.random.default_rng(seed)
    ids = [f"D{i:02d}" for i in range(n_dev)] + [f"E{i:02d}" for i in range(n_ext)]
    lp = rng.normal(size=len(ids))
    rows = []
    for pid, risk in zip(ids, lp):
        tiles = rng.normal(size=(n_tiles, dim)) + np.outer(rng.random(n_tiles) < 0.5, np.r_[risk, np.zeros(dim - 1)])
        coords = np.column_stack([np.arange(n_tiles) * 224, np.zeros(n_tiles)])
        with PatchWriter(folder / f"{pid}.h5", n_tiles, dim, coords=coords, tissue=np.ones(n_tiles)) as w:
            w.write(np.arange(n_tiles), tiles, keep=np.ones(n_tiles, bool))
        rows.append(tiles.mean(axis=0))
    X = pd.DataFrame(rows, index=pd.Index(ids, name="patient_id"), columns=[f"wsi__f{k}" for k in range(dim)])
    X["clin__age"] = lp + 0.3 * rng.normal(size=len(ids))  # a strong clinical term: the LASSO keeps it
    time = rng.exponential(np.exp(-lp))
    y = make_y(time, rng.random(len(ids)) < 0.8)
    return X, y, n_dev


def _abmil_models(folder, strategies=("early", "late")):
    from multisurv.registry import make_modality
    from multisurv.study.run import _with_patches

    cfg = StudyConfig.from_dict({**BASE, "modalities": {"pathomics": {"pooling": "abmil", "abmil": FAST_ABMIL},
                                                        "clinical": {}},
                                 "selection": {"cv": 3}, "fusion": {"strategies": list(strategies), "cv": 3}})
    from multisurv.study.models import build_models

    pathomics = cfg.modality("pathomics")
    assert pathomics == make_modality("pathomics", dict(pathomics.options))
    return _with_patches(build_models(cfg), [pathomics], {"pathomics": folder}, [f"D{i:02d}" for i in range(40)])


@pytest.mark.wsi
def test_mil_wiring_fits_on_development_tiles_only(tmp_path):
    """The study's MIL score and late fusion read the patch folder extraction wrote; poisoning every external
    patient's tiles (extreme values) changes nothing fitted and no development score."""
    from multisurv.scores.mil import AttentionMILScore
    from multisurv.features.wsi.patch_store import PatchWriter

    pytest.importorskip("torch")
    folder = tmp_path / "patches"
    folder.mkdir()
    X, y, n_dev = _patch_cohort(folder)
    dev = X.index[:n_dev]
    models = _abmil_models(folder)
    assert models["pathomics"].patches == str(folder)
    assert models["late_fusion"].scores[0] is models["pathomics"]  # the copy keeps the scores shared
    fitted = {name: models[name].fit(X.loc[dev], y[:n_dev]) for name in ("pathomics", "late_fusion")}
    assert isinstance(fitted["late_fusion"].scores_[0], AttentionMILScore)
    before = {name: m.predict(X) for name, m in fitted.items()}
    coef = fitted["late_fusion"].coef_.copy()

    for pid in X.index[n_dev:]:  # poison the external tiles, then refit from scratch
        with PatchWriter(folder / f"{pid}.h5", 6, 8, coords=np.zeros((6, 2)), tissue=np.ones(6)) as w:
            w.write(np.arange(6), np.full((6, 8), 1e6), keep=np.ones(6, bool))
    again = {name: _abmil_models(folder)[name].fit(X.loc[dev], y[:n_dev]) for name in ("pathomics", "late_fusion")}
    pd.testing.assert_series_equal(again["late_fusion"].coef_, coef)
    for name, m in again.items():
        np.testing.assert_array_equal(m.predict(X.loc[dev]), before[name][:n_dev])
    assert not np.allclose(again["pathomics"].predict(X)[n_dev:], before["pathomics"][n_dev:])  # scored only


@pytest.mark.wsi
def test_attention_maps_pick_the_extreme_external_patients(tmp_path):
    from multisurv.report.attention import attention_section, write_attention_figures
    from multisurv.study.attention import attention_maps, attention_table

    pytest.importorskip("torch")
    folder = tmp_path / "patches"
    folder.mkdir()
    X, y, n_dev = _patch_cohort(folder)
    score = _abmil_models(folder)["pathomics"].fit(X.iloc[:n_dev], y[:n_dev])
    predictions = pd.DataFrame({"cohort": ["development"] * n_dev + ["external"] * (len(X) - n_dev),
                                "pathomics": score.predict(X)}, index=X.index)
    maps = attention_maps(score, "pathomics", predictions, development="development", n=2)
    external = predictions["pathomics"].iloc[n_dev:]
    assert [(m.role, m.patient_id) for m in maps] == [
        ("highest risk", external.idxmax()), ("highest risk", external.drop(external.idxmax()).idxmax()),
        ("lowest risk", external.idxmin()), ("lowest risk", external.drop(external.idxmin()).idxmin())]
    table = attention_table(maps)
    assert table.groupby("patient_id")["attention"].sum().to_numpy() == pytest.approx(1.0)
    assert len(table) == 4 * 6
    rows, skipped = write_attention_figures(tmp_path / "run", maps)  # no slide recorded: nothing drawn, said why
    assert rows == [] and len(skipped) == 4 and "does not exist" in skipped[0]
    text = "\n".join(attention_section(rows, [], skipped))
    assert "Not drawn: attention map of 'E" in text


@pytest.mark.wsi
def test_missing_tile_stores_are_named_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match=r"Modality 'pathomics' has 'pooling: abmil', which trains on the per-slide "
                                         r"tile stores .* but 0 of 40 development patients have one .*'pooling: "
                                         r"mean'"):
        _abmil_models(tmp_path)


# -------------------------------------------------------------------------------------------- whole study
@pytest.fixture(scope="module")
def abmil_run(small_synthetic_cohort, tmp_path_factory):
    from multisurv.cli import main

    root, manifest, _ = small_synthetic_cohort
    out = tmp_path_factory.mktemp("abmil")
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False).drop(columns=["ct_image", "ct_mask"])
    frame["wsi"] = [str((manifest.parent / v).resolve()) if v else "" for v in frame["wsi"]]
    frame.to_csv(out / "manifest.csv", index=False)  # slides and clinical data only: no CT to extract
    config = {
        "schema": "study_config.v1", "name": "attention-MIL", "out": str(out / "run"), "seed": 0,
        "feature_cache": str(root / "features"), "cohort": {"manifest": str(out / "manifest.csv")},
        "modalities": {"pathomics": {**FAST_PATHOMICS, "pooling": "abmil", "abmil": FAST_ABMIL}, "clinical": {}},
        "selection": {"cv": 3}, "fusion": {"strategies": ["early", "late"], "cv": 3},
        "validation": {"n_bootstrap": 20, "internal": "cv", "n_splits": 3},
    }
    path = out / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random-init encoder and small-sample convergence warnings are expected
        assert main(["run", str(path), "--no-progress"]) == 0
    return out / "run"


@pytest.mark.wsi
@pytest.mark.slow  # a whole study: ~50 s on 2 cores with slide extraction, ~20 s on a warm feature cache
def test_abmil_study_scores_pathomics_with_the_mil_model_and_draws_attention(abmil_run):
    from multisurv.features.wsi.patch_store import read_patches

    predictions = pd.read_csv(abmil_run / "predictions.csv", index_col=0)
    attention = pd.read_csv(abmil_run / "tables" / "pathomics_attention.csv", dtype={"patient_id": str})
    # the pathomics score is the MIL risk: centred on the development slides, one attention weight per tile
    dev = predictions["cohort"] == "development"
    assert abs(predictions.loc[dev, "pathomics"].mean()) < 1e-6
    for pid, tiles in attention.groupby("patient_id"):
        assert tiles["attention"].sum() == pytest.approx(1.0, abs=1e-5)  # written with 8 significant digits
        assert predictions.loc[pid, "pathomics"] == pytest.approx(tiles["risk"].iloc[0], abs=1e-6)
        assert predictions.loc[pid, "cohort"] != "development"  # chosen among the external patients
    external = predictions.loc[~dev, "pathomics"].dropna()
    highest = attention.loc[attention["role"] == "highest risk"].sort_values("rank")["patient_id"].unique()
    assert highest[0] == external.idxmax()
    patch = read_patches(next((abmil_run.parent.parent).rglob(f"patches/{highest[0]}.h5")), features=False)
    assert len(attention[attention["patient_id"] == highest[0]]) == int(patch.keep.sum() or len(patch.coords))
    # late fusion's patscore is the MIL score, not a LASSO on the mean-pooled wsi__ columns
    late = pd.read_csv(abmil_run / "tables" / "late_fusion_formula.csv")
    assert list(late["term"]) == ["patscore", "clinscore"]
    assert not (abmil_run / "tables" / "pathomics_formula.csv").exists()
    # figures: report and QC folder
    figures = sorted((abmil_run / "figures").glob("attention_pathomics_*.png"))
    assert [p.stem for p in figures] == ["attention_pathomics_high_1", "attention_pathomics_high_2",
                                         "attention_pathomics_low_1", "attention_pathomics_low_2"]
    assert len(list((abmil_run / "qc" / "attention" / "pathomics").glob("*.png"))) == 4
    report = (abmil_run / "report.md").read_text()
    assert "## Attention-MIL slide score" in report and "figures/attention_pathomics_high_1.png" in report
    html = (abmil_run / "report.html").read_text()
    assert html.count("data:image/png;base64") >= 4 and "Attention-MIL slide score" in html
    assert "attention-MIL slide score" in report and "model/ was not written" in report
    assert not np.isnan(predictions["late_fusion"]).any()
    internal = pd.read_csv(abmil_run / "tables" / "internal_validation.csv")  # the MIL score refitted per fold
    row = internal.set_index("model").loc["pathomics"]
    assert row["n_failed"] == 0 and 0 <= row["corrected"] <= 1
