"""Input formats (NRRD, NIfTI, MHA, DICOM series), geometry checks, ROI checks and label selection.

Every format is checked against the NRRD original: the same features, bit for bit, through extract_radiomics.
The DICOM series is written in the test by SimpleITK from the vendored breast1 MR (no download).
"""

from __future__ import annotations

import ast
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sitk = pytest.importorskip("SimpleITK")
pytest.importorskip("radiomics")

from multisurv.exceptions import ExtractionError  # noqa: E402
from multisurv.features.radiomics import extract_radiomics  # noqa: E402
from multisurv.features.volume import TINY_ROI_VOXELS, Geometry, check_geometry, read_volume  # noqa: E402

pytestmark = pytest.mark.radiomics

DATA = Path(__file__).resolve().parents[1] / "data"
IMAGE, MASK = DATA / "breast1_image.nrrd", DATA / "breast1_label.nrrd"
CLASSES = {c: None for c in ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")}  # no shape2D
PLAIN = {"setting": {"binWidth": 25, "label": 1}, "imageType": {"Original": {}}, "featureClass": CLASSES}


def write_dicom_series(image, folder: Path, *, series_uid: str = "1.2.826.0.1.3680043.2.1125.1") -> Path:
    """Write ``image`` as one DICOM file per slice with the tags a series reader needs (position, orientation)."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    direction = image.GetDirection()
    orientation = "\\".join(f"{v:.10g}" for v in (direction[0], direction[3], direction[6],
                                                    direction[1], direction[4], direction[7]))
    for z in range(image.GetDepth()):
        slice_ = image[:, :, z]
        tags = {
            "0008|0060": "MR",
            "0020|000d": series_uid + ".0",  # study
            "0020|000e": series_uid,  # series
            "0020|0037": orientation,
            "0020|0032": "\\".join(f"{v:.10g}" for v in image.TransformIndexToPhysicalPoint((0, 0, z))),
            "0020|0013": str(z + 1),
            "0018|0050": f"{image.GetSpacing()[2]:.10g}",
            "0008|0018": f"{series_uid}.{z + 1}",  # SOP instance
        }
        for tag, value in tags.items():
            slice_.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice{z:03d}.dcm"))
        writer.Execute(slice_)
    return folder


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    """The breast1 image and mask in each supported format (mask always a label file)."""
    root = tmp_path_factory.mktemp("formats")
    image, mask = sitk.ReadImage(str(IMAGE)), sitk.ReadImage(str(MASK))
    out = {"nrrd": (IMAGE, MASK)}
    for ext in ("nii.gz", "mha"):
        sitk.WriteImage(image, str(root / f"image.{ext}"))
        sitk.WriteImage(mask, str(root / f"mask.{ext}"))
        out[ext] = (root / f"image.{ext}", root / f"mask.{ext}")
    out["dicom"] = (write_dicom_series(image, root / "dicom"), MASK)
    return out


def test_every_format_gives_the_nrrd_features(tmp_path, make_cohort, formats):
    cohort = make_cohort(**{fmt: {"ct_image": img, "ct_mask": msk} for fmt, (img, msk) in formats.items()})
    res = extract_radiomics(cohort, out_dir=tmp_path, params=PLAIN, progress=False)
    assert res.failures.empty, res.failures.to_dict("records")
    assert list(res.features.index) == ["nrrd", "nii.gz", "mha", "dicom"]
    for fmt in ("mha", "dicom"):
        pd.testing.assert_series_equal(res.features.loc[fmt], res.features.loc["nrrd"], check_names=False,
                                       rtol=0, atol=0)
    # NIfTI stores spacing as float32 (0.664062 -> 0.66406202...): only the features that use the voxel size
    # (shape, TotalEnergy) move, by ~1e-7 (relative).
    nifti, nrrd = res.features.loc["nii.gz"], res.features.loc["nrrd"]
    shape = nrrd.index.str.contains("_shape_") | nrrd.index.str.endswith("_TotalEnergy")
    pd.testing.assert_series_equal(nifti[~shape], nrrd[~shape], check_names=False, rtol=0, atol=0)
    pd.testing.assert_series_equal(nifti[shape], nrrd[shape], check_names=False, rtol=1e-6, atol=0)
    # The DICOM series really went through the series reader: same voxels as the NRRD.
    assert res.info.loc["dicom", "diagnostics_Image-original_Hash"] == res.info.loc["nrrd",
                                                                                   "diagnostics_Image-original_Hash"]


def test_dicom_series_reads_the_same_grid(formats):
    original = sitk.ReadImage(str(IMAGE))
    series = read_volume(formats["dicom"][0], patient_id="p1", role="ct_image")
    assert series.GetSize() == original.GetSize()
    np.testing.assert_allclose(series.GetSpacing(), original.GetSpacing(), rtol=1e-9)
    np.testing.assert_allclose(series.GetOrigin(), original.GetOrigin(), atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(series), sitk.GetArrayFromImage(original))


class TestReadErrors:
    def test_folder_without_dicom(self, tmp_path):
        with pytest.raises(ExtractionError, match=r"Patient 'p1', column 'ct_image' \('.*'\): the folder holds no "
                                                  r"DICOM series\. Point 'ct_image' at an image file"):
            read_volume(tmp_path, patient_id="p1", role="ct_image")

    def test_folder_with_two_series(self, tmp_path):
        image = sitk.ReadImage(str(IMAGE))[:, :, :3]
        write_dicom_series(image, tmp_path, series_uid="1.2.3.4")
        write_dicom_series(image, tmp_path / "tmp", series_uid="1.2.3.5")
        for f in (tmp_path / "tmp").iterdir():
            f.rename(tmp_path / ("b_" + f.name))
        with pytest.raises(ExtractionError, match=r"the folder holds 2 DICOM series \('1\.2\.3\.4', '1\.2\.3\.5'\); "
                                                  r"multisurv cannot tell which one to use\. Move each series"):
            read_volume(tmp_path, patient_id="p1", role="ct_image")

    def test_missing_file(self, tmp_path):
        with pytest.raises(ExtractionError, match=r"Patient 'p1', column 'ct_mask' \('.*nope\.nii\.gz'\): the file "
                                                  r"does not exist\. Correct the 'ct_mask' path in the manifest\."):
            read_volume(tmp_path / "nope.nii.gz", patient_id="p1", role="ct_mask")


def shifted_mask(tmp_path: Path, shift_mm: float) -> Path:
    mask = sitk.ReadImage(str(MASK))
    origin = list(mask.GetOrigin())
    origin[0] += shift_mm
    mask.SetOrigin(origin)
    path = tmp_path / f"mask_shift_{shift_mm}.nrrd"
    sitk.WriteImage(mask, str(path))
    return path


class TestGeometry:
    def test_mismatch_names_patient_and_both_geometries(self, tmp_path):
        image, mask = sitk.ReadImage(str(IMAGE)), sitk.ReadImage(str(shifted_mask(tmp_path, 0.3)))
        with pytest.raises(ExtractionError) as info:
            check_geometry(image, mask, patient_id="GIST-7", mask_path="m.nrrd", settings={})
        message = str(info.value)
        assert message.startswith("Patient 'GIST-7': the mask does not lie on the image's voxel grid (different "
                                  "origin; tolerance 1e-06).")
        assert f"Image: {Geometry.of(image)}." in message and f"Mask: {Geometry.of(mask)}." in message
        assert "origin (-116.543, -48.1447, 9.45)" in message and "origin (-116.243, -48.1447, 9.45)" in message
        assert info.value.path == "m.nrrd"

    def test_size_mismatch(self):
        image = sitk.ReadImage(str(IMAGE))
        mask = sitk.ReadImage(str(MASK))[:, :, 2:]
        assert Geometry.of(image).differences(Geometry.of(mask), 1e-6) == ["size", "origin"]

    def test_tolerance_accepts_small_shifts(self, tmp_path):
        image, mask = sitk.ReadImage(str(IMAGE)), sitk.ReadImage(str(shifted_mask(tmp_path, 1e-4)))
        with pytest.raises(ExtractionError):
            check_geometry(image, mask, patient_id="p", mask_path="m", settings={})
        assert check_geometry(image, mask, patient_id="p", mask_path="m", settings={"geometryTolerance": 1e-3}) == []

    def test_correct_mask_resamples_nearest_neighbour(self, tmp_path, make_cohort):
        """A mask on a coarser grid is resampled onto the image (correctMask), and the diagnostics say so."""
        mask = sitk.ReadImage(str(MASK))
        coarse = sitk.Resample(mask, [s // 2 + 1 for s in mask.GetSize()], sitk.Transform(), sitk.sitkNearestNeighbor,
                               mask.GetOrigin(), [2 * s for s in mask.GetSpacing()], mask.GetDirection())
        sitk.WriteImage(coarse, str(tmp_path / "coarse.nrrd"))
        cohort = make_cohort(p1={"ct_image": IMAGE, "ct_mask": tmp_path / "coarse.nrrd"})
        refused = extract_radiomics(cohort, out_dir=tmp_path / "a", params=PLAIN, progress=False)
        assert "different size, spacing" in refused.failures.loc[0, "message"]
        params = {**PLAIN, "setting": {**PLAIN["setting"], "correctMask": True}}
        res = extract_radiomics(cohort, out_dir=tmp_path / "b", params=params, progress=False)
        assert res.failures.empty
        assert res.info.loc["p1", "multisurv_MaskResampled"] == "size, spacing"
        # PyRadiomics' own record of the resampled mask: it now has the image's grid.
        assert ast.literal_eval(res.info.loc["p1", "diagnostics_Mask-corrected_Size"]) == sitk.ReadImage(
            str(IMAGE)).GetSize()
        # Nearest neighbour: the resampled mask of the coarse label equals resampling it ourselves that way.
        expected = sitk.Resample(coarse, sitk.ReadImage(str(IMAGE)), sitk.Transform(), sitk.sitkNearestNeighbor)
        n = int(sitk.GetArrayViewFromImage(expected).astype(bool).sum())
        assert res.info.loc["p1", "diagnostics_Mask-corrected_VoxelNum"] == n


class TestRoi:
    def test_tiny_roi_is_kept_with_a_warning(self, tmp_path, make_cohort, caplog):
        mask = sitk.ReadImage(str(MASK))
        arr = sitk.GetArrayFromImage(mask)
        keep = np.argwhere(arr == 1)[:8]
        tiny = np.zeros_like(arr)
        tiny[tuple(keep.T)] = 1
        img = sitk.GetImageFromArray(tiny)
        img.CopyInformation(mask)
        sitk.WriteImage(img, str(tmp_path / "tiny.nrrd"))
        with caplog.at_level(logging.WARNING, logger="multisurv.features.volume"):
            res = extract_radiomics(make_cohort(p1={"ct_image": IMAGE, "ct_mask": tmp_path / "tiny.nrrd"}),
                                    out_dir=tmp_path, params=PLAIN, progress=False)
        assert res.failures.empty
        message = (f"Patient 'p1': the ROI (label 1) has only 8 voxel(s), fewer than {TINY_ROI_VOXELS}; its texture "
                   "features are unreliable.")
        assert message in caplog.text
        assert res.info.loc["p1", "multisurv_Warnings"].startswith(message)
        assert res.info.loc["p1", "multisurv_RoiVoxels"] == 8


def test_label_selection_reaches_the_extractor(tmp_path, make_cohort):
    """Label 2 of a two-label mask: PyRadiomics uses exactly those voxels and records label 2."""
    mask = sitk.ReadImage(str(MASK))
    arr = sitk.GetArrayFromImage(mask)
    two = np.where(arr == 1, 2, 0).astype(arr.dtype)
    two[0, 0, :5] = 1  # a few voxels of another label
    img = sitk.GetImageFromArray(two)
    img.CopyInformation(mask)
    sitk.WriteImage(img, str(tmp_path / "two.nrrd"))
    cohort = make_cohort(one={"ct_image": IMAGE, "ct_mask": MASK},
                         two={"ct_image": IMAGE, "ct_mask": tmp_path / "two.nrrd"})
    res_one = extract_radiomics(make_cohort(one={"ct_image": IMAGE, "ct_mask": MASK}), out_dir=tmp_path / "a",
                                params=PLAIN, progress=False)
    res_two = extract_radiomics(cohort, out_dir=tmp_path / "b", params={**PLAIN, "setting": {"binWidth": 25,
                                                                                             "label": 2}},
                                progress=False)
    assert list(res_two.failures["patient_id"]) == ["one"]  # label 2 absent from the original mask
    assert "it holds label(s) [1]" in res_two.failures.loc[0, "message"]
    assert ast.literal_eval(res_two.info.loc["two", "diagnostics_Configuration_Settings"])["label"] == 2
    pd.testing.assert_series_equal(res_two.features.loc["two"], res_one.features.loc["one"], check_names=False,
                                   rtol=0, atol=0)


@pytest.mark.parametrize(("setting", "diagnostic"), [
    ({"force2D": True, "force2Ddimension": 0}, {"force2D": True, "force2Ddimension": 0}),
    ({"normalize": True, "normalizeScale": 100}, {"normalize": True, "normalizeScale": 100}),
    ({"resegmentRange": [110, 160], "resegmentMode": "absolute"},
     {"resegmentRange": [110, 160], "resegmentMode": "absolute"}),
    ({"resampledPixelSpacing": [2, 2, 2], "interpolator": "sitkLinear"},
     {"resampledPixelSpacing": [2, 2, 2], "interpolator": "sitkLinear"}),
], ids=["2D", "normalisation", "resegmentation", "resampling"])
def test_settings_reach_the_extractor(tmp_path, make_cohort, setting, diagnostic):
    """Each setting is recorded in PyRadiomics' diagnostics and changes the features it should change."""
    cohort = make_cohort(p1={"ct_image": IMAGE, "ct_mask": MASK})
    plain = extract_radiomics(cohort, out_dir=tmp_path, params=PLAIN, progress=False)
    params = {**PLAIN, "setting": {**PLAIN["setting"], **setting}}
    res = extract_radiomics(cohort, out_dir=tmp_path, params=params, progress=False)
    used = ast.literal_eval(res.info.loc["p1", "diagnostics_Configuration_Settings"])
    assert {k: used[k] for k in diagnostic} == diagnostic
    assert res.store_dir != plain.store_dir
    changed = (res.features.loc["p1"] - plain.features.loc["p1"]).abs() > 1e-9 * plain.features.loc["p1"].abs()
    assert changed["ct__original_glcm_Contrast"]
    if "resegmentRange" in setting:  # breast1's ROI holds values 102-162: the range drops some voxels
        assert res.info.loc["p1", "diagnostics_Mask-resegmented_VoxelNum"] < res.info.loc[
            "p1", "diagnostics_Mask-original_VoxelNum"]
    if "resampledPixelSpacing" in setting:
        assert ast.literal_eval(res.info.loc["p1", "diagnostics_Image-interpolated_Spacing"]) == (2.0, 2.0, 2.0)


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_dicom_series_with_a_missing_slice_is_refused(tmp_path, damage, capfd):
    """GDCM leaves out an unreadable slice and ITK would stretch the spacing (2.1 -> 2.8 mm): refuse instead.

    Slice gaps 2.1, 4.2, 2.1 mm: mean 2.8, largest deviation |4.2 - 2.8| = 1.4 mm.
    """
    folder = write_dicom_series(sitk.ReadImage(str(IMAGE))[:, :, :5], tmp_path / "series")
    slice_ = sorted(folder.iterdir())[2]
    if damage == "truncated":
        slice_.write_bytes(slice_.read_bytes()[:-2000])  # pixel data cut short
    else:
        slice_.unlink()
    with pytest.raises(ExtractionError, match=r"Patient 'p1', column 'ct_image' \('.*series'\): the DICOM series "
                                              r"\(4 readable slices\) has missing or unevenly spaced slices \(largest "
                                              r"deviation from even spacing: 1\.4 mm\), so its voxel grid would be "
                                              r"wrong\. Export the complete series again"):
        read_volume(folder, patient_id="p1", role="ct_image")
    assert "Non uniform sampling" not in capfd.readouterr().err  # ITK's own stderr warning is replaced


def test_shape2d_on_a_3d_mask_says_what_to_change(tmp_path, make_cohort):
    """force2D with every class enabled (shape2D included) on a multi-slice ROI: PyRadiomics' error plus the fix."""
    params = {"setting": {"force2D": True}, "imageType": {"Original": {}}}
    res = extract_radiomics(make_cohort(p1={"ct_image": IMAGE, "ct_mask": MASK}), out_dir=tmp_path, params=params,
                            progress=False)
    message = res.failures.loc[0, "message"]
    assert "cannot compute 2D shape" in message
    assert ("The shape2D class needs a mask that covers a single slice: leave 'shape2D' out of 'featureClass' in "
            "the params file (list the classes you want), or use a one-slice mask.") in message
