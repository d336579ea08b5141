"""extract_radiomics: baseline spot check, diagnostics, failure handling, caching and params.

Reference values: PyRadiomics' baseline CSVs (``data/baseline/baseline_<class>.csv`` in AIM-Harvard/pyradiomics,
column ``lung1``), vendored in ``tests/data/pyradiomics_baseline/`` (see tests/data/README.md). Tolerance: relative
1e-6 (measured 3.7e-12; see tests/features/test_radiomics_baseline.py, which covers every case and column).
"""

from __future__ import annotations

import ast
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

radiomics = pytest.importorskip("radiomics")
sitk = pytest.importorskip("SimpleITK")

from multisurv.features.radiomics import (  # noqa: E402
    PREFIX, default_params_path, extract_radiomics, load_radiomics_params,
)

pytestmark = pytest.mark.radiomics

DATA = Path(__file__).resolve().parents[1] / "data"

IMAGE = DATA / "lung1_crop_image.nrrd"
MASK = DATA / "lung1_crop_label.nrrd"
RTOL = 1e-6  # see module docstring


def baseline(folder: Path = DATA / "pyradiomics_baseline") -> tuple[dict, pd.Series]:
    """(PyRadiomics params, expected values named ct__<feature>) of the plain lung1 column, all classes."""
    params, parts = None, []
    for path in sorted(folder.glob("baseline_*.csv")):
        table = pd.read_csv(path, index_col=0)
        if "lung1" not in table:
            continue  # shape2D: only a lung1_shape2D column (force2D settings)
        p, values = _column(table["lung1"])
        assert params in (None, p), f"{path.name} was made with other settings"
        params = p
        parts.append(values)
    return params, pd.concat(parts)


def _column(column: pd.Series) -> tuple[dict, pd.Series]:
    settings = ast.literal_eval(column["diagnostics_Configuration_Settings"])
    image_types = ast.literal_eval(column["diagnostics_Configuration_EnabledImageTypes"])
    values = column[~column.index.str.startswith("diagnostics_")].astype(float)
    values.index = PREFIX + values.index
    return {"setting": settings, "imageType": image_types}, values


def assert_matches(got: pd.Series, expected: pd.Series) -> None:
    missing = sorted(set(expected.index) - set(got.index))
    assert not missing, f"features missing from the extraction: {missing[:5]}"
    np.testing.assert_allclose(got[expected.index].to_numpy(), expected.to_numpy(), rtol=RTOL, atol=0)


def test_crop_matches_pyradiomics_baseline(tmp_path, make_cohort):
    """The vendored crop, extracted with the baseline's settings, reproduces PyRadiomics' lung1 baseline."""
    params, expected = baseline()
    assert len(expected) == 107
    res = extract_radiomics(make_cohort(lung1={"ct_image": IMAGE, "ct_mask": MASK}), out_dir=tmp_path,
                            params=params, progress=False)
    assert res.failures.empty
    assert_matches(res.features.loc["lung1"], expected)


def test_full_volume_matches_shared_baseline_and_crop(tmp_path, make_cohort, shared_data):
    """Uncropped lung1 from the shared data vs PyRadiomics' baseline files; the crop gives identical features."""
    samples = shared_data / "radiomics-samples"
    params, expected = baseline(samples / "baseline")
    cohort = make_cohort(full={"ct_image": samples / "lung1_image.nrrd", "ct_mask": samples / "lung1_label.nrrd"},
                         crop={"ct_image": IMAGE, "ct_mask": MASK})
    res = extract_radiomics(cohort, out_dir=tmp_path, params=params, progress=False)
    assert_matches(res.features.loc["full"], expected)
    # No resampling and no filters: PyRadiomics crops to the ROI itself, so the margin crop changes nothing.
    pd.testing.assert_series_equal(res.features.loc["crop"], res.features.loc["full"], check_names=False, rtol=0,
                                   atol=0)
    assert res.info.loc["full", "diagnostics_Image-original_Hash"] == "34dca4200809a5e76c702d6b9503d958093057a3"


def test_default_params_give_prefixed_features_and_keep_diagnostics(tmp_path, make_cohort):
    res = extract_radiomics(make_cohort(p1={"ct_image": IMAGE, "ct_mask": MASK}), out_dir=tmp_path, progress=False)
    features = res.features
    assert features.shape == (1, 106)  # 7 classes; glcm without SumAverage (see data_schemas/radiomics_ct.yaml)
    assert all(c.startswith("ct__original_") for c in features.columns)
    assert "ct__original_glcm_Contrast" in features and "ct__original_glcm_SumAverage" not in features
    assert np.isfinite(features.to_numpy()).all()
    assert not any("diagnostics" in c for c in features.columns)
    assert res.info.loc["p1", "diagnostics_Mask-original_VoxelNum"] == 837
    assert (res.store_dir / "info.csv").is_file()
    assert res.store_dir.parent == tmp_path / "ct" and res.store_dir.name.startswith("radiomics_")


