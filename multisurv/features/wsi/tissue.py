"""Tissue detection on a slide thumbnail and the grid of tissue tiles to encode.

Tissue is found by Otsu's threshold on HSV saturation (H&E-stained tissue is coloured; glass, background
and most scanner artefacts are grey or white), cleaned with a small closing and opening. Tiles are laid
on a non-overlapping grid; tiles that would cross the slide border are dropped, and a tile is kept when
the fraction of tissue under it (read from the thumbnail mask) is at least ``min_tissue``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from multisurv._validation import check_param

if TYPE_CHECKING:  # pragma: no cover
    import openslide

__all__ = ["tissue_mask", "otsu_threshold", "tile_grid"]

#: Thumbnail pixels wanted along one tile side when measuring a tile's tissue fraction.
_THUMB_PX_PER_TILE = 8
#: Largest thumbnail side, so memory stays bounded on very large slides.
_MAX_THUMB_SIDE = 4096


def otsu_threshold(values: np.ndarray, *, bins: int = 256) -> float:
    """Otsu's threshold: the cut that maximises the between-class variance of a 1-D sample.

    Parameters
    ----------
    values : ndarray
        Values in [0, 1] (any shape; flattened).
    bins : int, default=256

    Returns
    -------
    float
        The threshold; values strictly above it form the upper class. A constant sample returns its value.

    References
    ----------
    Otsu N. A threshold selection method from gray-level histograms. IEEE Trans Syst Man Cybern.
    1979;9(1):62-66.

    Examples
    --------
    >>> t = otsu_threshold(np.r_[np.full(50, 0.1), np.full(50, 0.7)])
    >>> 0.1 <= t < 0.7
    True
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("Cannot compute an Otsu threshold of an empty array.")
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    if np.count_nonzero(hist) <= 1:
        return float(values[0]) if np.ptp(values) == 0 else float(np.median(values))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(hist * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between[:-1])) + 1])


def tissue_mask(thumbnail: np.ndarray, *, min_saturation: float = 0.05) -> np.ndarray:
    """Boolean tissue mask of an RGB thumbnail.

    Parameters
    ----------
    thumbnail : ndarray of shape (H, W, 3), uint8
        RGB thumbnail (background white).
    min_saturation : float, default=0.05
        Floor on the threshold, so that a blank slide (only glass) gives an empty mask rather than Otsu
        splitting noise in two.

    Returns
    -------
    ndarray of shape (H, W), bool
        True where there is tissue.

    Notes
    -----
    Saturation is ``(max - min) / max`` of the RGB channels (0 for black). The threshold is
    ``max(otsu(saturation), min_saturation)``; the mask is then closed and opened with a 3 x 3 square to fill
    pin-holes and remove isolated pixels, and holes enclosed by tissue are filled.

    Examples
    --------
    >>> img = np.full((20, 20, 3), 245, dtype=np.uint8)
    >>> img[5:15, 5:15] = (180, 90, 160)              # a pink square on white glass
    >>> m = tissue_mask(img)
    >>> bool(m[10, 10]), bool(m[0, 0]), int(m.sum())
    (True, False, 100)
    >>> int(tissue_mask(np.full((8, 8, 3), 250, dtype=np.uint8)).sum())   # blank slide
    0
    """
    rgb = np.asarray(thumbnail)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError(f"'thumbnail' must be an RGB image of shape (H, W, 3); got shape {rgb.shape}.")
    rgb = rgb[..., :3].astype(np.float32)
    high = rgb.max(axis=2)
    low = rgb.min(axis=2)
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0.0)
    threshold = max(otsu_threshold(saturation), float(min_saturation))
    mask = saturation > threshold
    square = np.ones((3, 3), dtype=bool)
    mask = ndimage.binary_closing(mask, structure=square, border_value=0)
    mask = ndimage.binary_opening(mask, structure=square, border_value=0)
    return ndimage.binary_fill_holes(mask)


