"""Reading CT volumes and label masks, and checking that a mask fits its image.

:func:`read_volume` opens NRRD, NIfTI, MHA/MHD (any format SimpleITK reads) and DICOM series (a folder,
read with ``SimpleITK.ImageSeriesReader``). :func:`check_geometry` compares the image and mask grids (size,
spacing, origin, direction) with SimpleITK's own tolerance rule, and :func:`check_roi` counts the voxels of the
chosen label. :func:`check_image_and_mask` catches a swapped pair, an image given as its own mask and NaN voxels
(:mod:`multisurv.cohort.images`), and :func:`check_resampled_size` refuses a resampling that would allocate an absurd
grid. Every error is an :class:`~multisurv.exceptions.ExtractionError` that names the patient, the file, what was
found and the fix, so that :func:`~multisurv.features.batch.run_batch` can put it in the failures table.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from multisurv._optional import require
from multisurv.cohort.images import MAX_ROI_PIECES, image_problems, mask_problems, roi_pieces, roi_pieces_warning
from multisurv.features.batch import case_error

__all__ = ["read_volume", "Geometry", "check_geometry", "check_roi", "check_image_and_mask", "check_resampled_size",
           "TINY_ROI_VOXELS", "MAX_RESAMPLED_VOXELS"]

logger = logging.getLogger(__name__)

#: Below this many ROI voxels texture features are mostly noise: the case is kept but a warning is recorded.
TINY_ROI_VOXELS = 27  # a 3 x 3 x 3 cube
#: Largest deviation of a DICOM slice gap from the mean gap, as a fraction of the slice spacing.
SLICE_SPACING_TOLERANCE = 0.01
#: SimpleITK's default coordinate and direction tolerance (ITK's ``VerifyInputInformation``).
DEFAULT_TOLERANCE = 1e-6
#: Most voxels a resampled ROI box may have (PyRadiomics allocates several float arrays of it: ~ 4 GB at this size).
MAX_RESAMPLED_VOXELS = 200_000_000


def read_volume(path: str | os.PathLike, *, patient_id: str, role: str):
    """Read an image or label volume: a file SimpleITK can read, or a folder holding one DICOM series.

    Parameters
    ----------
    path : str or Path
        NRRD (``.nrrd``/``.nhdr``), NIfTI (``.nii``/``.nii.gz``), MetaImage (``.mha``/``.mhd``) or any other
        file SimpleITK reads; or a folder with the DICOM files of exactly one series.
    patient_id : str
        Named in error messages.
    role : str
        Manifest column of the file (``"ct_image"``, ``"ct_mask"``), named in error messages.

    Returns
    -------
    SimpleITK.Image

    Raises
    ------
    ExtractionError
        If the path does not exist, the folder holds no or several DICOM series, a series has missing or
        unevenly spaced slices, or SimpleITK cannot read it.

    Examples
    --------
    >>> import os, tempfile
    >>> import SimpleITK as sitk
    >>> path = os.path.join(tempfile.mkdtemp(), "ct.nrrd")
    >>> sitk.WriteImage(sitk.Image(8, 8, 4, sitk.sitkInt16), path)
    >>> read_volume(path, patient_id="p1", role="ct_image").GetSize()
    (8, 8, 4)
    >>> try:
    ...     read_volume("missing.nrrd", patient_id="p1", role="ct_image")
    ... except ValueError as exc:
    ...     print(str(exc)[:74])
    Patient 'p1', column 'ct_image' ('missing.nrrd'): the file does not exist.
    """
    sitk = require("SimpleITK", extra="radiomics")
    path = os.fspath(path)
    where = f"Patient {patient_id!r}, column {role!r} ({path!r})"
    if os.path.isdir(path):
        series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(path)
        if not series:
            raise case_error(f"{where}: the folder holds no DICOM series. Point {role!r} at an image file (NRRD, "
                             "NIfTI, MHA) or at a folder with the DICOM files of one series.", path=path)
        if len(series) > 1:
            listed = ", ".join(repr(s) for s in series)
            raise case_error(f"{where}: the folder holds {len(series)} DICOM series ({listed}); multisurv cannot "
                             f"tell which one to use. Move each series into its own folder and point {role!r} at "
                             "the right one.", path=path)
        reader = sitk.ImageSeriesReader()
        files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(path, series[0])
        reader.SetFileNames(files)
        warn = sitk.ProcessObject.GetGlobalWarningDisplay()
        sitk.ProcessObject.SetGlobalWarningDisplay(False)  # ITK's gap warning goes to stderr; we raise instead
        try:
            image = reader.Execute()
        except RuntimeError as exc:
            raise case_error(f"{where}: the DICOM series cannot be read ({_first_line(exc)}). Check that every "
                             "slice is complete and belongs to the series.", path=path) from exc
        finally:
            sitk.ProcessObject.SetGlobalWarningDisplay(warn)
        deviation = _slice_spacing_deviation(files, image)
        if deviation > SLICE_SPACING_TOLERANCE * image.GetSpacing()[2]:
            raise case_error(
                f"{where}: the DICOM series ({len(files)} readable slices) has missing or unevenly spaced slices "
                f"(largest deviation from even spacing: {deviation:.3g} mm), so its voxel grid would be wrong. "
                "Export the complete series again, or resample it to even spacing and save it as NRRD or NIfTI.",
                path=path)
        return image
    if not os.path.isfile(path):
        raise case_error(f"{where}: the file does not exist. Correct the {role!r} path in the manifest.", path=path)
    try:
        return sitk.ReadImage(path)
    except RuntimeError as exc:
        raise case_error(f"{where}: not a readable image ({_first_line(exc)}). Check that it is a complete NRRD, "
                         "NIfTI or MHA file, or a folder holding a DICOM series.", path=path) from exc


@dataclass(frozen=True)
class Geometry:
    """The voxel grid of a volume: size (voxels), spacing (mm), origin (mm) and direction cosines.

    Parameters
    ----------
    size : tuple of int
        Number of voxels along each axis, in SimpleITK's (x, y, z) order.
    spacing : tuple of float
        Voxel spacing along each axis, in mm.
    origin : tuple of float
        Physical position of the first voxel's centre, in mm.
    direction : tuple of float
        Direction cosines, row-major (9 values for a 3-D volume).

    See Also
    --------
    check_geometry : Compares the geometries of an image and its mask.

    Examples
    --------
    >>> import SimpleITK as sitk
    >>> print(Geometry.of(sitk.Image(8, 8, 4, sitk.sitkInt16)))
    size (8, 8, 4), spacing (1, 1, 1), origin (0, 0, 0), direction (1, 0, 0, 0, 1, 0, 0, 0, 1)
    """

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    @classmethod
    def of(cls, image) -> "Geometry":
        """The geometry of a ``SimpleITK.Image``.

        Parameters
        ----------
        image : SimpleITK.Image
            Any image; only its header (size, spacing, origin, direction) is read.

        Returns
        -------
        Geometry

        Examples
        --------
        >>> import SimpleITK as sitk
        >>> Geometry.of(sitk.Image(8, 8, 4, sitk.sitkInt16)).size
        (8, 8, 4)
        """
        return cls(tuple(image.GetSize()), tuple(image.GetSpacing()), tuple(image.GetOrigin()),
                   tuple(image.GetDirection()))

    def __str__(self) -> str:
        def fmt(values):
            return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"

        return (f"size {fmt(self.size)}, spacing {fmt(self.spacing)}, origin {fmt(self.origin)}, "
                f"direction {fmt(self.direction)}")

    def differences(self, other: "Geometry", tolerance: float) -> list[str]:
        """Names of the properties in which ``other`` differs from this grid.

        Spacing and origin may differ by ``tolerance`` times the first spacing, direction cosines by
        ``tolerance``: the rule SimpleITK (ITK's ``VerifyInputInformation``) applies, which PyRadiomics'
        ``geometryTolerance`` setting changes.

        Parameters
        ----------
        other : Geometry
            The grid to compare with this one (typically the mask's).
        tolerance : float
            Relative tolerance (SimpleITK's default is 1e-6).

        Returns
        -------
        list of str
            Among ``"size"``, ``"spacing"``, ``"origin"`` and ``"direction"``, in that order; empty when the grids
            match.

        Examples
        --------
        >>> image = Geometry((8, 8, 4), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
        >>> mask = Geometry((8, 8, 4), (1.0, 1.0, 1.0), (0.5, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
        >>> image.differences(mask, 1e-6)
        ['origin']
        >>> image.differences(mask, 1.0)
        []
        """
        coordinate_tol = abs(tolerance * self.spacing[0])
        out = []
        if self.size != other.size:
            out.append("size")
        for name, tol in (("spacing", coordinate_tol), ("origin", coordinate_tol), ("direction", tolerance)):
            a, b = np.asarray(getattr(self, name), float), np.asarray(getattr(other, name), float)
            if a.shape != b.shape or np.any(np.abs(a - b) > tol):
                out.append(name)
        return out


def check_geometry(image, mask, *, patient_id: str, mask_path: str, settings: dict[str, Any]) -> list[str]:
    """Check that ``mask`` lies on ``image``'s voxel grid; return the properties that differ (resampled masks).

    Parameters
    ----------
    image, mask : SimpleITK.Image
        The CT and its label map.
    patient_id, mask_path : str
        Named in the error message.
    settings : dict
        PyRadiomics' ``setting`` section: ``geometryTolerance`` (default 1e-6, SimpleITK's) widens the check and
        ``correctMask: true`` lets PyRadiomics resample a mismatching mask onto the image grid with
        nearest-neighbour interpolation.

    Returns
    -------
    list of str
        Empty when the grids match; otherwise the differing properties (only when ``correctMask`` is true).

    Raises
    ------
    ExtractionError
        If the grids differ and ``correctMask`` is not true; the message gives both geometries.

    Examples
    --------
    >>> import SimpleITK as sitk
    >>> image = sitk.Image(8, 8, 4, sitk.sitkInt16)
    >>> mask = sitk.Image(8, 8, 4, sitk.sitkUInt8)
    >>> mask.SetOrigin((0.5, 0.0, 0.0))
    >>> check_geometry(image, mask, patient_id="p1", mask_path="m.nrrd", settings={"correctMask": True})
    ['origin']
    >>> try:
    ...     check_geometry(image, mask, patient_id="p1", mask_path="m.nrrd", settings={})
    ... except ValueError as exc:
    ...     print(str(exc)[:80])
    Patient 'p1': the mask does not lie on the image's voxel grid (different origin;
    """
    tolerance = settings.get("geometryTolerance")
    tolerance = DEFAULT_TOLERANCE if tolerance is None else float(tolerance)
    image_geometry, mask_geometry = Geometry.of(image), Geometry.of(mask)
    differ = image_geometry.differences(mask_geometry, tolerance)
    if differ and not settings.get("correctMask", False):
        raise case_error(
            f"Patient {patient_id!r}: the mask does not lie on the image's voxel grid (different {', '.join(differ)}; "
            f"tolerance {tolerance:g}). Image: {image_geometry}. Mask: {mask_geometry}. Resample the mask onto the "
            "image, or allow it in the params file: 'correctMask: true' resamples the mask onto the image grid "
            "(nearest neighbour) and 'geometryTolerance' accepts small differences.", path=mask_path)
    if differ:
        logger.info("Patient %r: the mask's %s differ from the image's; PyRadiomics resamples it (nearest "
                    "neighbour, correctMask: true).", patient_id, ", ".join(differ))
    return differ


def check_roi(mask, *, label: int, patient_id: str, mask_path: str) -> tuple[int, list[str]]:
    """Count the voxels of ``label`` in ``mask``; raise when there are none, warn when there are few.

    Parameters
    ----------
    mask : SimpleITK.Image
        The label map.
    label : int
        The mask value of the ROI.
    patient_id, mask_path : str
        Named in the messages.

    Returns
    -------
    n_voxels : int
    warnings : list of str
        One message when ``n_voxels < TINY_ROI_VOXELS`` (also logged as a warning).

    Raises
    ------
    ExtractionError
        If the mask is empty, or holds other labels but not ``label`` (the message lists them).

    Examples
    --------
    >>> import SimpleITK as sitk
    >>> mask = sitk.Image(8, 8, 4, sitk.sitkUInt8)
    >>> mask[2:6, 2:6, 0:3] = 1
    >>> check_roi(mask, label=1, patient_id="p1", mask_path="m.nrrd")
    (48, [])
    >>> try:
    ...     check_roi(mask, label=2, patient_id="p1", mask_path="m.nrrd")
    ... except ValueError as exc:
    ...     print(str(exc)[:72])
    Patient 'p1': the mask has no voxel with label 2; it holds label(s) [1].
    """
    sitk = require("SimpleITK", extra="radiomics")
    values = sitk.GetArrayViewFromImage(mask)
    n_voxels = int(np.count_nonzero(values == label))
    if n_voxels == 0:
        present = [int(v) for v in np.unique(values) if v != 0]
        if not present:
            raise case_error(f"Patient {patient_id!r}: the mask is empty (no voxel is segmented). Correct the mask "
                             "or drop the patient's CT from the manifest.", path=mask_path)
        raise case_error(f"Patient {patient_id!r}: the mask has no voxel with label {label}; it holds label(s) "
                         f"{present}. Set 'label' in the params file's 'setting' section to the value the masks use, "
                         "or correct the mask.", path=mask_path)
    warnings = []
    if n_voxels < TINY_ROI_VOXELS:
        message = (f"Patient {patient_id!r}: the ROI (label {label}) has only {n_voxels} voxel(s), fewer than "
                   f"{TINY_ROI_VOXELS}; its texture features are unreliable. Check the mask ({mask_path!r}).")
        logger.warning(message)
        warnings.append(message)
    return n_voxels, warnings


def check_image_and_mask(image, mask, *, patient_id: str, image_path: str, mask_path: str, label: int) -> list[str]:
    """Refuse a mask that is not a label map and an image that is one (swapped, or one file given twice).

    Parameters
    ----------
    image, mask : SimpleITK.Image
        The CT and its label map.
    patient_id : str
        Named in the messages.
    image_path, mask_path : str
        The files, named in the messages; the same path for both is refused.
    label : int
        The mask value of the ROI (its pieces are counted).

    Returns
    -------
    list of str
        The warnings (an ROI in more than :data:`~multisurv.cohort.images.MAX_ROI_PIECES` pieces), also logged;
        empty for a sound pair.

    Raises
    ------
    ExtractionError
        Naming the patient and the file at fault: the mask holds negative, non-integer or too many distinct
        values; the image holds only a few values or the same voxels as the mask; the image has NaN voxels.

    Examples
    --------
    >>> import SimpleITK as sitk
    >>> rng = np.random.default_rng(0)
    >>> image = sitk.GetImageFromArray(rng.normal(0, 100, (4, 8, 8)).astype(np.int16))
    >>> mask = sitk.Image(8, 8, 4, sitk.sitkUInt8)
    >>> mask[2:5, 2:5, 1:3] = 1
    >>> check_image_and_mask(image, mask, patient_id="p1", image_path="ct.nrrd", mask_path="m.nrrd", label=1)
    []
    >>> try:  # swapped
    ...     check_image_and_mask(mask, image, patient_id="p1", image_path="ct.nrrd", mask_path="m.nrrd", label=1)
    ... except ValueError as exc:
    ...     print(str(exc)[:59])
    Patient 'p1', mask 'm.nrrd': the mask holds negative values
    """
    sitk = require("SimpleITK", extra="radiomics")
    mask_values = sitk.GetArrayViewFromImage(mask)
    image_values = sitk.GetArrayViewFromImage(image)
    if os.path.abspath(image_path) == os.path.abspath(mask_path):
        raise case_error(f"Patient {patient_id!r}: the image and the mask are the same file ({image_path!r}). Give the "
                         "label map as the mask.", path=mask_path)
    for problem in mask_problems(mask_values):
        raise case_error(f"Patient {patient_id!r}, mask {mask_path!r}: {problem}", path=mask_path)
    same_grid = mask_values.shape == image_values.shape
    for problem in image_problems(image_values, mask_values if same_grid else None):
        raise case_error(f"Patient {patient_id!r}, image {image_path!r}: {problem}", path=image_path)
    warnings = []
    pieces = roi_pieces(mask_values, label)
    if pieces > MAX_ROI_PIECES:
        message = f"Patient {patient_id!r}, mask {mask_path!r}: {roi_pieces_warning(pieces, label)}"
        logger.warning(message)
        warnings.append(message)
    return warnings


def check_resampled_size(image, mask, *, label: int, settings: dict[str, Any], patient_id: str,
                         image_path: str) -> None:
    """Refuse a resampling whose grid would have more than :data:`MAX_RESAMPLED_VOXELS` voxels, before allocating.

    PyRadiomics resamples the ROI's bounding box (plus ``padDistance`` voxels) to ``resampledPixelSpacing``; a
    wrong spacing in the image header (e.g. 1,000 mm) or a tiny target spacing asks for an absurd allocation.

    Parameters
    ----------
    image, mask : SimpleITK.Image
        The CT (its spacing is used) and its label map.
    label : int
        The mask value of the ROI whose bounding box is resampled.
    settings : dict
        PyRadiomics' ``setting`` section: ``resampledPixelSpacing`` (nothing is checked when absent or empty)
        and ``padDistance`` (default 5 voxels).
    patient_id, image_path : str
        Named in the error message.

    Raises
    ------
    ExtractionError
        If the resampled grid would have more than :data:`MAX_RESAMPLED_VOXELS` voxels.

    Examples
    --------
    >>> import SimpleITK as sitk
    >>> img = sitk.Image(20, 20, 20, sitk.sitkInt16)
    >>> img.SetSpacing((1000.0, 1000.0, 1000.0))
    >>> m = sitk.Image(20, 20, 20, sitk.sitkUInt8) + 1
    >>> m.CopyInformation(img)
    >>> try:
    ...     check_resampled_size(img, m, label=1, settings={"resampledPixelSpacing": [1, 1, 1]}, patient_id="p1",
    ...                          image_path="p1.nrrd")
    ... except ValueError as exc:
    ...     print(str(exc)[:95])
    Patient 'p1': resampling the ROI box to [1, 1, 1] mm would make a grid of 30000 x 30000 x 30000
    """
    target = settings.get("resampledPixelSpacing")
    if not target:
        return
    sitk = require("SimpleITK", extra="radiomics")
    roi = sitk.GetArrayViewFromImage(mask) == label
    if not roi.any():
        return
    zyx = np.nonzero(roi)
    extent = [int(a.max() - a.min() + 1) for a in zyx][::-1]  # x, y, z voxels
    pad = int(settings.get("padDistance", 5))
    spacing = image.GetSpacing()
    size = [int(np.ceil((n + 2 * pad) * s / t)) if t else n + 2 * pad
            for n, s, t in zip(extent, spacing, list(target) + [0] * (3 - len(target)))]
    n_voxels = float(np.prod(np.asarray(size, dtype=float)))
    if n_voxels > MAX_RESAMPLED_VOXELS:
        raise case_error(
            f"Patient {patient_id!r}: resampling the ROI box to {list(target)} mm would make a grid of "
            f"{' x '.join(str(v) for v in size)} voxels ({n_voxels:.3g}; at most {MAX_RESAMPLED_VOXELS:.0e}). The "
            f"image's voxel spacing is {tuple(round(v, 4) for v in spacing)} mm: check it in the file's header (a "
            "wrong unit or a broken export), or use a larger 'resampledPixelSpacing' in the params file.",
            path=image_path)


def _slice_spacing_deviation(files: list[str], image) -> float:
    """Largest difference (mm) between a gap of consecutive slice positions and the mean gap.

    Positions are the slices' Image Position (Patient) tags projected on the slice normal of ``image``
    (read from the headers only). A missing slice shows up as one gap twice the others.
    """
    sitk = require("SimpleITK", extra="radiomics")
    if len(files) < 3:
        return 0.0
    normal = np.asarray(image.GetDirection(), float).reshape(3, 3)[:, 2]
    reader = sitk.ImageFileReader()
    positions = []
    for name in files:
        reader.SetFileName(name)
        reader.ReadImageInformation()
        if not reader.HasMetaDataKey("0020|0032"):
            return 0.0  # no positions to check (ITK then uses the slice thickness)
        positions.append(float(np.dot(normal, [float(v) for v in reader.GetMetaData("0020|0032").split("\\")])))
    gaps = np.diff(np.sort(positions))
    return float(np.max(np.abs(gaps - gaps.mean())))


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[-2:]) if lines else type(exc).__name__
