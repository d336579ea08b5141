"""QuPath annotations -> a labelled patch dataset for the tissue classifier.

QuPath (0.2 and later) exports annotations as GeoJSON: a ``FeatureCollection`` (or a bare list) of ``Feature``
objects whose ``geometry`` is a ``Polygon`` or ``MultiPolygon`` in level-0 pixel coordinates and whose
``properties.classification.name`` is the class (older exports: ``properties.classification`` a string, or
``properties.name``). :func:`read_qupath_geojson` reads them; :func:`label_tiles` gives each tile of a grid
the class covering at least ``min_overlap`` of it (sampled on a regular grid of points inside the tile);
:func:`make_patch_dataset` does both for a list of (slide, annotations) pairs.

Point-in-polygon tests use :class:`matplotlib.path.Path` (matplotlib is a core dependency; no shapely needed).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from multisurv._validation import check_param
from multisurv.exceptions import ExtractionError

__all__ = ["Annotation", "read_qupath_geojson", "label_tiles", "make_patch_dataset"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Annotation:
    """One classified polygon: ``exterior`` ring and optional ``holes``, (k, 2) arrays of level-0 ``(x, y)``.

    Made by :func:`read_qupath_geojson`; frozen, compared by identity.

    Parameters
    ----------
    name : str
        The class (after ``class_map``), e.g. ``"tumour"``.
    exterior : ndarray of shape (k, 2)
        The outer ring's vertices, level-0 ``(x, y)`` pixels.
    holes : list of ndarray of shape (m, 2), default=[]
        Inner rings cut out of the polygon.

    Examples
    --------
    >>> square = Annotation("tumour", np.array([[0, 0], [100, 0], [100, 100], [0, 100]], float),
    ...                     holes=[np.array([[40, 40], [60, 40], [60, 60], [40, 60]], float)])
    >>> square.contains(np.array([[10, 10], [50, 50], [150, 50]])).tolist()
    [True, False, False]
    >>> [float(v) for v in square.bounds]
    [0.0, 0.0, 100.0, 100.0]
    """

    name: str
    exterior: np.ndarray
    holes: list[np.ndarray] = field(default_factory=list)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean mask of the (n, 2) ``points`` inside the polygon (and outside its holes).

        Parameters
        ----------
        points : ndarray of shape (n, 2)
            Level-0 ``(x, y)`` positions.

        Returns
        -------
        ndarray of bool, shape (n,)
            True inside the exterior ring and outside every hole (matplotlib's ``Path.contains_points``; points
            exactly on an edge may fall either way).

        Examples
        --------
        >>> triangle = Annotation("stroma", np.array([[0, 0], [10, 0], [0, 10]], float))
        >>> triangle.contains(np.array([[1, 1], [9, 9]])).tolist()
        [True, False]
        """
        from matplotlib.path import Path

        inside = Path(self.exterior).contains_points(points)
        for hole in self.holes:
            inside &= ~Path(hole).contains_points(points)
        return inside

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the exterior ring, level-0 pixels.

        Returns
        -------
        tuple of float
            NumPy floats (``numpy.float64`` for a float ring).

        Examples
        --------
        >>> [float(v) for v in Annotation("tumour", np.array([[5, 2], [30, 8], [12, 40]], float)).bounds]
        [5.0, 2.0, 30.0, 40.0]
        """
        return (*self.exterior.min(axis=0), *self.exterior.max(axis=0))


def _class_name(props: Mapping[str, Any]) -> str | None:
    cls = props.get("classification")
    if isinstance(cls, Mapping):
        cls = cls.get("name")
    if cls is None:
        cls = props.get("name") if props.get("objectType", "annotation") == "annotation" else None
    return None if cls in (None, "") else str(cls)


def read_qupath_geojson(path: str | os.PathLike, *, class_map: Mapping[str, str] | None = None
                        ) -> list[Annotation]:
    """Read the classified polygons of a QuPath GeoJSON export.

    Parameters
    ----------
    path : str or Path
    class_map : mapping, optional
        Rename classes (e.g. ``{"Tumor": "tumour"}``); a class mapped to ``""`` is dropped.

    Returns
    -------
    list of Annotation
        One per polygon (a MultiPolygon gives several). Features without a class are skipped (logged).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ExtractionError
        If the file is not GeoJSON, or a geometry is malformed (the message names the file and the feature).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.geojson"
    >>> _ = p.write_text('[{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": '
    ...                  '[[[0, 0], [10, 0], [10, 10], [0, 0]]]}, "properties": {"classification": {"name": "Tumor"}}}]')
    >>> [(a.name, a.exterior.shape) for a in read_qupath_geojson(p, class_map={"Tumor": "tumour"})]
    [('tumour', (4, 2))]
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The annotation file {path!r} does not exist. Export the annotations from QuPath "
                                "(File > Export objects as GeoJSON) and pass that file.")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ExtractionError(f"Cannot read the annotation file {path!r} as GeoJSON ({exc}). Export it from QuPath "
                              "with File > Export objects as GeoJSON.") from exc
    if isinstance(data, Mapping) and data.get("type") == "FeatureCollection":
        features = data.get("features") or []
    elif isinstance(data, Mapping) and data.get("type") == "Feature":
        features = [data]
    elif isinstance(data, list):
        features = data
    else:
        raise ExtractionError(f"The annotation file {path!r} holds neither a GeoJSON FeatureCollection, a Feature nor "
                              "a list of Features. Export it from QuPath with File > Export objects as GeoJSON.")
    out: list[Annotation] = []
    n_unclassified = 0
    for i, feature in enumerate(features):
        props = (feature or {}).get("properties") or {}
        name = _class_name(props)
        if name is not None and class_map is not None:
            name = class_map.get(name, name) or None
        if name is None:
            n_unclassified += 1
            continue
        geometry = (feature or {}).get("geometry") or {}
        kind = geometry.get("type")
        coords = geometry.get("coordinates")
        polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else None
        if polygons is None:
            logger.info("%s: feature %d (%s) is a %s, not a polygon; skipped.", path, i, name, kind)
            continue
        for rings in polygons:
            try:
                arrays = [np.asarray(ring, dtype=float)[:, :2] for ring in rings]
            except (TypeError, ValueError, IndexError) as exc:
                raise ExtractionError(f"Feature {i} ({name!r}) of {path!r} has malformed polygon coordinates ({exc}); "
                                      "expected [[[x, y], ...], ...]. Re-export the annotations.") from exc
            if not arrays or len(arrays[0]) < 3:
                raise ExtractionError(f"Feature {i} ({name!r}) of {path!r} has a polygon with fewer than 3 points. "
                                      "Delete or redraw that annotation.")
            out.append(Annotation(name, arrays[0], arrays[1:]))
    if n_unclassified:
        logger.info("%s: %d unclassified annotation(s) skipped.", path, n_unclassified)
    return out


