"""Whole-slide image reading through OpenSlide: open with a clear error, stream tiles one at a time.

OpenSlide is imported only when a slide is opened (``pip install "multisurv[wsi]"``).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np

from multisurv._optional import require
from multisurv.exceptions import MultisurvWarning
from multisurv.features.batch import case_error

if TYPE_CHECKING:  # pragma: no cover
    import openslide

__all__ = ["open_slide", "iter_tiles", "rgba_to_rgb", "slide_errors", "slide_mpp", "slide_magnification",
           "TilePlan", "plan_tiles"]


def slide_errors() -> tuple[type[BaseException], ...]:
    """The exception types OpenSlide raises for unreadable slides (to catch them without importing openslide).

    Returns
    -------
    tuple of type
        ``(openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError)``.

    Raises
    ------
    ImportError
        When OpenSlide is not installed (``pip install "multisurv[wsi]"``).

    Examples
    --------
    >>> [e.__name__ for e in slide_errors()]  # doctest: +SKIP
    ['OpenSlideError', 'OpenSlideUnsupportedFormatError']
    """
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
               level: int = 0, out_size: int | None = None) -> Iterator[np.ndarray]:
    """Read tiles one at a time (memory does not grow with the slide or the number of tiles).

    Parameters
    ----------
    slide : openslide.OpenSlide
        An open slide (:func:`open_slide`).
    coords : iterable of (x, y)
        Top-left corners in level-0 pixel coordinates (as returned by
        :func:`multisurv.features.wsi.tissue.tile_grid`).
    tile_size : int
        Tile width and height in pixels at ``level``.
    level : int, default=0
        Pyramid level to read from.
    out_size : int, optional
        Resize each tile to ``out_size`` x ``out_size`` pixels (bilinear with antialiasing, PIL) when it differs
        from ``tile_size``; see :func:`plan_tiles`.

    Yields
    ------
    ndarray of shape (out_size or tile_size, same, 3), uint8
        RGB, with transparent (unscanned) pixels shown white.

    Raises
    ------
    ExtractionError
        If OpenSlide fails to read a tile; the message names the slide and the tile.

    Examples
    --------
    >>> with open_slide("slides/P1.svs") as slide:  # doctest: +SKIP
    ...     tiles = list(iter_tiles(slide, [(0, 0), (224, 0)], 224))
    >>> tiles[0].shape, tiles[0].dtype  # doctest: +SKIP
    ((224, 224, 3), dtype('uint8'))
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
        if out_size is not None and int(out_size) != int(tile_size):
            region = region.resize((int(out_size), int(out_size)), resample=_BILINEAR)
        yield rgba_to_rgb(np.asarray(region))


#: PIL's bilinear filter (antialiased when shrinking: its support widens with the scale factor).
_BILINEAR = 2


def _positive_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def slide_mpp(slide: "openslide.OpenSlide") -> float | None:
    """Microns per pixel at level 0 (mean of x and y), from ``openslide.mpp-x/-y``; None when not recorded.

    Falls back on the TIFF resolution tags (``tiff.XResolution`` with ``tiff.ResolutionUnit`` centimeter or
    inch), which generic tiled TIFFs carry instead of the vendor property.

    Parameters
    ----------
    slide : openslide.OpenSlide
        An open slide (only its ``properties`` are read).

    Returns
    -------
    float or None
        Rounded to 6 decimals.

    Examples
    --------
    >>> class S:
    ...     properties = {"openslide.mpp-x": "0.499", "openslide.mpp-y": "0.501"}
    >>> slide_mpp(S())
    0.5
    >>> S.properties = {"tiff.XResolution": "20000", "tiff.YResolution": "20000", "tiff.ResolutionUnit": "centimeter"}
    >>> slide_mpp(S())
    0.5
    >>> S.properties = {}
    >>> slide_mpp(S()) is None
    True
    """
    props = slide.properties
    x, y = _positive_float(props.get("openslide.mpp-x")), _positive_float(props.get("openslide.mpp-y"))
    if x is not None:
        return round((x + (y if y is not None else x)) / 2, 6)
    unit = str(props.get("tiff.ResolutionUnit", "")).lower()
    per_unit = {"centimeter": 1e4, "inch": 25400.0}.get(unit)
    res_x, res_y = _positive_float(props.get("tiff.XResolution")), _positive_float(props.get("tiff.YResolution"))
    if per_unit is None or res_x is None:
        return None
    return round((per_unit / res_x + per_unit / (res_y if res_y is not None else res_x)) / 2, 6)


