"""Tests for multisurv.features.radiology: PET (SUV) radiomics, deep CT features and reproducibility per modality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pydicom = pytest.importorskip("pydicom")
sitk = pytest.importorskip("SimpleITK")
pytest.importorskip("radiomics")

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from multisurv.features.pet import read_pet_suv
from multisurv.features.radiology import (
    extract_deep_radiology_modality,
    extract_pet_modality,
    modality_reproducibility,
)
from multisurv.registry import Modality

DATA = Path(__file__).resolve().parents[1] / "data"
FIRST_ORDER = {"imageType": {"Original": {}}, "featureClass": {"firstorder": None},
               "setting": {"label": 1, "binWidth": 0.25, "voxelArrayShift": 0}}


def _pet(folder: Path, seed: int, *, weight: str | None = "70") -> None:
    """A 6-slice 16 x 16 PET series (Bq/mL, one slope per slice) with a hot sphere; injection 1 h before."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    zz, yy, xx = np.mgrid[:6, :16, :16]
    hot = ((zz - 2.5) ** 2 / 4 + (yy - 8) ** 2 / 16 + (xx - 8) ** 2 / 16) < 1
    volume = 5000 + 2000 * rng.random((6, 16, 16)) + 20000 * hot
    uid = generate_uid()
    for k in range(6):
        slope = float(volume[k].max() / 30000)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.128", generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID = "PT", uid
        ds.SeriesDate, ds.SeriesTime, ds.Units, ds.DecayCorrection = "20260301", "110000", "BQML", "START"
        if weight is not None:
            ds.PatientWeight = weight
        drug = Dataset()
        drug.RadionuclideTotalDose, drug.RadionuclideHalfLife, drug.RadiopharmaceuticalStartTime = "3.5e8", "6586.2", \
            "100000"
        ds.RadiopharmaceuticalInformationSequence = [drug]
        ds.ImageOrientationPatient, ds.ImagePositionPatient = [1, 0, 0, 0, 1, 0], [0.0, 0.0, 4.0 * k]
        ds.PixelSpacing, ds.SliceThickness, ds.Rows, ds.Columns = [4.0, 4.0], 4.0, 16, 16
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", "0"
        ds.PixelData = np.rint(volume[k] / float(f"{slope:.10g}")).astype(np.uint16).tobytes()
        ds.save_as(folder / f"{k:02d}.dcm", enforce_file_format=True)


@pytest.fixture(scope="module")
def pet_cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("pet")
    rows = {}
    for i, weight in enumerate(["70", "85", None]):
        _pet(root / f"p{i}", seed=i, weight=weight)
        zz, yy, xx = np.mgrid[:6, :16, :16]
        mask = sitk.GetImageFromArray((((zz - 2.5) ** 2 / 4 + (yy - 8) ** 2 / 16 + (xx - 8) ** 2 / 16) < 1)
                                      .astype(np.uint8))
        mask.SetSpacing((4.0, 4.0, 4.0))
        sitk.WriteImage(mask, str(root / f"p{i}_mask.nrrd"))
        rows[f"P{i}"] = {"pet_image": str(root / f"p{i}"), "pet_mask": str(root / f"p{i}_mask.nrrd")}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("patient_id")


def test_pet_modality_extracts_suv_radiomics_and_names_a_missing_tag(pet_cohort, tmp_path):
    pet = Modality("pet", "radiomics", {"image": "pet_image", "mask": "pet_mask"}, "pet__", "petscore", "PET",
                   {"params": FIRST_ORDER})
    res = extract_pet_modality(pet, pet_cohort, feature_dir=tmp_path, progress=False)
    assert list(res.features.index) == ["P0", "P1"] and res.features.columns[0].startswith("pet__original_")
    assert list(res.failures["patient_id"]) == ["P2"]
    assert "'PatientWeight' (0010,1030) is missing" in res.failures["message"][0]
    for pid in ("P0", "P1"):
        suv, factor = read_pet_suv(pet_cohort.loc[pid, "pet_image"])
        roi = sitk.GetArrayFromImage(sitk.ReadImage(pet_cohort.loc[pid, "pet_mask"])) == 1
        # the SUV maximum in the ROI, from the DICOM directly; float32 SUV storage: 1e-6 relative
        assert res.features.loc[pid, "pet__original_firstorder_Maximum"] == pytest.approx(
            float(sitk.GetArrayFromImage(suv)[roi].max()), rel=1e-6)
        assert res.info.loc[pid, "suv_factor"] == pytest.approx(factor.factor, rel=1e-12)
    again = extract_pet_modality(pet, pet_cohort, feature_dir=tmp_path, progress=False)
    assert again.n_cached == 2
    pd.testing.assert_frame_equal(again.features, res.features)


