"""QC thumbnail of a slide: its tiles coloured by predicted tissue class, the pooled (kept) tiles outlined.

:func:`write_qc_thumbnail` reads a per-slide patch file (:mod:`~multisurv.features.wsi.patch_store`) and the
slide's thumbnail and writes a PNG next to the patch file (``<patient>.qc.png``); extraction calls
:func:`write_qc_image` with the tiles it holds in memory instead (coordinates, pooled flags, predicted classes:
a few bytes per tile). With a tissue classifier each
tile is filled with the colour of its arg-max class; without one every encoded tile gets one colour. Tiles that
went into the slide vector (``keep``) get a black outline, and a legend strip below the image gives each class
with its tile count.

Drawn with PIL (already needed by OpenSlide) rather than :mod:`multisurv.plotting`: the features layer does
not import from plotting, and a raster overlay at thumbnail resolution needs no axes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from multisurv._atomic import write_atomic

__all__ = ["write_qc_thumbnail", "write_qc_image", "class_colours", "qc_path"]

#: ColorBrewer Set1 (Brewer 2003): saturated colours that stand out against H&E pink and purple.
_SET1 = ((228, 26, 28), (55, 126, 184), (77, 175, 74), (152, 78, 163), (255, 127, 0), (255, 255, 51),
         (166, 86, 40), (247, 129, 191), (153, 153, 153))
#: Colour of tiles when there is no classifier.
TISSUE_COLOUR = (55, 126, 184)


def class_colours(classes: Sequence[str], tumour_class: str | None = None) -> dict[str, tuple[int, int, int]]:
    """One RGB colour per class: the tumour class red, the others the next Set1 colours in order.

    Parameters
    ----------
    classes : sequence of str
        Class names, in the classifier's order.
    tumour_class : str, optional
        The class drawn in red; None gives every class a non-red colour.

    Returns
    -------
    dict of str to (int, int, int)
        Class -> RGB, in the order of ``classes``. ColorBrewer Set1 colours, cycled past eight non-tumour classes.

    Examples
    --------
    >>> class_colours(["stroma", "tumour"], "tumour")
    {'stroma': (55, 126, 184), 'tumour': (228, 26, 28)}
    """
    others = iter(_SET1[1:] * (1 + len(classes) // (len(_SET1) - 1)))
    return {c: _SET1[0] if c == tumour_class else next(others) for c in classes}


def qc_path(patch_file: str | os.PathLike) -> Path:
    """Where the QC thumbnail of a patch file goes: ``<folder>/<stem>.qc.png``.

    Parameters
    ----------
    patch_file : str or Path
        A per-slide patch file (``<patient>.h5``).

    Returns
    -------
    Path

    Examples
    --------
    >>> qc_path("features/wsi/P1.h5").as_posix()
    'features/wsi/P1.qc.png'
    """
    patch_file = Path(patch_file)
    return patch_file.with_name(patch_file.stem + ".qc.png")


def write_qc_thumbnail(patch_file: str | os.PathLike, out: str | os.PathLike | None = None, *,
                       slide: str | os.PathLike | None = None, max_size: int = 1024, alpha: float = 0.45) -> Path:
    """Write a PNG of the slide thumbnail with every encoded tile coloured by its predicted class.

    Parameters
    ----------
    patch_file : str or Path
        Per-slide HDF5 written by extraction (coordinates, keep flags, class probabilities, tiling attributes).
    out : str or Path, optional
        PNG to write; default :func:`qc_path` of ``patch_file`` (next to it).
    slide : str or Path, optional
        The slide; default the path recorded in the patch file.
    max_size : int, default=1024
        Longest side of the thumbnail in pixels.
    alpha : float, default=0.45
        Opacity of the tile colours.

    Returns
    -------
    Path
        The PNG written (atomically).

    Raises
    ------
    FileNotFoundError
        If the slide recorded in the patch file has moved (pass ``slide``).

    Examples
    --------
    >>> write_qc_thumbnail("features/wsi/P1.h5")  # doctest: +SKIP
    PosixPath('features/wsi/P1.qc.png')

    A patch file whose slide has moved:

    >>> import tempfile
    >>> from multisurv.features.wsi.patch_store import PatchWriter
    >>> path = Path(tempfile.mkdtemp()) / "P1.h5"
    >>> with PatchWriter(path, 1, 2, coords=[[0, 0]], tissue=[1.0], attrs={"slide": "moved.svs"}) as writer:
    ...     writer.write(np.array([0]), [[0.0, 1.0]], keep=[True])
    >>> try:
    ...     write_qc_thumbnail(path)
    ... except FileNotFoundError as exc:
    ...     print(str(exc)[-59:])
    'moved.svs') does not exist; pass slide=<its current path>.
    """
    from multisurv.features.wsi.patch_store import read_patches

    table = read_patches(patch_file, features=False)
    slide_path = os.fspath(slide) if slide is not None else table.attrs.get("slide")
    if slide_path is None or not os.path.exists(slide_path):
        raise FileNotFoundError(f"The slide of patch file {os.fspath(patch_file)!r} ({slide_path!r}) does not exist; "
                                "pass slide=<its current path>.")
    footprint = float(table.attrs.get("footprint", table.attrs.get("read_size", 224)))
    predicted = None
    if table.probabilities is not None and table.classes:
        predicted = table.probabilities.argmax(axis=1)
    return write_qc_image(out if out is not None else qc_path(patch_file), slide_path, table.coords, footprint,
                          keep=table.keep, predicted=predicted, classes=table.classes or None,
                          tumour_class=table.attrs.get("tumour_class"), max_size=max_size, alpha=alpha)


def write_qc_image(out: str | os.PathLike, slide: str | os.PathLike, coords: np.ndarray, footprint: float, *,
                   keep: np.ndarray, predicted: np.ndarray | None = None, classes: Sequence[str] | None = None,
                   tumour_class: str | None = None, max_size: int = 1024, alpha: float = 0.45) -> Path:
    """Draw the QC thumbnail from tiles held in memory (what extraction calls; no patch file is re-read).

    Parameters
    ----------
    out : str or Path
        PNG to write (atomically).
    slide : str or Path
        The slide whose thumbnail is drawn on (opened with
        :func:`~multisurv.features.wsi.reader.open_slide`).
    coords : ndarray of shape (n_tiles, 2)
        Level-0 top-left corners.
    footprint : float
        Tile side in level-0 pixels.
    keep : ndarray of bool, shape (n_tiles,)
        Tiles pooled into the slide vector (outlined).
    predicted : ndarray of int, shape (n_tiles,), optional
        Index into ``classes`` of each tile's predicted class; None colours every tile alike.
    classes : sequence of str, optional
        Class names that ``predicted`` indexes.
    tumour_class : str, optional
        Drawn in red.
    max_size : int, default=1024
        Longest side of the thumbnail in pixels.
    alpha : float, default=0.45
        Opacity of the tile colours.

    Returns
    -------
    Path
        ``out`` (written atomically): the thumbnail with a legend strip below it.

    Examples
    --------
    >>> write_qc_image("P1.qc.png", "slides/P1.svs", np.array([[0, 0], [224, 0]]), 224.0,
    ...                keep=np.array([True, False]), predicted=np.array([1, 0]), classes=["stroma", "tumour"],
    ...                tumour_class="tumour")  # doctest: +SKIP
    PosixPath('P1.qc.png')
    """
    from PIL import Image, ImageDraw

    from multisurv.features.wsi.reader import open_slide

    coords = np.asarray(coords).reshape(-1, 2)
    keep = np.asarray(keep, dtype=bool).reshape(-1)
    with open_slide(slide) as handle:
        width, height = handle.dimensions
        thumb = handle.get_thumbnail((max_size, max_size)).convert("RGB")
    sx, sy = thumb.width / width, thumb.height / height

    if predicted is not None and classes:
        colours = class_colours(list(classes), tumour_class if tumour_class in classes else None)
        names = np.asarray(list(classes), dtype=object)[np.asarray(predicted, dtype=int)]
    else:
        colours = {"tissue": TISSUE_COLOUR}
        names = np.full(len(coords), "tissue", dtype=object)

    fill = Image.new("RGBA", thumb.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(fill)
    boxes = []
    for (x, y), name in zip(coords, names):
        box = (round(x * sx), round(y * sy), round((x + footprint) * sx) - 1, round((y + footprint) * sy) - 1)
        draw.rectangle(box, fill=(*colours[name], round(255 * alpha)))
        boxes.append(box)
    image = Image.alpha_composite(thumb.convert("RGBA"), fill).convert("RGB")
    draw = ImageDraw.Draw(image)
    for box, kept in zip(boxes, keep):
        if kept:
            draw.rectangle(box, outline=(0, 0, 0), width=1)

    counts = {name: int(np.sum(names == name)) for name in colours}
    row = 16
    legend = Image.new("RGB", (image.width, row * (len(colours) + 1) + 4), (255, 255, 255))
    ld = ImageDraw.Draw(legend)
    for i, (name, colour) in enumerate(colours.items()):
        top = 2 + i * row
        ld.rectangle((4, top + 2, 16, top + 13), fill=colour, outline=(0, 0, 0))
        ld.text((22, top + 1), f"{name}: {counts[name]} tiles", fill=(0, 0, 0))
    ld.text((4, 2 + len(colours) * row + 1), f"outlined: {int(keep.sum())} of {len(keep)} tiles pooled",
            fill=(0, 0, 0))
    sheet = Image.new("RGB", (image.width, image.height + legend.height), (255, 255, 255))
    sheet.paste(image, (0, 0))
    sheet.paste(legend, (0, image.height))
    return write_atomic(out, lambda p: sheet.save(p, format="PNG"))
