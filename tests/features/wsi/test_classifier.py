"""Tissue-type tile classifier (multisurv.features.wsi.classifier) and its use in extraction.

Small and fast by default: ResNet-18 from random weights (no download), one epoch on 3 patches per class of
the synthetic tissue-class slides, tiled at 2 um/px into 56 px tiles (each tile still covers one 224 px block
at level 0; 16 times less compute than 224 px tiles). The slow test trains longer at 1 um/px (112 px) and
checks accuracy well above chance.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("openslide")
pytest.importorskip("h5py")

from multisurv.exceptions import MultisurvWarning  # noqa: E402
from multisurv.cohort.synthetic_wsi import TISSUE_CLASSES, write_annotated_slide  # noqa: E402
from multisurv.features.wsi.annotations import make_patch_dataset  # noqa: E402
from multisurv.features.wsi.classifier import TileClassifier, train_tile_classifier  # noqa: E402
from multisurv.features.wsi.patch_store import read_patches  # noqa: E402
from multisurv.features.wsi.pathomics import extract_pathomics_cases  # noqa: E402
from multisurv.features.wsi.reader import iter_tiles, open_slide, plan_tiles  # noqa: E402

CLASSES = sorted(TISSUE_CLASSES)
#: Fast tiling for the default tests: 56 px tiles at 2 um/px (level 0 is 0.5 um/px: 224 px read, resized).
FAST = {"tile_size": 56, "mpp": 2.0}


def _annotated(root, seeds):
    pairs = []
    for seed in seeds:
        slide, geojson = root / f"s{seed}.tiff", root / f"s{seed}.geojson"
        write_annotated_slide(slide, geojson, random_state=seed)
        pairs.append((slide, geojson))
    return pairs


def _tiles(table: pd.DataFrame) -> np.ndarray:
    out = []
    for slide_path, rows in table.groupby("slide", sort=False):
        first = rows.iloc[0]
        with open_slide(slide_path) as slide:
            out += list(iter_tiles(slide, rows[["x", "y"]].to_numpy(), int(first.read_size), int(first.level),
                                   out_size=int(first.tile_size)))
    return np.stack(out)


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    root = tmp_path_factory.mktemp("tissue")
    pairs = _annotated(root, [0, 1])
    return pairs, make_patch_dataset(pairs, **FAST)


@pytest.fixture(scope="module")
def trained(annotated):
    _, patches = annotated
    few = patches.groupby("label").head(3)  # 3 patches per class: 12 train, 6 validation
    with pytest.warns(MultisurvWarning, match="randomly initialised"):  # weights=None: no download in tests
        clf, report = train_tile_classifier(few, backbone="resnet18", weights=None, epochs=1, batch_size=6)
    return clf, report, few


def test_training_reports_accuracy_and_confusion(trained):
    clf, report, few = trained
    assert clf.classes == CLASSES and clf.tumour_class == "tumour"
    assert (report.n_train, report.n_val) == (12, 6)
    assert list(report.confusion.index) == CLASSES and list(report.confusion.columns) == CLASSES
    assert report.confusion.to_numpy().sum() == report.n_val
    assert (report.confusion.sum(axis=1).to_numpy() == 1).all()  # stratified: one validation patch per class
    assert report.accuracy == pytest.approx(np.trace(report.confusion.to_numpy()) / report.n_val)
    assert list(report.history.columns) == ["epoch", "train_loss", "train_accuracy", "val_accuracy", "seconds"]
    assert len(report.history) == 1 and np.isfinite(report.history["train_loss"]).all()
    assert 0 <= report.chance <= 1
    assert report.to_frame()["val_accuracy"].iloc[0] == report.accuracy
    assert clf.metrics["val_accuracy"] == report.accuracy


def test_predictions_are_probabilities(trained):
    clf, _, few = trained
    proba = clf.predict_proba(_tiles(few.head(4)))
    assert proba.shape == (4, len(CLASSES))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert set(clf.predict(_tiles(few.head(4)))) <= set(CLASSES)


def test_checkpoint_round_trip(trained, tmp_path):
    clf, _, few = trained
    path = clf.save(tmp_path / "clf.pt")
    assert clf.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = TileClassifier.load(path)
    assert (loaded.classes, loaded.tumour_class, loaded.backbone_name, loaded.digest) == \
        (clf.classes, clf.tumour_class, "resnet18", clf.digest)
    assert loaded.metrics == clf.metrics
    tiles = _tiles(few.head(5))
    # same weights, same BatchNorm statistics, same float32 CPU kernels: equal to rounding
    np.testing.assert_allclose(loaded.predict_proba(tiles), clf.predict_proba(tiles), atol=1e-5)


def test_load_errors_name_the_file(tmp_path):
    torch = pytest.importorskip("torch")
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*none\.pt.* does not exist.*train_tile_classifier"):
        TileClassifier.load(tmp_path / "none.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"Cannot read the classifier checkpoint .*junk\.pt"):
        TileClassifier.load(junk)
    other = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match=r"other\.pt.* is not a multisurv tile-classifier checkpoint.*save one"):
        TileClassifier.load(other)


@pytest.mark.parametrize("kwargs, match", [
    (dict(backbone_name="resnet", classes=["tumour", "stroma"]), r"Unknown backbone 'resnet'\. Choose one of: "),
    (dict(backbone_name="resnet18", classes=["tumour"]), r"at least two distinct classes"),
    (dict(backbone_name="resnet18", classes=["a", "b"]), r"No class is named 'tumour' or 'tumor'.*tumour_class="),
    (dict(backbone_name="resnet18", classes=["a", "b"], tumour_class="c"), r"tumour_class 'c' is not one of"),
], ids=["unknown-backbone", "one-class", "no-tumour", "bad-tumour-class"])
def test_classifier_construction_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TileClassifier(**kwargs)


def test_tumor_spelling_is_recognised():
    with pytest.warns(MultisurvWarning, match="randomly initialised"):
        assert TileClassifier("resnet18", ["Stroma", "Tumor"]).tumour_class == "Tumor"


@pytest.mark.parametrize("change, match", [
    (lambda t: t.drop(columns=["read_size"]), r"'patches' lacks column\(s\) \['read_size'\]; build it with"),
    (lambda t: t.iloc[:-2].assign(label=["tumour"] + ["stroma"] * (len(t) - 3)),
     r"Class\(es\) \['tumour'\] have fewer than 2 patches.*Annotate more"),
], ids=["missing-column", "rare-class"])
def test_training_input_errors(annotated, change, match):
    _, patches = annotated
    with pytest.raises(ValueError, match=match):
        train_tile_classifier(change(patches), backbone="resnet18", weights=None, epochs=1)


def test_training_parameter_errors(annotated):
    _, patches = annotated
    with pytest.raises(ValueError, match=r"The 'epochs' parameter of train_tile_classifier must be an int"):
        train_tile_classifier(patches, backbone="resnet18", weights=None, epochs=0)
    with pytest.raises(ValueError, match=r"Patch labels \[.*'muscle'.*\] are not among the classes \['tumour', 'stroma'\]"):
        train_tile_classifier(patches, backbone="resnet18", weights=None, classes=["tumour", "stroma"])


def test_extraction_keeps_tumour_tiles_by_threshold(trained, annotated, tmp_path):
    clf, _, _ = trained
    ckpt = clf.save(tmp_path / "clf.pt")
    slide = annotated[0][0][0]
    with open_slide(slide) as handle:  # probabilities of every tile, to put the threshold between them
        coords = np.array([(x, y) for y in range(0, 896, 224) for x in range(0, 1120, 224)])
        plan = plan_tiles(handle, **FAST)
        tiles = np.stack(list(iter_tiles(handle, coords, plan.read_size, plan.level, out_size=plan.tile_size)))
        p_tumour = clf.predict_proba(tiles)[:, clf.tumour_index]
    threshold = float(np.median(p_tumour))
    result = extract_pathomics_cases([("p1", {"wsi": str(slide)})], out_dir=tmp_path / "out", encoder=None,
                                     classifier=ckpt, threshold=threshold, min_tissue=0.0, batch_size=8,
                                     loader_workers=0, progress=False, **FAST)
    assert result.failures.empty, result.failures.to_dict("records")
    info = result.info.loc["p1"]
    table = read_patches(info["patch_file"])
    assert table.classes == CLASSES and table.attrs["tumour_class"] == "tumour"
    assert table.probabilities.shape == (20, 6)
    np.testing.assert_array_equal(table.keep, table.probabilities[:, clf.tumour_index] >= threshold)
    assert 0 < table.keep.sum() < 20 and info["n_kept"] == table.keep.sum()
    # the slide vector is the mean of the kept tiles' features (encoded by the classifier's own backbone)
    assert table.features.shape[1] == 512
    np.testing.assert_allclose(result.features.loc["p1"].to_numpy(), table.features[table.keep].mean(axis=0),
                               rtol=1e-5, atol=1e-6)
    assert str(info["qc_thumbnail"]).endswith("p1.qc.png") and Path(info["qc_thumbnail"]).is_file()

    # a threshold no tile reaches: a per-slide failure naming the slide and the fix
    none = extract_pathomics_cases([("p1", {"wsi": str(slide)})], out_dir=tmp_path / "out", encoder=None,
                                   classifier=ckpt, threshold=min(1.0, float(p_tumour.max()) + 1e-3),
                                   min_tissue=0.0, batch_size=8, loader_workers=0, progress=False, **FAST)
    assert none.features.empty
    assert none.failures["message"].str.contains(r"none of its 20 tissue tiles has P\('tumour'\)").all()


@pytest.mark.slow
def test_accuracy_well_above_chance(tmp_path, capsys):
    """ResNet-18 from random weights, 8 epochs on 3 synthetic slides (112 px tiles at 1 um/px); a 4th slide held out.

    Six classes: chance is about 1/6 (0.17). lr 1e-3 rather than the study's 1e-4 because training starts from
    random weights (no ImageNet download in tests), not from a pretrained network being fine-tuned. Measured
    (2 shared cores, 2 min 40 s): validation accuracy 1.000 (15 patches; majority class 0.200) and 1.000 on the
    held-out slide (15 patches): the synthetic classes differ in colour and texture by design, so this shows
    that training works end to end, not how hard real tissue is.
    """
    pairs = _annotated(tmp_path, [10, 11, 12, 13])
    train_table = make_patch_dataset(pairs[:3], tile_size=112, mpp=1.0)
    with pytest.warns(MultisurvWarning, match="randomly initialised"):
        clf, report = train_tile_classifier(train_table, backbone="resnet18", weights=None, epochs=8,
                                            batch_size=16, lr=1e-3)
    held_out = make_patch_dataset(pairs[3:], tile_size=112, mpp=1.0)
    held_accuracy = float(np.mean(clf.predict(_tiles(held_out)) == held_out["label"].to_numpy()))
    with capsys.disabled():
        print(f"\ntile classifier on synthetic tissue classes: validation accuracy {report.accuracy:.3f} "
              f"(n={report.n_val}, majority-class {report.chance:.3f}), held-out slide {held_accuracy:.3f} "
              f"(n={len(held_out)}); chance 1/6 = 0.167\n{report.confusion}")
    assert report.accuracy >= 0.5 and report.accuracy > 2 * report.chance
    assert held_accuracy >= 0.5
