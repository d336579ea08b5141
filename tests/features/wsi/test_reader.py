"""open_slide and iter_tiles: clear per-file errors, streaming reads, RGBA over white."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from multisurv.exceptions import ExtractionError
from multisurv.features.wsi.reader import iter_tiles, open_slide, rgba_to_rgb

openslide = pytest.importorskip("openslide")
pytestmark = pytest.mark.wsi


def test_open_real_slide_and_read_tiles(slides):
    with open_slide(slides / "cmu_small_region.svs") as slide:
        assert slide.dimensions == (2220, 2967)
        tiles = list(iter_tiles(slide, [(0, 2240), (1120, 448)], 224))  # glass, then tissue
    assert [t.shape for t in tiles] == [(224, 224, 3), (224, 224, 3)]
    assert all(t.dtype == np.uint8 for t in tiles)
    assert tiles[0].std() < 5 < tiles[1].std()  # blank glass vs H&E texture


def test_missing_file(tmp_path):
    with pytest.raises(ExtractionError, match=r"Slide '.*nope\.svs' does not exist\. Correct the 'wsi' path"):
        open_slide(tmp_path / "nope.svs")


def test_unopenable_file_is_named(slides):
    path = slides / "invalid" / "unopenable.tiff"
    with pytest.raises(ExtractionError, match=r"OpenSlide cannot open slide '.*unopenable\.tiff' \(OpenSlideError: "
                                              r"Unsupported TIFF compression: 52479\)\. Check that the file") as info:
        open_slide(path)
    assert info.value.path == str(path)


def test_unreadable_tile_is_named(slides):
    slide = open_slide(slides / "invalid" / "unreadable.svs")
    with pytest.raises(ExtractionError, match=r"OpenSlide cannot read the 16 px tile at x=0, y=0 \(level-0 pixels\), "
                                              r"level 0, of OpenSlide\('.*unreadable\.svs'\)"):
        next(iter_tiles(slide, [(0, 0)], 16))


def test_tiles_are_read_one_at_a_time(pink_slide):
    slide = pink_slide()
    tiles = iter_tiles(slide, [(0, 0), (224, 0), (448, 0)], 224)
    assert inspect.isgenerator(tiles) and slide.reads == 0
    next(tiles)
    assert slide.reads == 1  # nothing is read ahead: memory does not grow with the number of tiles
    assert len(list(tiles)) == 2 and slide.reads == 3


def test_transparent_pixels_become_white(pink_slide):
    slide = pink_slide(size=(300, 300), square=(0, 0, 300, 300))
    tile = next(iter_tiles(slide, [(200, 200)], 224))  # crosses the border: the outside is transparent
    assert tile[:100, :100].tolist() == np.full((100, 100, 3), [200, 110, 170]).tolist()
    assert (tile[150:, 150:] == 255).all()


def test_rgba_to_rgb_blends_partial_alpha():
    rgba = np.array([[[0, 0, 0, 128], [100, 150, 200, 255]]], dtype=np.uint8)
    assert rgba_to_rgb(rgba).tolist() == [[[127, 127, 127], [100, 150, 200]]]
    with pytest.raises(ValueError, match=r"Expected an RGBA image of shape \(H, W, 4\); got shape \(2, 2\)"):
        rgba_to_rgb(np.zeros((2, 2)))