@pytest.fixture(scope="module")
def two_patients(tmp_path_factory):
    """breast1 and a second patient (breast1 with a smooth intensity change), each with a second reader."""
    from multisurv.features.perturbation import randomise_contour

    root = tmp_path_factory.mktemp("ct")
    image = sitk.ReadImage(str(DATA / "breast1_image.nrrd"))
    mask = sitk.ReadImage(str(DATA / "breast1_label.nrrd"))
    other = sitk.GetArrayFromImage(image).astype(np.float32)
    other = other * 0.8 + 40 * np.sin(np.arange(other.shape[2]) / 3.0)[None, None, :]
    second = sitk.GetImageFromArray(other)
    second.CopyInformation(image)
    sitk.WriteImage(second, str(root / "b2.nrrd"))
    rows = {}
    for pid, path, seed in (("B1", DATA / "breast1_image.nrrd", 1), ("B2", root / "b2.nrrd", 2)):
        roi = randomise_contour(sitk.GetArrayFromImage(mask) == 1, mask.GetSpacing()[::-1], np.random.default_rng(seed))
        reader2 = sitk.GetImageFromArray(roi.astype(np.uint8))
        reader2.CopyInformation(mask)
        sitk.WriteImage(reader2, str(root / f"{pid}_r2.nrrd"))
        rows[pid] = {"art_image": str(path), "art_mask": str(DATA / "breast1_label.nrrd"),
                     "art_mask_reader2": str(root / f"{pid}_r2.nrrd")}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("patient_id")


def test_modality_reproducibility_readers_and_perturbations_carry_the_prefix(two_patients, tmp_path):
    params = {"imageType": {"Original": {}}, "featureClass": {"firstorder": None},
              "setting": {"label": 1, "binWidth": 25}}
    art = Modality("ct_arterial", "radiomics", {"image": "art_image", "mask": "art_mask"}, "art__", "art_score",
                   "Arterial CT", {"params": params})
    readers = modality_reproducibility(art, two_patients, feature_dir=tmp_path, progress=False,
                                       readers=["art_mask", "art_mask_reader2"])
    assert readers.icc.index[0].startswith("art__original_firstorder") and readers.icc.index.name == "feature"
    assert all(t.columns[0].startswith("art__") for t in readers.features.values())
    assert (tmp_path / "ct_arterial" / "ct_readers").is_dir()
    perturbed = modality_reproducibility(art, two_patients, feature_dir=tmp_path, progress=False, perturbations=1)
    assert list(perturbed.features) == ["original", "rtnc1", "erode", "dilate"]
    assert list(perturbed.icc.index) == list(readers.icc.index)


@pytest.mark.slow  # the extractor itself is tested by default in test_deep_radiomics.py; this checks the adapter
def test_deep_radiology_modality(two_patients, tmp_path):
    pytest.importorskip("torch")
    from multisurv.exceptions import MultisurvWarning

    deep = Modality("ct_deep", "deep_radiology", {"image": "art_image", "mask": "art_mask"}, "ctd__", "ctd_score",
                    "Deep CT", {"encoder": "resnet18", "crop_size": 32, "n_slices": 1, "device": "cpu",
                                "window": [-100, 300]})
    with pytest.warns(MultisurvWarning, match="randomly initialised"):
        res = extract_deep_radiology_modality(deep, two_patients, feature_dir=tmp_path, progress=False)
    assert res.features.shape == (2, 512) and res.features.columns[0] == "ctd__resnet18_0000"
    assert res.store_dir.parent.parent.name == "ct_deep"
