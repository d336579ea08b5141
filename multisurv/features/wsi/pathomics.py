"""extract_pathomics: one feature vector per whole-slide image, pooled over its (tumour) tissue tiles.

For each slide: tiling plan at the requested level, mpp or magnification (:func:`~.reader.plan_tiles`) ->
tissue mask on a thumbnail -> non-overlapping tissue tiles -> tiles decoded in DataLoader worker processes
while the model runs (:mod:`~.loader`) -> batched encoder forward (channels-last; autocast on CUDA) ->
optional tissue classifier keeping tumour tiles -> per-slide HDF5 of coordinates and features
(:mod:`~.patch_store`) -> pooled slide vector (mean, median or max; :mod:`~.pooling`). Slides go through the
shared FeatureStore and failure machinery of :func:`multisurv.features.batch.run_batch` (in this process, in
worker processes, or on a Dask cluster), so a rerun skips finished slides and a broken slide is recorded in
``failures.csv`` while the others go on.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from multisurv._faults import check_device
from multisurv._validation import check_param
from multisurv.exceptions import MultisurvWarning
from multisurv.features.batch import ExtractionResult, case_error, run_batch
from multisurv.features.store import FeatureStore
from multisurv.features.wsi.encoders import Encoder, get_encoder
from multisurv.features.wsi.pooling import POOLINGS, RunningPool, median_from_patches
from multisurv.features.wsi.reader import open_slide, plan_tiles, slide_errors, slide_mpp
from multisurv.features.wsi.tissue import tile_grid

__all__ = ["extract_pathomics", "extract_pathomics_cases", "extract_slide", "ModelSpec", "PREFIX",
           "TISSUE_METHOD"]

logger = logging.getLogger(__name__)

#: Column prefix of slide features.
PREFIX = "wsi__"
#: Version tag of the tissue detection (part of the store settings; bump when tissue.py changes results).
TISSUE_METHOD = "otsu-saturation-v1"


@dataclass(frozen=True)
class ModelSpec:
    """What to build in a worker: an encoder by name and weights, and optionally a tissue classifier checkpoint.

    Light and picklable (a few strings), so that slides can be sent to worker processes or a Dask cluster,
    where the models are built once per process and reused for every slide (:meth:`build`).

    Parameters
    ----------
    encoder : str or None
        Registry name (see :func:`~multisurv.features.wsi.encoders.available_encoders`); None uses the
        classifier's own fine-tuned backbone as the encoder (the reference study's design: features are the
        global-average-pooled layer of the tissue classifier).
    weights : str or None
        Encoder weights (None: random, "imagenet", or a state_dict path).
    classifier : str or None
        Checkpoint written by :meth:`~multisurv.features.wsi.classifier.TileClassifier.save`.
    device : str or None
        Default: CUDA when available in the worker, else CPU.
    """

    encoder: str | None = "resnet50"
    weights: str | None = None
    classifier: str | None = None
    device: str | None = None

    def build(self) -> tuple[Encoder, Any]:
        """``(encoder, classifier or None)``, cached per process."""
        return _build_models(self)


@functools.lru_cache(maxsize=2)
def _build_models(spec: ModelSpec) -> tuple[Encoder, Any]:
    classifier = None
    if spec.classifier is not None:
        from multisurv.features.wsi.classifier import TileClassifier

        classifier = TileClassifier.load(spec.classifier, device=spec.device)
    if spec.encoder is None:
        if classifier is None:
            raise ValueError("ModelSpec needs an encoder name or a classifier checkpoint (whose backbone encodes).")
        return classifier.as_encoder(), classifier
    with warnings.catch_warnings():  # the caller warned about random weights once, in the main process
        warnings.simplefilter("ignore", MultisurvWarning)
        encoder = get_encoder(spec.encoder, weights=spec.weights, device=spec.device)
    return encoder, classifier


def extract_pathomics(
    cohort,
    *,
    out_dir: str | os.PathLike,
    encoder: str | Encoder | None = "resnet50",
    weights: str | os.PathLike | None = None,
    classifier: str | os.PathLike | Any | None = None,
    threshold: float = 0.5,
    tile_size: int = 224,
    level: int | None = None,
    mpp: float | None = None,
    magnification: float | None = None,
    min_tissue: float = 0.5,
    max_tiles: int | None = None,
    pooling: str = "mean",
    batch_size: int = 32,
    num_workers: int = 1,
    device: str | None = None,
    n_workers: int = 1,
    client: Any = None,
    progress: bool = True,
) -> ExtractionResult:
    """Encode every patient's whole-slide image as the pooled feature vector of its tissue (or tumour) tiles.

    Parameters
    ----------
    cohort : Cohort
        Patients with a ``wsi`` path (``cohort.has_wsi``) are processed; others are skipped.
    out_dir, encoder, weights, classifier, threshold, tile_size, level, mpp, magnification, min_tissue,
    max_tiles, pooling, batch_size, num_workers, device, n_workers, client, progress
        As in :func:`extract_pathomics_cases`.

    Returns
    -------
    ExtractionResult
        See :func:`extract_pathomics_cases`.

    Examples
    --------
    >>> res = extract_pathomics(cohort, out_dir="runs/study/features", weights="resnet50.pth")  # doctest: +SKIP
    >>> res.info["n_tiles"]  # doctest: +SKIP
    """
    table = cohort.table.loc[cohort.has_wsi.to_numpy()]
    n_skipped = len(cohort) - len(table)
    if n_skipped:
        logger.info("%d of %d patients have no slide; skipped by pathomics.", n_skipped, len(cohort))
    cases = [(str(pid), {"wsi": str(path)}) for pid, path in table["wsi"].items()]
    return extract_pathomics_cases(
        cases, out_dir=out_dir, encoder=encoder, weights=weights, classifier=classifier, threshold=threshold,
        tile_size=tile_size, level=level, mpp=mpp, magnification=magnification, min_tissue=min_tissue,
        max_tiles=max_tiles, pooling=pooling, batch_size=batch_size, num_workers=num_workers, device=device,
        n_workers=n_workers, client=client, progress=progress, _stacklevel=4)


def extract_pathomics_cases(
    cases: Sequence[tuple[str, Mapping[str, str]]],
    *,
    out_dir: str | os.PathLike,
    encoder: str | Encoder | None = "resnet50",
    weights: str | os.PathLike | None = None,
    classifier: str | os.PathLike | Any | None = None,
    threshold: float = 0.5,
    tile_size: int = 224,
    level: int | None = None,
    mpp: float | None = None,
    magnification: float | None = None,
    min_tissue: float = 0.5,
    max_tiles: int | None = None,
    pooling: str = "mean",
    batch_size: int = 32,
    num_workers: int = 1,
    device: str | None = None,
    n_workers: int = 1,
    client: Any = None,
    progress: bool = True,
    qc: bool = True,
    _stacklevel: int = 2,
) -> ExtractionResult:
    """Pathomics features of explicit cases ``(patient_id, {"wsi": path})``, e.g. from a batch manifest.

    Parameters
    ----------
    cases : sequence of (str, dict)
        E.g. from :func:`multisurv.features.cases.load_cases` with ``roles=("wsi",)``.
    out_dir : str or Path
        Root of the feature stores; features go to
        ``<out_dir>/wsi/<tiling>_<encoder>_<weights>[_tumour]_<pooling>_<hash8>/``, patch files to its
        ``patches/`` folder (one HDF5 per slide, see :mod:`~multisurv.features.wsi.patch_store`).
    encoder : str, Encoder or None, default="resnet50"
        A name from :func:`~multisurv.features.wsi.encoders.available_encoders`, a ready
        :class:`~multisurv.features.wsi.encoders.Encoder` (in-process runs only), or None to encode with the
        classifier's fine-tuned backbone (needs ``classifier``).
    weights : None, "imagenet" or path, default=None
        Weights of a named encoder (see :func:`~multisurv.features.wsi.encoders.get_encoder`); None gives
        deterministic random weights and a warning.
    classifier : path or TileClassifier, optional
        Tissue classifier (:mod:`~multisurv.features.wsi.classifier`): every tile gets class probabilities
        (stored in the patch file) and only tiles with ``P(tumour) >= threshold`` are pooled.
    threshold : float, default=0.5
        Probability of the tumour class needed to keep a tile.
    tile_size : int, default=224
        Tile side in pixels handed to the encoder.
    level : int, optional
        Pyramid level to tile when neither ``mpp`` nor ``magnification`` is given. Default: the encoder's own
        resolution when it has one (the foundation models: 0.5 um/px, see
        :class:`~multisurv.features.wsi.encoders.EncoderSpec`), else level 0.
    mpp, magnification : float, optional
        Tile at this resolution instead (level chosen, tiles resized; see
        :func:`~multisurv.features.wsi.reader.plan_tiles`).
    min_tissue : float, default=0.5
        Keep tiles with at least this tissue fraction.
    max_tiles : int, optional
        Encode at most this many tissue tiles per slide, drawn at random with a fixed seed (0).
    pooling : {"mean", "median", "max"}, default="mean"
        How patch features become the slide vector.
    batch_size : int, default=32
        Tiles per forward pass.
    num_workers : int, default=1
        DataLoader processes decoding tiles while the model runs (0: decode in the model's process).
    device : str, optional
        Default: ``"cuda"`` when available, else ``"cpu"``.
    n_workers : int, default=1
        Slides processed in parallel by local processes (each runs its own model).
    client : dask.distributed.Client, optional
        Send the slides to this Dask cluster instead.
    progress : bool, default=True
        Show a progress bar over slides.
    qc : bool, default=True
        Write a QC thumbnail per slide next to its patch file (``patches/<patient_id>.qc.png``): tiles coloured
        by predicted class (one colour without a classifier), pooled tiles outlined.

    Returns
    -------
    ExtractionResult
        ``features``: columns ``wsi__<encoder>_0000`` ... (``dim`` of them); ``info``: ``n_tiles`` (encoded),
        ``n_tissue_tiles`` (on the grid), ``n_kept`` (pooled), the tiling plan, slide size and microns per
        pixel, the patch file; ``failures``: one row per slide that could not be opened or read, or that has no
        tissue (or tumour) tile.

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
    The store folder's hash covers the tiling, the tissue method, the encoder and a digest of its weights, the
    classifier checkpoint's digest and threshold, and the pooling (not ``batch_size``, ``num_workers``, nor
    ``device``).
    """
    name_ = "extract_pathomics"
    check_param(name_, "tile_size", tile_size, kind="int", low=1)
    if level is not None:
        check_param(name_, "level", level, kind="int", low=0)
    check_param(name_, "min_tissue", min_tissue, kind="float", low=0, high=1)
    check_param(name_, "threshold", threshold, kind="float", low=0, high=1)
    check_param(name_, "batch_size", batch_size, kind="int", low=1)
    check_param(name_, "num_workers", num_workers, kind="int", low=0)
    if max_tiles is not None:
        check_param(name_, "max_tiles", max_tiles, kind="int", low=1)
    if pooling not in POOLINGS:
        raise ValueError(f"Unknown pooling {pooling!r}. Choose one of: {', '.join(repr(p) for p in POOLINGS)}.")
    if mpp is not None and magnification is not None:
        raise ValueError("Give either 'mpp' or 'magnification', not both.")
    for what, value in (("mpp", mpp), ("magnification", magnification)):
        if value is not None:
            check_param(name_, what, value, kind="float", low=0)

    check_device(device)  # a missing GPU stops here, not as a failure of every slide
    clf = None
    clf_path = None
    if classifier is not None:
        from multisurv.features.wsi.classifier import TileClassifier

        if isinstance(classifier, TileClassifier):
            clf = classifier
        else:
            clf_path = os.path.abspath(os.fspath(classifier))
            clf = TileClassifier.load(clf_path, device=device)
    if isinstance(encoder, Encoder):
        if weights is not None:
            raise ValueError("'weights' applies to an encoder given by name; an Encoder object carries its own "
                             "weights. Pass weights=None with an Encoder.")
        enc = encoder
    elif encoder is None:
        if clf is None:
            raise ValueError("encoder=None encodes with the tissue classifier's backbone; pass 'classifier' too, or "
                             "name an encoder.")
        enc = clf.as_encoder()
    else:
        enc = get_encoder(encoder, weights=weights, device=device, _stacklevel=_stacklevel + 1)

    if level is None and mpp is None and magnification is None and enc.mpp is not None:
        mpp = float(enc.mpp)  # tile at the resolution the encoder was trained at
    level = 0 if level is None else level

    remote = client is not None or n_workers > 1
    if remote:
        if isinstance(encoder, Encoder) or (classifier is not None and clf_path is None):
            raise ValueError("Worker processes and Dask clusters build the models themselves: pass the encoder by "
                             "name and the classifier as a checkpoint path, or run with n_workers=1 and no client.")
        models: Encoder | ModelSpec = ModelSpec(
            encoder=encoder, weights=None if weights is None else (
                weights if weights == "imagenet" else os.path.abspath(os.fspath(weights))),
            classifier=clf_path, device=device)
    else:
        models = enc

    tiling = {"tile_size": tile_size, "level": level} if mpp is None and magnification is None else \
        {"tile_size": tile_size, "mpp": None if mpp is None else float(mpp),
         "magnification": None if magnification is None else float(magnification)}
    settings = {
        **tiling, "min_tissue": float(min_tissue), "max_tiles": max_tiles,
        "tissue": TISSUE_METHOD, "encoder": enc.name, "dim": enc.dim, "weights": enc.weights,
        "mean": list(enc.mean), "std": list(enc.std), "pooling": pooling,
    }
    if enc.resize or enc.crop != 1.0 or enc.mpp is not None:  # (the ResNets' settings, hence caches, are unchanged)
        settings["preprocessing"] = enc.preprocessing()
    if clf is not None:
        settings.update(classifier=clf.digest, classes=list(clf.classes), tumour_class=clf.tumour_class,
                        threshold=float(threshold))
    if mpp is not None:
        where = f"{mpp:g}mpp"
    elif magnification is not None:
        where = f"{magnification:g}x"
    else:
        where = f"lvl{level}"
    label = "custom" if enc.weights.startswith("sha256:") else enc.weights
    name = f"{tile_size}px_{where}_{enc.name}_{label}" + ("_tumour" if clf is not None else "") + \
        ("" if pooling == "mean" else f"_{pooling}")
    store = FeatureStore(out_dir, modality="wsi", name=re.sub(r"[^A-Za-z0-9._+-]", "-", name), settings=settings)

    extract_one = partial(
        extract_slide, encoder=models, classifier=None if remote else clf, threshold=threshold,
        tile_size=tile_size, level=level, mpp=mpp, magnification=magnification, min_tissue=min_tissue,
        max_tiles=max_tiles, pooling=pooling, batch_size=batch_size, num_workers=num_workers,
        patch_dir=str(store.directory / "patches"), qc=qc)
    return run_batch(list(cases), extract_one, store, stage="pathomics", n_workers=n_workers, client=client,
                     progress=progress, unit="slide")


def extract_slide(patient_id: str, inputs: Mapping[str, str], *, encoder: Encoder | ModelSpec,
                  classifier: Any = None, threshold: float = 0.5, tile_size: int = 224, level: int = 0,
                  mpp: float | None = None, magnification: float | None = None, min_tissue: float = 0.5,
                  max_tiles: int | None = None, pooling: str = "mean", batch_size: int = 32, num_workers: int = 0,
                  patch_dir: str | os.PathLike | None = None, qc: bool = True) -> tuple[pd.Series, dict[str, Any]]:
    """Features of one slide: ``(pooled tile features, info)``; failures raise ``ExtractionError``.

    Top-level (hence picklable with its arguments) so that it can run in worker processes or on Dask.

    Parameters
    ----------
    patient_id : str
    inputs : mapping
        ``{"wsi": path}``.
    encoder : Encoder or ModelSpec
        A ready encoder, or a spec built (once per process) in the worker; a spec carries the classifier too.
    classifier : TileClassifier, optional
        With an Encoder: the tissue classifier (tiles with ``P(tumour) >= threshold`` are pooled).
    threshold, tile_size, level, mpp, magnification, min_tissue, max_tiles, pooling, batch_size, num_workers
        As in :func:`extract_pathomics_cases`.
    patch_dir : str or Path, optional
        Folder of the per-slide HDF5 patch files (``<patient_id>.h5``); None writes none (then
        ``pooling="median"`` is not available).
    qc : bool, default=True
        With ``patch_dir``: also write the QC thumbnail ``<patient_id>.qc.png`` next to the patch file (tiles
        coloured by predicted class, pooled tiles outlined; :func:`~multisurv.features.wsi.qc.write_qc_thumbnail`).

    Returns
    -------
    features : pandas.Series
        ``encoder.dim`` floats named ``wsi__<encoder>_0000`` ...
    info : dict
        ``n_tiles``, ``n_tissue_tiles``, ``n_kept``, ``width``, ``height``, ``mpp_x``, ``mpp_y``, the plan
        (``level``, ``read_size``, ``tile_mpp``), ``patch_file``, ``qc_thumbnail``, ``seconds``.
    """
    torch = __import__("torch")
    from multisurv.features.wsi.loader import iter_tile_batches

    if isinstance(encoder, ModelSpec):
        encoder, classifier = encoder.build()
    if pooling == "median" and patch_dir is None:
        raise ValueError("pooling='median' reads the patch file back; pass 'patch_dir'.")
    path = inputs["wsi"]
    start = time.perf_counter()
    slide = open_slide(path)
    try:
        try:
            plan = plan_tiles(slide, tile_size, mpp=mpp, magnification=magnification, level=level)
        except ValueError as exc:
            raise case_error(f"{exc} (patient {patient_id!r})", path=path) from exc
        try:
            coords, fraction = tile_grid(slide, tile_size=plan.read_size, level=plan.level, min_tissue=min_tissue,
                                         return_fraction=True)
        except slide_errors() as exc:
            raise case_error(
                f"OpenSlide cannot read the thumbnail of slide {path!r} ({type(exc).__name__}: {exc}). The file is "
                "probably corrupt; re-export or re-copy it.", path=path,
            ) from exc
        width, height = slide.level_dimensions[plan.level]
        info: dict[str, Any] = {
            "width": int(slide.dimensions[0]), "height": int(slide.dimensions[1]),
            "mpp_x": _as_float(slide.properties.get("openslide.mpp-x")),
            "mpp_y": _as_float(slide.properties.get("openslide.mpp-y")),
            "slide_mpp": slide_mpp(slide),
        }
    finally:
        slide.close()
    n_grid = len(coords)
    if n_grid == 0:
        at = f"level {plan.level}" if mpp is None and magnification is None else \
            f"{plan.mpp} um/px (level {plan.level}, {plan.read_size} px read)"
        raise case_error(
            f"Slide {path!r} of patient {patient_id!r} has no {tile_size} px tile at {at} with at least "
            f"{min_tissue:.0%} tissue (level size {width} x {height} px). Check that the slide shows stained "
            "tissue, or lower 'min_tissue' or 'tile_size'.", path=path,
        )
    if max_tiles is not None and n_grid > max_tiles:
        chosen = np.sort(np.random.default_rng(0).choice(n_grid, size=max_tiles, replace=False))
        coords, fraction = coords[chosen], fraction[chosen]

    writer = None
    if patch_dir is not None:
        from multisurv.features.wsi.patch_store import PatchWriter

        attrs = {"patient_id": str(patient_id), "slide": os.path.abspath(path), "encoder": encoder.name,
                 "weights": encoder.weights, "footprint": plan.footprint, "threshold": float(threshold),
                 **({} if classifier is None else {"tumour_class": classifier.tumour_class}),
                 **{k: v for k, v in plan.to_dict().items() if v is not None}}
        writer = PatchWriter(_patch_path(patch_dir, patient_id), len(coords), encoder.dim, coords=coords,
                             tissue=fraction, classes=None if classifier is None else classifier.classes, attrs=attrs)
    pool = RunningPool(encoder.dim)
    shared = classifier is not None and classifier.backbone is encoder.model
    cuda = str(encoder.device).startswith("cuda")
    n_tiles = 0
    kept = np.zeros(len(coords), dtype=bool)  # for the QC thumbnail: a few bytes per tile
    predicted = None if classifier is None else np.zeros(len(coords), dtype=np.int16)
    try:
        for index, tiles in iter_tile_batches(path, coords, plan, batch_size=batch_size, num_workers=num_workers,
                                              pin_memory=cuda):
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
                x = encoder.transform(tiles)
                feats = encoder.model(x).reshape(len(index), -1)
                probs = None
                if classifier is not None:
                    probs = classifier.probabilities_from(feats if shared else None, x)
            feats = feats.float().cpu().numpy()
            keep = np.ones(len(index), dtype=bool)
            if probs is not None:
                probs = probs.float().cpu().numpy()
                keep = probs[:, classifier.tumour_index] >= threshold
                predicted[index] = probs.argmax(axis=1)
            kept[index] = keep
            pool.update(feats[keep])
            if writer is not None:
                writer.write(index, feats, keep=keep, probabilities=probs)
            n_tiles += len(index)
        if pool.count == 0:
            raise case_error(
                f"Slide {path!r} of patient {patient_id!r}: none of its {n_tiles} tissue tiles has "
                f"P({classifier.tumour_class!r}) >= {threshold:g}, so there is nothing to pool. Check the slide (is "
                "it tumour?) and the classifier, or lower 'threshold'.", path=path)
        if writer is not None:
            info["patch_file"] = os.path.abspath(writer.close())
            writer = None
            if qc:
                from multisurv.features.wsi.qc import qc_path, write_qc_image

                info["qc_thumbnail"] = os.path.abspath(write_qc_image(
                    qc_path(info["patch_file"]), path, coords, plan.footprint, keep=kept, predicted=predicted,
                    classes=None if classifier is None else classifier.classes,
                    tumour_class=None if classifier is None else classifier.tumour_class))
    finally:
        if writer is not None:
            writer.abort()
    values = median_from_patches(info["patch_file"]) if pooling == "median" else pool.result(pooling)
    seconds = time.perf_counter() - start
    info.update({"n_tiles": n_tiles, "n_tissue_tiles": n_grid, "n_kept": pool.count, "level": plan.level,
                 "read_size": plan.read_size, "tile_mpp": plan.mpp, "seconds": round(seconds, 3)})
    logger.debug("Slide %r: %d tiles in %.1f s (%.1f tiles/s).", patient_id, n_tiles, seconds, n_tiles / seconds)
    names = [f"{PREFIX}{encoder.name}_{i:04d}" for i in range(encoder.dim)]
    return pd.Series(values, index=names, name=patient_id, dtype=float), info


def _patch_path(patch_dir: str | os.PathLike, patient_id: str) -> Path:
    from urllib.parse import quote

    stem = quote(str(patient_id), safe="-_.+")  # as FeatureStore.path_for: safe file names
    if stem.startswith("."):
        stem = "%2E" + stem[1:]
    return Path(patch_dir) / f"{stem}.h5"


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
