"""Fixtures for the slide tests: vendored slides and an in-memory fake slide (no OpenSlide needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SLIDES = Path(__file__).resolve().parents[2] / "data" / "wsi"


class FakeSlide:
    """The part of the OpenSlide API used by multisurv, backed by an RGB array; counts tile reads."""

    def __init__(self, rgb: np.ndarray, downsamples=(1.0,), properties=None):
        self.rgb = rgb
        self.properties = dict(properties or {})
        self.level_downsamples = tuple(float(d) for d in downsamples)
        h, w = rgb.shape[:2]
        self.dimensions = (w, h)
        self.level_dimensions = tuple((int(w // d), int(h // d)) for d in self.level_downsamples)
        self.level_count = len(self.level_downsamples)
        self.reads = 0

    def read_region(self, location, level, size):
        self.reads += 1
        x, y = location
        d = self.level_downsamples[level]
        w, h = size
        region = self.rgb[y:y + int(h * d):int(d), x:x + int(w * d):int(d)]
        out = np.zeros((h, w, 4), dtype=np.uint8)  # transparent outside the image, like OpenSlide
        out[:region.shape[0], :region.shape[1], :3] = region
        out[:region.shape[0], :region.shape[1], 3] = 255
        return Image.fromarray(out, "RGBA")

    def get_thumbnail(self, size):
        image = Image.fromarray(self.rgb)
        image.thumbnail(size)
        return image

    def __repr__(self):
        return "FakeSlide()"


def pink_square_slide(size=(960, 640), square=(256, 128, 512, 384), downsamples=(1.0,)) -> FakeSlide:
    """White glass with one H&E-pink rectangle (x0, y0, x1, y1) of tissue."""
    w, h = size
    rgb = np.full((h, w, 3), 242, dtype=np.uint8)
    x0, y0, x1, y1 = square
    rgb[y0:y1, x0:x1] = (200, 110, 170)
    return FakeSlide(rgb, downsamples)


@pytest.fixture(scope="session")
def pink_slide():
    """``pink_slide(size=(w, h), square=(x0, y0, x1, y1), downsamples=(1.0,))`` -> FakeSlide."""
    return pink_square_slide


@pytest.fixture(scope="session")
def synthetic_slide(tmp_path_factory) -> Path:
    """A synthetic H&E slide of the cohort generator: 1120 x 896 px, 0.5 um/px, levels 1 and 4 (tiled TIFF)."""
    from multisurv.cohort.synthetic_wsi import STAINS, render_slide, write_slide

    path = tmp_path_factory.mktemp("synthetic") / "slide.tiff"
    rgb = render_slide(np.random.default_rng(0), u_path=0.0, mitotic_count=5.0, stain=STAINS["development"])
    write_slide(rgb, path)
    return path


@pytest.fixture(scope="session")
def slides() -> Path:
    """Folder of the vendored slides (see tests/data/README.md)."""
    return SLIDES


def write_tiff(path, rgb: np.ndarray, mpp: float | None, downsamples=(1, 4)) -> Path:
    """A pyramidal tiled TIFF (deflate, 256 px tiles) at ``mpp`` um/px (None: no resolution tags at all)."""
    import tifffile

    with tifffile.TiffWriter(path) as tif:
        for k, f in enumerate(downsamples):
            level = rgb if f == 1 else np.asarray(Image.fromarray(rgb).resize(
                (rgb.shape[1] // f, rgb.shape[0] // f), Image.BOX))
            extra = {} if mpp is None else {"resolution": (1e4 / (mpp * f), 1e4 / (mpp * f)),
                                            "resolutionunit": "CENTIMETER"}
            tif.write(level, tile=(256, 256), compression="zlib", photometric="rgb", subfiletype=0 if k == 0 else 1,
                      software=False, metadata=None, **extra)
    return Path(path)


@pytest.fixture(scope="session")
def magnification_slides(tmp_path_factory):
    """One synthetic tissue scanned three ways: 40x (0.25 um/px, the 20x image upsampled 2x), 20x (0.5 um/px),
    and 20x with no resolution in its metadata. ``{"40x": path, "20x": path, "unknown": path}``."""
    from multisurv.cohort.synthetic_wsi import STAINS, render_slide

    folder = tmp_path_factory.mktemp("magnification")
    rgb = render_slide(np.random.default_rng(5), u_path=0.5, mitotic_count=3.0, stain=STAINS["development"])
    up = np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] * 2, rgb.shape[0] * 2), Image.BICUBIC))
    return {"40x": write_tiff(folder / "s40.tiff", up, 0.25, downsamples=(1, 4, 8)),
            "20x": write_tiff(folder / "s20.tiff", rgb, 0.5),
            "unknown": write_tiff(folder / "s_unknown.tiff", rgb, None)}
