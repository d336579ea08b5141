"""Synthetic CT crops around a GIST-like tumour, with its tumour mask (used by :mod:`multisurv.cohort.synthetic`).

Each case is a small crop (at most 64 x 64 x 24 voxels) around one tumour, in HU-like ``int16`` values:
soft tissue (about 40 HU) with fat (about -100 HU) around an enhancing, lobulated tumour. How the tumour
looks depends on the patient's radiological aggressiveness ``u_ct``:

- shape: higher ``u_ct`` -> more lobulated, irregular outline;
- texture: higher ``u_ct`` -> more heterogeneous (larger amplitude) and coarser internal texture,
  slightly lower enhancement of the solid part;
- necrosis: higher ``u_ct`` -> a larger low-density (about 18 HU) central core.

The tumour size on CT follows the true tumour size on a compressed (logarithmic) scale, so the crop and
the mask stay small (at most ~15,000 voxels) so that PyRadiomics takes well under a second per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from multisurv._atomic import write_atomic
from multisurv._optional import require

__all__ = ["ScannerProfile", "SCANNERS", "CTCase", "tumour_radius_mm", "render_ct", "write_ct", "draw_second_reader",
           "write_mask"]

#: Largest crop, in voxels (z, y, x); keeps PyRadiomics fast.
MAX_SHAPE = (24, 64, 64)


@dataclass(frozen=True)
class ScannerProfile:
    """Acquisition settings of one centre's CT scanner.

    Parameters
    ----------
    inplane_spacing_mm : tuple of float
        Range (low, high) of the in-plane pixel spacing, drawn uniformly per scan.
    slice_thickness_mm : float
        Slice spacing.
    noise_hu : float
        Standard deviation of the (slightly correlated) image noise, in HU.
    hu_offset : float
        Calibration offset added to every voxel, in HU.

    Examples
    --------
    >>> scanner = ScannerProfile(inplane_spacing_mm=(1.0, 1.2), slice_thickness_mm=3.0, noise_hu=11.0, hu_offset=0.0)
    >>> scanner == SCANNERS["development"]
    True
    """

    inplane_spacing_mm: tuple[float, float]
    slice_thickness_mm: float
    noise_hu: float
    hu_offset: float

    def to_dict(self) -> dict:
        """The settings as a JSON-ready dict.

        Returns
        -------
        dict
            ``inplane_spacing_mm`` (a list), ``slice_thickness_mm``, ``noise_hu`` and ``hu_offset``.

        Examples
        --------
        >>> SCANNERS["external"].to_dict()
        {'inplane_spacing_mm': [1.1, 1.3], 'slice_thickness_mm': 2.5, 'noise_hu': 14.0, 'hu_offset': 6.0}
        """
        return {"inplane_spacing_mm": list(self.inplane_spacing_mm), "slice_thickness_mm": self.slice_thickness_mm,
                "noise_hu": self.noise_hu, "hu_offset": self.hu_offset}


#: The two centres of the synthetic cohort: the external scanner has coarser pixels, thinner slices,
#: more noise and a calibration offset of a few HU.
SCANNERS = {
    "development": ScannerProfile(inplane_spacing_mm=(1.0, 1.2), slice_thickness_mm=3.0, noise_hu=11.0,
                                  hu_offset=0.0),
    "external": ScannerProfile(inplane_spacing_mm=(1.1, 1.3), slice_thickness_mm=2.5, noise_hu=14.0,
                               hu_offset=6.0),
}


@dataclass(frozen=True)
class CTCase:
    """One synthetic CT crop.

    Parameters
    ----------
    image : numpy.ndarray of int16, shape (z, y, x)
        HU-like values.
    mask : numpy.ndarray of uint8, shape (z, y, x)
        Tumour label (1) on the same grid; 0 elsewhere.
    spacing : tuple of float
        Voxel spacing (x, y, z) in mm, in SimpleITK order.
    origin : tuple of float
        Physical position (x, y, z) of the first voxel, in mm.

    Examples
    --------
    >>> case = CTCase(image=np.zeros((2, 3, 3), dtype=np.int16), mask=np.zeros((2, 3, 3), dtype=np.uint8),
    ...               spacing=(1.0, 1.0, 3.0), origin=(0.0, 0.0, 0.0))
    >>> case.image.shape, case.spacing
    ((2, 3, 3), (1.0, 1.0, 3.0))
    """

    image: np.ndarray
    mask: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def tumour_radius_mm(size_cm: float) -> float:
    """Mean tumour radius drawn on CT for a tumour of largest diameter ``size_cm``.

    The scale is compressed (logarithmic, 6-22 mm) so that every crop stays small; the ranking of tumour
    sizes is kept, which is all the models can use.

    Parameters
    ----------
    size_cm : float
        True largest tumour diameter, in cm (> 0).

    Returns
    -------
    float
        ``7 + 4.5 * log(size_cm)`` mm, clipped to [6, 22] mm.

    Examples
    --------
    >>> round(tumour_radius_mm(5.0), 2)
    14.24
    >>> tumour_radius_mm(0.5), tumour_radius_mm(100.0)
    (6.0, 22.0)
    """
    return float(np.clip(7.0 + 4.5 * np.log(size_cm), 6.0, 22.0))


def _smooth_noise(rng: np.random.Generator, shape, sigma_vox) -> np.ndarray:
    """Gaussian-smoothed white noise, rescaled to mean 0 and standard deviation 1."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_vox, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-12)


