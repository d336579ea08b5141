"""Stream a slide's tiles to the model: worker processes decode batches while the model runs.

Two ways: :class:`DecodePool`, one pool of decoding processes kept for every slide of a run (what extraction
uses), and :func:`iter_tile_batches`, a DataLoader per slide (kept for single slides and as the reference).

:class:`SlideTiles` is a :class:`torch.utils.data.IterableDataset` over the tiles of one slide. The tiles are
cut into consecutive batches, and batch ``k`` is read by DataLoader worker ``k % num_workers``; each worker
opens the slide once and reads its batches one tile at a time. The DataLoader hands worker outputs back in
round-robin order, so batches reach the model in slide order while ``prefetch_factor`` batches per worker
are decoded ahead. Nothing but those few batches is ever held in memory, whatever the slide's size.

This module imports torch at import time; the rest of multisurv imports it only when tiles are encoded.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from multisurv.exceptions import ExtractionError
from multisurv.features.batch import case_error
from multisurv.features.wsi.reader import TilePlan, iter_tiles, open_slide

__all__ = ["SlideTiles", "iter_tile_batches", "DecodePool"]

logger = logging.getLogger(__name__)


class SlideTiles(IterableDataset):
    """The tiles of one slide as a stream of batches ``{"index": (n,) int64, "tiles": (n, H, W, 3) uint8}``.

    Parameters
    ----------
    path : str
        Slide file (each worker opens it itself; OpenSlide handles are not shared across processes).
    coords : ndarray of shape (n_tiles, 2)
        Level-0 top-left corners.
    plan : TilePlan
        Level, read size and output size of the tiles.
    batch_size : int
        Tiles per batch.

    Notes
    -----
    A read failure does not raise inside the worker (the DataLoader would re-raise it with the worker's
    traceback folded into the message); the worker yields ``{"error": message}`` and stops, and
    :func:`iter_tile_batches` raises an :class:`~multisurv.exceptions.ExtractionError` naming the slide.

    Examples
    --------
    A 512 px tiled TIFF (OpenSlide reads it as a generic TIFF slide), read in this process:

    >>> import tempfile, tifffile
    >>> from multisurv.features.wsi.reader import TilePlan
    >>> path = os.path.join(tempfile.mkdtemp(), "slide.tiff")
    >>> tifffile.imwrite(path, np.full((512, 512, 3), 200, np.uint8), tile=(256, 256), photometric="rgb")
    >>> plan = TilePlan(tile_size=224, level=0, read_size=224, downsample=1.0)
    >>> dataset = SlideTiles(path, [[0, 0], [224, 0], [0, 224]], plan, batch_size=2)
    >>> len(dataset), [batch["index"].tolist() for batch in dataset]
    (2, [[0, 1], [2]])
    """

    def __init__(self, path: str, coords: np.ndarray, plan: TilePlan, batch_size: int):
        super().__init__()
        self.path = os.fspath(path)
        self.coords = np.asarray(coords, dtype=np.int64).reshape(-1, 2)
        self.plan = plan
        self.batch_size = int(batch_size)

    def __len__(self) -> int:
        return -(-len(self.coords) // self.batch_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        try:
            slide = open_slide(self.path)
        except ExtractionError as exc:
            yield {"error": str(exc)}
            return
        plan = self.plan
        try:
            for k in range(worker, len(self), n_workers):
                index = np.arange(k * self.batch_size, min((k + 1) * self.batch_size, len(self.coords)))
                tiles = np.empty((index.size, plan.tile_size, plan.tile_size, 3), dtype=np.uint8)
                try:
                    for j, tile in enumerate(iter_tiles(slide, self.coords[index], plan.read_size, plan.level,
                                                        out_size=plan.tile_size)):
                        tiles[j] = tile
                except ExtractionError as exc:
                    yield {"error": f"{exc} (slide {self.path!r})" if self.path not in str(exc) else str(exc)}
                    return
                yield {"index": index, "tiles": tiles}
        finally:
            slide.close()


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding workers do not run the model; leave the cores to it


def iter_tile_batches(path: str, coords: np.ndarray, plan: TilePlan, *, batch_size: int = 64,
                      num_workers: int = 1, pin_memory: bool = False
                      ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Yield ``(index, tiles)`` batches of a slide's tiles in slide order, decoded by ``num_workers`` processes.

    Parameters
    ----------
    path : str
        Slide file.
    coords : ndarray of shape (n_tiles, 2)
        Level-0 top-left corners.
    plan : TilePlan
        Level, read size and output size of the tiles (:func:`~multisurv.features.wsi.reader.plan_tiles`).
    batch_size : int, default=64
        Tiles per batch (the last batch may be smaller).
    num_workers : int, default=1
        Decoding processes; 0 decodes in this process (no overlap with the model). Inside a daemonic process
        (e.g. a Dask worker process), which may not start children, 0 is used.
    pin_memory : bool, default=False
        Page-lock batches for faster copies to a CUDA device.

    Yields
    ------
    index : ndarray of shape (n,), int64
        Rows of ``coords`` in this batch.
    tiles : torch.Tensor of shape (n, tile_size, tile_size, 3), uint8

    Raises
    ------
    ExtractionError
        If the slide cannot be opened or a tile cannot be read (the message names the slide and the tile).

    Examples
    --------
    >>> import tempfile, tifffile
    >>> from multisurv.features.wsi.reader import TilePlan
    >>> path = os.path.join(tempfile.mkdtemp(), "slide.tiff")
    >>> tifffile.imwrite(path, np.full((512, 512, 3), 200, np.uint8), tile=(256, 256), photometric="rgb")
    >>> plan = TilePlan(tile_size=224, level=0, read_size=224, downsample=1.0)
    >>> coords = np.array([[0, 0], [224, 0], [0, 224]])
    >>> for index, tiles in iter_tile_batches(path, coords, plan, batch_size=2, num_workers=0):
    ...     print(index.tolist(), tuple(tiles.shape), tiles.dtype)
    [0, 1] (2, 224, 224, 3) torch.uint8
    [2] (1, 224, 224, 3) torch.uint8
    >>> try:
    ...     next(iter_tile_batches("missing.svs", coords, plan, num_workers=0))
    ... except ValueError as exc:
    ...     print(str(exc)[:35])
    Slide 'missing.svs' does not exist.
    """
    if num_workers > 0 and multiprocessing.current_process().daemon:
        logger.info("Decoding tiles of %s in this (daemonic) process: it may not start worker processes.", path)
        num_workers = 0
    dataset = SlideTiles(path, coords, plan, batch_size)
    # One batch leaves nothing to decode while the model runs: starting a worker would only add its start-up time.
    num_workers = min(num_workers, len(dataset)) if len(dataset) > 1 else 0
    loader = DataLoader(dataset, batch_size=None, num_workers=num_workers, pin_memory=pin_memory,
                        worker_init_fn=_worker_init if num_workers else None,
                        prefetch_factor=2 if num_workers else None)
    for item in loader:
        if "error" in item:
            raise case_error(item["error"], path=path)
        yield np.asarray(item["index"]), item["tiles"]


