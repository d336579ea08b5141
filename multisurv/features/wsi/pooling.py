"""Slide-level pooling of patch features: mean (default, as in the reference study), median or max.

Mean and max are accumulated batch by batch (:class:`RunningPool`), so memory does not grow with the number
of patches; the median needs every value of a feature at once and is read back from the slide's HDF5 patch
file a block of feature columns at a time (:func:`median_from_patches`).
"""

from __future__ import annotations

import os

import numpy as np

from multisurv._optional import require

__all__ = ["POOLINGS", "RunningPool", "pool_features", "median_from_patches"]

#: Accepted pooling names.
POOLINGS = ("mean", "median", "max")


def pool_features(features: np.ndarray, method: str = "mean") -> np.ndarray:
    """Pool an (n_patches, dim) matrix over patches.

    Parameters
    ----------
    features : ndarray of shape (n_patches, dim)
        One row per patch.
    method : {"mean", "median", "max"}, default="mean"
        The pooling.

    Returns
    -------
    ndarray of shape (dim,), float64

    Raises
    ------
    ValueError
        If ``method`` is unknown or ``features`` is not a non-empty 2-D matrix.

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [2.0, 5.0], [6.0, 1.0]])
    >>> pool_features(x).tolist(), pool_features(x, "median").tolist(), pool_features(x, "max").tolist()
    ([3.0, 2.0], [2.0, 1.0], [6.0, 5.0])
    >>> pool_features(x, "sum")
    Traceback (most recent call last):
    ...
    ValueError: Unknown pooling 'sum'. Choose one of: 'mean', 'median', 'max'.
    """
    _check_method(method)
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"Expected a non-empty (n_patches, dim) matrix; got shape {features.shape}.")
    return {"mean": np.mean, "median": np.median, "max": np.max}[method](features, axis=0)


def _check_method(method: str) -> None:
    if method not in POOLINGS:
        raise ValueError(f"Unknown pooling {method!r}. Choose one of: {', '.join(repr(p) for p in POOLINGS)}.")


class RunningPool:
    """Mean and max of patch features, updated one batch at a time (float64 sums: order-independent to 1e-12).

    Parameters
    ----------
    dim : int
        Feature length.

    Examples
    --------
    >>> pool = RunningPool(2)
    >>> pool.update(np.array([[1.0, 0.0], [2.0, 5.0]])); pool.update(np.array([[6.0, 1.0]]))
    >>> pool.count, pool.result("mean").tolist(), pool.result("max").tolist()
    (3, [3.0, 2.0], [6.0, 5.0])
    """

    def __init__(self, dim: int):
        self.total = np.zeros(dim, dtype=np.float64)
        self.maximum = np.full(dim, -np.inf, dtype=np.float64)
        self.count = 0

    def update(self, features: np.ndarray) -> None:
        """Add a batch of patch features to the running sum and maximum.

        Parameters
        ----------
        features : numpy.ndarray, shape (n_patches, dim)
            One row per patch; an empty batch changes nothing.

        Examples
        --------
        >>> pool = RunningPool(1)
        >>> pool.update(np.array([[2.0], [4.0]])); pool.count
        2
        """
        features = np.asarray(features)
        if features.shape[0] == 0:
            return
        self.total += features.sum(axis=0, dtype=np.float64)
        np.maximum(self.maximum, features.max(axis=0), out=self.maximum)
        self.count += features.shape[0]

    def result(self, method: str) -> np.ndarray:
        """The pooled vector (``"mean"`` or ``"max"``; the median needs :func:`median_from_patches`).

        Parameters
        ----------
        method : {"mean", "max"}
            The pooling.

        Returns
        -------
        ndarray of shape (dim,), float64
            A new array (later updates do not change it).

        Raises
        ------
        ValueError
            If ``method`` is neither ``"mean"`` nor ``"max"``, or no patch was pooled.

        Examples
        --------
        >>> pool = RunningPool(2)
        >>> pool.update(np.array([[1.0, 0.0], [3.0, 4.0]]))
        >>> pool.result("mean").tolist(), pool.result("max").tolist()
        ([2.0, 2.0], [3.0, 4.0])
        >>> RunningPool(2).result("mean")
        Traceback (most recent call last):
        ...
        ValueError: No patch was pooled.
        """
        if method not in ("mean", "max"):
            raise ValueError(f"RunningPool gives 'mean' or 'max'; got {method!r}. Use median_from_patches.")
        if self.count == 0:
            raise ValueError("No patch was pooled.")
        return self.total / self.count if method == "mean" else self.maximum.copy()


def median_from_patches(path, *, block: int = 64) -> np.ndarray:
    """Median over the kept patches of a slide's HDF5 patch file (or of several: one patient's slides), read
    ``block`` feature columns at a time.

    Parameters
    ----------
    path : str, Path or list of them
        Written by :class:`~multisurv.features.wsi.patch_store.PatchWriter`.
    block : int, default=64
        Feature columns read at once (memory: n_patches x block floats).

    Returns
    -------
    ndarray of shape (dim,), float64

    Raises
    ------
    ValueError
        If no patch of the file(s) is marked ``keep``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from multisurv.features.wsi.patch_store import PatchWriter
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "p1.h5"
    >>> with PatchWriter(path, 3, 2, coords=[[0, 0], [224, 0], [448, 0]], tissue=[1.0, 0.6, 0.9]) as writer:
    ...     writer.write(np.arange(3), [[1.0, 0.0], [2.0, 5.0], [6.0, 1.0]], keep=[True, True, False])
    >>> median_from_patches(path).tolist()  # the kept rows only
    [1.5, 2.5]
    """
    h5py = require("h5py", extra="wsi")
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    files = [h5py.File(p, "r") for p in paths]
    try:
        keeps = [f["keep"][()] for f in files]
        if not any(k.any() for k in keeps):
            raise ValueError(f"No patch of {', '.join(repr(os.fspath(p)) for p in paths)} is marked 'keep'; nothing "
                             "to pool.")
        dim = files[0]["features"].shape[1]
        out = np.empty(dim, dtype=np.float64)
        for start in range(0, dim, block):
            cols = np.concatenate([f["features"][:, start:start + block][k] for f, k in zip(files, keeps)])
            out[start:start + cols.shape[1]] = np.median(cols.astype(np.float64), axis=0)
    finally:
        for f in files:
            f.close()
    return out
