"""extract_pathomics: one feature vector per whole-slide image, pooled over its (tumour) tissue tiles.

For each slide: tiling plan at the requested level, mpp or magnification (:func:`~.reader.plan_tiles`) ->
tissue mask on a thumbnail -> non-overlapping tissue tiles -> tiles decoded by one pool of worker processes
kept for the whole run (:class:`~.loader.DecodePool`) -> batched encoder forward (channels-last; bf16/fp16
autocast on CUDA), overlapped with the copies back and the writes (:mod:`~.inference`) -> optional tissue
classifier keeping tumour tiles -> per-slide HDF5 of coordinates and features (:mod:`~.patch_store`) -> pooled
slide vector (mean, median or max; :mod:`~.pooling`). The feature cache is looked up first: models are built,
and the GPU touched, only when some slide needs encoding. Slides go through the
shared FeatureStore and failure machinery of :func:`multisurv.features.batch.run_batch` (in this process, in
worker processes, or on a Dask cluster), so a rerun skips finished slides and a broken slide is recorded in
``failures.csv`` while the others go on.
"""

from __future__ import annotations

import functools
import glob
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
from multisurv.features.wsi.encoders import PRECISIONS, Encoder, get_encoder
from multisurv.features.wsi.pooling import POOLINGS, RunningPool, median_from_patches
from multisurv.features.wsi.reader import open_slide, plan_tiles, slide_errors
from multisurv.features.wsi.reader import slide_mpp as slide_mpp_of
from multisurv.features.wsi.tissue import tile_grid

