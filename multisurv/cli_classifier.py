"""``multisurv train-classifier ANNOTATIONS.csv --out DIR``: fine-tune the tissue-type tile classifier.

``ANNOTATIONS.csv`` lists annotated slides, one per row: ``slide`` (a whole-slide image) and ``annotations``
(its QuPath GeoJSON export of classified polygons); relative paths are read from the CSV's folder. Every grid
tile covered by an annotation becomes a labelled patch; a backbone (ResNet50 by default, ImageNet weights) and a
linear head are fine-tuned on a stratified 7:3 split of the patches, as in the reference study. ``DIR`` receives
``classifier.pt`` (for ``multisurv extract pathomics --classifier``), ``patches.csv``, ``training_history.csv``,
``confusion.csv`` and ``training.json`` (accuracy, chance level, sizes, settings, checkpoint SHA-256).
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_commands", "read_annotation_list"]


def add_commands(subparsers) -> None:
    """Add ``train-classifier`` to the ``multisurv`` parser's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned for the ``multisurv`` command.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="multisurv")
    >>> add_commands(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["train-classifier", "annotations.csv", "--out", "classifier"])
    >>> args.epochs, args.lr, args.val_fraction, args.func.__name__
    (10, 0.0001, 0.3, '_cmd_train')
    """
    p = subparsers.add_parser("train-classifier", help="Fine-tune the tissue-type tile classifier on QuPath "
                                                       "annotations (keeps tumour tiles in pathomics).",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("annotations", type=Path, metavar="ANNOTATIONS.csv",
                   help="CSV with columns 'slide' and 'annotations' (GeoJSON), one annotated slide per row.")
    p.add_argument("--out", type=Path, required=True, help="Output folder.")
    p.add_argument("--backbone", default="resnet50", help="Backbone (default resnet50).")
    p.add_argument("--weights", default="imagenet",
                   help="Starting weights: 'imagenet' (torchvision's, downloaded once), a local state_dict path, or "
                        "'none' (random; for tests). Default imagenet.")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4).")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--val-fraction", type=float, default=0.3, help="Validation share of the stratified split.")
    p.add_argument("--tile-size", type=int, default=224)
    res = p.add_mutually_exclusive_group()
    res.add_argument("--mpp", type=float, default=None, help="Tile resolution in micrometres per pixel.")
    res.add_argument("--magnification", type=float, default=None, help="Tile resolution as objective power.")
    res.add_argument("--level", type=int, default=0, help="Pyramid level (default 0, when no --mpp/--magnification).")
    p.add_argument("--min-overlap", type=float, default=0.5,
                   help="Share of a tile an annotation must cover to label it (default 0.5).")
    p.add_argument("--class-map", nargs="+", default=None, metavar="OLD=NEW",
                   help="Rename annotation classes (e.g. Tumor=tumour); OLD= drops a class.")
    p.add_argument("--tumour-class", default=None, help="Class whose tiles pathomics keeps (default: 'tumour').")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="DataLoader processes reading patches (default 0).")
    p.set_defaults(func=_cmd_train)


def read_annotation_list(path: Path) -> list[tuple[Path, Path]]:
    """The (slide, GeoJSON) pairs of an annotation list; raise one ValueError listing every problem.

    Parameters
    ----------
    path : Path
        CSV with columns ``slide`` and ``annotations`` (a QuPath GeoJSON export), one annotated slide per row;
        relative paths are read from the CSV's folder.

    Returns
    -------
    list of (Path, Path)
        The resolved (slide, GeoJSON) paths, in the CSV's order.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a file.
    ValueError
        When a column is missing, the list is empty, or any path is not a file (every such row listed at once,
        numbered as in a spreadsheet: the header is row 1).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "s1.tiff").write_text(""), (Path(d) / "s1.geojson").write_text("{}")
    ...     _ = (Path(d) / "list.csv").write_text("slide,annotations\\ns1.tiff,s1.geojson\\n")
    ...     pairs = read_annotation_list(Path(d) / "list.csv")
    >>> [(slide.name, geojson.name) for slide, geojson in pairs]
    [('s1.tiff', 's1.geojson')]
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Annotation list {str(path)!r} does not exist. Give a CSV with columns 'slide' and "
                                "'annotations' (one annotated slide per row).")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("slide", "annotations") if c not in table.columns]
    if missing:
        raise ValueError(f"{path} has no column(s) {missing}; it has {list(table.columns)}. Name the slide column "
                         "'slide' and the GeoJSON column 'annotations'.")
    if table.empty:
        raise ValueError(f"{path} lists no slide. Add one row per annotated slide.")
    pairs, problems = [], []
    for i, row in table.iterrows():
        found = []
        for column in ("slide", "annotations"):
            value = row[column].strip()
            resolved = (path.parent / value).resolve() if value else None
            if resolved is None or not resolved.is_file():
                shown = f"{value!r} (resolved to {resolved})" if value else "empty"
                problems.append(f"row {i + 2}, column '{column}': {shown} is not a file")
            found.append(resolved)
        pairs.append(tuple(found))
    if problems:
        raise ValueError(f"{path}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems)
                         + "\nFix the paths (relative paths are read from the CSV's folder).")
    return pairs


