"""Tile encoders: a small registry of image models that map an RGB tile to a feature vector.

``get_encoder("resnet50")`` builds a torchvision ResNet-50 whose classification head is replaced by the
identity, so it returns the 2048-d global-average-pooled features. Weights come from a local state_dict
file, from torchvision's ImageNet download (``weights="imagenet"``, needs internet once), or - the
default - from a deterministic random initialisation, which runs anywhere but is not pretrained and
therefore warns. torch and torchvision are imported only when an encoder is built.
"""

from __future__ import annotations

import os
import pickle
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from multisurv._hashing import sha256_file
from multisurv._optional import require
from multisurv.exceptions import MultisurvWarning

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Encoder", "get_encoder", "available_encoders", "build_backbone", "resolve_device", "IMAGENET_MEAN",
           "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, eq=False)
class Encoder:
    """A tile encoder ready for inference.

    Parameters
    ----------
    name : str
        Registry name (used in column names ``wsi__<name>_0000`` and store folder names).
    model : torch.nn.Module
        In eval mode, on ``device``; maps a float batch (N, 3, H, W) to (N, dim).
    dim : int
        Length of the feature vector.
    device : str
        ``"cuda"``, ``"cuda:1"``, ``"cpu"``...
    weights : str
        What the weights are: ``"random"``, ``"imagenet"`` or ``"sha256:<hex>"`` of the state_dict file.
    mean, std : tuple of float
        Per-channel normalisation applied to RGB values scaled to [0, 1].

    Examples
    --------
    A tiny encoder (as used in tests) is built directly:

    >>> import torch                                                          # doctest: +SKIP
    >>> tiny = Encoder("tiny", torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()),
    ...                dim=3, device="cpu", weights="none")                  # doctest: +SKIP
    >>> tiny.encode(np.zeros((2, 8, 8, 3), dtype=np.uint8)).shape           # doctest: +SKIP
    (2, 3)
    """

    name: str
    model: Any
    dim: int
    device: str = "cpu"
    weights: str = "random"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def transform(self, tiles) -> "torch.Tensor":
        """Turn uint8 RGB tiles (N, H, W, 3; array or tensor) into a normalised float batch (N, 3, H, W).

        The batch is on ``device``, in channels-last memory format (faster convolutions on CPU and tensor cores).
        """
        torch = require("torch", extra="wsi")
        if not isinstance(tiles, torch.Tensor):
            tiles = torch.from_numpy(np.ascontiguousarray(np.asarray(tiles)))
        if tiles.ndim != 4 or tiles.shape[3] != 3:
            raise ValueError(f"Tiles must be an array of shape (N, H, W, 3); got shape {tuple(tiles.shape)}.")
        batch = tiles.to(self.device, non_blocking=True)
        batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.mean, device=batch.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=batch.device).view(1, 3, 1, 1)
        return ((batch - mean) / std).contiguous(memory_format=torch.channels_last)

    def encode(self, tiles) -> np.ndarray:
        """Features of a batch of uint8 RGB tiles (N, H, W, 3) as a float32 array (N, dim).

        On CUDA the forward pass runs under ``torch.autocast`` (float16); on CPU in float32.
        """
        torch = require("torch", extra="wsi")
        cuda = str(self.device).startswith("cuda")
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
            out = self.model(self.transform(tiles))
        out = out.reshape(out.shape[0], -1)
        if out.shape[1] != self.dim:
            raise ValueError(f"Encoder {self.name!r} returned {out.shape[1]} features per tile, expected {self.dim}.")
        return out.float().cpu().numpy()