def test_default_params_file_is_the_documented_skeleton():
    params = yaml.safe_load(default_params_path().read_text())
    assert params["imageType"] == {"Original": {}}
    assert params["setting"]["binWidth"] == 25 and params["setting"]["label"] == 1
    assert params["setting"]["resampledPixelSpacing"] is None
    assert set(params["featureClass"]) == {"shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"}


def broken_cases(tmp_path: Path) -> dict:
    label = sitk.ReadImage(str(MASK))
    empty = sitk.Image(label.GetSize(), label.GetPixelID())
    empty.CopyInformation(label)
    sitk.WriteImage(empty, str(tmp_path / "empty.nrrd"))
    sitk.WriteImage(label * 2, str(tmp_path / "label2.nrrd"))
    moved = sitk.Image(label)
    moved.SetSpacing((1.0, 1.0, 1.0))
    sitk.WriteImage(moved, str(tmp_path / "spacing.nrrd"))
    (tmp_path / "garbage.nrrd").write_text("not an image")
    return {
        "good": {"ct_image": IMAGE, "ct_mask": MASK},
        "missing": {"ct_image": IMAGE, "ct_mask": tmp_path / "nope.nrrd"},
        "empty": {"ct_image": IMAGE, "ct_mask": tmp_path / "empty.nrrd"},
        "label2": {"ct_image": IMAGE, "ct_mask": tmp_path / "label2.nrrd"},
        "geometry": {"ct_image": IMAGE, "ct_mask": tmp_path / "spacing.nrrd"},
        "garbage": {"ct_image": tmp_path / "garbage.nrrd", "ct_mask": MASK},
        "no_ct": {},
    }


def test_broken_cases_are_reported_and_the_rest_is_cached(tmp_path, caplog, make_cohort):
    cases = broken_cases(tmp_path)
    cohort = make_cohort(**cases)
    with caplog.at_level(logging.WARNING, logger="multisurv.features.batch"):
        res = extract_radiomics(cohort, out_dir=tmp_path / "features", progress=False)
    assert list(res.features.index) == ["good"]
    failures = res.failures.set_index("patient_id")
    assert list(failures.index) == ["missing", "empty", "label2", "geometry", "garbage"]  # no_ct is skipped
    assert (failures["stage"] == "radiomics").all() and (failures["error_type"] == "ExtractionError").all()
    expected = {  # literal pieces each message must contain
        "missing": ["Patient 'missing', column 'ct_mask'", "the file does not exist. Correct the 'ct_mask' path "
                    "in the manifest."],
        "empty": ["Patient 'empty': the mask is empty (no voxel is segmented). Correct the mask or drop"],
        "label2": ["Patient 'label2': the mask has no voxel with label 1; it holds label(s) [2]. Set 'label' in "
                   "the params file's 'setting' section"],
        "geometry": ["Patient 'geometry': the mask does not lie on the image's voxel grid (different spacing; "
                     "tolerance 1e-06). Image: size (512, 512, 24), spacing (0.570312, 0.570312, 5)",
                     "Mask: size (512, 512, 24), spacing (1, 1, 1)",
                     "'correctMask: true' resamples the mask onto the image grid (nearest neighbour)"],
        "garbage": ["Patient 'garbage', column 'ct_image'", "not a readable image", "Unable to determine ImageIO "
                    "reader"],
    }
    for pid, pieces in expected.items():
        message = failures.loc[pid, "message"]
        for piece in pieces:
            assert piece in message, message
    assert failures.loc["missing", "path"] == str(cases["missing"]["ct_mask"])
    assert failures.loc["empty", "path"] == str(cases["empty"]["ct_mask"])
    assert failures.loc["geometry", "path"] == str(cases["geometry"]["ct_mask"])
    assert failures.loc["garbage", "path"] == str(cases["garbage"]["ct_image"])
    assert "5 of 6 CT cases failed; see" in caplog.text

    again = extract_radiomics(cohort, out_dir=tmp_path / "features", progress=False)
    assert again.n_cached == 1
    assert again.features.to_csv() == res.features.to_csv()


