"""Tissue mask and tile grid: sane coordinates on a real H&E slide, exact answers on synthetic slides."""

from __future__ import annotations

import numpy as np
import pytest

from multisurv.features.wsi.tissue import otsu_threshold, tile_grid, tissue_mask

pytestmark = pytest.mark.wsi


def test_otsu_splits_two_groups():
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(0.1, 0.02, 500), rng.normal(0.6, 0.05, 300)].clip(0, 1)
    assert 0.15 < otsu_threshold(values) < 0.5
    assert otsu_threshold(np.full(10, 0.3)) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="Cannot compute an Otsu threshold of an empty array"):
        otsu_threshold(np.array([]))


def test_tissue_mask_finds_the_stained_region(pink_slide):
    slide = pink_slide(size=(200, 100), square=(50, 20, 150, 80))
    rgb = slide.rgb.copy()
    rgb[5, 5] = (200, 110, 170)  # an isolated speck is removed
    mask = tissue_mask(rgb)
    assert mask.dtype == bool and mask.shape == (100, 200)
    assert mask[20:80, 50:150].all() and mask.sum() == 60 * 100


def test_blank_slide_has_no_tissue():
    rng = np.random.default_rng(0)
    glass = (240 + rng.integers(0, 6, size=(64, 64, 3))).astype(np.uint8)  # near-white noise
    assert not tissue_mask(glass).any()
    with pytest.raises(ValueError, match=r"'thumbnail' must be an RGB image of shape \(H, W, 3\); got shape \(4, 4\)"):
        tissue_mask(np.zeros((4, 4)))


def test_grid_on_synthetic_slide_is_exact(pink_slide):
    slide = pink_slide(size=(960, 640), square=(224, 0, 672, 448))
    coords = tile_grid(slide, tile_size=224, min_tissue=0.5)
    assert coords.tolist() == [[224, 0], [448, 0], [224, 224], [448, 224]]
    everything = tile_grid(slide, tile_size=224, min_tissue=0)
    assert len(everything) == (960 // 224) * (640 // 224)  # edge tiles crossing the border are dropped


def test_grid_at_a_lower_level_returns_level0_coordinates(pink_slide):
    slide = pink_slide(size=(1792, 896), square=(0, 0, 896, 896), downsamples=(1.0, 4.0))
    coords = tile_grid(slide, tile_size=224, level=1, min_tissue=0.5)
    assert coords.tolist() == [[0, 0]]  # level 1 is 448 x 224: 2 tiles, the left one is tissue
    with pytest.raises(ValueError, match=r"The 'level' parameter of tile_grid must be an int in the range \[0, 1\] "
                                         r"for FakeSlide\(\)\. Got 2 instead\."):
        tile_grid(slide, level=2)


class TestRealSlide:
    @pytest.fixture(scope="class")
    def slide(self, slides):
        pytest.importorskip("openslide")
        from multisurv.features.wsi.reader import open_slide

        with open_slide(slides / "cmu_small_region.svs") as slide:
            yield slide

    def test_grid_is_sane(self, slide):
        coords = tile_grid(slide, tile_size=224, min_tissue=0.5)
        width, height = slide.dimensions
        assert coords.dtype == np.int64 and coords.ndim == 2 and coords.shape[1] == 2
        assert 20 < len(coords) < (width // 224) * (height // 224)  # some tissue, not everything
        assert (coords % 224 == 0).all()
        assert (coords >= 0).all() and (coords[:, 0] + 224 <= width).all() and (coords[:, 1] + 224 <= height).all()
        assert len({tuple(c) for c in coords}) == len(coords)  # distinct corners on a 224 grid: no overlap

    def test_more_tissue_required_gives_fewer_tiles(self, slide):
        counts = [len(tile_grid(slide, min_tissue=m)) for m in (0.0, 0.25, 0.5, 0.9, 1.0)]
        assert counts == sorted(counts, reverse=True) and counts[0] == (2220 // 224) * (2967 // 224)
        strict = {tuple(c) for c in tile_grid(slide, min_tissue=0.9)}
        assert strict <= {tuple(c) for c in tile_grid(slide, min_tissue=0.5)}

    def test_slide_smaller_than_a_tile_has_no_tiles(self, slides):
        pytest.importorskip("openslide")
        from multisurv.features.wsi.reader import open_slide

        with open_slide(slides / "small.svs") as small:
            assert tile_grid(small, tile_size=224).shape == (0, 2)

    def test_parameter_errors(self, slide):
        with pytest.raises(ValueError, match=r"The 'min_tissue' parameter of tile_grid must be a float in the range "
                                             r"\[0, 1\]\. Got 1.5 instead\."):
            tile_grid(slide, min_tissue=1.5)
        with pytest.raises(ValueError, match=r"The 'tile_size' parameter of tile_grid must be an int"):
            tile_grid(slide, tile_size=0)
