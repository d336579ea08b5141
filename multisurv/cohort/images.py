"""Image and mask content checks: catch a swapped pair, an image given as its own mask, a broken or absurd volume.

A mask is a small integer label map; a CT (or MR) image has many distinct values. Without these checks a swapped
image and mask (or the image given as the mask) extracts features from whatever voxels happen to equal the
label, with no error. The functions here look at voxel values only (no geometry: that is
:func:`multisurv.features.volume.check_geometry`'s job) and return problems as sentences (what was found and the
fix); the caller adds where (manifest row, patient, file). They are used by ``multisurv validate`` (through
:func:`check_manifest_images`) and at extraction (:func:`multisurv.features.volume.check_image_and_mask`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from multisurv._optional import require

__all__ = ["MAX_MASK_LABELS", "MIN_IMAGE_VALUES", "MAX_ROI_PIECES", "mask_problems", "image_problems",
           "roi_pieces", "check_manifest_images"]

#: A label map with more distinct non-zero values than this is not a mask (a CT has thousands; MR hundreds).
MAX_MASK_LABELS = 32
#: An image with this many distinct values or fewer is a label map, not a CT or MR image.
MIN_IMAGE_VALUES = 4
#: An ROI split into more connected pieces than this is suspicious (a warning): a threshold, not a tumour outline.
MAX_ROI_PIECES = 20


def mask_problems(mask: np.ndarray) -> list[str]:
    """Why ``mask`` (voxel array) is not a label map; empty when it is one.

    Parameters
    ----------
    mask : ndarray
        The mask's voxels.

    Returns
    -------
    list of str
        At most one sentence: NaN or infinite values, non-integer or negative values, or more than
        :data:`MAX_MASK_LABELS` distinct labels.

    Examples
    --------
    >>> mask_problems(np.array([0, 1, 1, 2]))
    []
    >>> print(mask_problems(np.array([-1000.0, 35.5, 40.0]))[0])  # doctest: +ELLIPSIS
    the mask holds non-integer values (e.g. 35.5; range -1000 to 40): a mask is a small integer label map, ...
    """
    values = np.asarray(mask)
    if values.size == 0:
        return []
    low, high = float(np.nanmin(values)) if values.dtype.kind == "f" else float(values.min()), \
        float(np.nanmax(values)) if values.dtype.kind == "f" else float(values.max())
    hint = ("so this file looks like an image (image and mask swapped, or the image given as its mask?). "
            "Give the label map in the mask column")
    if values.dtype.kind == "f":
        if not np.isfinite(values).all():
            return [f"the mask holds NaN or infinite values: a mask is a small integer label map, {hint}."]
        fractional = values[values != np.round(values)]
        if fractional.size:
            return [f"the mask holds non-integer values (e.g. {fractional.flat[0]:g}; range {low:g} to {high:g}): a "
                    f"mask is a small integer label map, {hint}."]
    if low < 0:
        return [f"the mask holds negative values (range {low:g} to {high:g}, like CT Hounsfield units): a mask is a "
                f"small integer label map (0 = background), {hint}."]
    labels = _distinct(values)
    labels = labels[labels != 0]
    if labels.size > MAX_MASK_LABELS:
        return [f"the mask holds {labels.size} distinct non-zero values (range {low:g} to {high:g}); a mask is a "
                f"small integer label map (at most {MAX_MASK_LABELS} labels), {hint}."]
    return []


def image_problems(image: np.ndarray, mask: np.ndarray | None = None) -> list[str]:
    """Why ``image`` (voxel array) is not a usable CT/MR image; empty when it is.

    Parameters
    ----------
    image : ndarray
        The image's voxels.
    mask : ndarray, optional
        Its mask: counts the NaN voxels inside it, and detects the same file given twice.

    Returns
    -------
    list of str
        The problems: NaN or infinite voxels, too few distinct values (a label map), identical to the mask.

    Examples
    --------
    >>> print(image_problems(np.array([0, 1, 1, 0]))[0])  # doctest: +ELLIPSIS
    the image holds only 2 distinct value(s) (0, 1): it looks like a label map, not a CT or MR image ...
    """
    values = np.asarray(image)
    problems = []
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            inside = "" if mask is None or mask.shape != values.shape else \
                f", {int(np.count_nonzero(bad & (mask != 0)))} inside the mask"
            problems.append(f"the image has {int(bad.sum())} NaN or infinite voxel(s){inside}: PyRadiomics cannot "
                            "bin them. Re-export the image, or replace those voxels (e.g. by the background value).")
            values = values[~bad]
    distinct = _distinct(values)
    if 0 < distinct.size <= MIN_IMAGE_VALUES:
        shown = ", ".join(f"{v:g}" for v in distinct)
        problems.append(f"the image holds only {distinct.size} distinct value(s) ({shown}): it looks like a label "
                        "map, not a CT or MR image (image and mask swapped, or the mask given as the image?). Give "
                        "the image in the image column.")
    elif mask is not None and mask.shape == values.shape and np.array_equal(values, mask):
        problems.append("the image and the mask have identical voxels: the same file was given twice. Give the "
                        "image in the image column and the label map in the mask column.")
    return problems


def roi_pieces(mask: np.ndarray, label: int) -> int:
    """Number of connected pieces (26-connectivity) of the voxels equal to ``label``.

    Parameters
    ----------
    mask : ndarray
        The label map.
    label : int
        The ROI's label.

    Returns
    -------
    int
        0 when no voxel has the label.

    Examples
    --------
    >>> m = np.zeros((1, 5, 5), int)
    >>> m[0, 0, 0] = m[0, 4, 4] = m[0, 2, 2] = 1
    >>> roi_pieces(m, 1)
    3
    """
    from scipy import ndimage

    roi = np.asarray(mask) == label
    if not roi.any():
        return 0
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(roi))
    _, n = ndimage.label(roi[box], structure=np.ones((3,) * roi.ndim, dtype=bool))
    return int(n)


def read_array(path: str | os.PathLike) -> np.ndarray:
    """Voxels of an image file or DICOM series folder (SimpleITK), as (z, y, x)."""
    sitk = require("SimpleITK", extra="radiomics")
    path = Path(path)
    if path.is_dir():
        files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path))
        image = sitk.ReadImage(list(files))
    else:
        image = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(image)


def check_manifest_images(path: str | os.PathLike, *, pairs: Sequence[tuple[str, str]] = (("ct_image", "ct_mask"),),
                          label: int | None = 1) -> tuple[list[str], list[str]]:
    """Read every image and mask a manifest pairs and return every content problem, with row, patient and column.

    Run by ``multisurv validate`` after the manifest itself is valid (paths exist). Checks per pair: the mask is a
    small integer label map, the image is not one, they are not the same voxels, the image has no NaN, and the
    ROI (``label``) is not in more than :data:`MAX_ROI_PIECES` pieces.

    Parameters
    ----------
    path : str or Path
        The manifest CSV; relative paths in it are read from its folder.
    pairs : sequence of (str, str), default=(("ct_image", "ct_mask"),)
        (image column, mask column) pairs; rows with an empty cell in a pair are skipped.
    label : int or None, default=1
        The ROI label whose pieces are counted (None: no count).

    Returns
    -------
    problems : list of str
        ``"<manifest> row R (patient_id='P'), column 'ct_mask': <what>. <fix>"``, one per problem.
    warnings : list of str
        Suspicious but usable (an ROI in many pieces), in the same form.

    Raises
    ------
    ImportError
        When SimpleITK is not installed (``pip install "multisurv[radiomics]"``).

    Examples
    --------
    >>> problems, warnings = check_manifest_images("cohort/manifest.csv")  # doctest: +SKIP
    >>> print(problems[0])  # doctest: +SKIP
    manifest.csv row 5 (patient_id='GIST-004'), column 'ct_mask': the mask holds negative values ...
    """
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False)
    base = path.resolve().parent
    problems: list[str] = []
    warnings: list[str] = []
    for i, row in frame.iterrows():
        for image_col, mask_col in pairs:
            image_cell, mask_cell = str(row.get(image_col, "")).strip(), str(row.get(mask_col, "")).strip()
            if not image_cell or not mask_cell:
                continue
            where = f"{path.name} row {i + 2} (patient_id={row.get('patient_id', '')!r})"
            found, warned = _pair_problems(where, base / image_cell, base / mask_cell, image_col, mask_col, label)
            problems += found
            warnings += warned
    return problems, warnings


def _pair_problems(where: str, image_path: Path, mask_path: Path, image_col: str, mask_col: str,
                   label: int | None) -> tuple[list[str], list[str]]:
    if image_path.resolve() == mask_path.resolve():
        return [f"{where}, columns {image_col!r} and {mask_col!r}: must be different files; got the same file "
                f"'{image_path}' twice. Give the label map in {mask_col!r}."], []
    try:
        mask = read_array(mask_path)
        image = read_array(image_path)
    except RuntimeError as exc:  # SimpleITK cannot read it: the extraction reports the file in full
        first = " ".join(str(exc).split())[:160]
        return [f"{where}, columns {image_col!r}/{mask_col!r}: a file could not be read ({first}). Check that both "
                "are complete image files (NRRD, NIfTI, MHA) or DICOM series folders."], []
    found = [f"{where}, column {mask_col!r}: {p}" for p in mask_problems(mask)]
    found += [f"{where}, column {image_col!r}: {p}" for p in image_problems(image, mask if not found else None)]
    warned = []
    if not found and label is not None:
        pieces = roi_pieces(mask, label)
        if pieces > MAX_ROI_PIECES:
            warned.append(f"{where}, column {mask_col!r}: {roi_pieces_warning(pieces, label)}")
    return found, warned


def roi_pieces_warning(pieces: int, label: int) -> str:
    """The warning for an ROI in ``pieces`` disconnected pieces."""
    return (f"the ROI (label {label}) is in {pieces} disconnected pieces (more than {MAX_ROI_PIECES}): it looks like "
            "a threshold or a noisy segmentation, not one tumour outline. Check the mask; extraction still runs.")


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values (sorted); O(n) with a histogram for integer voxels, as CT and masks are."""
    flat = np.asarray(values).ravel()
    if flat.size and flat.dtype.kind in "iub":
        low, high = int(flat.min()), int(flat.max())
        if high - low < 1 << 20:
            counts = np.bincount((flat.astype(np.int64) - low))
            return np.nonzero(counts)[0] + low
    return np.unique(flat)