def resolve_device(device: str | None = None) -> str:
    """``device`` as given, else ``"cuda"`` when a CUDA GPU is available, else ``"cpu"``."""
    if device is not None:
        return str(device)
    torch = require("torch", extra="wsi")
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_backbone(name: str, weights: str | os.PathLike | None, *, stacklevel: int = 2) -> tuple[Any, str]:
    """A torchvision classification network with its head replaced by the identity, and a tag of its weights.

    Parameters
    ----------
    name : str
        One of :func:`available_encoders`.
    weights : None, "imagenet" or path
        See :func:`get_encoder`.

    Returns
    -------
    model : torch.nn.Module
        Maps (N, 3, H, W) to the (N, dim) global-average-pooled features.
    tag : str
        ``"random"``, ``"imagenet"`` or ``"sha256:<hex>"`` of the weights file.
    """
    torch = require("torch", extra="wsi")
    models = require("torchvision.models", extra="wsi")
    arch, _dim, imagenet = _REGISTRY[name]
    if weights is None:
        warnings.warn(
            f"Encoder {name!r} is randomly initialised (weights=None): its features are not pretrained and carry "
            f"little biological signal; use them only for tests and dry runs. Pass weights='path/to/{name}.pth' "
            "(a local state_dict) or weights='imagenet' (downloads torchvision's ImageNet weights once).",
            category=MultisurvWarning,
            stacklevel=stacklevel,
        )
        with torch.random.fork_rng(devices=[]):  # deterministic, and leaves the caller's RNG untouched
            torch.manual_seed(0)
            model = getattr(models, arch)(weights=None)
        model.fc = torch.nn.Identity()
        return model, "random"
    if isinstance(weights, str) and weights == "imagenet":
        model = getattr(models, arch)(weights=getattr(models, imagenet).IMAGENET1K_V1)
        model.fc = torch.nn.Identity()
        return model, "imagenet"
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"The encoder weights file {path!r} does not exist. Pass weights=None (random, for tests), "
            f"'imagenet' or the path of a {name} state_dict saved with torch.save(model.state_dict(), path)."
        )
    model = getattr(models, arch)(weights=None)
    model.fc = torch.nn.Identity()
    state = _load_state_dict(torch, path)
    missing, unexpected = _match_keys(model.state_dict().keys(), state.keys())
    if missing or unexpected:
        raise ValueError(
            f"The weights in {path!r} do not fit torchvision's {arch}: {len(missing)} missing key(s) "
            f"(e.g. {missing[:3]}) and {len(unexpected)} unexpected key(s) (e.g. {unexpected[:3]}). "
            f"Save the state_dict of torchvision.models.{arch} (the 'fc.*' head is ignored)."
        )
    model.load_state_dict(state, strict=True)
    return model, "sha256:" + sha256_file(path)


def _load_state_dict(torch, path: str) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    # What torch.load raises for files that are not checkpoints.
    except (RuntimeError, ValueError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise ValueError(
            f"Cannot read encoder weights from {path!r} ({type(exc).__name__}: {exc}). Save them with "
            "torch.save(model.state_dict(), path)."
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"The encoder weights file {path!r} holds a {type(state).__name__}, not a state_dict.")
    out = {}
    for key, value in state.items():
        key = key[len("module."):] if key.startswith("module.") else key  # saved from DataParallel
        if not key.startswith("fc."):
            out[key] = value
    return out


def _match_keys(expected, given) -> tuple[list[str], list[str]]:
    expected, given = set(expected), set(given)
    return sorted(expected - given), sorted(given - expected)




#: name -> (torchvision constructor, feature dimension, weights enum). ResNet-50 is the study's backbone; the
#: smaller ResNets train and run in seconds on a CPU (tests, quick looks).
_REGISTRY: dict[str, tuple[str, int, str]] = {
    "resnet18": ("resnet18", 512, "ResNet18_Weights"),
    "resnet34": ("resnet34", 512, "ResNet34_Weights"),
    "resnet50": ("resnet50", 2048, "ResNet50_Weights"),
}


def available_encoders() -> tuple[str, ...]:
    """Names accepted by :func:`get_encoder`.

    Examples
    --------
    >>> available_encoders()
    ('resnet18', 'resnet34', 'resnet50')
    """
    return tuple(sorted(_REGISTRY))


def get_encoder(name: str = "resnet50", *, weights: str | os.PathLike | None = None,
                device: str | None = None, _stacklevel: int = 2) -> Encoder:
    """Build a registered tile encoder, in eval mode, on ``device``.

    Parameters
    ----------
    name : str, default="resnet50"
        One of :func:`available_encoders`.
    weights : None, "imagenet" or path, default=None
        None: random weights built under ``torch.manual_seed(0)`` (identical on every run and machine;
        warns, as they are not pretrained). ``"imagenet"``: torchvision's ``IMAGENET1K_V1`` weights
        (downloaded once into the torch hub cache; needs internet). A path: a local ``state_dict`` (.pth),
        loaded strictly except for the ``fc.*`` classification head.
    device : str, optional
        Default: ``"cuda"`` when available, else ``"cpu"``.

    Returns
    -------
    Encoder

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names) or the weights do not fit the model.
    FileNotFoundError
        If ``weights`` is a path that does not exist.

    Warns
    -----
    MultisurvWarning
        When ``weights`` is None (random, not pretrained features).

    Examples
    --------
    >>> get_encoder("resnet")
    Traceback (most recent call last):
    ...
    ValueError: Unknown encoder 'resnet'. Choose one of: 'resnet18', 'resnet34', 'resnet50'.
    """
    if name not in _REGISTRY:
        choices = ", ".join(repr(n) for n in available_encoders())
        raise ValueError(f"Unknown encoder {name!r}. Choose one of: {choices}.")
    torch = require("torch", extra="wsi")
    dim = _REGISTRY[name][1]
    model, tag = build_backbone(name, weights, stacklevel=_stacklevel + 1)
    device = resolve_device(device)
    model = model.eval().to(device=device, memory_format=torch.channels_last)
    for param in model.parameters():
        param.requires_grad_(False)
    return Encoder(name=name, model=model, dim=dim, device=device, weights=tag)