def label_tiles(coords: np.ndarray, footprint: float, annotations: Sequence[Annotation], *,
                min_overlap: float = 0.5, samples: int = 8) -> np.ndarray:
    """The class of each tile: the annotation class covering the largest share of it, if at least ``min_overlap``.

    Parameters
    ----------
    coords : ndarray of shape (n_tiles, 2)
        Level-0 top-left corners.
    footprint : float
        Tile side in level-0 pixels.
    annotations : sequence of Annotation
    min_overlap : float, default=0.5
        Share of the tile (estimated on ``samples`` x ``samples`` points at the centres of a regular grid of
        sub-squares) that the class must cover.
    samples : int, default=8

    Returns
    -------
    ndarray of object, shape (n_tiles,)
        Class names; None for tiles not (enough) covered by any annotation.

    Examples
    --------
    >>> square = Annotation("tumour", np.array([[0, 0], [300, 0], [300, 300], [0, 300]], dtype=float))
    >>> label_tiles(np.array([[0, 0], [224, 0], [448, 0]]), 224, [square]).tolist()
    ['tumour', None, None]
    """
    check_param("label_tiles", "min_overlap", min_overlap, kind="float", low=0, high=1)
    coords = np.asarray(coords, dtype=float).reshape(-1, 2)
    offsets = (np.arange(samples) + 0.5) / samples * footprint
    oy, ox = np.meshgrid(offsets, offsets, indexing="ij")
    grid = np.column_stack([ox.ravel(), oy.ravel()])
    names = sorted({a.name for a in annotations})
    cover = np.zeros((len(coords), len(names)))
    for ann in annotations:
        xmin, ymin, xmax, ymax = ann.bounds
        near = np.flatnonzero((coords[:, 0] < xmax) & (coords[:, 0] + footprint > xmin)
                              & (coords[:, 1] < ymax) & (coords[:, 1] + footprint > ymin))
        if near.size == 0:
            continue
        points = (coords[near, None, :] + grid[None, :, :]).reshape(-1, 2)
        inside = ann.contains(points).reshape(near.size, -1).mean(axis=1)
        j = names.index(ann.name)
        cover[near, j] = np.minimum(1.0, cover[near, j] + inside)  # several polygons of one class add up
    labels = np.full(len(coords), None, dtype=object)
    if names:
        best = cover.argmax(axis=1)
        ok = cover[np.arange(len(coords)), best] >= max(min_overlap, 1e-12)
        labels[ok] = np.asarray(names, dtype=object)[best[ok]]
    return labels


