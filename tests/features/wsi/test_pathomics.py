"""extract_pathomics end to end on real slides: features, failures per slide, cache, determinism."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from multisurv.exceptions import MultisurvWarning

torch = pytest.importorskip("torch")
pytest.importorskip("openslide")

from multisurv.features.wsi.encoders import Encoder  # noqa: E402
from multisurv.features.wsi.pathomics import extract_pathomics  # noqa: E402
from multisurv.features.wsi.reader import iter_tiles, open_slide  # noqa: E402
from multisurv.features.wsi.tissue import tile_grid  # noqa: E402

pytestmark = pytest.mark.wsi


def channel_means() -> Encoder:
    """A tiny, fast encoder: the mean of each normalised colour channel (dim 3)."""
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    return Encoder(name="rgbmean", model=model, dim=3, device="cpu", weights="none")


@pytest.fixture
def cohort(make_cohort, slides, tmp_path):
    return make_cohort(
        good=dict(wsi=slides / "cmu_small_region.svs"),
        unopenable=dict(wsi=slides / "invalid" / "unopenable.tiff"),
        tiny=dict(wsi=slides / "small.svs"),
        missing=dict(wsi=tmp_path / "nope.svs"),
        no_slide={},
    )


def test_resnet50_features_failures_and_cache(cohort, slides, tmp_path, caplog):
    with pytest.warns(MultisurvWarning, match="randomly initialised"):
        with caplog.at_level(logging.WARNING, logger="multisurv.features.batch"):
            res = extract_pathomics(cohort, out_dir=tmp_path / "features", max_tiles=4, device="cpu", progress=False)
    assert res.features.shape == (1, 2048) and list(res.features.index) == ["good"]
    assert res.features.columns[0] == "wsi__resnet50_0000" and res.features.columns[-1] == "wsi__resnet50_2047"
    assert np.isfinite(res.features.to_numpy()).all()
    assert res.info.loc["good", "n_tiles"] == 4 and res.info.loc["good", "n_tissue_tiles"] > 4
    assert res.store_dir.parent == tmp_path / "features" / "wsi"
    assert res.store_dir.name.startswith("224px_lvl0_resnet50_random_")

    failures = res.failures.set_index("patient_id")
    assert list(failures.index) == ["unopenable", "tiny", "missing"]  # 'no_slide' is skipped, not failed
    assert failures.loc["unopenable", "path"] == str(slides / "invalid" / "unopenable.tiff")
    assert "OpenSlide cannot open slide" in failures.loc["unopenable", "message"]
    assert failures.loc["tiny", "message"].startswith(
        f"Slide '{slides / 'small.svs'}' of patient 'tiny' has no 224 px tile at level 0 with at least 50% tissue "
        "(level size 16 x 16 px).")
    assert "does not exist" in failures.loc["missing", "message"]
    assert "3 of 4 slides failed; see" in caplog.text

    with pytest.warns(MultisurvWarning):
        again = extract_pathomics(cohort, out_dir=tmp_path / "features", max_tiles=4, device="cpu", progress=False)
    assert again.n_cached == 1
    assert again.features.to_csv() == res.features.to_csv()

    with pytest.warns(MultisurvWarning):  # a fresh store: recomputed from scratch, bit-identical (seeded init)
        fresh = extract_pathomics(cohort.subset(["good"]), out_dir=tmp_path / "other", max_tiles=4, device="cpu",
                                  progress=False)
    assert fresh.n_cached == 0
    pd.testing.assert_frame_equal(fresh.features, res.features, rtol=0, atol=0)


def test_mean_over_tiles_does_not_depend_on_batching(make_cohort, slides, tmp_path):
    cohort = make_cohort(good=dict(wsi=slides / "cmu_small_region.svs"))
    kwargs = dict(encoder=channel_means(), tile_size=224, progress=False)
    small = extract_pathomics(cohort, out_dir=tmp_path / "a", batch_size=3, **kwargs)
    large = extract_pathomics(cohort, out_dir=tmp_path / "b", batch_size=1000, **kwargs)
    np.testing.assert_allclose(small.features.to_numpy(), large.features.to_numpy(), rtol=1e-6)
    with open_slide(slides / "cmu_small_region.svs") as slide:
        coords = tile_grid(slide, tile_size=224, min_tissue=0.5)
        expected = np.mean([channel_means().encode(t[None])[0] for t in iter_tiles(slide, coords, 224)], axis=0)
    assert small.info.loc["good", "n_tiles"] == len(coords)
    np.testing.assert_allclose(small.features.loc["good"].to_numpy(), expected, rtol=1e-6)
    assert list(small.features.columns) == ["wsi__rgbmean_0000", "wsi__rgbmean_0001", "wsi__rgbmean_0002"]


def test_unreadable_slide_fails_with_its_name_while_others_succeed(make_cohort, slides, tmp_path):
    cohort = make_cohort(bad=dict(wsi=slides / "invalid" / "unreadable.svs"), good=dict(wsi=slides / "small.svs"))
    res = extract_pathomics(cohort, out_dir=tmp_path, encoder=channel_means(), tile_size=16, min_tissue=0,
                            progress=False)
    assert list(res.features.index) == ["good"]
    row = res.failures.iloc[0]
    assert row.patient_id == "bad" and row.path == str(slides / "invalid" / "unreadable.svs")
    # the thumbnail (tissue fractions) is read first and fails; a tile read failure is tested in test_loader.py
    assert "OpenSlide cannot read the thumbnail of slide" in row.message and "unreadable.svs" in row.message


def test_max_tiles_draws_a_fixed_subset(make_cohort, slides, tmp_path):
    cohort = make_cohort(good=dict(wsi=slides / "cmu_small_region.svs"))
    runs = [extract_pathomics(cohort, out_dir=tmp_path / str(i), encoder=channel_means(), max_tiles=5,
                              progress=False) for i in range(2)]
    assert runs[0].info.loc["good", "n_tiles"] == 5
    pd.testing.assert_frame_equal(runs[0].features, runs[1].features, rtol=0, atol=0)


class TestParameterErrors:
    @pytest.mark.parametrize("kwargs, message", [
        (dict(tile_size=0), r"The 'tile_size' parameter of extract_pathomics must be an int in the range \[1, inf\)"),
        (dict(min_tissue=2.0), r"The 'min_tissue' parameter of extract_pathomics must be a float in the range"),
        (dict(batch_size=0), r"The 'batch_size' parameter of extract_pathomics must be an int"),
        (dict(max_tiles=0), r"The 'max_tiles' parameter of extract_pathomics must be an int"),
        (dict(encoder="vit"), r"Unknown encoder 'vit'\. Choose one of: 'gigapath', 'h_optimus_0', 'phikon_v2', "
                              r"'resnet18', 'resnet34', 'resnet50', 'resnet50_trunc', 'uni', 'uni2_h', 'virchow2'\."),
    ])
    def test_bad_values(self, cohort, tmp_path, kwargs, message):
        with pytest.raises(ValueError, match=message):
            extract_pathomics(cohort, out_dir=tmp_path, **kwargs)

    def test_weights_with_an_encoder_object(self, cohort, tmp_path):
        with pytest.raises(ValueError, match="'weights' applies to an encoder given by name"):
            extract_pathomics(cohort, out_dir=tmp_path, encoder=channel_means(), weights="imagenet")