def render_ct(rng: np.random.Generator, *, u_ct: float, size_cm: float, scanner: ScannerProfile) -> CTCase:
    """Draw one CT crop and its tumour mask.

    Parameters
    ----------
    rng : numpy.random.Generator
        The patient's CT stream; the same stream gives the same case.
    u_ct : float
        Radiological aggressiveness (standard normal in the cohort); see the module docstring.
    size_cm : float
        True largest tumour diameter in cm (sets the tumour radius, see :func:`tumour_radius_mm`).
    scanner : ScannerProfile
        The centre's acquisition settings.

    Returns
    -------
    CTCase
        ``int16`` HU image and ``uint8`` mask on a grid of at most 24 x 64 x 64 voxels (z, y, x), with the drawn
        in-plane spacing, the scanner's slice thickness and a random origin.

    Examples
    --------
    >>> case = render_ct(np.random.default_rng(0), u_ct=0.0, size_cm=5.0, scanner=SCANNERS["development"])
    >>> case.image.shape, case.image.dtype, int(case.mask.sum()), case.spacing
    ((14, 46, 46), dtype('int16'), 2342, (1.127, 1.127, 3.0))
    """
    sx = round(float(rng.uniform(*scanner.inplane_spacing_mm)), 3)
    sz = scanner.slice_thickness_mm
    radius = tumour_radius_mm(size_cm)
    semi_axes = radius * np.array([1.0, rng.uniform(0.8, 1.0), rng.uniform(0.75, 0.95)])  # x, y, z in mm
    # Each phenotype follows u_ct with its own patient-level scatter, as no single sign tells the whole story.
    scatter = rng.normal(0.0, 0.7, 4)
    lobulation = 0.05 + 0.13 * _sigmoid(1.5 * u_ct + scatter[0])

    reach = semi_axes * (1.0 + 2.5 * lobulation)
    nx = int(min(MAX_SHAPE[2], 2 * np.ceil((reach[0] + 7.0) / sx)))
    nz = int(min(MAX_SHAPE[0], 2 * np.ceil((reach[2] + 5.0) / sz)))
    shape = (nz, nx, nx)
    spacing_zyx = np.array([sz, sx, sx])

    centre = (np.array(shape) - 1) / 2.0 + rng.uniform(-1.0, 1.0, 3)
    z, y, x = [(np.arange(n) - c) * s for n, c, s in zip(shape, centre, spacing_zyx)]
    z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]
    phi = rng.uniform(0.0, np.pi)
    xr = x * np.cos(phi) + y * np.sin(phi)
    yr = -x * np.sin(phi) + y * np.cos(phi)
    dist = np.sqrt((xr / semi_axes[0]) ** 2 + (yr / semi_axes[1]) ** 2 + (z / semi_axes[2]) ** 2)

    def noise(sigma_mm: float) -> np.ndarray:
        return _smooth_noise(rng, shape, sigma_mm / spacing_zyx)

    coarse, fine = noise(0.45 * radius), noise(0.2 * radius)
    outline = dist + lobulation * (coarse + (0.3 + 0.5 * _sigmoid(u_ct + scatter[0])) * fine)
    # The drawn outline: the tumour edge sits at outline = 1, the reader's contour a little in or out of it.
    labels, n_parts = ndimage.label(outline < 1.0 + rng.normal(0.0, 0.03))
    if n_parts > 1:  # keep the main tumour, not the small islands noise can leave at the edge
        mask = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    elif n_parts == 1:
        mask = labels == 1
    else:  # not seen in practice: the noise would have to exceed ~5 sd at the centre
        mask = dist < 1.0

    # Tumour: enhancing solid part with texture, and a necrotic core whose size grows with u_ct.
    solid_hu = 52.0 - 4.0 * u_ct + rng.normal(0.0, 6.0)  # the spread stands for contrast timing
    texture_sigma_mm = 1.0 + 2.5 * _sigmoid(1.2 * u_ct + scatter[1])
    texture_hu = 5.0 + 15.0 * _sigmoid(1.3 * u_ct + scatter[2])
    tumour = solid_hu + texture_hu * noise(texture_sigma_mm)
    necrosis_level = 0.6 * _sigmoid(2.0 * (u_ct - 0.3) + scatter[3])
    necrosis = _sigmoid((necrosis_level - (dist + 0.2 * noise(0.3 * radius))) / 0.04)
    tumour = (1.0 - necrosis) * tumour + necrosis * (18.0 + 6.0 * noise(2.0))

    # Surroundings: soft tissue with fat, the fat kept a few mm away from the tumour edge.
    soft = 40.0 + 8.0 * noise(4.0)
    fat = (noise(7.0) > 0.2) & (outline > 1.0 + 4.0 / radius)
    fat_weight = ndimage.gaussian_filter(fat.astype(float), 1.0 / spacing_zyx)
    background = (1.0 - fat_weight) * soft + fat_weight * (-100.0 + 10.0 * noise(5.0))

    inside = _sigmoid((1.0 - outline) / 0.03)
    volume = inside * tumour + (1.0 - inside) * background
    volume = ndimage.gaussian_filter(volume, (0.4, 0.6, 0.6))  # scanner point-spread function
    noise_hu = scanner.noise_hu * np.exp(rng.normal(0.0, 0.15))  # dose and patient habitus vary per scan
    volume += noise_hu * _smooth_noise(rng, shape, (0.3, 0.6, 0.6)) + scanner.hu_offset
    image = np.clip(np.rint(volume), -1024, 3071).astype(np.int16)

    origin = (round(float(rng.uniform(-120.0, 80.0)), 2), round(float(rng.uniform(-150.0, 50.0)), 2),
              round(float(rng.uniform(-250.0, -50.0)), 2))
    return CTCase(image=image, mask=mask.astype(np.uint8), spacing=(sx, sx, sz), origin=origin)


