"""Image/mask mix-ups: found by ``multisurv validate`` and at extraction, with the patient, file and fix."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from multisurv.cli import main
from multisurv.cohort.images import check_manifest_images, image_problems, mask_problems, roi_pieces
from multisurv.exceptions import ExtractionError

sitk = pytest.importorskip("SimpleITK")
DATA = Path(__file__).parents[1] / "data"
IMAGE, MASK = DATA / "breast1_image.nrrd", DATA / "breast1_label.nrrd"  # MR: 238 distinct values; label 0/1


@pytest.fixture()
def files(tmp_path):
    shutil.copy(IMAGE, tmp_path / "image.nrrd")
    shutil.copy(MASK, tmp_path / "mask.nrrd")
    return tmp_path


def _validate(path: Path, *options: str) -> int:
    spec = path.parent / "spec.yaml"
    spec.write_text("schema: clinical_variables.v1\nvariables: []\n")
    return main(["validate", str(path), "--clinical-spec", str(spec), *options])


def _manifest(folder: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["patient_id,cohort,time,event,ct_image,ct_mask,wsi"]
    lines += [f"P{i},development,{10 + i},1,{image},{mask}," for i, (image, mask) in enumerate(rows)]
    path = folder / "cohort.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mask_and_image_rules():
    assert mask_problems(np.array([0, 1, 2, 2])) == [] and image_problems(np.arange(100)) == []
    assert "negative values" in mask_problems(np.array([-1000, 0, 40]))[0]
    assert "40 distinct non-zero values" in mask_problems(np.arange(41))[0]
    assert "NaN or infinite values" in mask_problems(np.array([0.0, np.nan]))[0]
    assert "only 2 distinct value(s) (0, 1)" in image_problems(np.array([0, 1, 1]))[0]
    image = np.arange(100.0)
    image[3] = np.nan
    assert "1 NaN or infinite voxel(s), 1 inside the mask" in image_problems(image, (np.arange(100) < 5))[0]
    same = np.arange(100)
    assert "identical voxels" in image_problems(same, same.copy())[0]


@pytest.mark.parametrize("image,mask,column,what", [
    ("mask.nrrd", "image.nrrd", "ct_mask", r"238 distinct non-zero values"),   # swapped
    ("image.nrrd", "image.nrrd", "ct_image", r"must be different files; got the same file"),  # image as its own mask
    ("mask.nrrd", "mask2.nrrd", "ct_image", r"only 2 distinct value\(s\) \(0, 1\): it looks like a label map"),
], ids=["swapped", "same_file", "mask_as_image"])
def test_validate_finds_mixups_with_row_and_column(files, capsys, image, mask, column, what):
    shutil.copy(files / "mask.nrrd", files / "mask2.nrrd")
    path = _manifest(files, [("image.nrrd", "mask.nrrd"), (image, mask)])
    problems, warnings = check_manifest_images(path)  # a swapped pair is two problems: one per column
    assert problems and warnings == []
    assert all(p.startswith("cohort.csv row 3 (patient_id='P1'), column") for p in problems)
    assert any(f"'{column}'" in p and re.search(what, p) for p in problems), problems
    assert _validate(path) == 1
    assert "row 3 (patient_id='P1')" in capsys.readouterr().out
    assert _validate(path, "--skip-image-checks") == 0


def test_fragmented_roi_is_a_warning(files, capsys):
    mask = sitk.ReadImage(str(files / "mask.nrrd"))
    array = np.zeros(sitk.GetArrayViewFromImage(mask).shape, np.int16)
    array[::2, ::4, ::4] = 1  # isolated voxels: dozens of pieces
    noisy = sitk.GetImageFromArray(array)
    noisy.CopyInformation(mask)
    sitk.WriteImage(noisy, str(files / "noisy.nrrd"))
    assert roi_pieces(array, 1) > 20
    problems, warnings = check_manifest_images(_manifest(files, [("image.nrrd", "noisy.nrrd")]))
    assert problems == [] and "disconnected pieces (more than 20)" in warnings[0]
    assert _validate(files / "cohort.csv") == 0
    assert "warning: cohort.csv row 2 (patient_id='P0'), column 'ct_mask'" in capsys.readouterr().out


@pytest.mark.parametrize("image,mask,match", [
    ("mask.nrrd", "image.nrrd", r"Patient 'p1', mask '.*image.nrrd': the mask holds 238 distinct non-zero values"),
    ("image.nrrd", "image.nrrd", r"Patient 'p1': the image and the mask are the same file"),
    ("mask.nrrd", "mask2.nrrd", r"Patient 'p1', image '.*mask.nrrd': the image holds only 2 distinct value"),
], ids=["swapped", "same_file", "mask_as_image"])
def test_extraction_refuses_mixups(files, image, mask, match):
    pytest.importorskip("radiomics")
    from multisurv.features.radiomics import extract_ct_case, load_radiomics_params

    shutil.copy(files / "mask.nrrd", files / "mask2.nrrd")
    inputs = {"ct_image": str(files / image), "ct_mask": str(files / mask)}
    with pytest.raises(ExtractionError, match=match):
        extract_ct_case("p1", inputs, params=load_radiomics_params("radiomics_ct"))


def test_nan_voxel_and_absurd_spacing_are_refused_before_pyradiomics(files):
    pytest.importorskip("radiomics")
    from multisurv.features.radiomics import _explain, extract_ct_case, load_radiomics_params

    image = sitk.Cast(sitk.ReadImage(str(files / "image.nrrd")), sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(image)
    roi = np.argwhere(sitk.GetArrayFromImage(sitk.ReadImage(str(files / "mask.nrrd"))) == 1)[0]
    array[tuple(roi)] = np.nan
    nan_image = sitk.GetImageFromArray(array)
    nan_image.CopyInformation(image)
    sitk.WriteImage(nan_image, str(files / "nan.nrrd"))
    params = load_radiomics_params("radiomics_ct")
    with pytest.raises(ExtractionError, match=r"Patient 'p1', image .*nan.nrrd': the image has 1 NaN or infinite "
                                              r"voxel\(s\), 1 inside the mask: PyRadiomics cannot bin them"):
        extract_ct_case("p1", {"ct_image": str(files / "nan.nrrd"), "ct_mask": str(files / "mask.nrrd")},
                        params=params)
    # PyRadiomics' own message for it, should one get through, is translated too
    fix, path = _explain("arange: cannot compute length.", "i.nrrd", "m.nrrd", params)
    assert "NaN (or infinite) voxels" in fix and path == "i.nrrd"
    for name in ("image.nrrd", "mask.nrrd"):  # a header spacing of 1,000 mm, resampled to 1 mm
        volume = sitk.ReadImage(str(files / name))
        volume.SetSpacing((1000.0, 1000.0, 1000.0))
        sitk.WriteImage(volume, str(files / f"big_{name}"))
    params = load_radiomics_params({**params, "setting": {**params["setting"], "resampledPixelSpacing": [1, 1, 1]}})
    with pytest.raises(ExtractionError, match=r"Patient 'p1': resampling the ROI box to \[1, 1, 1\] mm would make a "
                                              r"grid of .* voxels .*check it in the file's header"):
        extract_ct_case("p1", {"ct_image": str(files / "big_image.nrrd"), "ct_mask": str(files / "big_mask.nrrd")},
                        params=params)
