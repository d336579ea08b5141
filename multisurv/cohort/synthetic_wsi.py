"""Synthetic H&E whole-slide images of a GIST-like tumour (used by :mod:`multisurv.cohort.synthetic`).

A slide is a small RGB image (1120 x 896 px at 0.5 um/px, level 0) written as a tiled, pyramidal,
deflate-compressed TIFF that OpenSlide opens as a generic tiled TIFF. It shows light-grey glass and one
irregular piece of tissue, stained in optical-density space (Beer-Lambert) with a haematoxylin and an eosin
stain vector: pink stroma and cytoplasm, and purple-blue spindle-cell nuclei. How the tumour looks depends
on the patient's histological aggressiveness ``u_path``:

- higher ``u_path`` -> denser, larger, more pleomorphic and darker (hyperchromatic) nuclei;
- higher ``u_path`` -> more disordered (less aligned) spindle-cell fascicles;
- high ``u_path`` -> patches of necrosis (pale eosin, scattered nuclear debris);
- the mitotic count adds a few mitotic figures (small, very dark clumps).

Per-slide staining and section-thickness variation add nuisance. The external centre's lab stains with a
different haematoxylin and eosin hue and strength (:data:`STAINS`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from multisurv._atomic import write_atomic
from multisurv._optional import require

__all__ = ["StainProfile", "STAINS", "SLIDE_SHAPE", "MPP", "render_slide", "write_slide", "TISSUE_CLASSES",
           "render_tissue_classes", "write_annotated_slide"]

#: Level-0 size of every slide, (height, width) in pixels: 4 x 5 tiles of 224 px.
SLIDE_SHAPE = (896, 1120)
#: Microns per pixel at level 0.
MPP = 0.5
#: Downsample factor of the second pyramid level.
LEVEL1_DOWNSAMPLE = 4
#: Optical density of the bare glass (RGB about 235).
GLASS_OD = -np.log(235.0 / 255.0)
#: Largest nucleus semi-axis drawn, in pixels (sets the size of the patch each nucleus is drawn in).
_PATCH_HALF = 14
#: Standard deviation of the scanner noise added to every pixel (RGB units).
_SCANNER_NOISE = 1.0


def _unit(v) -> tuple[float, float, float]:
    v = np.asarray(v, dtype=float)
    return tuple(float(x) for x in np.round(v / np.linalg.norm(v), 4))


@dataclass(frozen=True)
class StainProfile:
    """The staining of one centre's lab.

    Parameters
    ----------
    haematoxylin, eosin : tuple of float
        Unit optical-density vectors (R, G, B) of the two stains.
    haematoxylin_strength, eosin_strength : float
        Multipliers of the stain amounts (1 = the development lab).

    Examples
    --------
    >>> lab = StainProfile(haematoxylin=(0.65, 0.704, 0.286), eosin=(0.0721, 0.9918, 0.1052),
    ...                    haematoxylin_strength=1.0, eosin_strength=1.0)
    >>> lab == STAINS["development"]
    True
    """

    haematoxylin: tuple[float, float, float]
    eosin: tuple[float, float, float]
    haematoxylin_strength: float
    eosin_strength: float

    def to_dict(self) -> dict:
        """The settings as a JSON-ready dict.

        Returns
        -------
        dict
            ``haematoxylin`` and ``eosin`` (lists), ``haematoxylin_strength`` and ``eosin_strength``.

        Examples
        --------
        >>> STAINS["development"].to_dict()["eosin"]
        [0.0721, 0.9918, 0.1052]
        """
        return {"haematoxylin": list(self.haematoxylin), "eosin": list(self.eosin),
                "haematoxylin_strength": self.haematoxylin_strength, "eosin_strength": self.eosin_strength}


#: Development lab: the classic Ruifrok-Johnston H&E vectors. External lab: a bluer, stronger haematoxylin and
#: a weaker, more purple eosin -- the shift a different lab and scanner give.
STAINS = {
    "development": StainProfile(haematoxylin=_unit([0.650, 0.704, 0.286]), eosin=_unit([0.072, 0.990, 0.105]),
                                haematoxylin_strength=1.0, eosin_strength=1.0),
    "external": StainProfile(haematoxylin=_unit([0.700, 0.660, 0.270]), eosin=_unit([0.150, 0.970, 0.180]),
                             haematoxylin_strength=1.12, eosin_strength=0.88),
}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@lru_cache(maxsize=4)
def _interpolation(n_out: int, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights of linear interpolation (with wrap-around) from n_out/factor to n_out samples."""
    n_in = n_out // factor
    position = (np.arange(n_out) + 0.5) / factor - 0.5
    low = np.floor(position).astype(int)
    weight = (position - low).astype(np.float32)
    return low % n_in, (low + 1) % n_in, weight