slide_mpp_of = slide_mpp  # plan_tiles' parameter of the same name shadows the function there


def slide_magnification(slide: "openslide.OpenSlide") -> float | None:
    """Objective power of level 0 (``openslide.objective-power``, e.g. 20 or 40); None when not recorded.

    Parameters
    ----------
    slide : openslide.OpenSlide
        An open slide (only its ``properties`` are read).

    Returns
    -------
    float or None

    Examples
    --------
    >>> class S:
    ...     properties = {"openslide.objective-power": "20"}
    >>> slide_magnification(S())
    20.0
    """
    return _positive_float(slide.properties.get("openslide.objective-power"))


@dataclass(frozen=True)
class TilePlan:
    """How to cut a slide into tiles of a given size at a given resolution (made by :func:`plan_tiles`).

    Parameters
    ----------
    tile_size : int
        Side of the tiles handed to the model, in pixels.
    level : int
        Pyramid level read.
    read_size : int
        Side of the region read at ``level``; resized to ``tile_size`` when they differ.
    downsample : float
        Downsample of ``level`` relative to level 0.
    mpp : float or None
        Microns per pixel of the output tiles (None when the slide does not record it).
    magnification : float or None
        Equivalent objective power of the output tiles (None when the slide does not record it).

    Examples
    --------
    >>> plan = TilePlan(tile_size=224, level=1, read_size=224, downsample=4.0, mpp=1.0)
    >>> plan.footprint, plan.magnification
    (896.0, None)
    """

    tile_size: int
    level: int
    read_size: int
    downsample: float
    mpp: float | None = None
    magnification: float | None = None

    @property
    def footprint(self) -> float:
        """Side of one tile in level-0 pixels.

        Examples
        --------
        >>> TilePlan(tile_size=224, level=0, read_size=448, downsample=1.0).footprint
        448.0
        """
        return self.read_size * self.downsample

    def to_dict(self) -> dict[str, Any]:
        """The plan as a JSON-ready dict (recorded with each slide's features).

        Returns
        -------
        dict
            ``tile_size``, ``level``, ``read_size``, ``downsample``, ``mpp`` and ``magnification``.

        Examples
        --------
        >>> TilePlan(tile_size=224, level=0, read_size=448, downsample=1.0, mpp=0.5).to_dict()["mpp"]
        0.5
        """
        return {"tile_size": self.tile_size, "level": self.level, "read_size": self.read_size,
                "downsample": self.downsample, "mpp": self.mpp, "magnification": self.magnification}


