"""`multisurv train-classifier`: the tissue-type tile classifier from QuPath annotations, on the command line."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("openslide")

from multisurv.cli import main  # noqa: E402
from multisurv.cohort.synthetic_wsi import TISSUE_CLASSES, write_annotated_slide  # noqa: E402
from multisurv.features.wsi.classifier import TileClassifier  # noqa: E402

#: Small and fast: ResNet-18 from random weights (no download), one epoch, 56 px tiles at 2 um/px.
FAST = ["--backbone", "resnet18", "--weights", "none", "--epochs", "1", "--batch-size", "16", "--tile-size", "56",
        "--mpp", "2.0"]


@pytest.fixture(scope="module")
def annotation_list(tmp_path_factory):
    root = tmp_path_factory.mktemp("annotated")
    (root / "slides").mkdir()
    for seed in (0, 1):
        write_annotated_slide(root / "slides" / f"s{seed}.tiff", root / "slides" / f"s{seed}.geojson",
                              random_state=seed)
    listing = root / "annotations.csv"
    listing.write_text("slide,annotations\nslides/s0.tiff,slides/s0.geojson\nslides/s1.tiff,slides/s1.geojson\n")
    return listing


@pytest.mark.filterwarnings("ignore:.*randomly initialised:multisurv.exceptions.MultisurvWarning")
def test_training_writes_a_checkpoint_extraction_can_use_and_its_records(annotation_list, tmp_path, capsys):
    out = tmp_path / "clf"
    assert main(["train-classifier", str(annotation_list), "--out", str(out), *FAST,
                 "--class-map", "background=", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    patches = pd.read_csv(out / "patches.csv")
    classes = sorted(set(TISSUE_CLASSES) - {"background"})  # dropped by the class map
    assert sorted(patches["label"].unique()) == classes
    assert patches["slide"].nunique() == 2 and (patches["tile_size"] == 56).all()
    assert f"{len(patches)} labelled patches from 2 slide(s)" in printed and "Validation accuracy" in printed
    clf = TileClassifier.load(out / "classifier.pt")
    assert clf.classes == classes and clf.tumour_class == "tumour" and clf.backbone_name == "resnet18"
    record = json.loads((out / "training.json").read_text())
    assert record["checkpoint_sha256"] == hashlib.sha256((out / "classifier.pt").read_bytes()).hexdigest()
    assert record["n_train"] + record["n_val"] == len(patches) and record["seed"] == 3
    confusion = pd.read_csv(out / "confusion.csv", index_col=0)
    assert list(confusion.index) == classes and int(confusion.to_numpy().sum()) == record["n_val"]
    history = pd.read_csv(out / "training_history.csv")
    assert len(history) == 1 and history["val_accuracy"].between(0, 1).all()
    # the final accuracy is of the saved weights (after the BatchNorm statistics are recomputed), as in the checkpoint
    assert clf.metrics["val_accuracy"] == pytest.approx(record["val_accuracy"])


def test_a_bad_annotation_list_names_every_row_and_column(annotation_list, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"slide,annotations\n{annotation_list.parent / 'slides' / 's0.tiff'},nope.geojson\n"
                   "missing.tiff,\n")
    assert main(["train-classifier", str(bad), "--out", str(tmp_path / "o"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    assert "row 2, column 'annotations': 'nope.geojson'" in err and "row 3, column 'slide': 'missing.tiff'" in err
    assert "row 3, column 'annotations': empty is not a file" in err and "relative paths are read from" in err
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("image,geojson\na,b\n")
    assert main(["train-classifier", str(wrong), "--out", str(tmp_path / "o"), *FAST]) == 2
    assert "has no column(s) ['slide', 'annotations']" in capsys.readouterr().err
    assert main(["train-classifier", str(annotation_list), "--out", str(tmp_path / "o"), *FAST,
                 "--class-map", "tumour"]) == 2
    assert "--class-map takes OLD=NEW pairs" in capsys.readouterr().err
    assert not (tmp_path / "o" / "classifier.pt").exists()