def draw_second_reader(rng: np.random.Generator, case: CTCase, *, amplitude_mm: float = 1.2,
                       smoothness_mm: float = 4.0, bias_mm: float = 0.5) -> np.ndarray:
    """A second reader's tumour mask: the first reader's contour redrawn with smooth local and global differences.

    Parameters
    ----------
    rng : numpy.random.Generator
        The patient's second-reader stream.
    case : CTCase
        The case with the first reader's mask.
    amplitude_mm : float, default=1.2
        Standard deviation of the local displacement of the outline, in mm (about one in-plane voxel).
    smoothness_mm : float, default=4.0
        Correlation length of the displacement along the outline, in mm.
    bias_mm : float, default=0.5
        Standard deviation of the reader's systematic offset (drawing the whole outline wider or tighter), in mm;
        drawn once per patient.

    Returns
    -------
    numpy.ndarray of uint8, shape of ``case.mask``
        Label 1 in the tumour; the first reader's mask where the redrawn one would be empty.

    Notes
    -----
    The signed distance to the first reader's outline (negative inside, mm) plus the offset and a smooth
    Gaussian field is thresholded at 0, and the largest connected part is kept: the outline moves in and out by
    about a voxel, as in inter-observer studies of well-defined tumours, while the interior stays.

    Examples
    --------
    >>> case = render_ct(np.random.default_rng(0), u_ct=0.0, size_cm=5.0, scanner=SCANNERS["development"])
    >>> second = draw_second_reader(np.random.default_rng(1), case)
    >>> overlap = 2 * (second & case.mask).sum() / (second.sum() + case.mask.sum())
    >>> bool(0.8 < overlap < 1.0)
    True
    """
    roi = case.mask.astype(bool)
    spacing_zyx = np.asarray(case.spacing[::-1], dtype=float)
    signed = np.where(roi, -ndimage.distance_transform_edt(roi, sampling=spacing_zyx),
                      ndimage.distance_transform_edt(~roi, sampling=spacing_zyx))
    offset = rng.normal(0.0, bias_mm)
    field = _smooth_noise(rng, roi.shape, smoothness_mm / spacing_zyx)
    redrawn = signed + offset + amplitude_mm * field < 0
    labels, n_parts = ndimage.label(redrawn)
    if n_parts == 0:
        return case.mask.copy()
    largest = 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    return (labels == largest).astype(np.uint8)


