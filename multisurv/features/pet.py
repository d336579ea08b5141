"""PET standardised uptake values: a DICOM PET series converted to body-weight SUV from its own header.

``SUVbw = activity concentration (Bq/mL) x body weight (g) / injected activity decayed to the scan (Bq)``.
Everything comes from the DICOM tags of the series: ``Units`` (must be ``BQML``), ``DecayCorrection``
(``START``: decay-corrected to the series start, the usual case; ``ADMIN``: already to the injection),
``PatientWeight``, and in the ``RadiopharmaceuticalInformationSequence`` the ``RadionuclideTotalDose``,
``RadionuclideHalfLife`` and ``RadiopharmaceuticalStartDateTime`` (or ``RadiopharmaceuticalStartTime`` on
the series date); the scan time is ``SeriesDate`` / ``SeriesTime``. A missing or unusable tag is an
:class:`~multisurv.exceptions.ExtractionError` naming the tag, its DICOM code, the file and the fix.

:func:`read_pet_suv` reads the series with pydicom (each slice with its own rescale slope and intercept, as
PET scanners write them), and :func:`write_pet_suv` writes the SUV volume as NRRD so that the ordinary
radiomics extraction (its own params file, e.g. fixed bin width 0.25 SUV) can use it as an image column.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from multisurv._atomic import write_atomic
from multisurv._optional import require
from multisurv.features.batch import case_error

__all__ = ["SUVFactor", "suv_factor", "read_pet_suv", "write_pet_suv"]

logger = logging.getLogger(__name__)

_TAGS = {
    "Units": "(0054,1001)", "DecayCorrection": "(0054,1102)", "PatientWeight": "(0010,1030)",
    "RadiopharmaceuticalInformationSequence": "(0054,0016)", "RadionuclideTotalDose": "(0018,1074)",
    "RadionuclideHalfLife": "(0018,1075)", "RadiopharmaceuticalStartDateTime": "(0018,1078)",
    "RadiopharmaceuticalStartTime": "(0018,1072)", "SeriesDate": "(0008,0021)", "SeriesTime": "(0008,0031)",
}


@dataclass(frozen=True)
class SUVFactor:
    """How a PET series' activity concentrations become body-weight SUV.

    Made by :func:`suv_factor` from a DICOM header; frozen.

    Parameters
    ----------
    factor : float
        Multiply Bq/mL by this to get SUVbw (g/mL): ``weight_g / decayed_dose_bq``.
    weight_kg : float
        Patient weight at the scan (``PatientWeight``), in kg.
    injected_dose_bq : float
        Injected activity (``RadionuclideTotalDose``), in Bq.
    half_life_s : float
        Radionuclide half-life (``RadionuclideHalfLife``), in s.
    elapsed_s : float
        Time from injection to the series start (0 when the images are decay-corrected to the injection).
    decayed_dose_bq : float
        ``injected_dose_bq * 2 ** (-elapsed_s / half_life_s)``.

    Examples
    --------
    >>> f = SUVFactor(factor=70_000 / 3.7e8, weight_kg=70.0, injected_dose_bq=3.7e8, half_life_s=6586.2,
    ...               elapsed_s=0.0, decayed_dose_bq=3.7e8)
    >>> round(5000 * f.factor, 3)  # 5 kBq/mL in SUVbw
    0.946
    """

    factor: float
    weight_kg: float
    injected_dose_bq: float
    half_life_s: float
    elapsed_s: float
    decayed_dose_bq: float

    def to_dict(self) -> dict[str, float]:
        """The values as a JSON-ready dict.

        Returns
        -------
        dict of str to float
            The fields by name.

        Examples
        --------
        >>> SUVFactor(factor=0.0002, weight_kg=70.0, injected_dose_bq=3.5e8, half_life_s=6586.2, elapsed_s=0.0,
        ...           decayed_dose_bq=3.5e8).to_dict()["weight_kg"]
        70.0
        """
        return dict(self.__dict__)


def suv_factor(dataset, *, where: str = "the PET series") -> SUVFactor:
    """The body-weight SUV factor of a PET series, from one of its DICOM headers.

    Parameters
    ----------
    dataset : pydicom.Dataset
        A slice of the series (the tags used are the same on every slice).
    where : str
        Named in error messages (e.g. ``"Patient 'P1', column 'pet_image' ('/data/p1/pet')"``).

    Returns
    -------
    SUVFactor

    Raises
    ------
    ExtractionError
        If a needed tag is missing or empty (the message names it and its code), ``Units`` is not ``BQML``,
        ``DecayCorrection`` is neither ``START`` nor ``ADMIN``, a value is not positive, or the injection is
        after the series start.

    Notes
    -----
    Follows the vendor-neutral recipe of the QIBA FDG-PET profile for ``Units = BQML``: the dose is decayed from
    the injection to ``SeriesDate``/``SeriesTime`` when ``DecayCorrection`` is ``START``, and not at all when it
    is ``ADMIN``. Vendor-private scale factors (Philips ``CNTS`` units, GE post-injection tags) are not read.

    References
    ----------
    Kinahan PE, Fletcher JW. Positron emission tomography-computed tomography standardized uptake values in
    clinical practice and assessing response to therapy. Semin Ultrasound CT MR. 2010;31(6):496-505.

    Examples
    --------
    >>> import pydicom  # doctest: +SKIP
    >>> suv_factor(pydicom.dcmread("pet/slice001.dcm")).factor  # doctest: +SKIP
    """
    units = _text(dataset, "Units", where, fix="Export the series with activity concentration units (Bq/mL)")
    if units.upper() != "BQML":
        raise case_error(f"{where}: the DICOM tag 'Units' (0054,1001) is {units!r}; SUV conversion needs activity "
                         "concentrations in Bq/mL ('BQML'). Export the series in Bq/mL from the scanner or PACS "
                         "(counts and vendor scale factors are not supported), or convert it to SUV yourself.")
    correction = _text(dataset, "DecayCorrection", where, fix="Export the series with its decay-correction tag")
    weight = _number(dataset, "PatientWeight", where, unit="kg",
                     fix="Add the patient's weight at the scan (kg) to the series header")
    info = dataset.get("RadiopharmaceuticalInformationSequence")
    if not info:
        raise _missing("RadiopharmaceuticalInformationSequence", where,
                       "Export the series with its radiopharmaceutical information (dose, half-life, injection time)")
    drug = info[0]
    dose = _number(drug, "RadionuclideTotalDose", where, unit="Bq", fix="Add the injected activity (Bq)")
    half_life = _number(drug, "RadionuclideHalfLife", where, unit="s", fix="Add the radionuclide's half-life (s)")
    if correction.upper() == "ADMIN":
        elapsed = 0.0
    elif correction.upper() == "START":
        injected = _injection_time(drug, dataset, where)
        scan = _datetime(_text(dataset, "SeriesDate", where, fix="Add the series date"),
                         _text(dataset, "SeriesTime", where, fix="Add the series time"), "SeriesTime", where)
        elapsed = (scan - injected).total_seconds()
        if elapsed < 0:
            raise case_error(f"{where}: the injection ({injected:%Y-%m-%d %H:%M:%S}) is after the series start "
                             f"({scan:%Y-%m-%d %H:%M:%S}). Correct 'RadiopharmaceuticalStartTime' (0018,1072) / "
                             "'RadiopharmaceuticalStartDateTime' (0018,1078) or 'SeriesTime' (0008,0031).")
    else:
        raise case_error(f"{where}: the DICOM tag 'DecayCorrection' (0054,1102) is {correction!r}; SUV conversion "
                         "supports 'START' (decay-corrected to the series start) and 'ADMIN' (to the injection). "
                         "Reconstruct the series with decay correction, or convert it to SUV yourself.")
    decayed = dose * 2.0 ** (-elapsed / half_life)
    return SUVFactor(factor=weight * 1000.0 / decayed, weight_kg=weight, injected_dose_bq=dose, half_life_s=half_life,
                     elapsed_s=elapsed, decayed_dose_bq=decayed)


def read_pet_suv(folder: str | os.PathLike, *, patient_id: str = "?", role: str = "pet_image"):
    """Read a DICOM PET series (one folder) as a float32 body-weight SUV volume.

    Parameters
    ----------
    folder : str or Path
        A folder holding the DICOM files of one PET series (files that are not DICOM are ignored).
    patient_id : str, default="?"
        Named in error messages.
    role : str, default="pet_image"
        Manifest column of the series, named in error messages.

    Returns
    -------
    image : SimpleITK.Image
        SUVbw per voxel, float32, with the series' spacing, origin and direction (slices sorted along their
        normal).
    factor : SUVFactor

    Raises
    ------
    ExtractionError
        If the folder holds no DICOM slice, several series, slices of unequal size, or a header lacks a tag that
        SUV needs (see :func:`suv_factor`).

    See Also
    --------
    write_pet_suv : Writes the SUV volume as NRRD.

    Examples
    --------
    >>> image, factor = read_pet_suv("data/p1/pet", patient_id="p1")  # doctest: +SKIP
    >>> try:
    ...     read_pet_suv("missing", patient_id="p1")
    ... except ValueError as exc:
    ...     print(str(exc)[:59])
    Patient 'p1', column 'pet_image' ('missing'): not a folder.
    """
    pydicom = require("pydicom", extra="radiomics")
    sitk = require("SimpleITK", extra="radiomics")
    folder = os.fspath(folder)
    where = f"Patient {patient_id!r}, column {role!r} ({folder!r})"
    if not os.path.isdir(folder):
        raise case_error(f"{where}: not a folder. Point {role!r} at the folder holding the PET series' DICOM files.",
                         path=folder)
    slices = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        try:
            ds = pydicom.dcmread(path)
        except pydicom.errors.InvalidDicomError:
            continue
        if "PixelData" in ds:
            slices.append((path, ds))
    if not slices:
        raise case_error(f"{where}: the folder holds no DICOM image. Point {role!r} at the PET series' folder.",
                         path=folder)
    series = {str(ds.get("SeriesInstanceUID", "")) for _, ds in slices}
    if len(series) > 1:
        raise case_error(f"{where}: the folder holds {len(series)} DICOM series; multisurv cannot tell which one is "
                         f"the PET. Move each series into its own folder and point {role!r} at the PET one.",
                         path=folder)
    first_path, first = slices[0]
    factor = suv_factor(first, where=f"{where}, file {os.path.basename(first_path)!r}")
    row = np.asarray([float(v) for v in first.ImageOrientationPatient[:3]])
    col = np.asarray([float(v) for v in first.ImageOrientationPatient[3:]])
    normal = np.cross(row, col)
    slices.sort(key=lambda item: float(np.dot(normal, [float(v) for v in item[1].ImagePositionPatient])))
    shapes = {ds.pixel_array.shape for _, ds in slices}
    if len(shapes) > 1:
        raise case_error(f"{where}: the slices have different sizes {sorted(shapes)}; they are not one volume. "
                         "Export the PET series again.", path=folder)
    volume = np.stack([ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1.0) or 1.0)
                       + float(ds.get("RescaleIntercept", 0.0) or 0.0) for _, ds in slices])
    suv = (volume * factor.factor).astype(np.float32)
    positions = [np.asarray([float(v) for v in ds.ImagePositionPatient]) for _, ds in slices]
    gap = float(np.median(np.diff([np.dot(normal, p) for p in positions]))) if len(slices) > 1 else float(
        first.get("SliceThickness", 1.0) or 1.0)
    spacing_yx = [float(v) for v in first.PixelSpacing]
    image = sitk.GetImageFromArray(suv)
    image.SetSpacing((spacing_yx[1], spacing_yx[0], abs(gap)))
    image.SetOrigin(tuple(float(v) for v in positions[0]))
    image.SetDirection(tuple(np.column_stack([row, col, normal]).ravel().tolist()))
    return image, factor


def write_pet_suv(folder: str | os.PathLike, out_path: str | os.PathLike, *, patient_id: str = "?",
                  role: str = "pet_image") -> SUVFactor:
    """Convert a DICOM PET series to an SUVbw NRRD file (gzip, written atomically); return the factor used.

    The written file holds nothing time-dependent, so the same series always gives the same bytes (and its
    radiomics stay cached).

    Parameters
    ----------
    folder : str or Path
        A folder holding the DICOM files of one PET series (see :func:`read_pet_suv`).
    out_path : str or Path
        The NRRD file to write (``.nrrd``); its folder must exist. An existing file is replaced.
    patient_id : str, default="?"
        Named in error messages.
    role : str, default="pet_image"
        Manifest column of the series, named in error messages.

    Returns
    -------
    SUVFactor
        The factor the activity concentrations were multiplied by.

    Raises
    ------
    ExtractionError
        As :func:`read_pet_suv`.

    Examples
    --------
    >>> write_pet_suv("data/p1/pet", "work/p1_suv.nrrd", patient_id="p1").factor  # doctest: +SKIP
    """
    sitk = require("SimpleITK", extra="radiomics")
    image, factor = read_pet_suv(folder, patient_id=patient_id, role=role)

    def write(tmp: Path) -> None:
        writer = sitk.ImageFileWriter()
        writer.SetImageIO("NrrdImageIO")
        writer.SetFileName(str(tmp))
        writer.SetUseCompression(True)
        writer.Execute(image)

    write_atomic(out_path, write)
    return factor


def _missing(tag: str, where: str, fix: str):
    return case_error(f"{where}: the DICOM tag {tag!r} {_TAGS[tag]} is missing or empty; body-weight SUV needs it. "
                      f"{fix}, or convert the series to SUV yourself and give the NRRD/NIfTI file instead.")


def _text(ds, tag: str, where: str, *, fix: str) -> str:
    value = ds.get(tag)
    if value is None or str(value).strip() == "":
        raise _missing(tag, where, fix)
    return str(value).strip()


def _number(ds, tag: str, where: str, *, unit: str, fix: str) -> float:
    text = _text(ds, tag, where, fix=fix)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise case_error(f"{where}: the DICOM tag {tag!r} {_TAGS[tag]} must be a number > 0 ({unit}); got {text!r}. "
                         f"{fix}.")
    return value


def _injection_time(drug, dataset, where: str) -> datetime:
    stamp = drug.get("RadiopharmaceuticalStartDateTime")
    if stamp is not None and str(stamp).strip():
        text = str(stamp).strip()
        return _datetime(text[:8], text[8:] or "000000", "RadiopharmaceuticalStartDateTime", where)
    start = _text(drug, "RadiopharmaceuticalStartTime", where,
                  fix="Add the injection time (RadiopharmaceuticalStartTime or RadiopharmaceuticalStartDateTime)")
    date = _text(dataset, "SeriesDate", where, fix="Add the series date")
    return _datetime(date, start, "RadiopharmaceuticalStartTime", where)


def _datetime(date: str, time: str, tag: str, where: str) -> datetime:
    """DICOM DA + TM (``HHMMSS.FFFFFF``, parts optional; a UTC offset suffix is ignored) as a datetime."""
    clock = time.split("+")[0].split("-")[0]
    try:
        day = datetime.strptime(date[:8], "%Y%m%d")
        whole, _, frac = clock.partition(".")
        hours, minutes, seconds = int(whole[0:2]), int(whole[2:4] or 0), int(whole[4:6] or 0)
        micro = int((frac + "000000")[:6]) if frac else 0
    except ValueError as exc:
        raise case_error(f"{where}: the DICOM date/time {date!r} {time!r} of {tag!r} {_TAGS[tag]} cannot be read "
                         "(expected YYYYMMDD and HHMMSS.FFFFFF). Correct the tag.") from exc
    return day + timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micro)