def make_patch_dataset(pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike]], *, tile_size: int = 224,
                       mpp: float | None = None, magnification: float | None = None, level: int = 0,
                       min_overlap: float = 0.5, class_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Labelled patches of annotated slides: every grid tile (edge tiles dropped) covered by an annotation.

    Parameters
    ----------
    pairs : sequence of (slide path, GeoJSON path)
        Each slide with its QuPath annotation export.
    tile_size : int, default=224
        Patch side in pixels after resizing.
    mpp, magnification : float, optional
        Target resolution (microns per pixel, or objective power); by default tiles are read at ``level``.
    level : int, default=0
        Pyramid level, when neither ``mpp`` nor ``magnification`` is given. Tiling as in
        :func:`~multisurv.features.wsi.reader.plan_tiles`.
    min_overlap : float, default=0.5
        See :func:`label_tiles`.
    class_map : mapping, optional
        See :func:`read_qupath_geojson`.

    Returns
    -------
    pandas.DataFrame
        One row per labelled patch: ``slide`` (absolute path), ``x``, ``y`` (level-0), ``label``, ``level``,
        ``read_size``, ``tile_size``. Ready for
        :func:`~multisurv.features.wsi.classifier.train_tile_classifier`.

    Raises
    ------
    ValueError
        If no patch of any slide is labelled (the message lists the slides).

    Examples
    --------
    >>> patches = make_patch_dataset([("slides/P1.svs", "annotations/P1.geojson")], mpp=0.5,
    ...                              class_map={"Tumor": "tumour"})  # doctest: +SKIP
    >>> patches["label"].value_counts()  # doctest: +SKIP
    """
    from multisurv.features.wsi.reader import open_slide, plan_tiles
    from multisurv.features.wsi.tissue import tile_grid

    frames = []
    for slide_path, geojson in pairs:
        annotations = read_qupath_geojson(geojson, class_map=class_map)
        with open_slide(slide_path) as slide:
            plan = plan_tiles(slide, tile_size, mpp=mpp, magnification=magnification, level=level)
            coords = tile_grid(slide, plan.read_size, plan.level, min_tissue=0)
        labels = label_tiles(coords, plan.footprint, annotations, min_overlap=min_overlap)
        keep = np.array([lab is not None for lab in labels], dtype=bool)
        logger.info("%s: %d of %d tiles labelled by %d annotation(s).", slide_path, int(keep.sum()), len(coords),
                    len(annotations))
        frames.append(pd.DataFrame({"slide": os.path.abspath(slide_path), "x": coords[keep, 0],
                                    "y": coords[keep, 1], "label": labels[keep].astype(str), "level": plan.level,
                                    "read_size": plan.read_size, "tile_size": plan.tile_size}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if table.empty:
        raise ValueError("No patch is covered by an annotation in: " + ", ".join(repr(os.fspath(s)) for s, _ in pairs)
                         + ". Check that the GeoJSON files belong to these slides (level-0 pixel coordinates), or "
                           "lower 'min_overlap'.")
    return table
