"""Deep radiology features: a CNN's features of 2.5D crops around the tumour, pooled per patient, cached.

Published deep-learning radiomics models (e.g. the gastric-cancer DLRM) add CNN features of the tumour region to
handcrafted radiomics. :func:`extract_deep_radiomics` does this for each patient's CT and mask:

1. the ``n_slices`` axial slices with the largest tumour area are chosen;
2. each becomes a 3-channel image of the slice and its two neighbours (2.5D), cropped to a square around the
   tumour's in-plane extent plus ``margin_mm`` and resized to ``crop_size`` pixels;
3. HU are windowed (``window``, e.g. soft tissue -160..240 HU) to 0..255;
4. an encoder of the registry (:func:`multisurv.features.wsi.encoders.get_encoder`, e.g. ``resnet18``) maps
   each image to a feature vector, and the vectors are averaged over the slices.

Features are named ``ctdeep__<encoder>_0000`` ... and cached per patient like radiomics
(``<out_dir>/ct/deep_<encoder>_<hash8>/``; the hash covers every setting and the weights' SHA-256). Weights are
local files only (never downloaded at run time); without weights the encoder is randomly initialised (the same on
every run) and a warning says that its features are not pretrained.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from functools import partial
from typing import Any, Mapping

import numpy as np
import pandas as pd

from multisurv._optional import require
from multisurv._validation import check_param
from multisurv.exceptions import MultisurvWarning
from multisurv.features.batch import ExtractionResult, run_batch
from multisurv.features.robustness import cohort_rows
from multisurv.features.store import FeatureStore
from multisurv.features.volume import check_geometry, check_roi, read_volume

__all__ = ["extract_deep_radiomics", "deep_radiomics_case", "tumour_crops", "PREFIX", "SOFT_TISSUE_WINDOW"]

logger = logging.getLogger(__name__)

#: Column prefix of deep CT features.
PREFIX = "ctdeep__"
#: Soft-tissue window (HU): level 40, width 400.
SOFT_TISSUE_WINDOW = (-160.0, 240.0)
_ENCODERS: dict[tuple[str, str | None, str | None], Any] = {}  # one built encoder per process


def tumour_crops(image: np.ndarray, roi: np.ndarray, spacing_zyx, *, n_slices: int = 3, crop_size: int = 224,
                 margin_mm: float = 10.0, window: tuple[float, float] = SOFT_TISSUE_WINDOW) -> tuple[np.ndarray, list]:
    """The 2.5D tumour crops of one CT as uint8 RGB images.

    Parameters
    ----------
    image : ndarray, shape (z, y, x)
        HU.
    roi : ndarray of bool, same shape
    spacing_zyx : sequence of float
        Voxel spacing in mm, array order.
    n_slices : int, default=3
        How many slices with the largest tumour area (fewer when the tumour spans fewer slices).
    crop_size : int, default=224
        Side of the output images, pixels.
    margin_mm : float, default=10.0
        Context kept around the tumour's in-plane bounding box.
    window : (float, float), default=(-160, 240)
        HU mapped to 0 and 255 (values outside are clipped).

    Returns
    -------
    crops : ndarray of uint8, shape (n, crop_size, crop_size, 3)
        Channels: the slice below, the slice, the slice above (edge slices repeat themselves).
    slices : list of int
        The slice indices used, ascending.

    Examples
    --------
    >>> img = np.full((6, 40, 40), -100.0); roi = np.zeros(img.shape, bool); roi[2:4, 10:20, 12:18] = True
    >>> roi[3, 10:22, 12:20] = True; img[roi] = 60.0
    >>> crops, used = tumour_crops(img, roi, (3.0, 1.0, 1.0), n_slices=2, crop_size=32)
    >>> crops.shape, crops.dtype.name, used
    ((2, 32, 32, 3), 'uint8', [2, 3])
    """
    from scipy import ndimage

    spacing = np.asarray(spacing_zyx, dtype=float)
    area = roi.sum(axis=(1, 2))
    present = np.flatnonzero(area)
    order = present[np.argsort(-area[present], kind="stable")]
    chosen = sorted(int(k) for k in order[:n_slices])
    ys, xs = np.nonzero(roi.any(axis=0))
    centre_mm = np.array([(ys.min() + ys.max()) / 2 * spacing[1], (xs.min() + xs.max()) / 2 * spacing[2]])
    half_mm = max((ys.max() - ys.min() + 1) * spacing[1], (xs.max() - xs.min() + 1) * spacing[2]) / 2 + margin_mm
    low, high = float(window[0]), float(window[1])
    # sample a crop_size x crop_size grid over the square (in mm), linear interpolation, outside = window low
    grid = (np.arange(crop_size) + 0.5) / crop_size * 2 * half_mm - half_mm
    rows = (centre_mm[0] + grid) / spacing[1]
    cols = (centre_mm[1] + grid) / spacing[2]
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    out = np.empty((len(chosen), crop_size, crop_size, 3), dtype=np.uint8)
    last = image.shape[0] - 1
    for i, k in enumerate(chosen):
        for c, z in enumerate((max(k - 1, 0), k, min(k + 1, last))):
            plane = ndimage.map_coordinates(np.asarray(image[z], dtype=float), [rr, cc], order=1, mode="constant",
                                            cval=low)
            out[i, :, :, c] = np.rint(np.clip((plane - low) / (high - low), 0.0, 1.0) * 255.0).astype(np.uint8)
    return out, chosen


def deep_radiomics_case(patient_id: str, inputs: Mapping[str, str], *, encoder: str, weights: str | None,
                        device: str | None, label: int, n_slices: int, crop_size: int, margin_mm: float,
                        window: tuple[float, float], prefix: str = PREFIX) -> tuple[pd.Series, dict[str, Any]]:
    """Deep features of one patient (top-level, hence picklable for worker processes).

    Used by :func:`extract_deep_radiomics` through :func:`~multisurv.features.batch.run_batch`; the encoder is
    built once per worker process.

    Parameters
    ----------
    patient_id : str
        Named in error messages and as the returned Series' name.
    inputs : mapping of str to str
        ``ct_image`` and ``ct_mask`` paths.
    encoder : str
        A 2D encoder of the registry (:func:`~multisurv.features.wsi.encoders.available_encoders`).
    weights : str or None
        A local weights file; None: random initialisation under a fixed seed (with a warning).
    device : str or None
        ``"cpu"``, ``"cuda"``...; None: CUDA when available.
    label : int
        Mask value of the tumour.
    n_slices, crop_size, margin_mm, window
        See :func:`tumour_crops`.
    prefix : str, default=PREFIX
        Column prefix (``"ctdeep__"``).

    Returns
    -------
    features : pandas.Series
        ``<prefix><encoder>_<i:04d>``, the mean over the chosen slices.
    info : dict
        ``slices`` used, ``roi_area_px`` of each, ``multisurv_Seconds``.

    Raises
    ------
    ExtractionError
        Unreadable files, an empty mask or a mask off the image grid (as for radiomics).

    Examples
    --------
    >>> features, info = deep_radiomics_case(
    ...     "p1", {"ct_image": "p1/ct.nrrd", "ct_mask": "p1/mask.nrrd"}, encoder="resnet18", weights="resnet18.pth",
    ...     device="cpu", label=1, n_slices=3, crop_size=224, margin_mm=10.0,
    ...     window=(-160.0, 240.0))  # doctest: +SKIP
    >>> info["slices"]  # doctest: +SKIP
    """
    sitk = require("SimpleITK", extra="radiomics")
    start = time.perf_counter()
    image = read_volume(inputs["ct_image"], patient_id=patient_id, role="ct_image")
    mask = read_volume(inputs["ct_mask"], patient_id=patient_id, role="ct_mask")
    check_roi(mask, label=label, patient_id=patient_id, mask_path=inputs["ct_mask"])
    check_geometry(image, mask, patient_id=patient_id, mask_path=inputs["ct_mask"], settings={})
    roi = sitk.GetArrayViewFromImage(mask) == label
    crops, slices = tumour_crops(sitk.GetArrayViewFromImage(image), roi, image.GetSpacing()[::-1],
                                 n_slices=n_slices, crop_size=crop_size, margin_mm=margin_mm, window=window)
    model = _encoder(encoder, weights, device)
    vectors = model.encode(crops, precision="fp32")
    pooled = vectors.mean(axis=0)
    names = [f"{prefix}{encoder}_{i:04d}" for i in range(pooled.shape[0])]
    info = {"slices": [int(s) for s in slices], "roi_area_px": [int(roi[s].sum()) for s in slices],
            "multisurv_Seconds": time.perf_counter() - start}
    return pd.Series(pooled.astype(float), index=names, name=patient_id), info


def _encoder(name: str, weights: str | None, device: str | None):
    key = (name, weights, device)
    if key not in _ENCODERS:
        from multisurv.features.wsi.encoders import get_encoder

        _ENCODERS[key] = get_encoder(name, weights=weights, device=device, _stacklevel=4)
    return _ENCODERS[key]


def extract_deep_radiomics(cohort, *, out_dir: str | os.PathLike, encoder: str = "resnet18",
                           weights: str | os.PathLike | None = None, window: tuple[float, float] = SOFT_TISSUE_WINDOW,
                           n_slices: int = 3, crop_size: int = 224, margin_mm: float = 10.0, label: int = 1,
                           image_column: str = "ct_image", mask_column: str = "ct_mask", device: str | None = None,
                           prefix: str = PREFIX, n_workers: int = 1, progress: bool = True,
                           client: Any = None) -> ExtractionResult:
    """CNN features of 2.5D tumour crops for every patient with a CT and mask, cached and resumable.

    Parameters
    ----------
    cohort : Cohort, DataFrame or sequence of (str, dict)
        A :class:`~multisurv.cohort.cohort.Cohort`, a table indexed by ``patient_id`` with ``image_column`` and
        ``mask_column``, or ``(patient_id, {column: path})`` pairs; patients without both are skipped.
    out_dir : str or Path
        Root of the feature stores; features go to ``<out_dir>/ct/deep_<encoder>_<hash8>/``.
    encoder : str, default="resnet18"
        A 2D encoder of the registry (:func:`~multisurv.features.wsi.encoders.available_encoders`).
    weights : path or None, default=None
        A local weights file (or folder) for the encoder. None: random initialisation under a fixed seed, with a
        warning (features for tests and dry runs only). Downloads (``"imagenet"``, ``"hub"``) are refused: fetch
        the file once and pass its path, so runs never depend on the network.
    window : (float, float), default=(-160, 240)
        HU window (soft tissue).
    n_slices, crop_size, margin_mm
        See :func:`tumour_crops`.
    label : int, default=1
        Mask value of the tumour.
    image_column, mask_column : str
        Columns of the CT image and mask.
    device : str, optional
        ``"cpu"``, ``"cuda"``...; default: CUDA when available.
    prefix : str, default="ctdeep__"
        Column prefix (one per modality in the study's registry).
    n_workers, progress, client
        As in :func:`~multisurv.features.radiomics.extract_radiomics` (each worker process builds the encoder
        once).

    Returns
    -------
    ExtractionResult
        ``features``: one row per patient, ``<prefix><encoder>_0000``...; ``info``: slices used and seconds.

    Raises
    ------
    ValueError
        If a parameter is out of range or ``weights`` asks for a download.

    Warns
    -----
    MultisurvWarning
        When ``weights`` is None (random, not pretrained features).

    Examples
    --------
    >>> res = extract_deep_radiomics(cohort, out_dir="runs/study/features",
    ...                              weights="weights/resnet18.pth")  # doctest: +SKIP
    """
    check_param("extract_deep_radiomics", "n_slices", n_slices, kind="int", low=1)
    check_param("extract_deep_radiomics", "crop_size", crop_size, kind="int", low=16)
    check_param("extract_deep_radiomics", "margin_mm", margin_mm, kind="float", low=0)
    if len(window) != 2 or not float(window[0]) < float(window[1]):
        raise ValueError(f"The 'window' parameter of extract_deep_radiomics must be (low, high) HU with low < high. "
                         f"Got {window!r} instead.")
    if isinstance(weights, str) and weights in ("imagenet", "hub"):
        raise ValueError(f"extract_deep_radiomics uses local weights only; got weights={weights!r}, which downloads "
                         "at run time. Download the weights once, save them (e.g. torch.save(model.state_dict(), "
                         f"'{encoder}.pth')) and pass weights='path/to/{encoder}.pth', or weights=None for random "
                         "initialisation (tests only).")
    from multisurv.features.wsi.encoders import encoder_spec, weights_digest

    spec = encoder_spec(encoder)
    weights_path = None if weights is None else os.path.abspath(os.fspath(weights))
    tag = weights_digest(encoder, weights_path)
    rows = cohort_rows(cohort, [image_column, mask_column])
    cases = [(pid, {"ct_image": row[image_column], "ct_mask": row[mask_column]}) for pid, row in rows]
    settings = {"encoder": encoder, "weights": tag, "window": [float(window[0]), float(window[1])],
                "n_slices": n_slices, "crop_size": crop_size, "margin_mm": float(margin_mm), "label": label,
                "prefix": prefix, "mean": list(spec.mean), "std": list(spec.std), "mode": "2.5d_top_area"}
    kind = "random" if tag == "random" else tag.split(":", 1)[-1][:8]
    store = FeatureStore(out_dir, modality="ct", name=f"deep_{encoder}_{kind}", settings=settings)
    if weights is None:  # warn here, once, even when every patient is cached
        warnings.warn(f"Deep CT features with encoder {encoder!r} and weights=None are randomly initialised, not "
                      f"pretrained: use them for tests and dry runs only. Pass weights='path/to/{encoder}.pth'.",
                      category=MultisurvWarning, stacklevel=2)
    one = partial(deep_radiomics_case, encoder=encoder, weights=weights_path, device=device, label=label,
                  n_slices=n_slices, crop_size=crop_size, margin_mm=float(margin_mm),
                  window=(float(window[0]), float(window[1])), prefix=prefix)
    with warnings.catch_warnings():
        if weights is None:  # said above; the encoder build's own warning (in this process) would repeat it
            warnings.simplefilter("ignore", MultisurvWarning)
        return run_batch(cases, one, store, stage="deep radiomics", n_workers=n_workers, progress=progress,
                         client=client, unit="CT case")