def _class_map(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    bad = [item for item in items if "=" not in item or not item.split("=", 1)[0]]
    if bad:
        raise ValueError(f"--class-map takes OLD=NEW pairs (OLD= drops the class); got {bad}. Write e.g. "
                         "--class-map Tumor=tumour Stroma=stroma Ignore=")
    return dict(item.split("=", 1) for item in items)


def _cmd_train(args: argparse.Namespace) -> int:
    import json

    from multisurv._atomic import write_csv_atomic, write_json_atomic
    from multisurv.features.wsi.annotations import make_patch_dataset
    from multisurv.features.wsi.classifier import train_tile_classifier
    from multisurv.report.tables import to_markdown

    pairs = read_annotation_list(args.annotations)
    class_map = _class_map(args.class_map)
    weights = None if str(args.weights).lower() == "none" else args.weights
    args.out.mkdir(parents=True, exist_ok=True)
    patches = make_patch_dataset(pairs, tile_size=args.tile_size, mpp=args.mpp, magnification=args.magnification,
                                 level=args.level, min_overlap=args.min_overlap, class_map=class_map)
    write_csv_atomic(args.out / "patches.csv", patches, index=False)
    counts = patches["label"].value_counts().sort_index()
    print(f"{len(patches)} labelled patches from {len(pairs)} slide(s): "
          + ", ".join(f"{label} {n}" for label, n in counts.items()))
    clf, report = train_tile_classifier(patches, backbone=args.backbone, weights=weights,
                                        tumour_class=args.tumour_class, epochs=args.epochs, lr=args.lr,
                                        batch_size=args.batch_size, val_fraction=args.val_fraction,
                                        random_state=args.seed, loader_workers=args.workers)
    checkpoint = clf.save(args.out / "classifier.pt")
    write_csv_atomic(args.out / "training_history.csv", report.history, index=False, float_format="%.6g")
    write_csv_atomic(args.out / "confusion.csv", report.confusion.rename_axis("true_class"))
    summary = {"val_accuracy": report.accuracy, "chance": report.chance, "n_train": report.n_train,
               "n_val": report.n_val, "classes": clf.classes, "tumour_class": clf.tumour_class,
               "backbone": args.backbone, "weights": str(args.weights), "epochs": args.epochs, "lr": args.lr,
               "batch_size": args.batch_size, "tile_size": args.tile_size, "mpp": args.mpp,
               "magnification": args.magnification, "level": args.level, "seed": args.seed,
               "slides": [str(s) for s, _ in pairs], "checkpoint": str(checkpoint),
               "checkpoint_sha256": clf.digest}
    write_json_atomic(args.out / "training.json", json.loads(json.dumps(summary)))
    print(to_markdown(report.history))
    print(f"\nValidation accuracy of the saved classifier {report.accuracy:.3f} on {report.n_val} patches (always the "
          f"most frequent class: {report.chance:.3f}; the per-epoch figures above precede the final recomputation of "
          "the BatchNorm statistics); confusion matrix (rows true, columns predicted):\n")
    print(to_markdown(report.confusion.rename_axis("true \\ predicted").reset_index()))
    print(f"\nClassifier: {checkpoint}  (use: multisurv extract pathomics MANIFEST --out DIR --classifier {checkpoint})")
    return 0