def plan_tiles(slide: "openslide.OpenSlide", tile_size: int = 224, *, mpp: float | None = None,
               magnification: float | None = None, level: int = 0, slide_mpp: float | None = None) -> TilePlan:
    """Choose the pyramid level and read size that give ``tile_size`` px tiles at ``mpp`` or ``magnification``.

    Parameters
    ----------
    slide : openslide.OpenSlide
        An open slide (its properties, level count and downsamples are read).
    tile_size : int, default=224
        Side of the output tiles in pixels.
    mpp : float, optional
        Wanted microns per pixel of the output tiles (e.g. 0.5 for "20x"). Needs the slide's mpp.
    magnification : float, optional
        Wanted objective power (e.g. 20). Needs the slide's objective power (or, failing that, its mpp,
        taking 10 / mpp as the power, the usual 40x = 0.25 um/px convention).
    level : int, default=0
        Level to read when neither ``mpp`` nor ``magnification`` is given (tiles are then not resized).
    slide_mpp : float, optional
        Microns per pixel of level 0 as stated by the user, used when the slide's metadata do not record it
        (the metadata win when they do).

    Returns
    -------
    TilePlan

    Raises
    ------
    ValueError
        If both ``mpp`` and ``magnification`` are given, if one is not > 0, or the slide does not record what
        is needed to honour it (the message names the slide and the property).

    Warns
    -----
    MultisurvWarning
        When the requested resolution is finer than the scan (tiles are then upsampled from level 0).

    Notes
    -----
    The level read is the coarsest one whose downsample does not exceed the wanted downsample
    ``target_mpp / slide_mpp`` (so tiles are only ever shrunk, never enlarged, except as warned above); the
    region read at that level is ``round(tile_size * wanted / level_downsample)`` pixels, resized to
    ``tile_size``.

    Examples
    --------
    >>> class S:  # a stand-in for an OpenSlide handle: a 40x scan with three levels
    ...     properties = {"openslide.mpp-x": "0.25", "openslide.mpp-y": "0.25"}
    ...     level_count, level_downsamples = 3, (1.0, 4.0, 16.0)
    >>> plan_tiles(S(), 224, mpp=0.5)  # 20x tiles: a 448 px region of level 0, shrunk to 224
    TilePlan(tile_size=224, level=0, read_size=448, downsample=1.0, mpp=0.5, magnification=None)
    >>> plan_tiles(S(), 224, mpp=2.0).level
    1
    """
    if mpp is not None and magnification is not None:
        raise ValueError("Give either 'mpp' or 'magnification', not both.")
    base_mpp, base_mag = slide_mpp_of(slide), slide_magnification(slide)
    if base_mpp is None and slide_mpp is not None:
        if not _positive_float(slide_mpp):
            raise ValueError(f"The 'slide_mpp' parameter must be a float > 0 (microns per pixel of level 0). Got "
                             f"{slide_mpp!r} instead.")
        base_mpp = float(slide_mpp)
    if mpp is None and magnification is None:
        if not 0 <= level < slide.level_count:
            raise ValueError(f"The 'level' parameter must be an int in the range [0, {slide.level_count - 1}] for "
                             f"{slide!r}. Got {level!r} instead.")
        down = float(slide.level_downsamples[level])
        return TilePlan(int(tile_size), int(level), int(tile_size), down,
                        None if base_mpp is None else round(base_mpp * down, 6),
                        None if base_mag is None else round(base_mag / down, 6))
    if mpp is not None:
        if not (_positive_float(mpp)):
            raise ValueError(f"The 'mpp' parameter must be a float > 0 (microns per pixel). Got {mpp!r} instead.")
        if base_mpp is None:
            raise ValueError(f"Slide {slide!r} does not record its microns per pixel ('openslide.mpp-x' or TIFF "
                             "resolution tags), so tiles cannot be cut at a requested mpp. State the scan's "
                             "resolution (slide_mpp=..., on the command line --slide-mpp, e.g. 0.25 for a 40x "
                             "scan), pass a magnification or a level instead, or fix the slide's metadata.")
        wanted = float(mpp) / base_mpp
    else:
        if not (_positive_float(magnification)):
            raise ValueError(f"The 'magnification' parameter must be a float > 0 (objective power, e.g. 20). Got "
                             f"{magnification!r} instead.")
        if base_mag is None and base_mpp is not None:
            base_mag = 10.0 / base_mpp
        if base_mag is None:
            raise ValueError(f"Slide {slide!r} records neither its objective power ('openslide.objective-power') nor "
                             "its microns per pixel, so tiles cannot be cut at a requested magnification. State "
                             "the scan's resolution (slide_mpp=..., on the command line --slide-mpp), pass a level "
                             "instead, or fix the slide's metadata.")
        wanted = base_mag / float(magnification)
    if wanted < 1 - 1e-3:
        warnings.warn(f"The requested resolution is finer than the scan of {slide!r} (downsample {wanted:.3g} < 1); "
                      "tiles are upsampled from level 0. Ask for a coarser mpp or a lower magnification.",
                      category=MultisurvWarning, stacklevel=2)
    downsamples = [float(d) for d in slide.level_downsamples]
    chosen = max((i for i, d in enumerate(downsamples) if d <= wanted * (1 + 1e-3)), key=lambda i: downsamples[i],
                 default=0)
    read = max(1, int(round(tile_size * wanted / downsamples[chosen])))
    out_mpp = None if base_mpp is None else round(base_mpp * wanted, 6)
    out_mag = None if base_mag is None else round(base_mag / wanted, 6)
    return TilePlan(int(tile_size), chosen, read, downsamples[chosen], out_mpp, out_mag)
