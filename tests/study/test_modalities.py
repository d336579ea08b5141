"""Any set of modalities through ``multisurv run CONFIG.yaml``: five modalities (radiomics, pathomics, clinical, a
gene table and a second radiomics series) on a cohort with two external centres."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from multisurv.cli import main
from multisurv.registry import MODALITY_KINDS, make_modality, path_columns
from multisurv.study.config import StudyConfig, StudyConfigError
from multisurv.study.evaluate import POOLED_EXTERNAL

from ..conftest import FAST_PATHOMICS

pytestmark = [pytest.mark.wsi, pytest.mark.radiomics]

N_GENES = 12


def _five_modality_study(root, manifest, truth, out):
    """Manifest with a second CT series (the same CT, its tumour mask dilated by one voxel, as a second phase's
    contour might differ) and two external centres; a gene table whose first genes carry the true risk."""
    import SimpleITK as sitk

    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    folder = out / "data"
    folder.mkdir(parents=True)
    for col in ("ct_image", "ct_mask", "wsi"):
        frame[col] = [str((manifest.parent / v).resolve()) if v else "" for v in frame[col]]
    dilated = []
    for pid, mask in zip(frame["patient_id"], frame["ct_mask"]):
        if not mask:
            dilated.append("")
            continue
        image = sitk.ReadImage(mask)
        path = folder / f"{pid}_art_mask.nrrd"
        sitk.WriteImage(sitk.Cast(sitk.BinaryDilate(image > 0, [1, 1, 1]), sitk.sitkUInt8), str(path))
        dilated.append(str(path))
    frame.insert(7, "ct_art_image", frame["ct_image"])
    frame.insert(8, "ct_art_mask", dilated)
    frame.insert(9, "ct_mask_reader2", dilated)  # a second reader whose contours are one voxel wider
    external = frame.index[frame["cohort"] != "development"]
    frame.loc[external[::2], "cohort"] = "centre_A"
    frame.loc[external[1::2], "cohort"] = "centre_B"
    frame.to_csv(folder / "manifest.csv", index=False)

    rng = np.random.default_rng(11)
    lp = truth["true_lp"].reindex(frame["patient_id"]).to_numpy()
    genes = pd.DataFrame(rng.normal(size=(len(frame), N_GENES)), columns=[f"G{i:02d}" for i in range(N_GENES)])
    genes.iloc[:, :3] += (lp - lp.mean())[:, None] / lp.std()
    genes.insert(0, "patient_id", frame["patient_id"].to_numpy())
    genes.iloc[:-3].to_csv(folder / "expression.csv", index=False)  # the last 3 patients lack expression data
    config = {
        "schema": "study_config.v1", "name": "five modalities", "out": str(out / "run"), "seed": 0,
        "feature_cache": str(root / "features"),
        "cohort": {"manifest": str(folder / "manifest.csv")},
        "modalities": {"radiomics": {"readers": ["ct_mask", "ct_mask_reader2"], "robustness": {"icc_min": 0.75}},
                       "pathomics": FAST_PATHOMICS, "clinical": {},
                       "genes": {"kind": "table", "path": "data/expression.csv"},
                       "ct_arterial": {"kind": "radiomics", "image": "ct_art_image", "mask": "ct_art_mask",
                                       "label": "Radiomics, arterial phase"}},
        "selection": {"cv": 3}, "fusion": {"strategies": ["early", "late"], "cv": 3},
        "validation": {"n_bootstrap": 30},
    }
    path = out / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def five(small_synthetic_cohort, tmp_path_factory):
    root, manifest, truth = small_synthetic_cohort
    out = tmp_path_factory.mktemp("five")
    config = _five_modality_study(root, manifest, truth, out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random-init encoder and small-sample convergence warnings are expected
        assert main(["run", str(config), "--no-progress"]) == 0
    return out / "run"


def test_every_modality_gets_a_score_and_both_fusions_use_all_five(five):
    metrics = pd.read_csv(five / "metrics.csv")
    modalities = ["radiomics", "pathomics", "clinical", "genes", "ct_arterial"]
    assert list(dict.fromkeys(metrics["model"])) == [*modalities, "early_fusion", "late_fusion"]
    late = pd.read_csv(five / "tables" / "late_fusion_formula.csv")
    assert list(late["term"]) == ["radscore", "patscore", "clinscore", "genes_score", "ct_arterial_score"]
    for name in modalities:
        formula = pd.read_csv(five / "tables" / f"{name}_formula.csv")
        prefix = make_modality(name, {"kind": "table"} if name == "genes" else
                               {"kind": "radiomics", "image": "a", "mask": "b"} if name == "ct_arterial" else None).prefix
        assert formula["feature"].iloc[:-1].str.startswith(prefix).all()
    early = pd.read_csv(five / "tables" / "early_fusion_formula.csv")
    assert early["term"].str.contains("__").all()
    predictions = pd.read_csv(five / "predictions.csv", index_col=0)
    assert predictions[["early_fusion", "late_fusion"]].notna().all().all()  # fusions score every patient
    assert predictions["genes"].isna().sum() == 3  # the three patients without a row have no gene score


def test_second_series_is_cached_apart_from_the_first(five):
    config = yaml.safe_load((five / "config.resolved.yaml").read_text())
    features = Path(config["feature_cache"])
    assert list((features / "ct").glob("radiomics_*")) and list((features / "ct_arterial" / "ct").glob("radiomics_*"))
    record = yaml.safe_load((five / "run.json").read_text())
    assert record["modalities"] == ["radiomics", "pathomics", "clinical", "genes", "ct_arterial"]
    assert set(pd.read_csv(five / "data_hashes.csv")["column"]) == {"ct_image", "ct_mask", "ct_mask_reader2", "wsi",
                                                                   "ct_art_image", "ct_art_mask"}


def test_two_readers_and_a_robustness_filter_before_the_lasso(five):
    icc = pd.read_csv(five / "tables" / "radiomics_reproducibility_icc.csv", index_col=0)
    assert icc.index.str.startswith("ct__").all() and icc["icc2_1"].dropna().between(-1, 1).all()
    robust = set(icc.index[icc["icc2_1"] >= 0.75])
    selected = pd.read_csv(five / "tables" / "radiomics_formula.csv")["feature"].iloc[:-1]
    assert set(selected) <= robust  # the LASSO only saw features the readers agree on (on training patients)
    report = (five / "report.md").read_text()
    assert "## Feature robustness" in report and "figures/icc_radiomics.png" in report
    row = next(line for line in report.splitlines() if line.startswith("| radiomics | readers' masks"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[3]) == len(icc) and int(cells[4]) <= int(cells[3]) and int(cells[5]) == len(selected)


def test_two_external_centres_are_evaluated_apart_and_pooled(five):
    metrics = pd.read_csv(five / "metrics.csv")
    late = metrics[(metrics["model"] == "late_fusion") & (metrics["subset"] == "available")].set_index("cohort")
    assert list(late.index) == ["development", "centre_A", "centre_B", POOLED_EXTERNAL]
    assert late.loc[POOLED_EXTERNAL, "n"] == late.loc["centre_A", "n"] + late.loc["centre_B", "n"]
    assert late.loc[POOLED_EXTERNAL, "events"] == late.loc["centre_A", "events"] + late.loc["centre_B", "events"]
    html = (five / "report.html").read_text()
    for label in ("centre_A", "centre_B", POOLED_EXTERNAL):
        assert f"C-index {label}" in html
    assert "Radiomics, arterial phase" in html and "Genes (genes_score)" in html


def test_the_saved_model_is_the_reported_late_fusion(five):
    from multisurv.persistence import load_model

    model, manifest = load_model(five / "model")
    assert model.config["model"] == "late_fusion"
    assert list(model.estimator.coef_.index) == ["radscore", "patscore", "clinscore", "genes_score",
                                                 "ct_arterial_score"]


def test_fit_on_the_study_config_saves_the_model_run_saved(five, tmp_path, capsys):
    """``multisurv fit STUDY.yaml`` (no evaluation) saves the same late fusion as ``multisurv run`` did."""
    from multisurv.persistence import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random-init encoder and small-sample convergence warnings are expected
        assert main(["fit", str(five.parent / "study.yaml"), "--out", str(tmp_path / "fit"), "--no-progress"]) == 0
    assert "Model 'late_fusion' fitted on 30 development patients" in capsys.readouterr().out
    fitted, record = load_model(tmp_path / "fit" / "model")
    reported, reported_record = load_model(five / "model")
    pd.testing.assert_series_equal(fitted.estimator.coef_, reported.estimator.coef_, rtol=0, atol=0)
    assert record["data"] == reported_record["data"]  # the same development features (SHA-256)
    assert record["extra"]["apparent_cindex"] == pytest.approx(reported_record["extra"]["apparent_cindex"], abs=1e-12)
    assert not (tmp_path / "fit" / "metrics.csv").exists() and not (tmp_path / "fit" / "report.md").exists()


def test_modalities_config_lists_every_problem():
    with pytest.raises(StudyConfigError) as info:
        StudyConfig.from_dict({"schema": "study_config.v1", "name": "x", "out": "o", "cohort": {"synthetic": {}},
                               "modalities": {"genes": {"path": "nowhere.csv"},
                                              "ct2": {"kind": "radiomics", "image": "ct_image", "mask": "m2"},
                                              "Bad Name": {}, "omics": {"kind": "table", "colour": "red"}}})
    text = str(info.value)
    kinds = ", ".join(repr(k) for k in MODALITY_KINDS)
    assert f"key 'modalities.genes.kind': must be one of {kinds} (a modality that is not built in" in text
    assert "key 'modalities.Bad Name'" in text
    assert "key 'modalities.omics.colour'" in text and "key 'modalities.omics.path'" in text


def test_path_columns_follow_the_modalities():
    mods = [make_modality("radiomics", {"readers": ["ct_mask", "r2"]}),
            make_modality("ct_arterial", {"kind": "radiomics", "image": "art", "mask": "art_mask"})]
    assert path_columns(mods) == {"ct_image": "ct_image", "ct_mask": "ct_mask", "r2": "ct_mask", "art": "ct_image",
                                  "art_mask": "ct_mask"}
