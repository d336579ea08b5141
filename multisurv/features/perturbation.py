"""Image and mask perturbations for radiomics robustness (Zwanenburg et al., Sci Rep 2019).

A :class:`Perturbation` describes one perturbed copy of a CT and its mask: a rotation in the axial plane about
the ROI's centre, a sub-voxel translation, additive Gaussian noise at the image's own noise level, growth or
shrinkage of the mask by one voxel, and contour randomisation (the outline moved by a smooth random field of
about one voxel). :func:`perturbation_plan` gives the default set, and :func:`perturb_volume` applies one to a
``SimpleITK`` image and mask. Random parts are drawn from a ``numpy.random.Generator``, so a perturbation is
reproduced exactly from its seed (see :mod:`multisurv.features.robustness` for the per-patient seeds).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from multisurv._optional import require
from multisurv._validation import check_param

__all__ = ["Perturbation", "perturbation_plan", "perturb_volume", "estimate_noise_sd", "randomise_contour",
           "dice"]


@dataclass(frozen=True)
class Perturbation:
    """One perturbed copy of an image and its mask.

    Parameters
    ----------
    name : str
        Short name, used in file names and as the rater name of the ICC (``"rtnc1"``, ``"erode"``).
    rotation_deg : float, default=0.0
        Rotation in the axial plane (about the image's third axis), through the ROI's centroid, in degrees.
    translation : tuple of float, default=(0.0, 0.0, 0.0)
        Shift along the image's (x, y, z) axes as fractions of a voxel.
    noise : bool, default=False
        Add Gaussian noise with the image's estimated noise level (:func:`estimate_noise_sd`).
    growth : int, default=0
        Grow (+1) or shrink (-1) the mask by one voxel in the axial plane; 0 leaves it.
    contour : bool, default=False
        Randomise the contour (:func:`randomise_contour`).

    See Also
    --------
    perturbation_plan : The default set of perturbations.
    perturb_volume : Applies one perturbation to an image and its mask.

    Examples
    --------
    >>> Perturbation("erode", growth=-1)
    Perturbation(name='erode', rotation_deg=0.0, translation=(0.0, 0.0, 0.0), noise=False, growth=-1, contour=False)
    """

    name: str
    rotation_deg: float = 0.0
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    noise: bool = False
    growth: int = 0
    contour: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The perturbation as a JSON-ready dict.

        Returns
        -------
        dict
            The fields by name, ``translation`` as a list.

        Examples
        --------
        >>> Perturbation("rtnc1", rotation_deg=-15.0, translation=(0.2, 0.25, 0.0), noise=True).to_dict()
        {'name': 'rtnc1', 'rotation_deg': -15.0, 'translation': [0.2, 0.25, 0.0], 'noise': True, 'growth': 0, \
'contour': False}
        """
        out = asdict(self)
        out["translation"] = list(self.translation)
        return out


def perturbation_plan(n_perturbations: int = 4, *, max_rotation_deg: float = 15.0, translation: bool = True,
                      noise: bool = True, contour: bool = True, volume: bool = True) -> list[Perturbation]:
    """The perturbations to apply to every patient.

    Parameters
    ----------
    n_perturbations : int, default=4
        Number of chained perturbations (rotation, translation, noise and contour randomisation applied together,
        as in Zwanenburg et al.'s perturbation chains; named ``rtnc1``, ``rtnc2``...); each gets its own rotation
        angle, evenly spaced in
        ``[-max_rotation_deg, max_rotation_deg]``, and its own translation.
    max_rotation_deg : float, default=15.0
        Largest rotation, in degrees (0 disables rotation).
    translation, noise, contour : bool, default=True
        Include that component in the chained perturbations.
    volume : bool, default=True
        Add two volume adaptations: the mask shrunk (``"erode"``) and grown (``"dilate"``) by one voxel in the
        axial plane, image unchanged.

    Returns
    -------
    list of Perturbation

    Raises
    ------
    ValueError
        If the plan would be empty or a parameter is out of range.

    Examples
    --------
    >>> [p.name for p in perturbation_plan(2)]
    ['rtnc1', 'rtnc2', 'erode', 'dilate']
    >>> perturbation_plan(2)[0].rotation_deg, perturbation_plan(2)[1].rotation_deg
    (-15.0, 15.0)
    """
    check_param("perturbation_plan", "n_perturbations", n_perturbations, kind="int", low=0)
    check_param("perturbation_plan", "max_rotation_deg", max_rotation_deg, kind="float", low=0, high=180)
    if n_perturbations and not (max_rotation_deg or translation or noise or contour):
        raise ValueError("perturbation_plan: the chained perturbations have no component; enable at least one of "
                         "rotation (max_rotation_deg > 0), translation, noise or contour, or set n_perturbations=0.")
    angles = (np.linspace(-max_rotation_deg, max_rotation_deg, n_perturbations) if n_perturbations > 1
              else np.full(n_perturbations, max_rotation_deg))
    tag = "".join(c for c, on in zip("rtnc", (max_rotation_deg > 0, translation, noise, contour)) if on)
    plan = []
    for i in range(n_perturbations):
        shift = ((i + 1) / (n_perturbations + 1), ((2 * i + 1) / (2 * n_perturbations)) % 1.0, 0.0)
        plan.append(Perturbation(name=f"{tag}{i + 1}", rotation_deg=float(angles[i]),
                                 translation=tuple(round(s, 6) for s in shift) if translation else (0.0, 0.0, 0.0),
                                 noise=noise, contour=contour))
    if volume:
        plan += [Perturbation(name="erode", growth=-1), Perturbation(name="dilate", growth=1)]
    if not plan:
        raise ValueError("perturbation_plan: the plan is empty; set n_perturbations >= 1 or volume=True.")
    return plan


def estimate_noise_sd(image: np.ndarray) -> float:
    """Image noise standard deviation, estimated slice by slice (Immerkaer 1996), median over axial slices.

    Parameters
    ----------
    image : ndarray, shape (z, y, x)

    Returns
    -------
    float

    Notes
    -----
    Immerkaer's estimator convolves each slice with the difference of two Laplacians, which cancels smooth
    anatomy and keeps the noise: ``sigma = sqrt(pi / 2) / (6 (W - 2)(H - 2)) * sum |I * N|``.

    References
    ----------
    Immerkaer J. Fast noise variance estimation. Comput Vis Image Underst. 1996;64(2):300-302.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(estimate_noise_sd(rng.normal(0, 10, size=(4, 64, 64))), 0)
    10.0
    """
    from scipy import ndimage

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=float)
    values = np.asarray(image, dtype=float)
    if values.ndim == 2:
        values = values[None]
    sigmas = []
    for plane in values:
        h, w = plane.shape
        if h < 3 or w < 3:
            continue
        conv = ndimage.convolve(plane, kernel, mode="reflect")[1:-1, 1:-1]
        sigmas.append(np.sqrt(np.pi / 2) * np.abs(conv).sum() / (6.0 * (w - 2) * (h - 2)))
    return float(np.median(sigmas)) if sigmas else 0.0