def test_workers_give_identical_features(tmp_path, make_cohort):
    shutil.copy(IMAGE, tmp_path / "image2.nrrd")
    shutil.copy(MASK, tmp_path / "mask2.nrrd")
    cohort = make_cohort(a={"ct_image": IMAGE, "ct_mask": MASK},
                         b={"ct_image": tmp_path / "image2.nrrd", "ct_mask": tmp_path / "mask2.nrrd"})
    serial = extract_radiomics(cohort, out_dir=tmp_path / "serial", progress=False)
    pooled = extract_radiomics(cohort, out_dir=tmp_path / "pooled", n_workers=2, progress=False)
    pd.testing.assert_frame_equal(pooled.features, serial.features, rtol=0, atol=0)
    assert (serial.features.loc["a"] == serial.features.loc["b"]).all()


def test_params_content_names_the_store(tmp_path, make_cohort):
    cohort = make_cohort(p1={"ct_image": IMAGE, "ct_mask": MASK})
    default = extract_radiomics(cohort, out_dir=tmp_path, progress=False)
    params = load_radiomics_params()
    params["setting"]["binWidth"] = 10
    path = tmp_path / "fine.yaml"
    path.write_text(yaml.safe_dump(params))
    fine = extract_radiomics(cohort, out_dir=tmp_path, params=path, progress=False)
    assert fine.store_dir != default.store_dir
    assert fine.features.loc["p1", "ct__original_firstorder_Entropy"] > default.features.loc[
        "p1", "ct__original_firstorder_Entropy"]


class TestParamsErrors:
    def test_unknown_setting(self):
        with pytest.raises(ValueError, match=r"PyRadiomics rejects the radiomics params in the params dict: "
                                             r"Key 'bnWidth' was not defined\. Path: '/setting'\. Correct them"):
            load_radiomics_params({"setting": {"bnWidth": 25}})

    def test_every_unknown_name_is_listed_at_once(self):
        with pytest.raises(ValueError) as info:
            load_radiomics_params({"imagetype": {}, "imageType": {"Original": {}, "Wavlet": {}, "LoG2": {}},
                                   "featureClass": {"firstorder": ["Entropy", "Entrop"], "glcmm": None}})
        assert str(info.value).splitlines() == [
            "The radiomics params in the params dict have 5 problem(s):",
            "  - unknown top-level key 'imagetype'; the keys are imageType, featureClass, setting, voxelSetting",
            "  - imageType 'Wavlet' is not one of Exponential, Gradient, LBP2D, LBP3D, LoG, Logarithm, Original, "
            "Square, SquareRoot, Wavelet",
            "  - imageType 'LoG2' is not one of Exponential, Gradient, LBP2D, LBP3D, LoG, Logarithm, Original, "
            "Square, SquareRoot, Wavelet",
            "  - featureClass 'firstorder' has no feature 'Entrop' (its features: " + str(info.value).split(
                "its features: ")[1].split(")")[0] + ")",
            "  - featureClass 'glcmm' is not one of firstorder, glcm, gldm, glrlm, glszm, ngtdm, shape, shape2D",
            "Correct the names (they are case-sensitive) as listed at "
            "https://pyradiomics.readthedocs.io/en/latest/customization.html."]
        assert "Entropy" in str(info.value).split("its features: ")[1]

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="The radiomics params file '.*nope.yaml' does not exist"):
            load_radiomics_params(tmp_path / "nope.yaml")

    def test_wrong_type(self):
        with pytest.raises(TypeError, match="'params' must be None, a path to a PyRadiomics YAML file or a dict"):
            load_radiomics_params(25)

    def test_not_a_mapping(self, tmp_path):
        path = tmp_path / "list.yaml"
        path.write_text("- 1\n- 2\n")
        with pytest.raises(ValueError, match="must be a mapping"):
            load_radiomics_params(path)


def test_dask_cluster_of_processes_gives_identical_features(tmp_path, make_cohort):
    """A real distributed.LocalCluster with worker processes: same features as in-process, failures recorded."""
    distributed = pytest.importorskip("distributed")
    breast = DATA / "breast1_image.nrrd", DATA / "breast1_label.nrrd"
    cohort = make_cohort(lung={"ct_image": IMAGE, "ct_mask": MASK},
                         breast={"ct_image": breast[0], "ct_mask": breast[1]},
                         broken={"ct_image": IMAGE, "ct_mask": tmp_path / "nope.nrrd"})
    serial = extract_radiomics(cohort, out_dir=tmp_path / "serial", progress=False)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        res = extract_radiomics(cohort, out_dir=tmp_path / "dask", client=client, progress=False)
        assert len(client.scheduler_info()["workers"]) == 2
    pd.testing.assert_frame_equal(res.features, serial.features, rtol=0, atol=0)
    assert res.failures["patient_id"].tolist() == ["broken"]
    assert "the file does not exist" in res.failures.loc[0, "message"]
