"""Streaming tile batches: DataLoader worker processes decode while the model runs, in slide order."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("openslide")

from multisurv.exceptions import ExtractionError  # noqa: E402
from multisurv.features.wsi.loader import SlideTiles, iter_tile_batches  # noqa: E402
from multisurv.features.wsi.reader import iter_tiles, open_slide, plan_tiles  # noqa: E402
from multisurv.features.wsi.tissue import tile_grid  # noqa: E402

pytestmark = pytest.mark.wsi


@pytest.fixture(scope="module")
def cmu(slides):
    path = slides / "cmu_small_region.svs"
    with open_slide(path) as slide:
        plan = plan_tiles(slide, 64, mpp=2.0)  # 256 px read, shrunk to 64: a quick full pass over the slide
        coords = tile_grid(slide, plan.read_size, plan.level, 0.5)
        expected = np.stack(list(iter_tiles(slide, coords, plan.read_size, plan.level, out_size=64)))
    return path, coords, plan, expected


@pytest.mark.parametrize("num_workers", [0, 1, 2])
def test_batches_arrive_in_slide_order_with_the_tiles_of_iter_tiles(cmu, num_workers):
    path, coords, plan, expected = cmu
    batches = list(iter_tile_batches(str(path), coords, plan, batch_size=5, num_workers=num_workers))
    index = np.concatenate([i for i, _ in batches])
    np.testing.assert_array_equal(index, np.arange(len(coords)))
    assert all(t.dtype == torch.uint8 and tuple(t.shape[1:]) == (64, 64, 3) for _, t in batches)
    np.testing.assert_array_equal(np.concatenate([t.numpy() for _, t in batches]), expected)


def test_workers_share_the_batches(cmu):
    path, coords, plan, _ = cmu
    dataset = SlideTiles(str(path), coords, plan, batch_size=4)
    assert len(dataset) == -(-len(coords) // 4)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_unreadable_tile_raises_naming_the_slide_and_tile(slides, num_workers):
    path = slides / "invalid" / "unreadable.svs"
    with open_slide(path) as slide:
        plan = plan_tiles(slide, 16)
    with pytest.raises(ExtractionError, match=r"OpenSlide cannot read the 16 px tile at x=0, y=0 .*unreadable\.svs"
                                              r".*Bogus marker length") as info:
        list(iter_tile_batches(str(path), np.array([[0, 0]]), plan, batch_size=2, num_workers=num_workers))
    assert info.value.path == str(path)


def test_unopenable_slide_in_a_worker(slides, cmu):
    _, coords, plan, _ = cmu
    path = slides / "invalid" / "unopenable.tiff"
    with pytest.raises(ExtractionError, match=r"OpenSlide cannot open slide .*unopenable\.tiff"):
        list(iter_tile_batches(str(path), coords[:2], plan, num_workers=1))