def randomise_contour(roi: np.ndarray, spacing_zyx, rng: np.random.Generator, *, amplitude_mm: float | None = None,
                      smoothness_mm: float = 3.0) -> np.ndarray:
    """Move a mask's outline by a smooth random field, as a second reader would draw it.

    Parameters
    ----------
    roi : ndarray of bool, shape (z, y, x)
    spacing_zyx : sequence of float
        Voxel spacing in mm, in array order.
    rng : numpy.random.Generator
    amplitude_mm : float, optional
        Standard deviation of the outline's displacement in mm; by default one in-plane voxel.
    smoothness_mm : float, default=3.0
        Correlation length of the displacement along the outline, in mm.

    Returns
    -------
    ndarray of bool
        The new ROI; the original when the perturbation would leave it empty.

    Notes
    -----
    The signed distance to the outline (negative inside, in mm) plus ``amplitude_mm`` times a unit-variance
    Gaussian random field smoothed over ``smoothness_mm`` is thresholded at 0: the outline moves in and out by
    about ``amplitude_mm``, smoothly, while the ROI's interior and far background stay as they were. This is a
    simple stand-in for Zwanenburg's supervoxel-based contour randomisation.

    Examples
    --------
    >>> roi = np.zeros((5, 20, 20), bool); roi[1:4, 5:15, 5:15] = True
    >>> new = randomise_contour(roi, (2.0, 1.0, 1.0), np.random.default_rng(0))
    >>> bool(new[2, 10, 10]), bool(new[2, 0, 0]), 0.7 < dice(roi, new) < 1.0
    (True, False, True)
    """
    from scipy import ndimage

    roi = np.asarray(roi, dtype=bool)
    spacing = np.asarray(spacing_zyx, dtype=float)
    amplitude = float(np.mean(spacing[1:])) if amplitude_mm is None else float(amplitude_mm)
    inside = ndimage.distance_transform_edt(roi, sampling=spacing)
    outside = ndimage.distance_transform_edt(~roi, sampling=spacing)
    signed = np.where(roi, -inside, outside)
    field = ndimage.gaussian_filter(rng.standard_normal(roi.shape), sigma=smoothness_mm / spacing, mode="reflect")
    sd = field.std()
    field = field / sd if sd > 0 else field
    new = signed + amplitude * field < 0
    return new if new.any() else roi


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two boolean masks (1 = identical; NaN when both are empty).

    Parameters
    ----------
    a, b : array_like of bool
        The masks, of the same shape (any number of dimensions); other values are cast to bool.

    Returns
    -------
    float
        ``2 |a & b| / (|a| + |b|)``, in [0, 1].

    Examples
    --------
    >>> dice(np.array([1, 1, 0], bool), np.array([1, 0, 0], bool))
    0.6666666666666666
    """
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = a.sum() + b.sum()
    return float(2.0 * np.logical_and(a, b).sum() / total) if total else float("nan")


def perturb_volume(image, mask, perturbation: Perturbation, *, label: int = 1, rng: np.random.Generator,
                   noise_sd: float | None = None):
    """Apply one perturbation to an image and its mask (both ``SimpleITK.Image`` on the same grid).

    Parameters
    ----------
    image, mask : SimpleITK.Image
    perturbation : Perturbation
    label : int, default=1
        The mask value of the ROI; the returned mask holds this value in the ROI and 0 elsewhere.
    rng : numpy.random.Generator
        Source of the noise and of the contour field.
    noise_sd : float, optional
        Noise standard deviation in image units; estimated from the image when None.

    Returns
    -------
    image : SimpleITK.Image
        Float32, on the input grid (rotation and translation resample with B-splines; outside values get the
        image's minimum).
    mask : SimpleITK.Image
        UInt8, on the input grid (a moved mask is resampled linearly and thresholded at 0.5).
    info : dict
        ``noise_sd`` used (0 without noise) and ``roi_voxels`` of the new mask.

    Examples
    --------
    >>> import SimpleITK as sitk
    >>> rng = np.random.default_rng(0)
    >>> image = sitk.GetImageFromArray(rng.normal(40, 10, (6, 24, 24)).astype(np.int16))
    >>> mask = sitk.Image(24, 24, 6, sitk.sitkUInt8)
    >>> mask[6:18, 6:18, 1:5] = 1  # 12 x 12 x 4 = 576 voxels
    >>> for p in perturbation_plan(1):
    ...     new_image, new_mask, info = perturb_volume(image, mask, p, rng=np.random.default_rng(0))
    ...     print(p.name, new_image.GetPixelIDTypeAsString(), round(info["noise_sd"], 1), info["roi_voxels"])
    rtnc1 32-bit float 10.0 418
    erode 32-bit float 0.0 400
    dilate 32-bit float 0.0 768
    """
    sitk = require("SimpleITK", extra="radiomics")
    from scipy import ndimage

    roi = sitk.GetArrayFromImage(mask) == label
    work = sitk.Cast(image, sitk.sitkFloat32)
    roi_image = sitk.GetImageFromArray(roi.astype(np.float32))
    roi_image.CopyInformation(mask)
    moved = perturbation.rotation_deg != 0 or any(perturbation.translation)
    if moved:
        transform = sitk.VersorRigid3DTransform()
        idx = np.argwhere(roi).mean(axis=0)[::-1] if roi.any() else (np.asarray(image.GetSize()) - 1) / 2
        transform.SetCenter(image.TransformContinuousIndexToPhysicalPoint([float(v) for v in idx]))
        direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
        axis = direction[:, 2]
        transform.SetRotation([float(a) for a in axis], float(np.deg2rad(perturbation.rotation_deg)))
        shift = direction @ (np.asarray(perturbation.translation, dtype=float) * np.asarray(image.GetSpacing()))
        transform.SetTranslation([float(s) for s in shift])
        low = float(sitk.GetArrayViewFromImage(work).min())
        work = sitk.Resample(work, work, transform, sitk.sitkBSpline, low, sitk.sitkFloat32)
        roi_image = sitk.Resample(roi_image, roi_image, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    values = sitk.GetArrayFromImage(work)
    new_roi = sitk.GetArrayFromImage(roi_image) >= 0.5
    used_sd = 0.0
    if perturbation.noise:
        used_sd = estimate_noise_sd(sitk.GetArrayViewFromImage(image)) if noise_sd is None else float(noise_sd)
        values = (values + rng.normal(0.0, used_sd, size=values.shape)).astype(np.float32)
    if perturbation.contour:
        spacing_zyx = tuple(image.GetSpacing())[::-1]
        new_roi = randomise_contour(new_roi, spacing_zyx, rng)
    if perturbation.growth:
        inplane = np.zeros((3, 3, 3), bool)
        inplane[1] = ndimage.generate_binary_structure(2, 1)
        op = ndimage.binary_dilation if perturbation.growth > 0 else ndimage.binary_erosion
        grown = op(new_roi, structure=inplane, iterations=abs(int(perturbation.growth)))
        new_roi = grown if grown.any() else new_roi
    out_image = sitk.GetImageFromArray(values.astype(np.float32))
    out_image.CopyInformation(image)
    out_mask = sitk.GetImageFromArray((new_roi * label).astype(np.uint8))
    out_mask.CopyInformation(mask)
    return out_image, out_mask, {"noise_sd": used_sd, "roi_voxels": int(new_roi.sum())}
