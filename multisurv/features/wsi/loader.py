"""Stream a slide's tiles to the model: worker processes decode batches while the model runs.

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
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from multisurv.exceptions import ExtractionError
from multisurv.features.batch import case_error
from multisurv.features.wsi.reader import TilePlan, iter_tiles, open_slide

__all__ = ["SlideTiles", "iter_tile_batches"]

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
    batch_size : int, default=64
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
