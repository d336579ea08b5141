"""Synthetic tissue-class slides and their QuPath-style annotations (multisurv.cohort.synthetic_wsi)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multisurv.cohort.synthetic_wsi import TISSUE_CLASSES, render_tissue_classes, write_annotated_slide


def test_blocks_of_every_class_with_distinct_colour():
    rgb, labels = render_tissue_classes(np.random.default_rng(0), grid=(2, 6), block=64)
    assert rgb.shape == (128, 384, 3) and rgb.dtype == np.uint8
    assert sorted(labels.ravel()) == sorted(2 * list(TISSUE_CLASSES))  # 12 blocks, 6 classes: each twice
    means = {}
    for (r, c), name in np.ndenumerate(labels):
        means.setdefault(name, []).append(rgb[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64].reshape(-1, 3).mean(axis=0))
    centre = {k: np.mean(v, axis=0) for k, v in means.items()}
    assert np.all(centre["background"] > 225)  # bare glass
    names = sorted(centre)
    gaps = [np.abs(centre[a] - centre[b]).max() for i, a in enumerate(names) for b in names[i + 1:]]
    assert min(gaps) > 5  # every pair of classes differs by > 5 RGB units in some channel's mean


def test_same_seed_same_slide():
    a, la = render_tissue_classes(np.random.default_rng(4), grid=(1, 3), block=32)
    b, lb = render_tissue_classes(np.random.default_rng(4), grid=(1, 3), block=32)
    assert np.array_equal(a, b) and np.array_equal(la, lb)


def test_annotated_slide_geojson_layout(tmp_path):
    pytest.importorskip("tifffile")
    labels = write_annotated_slide(tmp_path / "s.tiff", tmp_path / "s.geojson", random_state=1, annotated=0.0)
    data = json.loads((tmp_path / "s.geojson").read_text())
    assert data["type"] == "FeatureCollection" and (tmp_path / "s.tiff").is_file()
    # annotated=0: still one annotation per class present, inside its block
    names = [f["properties"]["classification"]["name"] for f in data["features"]]
    assert sorted(names) == sorted(np.unique(labels))
    for feature in data["features"]:
        assert feature["properties"]["objectType"] == "annotation"
        ring = np.asarray(feature["geometry"]["coordinates"][0])
        assert (ring[0] == ring[-1]).all()  # closed ring, as GeoJSON requires
        r, c = (ring.mean(axis=0) // 224).astype(int)[::-1]
        assert labels[r, c] == feature["properties"]["classification"]["name"]
        assert (ring.min(axis=0) >= [c * 224, r * 224]).all()
        assert (ring.max(axis=0) <= [(c + 1) * 224, (r + 1) * 224]).all()
