"""extract_pathomics: one feature vector per whole-slide image (mean of its tissue tiles' encodings).

For each slide: tissue mask on a thumbnail -> non-overlapping tissue tiles -> batches of tiles read one
at a time -> tile encoder -> running mean over tiles. Slides run one after another in this process (the
encoder already uses every core, or the GPU) through the shared FeatureStore and failure machinery of
:func:`multisurv.features.batch.run_batch`, so a rerun skips finished slides and a broken slide is
recorded in ``failures.csv`` while the others go on.
"""

from __future__ import annotations

import logging
import os
import re
import time
from functools import partial
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd

from multisurv._validation import check_param
from multisurv.features.batch import ExtractionResult, case_error, run_batch
from multisurv.features.store import FeatureStore
from multisurv.features.wsi.encoders import Encoder, get_encoder
from multisurv.features.wsi.reader import iter_tiles, open_slide, slide_errors
from multisurv.features.wsi.tissue import tile_grid

__all__ = ["extract_pathomics", "extract_slide", "PREFIX", "TISSUE_METHOD"]

logger = logging.getLogger(__name__)

#: Column prefix of slide features.
PREFIX = "wsi__"
#: Version tag of the tissue detection (part of the store settings; bump when tissue.py changes results).
TISSUE_METHOD = "otsu-saturation-v1"


def extract_pathomics(
    cohort,
    *,
    out_dir: str | os.PathLike,
    encoder: str | Encoder = "resnet50",
    weights: str | os.PathLike | None = None,
    tile_size: int = 224,
    level: int = 0,
    min_tissue: float = 0.5,
    max_tiles: int | None = None,
    batch_size: int = 32,
    device: str | None = None,
    progress: bool = True,
) -> ExtractionResult:
    """Encode every patient's whole-slide image as the mean feature vector of its tissue tiles.

    Parameters
    ----------
    cohort : Cohort
        Patients with a ``wsi`` path (``cohort.has_wsi``) are processed; others are skipped.
    out_dir : str or Path
        Root of the feature stores; features go to
        ``<out_dir>/wsi/<tile_size>px_lvl<level>_<encoder>_<weights>_<hash8>/``.
    encoder : str or Encoder, default="resnet50"
        A name from :func:`~multisurv.features.wsi.encoders.available_encoders`, or a ready
        :class:`~multisurv.features.wsi.encoders.Encoder`.
    weights : None, "imagenet" or path, default=None
        Weights of a named encoder (see :func:`~multisurv.features.wsi.encoders.get_encoder`); None gives
        deterministic random weights and a warning.
    tile_size : int, default=224
        Tile side in pixels at ``level``.
    level : int, default=0
        Pyramid level to tile (0 = full resolution).
    min_tissue : float, default=0.5
        Keep tiles with at least this tissue fraction.
    max_tiles : int, optional
        Encode at most this many tissue tiles per slide, drawn at random with a fixed seed (0); None
        encodes all of them.
    batch_size : int, default=32
        Tiles per forward pass.
    device : str, optional
        Device of a named encoder (an Encoder object keeps its own). Default: ``"cuda"`` when available,
        else ``"cpu"``.
    progress : bool, default=True
        Show a progress bar over slides.

    Returns
    -------
    ExtractionResult
        ``features``: columns ``wsi__<encoder>_0000`` ... (``dim`` of them); ``info``: ``n_tiles`` (encoded),
        ``n_tissue_tiles`` (on the grid), slide size and microns per pixel; ``failures``: one row per slide
        that could not be opened or read, or that has no tissue tile.

    Raises
    ------
    ValueError
        If a parameter is out of range, or the encoder name is unknown.

    Warns
    -----
    MultisurvWarning
        When ``weights`` is None for a named encoder (random, not pretrained features).

    Notes
    -----
    The store folder's hash covers the tiling, the tissue method, the encoder and a digest of its weights
    (not ``batch_size`` nor ``device``). The tumour-tile filter is not applied here.

    Examples
    --------
    >>> res = extract_pathomics(cohort, out_dir="runs/study/features", weights="resnet50.pth")  # doctest: +SKIP
    >>> res.info["n_tiles"]  # doctest: +SKIP
    """
    check_param("extract_pathomics", "tile_size", tile_size, kind="int", low=1)
    check_param("extract_pathomics", "level", level, kind="int", low=0)
    check_param("extract_pathomics", "min_tissue", min_tissue, kind="float", low=0, high=1)
    check_param("extract_pathomics", "batch_size", batch_size, kind="int", low=1)
    if max_tiles is not None:
        check_param("extract_pathomics", "max_tiles", max_tiles, kind="int", low=1)
    if isinstance(encoder, Encoder):
        if weights is not None:
            raise ValueError("'weights' applies to an encoder given by name; an Encoder object carries its own "
                             "weights. Pass weights=None with an Encoder.")
        enc = encoder
    else:
        enc = get_encoder(encoder, weights=weights, device=device, _stacklevel=3)

    settings = {
        "tile_size": tile_size, "level": level, "min_tissue": float(min_tissue), "max_tiles": max_tiles,
        "tissue": TISSUE_METHOD, "encoder": enc.name, "dim": enc.dim, "weights": enc.weights,
        "mean": list(enc.mean), "std": list(enc.std),
    }
    label = "custom" if enc.weights.startswith("sha256:") else enc.weights
    name = re.sub(r"[^A-Za-z0-9._+-]", "-", f"{tile_size}px_lvl{level}_{enc.name}_{label}")
    store = FeatureStore(out_dir, modality="wsi", name=name, settings=settings)

    table = cohort.table.loc[cohort.has_wsi.to_numpy()]
    n_skipped = len(cohort) - len(table)
    if n_skipped:
        logger.info("%d of %d patients have no slide; skipped by pathomics.", n_skipped, len(cohort))
    cases = [(str(pid), {"wsi": str(path)}) for pid, path in table["wsi"].items()]
    extract_one = partial(extract_slide, encoder=enc, tile_size=tile_size, level=level, min_tissue=min_tissue,
                          max_tiles=max_tiles, batch_size=batch_size)
    return run_batch(cases, extract_one, store, stage="pathomics", n_workers=1, progress=progress, unit="slide")


