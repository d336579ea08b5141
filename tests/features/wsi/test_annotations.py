"""QuPath GeoJSON annotations -> labelled tiles (multisurv.features.wsi.annotations)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multisurv.exceptions import ExtractionError
from multisurv.features.wsi.annotations import Annotation, label_tiles, make_patch_dataset, read_qupath_geojson


def _square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def _feature(geometry, **properties):
    return {"type": "Feature", "geometry": geometry, "properties": {"objectType": "annotation", **properties}}


def _write(tmp_path, data, name="ann.geojson"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------- reading


def test_reads_feature_collection_with_class_names(tmp_path):
    path = _write(tmp_path, {"type": "FeatureCollection", "features": [
        _feature({"type": "Polygon", "coordinates": [_square(0, 0, 100, 100)]},
                 classification={"name": "Tumor", "color": [200, 0, 0]}),
        _feature({"type": "Polygon", "coordinates": [_square(200, 0, 300, 50)]}, classification="Stroma"),
        _feature({"type": "Polygon", "coordinates": [_square(0, 200, 10, 210)]}, name="Necrosis"),
    ]})
    anns = read_qupath_geojson(path)
    assert [a.name for a in anns] == ["Tumor", "Stroma", "Necrosis"]
    assert anns[0].exterior.shape == (5, 2)
    assert anns[1].bounds == (200.0, 0.0, 300.0, 50.0)


def test_bare_list_and_single_feature_are_accepted(tmp_path):
    one = _feature({"type": "Polygon", "coordinates": [_square(0, 0, 10, 10)]}, classification={"name": "a"})
    assert [a.name for a in read_qupath_geojson(_write(tmp_path, [one, one], "list.json"))] == ["a", "a"]
    assert [a.name for a in read_qupath_geojson(_write(tmp_path, one, "one.json"))] == ["a"]


def test_class_map_renames_and_drops(tmp_path):
    path = _write(tmp_path, [
        _feature({"type": "Polygon", "coordinates": [_square(0, 0, 10, 10)]}, classification={"name": "Tumor"}),
        _feature({"type": "Polygon", "coordinates": [_square(0, 0, 10, 10)]}, classification={"name": "Ignore"}),
        _feature({"type": "Polygon", "coordinates": [_square(0, 0, 10, 10)]}, classification={"name": "Stroma"}),
    ])
    anns = read_qupath_geojson(path, class_map={"Tumor": "tumour", "Ignore": ""})
    assert [a.name for a in anns] == ["tumour", "Stroma"]


def test_unclassified_and_non_polygon_features_are_skipped(tmp_path):
    path = _write(tmp_path, [
        _feature({"type": "Polygon", "coordinates": [_square(0, 0, 10, 10)]}),  # no class
        _feature({"type": "Point", "coordinates": [5, 5]}, classification={"name": "tumour"}),
        _feature({"type": "LineString", "coordinates": [[0, 0], [5, 5]]}, classification={"name": "tumour"}),
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [_square(0, 0, 10, 10)]},
         "properties": {"objectType": "detection", "name": "cell 1"}},  # a named detection is not a class
        _feature({"type": "Polygon", "coordinates": [_square(0, 0, 10, 10)]}, classification={"name": "stroma"}),
    ])
    assert [a.name for a in read_qupath_geojson(path)] == ["stroma"]


def test_multipolygon_with_holes(tmp_path):
    ring_with_hole = [_square(0, 0, 100, 100), _square(25, 25, 75, 75)]
    path = _write(tmp_path, [_feature({"type": "MultiPolygon",
                                       "coordinates": [ring_with_hole, [_square(200, 0, 250, 50)]]},
                                      classification={"name": "tumour"})])
    anns = read_qupath_geojson(path)
    assert [a.name for a in anns] == ["tumour", "tumour"]
    assert len(anns[0].holes) == 1 and anns[1].holes == []
    inside = anns[0].contains(np.array([[10.0, 10.0], [50.0, 50.0], [150.0, 50.0]]))
    assert inside.tolist() == [True, False, False]  # the middle point lies in the hole
    assert anns[1].contains(np.array([[225.0, 25.0]])).tolist() == [True]


def test_missing_file_names_it_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.geojson.*does not exist.*Export objects as GeoJSON"):
        read_qupath_geojson(tmp_path / "nothere.geojson")


@pytest.mark.parametrize("content, match", [
    ("this is not json", r"Cannot read the annotation file .*bad\.geojson.* as GeoJSON.*Export objects as GeoJSON"),
    ('{"type": "Topology"}', r"bad\.geojson.* holds neither a GeoJSON FeatureCollection.*Export objects"),
    ('"just a string"', r"bad\.geojson.* holds neither"),
], ids=["not-json", "wrong-type", "scalar"])
def test_bad_file_names_it_and_the_fix(tmp_path, content, match):
    with pytest.raises(ExtractionError, match=match):
        read_qupath_geojson(_write(tmp_path, content, "bad.geojson"))


@pytest.mark.parametrize("coordinates, match", [
    ([[[0, 0], [10, 0]]], r"Feature 0 \('tumour'\) of .*bad\.geojson.* fewer than 3 points.*redraw"),
    ([[["a", "b"], [1]]], r"Feature 0 \('tumour'\) of .*bad\.geojson.* malformed polygon coordinates.*Re-export"),
    ([], r"Feature 0 \('tumour'\) of .*bad\.geojson.* fewer than 3 points"),
], ids=["two-points", "not-numbers", "no-ring"])
def test_malformed_polygon_names_feature_and_file(tmp_path, coordinates, match):
    path = _write(tmp_path, [_feature({"type": "Polygon", "coordinates": coordinates},
                                      classification={"name": "tumour"})], "bad.geojson")
    with pytest.raises(ExtractionError, match=match):
        read_qupath_geojson(path)


# ---------------------------------------------------------------------------------------------------- labelling


def _ann(name, x0, y0, x1, y1, holes=()):
    ring = lambda a, b, c, d: np.array(_square(a, b, c, d), dtype=float)  # noqa: E731
    return Annotation(name, ring(x0, y0, x1, y1), [ring(*h) for h in holes])


def test_label_tiles_by_largest_covering_class():
    coords = np.array([[0, 0], [100, 0], [200, 0], [300, 0]])
    anns = [_ann("tumour", 0, 0, 160, 100), _ann("stroma", 160, 0, 400, 100)]
    # tile 0: all tumour; tile 1 (100-200): 60 % tumour, 40 % stroma; tiles 2, 3: all stroma
    assert label_tiles(coords, 100, anns).tolist() == ["tumour", "tumour", "stroma", "stroma"]
    # with min_overlap 0.7 the mixed tile is left unlabelled
    assert label_tiles(coords, 100, anns, min_overlap=0.7).tolist() == ["tumour", None, "stroma", "stroma"]


def test_label_tiles_adds_polygons_of_one_class_and_respects_holes():
    coords = np.array([[0, 0], [100, 0]])
    halves = [_ann("tumour", 0, 0, 50, 100), _ann("tumour", 50, 0, 100, 100)]
    assert label_tiles(coords, 100, halves, min_overlap=0.9).tolist() == ["tumour", None]
    holed = [_ann("tumour", 0, 0, 200, 100, holes=[(100, 0, 200, 100)])]  # the right half is a hole
    assert label_tiles(coords, 100, holed).tolist() == ["tumour", None]


def test_label_tiles_without_annotations_and_bad_overlap():
    assert label_tiles(np.array([[0, 0]]), 224, []).tolist() == [None]
    with pytest.raises(ValueError, match=r"The 'min_overlap' parameter of label_tiles must be a float in the range"):
        label_tiles(np.array([[0, 0]]), 224, [], min_overlap=1.5)


# ---------------------------------------------------------------------------------------------------- on a slide


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    pytest.importorskip("openslide")
    from multisurv.cohort.synthetic_wsi import write_annotated_slide

    root = tmp_path_factory.mktemp("annotated")
    labels = write_annotated_slide(root / "s.tiff", root / "s.geojson", random_state=3)
    return root / "s.tiff", root / "s.geojson", labels


def test_patch_dataset_labels_match_the_painted_blocks(annotated):
    slide, geojson, blocks = annotated
    table = make_patch_dataset([(slide, geojson)])
    n_annotations = len(json.loads(geojson.read_text())["features"])
    assert list(table.columns) == ["slide", "x", "y", "label", "level", "read_size", "tile_size"]
    assert 0.75 * n_annotations <= len(table) <= n_annotations  # each annotation covers most of one block
    truth = blocks[table["y"] // 224, table["x"] // 224]
    assert (table["label"].to_numpy() == truth).all()
    assert set(table["label"]) == set(np.unique(blocks))  # every class has at least one annotated block
    assert (table[["level", "read_size", "tile_size"]].to_numpy() == [0, 224, 224]).all()


def test_patch_dataset_with_annotations_off_the_slide(annotated, tmp_path):
    slide, _, _ = annotated
    far = _write(tmp_path, [_feature({"type": "Polygon", "coordinates": [_square(1e5, 1e5, 2e5, 2e5)]},
                                     classification={"name": "tumour"})], "far.geojson")
    with pytest.raises(ValueError, match=r"No patch is covered by an annotation in: .*s\.tiff.*lower 'min_overlap'"):
        make_patch_dataset([(slide, far)])