def write_mask(mask: np.ndarray, case: CTCase, path: str | Path) -> None:
    """Write another mask of ``case`` (e.g. a second reader's) on its grid, as :func:`write_ct` writes its own.

    Parameters
    ----------
    mask : numpy.ndarray, shape of ``case.image``
        The labels to write (``uint8``, 1 in the tumour).
    case : CTCase
        The case whose spacing and origin the file gets.
    path : str or Path
        Output file (gzip-compressed NRRD, written atomically).

    Raises
    ------
    ImportError
        When SimpleITK is not installed (``pip install "multisurv[radiomics]"``).

    Examples
    --------
    >>> second = draw_second_reader(np.random.default_rng(1), case)  # doctest: +SKIP
    >>> write_mask(second, case, "ct/P001_mask_reader2.nrrd")  # doctest: +SKIP
    """
    write_atomic(path, _nrrd_writer(mask, case))


def _nrrd_writer(array: np.ndarray, case: CTCase):
    sitk = require("SimpleITK", extra="radiomics")
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(case.spacing)
    image.SetOrigin(case.origin)
    image.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))

    def write(path: Path) -> None:
        w = sitk.ImageFileWriter()
        w.SetImageIO("NrrdImageIO")  # the temporary file has no .nrrd suffix
        w.SetFileName(str(path))
        w.SetUseCompression(True)
        w.Execute(image)

    return write


def write_ct(case: CTCase, image_path: str | Path, mask_path: str | Path) -> None:
    """Write the image and the mask as gzip-compressed NRRD files, each atomically.

    The files hold nothing time-dependent, so the same case always gives byte-identical files.

    Parameters
    ----------
    case : CTCase
        The image, mask, spacing and origin to write.
    image_path : str or Path
        Output file of the image (``int16`` HU).
    mask_path : str or Path
        Output file of the mask (``uint8`` labels), on the same grid.

    Raises
    ------
    ImportError
        When SimpleITK is not installed (``pip install "multisurv[radiomics]"``).

    Examples
    --------
    >>> case = render_ct(np.random.default_rng(0), u_ct=0.0, size_cm=5.0, scanner=SCANNERS["development"])
    >>> write_ct(case, "ct/P001_image.nrrd", "ct/P001_mask.nrrd")  # doctest: +SKIP
    """
    write_atomic(image_path, _nrrd_writer(case.image, case))
    write_atomic(mask_path, _nrrd_writer(case.mask, case))