__all__ = ["extract_pathomics", "extract_pathomics_cases", "extract_slide", "slide_input", "ModelSpec", "PREFIX",
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
        Encoder weights (None: random, "imagenet", "hub", or a checkpoint path).
    classifier : str or None
        Checkpoint written by :meth:`~multisurv.features.wsi.classifier.TileClassifier.save`.
    device : str or None
        Default: CUDA when available in the worker, else CPU.
    compile : bool, default=False
        Wrap the encoder's network in ``torch.compile``.
    digest : str or None
        The weights' ``sha256:`` tag when already known (saves hashing a multi-GB file again).

    Examples
    --------
    >>> import pickle
    >>> spec = ModelSpec(encoder="uni", weights="weights/uni.safetensors", device="cuda")
    >>> pickle.loads(pickle.dumps(spec)) == spec
    True
    >>> encoder, classifier = spec.build()  # doctest: +SKIP
    """

    encoder: str | None = "resnet50"
    weights: str | None = None
    classifier: str | None = None
    device: str | None = None
    compile: bool = False
    digest: str | None = None

    def build(self) -> tuple[Encoder, Any]:
        """``(encoder, classifier or None)``, cached per process.

        Returns
        -------
        encoder : Encoder
            The tile encoder (with ``encoder=None``, the classifier's backbone).
        classifier : TileClassifier or None
            The tissue classifier, when ``classifier`` is set.

        Examples
        --------
        >>> encoder, classifier = ModelSpec(encoder="resnet50", weights="imagenet").build()  # doctest: +SKIP
        >>> encoder.dim, classifier  # doctest: +SKIP
        (2048, None)
        """
        return _build_models(self)


def _build_models_uncached(spec: ModelSpec) -> tuple[Encoder, Any]:
    classifier = None
    if spec.classifier is not None:
        from multisurv.features.wsi.classifier import TileClassifier

        classifier = TileClassifier.load(spec.classifier, device=spec.device)
    if spec.encoder is None:
        if classifier is None:
            raise ValueError("ModelSpec needs an encoder name or a classifier checkpoint (whose backbone encodes).")
        encoder = classifier.as_encoder()
    else:
        with warnings.catch_warnings():  # the caller warned about random weights once, in the main process
            warnings.simplefilter("ignore", MultisurvWarning)
            digest = spec.digest[len("sha256:"):] if spec.digest and spec.digest.startswith("sha256:") else None
            encoder = get_encoder(spec.encoder, weights=spec.weights, device=spec.device, _digest=digest)
    if spec.compile:
        encoder = _compiled(encoder)
    return encoder, classifier


_build_models = functools.lru_cache(maxsize=2)(_build_models_uncached)


def _compiled(encoder: Encoder) -> Encoder:
    import dataclasses

    import torch

    return dataclasses.replace(encoder, model=torch.compile(encoder.model), _consts={})


class _Run:
    """What the slides of one in-process run share: the models (built at the first slide that needs them, never
    for a fully cached run), one pool of decoding processes, and the batch/worker/precision defaults."""

    def __init__(self, models: ModelSpec | tuple[Encoder, Any], *, batch_size: int | None, loader_workers: int | None,
                 precision: str, params_m: float | None):
        self._spec = models if isinstance(models, ModelSpec) else None
        self._models = None if isinstance(models, ModelSpec) else models
        self._batch_size, self._loader_workers, self._precision = batch_size, loader_workers, precision
        self._params_m = params_m
        self._pool = None
        self._settings: dict[str, Any] | None = None

    def settings(self) -> dict[str, Any]:
        """``batch_size``, ``loader_workers``, ``precision`` (the machine's defaults where not given), logged once."""
        if self._settings is None:
            from multisurv.features.wsi.encoders import resolve_device

            device = self._models[0].device if self._models is not None else resolve_device(self._spec.device)
            from multisurv.features.wsi.inference import machine_defaults

            auto = machine_defaults(device, encoder_params_m=self._params_m)
            chosen = {"batch_size": self._batch_size or auto["batch_size"],
                      "loader_workers": auto["loader_workers"] if self._loader_workers is None else self._loader_workers,
                      "precision": self._precision}
            logger.info("pathomics: batch %d, %d decoding worker(s), precision %s (machine defaults: %s).",
                        chosen["batch_size"], chosen["loader_workers"], chosen["precision"], auto["why"])
            self._settings = chosen
        return self._settings

    def pool(self):
        """The run's DecodePool (started at the first slide, before the models: forking stays safe)."""
        n = self.settings()["loader_workers"]
        if self._pool is None and n > 0 and not _daemonic():
            from multisurv.features.wsi.loader import DecodePool

            self._pool = DecodePool(n)
        return self._pool

    def models(self) -> tuple[Encoder, Any]:
        if self._models is None:
            self._models = _build_models_uncached(self._spec)
        return self._models

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._spec is not None:
            self._models = None  # free the GPU memory now


def _daemonic() -> bool:
    import multiprocessing

    return multiprocessing.current_process().daemon


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
    slide_mpp: float | None = None,
    min_tissue: float = 0.5,
    max_tiles: int | None = None,
    pooling: str = "mean",
    batch_size: int | None = None,
    loader_workers: int | None = None,
    device: str | None = None,
    precision: str = "auto",
    compile: bool = False,
    stain: Any = None,
    full_hash: bool = False,
    n_workers: int = 1,
    client: Any = None,
    progress: bool = True,
) -> ExtractionResult:
    """Encode every patient's whole-slide image as the pooled feature vector of its tissue (or tumour) tiles.

    Parameters
    ----------
    cohort : Cohort
        Patients with a ``wsi`` path (``cohort.has_wsi``) are processed; others are skipped. A patient whose
        ``wsi`` cell lists several slides (``;``-separated) gets one vector pooled over the tiles of all of them.
    out_dir, encoder, weights, classifier, threshold, tile_size, level, mpp, magnification, slide_mpp
        As in :func:`extract_pathomics_cases`.
    min_tissue, max_tiles, pooling, batch_size, loader_workers, device, precision, compile, stain, full_hash
        As in :func:`extract_pathomics_cases`.
    n_workers, client, progress
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
    cases = [(str(pid), {"wsi": slide_input(value)}) for pid, value in table["wsi"].items()]
    return extract_pathomics_cases(
        cases, out_dir=out_dir, encoder=encoder, weights=weights, classifier=classifier, threshold=threshold,
        tile_size=tile_size, level=level, mpp=mpp, magnification=magnification, slide_mpp=slide_mpp,
        min_tissue=min_tissue, max_tiles=max_tiles, pooling=pooling, batch_size=batch_size, loader_workers=loader_workers,
        device=device, precision=precision, compile=compile, stain=stain, full_hash=full_hash, n_workers=n_workers,
        client=client, progress=progress, _stacklevel=4)


def slide_input(value: Any) -> str | list[str]:
    """The ``wsi`` input of a case from a slide-column cell: one path, or the list of a patient's several slides
    (``a.svs;b.svs`` in the manifest; see :func:`multisurv.cohort.cohort.slide_paths`).

    A single slide stays a plain path, so the cache of single-slide patients is the same as before lists existed.

    Parameters
    ----------
    value : str, list or None
        A cell of the slide column.

    Returns
    -------
    str or list of str
        The path of a single slide, else the list of paths (empty for an empty cell).

    Examples
    --------
    >>> slide_input("/s/a.svs"), slide_input("/s/a.svs;/s/b.svs")
    ('/s/a.svs', ['/s/a.svs', '/s/b.svs'])
    """
    from multisurv.cohort.cohort import slide_paths

    paths = slide_paths(value)
    return paths[0] if len(paths) == 1 else paths


def extract_pathomics_cases(
    cases: Sequence[tuple[str, Mapping[str, Any]]],
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
    slide_mpp: float | None = None,
    min_tissue: float = 0.5,
    max_tiles: int | None = None,
    pooling: str = "mean",
    batch_size: int | None = None,
    loader_workers: int | None = None,
    device: str | None = None,
    precision: str = "auto",
    compile: bool = False,
    stain: Any = None,
    full_hash: bool = False,
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
        E.g. from :func:`multisurv.features.cases.load_cases` with ``roles=("wsi",)``. ``inputs["wsi"]`` may
        also be a list of slides (several blocks of one patient): each is tiled on its own and the patient's
        vector pools the tiles of all of them (see Notes).
    out_dir : str or Path
        Root of the feature stores; features go to
        ``<out_dir>/wsi/<tiling>_<encoder>_<weights>[_tumour]_<pooling>_<hash8>/``, patch files to its
        ``patches/`` folder (one HDF5 per slide, see :mod:`~multisurv.features.wsi.patch_store`).
    encoder : str, Encoder or None, default="resnet50"
        A name from :func:`~multisurv.features.wsi.encoders.available_encoders`, a ready
        :class:`~multisurv.features.wsi.encoders.Encoder` (in-process runs only), or None to encode with the
        classifier's fine-tuned backbone (needs ``classifier``).
    weights : None, "imagenet", "hub" or path, default=None
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
        Tile at this resolution instead (best pyramid level read, tiles resized; see
        :func:`~multisurv.features.wsi.reader.plan_tiles`), so slides scanned at 20x and 40x give comparable
        tiles.
    slide_mpp : float, optional
        Microns per pixel of level 0 for slides whose metadata do not record it (without it such slides fail
        with a message saying so when a resolution is asked for).
    min_tissue : float, default=0.5
        Minimum tissue fraction of a tile.
    max_tiles : int, optional
        Encode at most this many tissue tiles per slide, drawn at random with a fixed seed (0).
    pooling : {"mean", "median", "max"}, default="mean"
        How patch features become the slide vector.
    batch_size : int, optional
        Tiles per forward pass. Default: from the machine (:func:`~.inference.machine_defaults`: 32 on a CPU,
        up to 512 on a large GPU), logged.
    loader_workers : int, optional
        Processes decoding tiles while the model runs, one pool kept for the whole run (0: decode in the model's
        process). Default: from the machine (1 on a CPU, every core but one with a GPU), logged.
    device : str, optional
        Default: ``"cuda"`` when available, else ``"cpu"``.
    precision : {"auto", "bf16", "fp16", "fp32"}, default="auto"
        Autocast precision of the forward pass: "auto" is bf16 on GPUs that support it (fp16 on older ones) and
        fp32 on the CPU.
    compile : bool, default=False
        ``torch.compile`` the encoder (faster on GPUs after a warm-up of tens of seconds).
    stain : StainNormalizer, optional
        Fitted stain normaliser (:mod:`~multisurv.features.wsi.stain`), applied to every batch on the device;
        recorded in the store settings.
    full_hash : bool, default=False
        Fingerprint slides by their full SHA-256 (reads every byte once) instead of size + a 16 MiB sample.
    n_workers : int, default=1
        Slides processed in parallel by local processes (each runs its own model).
    client : dask.distributed.Client, optional
        Send the slides to this Dask cluster instead.
    progress : bool, default=True
        Show a progress bar over slides.
    qc : bool, default=True
        Write a QC thumbnail per slide next to its patch file (``patches/<patient_id>.qc.png``): tiles coloured
        by predicted class (one colour without a classifier), pooled tiles outlined.
    _stacklevel : int, default=2
        Internal: stack level of the random-weights warning (for the callers in this module).

    Returns
    -------
    ExtractionResult
        ``features``: columns ``wsi__<encoder>_0000`` ... (``dim`` of them); ``info``: ``n_tiles`` (encoded),
        ``n_tissue_tiles`` (on the grid), ``n_kept`` (pooled), the tiling plan, slide size and microns per
        pixel, the patch file, the precision; ``failures``: one row per slide that could not be opened or read,
        or that has no tissue (or tumour) tile.

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
    The store folder's hash covers the tiling, the tissue method, the encoder, its preprocessing and the SHA-256
    of its weights, the classifier checkpoint's digest and threshold, the stain normalisation and the pooling
    (not ``batch_size``, ``loader_workers``, ``device`` nor ``precision``, which change features only to float
    rounding; the precision used is in each slide's ``info``). The cache is looked up before any model is built
    or any GPU touched: a fully cached rerun builds nothing.

    Examples
    --------
    >>> cases = [("P1", {"wsi": "slides/P1.svs"}), ("P2", {"wsi": ["slides/P2_A.svs", "slides/P2_B.svs"]})]
    >>> res = extract_pathomics_cases(cases, out_dir="features", encoder="uni",
    ...                               weights="weights/uni.safetensors", max_tiles=2000)  # doctest: +SKIP
    >>> res.features.shape  # doctest: +SKIP
    (2, 1024)
    """
    name_ = "extract_pathomics"
    check_param(name_, "tile_size", tile_size, kind="int", low=1)
    if level is not None:
        check_param(name_, "level", level, kind="int", low=0)
    check_param(name_, "min_tissue", min_tissue, kind="float", low=0, high=1)
    check_param(name_, "threshold", threshold, kind="float", low=0, high=1)
    if batch_size is not None:
        check_param(name_, "batch_size", batch_size, kind="int", low=1)
    if loader_workers is not None:
        check_param(name_, "loader_workers", loader_workers, kind="int", low=0)
    if max_tiles is not None:
        check_param(name_, "max_tiles", max_tiles, kind="int", low=1)
    if pooling not in POOLINGS:
        raise ValueError(f"Unknown pooling {pooling!r}. Choose one of: {', '.join(repr(p) for p in POOLINGS)}.")
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}. Choose one of: {', '.join(repr(p) for p in PRECISIONS)}.")
    if mpp is not None and magnification is not None:
        raise ValueError("Give either 'mpp' or 'magnification', not both.")
    for what, value in (("mpp", mpp), ("magnification", magnification), ("slide_mpp", slide_mpp)):
        if value is not None:
            check_param(name_, what, value, kind="float", low=0)

    check_device(device)  # a missing GPU stops here, not as a failure of every slide
    if isinstance(encoder, Encoder) and weights is not None:
        raise ValueError("'weights' applies to an encoder given by name; an Encoder object carries its own "
                         "weights. Pass weights=None with an Encoder.")
    about = _describe_models(encoder, weights, classifier, out_dir, device, stacklevel=_stacklevel + 1)
    if level is None and mpp is None and magnification is None and about["mpp"] is not None:
        mpp = float(about["mpp"])  # tile at the resolution the encoder was trained at
    level = 0 if level is None else level

    remote = client is not None or n_workers > 1
    if remote and about["spec"] is None:
        raise ValueError("Worker processes and Dask clusters build the models themselves: pass the encoder by "
                         "name and the classifier as a checkpoint path, or run with n_workers=1 and no client.")
    settings = _store_settings(about, tile_size=tile_size, level=level, mpp=mpp, magnification=magnification,
                               slide_mpp=slide_mpp, min_tissue=min_tissue, max_tiles=max_tiles, pooling=pooling,
                               threshold=threshold, stain=stain)
    if mpp is not None:
        where = f"{mpp:g}mpp"
    elif magnification is not None:
        where = f"{magnification:g}x"
    else:
        where = f"lvl{level}"
    label = "custom" if about["weights"].startswith("sha256:") else about["weights"]
    name = f"{tile_size}px_{where}_{about['name']}_{label}" + ("_tumour" if about["classes"] else "") + \
        ("" if pooling == "mean" else f"_{pooling}") + ("" if stain is None else f"_{stain.method}")
    store = FeatureStore(out_dir, modality="wsi", name=re.sub(r"[^A-Za-z0-9._+-]", "-", name), settings=settings,
                         content=True if full_hash else "sampled")

    spec = about["spec"]
    if spec is not None:
        spec = ModelSpec(encoder=spec.encoder, weights=spec.weights, classifier=spec.classifier, device=device,
                         compile=bool(compile), digest=about["weights"])
    if remote:
        models: Any = spec
    else:
        built = None if spec is not None else (about["encoder_object"], about["classifier_object"])
        if built is not None and compile:
            built = (_compiled(built[0]), built[1])
        models = _Run(spec if built is None else built, batch_size=batch_size, loader_workers=loader_workers,
                      precision=precision, params_m=about["params_m"])
    extract_one = partial(
        extract_slide, encoder=models, threshold=threshold, tile_size=tile_size, level=level, mpp=mpp,
        magnification=magnification, slide_mpp=slide_mpp, min_tissue=min_tissue, max_tiles=max_tiles, pooling=pooling,
        batch_size=batch_size, loader_workers=loader_workers, precision=precision, stain=stain,
        patch_dir=str(store.directory / "patches"), qc=qc)
    try:
        return run_batch(list(cases), extract_one, store, stage="pathomics", n_workers=n_workers, client=client,
                         progress=progress, unit="slide")
    finally:
        if isinstance(models, _Run):
            models.close()


def _describe_models(encoder, weights, classifier, out_dir, device, *, stacklevel: int) -> dict[str, Any]:
    """Everything the store settings need about the models, without building them (no torch model, no GPU)."""
    from multisurv.features.wsi.encoders import encoder_spec, random_weights_warning, weights_digest

    about: dict[str, Any] = {"spec": None, "classifier_object": None, "classes": None, "params_m": None}
    clf_path = None
    header = None
    if classifier is not None:
        from multisurv.features.wsi.classifier import TileClassifier, read_checkpoint_header

        if isinstance(classifier, TileClassifier):
            about["classifier_object"] = classifier
            header = {"digest": classifier.digest, "classes": list(classifier.classes),
                      "tumour_class": classifier.tumour_class, "backbone": classifier.backbone_name,
                      "mean": list(classifier.mean), "std": list(classifier.std)}
        else:
            clf_path = os.path.abspath(os.fspath(classifier))
            header = read_checkpoint_header(clf_path)
        about.update(classes=header["classes"], tumour_class=header["tumour_class"], classifier=header["digest"])
    if isinstance(encoder, Encoder):
        about.update(name=encoder.name, dim=encoder.dim, weights=encoder.weights, mean=list(encoder.mean),
                     std=list(encoder.std), mpp=encoder.mpp, preprocessing=encoder.preprocessing(),
                     extra=encoder.resize or encoder.crop != 1.0 or encoder.mpp is not None)
        if about["classifier_object"] is None and clf_path is not None:
            about["classifier_object"] = TileClassifier.load(clf_path, device=device)
        about["encoder_object"] = encoder
        return about
    if encoder is None:
        if header is None:
            raise ValueError("encoder=None encodes with the tissue classifier's backbone; pass 'classifier' too, or "
                             "name an encoder.")
        spec = encoder_spec(header["backbone"])
        about.update(name=f"{header['backbone']}-tissue", dim=spec.dim, weights=f"sha256:{header['digest']}",
                     mean=list(header["mean"]), std=list(header["std"]), mpp=None, extra=False)
        about["spec"] = ModelSpec(encoder=None, classifier=clf_path)
    else:
        spec = encoder_spec(encoder)
        if weights is None:
            random_weights_warning(encoder, stacklevel=stacklevel)
        digest = weights_digest(encoder, weights, cache=Path(out_dir) / "wsi" / "weights_sha256.json")
        about.update(name=encoder, dim=spec.dim, weights=digest, mean=list(spec.mean), std=list(spec.std),
                     mpp=spec.mpp, preprocessing=spec.preprocessing(), extra=spec.family != "torchvision",
                     params_m=spec.params_m)
        plain = None if weights is None or weights in ("imagenet", "hub") else os.path.abspath(os.fspath(weights))
        about["spec"] = ModelSpec(encoder=encoder, weights=plain if plain else weights, classifier=clf_path)
    if about["classifier_object"] is not None:  # an object given: the models live in this process, built now
        about["spec"] = None
        if encoder is None:
            about["encoder_object"] = about["classifier_object"].as_encoder()
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MultisurvWarning)
                about["encoder_object"] = get_encoder(encoder, weights=weights, device=device)
    return about


