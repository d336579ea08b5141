"""Per-slide HDF5 files of patch coordinates and features (the tile-level record behind a slide vector).

One file per slide, written batch by batch (memory does not grow with the slide) to a temporary name and
moved into place when complete, so a crash never leaves a half-written file under the final name:

=================  ====================  ===========================================================
dataset            shape, dtype          meaning
=================  ====================  ===========================================================
``coords``         (n, 2) int64          level-0 top-left corner ``(x, y)`` of each tile
``features``       (n, dim) float32      encoder features
``tissue``         (n,) float32          tissue fraction of the tile (thumbnail mask)
``probabilities``  (n, n_classes) f32    tissue-classifier probabilities (only with a classifier)
``keep``           (n,) bool             tile used for the slide vector (tumour tiles, or all)
=================  ====================  ===========================================================

File attributes: ``patient_id``, ``slide`` (path), ``encoder``, ``classes`` (JSON list) and the tiling plan
(``tile_size``, ``level``, ``read_size``, ``downsample``, ``mpp``, ``magnification``, ``footprint``).
h5py is imported only when a file is read or written (``pip install "multisurv[wsi]"``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from multisurv._atomic import write_atomic
from multisurv._optional import require

__all__ = ["PatchWriter", "PatchTable", "read_patches"]


class PatchWriter:
    """Write one slide's patches to HDF5, batch by batch; the file appears only when :meth:`close` succeeds.

    The HDF5 file is built in memory (the ``core`` driver, no backing store: about ``n_tiles * dim * 4`` bytes)
    and written with one plain, atomic file write at :meth:`close`. So HDF5 never writes to disk itself: a full
    disk is an ordinary ``OSError`` (ENOSPC) from :meth:`close`, and no half-flushed HDF5 handle is left for the
    interpreter to flush at exit (which crashed the process with a segmentation fault).

    Parameters
    ----------
    path : str or Path
        Final file name (``.h5``).
    n_tiles : int
        Number of tiles (rows of every dataset).
    dim : int
        Feature length.
    coords : array_like of shape (n_tiles, 2)
        Level-0 top-left corners ``(x, y)``, stored as int64.
    tissue : array_like of shape (n_tiles,)
        Tissue fraction of each tile, stored as float32.
    classes : sequence of str, optional
        Class names of the tissue classifier; adds the ``probabilities`` dataset.
    attrs : mapping, optional
        File attributes (numbers and strings; other values are stored as JSON).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "p1.h5"
    >>> with PatchWriter(path, 2, 3, coords=[[0, 0], [224, 0]], tissue=[1.0, 0.6]) as w:
    ...     w.write(np.array([0, 1]), np.ones((2, 3)), keep=np.array([True, False]))
    >>> table = read_patches(path)
    >>> table.coords.tolist(), table.features.shape, table.keep.tolist()
    ([[0, 0], [224, 0]], (2, 3), [True, False])
    """

    def __init__(self, path: str | os.PathLike, n_tiles: int, dim: int, *, coords, tissue,
                 classes: Sequence[str] | None = None, attrs: Mapping[str, Any] | None = None):
        h5py = require("h5py", extra="wsi")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(f"{self.path.name}.{os.getpid()}", "w", driver="core", backing_store=False)
        f = self._file
        chunk = (min(max(n_tiles, 1), 256), dim)
        f.create_dataset("coords", data=np.asarray(coords, dtype=np.int64).reshape(n_tiles, 2))
        f.create_dataset("tissue", data=np.asarray(tissue, dtype=np.float32).reshape(n_tiles))
        f.create_dataset("features", shape=(n_tiles, dim), dtype=np.float32, chunks=chunk if n_tiles else None)
        f.create_dataset("keep", shape=(n_tiles,), dtype=bool)
        if classes is not None:
            f.create_dataset("probabilities", shape=(n_tiles, len(classes)), dtype=np.float32)
        for key, value in dict(attrs or {}, classes=list(classes or [])).items():
            f.attrs[key] = value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else \
                json.dumps(value)
        self._written = 0

    def write(self, index: np.ndarray, features: np.ndarray, *, keep: np.ndarray,
              probabilities: np.ndarray | None = None) -> None:
        """Store the rows ``index`` (consecutive, ascending) of features, keep flags and probabilities.

        Parameters
        ----------
        index : ndarray of int, shape (n,)
            Tile rows to fill: a consecutive ascending run (a batch of the slide's tiles); empty does nothing.
        features : array_like of shape (n, dim)
            Encoder features of those tiles (stored as float32).
        keep : array_like of bool, shape (n,)
            Whether each tile is used for the slide vector.
        probabilities : array_like of shape (n, n_classes), optional
            Tissue-classifier probabilities (only when the writer was given ``classes``).

        Raises
        ------
        ValueError
            If ``index`` is not a consecutive run.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "p1.h5"
        >>> writer = PatchWriter(path, 3, 2, coords=[[0, 0], [224, 0], [448, 0]], tissue=[1.0, 0.6, 0.9],
        ...                      classes=["tumour", "stroma"])
        >>> writer.write(np.array([0, 1]), [[1.0, 0.0], [2.0, 5.0]], keep=[True, True],
        ...              probabilities=[[0.9, 0.1], [0.8, 0.2]])
        >>> writer.write(np.array([2]), [[6.0, 1.0]], keep=[False], probabilities=[[0.2, 0.8]])
        >>> writer.write(np.array([0, 2]), np.ones((2, 2)), keep=[True, True])
        Traceback (most recent call last):
        ...
        ValueError: PatchWriter.write expects a consecutive run of tile indices.
        >>> writer.close().name
        'p1.h5'
        """
        index = np.asarray(index)
        if index.size == 0:
            return
        rows = slice(int(index[0]), int(index[-1]) + 1)
        if rows.stop - rows.start != index.size:
            raise ValueError("PatchWriter.write expects a consecutive run of tile indices.")
        self._file["features"][rows] = np.asarray(features, dtype=np.float32)
        self._file["keep"][rows] = np.asarray(keep, dtype=bool)
        if probabilities is not None:
            self._file["probabilities"][rows] = np.asarray(probabilities, dtype=np.float32)
        self._written += index.size

    def close(self) -> Path:
        """Write the file atomically (temporary file + ``os.replace``); returns the final path.

        Returns
        -------
        Path
            The ``path`` given to the writer, now holding the complete file.

        Raises
        ------
        OSError
            If the file cannot be written (e.g. a full disk); no partial file is left under ``path``.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> writer = PatchWriter(pathlib.Path(tempfile.mkdtemp()) / "p1.h5", 1, 2, coords=[[0, 0]], tissue=[1.0])
        >>> writer.write(np.array([0]), [[0.5, 0.5]], keep=[True])
        >>> path = writer.close()
        >>> path.name, path.is_file()
        ('p1.h5', True)
        """
        self._file.flush()
        image = self._file.id.get_file_image()
        self._file.close()
        write_atomic(self.path, lambda tmp: tmp.write_bytes(image))
        return self.path

    def abort(self) -> None:
        """Discard the file (after a failure); nothing was written to disk.

        Called by the context manager when its block raises; calling it twice is harmless.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "p1.h5"
        >>> writer = PatchWriter(path, 1, 2, coords=[[0, 0]], tissue=[1.0])
        >>> writer.abort()
        >>> path.exists()
        False
        """
        if self._file.id.valid:
            self._file.close()

    def __enter__(self) -> "PatchWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@dataclass(frozen=True)
class PatchTable:
    """The content of one slide's patch file (see the module docstring), as :func:`read_patches` returns it.

    Parameters
    ----------
    coords : ndarray of shape (n, 2), int64
        Level-0 top-left corner ``(x, y)`` of each tile.
    features : ndarray of shape (n, dim), float32
        Encoder features (shape ``(n, 0)`` when read with ``features=False``).
    tissue : ndarray of shape (n,), float32
        Tissue fraction of each tile.
    keep : ndarray of shape (n,), bool
        Tiles used for the slide vector.
    probabilities : ndarray of shape (n, n_classes), float32, or None
        Tissue-classifier probabilities; None when the slide was encoded without a classifier.
    classes : list of str
        Class names of the classifier (empty without one).
    attrs : dict
        The other file attributes (``patient_id``, ``slide``, ``encoder``, the tiling plan); JSON values decoded.

    Examples
    --------
    >>> table = PatchTable(coords=np.array([[0, 0], [224, 0]]), features=np.ones((2, 3), np.float32),
    ...                    tissue=np.array([1.0, 0.6], np.float32), keep=np.array([True, False]),
    ...                    probabilities=None, classes=[], attrs={"patient_id": "P1"})
    >>> table.features[table.keep].shape
    (1, 3)
    """

    coords: np.ndarray
    features: np.ndarray
    tissue: np.ndarray
    keep: np.ndarray
    probabilities: np.ndarray | None
    classes: list[str]
    attrs: dict[str, Any]


def read_patches(path: str | os.PathLike, *, features: bool = True) -> PatchTable:
    """Read a patch file written by :class:`PatchWriter`.

    Parameters
    ----------
    path : str or Path
        An ``.h5`` file written by :class:`PatchWriter`.
    features : bool, default=True
        Read the feature matrix (False leaves an empty ``(n, 0)`` array, for a cheap look at coordinates,
        classes and keep flags).

    Returns
    -------
    PatchTable

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "p1.h5"
    >>> with PatchWriter(path, 2, 3, coords=[[0, 0], [224, 0]], tissue=[1.0, 0.6], classes=["tumour", "stroma"],
    ...                  attrs={"patient_id": "P1", "tile_size": 224}) as writer:
    ...     writer.write(np.array([0, 1]), np.ones((2, 3)), keep=[True, False],
    ...                  probabilities=[[0.9, 0.1], [0.2, 0.8]])
    >>> table = read_patches(path)
    >>> table.classes, table.attrs, table.probabilities.shape
    (['tumour', 'stroma'], {'patient_id': 'P1', 'tile_size': 224}, (2, 2))
    >>> read_patches(path, features=False).features.shape
    (2, 0)
    """
    h5py = require("h5py", extra="wsi")
    with h5py.File(path, "r") as f:
        attrs = {}
        for key, value in f.attrs.items():
            value = value.decode() if isinstance(value, bytes) else value
            if isinstance(value, str) and value[:1] in "[{":
                value = json.loads(value)
            attrs[key] = value.item() if isinstance(value, np.generic) else value
        coords = f["coords"][()]
        return PatchTable(
            coords=coords,
            features=f["features"][()] if features else np.empty((len(coords), 0), dtype=np.float32),
            tissue=f["tissue"][()],
            keep=f["keep"][()],
            probabilities=f["probabilities"][()] if "probabilities" in f else None,
            classes=list(attrs.pop("classes", []) or []),
            attrs=attrs,
        )
