"""Tissue-type tile classifier: fine-tune a torchvision backbone on annotated patches, keep tumour tiles.

The reference study fine-tuned an ImageNet ResNet-50 on patches of partially annotated slides (tumour,
stroma, mucosa, muscle, necrosis, background) with Adam (lr 1e-4), batch 64, random flips and rotations and a
7:3 train/validation split, then kept the tiles predicted tumour and took the 2048-d global-average-pooled
features of the same network. :func:`train_tile_classifier` does that on a patch table from
:func:`~multisurv.features.wsi.annotations.make_patch_dataset` and returns a :class:`TileClassifier` (backbone
+ linear head, class names, tiling) and a :class:`TrainingReport` (validation accuracy, confusion matrix, loss
curve). ``TileClassifier.save`` / ``load`` round-trip a checkpoint; ``extract_pathomics(classifier=...)``
applies it to every tile and pools the tumour tiles.

torch is imported when a classifier is built or trained.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from multisurv._atomic import write_atomic
from multisurv._optional import require
from multisurv._validation import check_param
from multisurv.features.wsi.encoders import CLASSIFIER_BACKBONES, IMAGENET_MEAN, IMAGENET_STD, Encoder, \
    build_backbone, encoder_spec, resolve_device

__all__ = ["TileClassifier", "TrainingReport", "PatchDataset", "train_tile_classifier", "CHECKPOINT_FORMAT"]

logger = logging.getLogger(__name__)

#: Version of the checkpoint layout written by :meth:`TileClassifier.save`.
CHECKPOINT_FORMAT = 1
_TUMOUR_NAMES = ("tumour", "tumor")


def _resolve_tumour(classes: Sequence[str], tumour_class: str | None) -> str:
    if tumour_class is not None:
        if tumour_class not in classes:
            raise ValueError(f"tumour_class {tumour_class!r} is not one of the classes: "
                             f"{', '.join(repr(c) for c in classes)}.")
        return tumour_class
    for name in classes:
        if name.lower() in _TUMOUR_NAMES:
            return name
    raise ValueError(f"No class is named 'tumour' or 'tumor' among {', '.join(repr(c) for c in classes)}; pass "
                     "tumour_class=<the tumour class's name>.")


#: Keys every tile-classifier checkpoint holds (besides ``format``); a missing one is named on load.
_CHECKPOINT_KEYS = ("backbone", "classes", "state_dict", "tumour_class", "tile_size", "mpp", "mean", "std")


def _check_checkpoint_keys(payload: dict, path: str) -> None:
    """Name every key a checkpoint lacks (instead of a bare KeyError on the first one)."""
    missing = [repr(k) for k in _CHECKPOINT_KEYS if k not in payload]
    state_dict = payload.get("state_dict")
    missing += [f"state_dict[{k!r}]" for k in ("fc.weight", "fc.bias")
                if isinstance(state_dict, dict) and k not in state_dict]
    if missing:
        raise ValueError(f"The classifier checkpoint {path!r} lacks {', '.join(missing)}: it is incomplete or "
                         "damaged. Save it again with TileClassifier.save (or retrain it with 'multisurv "
                         "train-classifier').")


class TileClassifier:
    """A backbone (tile -> features) and a linear head (features -> class probabilities).

    Parameters
    ----------
    backbone_name : str
        Registry name of the backbone (``"resnet50"``, ``"resnet18"``...).
    classes : sequence of str
        Class names, in the order of the head's outputs.
    tumour_class : str, optional
        The class whose probability selects tiles (default: the class named ``tumour`` or ``tumor``).
    backbone, head : torch.nn.Module, optional
        Ready modules (default: a fresh backbone with ``weights`` and a new ``Linear(dim, n_classes)``).
    weights : None, "imagenet" or path
        Initial backbone weights when ``backbone`` is not given.
    tile_size : int, default=224
        Tile side in pixels the classifier was trained on.
    mpp : float, optional
        Resolution the classifier was trained at (recorded; applied when tiling is asked for the same).
    device : str, optional
        Default: ``"cuda"`` when available, else ``"cpu"``.
    digest : str, default="untrained"
        SHA-256 of the checkpoint the classifier was loaded from (set by :meth:`load` and :meth:`save`).
    metrics : dict, optional
        Validation metrics recorded with the checkpoint.

    Raises
    ------
    ValueError
        When the backbone is not one of ``CLASSIFIER_BACKBONES``, the classes are fewer than two or repeated, or
        no tumour class can be found.
    ImportError
        When torch is not installed (``pip install "multisurv[wsi]"``).

    See Also
    --------
    train_tile_classifier : Fine-tunes one on labelled patches.

    Examples
    --------
    >>> clf = TileClassifier("resnet18", ["stroma", "tumour"], weights="imagenet")  # doctest: +SKIP
    >>> clf.tumour_class, clf.tumour_index  # doctest: +SKIP
    ('tumour', 1)
    """

    def __init__(self, backbone_name: str, classes: Sequence[str], *, tumour_class: str | None = None,
                 backbone: Any = None, head: Any = None, weights: str | os.PathLike | None = None,
                 tile_size: int = 224, mpp: float | None = None, device: str | None = None,
                 digest: str = "untrained", metrics: dict | None = None):
        torch = require("torch", extra="wsi")
        if backbone_name not in CLASSIFIER_BACKBONES:
            raise ValueError(f"Unknown backbone {backbone_name!r}. Choose one of: "
                             f"{', '.join(repr(n) for n in CLASSIFIER_BACKBONES)}.")
        self.classes = [str(c) for c in classes]
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValueError(f"A tile classifier needs at least two distinct classes; got {self.classes}.")
        self.tumour_class = _resolve_tumour(self.classes, tumour_class)
        self.backbone_name = backbone_name
        if backbone is None:
            backbone, _ = build_backbone(backbone_name, weights, stacklevel=3)
        self.dim = int(encoder_spec(backbone_name).dim)
        self.backbone = backbone
        self.head = head if head is not None else torch.nn.Linear(self.dim, len(self.classes))
        self.tile_size = int(tile_size)
        self.mpp = mpp
        self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD
        self.digest = digest
        self.metrics = dict(metrics or {})
        self.to(resolve_device(device))

    @property
    def tumour_index(self) -> int:
        """Position of ``tumour_class`` in ``classes``: the column of the tumour probability.

        Examples
        --------
        >>> clf = TileClassifier.load("models/tissue_resnet50.pt", device="cpu")  # doctest: +SKIP
        >>> clf.classes[clf.tumour_index] == clf.tumour_class  # doctest: +SKIP
        True
        """
        return self.classes.index(self.tumour_class)

    def to(self, device: str) -> "TileClassifier":
        """Move the backbone and the head to ``device`` (channels-last memory for the backbone).

        Parameters
        ----------
        device : str
            A torch device such as ``"cpu"`` or ``"cuda:0"``.

        Returns
        -------
        TileClassifier
            ``self``, moved.

        Raises
        ------
        ImportError
            When torch (the ``wsi`` extra) is not installed.

        Examples
        --------
        >>> clf = TileClassifier.load("models/tissue_resnet50.pt", device="cpu")  # doctest: +SKIP
        >>> clf.to("cuda:0").device  # doctest: +SKIP
        'cuda:0'
        """
        torch = require("torch", extra="wsi")
        self.device = str(device)
        self.backbone.to(device=self.device, memory_format=torch.channels_last)
        self.head.to(self.device)
        return self

    def eval(self) -> "TileClassifier":
        """Put the backbone and the head in inference mode (dropout off, batch-norm statistics frozen).

        Returns
        -------
        TileClassifier
            ``self``.

        Examples
        --------
        >>> clf = TileClassifier.load("models/tissue_resnet50.pt", device="cpu")  # doctest: +SKIP
        >>> clf.eval().head.training  # doctest: +SKIP
        False
        """
        self.backbone.eval()
        self.head.eval()
        return self

    def as_encoder(self) -> Encoder:
        """The fine-tuned backbone as a tile encoder (the study's features: its global-average-pooled layer).

        Returns
        -------
        Encoder
            Named ``<backbone>-tissue``, weights tagged ``sha256:<digest>``; the classifier is put in eval mode.

        Examples
        --------
        >>> clf = TileClassifier.load("models/tissue_resnet50.pt", device="cpu")  # doctest: +SKIP
        >>> clf.as_encoder().name  # doctest: +SKIP
        'resnet50-tissue'
        """
        self.eval()
        return Encoder(name=f"{self.backbone_name}-tissue", model=self.backbone, dim=self.dim, device=self.device,
                       weights=f"sha256:{self.digest}", mean=self.mean, std=self.std)

    def probabilities_from(self, features, x):
        """Class probabilities (N, n_classes) from backbone ``features``, or from the input batch ``x`` if None.

        Parameters
        ----------
        features : torch.Tensor or None
            Backbone output of the batch (reused when the encoder already computed it).
        x : torch.Tensor
            The normalised input batch (N, 3, H, W); read only when ``features`` is None.

        Returns
        -------
        torch.Tensor
            Softmax probabilities, one column per class.

        Examples
        --------
        >>> clf = TileClassifier.load("models/tissue_resnet50.pt", device="cpu")  # doctest: +SKIP
        >>> batch = clf.as_encoder().transform(tiles)  # doctest: +SKIP
        >>> clf.probabilities_from(None, batch).shape  # doctest: +SKIP
        torch.Size([8, 2])
        """
        torch = require("torch", extra="wsi")
        if features is None:
            features = self.backbone(x)
        return torch.softmax(self.head(features.reshape(features.shape[0], -1).float()), dim=1)

    def predict_proba(self, tiles) -> np.ndarray:
        """Class probabilities of uint8 RGB tiles (N, H, W, 3) as a float array (N, n_classes).

        Parameters
        ----------
        tiles : ndarray or torch.Tensor of uint8, shape (N, H, W, 3)
            RGB tiles.

        Returns
        -------
        ndarray of float32, shape (N, n_classes)
            Columns in the order of ``classes``.

        Examples
        --------
        >>> clf = TileClassifier.load("models/tissue_resnet50.pt", device="cpu")  # doctest: +SKIP
        >>> clf.predict_proba(tiles)[:, clf.tumour_index] >= 0.5  # doctest: +SKIP
        """
        torch = require("torch", extra="wsi")
        encoder = self.as_encoder()
        with torch.inference_mode():
            return self.probabilities_from(None, encoder.transform(tiles)).float().cpu().numpy()

    def predict(self, tiles) -> np.ndarray:
        """Predicted class names of uint8 RGB tiles (N, H, W, 3).

        Parameters
        ----------
        tiles : ndarray or torch.Tensor of uint8, shape (N, H, W, 3)
            RGB tiles.

        Returns
        -------
        ndarray of str (object dtype), shape (N,)
            The most probable class of each tile.

        Examples
        --------
        >>> clf = TileClassifier.load("models/tissue_resnet50.pt", device="cpu")  # doctest: +SKIP
        >>> clf.predict(tiles[:2])  # doctest: +SKIP
        array(['tumour', 'stroma'], dtype=object)
        """
        return np.asarray(self.classes, dtype=object)[self.predict_proba(tiles).argmax(axis=1)]

    def save(self, path: str | os.PathLike) -> Path:
        """Write a checkpoint (atomically); ``digest`` becomes the SHA-256 of its bytes.

        The file holds ``format``, ``backbone``, ``classes``, ``tumour_class``, ``tile_size``, ``mpp``,
        ``mean``, ``std``, ``metrics`` and ``state_dict`` (backbone keys as in torchvision, head keys ``fc.*``,
        so the file is also a torchvision state_dict of the whole classifier).

        Parameters
        ----------
        path : str or Path
            The checkpoint file to write.

        Returns
        -------
        Path
            The file written.

        Examples
        --------
        >>> clf.save("models/tissue_resnet50.pt")  # doctest: +SKIP
        PosixPath('models/tissue_resnet50.pt')
        """
        torch = require("torch", extra="wsi")
        state = {k: v.detach().cpu() for k, v in self.backbone.state_dict().items()}
        state.update({f"fc.{k}": v.detach().cpu() for k, v in self.head.state_dict().items()})
        payload = {"format": CHECKPOINT_FORMAT, "backbone": self.backbone_name, "classes": self.classes,
                   "tumour_class": self.tumour_class, "tile_size": self.tile_size, "mpp": self.mpp,
                   "mean": list(self.mean), "std": list(self.std), "metrics": self.metrics, "state_dict": state}
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        data = buffer.getvalue()
        path = write_atomic(path, lambda p: Path(p).write_bytes(data))
        self.digest = hashlib.sha256(data).hexdigest()
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None) -> "TileClassifier":
        """Read a checkpoint written by :meth:`save`.

        Parameters
        ----------
        path : str or Path
            The checkpoint (read with ``torch.load(weights_only=True)``, so it cannot run code).
        device : str, optional
            Default: ``"cuda"`` when available, else ``"cpu"``.

        Returns
        -------
        TileClassifier
            In eval mode, its parameters frozen, ``digest`` the file's SHA-256.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ValueError
            If it is not a multisurv tile-classifier checkpoint (the message names the file).

        Examples
        --------
        >>> clf = TileClassifier.load("models/tissue_resnet50.pt")  # doctest: +SKIP
        >>> clf.classes, len(clf.digest)  # doctest: +SKIP
        (['necrosis', 'normal', 'stroma', 'tumour'], 64)
        """
        torch = require("torch", extra="wsi")
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"The classifier checkpoint {path!r} does not exist. Train one with "
                                    "multisurv.features.wsi.classifier.train_tile_classifier, save it with "
                                    "TileClassifier.save and pass its path.")
        with open(path, "rb") as fh:
            data = fh.read()
        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch.load raises many types for non-checkpoints; re-raised with the file name
            raise ValueError(f"Cannot read the classifier checkpoint {path!r} ({type(exc).__name__}: {exc}).") from exc
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT or "classes" not in payload:
            raise ValueError(f"{path!r} is not a multisurv tile-classifier checkpoint (format {CHECKPOINT_FORMAT}); "
                             "save one with TileClassifier.save.")
        _check_checkpoint_keys(payload, path)
        if payload.get("backbone") not in CLASSIFIER_BACKBONES:
            raise ValueError(f"The classifier checkpoint {path!r} has backbone {payload.get('backbone')!r}, which this "
                             f"version of multisurv does not know. Choose one of: "
                             f"{', '.join(repr(n) for n in CLASSIFIER_BACKBONES)} (or upgrade multisurv).")
        models = require("torchvision.models", extra="wsi")
        backbone = getattr(models, encoder_spec(payload["backbone"]).arch["constructor"])(weights=None)
        backbone.fc = torch.nn.Identity()
        state = payload["state_dict"]
        backbone.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=True)
        head = torch.nn.Linear(state["fc.weight"].shape[1], state["fc.weight"].shape[0])
        head.load_state_dict({"weight": state["fc.weight"], "bias": state["fc.bias"]})
        out = cls(payload["backbone"], payload["classes"], tumour_class=payload["tumour_class"], backbone=backbone,
                  head=head, tile_size=payload["tile_size"], mpp=payload["mpp"], device=device,
                  digest=hashlib.sha256(data).hexdigest(), metrics=payload.get("metrics"))
        out.mean, out.std = tuple(payload["mean"]), tuple(payload["std"])
        for param in list(out.backbone.parameters()) + list(out.head.parameters()):
            param.requires_grad_(False)
        return out.eval()


def read_checkpoint_header(path: str | os.PathLike) -> dict:
    """What a classifier checkpoint is, without building its network: ``digest`` (SHA-256 of the file),
    ``backbone``, ``classes``, ``tumour_class``, ``mean``, ``std``.

    Raises
    ------
    FileNotFoundError, ValueError
        As :meth:`TileClassifier.load`.
    """
    torch = require("torch", extra="wsi")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The classifier checkpoint {path!r} does not exist. Train one with "
                                "multisurv.features.wsi.classifier.train_tile_classifier, save it with "
                                "TileClassifier.save and pass its path.")
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for non-checkpoints; re-raised with the file name
        raise ValueError(f"Cannot read the classifier checkpoint {path!r} ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT or "classes" not in payload:
        raise ValueError(f"{path!r} is not a multisurv tile-classifier checkpoint (format {CHECKPOINT_FORMAT}); "
                         "save one with TileClassifier.save.")
    _check_checkpoint_keys(payload, path)
    if payload.get("backbone") not in CLASSIFIER_BACKBONES:
        raise ValueError(f"The classifier checkpoint {path!r} has backbone {payload.get('backbone')!r}, which this "
                         f"version of multisurv does not know. Choose one of: "
                         f"{', '.join(repr(n) for n in CLASSIFIER_BACKBONES)} (or upgrade multisurv).")
    return {"digest": hashlib.sha256(data).hexdigest(), "backbone": payload["backbone"],
            "classes": [str(c) for c in payload["classes"]], "tumour_class": payload["tumour_class"],
            "mean": list(payload["mean"]), "std": list(payload["std"])}


@dataclass(frozen=True)
class TrainingReport:
    """What fine-tuning gave (:func:`train_tile_classifier`).

    Parameters
    ----------
    accuracy : float
        Validation accuracy (share of validation patches whose arg-max class is the label).
    confusion : pandas.DataFrame
        Validation confusion matrix: rows true class, columns predicted class (counts).
    history : pandas.DataFrame
        Per epoch: ``train_loss``, ``train_accuracy``, ``val_accuracy``, ``seconds``.
    n_train, n_val : int
        Training and validation patches.
    chance : float
        Accuracy of always predicting the most frequent training class, on the validation set.

    Examples
    --------
    >>> report = TrainingReport(accuracy=0.91, confusion=pd.DataFrame(), history=pd.DataFrame({"val_accuracy": [0.91]}),
    ...                         n_train=800, n_val=200, chance=0.4)
    >>> report.to_frame().to_dict("records")
    [{'val_accuracy': 0.91, 'chance': 0.4, 'n_train': 800, 'n_val': 200, 'epochs': 1}]
    """

    accuracy: float
    confusion: pd.DataFrame
    history: pd.DataFrame
    n_train: int
    n_val: int
    chance: float

    def to_frame(self) -> pd.DataFrame:
        """One-row summary.

        Returns
        -------
        pandas.DataFrame
            ``val_accuracy``, ``chance``, ``n_train``, ``n_val`` and ``epochs`` (rows of ``history``).

        Examples
        --------
        >>> TrainingReport(0.9, pd.DataFrame(), pd.DataFrame(index=range(3)), 80, 20, 0.5).to_frame()["epochs"].item()
        3
        """
        return pd.DataFrame([{"val_accuracy": self.accuracy, "chance": self.chance, "n_train": self.n_train,
                              "n_val": self.n_val, "epochs": len(self.history)}])


class PatchDataset:
    """Map-style dataset of labelled patches read lazily from their slides (one open handle per slide and process).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`~multisurv.features.wsi.annotations.make_patch_dataset` (``slide, x, y, level, read_size,
        tile_size``) with an integer ``target`` column. Its index is reset.

    Notes
    -----
    ``dataset[i]`` is ``(tile, target)``: the patch as a uint8 RGB array of shape ``(tile_size, tile_size, 3)``
    and its integer label. Pickling (worker processes) drops the open slide handles; each process opens its own.

    Examples
    --------
    >>> table = pd.DataFrame({"slide": ["slides/P1.svs"] * 2, "x": [0, 448], "y": [0, 0], "level": 0,
    ...                       "read_size": 448, "tile_size": 224, "target": [1, 0]})
    >>> dataset = PatchDataset(table)
    >>> len(dataset)
    2
    >>> tile, target = dataset[0]  # doctest: +SKIP
    >>> tile.shape, target  # doctest: +SKIP
    ((224, 224, 3), 1)
    >>> dataset.close()
    """

    def __init__(self, table: pd.DataFrame):
        self.table = table.reset_index(drop=True)
        self._slides: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int):
        from multisurv.features.wsi.reader import iter_tiles, open_slide

        row = self.table.iloc[int(i)]
        slide = self._slides.get(row.slide)
        if slide is None:
            slide = self._slides[row.slide] = open_slide(row.slide)
        tile = next(iter_tiles(slide, [(row.x, row.y)], int(row.read_size), int(row.level),
                               out_size=int(row.tile_size)))
        return tile, int(row.target)

    def __getstate__(self):  # slide handles stay in their process
        return {"table": self.table, "_slides": {}}

    def close(self) -> None:
        """Close the slides opened in this process (the dataset stays usable: a later read reopens them).

        Examples
        --------
        >>> dataset = PatchDataset(pd.DataFrame(columns=["slide", "x", "y", "level", "read_size", "tile_size",
        ...                                              "target"]))
        >>> dataset.close()
        >>> len(dataset)
        0
        """
        for slide in self._slides.values():
            slide.close()
        self._slides.clear()


def _augment(torch, batch, generator):
    """Random horizontal and vertical flips and 90-degree rotations, per patch (exact: no interpolation)."""
    out = batch.clone()
    n = batch.shape[0]
    flips = torch.rand((n, 2), generator=generator) < 0.5
    turns = torch.randint(0, 4, (n,), generator=generator)
    for i in range(n):
        img = out[i]
        if flips[i, 0]:
            img = img.flip(2)
        if flips[i, 1]:
            img = img.flip(1)
        out[i] = torch.rot90(img, int(turns[i]), dims=(1, 2))
    return out


def train_tile_classifier(patches: pd.DataFrame, *, backbone: str = "resnet50",
                          weights: str | os.PathLike | None = "imagenet", classes: Sequence[str] | None = None,
                          tumour_class: str | None = None, epochs: int = 10, lr: float = 1e-4, batch_size: int = 64,
                          val_fraction: float = 0.3, augment: bool = True, random_state: int = 0,
                          device: str | None = None, loader_workers: int = 0
                          ) -> tuple[TileClassifier, TrainingReport]:
    """Fine-tune a backbone + linear head on labelled patches (the reference study's recipe by default).

    Parameters
    ----------
    patches : pandas.DataFrame
        From :func:`~multisurv.features.wsi.annotations.make_patch_dataset`.
    backbone : str, default="resnet50"
    weights : None, "imagenet" or path, default="imagenet"
        Starting weights (the study fine-tuned ImageNet weights; None starts from random weights, for tests).
    classes : sequence of str, optional
        Class order (default: sorted labels).
    tumour_class : str, optional
        Default: the class named ``tumour`` or ``tumor``.
    epochs : int, default=10
    lr : float, default=1e-4
        Adam learning rate.
    batch_size : int, default=64
    val_fraction : float, default=0.3
        Validation share of a split stratified by class (7:3 by default), drawn with ``random_state``.
    augment : bool, default=True
        Random flips and 90-degree rotations of training patches.
    random_state : int, default=0
        Seeds the split, the head's initialisation, the batch order and the augmentation.
    device : str, optional
    loader_workers : int, default=0
        DataLoader processes reading patches.

    Returns
    -------
    classifier : TileClassifier
        Final-epoch weights, in eval mode (no model selection on the validation set, so its accuracy is
        an honest estimate for patches like these).
    report : TrainingReport

    Notes
    -----
    The split is by patch, as in the study; patches of one slide then fall on both sides, so the validation
    accuracy says how well the classifier labels *new patches of these slides*. Split by slide (train on some
    slides' patch table, evaluate on others) to estimate performance on new slides.

    Examples
    --------
    >>> from multisurv.features.wsi.annotations import make_patch_dataset
    >>> patches = make_patch_dataset(...)  # labelled patches from annotated slides  # doctest: +SKIP
    >>> clf, report = train_tile_classifier(patches, backbone="resnet50", weights="imagenet")  # doctest: +SKIP
    >>> report.accuracy > report.chance  # doctest: +SKIP
    True
    >>> clf.save("models/tissue_resnet50.pt")  # doctest: +SKIP
    """
    torch = require("torch", extra="wsi")
    from sklearn.model_selection import train_test_split

    check_param("train_tile_classifier", "epochs", epochs, kind="int", low=1)
    check_param("train_tile_classifier", "batch_size", batch_size, kind="int", low=1)
    check_param("train_tile_classifier", "lr", lr, kind="float", low=0)
    check_param("train_tile_classifier", "val_fraction", val_fraction, kind="float", low=0, high=1, low_open=True,
                high_open=True)
    required = {"slide", "x", "y", "label", "level", "read_size", "tile_size"}
    missing = sorted(required - set(patches.columns))
    if missing:
        raise ValueError(f"'patches' lacks column(s) {missing}; build it with make_patch_dataset.")
    classes = list(classes) if classes is not None else sorted(patches["label"].astype(str).unique())
    unknown = sorted(set(patches["label"]) - set(classes))
    if unknown:
        raise ValueError(f"Patch labels {unknown} are not among the classes {classes}.")
    table = patches.assign(target=patches["label"].map({c: i for i, c in enumerate(classes)}))
    counts = table["target"].value_counts()
    if (counts < 2).any():
        rare = [classes[i] for i in counts.index[counts < 2]]
        raise ValueError(f"Class(es) {rare} have fewer than 2 patches; a stratified {1 - val_fraction:.0%}:"
                         f"{val_fraction:.0%} split needs at least 2 per class. Annotate more of them.")
    train, val = train_test_split(table, test_size=val_fraction, stratify=table["target"], random_state=random_state)
    device = resolve_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        clf = TileClassifier(backbone, classes, tumour_class=tumour_class, weights=weights,
                             tile_size=int(table["tile_size"].iloc[0]), device=device)
    generator = torch.Generator().manual_seed(random_state)
    loader = torch.utils.data.DataLoader(PatchDataset(train), batch_size=batch_size, shuffle=True,
                                         generator=generator, num_workers=loader_workers, drop_last=False)
    val_loader = torch.utils.data.DataLoader(PatchDataset(val), batch_size=batch_size, num_workers=loader_workers)
    params = list(clf.backbone.parameters()) + list(clf.head.parameters())
    for p in params:
        p.requires_grad_(True)
    optimiser = torch.optim.Adam(params, lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    encoder = Encoder(name=backbone, model=clf.backbone, dim=clf.dim, device=device)  # for .transform only
    cuda = device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    history = []
    for epoch in range(epochs):
        start = time.perf_counter()
        clf.backbone.train()
        clf.head.train()
        total_loss, correct, seen = 0.0, 0, 0
        for tiles, target in loader:
            x = tiles.permute(0, 3, 1, 2)
            if augment:
                x = _augment(torch, x, generator)
            x = encoder.transform(x.permute(0, 2, 3, 1))
            target = target.to(device)
            with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
                logits = clf.head(clf.backbone(x))
                loss = loss_fn(logits.float(), target)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            total_loss += loss.item() * len(target)
            correct += int((logits.argmax(1) == target).sum())
            seen += len(target)
        val_true, val_pred = _predict(torch, clf, encoder, val_loader)
        history.append({"epoch": epoch + 1, "train_loss": total_loss / seen, "train_accuracy": correct / seen,
                        "val_accuracy": float(np.mean(val_true == val_pred)),
                        "seconds": round(time.perf_counter() - start, 2)})
        logger.info("epoch %d: %s", epoch + 1, history[-1])
    for p in params:
        p.requires_grad_(False)
    _recalibrate_batchnorm(torch, clf, encoder, torch.utils.data.DataLoader(
        loader.dataset, batch_size=batch_size, num_workers=loader_workers))
    clf.eval()
    val_true, val_pred = _predict(torch, clf, encoder, val_loader)
    loader.dataset.close()
    val_loader.dataset.close()
    confusion = pd.DataFrame(np.zeros((len(classes), len(classes)), dtype=int), index=pd.Index(classes, name="true"),
                             columns=pd.Index(classes, name="predicted"))
    np.add.at(confusion.values, (val_true, val_pred), 1)
    majority = int(train["target"].value_counts().idxmax())
    report = TrainingReport(accuracy=float(np.mean(val_true == val_pred)), confusion=confusion,
                            history=pd.DataFrame(history), n_train=len(train), n_val=len(val),
                            chance=float(np.mean(val_true == majority)))
    clf.metrics = {"val_accuracy": report.accuracy, "n_train": report.n_train, "n_val": report.n_val,
                   "epochs": epochs, "lr": lr, "batch_size": batch_size}
    return clf, report


def _recalibrate_batchnorm(torch, clf: TileClassifier, encoder: Encoder, loader) -> None:
    """Recompute BatchNorm running statistics of the final weights over the training patches ("precise BN").

    During training the running means and variances trail the changing weights (exponential average, momentum
    0.1); after a short fine-tuning, especially from random weights, they no longer match the final network and
    eval-mode predictions suffer. One pass over the (unaugmented) training patches with cumulative averaging
    fixes them; no weight changes and no validation data are used.

    References
    ----------
    Wu Y, Johnson J. Rethinking "Batch" in BatchNorm. arXiv:2105.07576, 2021.
    """
    norms = [m for m in clf.backbone.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the pass
    clf.backbone.train()
    with torch.no_grad():
        for tiles, _ in loader:
            clf.backbone(encoder.transform(tiles))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    clf.backbone.eval()


def _predict(torch, clf: TileClassifier, encoder: Encoder, loader) -> tuple[np.ndarray, np.ndarray]:
    clf.eval()
    true, pred = [], []
    cuda = clf.device.startswith("cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
        for tiles, target in loader:
            pred.append(clf.head(clf.backbone(encoder.transform(tiles))).argmax(1).cpu().numpy())
            true.append(target.numpy())
    return np.concatenate(true), np.concatenate(pred)
