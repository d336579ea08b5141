"""Tiling at a requested mpp or magnification: slide metadata, level choice, resizing, tissue fractions."""

from __future__ import annotations

import numpy as np
import pytest

from multisurv.exceptions import MultisurvWarning
from multisurv.features.wsi.reader import TilePlan, plan_tiles, slide_magnification, slide_mpp

pytestmark = pytest.mark.wsi


def fake(pink_slide, downsamples=(1.0, 4.0, 16.0), **properties):
    slide = pink_slide(size=(2048, 1024), downsamples=downsamples)
    slide.properties = {"openslide.mpp-x": "0.25", "openslide.mpp-y": "0.25", "openslide.objective-power": "40",
                        **properties}
    return slide


class TestPlanTiles:
    """Cases: (request, expected level, read size, output mpp). Slide: 0.25 um/px (40x), levels /1, /4, /16."""

    @pytest.mark.parametrize("request_, level, read_size, mpp", [
        (dict(), 0, 224, 0.25),                      # no request: level 0 as is
        (dict(level=1), 1, 224, 1.0),                # explicit level, no resizing
        (dict(mpp=0.25), 0, 224, 0.25),              # the scan's own resolution
        (dict(mpp=0.5), 0, 448, 0.5),                # 20x from a 40x scan: read 448 px at level 0, shrink
        (dict(mpp=1.0), 1, 224, 1.0),                # exactly level 1
        (dict(mpp=2.0), 1, 448, 2.0),                # between levels: the finer one, shrunk
        (dict(mpp=8.0), 2, 448, 8.0),
        (dict(magnification=20), 0, 448, 0.5),       # 40x / 20x = downsample 2
        (dict(magnification=10), 1, 224, 1.0),
    ], ids=["none", "level1", "mpp0.25", "mpp0.5", "mpp1", "mpp2", "mpp8", "mag20", "mag10"])
    def test_cases(self, pink_slide, request_, level, read_size, mpp):
        plan = plan_tiles(fake(pink_slide), 224, **request_)
        assert (plan.level, plan.read_size, plan.tile_size) == (level, read_size, 224)
        assert plan.mpp == pytest.approx(mpp)
        assert plan.footprint == pytest.approx(mpp / 0.25 * 224)

    def test_magnification_falls_back_on_mpp(self, pink_slide):
        slide = fake(pink_slide)
        del slide.properties["openslide.objective-power"]
        assert plan_tiles(slide, 224, magnification=20).read_size == 448  # 10 / 0.25 um/px = 40x

    def test_finer_than_the_scan_warns_and_upsamples(self, pink_slide):
        with pytest.warns(MultisurvWarning, match=r"finer than the scan .* tiles are upsampled from level 0"):
            plan = plan_tiles(fake(pink_slide), 224, mpp=0.125)
        assert (plan.level, plan.read_size) == (0, 112)

    @pytest.mark.parametrize("kwargs, message", [
        (dict(mpp=0.5, magnification=20), r"Give either 'mpp' or 'magnification', not both\."),
        (dict(mpp=-1), r"The 'mpp' parameter must be a float > 0 \(microns per pixel\)\. Got -1 instead\."),
        (dict(magnification=0), r"The 'magnification' parameter must be a float > 0"),
        (dict(level=3), r"The 'level' parameter must be an int in the range \[0, 2\] for FakeSlide\(\)\. Got 3"),
    ])
    def test_bad_requests(self, pink_slide, kwargs, message):
        with pytest.raises(ValueError, match=message):
            plan_tiles(fake(pink_slide), 224, **kwargs)

    def test_slide_without_resolution(self, pink_slide):
        slide = pink_slide()
        with pytest.raises(ValueError, match=r"Slide FakeSlide\(\) does not record its microns per pixel"):
            plan_tiles(slide, 224, mpp=0.5)
        with pytest.raises(ValueError, match=r"records neither its objective power .* nor its microns per pixel"):
            plan_tiles(slide, 224, magnification=20)


def test_real_svs_metadata(slides):
    pytest.importorskip("openslide")
    from multisurv.features.wsi.reader import open_slide

    with open_slide(slides / "cmu_small_region.svs") as slide:
        assert slide_mpp(slide) == pytest.approx(0.499) and slide_magnification(slide) == 20.0
        assert plan_tiles(slide, 224, magnification=10) == TilePlan(224, 0, 448, 1.0, 0.998, 10.0)


def test_synthetic_tiff_levels_and_resized_tiles(synthetic_slide):
    """The generic tiled TIFF records its resolution only in TIFF tags; mpp 2.0 reads level 1 (downsample 4)."""
    pytest.importorskip("openslide")
    from multisurv.features.wsi.reader import iter_tiles, open_slide
    from multisurv.features.wsi.tissue import tile_grid

    with open_slide(synthetic_slide) as slide:
        assert slide_mpp(slide) == 0.5
        plan = plan_tiles(slide, 56, mpp=2.0)
        assert (plan.level, plan.read_size) == (1, 56)
        coords, fraction = tile_grid(slide, plan.read_size, plan.level, min_tissue=0.25, return_fraction=True)
        assert len(coords) == len(fraction) > 0 and (fraction >= 0.25).all() and (fraction <= 1).all()
        assert (coords % 224 == 0).all()  # 56 px at level 1 = 224 level-0 px
        # mpp 1.0: 112 px read at level 0 and halved; equals (to rounding) the 2 x 2 block mean of the full tile
        plan = plan_tiles(slide, 56, mpp=1.0)
        assert (plan.level, plan.read_size) == (0, 112)
        tile = next(iter_tiles(slide, coords[:1], plan.read_size, plan.level, out_size=plan.tile_size))
        full = next(iter_tiles(slide, coords[:1], 112, 0))
        assert tile.shape == (56, 56, 3)
        block = full.reshape(56, 2, 56, 2, 3).mean(axis=(1, 3))
        assert np.abs(tile.astype(float) - block).mean() < 3.0  # bilinear antialiasing vs box: close, not equal