def extract_slide(patient_id: str, inputs: Mapping[str, str], *, encoder: Encoder, tile_size: int = 224,
                  level: int = 0, min_tissue: float = 0.5, max_tiles: int | None = None,
                  batch_size: int = 32) -> tuple[pd.Series, dict[str, Any]]:
    """Features of one slide: ``(mean tile features, info)``; failures raise ``ExtractionError``.

    Parameters
    ----------
    patient_id : str
    inputs : mapping
        ``{"wsi": path}``.
    encoder : Encoder
    tile_size, level, min_tissue, max_tiles, batch_size
        As in :func:`extract_pathomics`.

    Returns
    -------
    features : pandas.Series
        ``encoder.dim`` floats named ``wsi__<encoder>_0000`` ...
    info : dict
        ``n_tiles``, ``n_tissue_tiles``, ``width``, ``height``, ``mpp_x``, ``mpp_y``, ``seconds``.
    """
    path = inputs["wsi"]
    start = time.perf_counter()
    slide = open_slide(path)
    try:
        try:
            coords = tile_grid(slide, tile_size=tile_size, level=level, min_tissue=min_tissue)
        except slide_errors() as exc:
            raise case_error(
                f"OpenSlide cannot read the thumbnail of slide {path!r} ({type(exc).__name__}: {exc}). The file is "
                "probably corrupt; re-export or re-copy it.", path=path,
            ) from exc
        n_grid = len(coords)
        if n_grid == 0:
            width, height = slide.level_dimensions[min(level, slide.level_count - 1)]
            raise case_error(
                f"Slide {path!r} of patient {patient_id!r} has no {tile_size} px tile at level {level} with at least "
                f"{min_tissue:.0%} tissue (level size {width} x {height} px). Check that the slide shows stained "
                "tissue, or lower 'min_tissue' or 'tile_size'.", path=path,
            )
        if max_tiles is not None and n_grid > max_tiles:
            chosen = np.sort(np.random.default_rng(0).choice(n_grid, size=max_tiles, replace=False))
            coords = coords[chosen]
        total = np.zeros(encoder.dim, dtype=np.float64)
        n_tiles = 0
        for batch in _batches(iter_tiles(slide, coords, tile_size, level), batch_size):
            total += encoder.encode(np.stack(batch)).sum(axis=0, dtype=np.float64)
            n_tiles += len(batch)
        info = {
            "n_tiles": n_tiles, "n_tissue_tiles": n_grid,
            "width": int(slide.dimensions[0]), "height": int(slide.dimensions[1]),
            "mpp_x": _as_float(slide.properties.get("openslide.mpp-x")),
            "mpp_y": _as_float(slide.properties.get("openslide.mpp-y")),
        }
    finally:
        slide.close()
    seconds = time.perf_counter() - start
    info["seconds"] = round(seconds, 3)
    logger.debug("Slide %r: %d tiles in %.1f s (%.1f tiles/s).", patient_id, n_tiles, seconds, n_tiles / seconds)
    names = [f"{PREFIX}{encoder.name}_{i:04d}" for i in range(encoder.dim)]
    return pd.Series(total / n_tiles, index=names, name=patient_id, dtype=float), info


def _batches(items: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
