"""Whole-slide image reading through OpenSlide: open with a clear error, stream tiles one at a time.

OpenSlide is imported only when a slide is opened (``pip install "multisurv[wsi]"``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from multisurv._optional import require
from multisurv.features.batch import case_error

if TYPE_CHECKING:  # pragma: no cover
    import openslide

__all__ = ["open_slide", "iter_tiles", "rgba_to_rgb", "slide_errors"]


def slide_errors() -> tuple[type[BaseException], ...]:
    """The exception types OpenSlide raises for unreadable slides (to catch them without importing openslide)."""
    openslide = require("openslide", extra="wsi")
    return (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError)


def open_slide(path: str | os.PathLike) -> "openslide.OpenSlide":
    """Open a whole-slide image with OpenSlide.

    Parameters
    ----------
    path : str or Path
        A slide format OpenSlide reads (Aperio SVS, Hamamatsu NDPI, MIRAX, tiled pyramidal TIFF, ...).

    Returns
    -------
    openslide.OpenSlide
        Close it with ``.close()`` (or use it as a context manager).

    Raises
    ------
    ExtractionError
        If the file does not exist or OpenSlide cannot open it; the message names the file and the fix.

    Examples
    --------
    >>> open_slide("missing.svs")
    Traceback (most recent call last):
    ...
    multisurv.exceptions.ExtractionError: Slide 'missing.svs' does not exist. Correct the 'wsi' path in the manifest.
    """
    openslide = require("openslide", extra="wsi")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise case_error(f"Slide {path!r} does not exist. Correct the 'wsi' path in the manifest.", path=path)
    try:
        return openslide.OpenSlide(path)
    except slide_errors() as exc:
        raise case_error(
            f"OpenSlide cannot open slide {path!r} ({type(exc).__name__}: {exc}). Check that the file is complete and "
            "in a format OpenSlide reads (SVS, NDPI, MRXS, tiled pyramidal TIFF, ...); re-export or re-copy it.",
            path=path,
        ) from exc


def rgba_to_rgb(rgba: np.ndarray) -> np.ndarray:
    """Composite an RGBA uint8 image over white and drop alpha (OpenSlide marks unscanned areas transparent).

    Parameters
    ----------
    rgba : ndarray of shape (H, W, 4), uint8

    Returns
    -------
    ndarray of shape (H, W, 3), uint8

    Examples
    --------
    >>> rgba_to_rgb(np.array([[[10, 20, 30, 255], [10, 20, 30, 0]]], dtype=np.uint8)).tolist()
    [[[10, 20, 30], [255, 255, 255]]]
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"Expected an RGBA image of shape (H, W, 4); got shape {rgba.shape}.")
    alpha = rgba[..., 3:4].astype(np.uint16)
    if np.all(alpha == 255):
        return np.ascontiguousarray(rgba[..., :3])
    rgb = (rgba[..., :3].astype(np.uint16) * alpha + 255 * (255 - alpha) + 127) // 255
    return rgb.astype(np.uint8)


def iter_tiles(slide: "openslide.OpenSlide", coords: Iterable, tile_size: int,
               level: int = 0) -> Iterator[np.ndarray]:
    """Read tiles one at a time (memory does not grow with the slide or the number of tiles).

    Parameters
    ----------
    slide : openslide.OpenSlide
    coords : iterable of (x, y)
        Top-left corners in level-0 pixel coordinates (as returned by
        :func:`multisurv.features.wsi.tissue.tile_grid`).
    tile_size : int
        Tile width and height in pixels at ``level``.
    level : int, default=0
        Pyramid level to read from.

    Yields
    ------
    ndarray of shape (tile_size, tile_size, 3), uint8
        RGB, with transparent (unscanned) pixels shown white.

    Raises
    ------
    ExtractionError
        If OpenSlide fails to read a tile; the message names the slide and the tile.
    """
    errors = slide_errors()
    for x, y in coords:
        try:
            region = slide.read_region((int(x), int(y)), int(level), (int(tile_size), int(tile_size)))
        except errors as exc:
            raise case_error(
                f"OpenSlide cannot read the {tile_size} px tile at x={int(x)}, y={int(y)} (level-0 pixels), "
                f"level {level}, of {slide!r} ({type(exc).__name__}: {exc}). The file is probably corrupt; "
                "re-export or re-copy it."
            ) from exc
        yield rgba_to_rgb(np.asarray(region))