class TestMagnificationAware:
    """Slides scanned at 40x and 20x give comparable tiles at a requested mpp; no mpp in the metadata is an error
    unless the user states it."""

    def test_plans_read_the_best_level_and_resize(self, magnification_slides):
        pytest.importorskip("openslide")
        from multisurv.features.wsi.reader import open_slide

        with open_slide(magnification_slides["40x"]) as slide:
            assert slide_mpp(slide) == 0.25
            assert plan_tiles(slide, 224, mpp=0.5) == TilePlan(224, 0, 448, 1.0, 0.5, None)
            # 2 um/px from levels /1 (0.25), /4 (1.0), /8 (2.0): level 2 exactly, no resizing
            assert (lambda p: (p.level, p.read_size))(plan_tiles(slide, 224, mpp=2.0)) == (2, 224)
            # 1.5 um/px: the finer level /4 (1.0 um/px), 336 px read and shrunk
            assert (lambda p: (p.level, p.read_size))(plan_tiles(slide, 224, mpp=1.5)) == (1, 336)
        with open_slide(magnification_slides["20x"]) as slide:
            assert plan_tiles(slide, 224, mpp=0.5) == TilePlan(224, 0, 224, 1.0, 0.5, None)

    def test_40x_and_20x_scans_give_comparable_tiles_and_features(self, magnification_slides, tmp_path):
        pytest.importorskip("torch")
        from multisurv.features.wsi.pathomics import extract_pathomics_cases
        from multisurv.features.wsi.patch_store import read_patches
        from tests.features.wsi.test_pipeline import small_cnn

        res = extract_pathomics_cases([("s40", {"wsi": str(magnification_slides["40x"])}),
                                       ("s20", {"wsi": str(magnification_slides["20x"])})],
                                      out_dir=tmp_path, encoder=small_cnn(), mpp=0.5, min_tissue=0.25, loader_workers=0,
                                      progress=False)
        assert res.failures.empty
        a, b = (read_patches(res.info.loc[p, "patch_file"]) for p in ("s40", "s20"))
        np.testing.assert_array_equal(a.coords, 2 * b.coords)  # the same tissue squares, in each scan's pixels
        assert res.info.loc["s40", "read_size"] == 448 and res.info.loc["s20", "read_size"] == 224
        assert res.info.loc["s40", "tile_mpp"] == res.info.loc["s20", "tile_mpp"] == 0.5
        # per-tile features agree closely (the 40x scan is the 20x image upsampled, then shrunk back)
        assert np.abs(a.features - b.features).mean() < 0.02 * np.abs(b.features).mean()
        # slide vectors within 1 % of the largest feature (near-zero ReLU features carry texture-sharpness noise)
        s20 = res.features.loc["s20"].to_numpy()
        np.testing.assert_allclose(res.features.loc["s40"].to_numpy(), s20, rtol=0, atol=0.01 * np.abs(s20).max())

    def test_slide_without_resolution_needs_the_users_mpp(self, magnification_slides, tmp_path):
        pytest.importorskip("torch")
        from multisurv.features.wsi.pathomics import extract_pathomics_cases
        from tests.features.wsi.test_pipeline import small_cnn

        cases = [("u", {"wsi": str(magnification_slides["unknown"])})]
        kwargs = dict(encoder=small_cnn(), mpp=0.5, min_tissue=0.25, loader_workers=0, progress=False)
        res = extract_pathomics_cases(cases, out_dir=tmp_path / "a", **kwargs)
        message = res.failures.set_index("patient_id").loc["u", "message"]
        assert "does not record its microns per pixel" in message and "--slide-mpp" in message
        stated = extract_pathomics_cases(cases, out_dir=tmp_path / "b", slide_mpp=0.5, **kwargs)
        known = extract_pathomics_cases([("u", {"wsi": str(magnification_slides["20x"])})], out_dir=tmp_path / "c",
                                        **kwargs)
        np.testing.assert_array_equal(stated.features.to_numpy(), known.features.to_numpy())
        assert stated.store_dir.name != known.store_dir.name  # the stated resolution is part of the settings

    def test_foundation_models_tile_at_their_resolution_by_default(self, magnification_slides, tmp_path):
        pytest.importorskip("torch")
        import dataclasses

        from multisurv.features.wsi.pathomics import extract_pathomics_cases
        from tests.features.wsi.test_pipeline import small_cnn

        encoder = dataclasses.replace(small_cnn(), mpp=0.5)
        res = extract_pathomics_cases([("s40", {"wsi": str(magnification_slides["40x"])})], out_dir=tmp_path,
                                      encoder=encoder, min_tissue=0.25, loader_workers=0, progress=False)
        assert res.store_dir.name.startswith("224px_0.5mpp_cnn_none_") and res.info.loc["s40", "read_size"] == 448
