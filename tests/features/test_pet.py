"""Tests for multisurv.features.pet: body-weight SUV from a small DICOM PET series the test writes itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
sitk = pytest.importorskip("SimpleITK")

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from multisurv.exceptions import ExtractionError
from multisurv.features.pet import read_pet_suv, suv_factor, write_pet_suv

WEIGHT_KG = 72.5
DOSE_BQ = 3.7e8
HALF_LIFE_S = 6586.2  # fluorine-18, 109.77 min
# injection 09:30:00, series start 10:32:30: 3,750 s later
INJECTION, SERIES = "093000.00", "103230.00"
ELAPSED_S = 3750.0
SHAPE = (5, 6, 7)  # slices, rows, columns


def _write_series(folder: Path, *, drop: str | None = None, units: str = "BQML", correction: str = "START",
                  shuffle: bool = True) -> np.ndarray:
    """Write a PET series (stored int16 values, each slice with its own slope); return the true Bq/mL volume."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    truth = []
    order = rng.permutation(SHAPE[0]) if shuffle else np.arange(SHAPE[0])
    for k in order:
        stored = rng.integers(0, 30000, size=SHAPE[1:]).astype(np.int16)
        slope, intercept = 0.5 + 0.25 * k, 10.0 * k
        truth.append((k, stored * slope + intercept))
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"  # PET image storage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID, ds.PatientID = "PT", series_uid, "P1"
        ds.SeriesDate, ds.SeriesTime = "20260301", SERIES
        ds.Units, ds.DecayCorrection = units, correction
        ds.PatientWeight = str(WEIGHT_KG)
        drug = Dataset()
        drug.RadionuclideTotalDose = str(DOSE_BQ)
        drug.RadionuclideHalfLife = str(HALF_LIFE_S)
        drug.RadiopharmaceuticalStartTime = INJECTION
        ds.RadiopharmaceuticalInformationSequence = [drug]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-10.0, -20.0, 30.0 + 3.27 * k]
        ds.PixelSpacing = [4.0, 4.0]
        ds.SliceThickness = 3.27
        ds.Rows, ds.Columns = SHAPE[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = str(slope), str(intercept)
        ds.PixelData = stored.tobytes()
        if drop is not None:
            for holder in (ds, drug):
                if drop in holder:
                    delattr(holder, drop)
        ds.save_as(folder / f"slice_{k:03d}.dcm", enforce_file_format=True)
    (folder / "README.txt").write_text("not DICOM: ignored")
    return np.stack([v for _, v in sorted(truth, key=lambda t: t[0])])


def test_suv_volume_matches_the_closed_form(tmp_path):
    """SUVbw = Bq/mL x weight (g) / (dose x 2^(-elapsed / half-life)), per voxel, slices in position order."""
    truth = _write_series(tmp_path / "pet")
    image, factor = read_pet_suv(tmp_path / "pet", patient_id="P1")
    expected = truth * (WEIGHT_KG * 1000.0) / (DOSE_BQ * 2.0 ** (-ELAPSED_S / HALF_LIFE_S))
    assert factor.elapsed_s == ELAPSED_S and factor.weight_kg == WEIGHT_KG
    # float32 storage: about 6e-8 relative rounding
    np.testing.assert_allclose(sitk.GetArrayFromImage(image), expected, rtol=2e-7)
    assert image.GetSpacing() == pytest.approx((4.0, 4.0, 3.27))
    assert image.GetOrigin() == pytest.approx((-10.0, -20.0, 30.0))
    factor2 = write_pet_suv(tmp_path / "pet", tmp_path / "suv.nrrd", patient_id="P1")
    assert factor2 == factor
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "suv.nrrd"))),
                                  sitk.GetArrayFromImage(image))


def test_admin_decay_correction_uses_the_full_dose(tmp_path):
    _write_series(tmp_path / "pet", correction="ADMIN", shuffle=False)
    factor = suv_factor(pydicom.dcmread(next((tmp_path / "pet").glob("*.dcm"))))
    assert factor.elapsed_s == 0 and factor.factor == pytest.approx(WEIGHT_KG * 1000.0 / DOSE_BQ, rel=1e-15)


@pytest.mark.parametrize("drop, match", [
    ("PatientWeight", r"'PatientWeight' \(0010,1030\) is missing or empty; body-weight SUV needs it"),
    ("RadionuclideTotalDose", r"'RadionuclideTotalDose' \(0018,1074\) is missing"),
    ("RadionuclideHalfLife", r"'RadionuclideHalfLife' \(0018,1075\) is missing"),
    ("RadiopharmaceuticalStartTime", r"'RadiopharmaceuticalStartTime' \(0018,1072\) is missing"),
    ("SeriesTime", r"'SeriesTime' \(0008,0031\) is missing"),
    ("Units", r"'Units' \(0054,1001\) is missing"),
    ("DecayCorrection", r"'DecayCorrection' \(0054,1102\) is missing"),
])
def test_a_missing_tag_is_named(tmp_path, drop, match):
    _write_series(tmp_path / "pet", drop=drop, shuffle=False)
    with pytest.raises(ExtractionError, match=match) as info:
        read_pet_suv(tmp_path / "pet", patient_id="P7")
    assert "Patient 'P7', column 'pet_image'" in str(info.value) and "slice_000.dcm" in str(info.value)


@pytest.mark.parametrize("kwargs, match", [
    ({"units": "CNTS"}, r"'Units' \(0054,1001\) is 'CNTS'; SUV conversion needs activity concentrations in Bq/mL"),
    ({"correction": "NONE"}, r"'DecayCorrection' \(0054,1102\) is 'NONE'; SUV conversion supports 'START'"),
])
def test_unsupported_units_and_decay_correction(tmp_path, kwargs, match):
    _write_series(tmp_path / "pet", shuffle=False, **kwargs)
    with pytest.raises(ExtractionError, match=match):
        read_pet_suv(tmp_path / "pet")


def test_folder_without_dicom(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExtractionError, match="the folder holds no DICOM image"):
        read_pet_suv(tmp_path / "empty")