def _store_settings(about: Mapping[str, Any], *, tile_size, level, mpp, magnification, slide_mpp, min_tissue,
                    max_tiles, pooling, threshold, stain) -> dict[str, Any]:
    tiling: dict[str, Any] = {"tile_size": tile_size, "level": level} if mpp is None and magnification is None else \
        {"tile_size": tile_size, "mpp": None if mpp is None else float(mpp),
         "magnification": None if magnification is None else float(magnification)}
    if slide_mpp is not None:
        tiling["slide_mpp"] = float(slide_mpp)
    settings = {
        **tiling, "min_tissue": float(min_tissue), "max_tiles": max_tiles,
        "tissue": TISSUE_METHOD, "encoder": about["name"], "dim": about["dim"], "weights": about["weights"],
        "mean": about["mean"], "std": about["std"], "pooling": pooling,
    }
    if about.get("extra"):  # (the ResNets' settings, hence their caches, are those of earlier versions)
        settings["preprocessing"] = about["preprocessing"]
    if about["classes"]:
        settings.update(classifier=about["classifier"], classes=list(about["classes"]),
                        tumour_class=about["tumour_class"], threshold=float(threshold))
    if stain is not None:
        settings["stain"] = stain.settings()
    return settings


def extract_slide(patient_id: str, inputs: Mapping[str, Any], *, encoder: Encoder | ModelSpec | _Run,
                  classifier: Any = None, threshold: float = 0.5, tile_size: int = 224, level: int = 0,
                  mpp: float | None = None, magnification: float | None = None, slide_mpp: float | None = None,
                  min_tissue: float = 0.5, max_tiles: int | None = None, pooling: str = "mean",
                  batch_size: int | None = 32, loader_workers: int | None = 0, precision: str = "auto",
                  stain: Any = None, decode_pool: Any = None, patch_dir: str | os.PathLike | None = None,
                  qc: bool = True) -> tuple[pd.Series, dict[str, Any]]:
    """Features of one slide: ``(pooled tile features, info)``; failures raise ``ExtractionError``.

    Top-level (hence picklable with its arguments) so that it can run in worker processes or on Dask.

    Parameters
    ----------
    patient_id : str
    inputs : mapping
        ``{"wsi": path}``, or ``{"wsi": [path, ...]}`` for several slides of one patient (each tiled and stored
        on its own, ``<patient_id>.h5``, ``<patient_id>__2.h5``...; the vector pools the tiles of all of them).
    encoder : Encoder, ModelSpec or the run object of :func:`extract_pathomics_cases`
        A ready encoder, a spec built (once per process) in the worker (a spec carries the classifier too), or
        the in-process run (models built on first need, one decoding pool for every slide).
    classifier : TileClassifier, optional
        With an Encoder: the tissue classifier (tiles with ``P(tumour) >= threshold`` are pooled).
    threshold, tile_size, level, mpp, magnification, slide_mpp, min_tissue, max_tiles, pooling
        As in :func:`extract_pathomics_cases`.
    batch_size, loader_workers, precision, stain
        As in :func:`extract_pathomics_cases` (None: the machine's default).
    decode_pool : DecodePool, optional
        Decoding processes to use (default: the run's, or, for a lone call, a pool of ``loader_workers`` started
        for this slide; none when ``loader_workers`` is 0 or in a daemonic process).
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
        (``level``, ``read_size``, ``tile_mpp``), ``patch_file``, ``qc_thumbnail``, ``precision``, ``seconds``.

    Raises
    ------
    ExtractionError
        When a slide cannot be opened or read, or has no tissue (or tumour) tile.
    ValueError
        When ``pooling="median"`` without ``patch_dir``.

    Examples
    --------
    >>> from multisurv.features.wsi.encoders import get_encoder
    >>> encoder = get_encoder("resnet50", weights="imagenet")  # doctest: +SKIP
    >>> features, info = extract_slide("P1", {"wsi": "slides/P1.svs"}, encoder=encoder,
    ...                                patch_dir="features/patches")  # doctest: +SKIP
    >>> info["n_tiles"], features.index[0]  # doctest: +SKIP
    (1312, 'wsi__resnet50_0000')
    """
    if pooling == "median" and patch_dir is None:
        raise ValueError("pooling='median' reads the patch file back; pass 'patch_dir'.")
    paths = inputs["wsi"]
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    start = time.perf_counter()
    prepared = [_prepare_slide(patient_id, os.fspath(p), tile_size=tile_size, level=level, mpp=mpp,
                               magnification=magnification, slide_mpp=slide_mpp, min_tissue=min_tissue,
                               max_tiles=max_tiles) for p in paths]

    run = encoder if isinstance(encoder, _Run) else None
    own_pool = None
    if run is not None:
        chosen = run.settings()
        pool = run.pool() if decode_pool is None else decode_pool
        encoder, classifier = run.models()
    else:
        if isinstance(encoder, ModelSpec):
            encoder, classifier = encoder.build()
        chosen = {"batch_size": batch_size, "loader_workers": loader_workers, "precision": precision}
        if batch_size is None or loader_workers is None:
            from multisurv.features.wsi.inference import machine_defaults

            auto = machine_defaults(encoder.device)
            chosen = {"batch_size": batch_size or auto["batch_size"],
                      "loader_workers": auto["loader_workers"] if loader_workers is None else loader_workers,
                      "precision": precision}
        pool = decode_pool
        if pool is None and chosen["loader_workers"] > 0 and not _daemonic() and \
                any(-(-len(p["coords"]) // chosen["batch_size"]) > 1 for p in prepared):
            from multisurv.features.wsi.loader import DecodePool

            pool = own_pool = DecodePool(chosen["loader_workers"])
    reused: dict[int, Any] = {}
    if patch_dir is not None:
        for p in prepared:
            p["key"] = _slide_key(p["path"])
        reused = _reuse_patch_files(patient_id, prepared, patch_dir)
    try:
        pooled = RunningPool(encoder.dim)
        infos = [_reused_slide(reused[i], p, pooled) if i in reused else
                 _encode_slide(patient_id, i, p, encoder=encoder, classifier=classifier, threshold=threshold,
                               pool=pool, running=pooled, batch_size=chosen["batch_size"],
                               precision=chosen["precision"], stain=stain, patch_dir=patch_dir, qc=qc)
                 for i, p in enumerate(prepared)]
    finally:
        if own_pool is not None:
            own_pool.close()
    if patch_dir is not None:
        _remove_extra_patch_files(patch_dir, patient_id, len(prepared))
    if reused:
        logger.info("Patient %r: reused the patch files of %d of %d slides.", patient_id, len(reused), len(prepared))
    if pooled.count == 0:
        n_tiles = sum(i["n_tiles"] for i in infos)
        raise case_error(
            f"Slide {paths[0] if len(paths) == 1 else paths!r} of patient {patient_id!r}: none of its {n_tiles} tissue "
            f"tiles has P({classifier.tumour_class!r}) >= {threshold:g}, so there is nothing to pool. Check the slide "
            "(is it tumour?) and the classifier, or lower 'threshold'.", path=paths[0])
    if pooling == "median":
        values = median_from_patches([i["patch_file"] for i in infos])
    else:
        values = pooled.result(pooling)
    seconds = time.perf_counter() - start
    info = dict(infos[0]) if len(infos) == 1 else {**_merge_infos(infos), "n_slides_reused": len(reused)}
    info.update({"n_kept": pooled.count, "precision": _precision_name(chosen["precision"], encoder.device),
                 "seconds": round(seconds, 3)})
    n_tiles = info["n_tiles"]
    logger.debug("Slide %r: %d tiles in %.1f s (%.1f tiles/s).", patient_id, n_tiles, seconds, n_tiles / seconds)
    names = [f"{PREFIX}{encoder.name}_{i:04d}" for i in range(encoder.dim)]
    return pd.Series(values, index=names, name=patient_id, dtype=float), info


def _precision_name(precision: str, device: str) -> str:
    from multisurv.features.wsi.encoders import resolve_precision

    dtype = resolve_precision(precision, device)
    return "fp32" if dtype is None else {"torch.bfloat16": "bf16", "torch.float16": "fp16"}[str(dtype)]


def _prepare_slide(patient_id: str, path: str, *, tile_size, level, mpp, magnification, slide_mpp, min_tissue,
                   max_tiles) -> dict[str, Any]:
    """Plan, tissue grid and slide facts of one slide (no model needed); failures raise ExtractionError."""
    slide = open_slide(path)
    try:
        try:
            plan = plan_tiles(slide, tile_size, mpp=mpp, magnification=magnification, level=level,
                              slide_mpp=slide_mpp)
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
            "slide_mpp": slide_mpp_of(slide) or slide_mpp,
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
    return {"path": path, "plan": plan, "coords": coords, "fraction": fraction, "n_grid": n_grid, "info": info}


def _slide_key(path: str) -> str:
    """What identifies a slide's content in its patch file (``slide_key``): size and sampled SHA-256 (16 MiB read)."""
    from multisurv._hashing import sampled_sha256_file

    return f"{os.path.getsize(path)}:{sampled_sha256_file(path)}"


def _patch_files_of(patch_dir, patient_id: str) -> dict[int, Path]:
    """The patch files of ``patient_id`` in ``patch_dir`` by slide position (0: ``<id>.h5``, 1: ``<id>__2.h5``...)."""
    first = _patch_path(patch_dir, patient_id)
    found = {0: first} if first.exists() else {}
    prefix = first.stem + "__"
    for path in Path(patch_dir).glob(glob.escape(prefix) + "*.h5") if Path(patch_dir).is_dir() else ():
        number = path.stem[len(prefix):]
        if number.isdigit() and int(number) >= 2 and path == _patch_path(patch_dir, patient_id, int(number) - 1):
            found[int(number) - 1] = path
    return found


def _reuse_patch_files(patient_id: str, prepared: Sequence[Mapping[str, Any]], patch_dir) -> dict[int, Any]:
    """The patch files already written for slides of this patient (same slide content, same tile grid), moved to
    the position of their slide in the current list; ``{slide position: PatchTable}``.

    The patch folder belongs to one store (one set of settings), so a file with the slide's ``slide_key`` and the
    same tile coordinates holds exactly the features encoding would give: adding a slide to a patient re-encodes
    only the new one. Files are matched by content, not position, so removing or reordering slides reuses too.
    """
    from multisurv.features.wsi.patch_store import read_patches

    existing = _patch_files_of(patch_dir, patient_id)
    if not existing:
        return {}
    by_key: dict[str, tuple[Path, Any]] = {}
    for path in existing.values():
        try:
            table = read_patches(path)
        except (OSError, KeyError, ValueError) as exc:  # an unreadable old patch file: the slide is encoded again
            logger.debug("Ignoring unreadable patch file %s (%s).", path, exc)
            continue
        key = table.attrs.get("slide_key")
        if key and key not in by_key:
            by_key[key] = (path, table)
    matched: dict[int, tuple[Path, Any]] = {}
    for k, prep in enumerate(prepared):
        hit = by_key.pop(prep["key"], None)
        if hit is not None and np.array_equal(hit[1].coords, prep["coords"]):
            matched[k] = hit
    # move misplaced files through temporary names first, so that two files can swap places
    moving = {k: (path, _patch_path(patch_dir, patient_id, k)) for k, (path, _) in matched.items()
              if path != _patch_path(patch_dir, patient_id, k)}
    for k, (path, target) in moving.items():
        for src, dst in _with_qc(path, target.with_name(target.name + ".moving")):
            os.replace(src, dst)
    for k, (path, target) in moving.items():
        for src, dst in _with_qc(target.with_name(target.name + ".moving"), target):
            os.replace(src, dst)
    return {k: (_patch_path(patch_dir, patient_id, k), table) for k, (_, table) in matched.items()}


def _with_qc(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    """``(src, dst)`` and, when the QC thumbnail of ``src`` exists, the same move for it."""
    from multisurv.features.wsi.qc import qc_path

    pairs = [(src, dst)]
    if qc_path(src).exists():
        pairs.append((qc_path(src), qc_path(dst)))
    return pairs


def _reused_slide(reused: tuple[Path, Any], prepared: Mapping[str, Any], running: RunningPool) -> dict[str, Any]:
    """Pool the tiles of an already written patch file (nothing encoded); the slide's info."""
    from multisurv.features.wsi.qc import qc_path

    path, table = reused
    running.update(table.features[table.keep])
    plan = prepared["plan"]
    info = dict(prepared["info"])
    info["patch_file"] = os.path.abspath(path)
    if qc_path(path).exists():
        info["qc_thumbnail"] = os.path.abspath(qc_path(path))
    info.update({"n_tiles": int(len(table.coords)), "n_tissue_tiles": prepared["n_grid"], "level": plan.level,
                 "read_size": plan.read_size, "tile_mpp": plan.mpp})
    return info


def _remove_extra_patch_files(patch_dir, patient_id: str, n_slides: int) -> None:
    """Remove the patch files (and QC thumbnails) of slide positions the patient no longer has."""
    from multisurv.features.wsi.qc import qc_path

    for k, path in _patch_files_of(patch_dir, patient_id).items():
        if k >= n_slides:
            for stale in (path, qc_path(path)):
                stale.unlink(missing_ok=True)


def _encode_slide(patient_id: str, k: int, prepared: Mapping[str, Any], *, encoder: Encoder, classifier: Any,
                  threshold: float, pool: Any, running: RunningPool, batch_size: int, precision: str, stain: Any,
                  patch_dir, qc: bool) -> dict[str, Any]:
    """Encode one prepared slide: tiles -> model -> patch file rows and running pool (overlapped); its info."""
    from multisurv.features.wsi.inference import encode_batches
    from multisurv.features.wsi.loader import iter_tile_batches

    path, plan, coords = prepared["path"], prepared["plan"], prepared["coords"]
    info = dict(prepared["info"])
    writer = None
    if patch_dir is not None:
        from multisurv.features.wsi.patch_store import PatchWriter

        attrs = {"patient_id": str(patient_id), "slide": os.path.abspath(path), "slide_key": prepared.get("key", ""),
                 "encoder": encoder.name,
                 "weights": encoder.weights, "footprint": plan.footprint, "threshold": float(threshold),
                 **({} if classifier is None else {"tumour_class": classifier.tumour_class}),
                 **({} if stain is None else {"stain": stain.method}),
                 **{key: v for key, v in plan.to_dict().items() if v is not None}}
        writer = PatchWriter(_patch_path(patch_dir, patient_id, k), len(coords), encoder.dim, coords=coords,
                             tissue=prepared["fraction"], classes=None if classifier is None else classifier.classes,
                             attrs=attrs)

    def on_features(index, feats, keep, probs) -> None:
        running.update(feats[keep])
        if writer is not None:
            writer.write(index, feats, keep=keep, probabilities=probs)

    if pool is not None:
        batches = pool.batches(path, coords, plan, batch_size=batch_size)
    else:
        batches = iter_tile_batches(path, coords, plan, batch_size=batch_size, num_workers=0)
    try:
        done = encode_batches(batches, encoder, n_tiles=len(coords), on_features=on_features, classifier=classifier,
                              threshold=threshold, precision=precision, stain=stain)
        if writer is not None:
            info["patch_file"] = os.path.abspath(writer.close())
            writer = None
            if qc:
                from multisurv.features.wsi.qc import qc_path, write_qc_image

                info["qc_thumbnail"] = os.path.abspath(write_qc_image(
                    qc_path(info["patch_file"]), path, coords, plan.footprint, keep=done.kept,
                    predicted=done.predicted, classes=None if classifier is None else classifier.classes,
                    tumour_class=None if classifier is None else classifier.tumour_class))
    finally:
        if writer is not None:
            writer.abort()
    info.update({"n_tiles": done.n_encoded, "n_tissue_tiles": prepared["n_grid"], "level": plan.level,
                 "read_size": plan.read_size, "tile_mpp": plan.mpp})
    return info


def _merge_infos(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """One info row for a patient's several slides: counts summed, per-slide values joined with ';'."""
    out: dict[str, Any] = {"n_slides": len(infos)}
    for key in infos[0]:
        values = [i.get(key) for i in infos]
        if key in ("n_tiles", "n_tissue_tiles"):
            out[key] = int(sum(values))
        else:
            out[key] = values[0] if len(set(map(str, values))) == 1 else ";".join(str(v) for v in values)
    return out


def _patch_path(patch_dir: str | os.PathLike, patient_id: str, k: int = 0) -> Path:
    from urllib.parse import quote

    stem = quote(str(patient_id), safe="-_.+")  # as FeatureStore.path_for: safe file names
    if stem.startswith("."):
        stem = "%2E" + stem[1:]
    return Path(patch_dir) / (f"{stem}.h5" if k == 0 else f"{stem}__{k + 1}.h5")


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