# --------------------------------------------------------------------------------------------------------------
# One pool of decoding processes for every slide of a run
# --------------------------------------------------------------------------------------------------------------


class DecodePool:
    """Tile-decoding worker processes started once and shared by every slide of a run.

    A :class:`~torch.utils.data.DataLoader` per slide (:func:`iter_tile_batches`) starts and stops its workers
    for every slide; this pool keeps ``num_workers`` processes for the whole run. Each batch of a slide is one
    task on a shared queue (so a free worker always takes the next one), decoded into a shared-memory uint8
    tensor; :meth:`batches` hands the batches back in slide order while up to ``prefetch`` batches per worker
    are decoded ahead. Workers keep the last slides they opened, so a slide is opened once per worker.

    Parameters
    ----------
    num_workers : int
        Decoding processes (>= 1).
    prefetch : int, default=2
        Batches in flight per worker.
    start_method : str, optional
        ``"fork"`` (fast start; the default while CUDA is not initialised in this process) or ``"spawn"``
        (the default once it is: forking a process that holds a CUDA context is unsafe).

    Examples
    --------
    >>> with DecodePool(2) as pool:                                              # doctest: +SKIP
    ...     for index, tiles in pool.batches("slide.svs", coords, plan, batch_size=64):
    ...         ...
    """

    def __init__(self, num_workers: int, *, prefetch: int = 2, start_method: str | None = None):
        if int(num_workers) < 1:
            raise ValueError(f"The 'num_workers' parameter of DecodePool must be an int >= 1. Got {num_workers!r}.")
        import torch.multiprocessing as tmp

        if start_method is None:
            start_method = "spawn" if torch.cuda.is_initialized() else "fork"
        ctx = tmp.get_context(start_method)
        self.num_workers = int(num_workers)
        self.prefetch = max(1, int(prefetch))
        self._tasks = ctx.Queue()
        self._results = ctx.Queue()
        self._workers = [ctx.Process(target=_pool_worker, args=(self._tasks, self._results), daemon=True,
                                     name=f"multisurv-decode-{i}") for i in range(self.num_workers)]
        for worker in self._workers:
            worker.start()
        self._job = 0
        self._stash: dict[tuple[int, int], Any] = {}
        self._cancelled: dict[int, int] = {}  # job -> results still to arrive and be dropped
        self.closed = False

    def __enter__(self) -> "DecodePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def batches(self, path: str, coords: np.ndarray, plan: TilePlan, *, batch_size: int
                ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield ``(index, tiles)`` for the tiles of one slide, in slide order (as :func:`iter_tile_batches`).

        Parameters
        ----------
        path : str
            Slide file (each worker opens it once and keeps it while it decodes this slide's batches).
        coords : ndarray of shape (n_tiles, 2)
            Level-0 top-left corners.
        plan : TilePlan
            Level, read size and output size of the tiles.
        batch_size : int
            Tiles per batch (the last batch may be smaller).

        Yields
        ------
        index : ndarray of shape (n,), int64
            Rows of ``coords`` in this batch.
        tiles : torch.Tensor of shape (n, tile_size, tile_size, 3), uint8
            In shared memory.

        Raises
        ------
        ExtractionError
            If the slide cannot be opened or a tile cannot be read (the message names the slide and the tile).
        RuntimeError
            If the pool is closed, or a worker process died.

        Examples
        --------
        >>> with DecodePool(2) as pool:  # doctest: +SKIP
        ...     for index, tiles in pool.batches("slides/P1.svs", coords, plan, batch_size=2):
        ...         print(index.tolist(), tuple(tiles.shape))
        [0, 1] (2, 224, 224, 3)
        [2] (1, 224, 224, 3)
        """
        if self.closed:
            raise RuntimeError("This DecodePool is closed.")
        path = os.fspath(path)
        coords = np.asarray(coords, dtype=np.int64).reshape(-1, 2)
        n_batches = -(-len(coords) // int(batch_size))
        self._job += 1
        job = self._job
        spec = (path, int(plan.level), int(plan.read_size), int(plan.tile_size))
        submitted = received = 0
        try:
            while received < n_batches:
                while submitted < n_batches and submitted - received < self.num_workers * self.prefetch:
                    start = submitted * int(batch_size)
                    self._tasks.put((job, submitted, start, coords[start:start + int(batch_size)], spec))
                    submitted += 1
                item = self._take(job, received)
                received += 1
                if isinstance(item, str):
                    raise case_error(item, path=path)
                yield np.arange(item[0], item[0] + len(item[1]), dtype=np.int64), item[1]
        finally:
            pending = submitted - received
            if pending:
                self._cancelled[job] = self._cancelled.get(job, 0) + pending
                for key in [k for k in self._stash if k[0] == job]:
                    del self._stash[key]
                    self._cancelled[job] -= 1

    def _take(self, job: int, k: int):
        """The result of batch ``k`` of ``job``: from the stash, else from the queue (stashing others)."""
        while (job, k) not in self._stash:
            try:
                got_job, got_k, payload = self._results.get(timeout=5.0)
            except queue.Empty:
                dead = [w.name for w in self._workers if not w.is_alive()]
                if dead:
                    raise RuntimeError(f"Tile-decoding worker(s) {', '.join(dead)} died (killed, or out of memory); "
                                       "rerun, with fewer --loader-workers if memory is short.") from None
                continue
            if self._cancelled.get(got_job):
                self._cancelled[got_job] -= 1
                continue
            self._stash[(got_job, got_k)] = payload
        return self._stash.pop((job, k))

    def close(self) -> None:
        """Stop the workers (idempotent); also called on leaving a ``with`` block.

        Examples
        --------
        >>> pool = DecodePool(2)  # doctest: +SKIP
        >>> pool.close()  # doctest: +SKIP
        >>> pool.closed  # doctest: +SKIP
        True
        """
        if self.closed:
            return
        self.closed = True
        for _ in self._workers:
            self._tasks.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
        self._stash.clear()
        for q in (self._tasks, self._results):
            q.cancel_join_thread()
            q.close()


def _pool_worker(tasks, results) -> None:
    """Decode batches until told to stop; keep the two slides last opened."""
    torch.set_num_threads(1)  # decoding workers do not run the model; leave the cores to it
    slides: dict[str, Any] = {}
    try:
        while True:
            task = tasks.get()
            if task is None:
                return
            job, k, start, coords, (path, level, read_size, tile_size) = task
            try:
                slide = slides.get(path)
                if slide is None:
                    slide = open_slide(path)
                    slides[path] = slide
                    while len(slides) > 2:
                        slides.pop(next(iter(slides))).close()
                tiles = torch.empty((len(coords), tile_size, tile_size, 3), dtype=torch.uint8).share_memory_()
                out = tiles.numpy()
                for j, tile in enumerate(iter_tiles(slide, coords, read_size, level, out_size=tile_size)):
                    out[j] = tile
            except ExtractionError as exc:
                message = str(exc)
                results.put((job, k, message if path in message else f"{message} (slide {path!r})"))
                continue
            results.put((job, k, (start, tiles)))
    finally:
        for slide in slides.values():
            slide.close()