def tile_grid(slide: "openslide.OpenSlide", tile_size: int = 224, level: int = 0,
              min_tissue: float = 0.5, *, return_fraction: bool = False):
    """Level-0 top-left corners of the non-overlapping tissue tiles of a slide.

    Parameters
    ----------
    slide : openslide.OpenSlide
        An open slide (anything with ``level_count``, ``level_dimensions``, ``level_downsamples``,
        ``dimensions`` and ``get_thumbnail``).
    tile_size : int, default=224
        Tile side in pixels at ``level``.
    level : int, default=0
        Pyramid level the tiles will be read at.
    min_tissue : float, default=0.5
        Keep a tile when at least this fraction of it is tissue (0 keeps every tile inside the slide).
    return_fraction : bool, default=False
        Also return the tissue fraction of each kept tile.

    Returns
    -------
    coords : ndarray of shape (n_tiles, 2), int64
        ``(x, y)`` in level-0 pixels, row by row (y, then x). Tiles that would cross the right or bottom
        border are not included. Empty (shape ``(0, 2)``) when no tile has enough tissue.
    fraction : ndarray of shape (n_tiles,), float64
        Only with ``return_fraction=True``: tissue fraction of each tile, in [0, 1].

    Notes
    -----
    The tissue fraction of each tile is the mean of :func:`tissue_mask` over the tile's footprint on a
    thumbnail with about 8 thumbnail pixels per tile side (at most 4096 pixels on its longer side).

    Examples
    --------
    A duck-typed stand-in for ``openslide.OpenSlide``: a 448 px square slide with tissue in its top-left tile.

    >>> from PIL import Image
    >>> class Slide:
    ...     level_count, level_dimensions, level_downsamples, dimensions = 1, [(448, 448)], [1.0], (448, 448)
    ...     def get_thumbnail(self, size):
    ...         rgb = np.full((448, 448, 3), 245, np.uint8)
    ...         rgb[:224, :224] = (180, 90, 160)
    ...         image = Image.fromarray(rgb)
    ...         image.thumbnail(size)
    ...         return image
    >>> tile_grid(Slide()).tolist()
    [[0, 0]]
    >>> tile_grid(Slide(), min_tissue=0).tolist()
    [[0, 0], [224, 0], [0, 224], [224, 224]]
    >>> coords, fraction = tile_grid(Slide(), return_fraction=True)
    >>> fraction.round(3).tolist()
    [0.766]
    """
    check_param("tile_grid", "tile_size", tile_size, kind="int", low=1)
    check_param("tile_grid", "min_tissue", min_tissue, kind="float", low=0, high=1)
    if not 0 <= level < slide.level_count:
        raise ValueError(
            f"The 'level' parameter of tile_grid must be an int in the range [0, {slide.level_count - 1}] for "
            f"{slide!r}. Got {level!r} instead."
        )
    width, height = slide.level_dimensions[level]
    downsample = float(slide.level_downsamples[level])
    xs = np.arange(0, width - tile_size + 1, tile_size, dtype=np.int64)
    ys = np.arange(0, height - tile_size + 1, tile_size, dtype=np.int64)
    if xs.size == 0 or ys.size == 0:
        empty = np.empty((0, 2), dtype=np.int64)
        return (empty, np.empty(0)) if return_fraction else empty
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    # Level-0 footprint of each tile.
    x0 = np.round(grid_x.ravel() * downsample).astype(np.int64)
    y0 = np.round(grid_y.ravel() * downsample).astype(np.int64)
    if min_tissue == 0 and not return_fraction:
        return np.column_stack([x0, y0])
    footprint = tile_size * downsample
    full_w, full_h = slide.dimensions
    side = min(_MAX_THUMB_SIDE, max(1, math.ceil(max(full_w, full_h) * _THUMB_PX_PER_TILE / footprint)))
    thumb = np.asarray(slide.get_thumbnail((side, side)).convert("RGB"))
    mask = tissue_mask(thumb)
    scale_x = mask.shape[1] / full_w
    scale_y = mask.shape[0] / full_h
    fraction = _box_means(mask, x0 * scale_x, y0 * scale_y, (x0 + footprint) * scale_x, (y0 + footprint) * scale_y)
    keep = fraction >= min_tissue
    coords = np.column_stack([x0[keep], y0[keep]])
    return (coords, fraction[keep]) if return_fraction else coords


def _box_means(mask: np.ndarray, left, top, right, bottom) -> np.ndarray:
    """Mean of ``mask`` over boxes given in (fractional) mask pixels, via a summed-area table."""
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.float64)
    table[1:, 1:] = np.cumsum(np.cumsum(mask, axis=0, dtype=np.float64), axis=1)
    c0 = np.clip(np.floor(left).astype(np.int64), 0, mask.shape[1] - 1)
    r0 = np.clip(np.floor(top).astype(np.int64), 0, mask.shape[0] - 1)
    c1 = np.clip(np.ceil(right).astype(np.int64), c0 + 1, mask.shape[1])
    r1 = np.clip(np.ceil(bottom).astype(np.int64), r0 + 1, mask.shape[0])
    total = table[r1, c1] - table[r0, c1] - table[r1, c0] + table[r0, c0]
    return total / ((r1 - r0) * (c1 - c0))
