"""Encode a slide's tile batches while keeping the model busy: prefetch, forward pass and writes overlapped.

:func:`encode_batches` runs the forward pass of batch ``k`` while batch ``k - 1`` is copied back from the device
and written (HDF5 patch rows, running pool, classifier keep flags) by a writer thread, and, on CUDA, while batch
``k + 1`` is copied into page-locked memory by a prefetch thread. The writer handles batches strictly in order, so
every sum is taken in the same order as a plain loop: features, pooled vectors and patch files are the same as
the one-batch-at-a-time loop's (bit for bit on the CPU, where nothing else changes).

:func:`machine_defaults` chooses the batch size, the number of decoding workers and the precision from the
machine (CPU count, GPU memory and generation).

torch is imported at import time; the rest of multisurv imports this module only when tiles are encoded.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch

from multisurv.features.wsi.encoders import Encoder, _autocast, resolve_precision

__all__ = ["encode_batches", "machine_defaults", "BatchResult"]

logger = logging.getLogger(__name__)


class BatchResult:
    """Per-tile outputs of :func:`encode_batches`: encoded count, pooled (kept) flags, predicted classes.

    Parameters
    ----------
    n_tiles : int
        Number of tiles of the slide (length of ``kept`` and ``predicted``).
    with_classes : bool
        Whether a tissue classifier runs (then ``predicted`` is an array, else None).

    Attributes
    ----------
    n_encoded : int
        Tiles encoded so far.
    kept : ndarray of bool, shape (n_tiles,)
        Tiles pooled into the slide vector (all encoded tiles without a classifier).
    predicted : ndarray of int16, shape (n_tiles,), or None
        Arg-max class index of each tile, with a classifier.

    Examples
    --------
    >>> result = BatchResult(4, with_classes=True)
    >>> result.n_encoded, result.kept.tolist(), result.predicted.tolist()
    (0, [False, False, False, False], [0, 0, 0, 0])
    """

    def __init__(self, n_tiles: int, with_classes: bool):
        self.n_encoded = 0
        self.kept = np.zeros(n_tiles, dtype=bool)
        self.predicted = np.zeros(n_tiles, dtype=np.int16) if with_classes else None


def encode_batches(batches: Iterable[tuple[np.ndarray, Any]], encoder: Encoder, *, n_tiles: int,
                   on_features: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None], None],
                   classifier: Any = None, threshold: float = 0.5, precision: str = "auto", stain: Any = None,
                   depth: int = 2) -> BatchResult:
    """Encode ``(index, uint8 tiles)`` batches; hand ``(index, features, keep, probabilities)`` to ``on_features``.

    Parameters
    ----------
    batches : iterable of (ndarray, tensor)
        Tile indices and uint8 tiles (N, H, W, 3), in order (e.g. :meth:`~.loader.DecodePool.batches`).
    encoder : Encoder
        The tile encoder (:func:`~.encoders.get_encoder`); its ``device`` decides whether prefetching and
        asynchronous copies are used (CUDA).
    n_tiles : int
        Total number of tiles (sizes the per-tile outputs).
    on_features : callable
        Called in the writer thread, in batch order, with float32 features (n, dim), keep flags and the class
        probabilities (or None): the HDF5 write and pooling.
    classifier : TileClassifier, optional
        Tiles with ``P(tumour) >= threshold`` are kept; others are written but not pooled.
    threshold : float, default=0.5
        Tumour-probability threshold of the classifier.
    precision : {"auto", "bf16", "fp16", "fp32"}, default="auto"
        Autocast precision of the forward pass (:func:`~.encoders.resolve_precision`).
    stain : callable, optional
        Stain normaliser applied on the device (:mod:`~.stain`).
    depth : int, default=2
        Batches queued between the threads.

    Returns
    -------
    BatchResult

    Raises
    ------
    ValueError
        If the encoder returns another number of features than ``encoder.dim``. An error raised by
        ``on_features`` in the writer thread is re-raised here.

    Examples
    --------
    >>> from multisurv.features.wsi.encoders import Encoder
    >>> tiny = Encoder("tiny", torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), dim=3,
    ...                device="cpu", weights="none")
    >>> tiles = np.zeros((5, 8, 8, 3), np.uint8)
    >>> rows = []
    >>> result = encode_batches([(np.arange(3), tiles[:3]), (np.arange(3, 5), tiles[3:])], tiny, n_tiles=5,
    ...                         on_features=lambda index, feats, keep, probs: rows.append(feats.shape))
    >>> rows, result.n_encoded, bool(result.kept.all())
    ([(3, 3), (2, 3)], 5, True)
    """
    cuda = str(encoder.device).startswith("cuda")
    dtype = resolve_precision(precision, encoder.device)
    result = BatchResult(n_tiles, classifier is not None)
    shared = classifier is not None and classifier.backbone is encoder.model
    source: Iterable = _prefetch(batches, depth, _pin) if cuda else batches

    def write(item) -> None:
        index, feats, probs, event = item
        if event is not None:
            event.synchronize()
        feats = feats.numpy()
        keep = np.ones(len(index), dtype=bool)
        if probs is not None:
            probs = probs.numpy()
            keep = probs[:, classifier.tumour_index] >= threshold
            result.predicted[index] = probs.argmax(axis=1)
        result.kept[index] = keep
        on_features(index, feats, keep, probs)
        result.n_encoded += len(index)

    writer = _Writer(write, depth)
    try:
        for index, tiles in source:
            with torch.inference_mode(), _autocast(torch, encoder.device, dtype):
                x = encoder.transform(tiles, stain=stain)
                feats = encoder.model(x).reshape(len(index), -1)
                probs = classifier.probabilities_from(feats if shared else None, x) if classifier is not None \
                    else None
            if feats.shape[1] != encoder.dim:
                raise ValueError(f"Encoder {encoder.name!r} returned {feats.shape[1]} features per tile, expected "
                                 f"{encoder.dim}.")
            event = None
            if cuda:  # start the copies back now; the writer thread waits for them, the model goes on
                feats = _to_host(feats)
                probs = None if probs is None else _to_host(probs)
                event = torch.cuda.Event()
                event.record()
            else:
                feats = feats.float()
                probs = None if probs is None else probs.float()
            writer.put((index, feats, probs, event))
        writer.finish()
    finally:
        writer.stop()
        if hasattr(source, "close"):
            source.close()
    return result


def _to_host(t: torch.Tensor) -> torch.Tensor:
    out = torch.empty(t.shape, dtype=torch.float32, pin_memory=True)
    out.copy_(t.float(), non_blocking=True)
    return out


def _pin(item):
    index, tiles = item
    return index, tiles.pin_memory()


class _Writer:
    """A thread that applies ``fn`` to queued items in order; its first error is re-raised in the caller."""

    def __init__(self, fn: Callable[[Any], None], depth: int):
        self._fn = fn
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="multisurv-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain after a failure
            try:
                self._fn(item)
            except BaseException as exc:  # handed to the main thread, which raises it
                self._error = exc

    def put(self, item) -> None:
        while True:
            self._raise()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Wait until every queued item is written; raise the writer's error if any."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def stop(self) -> None:
        if self._thread.is_alive():
            while True:
                try:
                    self._queue.put(None, timeout=0.1)
                    break
                except queue.Full:
                    if not self._thread.is_alive():
                        break
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


class _prefetch:
    """Iterate ``items`` in a background thread, applying ``fn`` (e.g. page-locking), ``depth`` items ahead."""

    _END = object()

    def __init__(self, items: Iterable, depth: int, fn: Callable[[Any], Any]):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(iter(items), fn), name="multisurv-prefetch",
                                        daemon=True)
        self._thread.start()

    def _run(self, items: Iterator, fn) -> None:
        try:
            for item in items:
                out = ("ok", fn(item))
                while not self._stop.is_set():
                    try:
                        self._queue.put(out, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    break
        except BaseException as exc:  # re-raised in the consuming thread
            self._queue.put(("error", exc))
            return
        finally:
            if hasattr(items, "close"):
                items.close()
        self._queue.put(("end", None))

    def __iter__(self):
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                pass
        self._thread.join()


def machine_defaults(device: str, *, encoder_dim: int = 2048, encoder_params_m: float | None = None
                     ) -> dict[str, Any]:
    """Batch size, decoding workers and precision for this machine, with the reason for each.

    Parameters
    ----------
    device : str
        Where the model runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).
    encoder_dim : int, default=2048
        Feature length of the encoder (not used by the current rule).
    encoder_params_m : float, optional
        Parameters of the encoder in millions (larger models get smaller batches on a GPU).

    Returns
    -------
    dict
        ``batch_size``, ``loader_workers``, ``precision`` and ``why`` (a sentence for the log).

    Notes
    -----
    CPU: one decoding process when there are two or more cores (the model uses the others), batch 32, fp32 --
    the defaults of earlier versions. CUDA: every core but one decodes (up to 32), the batch grows with the GPU's
    memory (ResNet-50: 512 at 24 GiB and more; ViT-L: 256; ViT-H/g: 128; halved per halving of memory), bf16 on
    GPUs that support it, else fp16.

    Examples
    --------
    >>> defaults = machine_defaults("cpu")
    >>> defaults["batch_size"], defaults["precision"]
    (32, 'fp32')
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not str(device).startswith("cuda"):
        workers = 1 if cpus >= 2 else 0
        return {"batch_size": 32, "loader_workers": workers, "precision": "fp32",
                "why": f"device {device}: batch 32, {workers} decoding worker(s) ({cpus} CPU(s), the model uses the "
                       "rest), fp32"}
    index = torch.device(device).index or 0
    props = torch.cuda.get_device_properties(index)
    gib = props.total_memory / 2**30
    size = encoder_params_m or 25.0
    top = 512 if size < 100 else 256 if size < 500 else 128
    batch = top
    for floor in (24, 12, 6):
        if gib >= floor:
            break
        batch //= 2
    batch = max(batch, 16)
    workers = max(1, min(cpus - 1, 32))
    precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return {"batch_size": batch, "loader_workers": workers, "precision": precision,
            "why": f"device {device} ({props.name}, {gib:.0f} GiB): batch {batch} (from the GPU memory and a "
                   f"{size:.0f}M-parameter encoder), {workers} decoding workers ({cpus} CPUs), {precision}"}