def _smooth_field(rng: np.random.Generator, shape, sigma: float, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random field (mean 0, sd 1), drawn at 1/``factor`` resolution and upsampled linearly.

    ``sigma`` is the smoothing scale in full-resolution pixels. Returns the full- and the low-resolution field.
    Plain indexing, not a matrix product, so the result does not depend on the BLAS library or its threads.
    """
    low = ndimage.gaussian_filter(rng.standard_normal((shape[0] // factor, shape[1] // factor)), sigma / factor,
                                  mode="wrap")
    low = ((low - low.mean()) / (low.std() + 1e-12)).astype(np.float32)
    i0, i1, wy = _interpolation(shape[0], factor)
    rows = low[i0] * (1.0 - wy)[:, None] + low[i1] * wy[:, None]
    j0, j1, wx = _interpolation(shape[1], factor)
    return rows[:, j0] * (1.0 - wx) + rows[:, j1] * wx, low


def _fine_field(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """A random field at full resolution (mean 0, sd 1), for fine texture."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-12)


def _draw_nuclei(shape, cy, cx, semi_a, semi_b, angle, darkness, rng: np.random.Generator) -> np.ndarray:
    """Haematoxylin amount of all nuclei, each a soft ellipse with granular chromatin; overlaps keep the max."""
    out = np.zeros(shape[0] * shape[1])
    if cy.size == 0:
        return out.reshape(shape)
    half = min(_PATCH_HALF, int(np.ceil(semi_a.max())) + 1)
    offsets = np.arange(-half, half + 1)
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    dy, dx = dy.ravel()[None, :], dx.ravel()[None, :]
    iy = np.rint(cy).astype(int)[:, None] + dy
    ix = np.rint(cx).astype(int)[:, None] + dx
    ry = (iy - cy[:, None]).astype(np.float32)
    rx = (ix - cx[:, None]).astype(np.float32)
    cos, sin = np.cos(angle).astype(np.float32)[:, None], np.sin(angle).astype(np.float32)[:, None]
    along = (rx * cos + ry * sin) / semi_a.astype(np.float32)[:, None]
    across = (ry * cos - rx * sin) / semi_b.astype(np.float32)[:, None]
    q = np.sqrt(along**2 + across**2)
    inside = (q < 1.0) & (iy >= 0) & (iy < shape[0]) & (ix >= 0) & (ix < shape[1])
    q = q[inside]
    chromatin = 0.75 + 0.5 * rng.random(q.size)
    value = np.broadcast_to(darkness[:, None], inside.shape)[inside] * np.clip(1.4 * (1.0 - q), 0.0, 1.0) ** 0.6
    np.maximum.at(out, (iy * shape[1] + ix)[inside], value * chromatin)
    return out.reshape(shape)


def render_slide(rng: np.random.Generator, *, u_path: float, mitotic_count: float, stain: StainProfile) -> np.ndarray:
    """Draw one H&E slide (level 0).

    Parameters
    ----------
    rng : numpy.random.Generator
        The patient's slide stream; the same stream gives the same slide.
    u_path : float
        Histological aggressiveness (standard normal in the cohort); see the module docstring.
    mitotic_count : float
        Mitoses per 5 mm^2; sets the expected number of mitotic figures drawn.
    stain : StainProfile
        The centre's staining.

    Returns
    -------
    numpy.ndarray of uint8, shape (896, 1120, 3)
        RGB level-0 image.

    Examples
    --------
    >>> rgb = render_slide(np.random.default_rng(0), u_path=0.0, mitotic_count=3.0, stain=STAINS["development"])
    >>> rgb.shape, rgb.dtype
    ((896, 1120, 3), dtype('uint8'))
    """
    shape = SLIDE_SHAPE
    h, w = shape
    f = 8  # smooth fields are drawn at 1/8 resolution

    # Tissue: an irregular piece in the middle of the glass covering 50-70 % of it.
    cy, cx = h / 2 + rng.uniform(-40, 40), w / 2 + rng.uniform(-60, 60)
    yy = ((np.arange(h) - cy) / (0.42 * h)).astype(np.float32)[:, None]
    xx = ((np.arange(w) - cx) / (0.45 * w)).astype(np.float32)[None, :]
    shape_field, shape_low = _smooth_field(rng, shape, 90.0, f)
    outline = 0.45 * shape_field - yy**2 - xx**2
    outline_low = 0.45 * shape_low - yy[f // 2::f] ** 2 - xx[:, f // 2::f] ** 2
    tissue = outline > np.quantile(outline_low, 1.0 - rng.uniform(0.5, 0.7))

    # Necrosis: a pale region inside the tissue, present more often and larger when u_path is high.
    necrosis_share = 0.35 * _sigmoid(2.5 * (u_path - 1.0)) * (rng.random() < _sigmoid(2.0 * (u_path - 0.5)))
    necrotic = np.zeros(shape, dtype=bool)
    if necrosis_share > 0.02:
        field, field_low = _smooth_field(rng, shape, 60.0, f)
        tissue_low = tissue[f // 2::f, f // 2::f]
        if tissue_low.any():
            necrotic = tissue & (field > np.quantile(field_low[tissue_low], 1.0 - necrosis_share))

    # Nuclei on a jittered grid; density, size, pleomorphism, darkness and disorder grow with u_path.
    # Each feature follows u_path with its own slide-level scatter, as no single sign tells the whole story.
    scatter = rng.normal(0.0, 1.0, 4)
    spacing = 19.0 * np.exp(-0.14 * u_path + 0.05 * scatter[0])
    gy, gx = np.meshgrid(np.arange(spacing / 2, h, spacing), np.arange(spacing / 2, w, spacing), indexing="ij")
    ny = (gy + rng.uniform(-0.45, 0.45, gy.shape) * spacing).ravel()
    nx = (gx + rng.uniform(-0.45, 0.45, gx.shape) * spacing).ravel()
    iy, ix = np.clip(np.rint(ny).astype(int), 0, h - 1), np.clip(np.rint(nx).astype(int), 0, w - 1)
    keep = tissue[iy, ix] & ~necrotic[iy, ix] & (rng.random(ny.size) < 0.9)
    ny, nx, iy, ix = ny[keep], nx[keep], iy[keep], ix[keep]
    n = ny.size
    pleomorphism = 0.10 + 0.22 * _sigmoid(1.5 * u_path + 0.6 * scatter[1])
    length = 8.5 * np.exp(0.10 * u_path + pleomorphism * rng.standard_normal(n))
    aspect = np.clip(2.6 - 0.35 * _sigmoid(u_path) + 0.35 * rng.standard_normal(n), 1.2, 4.0)
    length = np.clip(length, 3.0, _PATCH_HALF - 1.0)
    width = np.clip(length / aspect, 2.0, None)
    flow = np.pi * _smooth_field(rng, shape, 150.0, f)[1]  # fascicle direction, read at 1/8 resolution
    disorder = 0.15 + 0.9 * _sigmoid(1.5 * (u_path - 0.3) + 0.6 * scatter[2])
    angle = flow[iy // f, ix // f] + disorder * rng.standard_normal(n)
    darkness = np.clip(0.95 + 0.18 * (u_path + 0.4 * scatter[3]) + 0.12 * rng.standard_normal(n), 0.35, None)

    # Mitotic figures (a slide shows ~0.15 mm^2 of tissue, so ~3 % of the count per 5 mm^2, scaled up for
    # visibility) and karyorrhectic debris in necrosis: small, very dark clumps.
    n_mitoses = rng.poisson(0.15 * max(float(mitotic_count), 0.0))
    n_debris = rng.poisson(necrotic.sum() / 600.0)
    extra = []
    for count, region in ((n_mitoses, tissue & ~necrotic), (n_debris, necrotic)):
        candidates = np.flatnonzero(region)
        if count and candidates.size:
            chosen = rng.choice(candidates, size=count)
            extra.append((chosen // w + 0.0, chosen % w + 0.0, rng.uniform(2.5, 4.0, count)))
    if extra:
        ey, ex, er = (np.concatenate(parts) for parts in zip(*extra))
        ny, nx = np.concatenate([ny, ey]), np.concatenate([nx, ex])
        length, width = np.concatenate([length, er]), np.concatenate([width, er * rng.uniform(0.6, 1.0, er.size)])
        angle = np.concatenate([angle, rng.uniform(0, np.pi, er.size)])
        darkness = np.concatenate([darkness, rng.uniform(1.4, 1.8, er.size)])
    haem = _draw_nuclei(shape, ny, nx, length, width, angle, darkness, rng)

    # Eosin: fibrillar stroma and cytoplasm, paler and smoother in necrosis; a light haematoxylin counterstain.
    section = rng.uniform(0.85, 1.15)  # section thickness: scales both stains
    fibres = _fine_field(rng, shape, 1.5)
    eosin = (0.42 + 0.06 * u_path) * (1.0 + 0.25 * fibres + 0.15 * _smooth_field(rng, shape, 40.0, f)[0])
    eosin = np.where(necrotic, 0.30 + 0.03 * fibres, eosin)
    soft_tissue = ndimage.gaussian_filter(tissue.astype(np.float32), 3.0)
    eosin = np.clip(eosin, 0.05, None) * soft_tissue
    haem = haem + 0.06 * soft_tissue

    h_amount = haem.astype(np.float32) * section * stain.haematoxylin_strength * rng.uniform(0.9, 1.1)
    e_amount = eosin.astype(np.float32) * section * stain.eosin_strength * rng.uniform(0.9, 1.1)
    od = (np.float32(GLASS_OD) + h_amount[..., None] * np.asarray(stain.haematoxylin, dtype=np.float32)
          + e_amount[..., None] * np.asarray(stain.eosin, dtype=np.float32))
    rgb = 255.0 * np.exp(-od) + _SCANNER_NOISE * rng.standard_normal((h, w, 1), dtype=np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def write_slide(rgb: np.ndarray, path: str | Path) -> None:
    """Write ``rgb`` as a pyramidal tiled TIFF (256 px tiles, deflate) that OpenSlide reads, atomically.

    Level 0 is the image, level 1 its ``LEVEL1_DOWNSAMPLE``-fold block mean. The resolution tags record
    :data:`MPP` microns per pixel; no date or software tag is written, so the file is reproducible byte for byte.

    Parameters
    ----------
    rgb : numpy.ndarray of uint8, shape (height, width, 3)
        Level-0 RGB image; height and width divisible by ``LEVEL1_DOWNSAMPLE``.
    path : str or Path
        Output file (``.tiff``).

    Raises
    ------
    ImportError
        When tifffile is not installed (``pip install "multisurv[wsi]"``).

    Examples
    --------
    >>> rgb = render_slide(np.random.default_rng(0), u_path=0.0, mitotic_count=3.0,
    ...                    stain=STAINS["development"])  # doctest: +SKIP
    >>> write_slide(rgb, "wsi/P001.tiff")  # doctest: +SKIP
    """
    tifffile = require("tifffile", extra="wsi")
    f = LEVEL1_DOWNSAMPLE
    h, w, _ = rgb.shape
    level1 = rgb.reshape(h // f, f, w // f, f, 3).mean(axis=(1, 3))
    level1 = np.clip(np.rint(level1), 0, 255).astype(np.uint8)
    per_cm = 1e4 / MPP

    def write(p: Path) -> None:
        options = dict(tile=(256, 256), compression="zlib", compressionargs={"level": 3}, photometric="rgb",
                       resolutionunit="CENTIMETER", software=False, metadata=None, maxworkers=1)
        with tifffile.TiffWriter(p) as tif:
            tif.write(rgb, subfiletype=0, resolution=(per_cm, per_cm), **options)
            tif.write(level1, subfiletype=1, resolution=(per_cm / f, per_cm / f), **options)

    write_atomic(path, write)


#: Tissue classes painted by :func:`render_tissue_classes`, as in the reference study's classifier (tumour,
#: stroma, mucosa, muscle, necrosis, background): nucleus spacing and length (px), aspect ratio, darkness, the
#: eosin amount and a diffuse haematoxylin background. Each class differs from the others in colour *and* texture.
TISSUE_CLASSES: dict[str, dict[str, float]] = {
    "tumour": dict(spacing=11.0, length=7.0, aspect=1.6, darkness=1.35, eosin=0.30, haem=0.10),
    "stroma": dict(spacing=28.0, length=10.0, aspect=4.5, darkness=0.75, eosin=0.55, haem=0.03),
    "mucosa": dict(spacing=14.0, length=5.0, aspect=1.2, darkness=1.00, eosin=0.20, haem=0.30),
    "muscle": dict(spacing=32.0, length=12.0, aspect=6.0, darkness=0.65, eosin=0.95, haem=0.02),
    "necrosis": dict(spacing=22.0, length=2.5, aspect=1.0, darkness=1.60, eosin=0.22, haem=0.05),
    "background": dict(spacing=0.0, length=0.0, aspect=1.0, darkness=0.0, eosin=0.0, haem=0.0),
}


def render_tissue_classes(rng: np.random.Generator, *, grid: tuple[int, int] = (4, 5), block: int = 224,
                          classes=tuple(TISSUE_CLASSES), stain: StainProfile | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Draw a slide made of square blocks of different tissue classes (for tissue-classifier tests).

    Parameters
    ----------
    rng : numpy.random.Generator
        The random stream (block order, nuclei, fibres, noise).
    grid : (int, int), default=(4, 5)
        Blocks per column and per row.
    block : int, default=224
        Block side in pixels (level 0).
    classes : sequence of str
        Names from :data:`TISSUE_CLASSES`; blocks get them in turn, in a shuffled order (each class at least
        once when there are enough blocks).
    stain : StainProfile, optional
        Default: the development lab.

    Returns
    -------
    rgb : ndarray of uint8, shape (grid[0] * block, grid[1] * block, 3)
    labels : ndarray of str, shape grid
        The class of each block.

    Examples
    --------
    >>> rgb, labels = render_tissue_classes(np.random.default_rng(0), grid=(2, 3), block=64)
    >>> rgb.shape
    (128, 192, 3)
    >>> labels
    array([['muscle', 'mucosa', 'background'],
           ['necrosis', 'tumour', 'stroma']], dtype=object)
    """
    stain = stain or STAINS["development"]
    rows, cols = grid
    h, w = rows * block, cols * block
    order = np.resize(np.asarray(list(classes), dtype=object), rows * cols)
    labels = rng.permutation(order).reshape(rows, cols)
    haem = np.zeros((h, w), dtype=np.float64)
    eosin = np.zeros((h, w), dtype=np.float32)
    fibres = _fine_field(rng, (h, w), 1.5)
    for r in range(rows):
        for c in range(cols):
            p = TISSUE_CLASSES[labels[r, c]]
            y0, x0 = r * block, c * block
            eosin[y0:y0 + block, x0:x0 + block] = p["eosin"] * (1.0 + 0.25 * fibres[y0:y0 + block, x0:x0 + block])
            haem[y0:y0 + block, x0:x0 + block] += p["haem"]
            if p["spacing"] <= 0:
                continue
            sp = p["spacing"]
            gy, gx = np.meshgrid(np.arange(sp / 2, block, sp), np.arange(sp / 2, block, sp), indexing="ij")
            ny = (y0 + gy + rng.uniform(-0.4, 0.4, gy.shape) * sp).ravel()
            nx = (x0 + gx + rng.uniform(-0.4, 0.4, gx.shape) * sp).ravel()
            n = ny.size
            length = np.clip(p["length"] * np.exp(0.15 * rng.standard_normal(n)), 2.0, _PATCH_HALF - 1.0)
            width = np.clip(length / p["aspect"], 1.5, None)
            angle = rng.uniform(0, np.pi) + 0.3 * rng.standard_normal(n)  # one direction per block, some scatter
            darkness = np.clip(p["darkness"] + 0.1 * rng.standard_normal(n), 0.3, None)
            nuclei = _draw_nuclei((block, block), ny - y0, nx - x0, length, width, angle, darkness, rng)
            haem[y0:y0 + block, x0:x0 + block] = np.maximum(haem[y0:y0 + block, x0:x0 + block], nuclei)
    od = (np.float32(GLASS_OD) + haem.astype(np.float32)[..., None] * np.asarray(stain.haematoxylin, np.float32)
          * stain.haematoxylin_strength
          + eosin[..., None] * np.asarray(stain.eosin, np.float32) * stain.eosin_strength)
    rgb = 255.0 * np.exp(-od) + _SCANNER_NOISE * rng.standard_normal((h, w, 1), dtype=np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), labels


def write_annotated_slide(path: str | Path, geojson: str | Path, *, random_state: int = 0,
                          grid: tuple[int, int] = (4, 5), block: int = 224, classes=tuple(TISSUE_CLASSES),
                          annotated: float = 0.8) -> np.ndarray:
    """Write a tissue-class slide (:func:`render_tissue_classes`) and a QuPath-style GeoJSON of its annotations.

    As in real partially annotated slides, only some blocks (a fraction ``annotated``, at least one per class
    present) get an annotation: an irregular polygon inside the block, a little smaller than it, whose
    ``properties.classification.name`` is the class (the GeoJSON layout QuPath 0.2+ exports: a
    ``FeatureCollection`` of ``Feature`` objects with ``objectType: "annotation"``; coordinates in level-0
    pixels).

    Parameters
    ----------
    path : str or Path
        Output slide (pyramidal TIFF, :func:`write_slide`).
    geojson : str or Path
        Output annotations (GeoJSON text).
    random_state : int, default=0
        Seed of the slide and of the annotations.
    grid : (int, int), default=(4, 5)
        Blocks per column and per row.
    block : int, default=224
        Block side in pixels (level 0).
    classes : sequence of str, default=all of TISSUE_CLASSES
        The classes the blocks get (see :func:`render_tissue_classes`).
    annotated : float, default=0.8
        Probability that a block is annotated.

    Returns
    -------
    ndarray of str, shape grid
        The class of each block.

    Raises
    ------
    ImportError
        When tifffile is not installed (``pip install "multisurv[wsi]"``).

    Examples
    --------
    >>> labels = write_annotated_slide("slides/classes.tiff", "slides/classes.geojson")  # doctest: +SKIP
    >>> labels.shape  # doctest: +SKIP
    (4, 5)
    """
    rng = np.random.default_rng(random_state)
    rgb, labels = render_tissue_classes(rng, grid=grid, block=block, classes=classes)
    write_slide(rgb, path)
    chosen = rng.random(labels.shape) < annotated
    for name in np.unique(labels):  # every class present gets at least one annotation
        where = np.argwhere(labels == name)
        if not chosen[labels == name].any():
            chosen[tuple(where[rng.integers(len(where))])] = True
    features = []
    for r, c in np.argwhere(chosen):
        cx, cy = (c + 0.5) * block, (r + 0.5) * block
        angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
        radius = block * rng.uniform(0.42, 0.5, angles.size) * np.sqrt(2)
        x = np.clip(cx + radius * np.cos(angles), c * block + 2, (c + 1) * block - 2)
        y = np.clip(cy + radius * np.sin(angles), r * block + 2, (r + 1) * block - 2)
        ring = [[round(float(a), 1), round(float(b), 1)] for a, b in zip(x, y)]
        features.append({
            "type": "Feature",
            "id": f"block-{r}-{c}",
            "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]},
            "properties": {"objectType": "annotation", "classification": {"name": str(labels[r, c]),
                                                                          "color": [200, 0, 0]}},
        })
    text = json.dumps({"type": "FeatureCollection", "features": features}, indent=1)
    write_atomic(geojson, lambda p: Path(p).write_text(text, encoding="utf-8"))
    return labels
