"""Tile encoders: a registry of image models that map an RGB tile to a feature vector, each with its preprocessing.

Every registered encoder is an :class:`EncoderSpec`: its architecture, output dimension, input size, channel
mean and standard deviation, the resolution (microns per pixel) it was trained at, and where its weights come
from. Two families:

- torchvision ResNets: ``resnet50`` (global average pool, 2,048-d; the reference GIST study's), ``resnet50_trunc``
  (ImageNet ResNet-50 cut after layer 3 + global average pool, 1,024-d, as CLAM), and the small ``resnet18`` /
  ``resnet34`` (quick CPU runs, tissue classifiers);
- ViT pathology foundation models built with timm (``pip install "multisurv[wsi]"`` brings timm): ``uni``
  (ViT-L/16), ``uni2_h`` (ViT-H/14, 8 registers, SwiGLU), ``virchow2`` (ViT-H/14, class token + mean patch
  token, 2,560-d), ``h_optimus_0`` (ViT-g/14, 4 registers), ``gigapath`` (Prov-GigaPath tile encoder, ViT-g/16)
  and ``phikon_v2`` (ViT-L/16 trained with DINOv2; Hugging Face ``Dinov2Model`` checkpoints are converted).

Weights come from a local file or folder the user downloaded (``.safetensors``, or a torch ``state_dict``
read with ``weights_only=True``: no pickled code is ever run), checked key by key and shape by shape against
the architecture before loading; torchvision's ImageNet download (``weights="imagenet"``, ResNets) or the
Hugging Face hub through timm (``weights="hub"``, foundation models; needs internet and, for gated models, a
token); or, the default, a deterministic random initialisation, which runs anywhere but is not pretrained and
therefore warns. torch, torchvision and timm are imported only when an encoder is built.

References
----------
Chen RJ, et al. Towards a general-purpose foundation model for computational pathology (UNI). Nat Med. 2024.
Zimmermann E, et al. Virchow2: scaling self-supervised mixed magnification models in pathology. arXiv:2408.00738.
Saillard C, et al. H-optimus-0. Bioptimus, 2024.
Xu H, et al. A whole-slide foundation model for digital pathology from real-world data (Prov-GigaPath). Nature. 2024.
Filiot A, et al. Phikon-v2, a large and public feature extractor for biomarker prediction. arXiv:2409.09173.
Lu MY, et al. Data-efficient and weakly supervised computational pathology on whole-slide images (CLAM).
Nat Biomed Eng. 2021.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from multisurv._hashing import sha256_file
from multisurv._optional import require
from multisurv.exceptions import MultisurvWarning

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Encoder", "EncoderSpec", "get_encoder", "encoder_spec", "available_encoders", "build_backbone",
           "resolve_device", "resolve_precision", "weights_digest", "random_weights_warning", "PRECISIONS", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: H-optimus-0's own normalisation (its model card).
HOPTIMUS_MEAN = (0.707223, 0.578729, 0.703617)
HOPTIMUS_STD = (0.211883, 0.230117, 0.177517)
#: Accepted ``precision`` values: "auto" is bf16 on GPUs that support it, else fp16 on CUDA, fp32 on the CPU.
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class EncoderSpec:
    """What a registered encoder is: architecture, preprocessing and provenance (no torch needed to read it).

    Parameters
    ----------
    name : str
        Registry name (column names ``wsi__<name>_0000``, store folder names).
    dim : int
        Length of the feature vector of one tile.
    family : {"torchvision", "timm"}
        The library whose architecture is built.
    arch : mapping
        torchvision: ``{"constructor": "resnet50", "cut": None | "layer3"}``; timm: the keyword arguments of
        ``timm.models.vision_transformer.VisionTransformer`` as the model's authors publish them (``mlp_layer``
        and ``act_layer`` by name).
    pool : {"gap", "token", "cls+mean"}, default="gap"
        How the tile vector is read: the CNN's global average pool, the ViT's class token, or the class token
        concatenated with the mean of the patch tokens (registers excluded; Virchow2).
    input_size : int, default=224
        Side of the tiles the model was trained on, in pixels (the default tile size).
    mean, std : tuple of float, default=ImageNet's
        Per-channel normalisation of RGB values scaled to [0, 1].
    mpp : float or None, default=None
        Microns per pixel of the tiles the model was trained on (0.5 = 20x); tiles are cut at this resolution
        unless the caller asks for another one. None: no preferred resolution (the ResNets).
    resize : bool, default=False
        Resize tiles of another size to ``input_size`` on the device (the ViTs); the CNNs take any size.
    crop : float, default=1.0
        Fraction of the tile side kept (centred) before resizing: Prov-GigaPath's published transform resizes
        to 256 and centre-crops 224, i.e. keeps 224/256 of the tile.
    hub : str or None, default=None
        timm ``hf-hub:`` id of the published weights (``weights="hub"``).
    imagenet : str or None, default=None
        torchvision weights enum (``weights="imagenet"``).
    source : str, default=""
        Where to download the weights by hand (named in error messages).

    See Also
    --------
    encoder_spec : The spec of a registered encoder.

    Examples
    --------
    >>> spec = encoder_spec("resnet50")
    >>> spec.family, spec.dim, spec.pool, spec.mpp
    ('torchvision', 2048, 'gap', None)
    """

    name: str
    dim: int
    family: str
    arch: Mapping[str, Any]
    pool: str = "gap"
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    mpp: float | None = None
    resize: bool = False
    crop: float = 1.0
    hub: str | None = None
    imagenet: str | None = None
    source: str = ""

    @property
    def label(self) -> str:
        """How messages name the architecture, e.g. ``"torchvision's resnet50"``.

        Examples
        --------
        >>> encoder_spec("resnet50_trunc").label
        "torchvision's resnet50 (cut after layer3)"
        """
        if self.family == "torchvision":
            cut = self.arch.get("cut")
            return f"torchvision's {self.arch['constructor']}" + (f" (cut after {cut})" if cut else "")
        return f"the {self.name} ViT (timm VisionTransformer, {self.arch.get('depth')} blocks of " \
               f"{self.arch.get('embed_dim')})"

    def preprocessing(self) -> dict[str, Any]:
        """The preprocessing constants as a JSON-ready dict (recorded with the features).

        Returns
        -------
        dict
            ``input_size``, ``mean``, ``std`` (lists), ``mpp``, ``resize`` and ``crop``.

        Examples
        --------
        >>> sorted(encoder_spec("uni").preprocessing())
        ['crop', 'input_size', 'mean', 'mpp', 'resize', 'std']
        """
        return {"input_size": self.input_size, "mean": list(self.mean), "std": list(self.std), "mpp": self.mpp,
                "resize": self.resize, "crop": self.crop}

    @property
    def params_m(self) -> float:
        """Approximate parameters in millions (sizes the GPU batch; see inference.machine_defaults).

        Examples
        --------
        >>> encoder_spec("resnet50").params_m
        25.6
        """
        if self.family == "torchvision":
            return {"resnet18": 11.7, "resnet34": 21.8, "resnet50": 25.6}[self.arch["constructor"]]
        width, depth = self.arch["embed_dim"], self.arch["depth"]
        return 12 * width * width * depth * float(self.arch.get("mlp_ratio", 4.0)) / 4.0 / 1e6


def _vit(**kwargs) -> dict[str, Any]:
    base = {"img_size": 224, "num_classes": 0, "dynamic_img_size": True}
    return {**base, **kwargs}


#: The registry. ViT keyword arguments are those the models' cards and timm configs publish: UNI
#: (``vit_large_patch16_224``, init_values 1e-5), UNI2-h (``vit_giant_patch14_224`` with depth 24, 24 heads, embed
#: 1536, SwiGLU mlp_ratio 2.66667*2, 8 registers, no class-token position embedding), Virchow2
#: (``vit_huge_patch14_224`` with 4 registers, SwiGLU mlp_ratio 5.3375, global_pool ""), H-optimus-0
#: (``vit_giant_patch14_reg4_dinov2``), Prov-GigaPath (``vit_giant_patch14_dinov2`` with 16 px patches and
#: mlp_ratio 5.33334) and Phikon-v2 (DINOv2 ViT-L/16: 24 blocks of 1024, 16 heads, layer scale).
_SPECS: dict[str, EncoderSpec] = {spec.name: spec for spec in (
    EncoderSpec("resnet18", 512, "torchvision", {"constructor": "resnet18"}, imagenet="ResNet18_Weights",
                source="torchvision.models.resnet18"),
    EncoderSpec("resnet34", 512, "torchvision", {"constructor": "resnet34"}, imagenet="ResNet34_Weights",
                source="torchvision.models.resnet34"),
    EncoderSpec("resnet50", 2048, "torchvision", {"constructor": "resnet50"}, imagenet="ResNet50_Weights",
                source="torchvision.models.resnet50"),
    EncoderSpec("resnet50_trunc", 1024, "torchvision", {"constructor": "resnet50", "cut": "layer3"},
                imagenet="ResNet50_Weights", source="torchvision.models.resnet50 (a full checkpoint; layer4 and fc "
                                                    "are not used)"),
    EncoderSpec("uni", 1024, "timm", _vit(patch_size=16, embed_dim=1024, depth=24, num_heads=16, init_values=1e-5),
                pool="token", mpp=0.5, resize=True, hub="hf-hub:MahmoodLab/uni",
                source="https://huggingface.co/MahmoodLab/UNI (pytorch_model.bin)"),
    EncoderSpec("uni2_h", 1536, "timm", _vit(patch_size=14, embed_dim=1536, depth=24, num_heads=24, init_values=1e-5,
                                             mlp_ratio=2.66667 * 2, mlp_layer="swiglu_packed", act_layer="silu",
                                             reg_tokens=8, no_embed_class=True),
                pool="token", mpp=0.5, resize=True, hub="hf-hub:MahmoodLab/UNI2-h",
                source="https://huggingface.co/MahmoodLab/UNI2-h (pytorch_model.bin)"),
    EncoderSpec("virchow2", 2560, "timm", _vit(patch_size=14, embed_dim=1280, depth=32, num_heads=16, init_values=1e-5,
                                               mlp_ratio=5.3375, mlp_layer="swiglu_packed", act_layer="silu",
                                               reg_tokens=4, global_pool=""),
                pool="cls+mean", mpp=0.5, resize=True, hub="hf-hub:paige-ai/Virchow2",
                source="https://huggingface.co/paige-ai/Virchow2 (pytorch_model.bin or model.safetensors)"),
    EncoderSpec("h_optimus_0", 1536, "timm", _vit(patch_size=14, embed_dim=1536, depth=40, num_heads=24,
                                                  init_values=1e-5, mlp_ratio=2.66667 * 2, mlp_layer="swiglu_packed",
                                                  act_layer="silu", reg_tokens=4, no_embed_class=True,
                                                  global_pool="token"),
                pool="token", mpp=0.5, resize=True, mean=HOPTIMUS_MEAN, std=HOPTIMUS_STD,
                hub="hf-hub:bioptimus/H-optimus-0",
                source="https://huggingface.co/bioptimus/H-optimus-0 (pytorch_model.bin or model.safetensors)"),
    EncoderSpec("gigapath", 1536, "timm", _vit(patch_size=16, embed_dim=1536, depth=40, num_heads=24,
                                               init_values=1e-5, mlp_ratio=5.33334, mlp_layer="swiglu_packed",
                                               act_layer="silu"),
                pool="token", mpp=0.5, resize=True, crop=224 / 256, hub="hf_hub:prov-gigapath/prov-gigapath",
                source="https://huggingface.co/prov-gigapath/prov-gigapath (pytorch_model.bin)"),
    EncoderSpec("phikon_v2", 1024, "timm", _vit(patch_size=16, embed_dim=1024, depth=24, num_heads=16,
                                                init_values=1e-5, dynamic_img_size=False),
                pool="token", mpp=0.5, resize=True, hub=None,
                source="https://huggingface.co/owkin/phikon-v2 (model.safetensors; a Hugging Face Dinov2Model "
                       "checkpoint, converted on load)"),
)}
#: Encoders a tissue classifier can fine-tune (torchvision ResNets with their full head).
CLASSIFIER_BACKBONES = ("resnet18", "resnet34", "resnet50")


def available_encoders() -> tuple[str, ...]:
    """Names accepted by :func:`get_encoder`.

    Returns
    -------
    tuple of str
        The registered encoder names, sorted.

    Examples
    --------
    >>> available_encoders()
    ('gigapath', 'h_optimus_0', 'phikon_v2', 'resnet18', 'resnet34', 'resnet50', 'resnet50_trunc', 'uni', 'uni2_h', 'virchow2')
    """
    return tuple(sorted(_SPECS))


def encoder_spec(name: str) -> EncoderSpec:
    """The :class:`EncoderSpec` of a registered encoder (no model is built).

    Parameters
    ----------
    name : str
        One of :func:`available_encoders`.

    Returns
    -------
    EncoderSpec

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the valid names.

    Examples
    --------
    >>> spec = encoder_spec("virchow2")
    >>> spec.dim, spec.input_size, spec.mpp
    (2560, 224, 0.5)
    >>> encoder_spec("resnet")
    Traceback (most recent call last):
    ...
    ValueError: Unknown encoder 'resnet'. Choose one of: 'gigapath', 'h_optimus_0', 'phikon_v2', 'resnet18', 'resnet34', 'resnet50', 'resnet50_trunc', 'uni', 'uni2_h', 'virchow2'.
    """
    if name not in _SPECS:
        choices = ", ".join(repr(n) for n in available_encoders())
        raise ValueError(f"Unknown encoder {name!r}. Choose one of: {choices}.")
    return _SPECS[name]


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
        What the weights are: ``"random"``, ``"imagenet"``, ``"hub"`` or ``"sha256:<hex>"`` of the weights file.
    mean, std : tuple of float
        Per-channel normalisation applied to RGB values scaled to [0, 1].
    input_size : int, optional
        With ``resize``: tiles of another size are resized (bicubic, antialiased) to this side on the device.
    resize : bool, default=False
        Resize tiles of another size to ``input_size``.
    crop : float, default=1.0
        Centre fraction of the tile kept before resizing.
    mpp : float, optional
        Resolution the model was trained at (see :class:`EncoderSpec`).
    _consts : dict
        Internal cache of the normalisation tensors per device; leave it out.

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
    input_size: int | None = None
    resize: bool = False
    crop: float = 1.0
    mpp: float | None = None
    _consts: dict = field(default_factory=dict, repr=False, compare=False)

    def preprocessing(self) -> dict[str, Any]:
        """The preprocessing constants as a JSON-ready dict (part of the feature cache's settings).

        Returns
        -------
        dict
            ``input_size``, ``mean``, ``std`` (lists), ``mpp``, ``resize`` and ``crop``.

        Examples
        --------
        >>> Encoder("tiny", model=None, dim=3).preprocessing()["crop"]
        1.0
        """
        return {"input_size": self.input_size, "mean": list(self.mean), "std": list(self.std), "mpp": self.mpp,
                "resize": self.resize, "crop": self.crop}

    def transform(self, tiles, *, stain: Any = None) -> "torch.Tensor":
        """Turn uint8 RGB tiles (N, H, W, 3; array or tensor) into a normalised float batch (N, 3, H, W).

        The batch is on ``device``, in channels-last memory format (faster convolutions on CPU and tensor cores).
        ``stain``: a fitted stain normaliser (:mod:`~multisurv.features.wsi.stain`), applied to the RGB batch
        in [0, 1] on the device before cropping, resizing and the mean/std normalisation.

        Parameters
        ----------
        tiles : ndarray or torch.Tensor of uint8, shape (N, H, W, 3)
            RGB tiles.
        stain : callable, optional
            A fitted stain normaliser.

        Returns
        -------
        torch.Tensor of float32, shape (N, 3, H', W')
            The normalised batch (``H'``, ``W'`` after the crop and resize).

        Raises
        ------
        ValueError
            When ``tiles`` is not of shape (N, H, W, 3).
        ImportError
            When torch is not installed (``pip install "multisurv[wsi]"``).

        Examples
        --------
        >>> import torch                                                          # doctest: +SKIP
        >>> tiny = Encoder("tiny", torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()),
        ...                dim=3, device="cpu", weights="none")                  # doctest: +SKIP
        >>> tuple(tiny.transform(np.zeros((2, 8, 8, 3), dtype=np.uint8)).shape)  # doctest: +SKIP
        (2, 3, 8, 8)
        """
        torch = require("torch", extra="wsi")
        if not isinstance(tiles, torch.Tensor):
            tiles = torch.from_numpy(np.ascontiguousarray(np.asarray(tiles)))
        if tiles.ndim != 4 or tiles.shape[3] != 3:
            raise ValueError(f"Tiles must be an array of shape (N, H, W, 3); got shape {tuple(tiles.shape)}.")
        batch = tiles.to(self.device, non_blocking=True)
        batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
        if stain is not None:
            batch = stain(batch)
        batch = self._crop_resize(torch, batch)
        mean, std = self._constants(torch, batch.device)
        return ((batch - mean) / std).contiguous(memory_format=torch.channels_last)

    def _constants(self, torch, device):
        key = str(device)
        if key not in self._consts:
            self._consts[key] = (torch.tensor(self.mean, device=device).view(1, 3, 1, 1),
                                 torch.tensor(self.std, device=device).view(1, 3, 1, 1))
        return self._consts[key]

    def _crop_resize(self, torch, batch):
        side = batch.shape[-1]
        if self.crop < 1.0:
            keep = max(1, int(round(side * self.crop)))
            top = (batch.shape[-2] - keep) // 2
            left = (side - keep) // 2
            batch = batch[:, :, top:top + keep, left:left + keep]
        target = self.input_size if self.resize and self.input_size else None
        if target is None and self.crop < 1.0:
            target = side
        if target is not None and tuple(batch.shape[-2:]) != (target, target):
            batch = torch.nn.functional.interpolate(batch, size=(target, target), mode="bicubic", antialias=True,
                                                    align_corners=False).clamp_(0.0, 1.0)
        return batch

    def encode(self, tiles, *, precision: str = "auto") -> np.ndarray:
        """Features of a batch of uint8 RGB tiles (N, H, W, 3) as a float32 array (N, dim).

        Parameters
        ----------
        tiles : ndarray or torch.Tensor of uint8, shape (N, H, W, 3)
            RGB tiles.
        precision : {"auto", "bf16", "fp16", "fp32"}, default="auto"
            See :func:`resolve_precision` ("auto": bf16 or fp16 autocast on CUDA, fp32 on the CPU).

        Returns
        -------
        ndarray of float32, shape (N, dim)

        Raises
        ------
        ValueError
            When the model returns another number of features than ``dim``, the tiles have the wrong shape or
            ``precision`` is unknown.

        Examples
        --------
        >>> import torch                                                          # doctest: +SKIP
        >>> tiny = Encoder("tiny", torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()),
        ...                dim=3, device="cpu", weights="none")                  # doctest: +SKIP
        >>> tiny.encode(np.zeros((2, 8, 8, 3), dtype=np.uint8)).shape           # doctest: +SKIP
        (2, 3)
        """
        torch = require("torch", extra="wsi")
        dtype = resolve_precision(precision, self.device)
        with torch.inference_mode(), _autocast(torch, self.device, dtype):
            out = self.model(self.transform(tiles))
        out = out.reshape(out.shape[0], -1)
        if out.shape[1] != self.dim:
            raise ValueError(f"Encoder {self.name!r} returned {out.shape[1]} features per tile, expected {self.dim}.")
        return out.float().cpu().numpy()


def _autocast(torch, device: str, dtype):
    """``torch.autocast`` on the device's type with ``dtype``, or a no-op context for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast("cuda" if str(device).startswith("cuda") else "cpu", dtype=dtype)


def resolve_device(device: str | None = None) -> str:
    """``device`` as given, else ``"cuda"`` when a CUDA GPU is available, else ``"cpu"``.

    Parameters
    ----------
    device : str, optional
        A torch device name; returned unchanged when given (torch is then not imported).

    Returns
    -------
    str

    Examples
    --------
    >>> resolve_device("cuda:1")
    'cuda:1'
    """
    if device is not None:
        return str(device)
    torch = require("torch", extra="wsi")
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_precision(precision: str, device: str):
    """The autocast dtype for ``precision`` on ``device`` (None: plain fp32).

    ``"auto"``: bfloat16 on CUDA GPUs that support it (Ampere and later), float16 on older GPUs, fp32 on the
    CPU (bit-for-bit the features of earlier multisurv versions there).

    Parameters
    ----------
    precision : {"auto", "bf16", "fp16", "fp32"}
        The requested precision.
    device : str
        The torch device the encoder runs on.

    Returns
    -------
    torch.dtype or None
        ``torch.bfloat16`` or ``torch.float16`` for autocast, None for fp32.

    Raises
    ------
    ValueError
        When ``precision`` is unknown.

    Examples
    --------
    >>> resolve_precision("fp32", "cuda") is None
    True
    >>> resolve_precision("fp64", "cpu")
    Traceback (most recent call last):
    ...
    ValueError: Unknown precision 'fp64'. Choose one of: 'auto', 'bf16', 'fp16', 'fp32'.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}. Choose one of: {', '.join(repr(p) for p in PRECISIONS)}.")
    if precision == "fp32":
        return None
    torch = require("torch", extra="wsi")
    cuda = str(device).startswith("cuda")
    if precision == "auto":
        if not cuda:
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


# ------------------------------------------------------------------------------------------------------------
# building
# ------------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _truncated_resnet_class():
    torch = require("torch", extra="wsi")

    class TruncatedResNet(torch.nn.Module):
        """A torchvision ResNet up to ``layer3``, then global average pooling (CLAM's ``resnet50_trunc``).

        Its parameters keep torchvision's names, so a full ResNet checkpoint loads (``layer4.*``, ``fc.*`` ignored).
        """

        def __init__(self, resnet):
            super().__init__()
            for part in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3"):
                setattr(self, part, getattr(resnet, part))
            self.pool = torch.nn.AdaptiveAvgPool2d(1)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer3(self.layer2(self.layer1(x)))
            return torch.flatten(self.pool(x), 1)

    return TruncatedResNet


@functools.lru_cache(maxsize=None)
def _cls_mean_class():
    torch = require("torch", extra="wsi")

    class ClsMeanPool(torch.nn.Module):
        """A timm ViT returning [class token, mean of the patch tokens] (Virchow2's tile embedding)."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            tokens = self.inner.forward_features(x)
            return torch.cat([tokens[:, 0], tokens[:, self.inner.num_prefix_tokens:].mean(dim=1)], dim=-1)

    return ClsMeanPool


def _vit_kwargs(torch, arch: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    kwargs = dict(arch)
    kwargs.update(overrides or {})
    layers = require("timm.layers", extra="wsi")
    named = {"swiglu_packed": layers.SwiGLUPacked, "silu": torch.nn.SiLU, "gelu": torch.nn.GELU}
    for key in ("mlp_layer", "act_layer"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = named[kwargs[key]]
    return kwargs


def _build_architecture(spec: EncoderSpec, overrides: Mapping[str, Any] | None = None, *, init: bool = True):
    """The bare network of ``spec`` (random init). Returns ``(model to load weights into, model to run)``."""
    torch = require("torch", extra="wsi")
    if spec.family == "torchvision":
        models = require("torchvision.models", extra="wsi")
        net = getattr(models, spec.arch["constructor"])(weights=None)
        net.fc = torch.nn.Identity()
        if spec.arch.get("cut") == "layer3":
            net = _truncated_resnet_class()(net)
        return net, net
    vt = require("timm.models.vision_transformer", extra="wsi")
    kwargs = _vit_kwargs(torch, spec.arch, overrides)
    if not init:
        kwargs["weight_init"] = "skip"
    vit = vt.VisionTransformer(**kwargs)
    return vit, (_cls_mean_class()(vit) if spec.pool == "cls+mean" else vit)


def random_weights_warning(name: str, *, stacklevel: int = 2) -> None:
    """Warn that encoder ``name`` runs with random weights (saying how to give real ones).

    Parameters
    ----------
    name : str
        A registered encoder; the message names its weight sources.
    stacklevel : int, default=2
        Passed on to ``warnings.warn`` (plus one for this function).

    Warns
    -----
    MultisurvWarning
        Always.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     random_weights_warning("resnet50")
    >>> caught[0].category.__name__, "weights='imagenet'" in str(caught[0].message)
    ('MultisurvWarning', True)
    """
    spec = encoder_spec(name)
    warnings.warn(
        f"Encoder {name!r} is randomly initialised (weights=None): its features are not pretrained and carry "
        f"little biological signal; use them only for tests and dry runs. Pass weights='path/to/{name}.pth' "
        f"(a local state_dict or .safetensors file, or the folder holding it)" + (
            " or weights='imagenet' (downloads torchvision's ImageNet weights once)." if spec.imagenet else
            f" downloaded from {spec.source}" + (", or weights='hub' (timm downloads it; gated models need a "
                                                 "Hugging Face token)." if spec.hub else ".")),
        category=MultisurvWarning,
        stacklevel=stacklevel + 1,
    )


def build_backbone(name: str, weights: str | os.PathLike | None, *, stacklevel: int = 2,
                   _arch: Mapping[str, Any] | None = None, _digest: str | None = None) -> tuple[Any, str]:
    """The network of a registered encoder with its weights, and a tag of its weights.

    Parameters
    ----------
    name : str
        One of :func:`available_encoders`.
    weights : None, "imagenet", "hub" or path
        See :func:`get_encoder`.
    stacklevel : int, default=2
        Stack level of the random-weights warning.
    _arch, _digest
        Internal: a smaller architecture (tests) and an already computed weights digest.

    Returns
    -------
    model : torch.nn.Module
        Maps (N, 3, H, W) to the (N, dim) tile features.
    tag : str
        ``"random"``, ``"imagenet"``, ``"hub"`` or ``"sha256:<hex>"`` of the weights file.

    Raises
    ------
    ValueError
        When the encoder has no such weight source, or a weights file does not fit the architecture.
    FileNotFoundError
        When ``weights`` is a path that does not exist.

    Examples
    --------
    >>> model, tag = build_backbone("resnet50", "weights/resnet50.pth")  # doctest: +SKIP
    >>> tag  # doctest: +SKIP
    'sha256:...'
    """
    torch = require("torch", extra="wsi")
    spec = encoder_spec(name)
    if weights is None:
        random_weights_warning(name, stacklevel=stacklevel)
        with torch.random.fork_rng(devices=[]):  # deterministic, and leaves the caller's RNG untouched
            torch.manual_seed(0)
            _, model = _build_architecture(spec, _arch)
        return model, "random"
    if isinstance(weights, str) and weights == "imagenet":
        if spec.imagenet is None:
            raise ValueError(f"Encoder {name!r} has no torchvision ImageNet weights; pass a local weights file "
                             f"({spec.source})" + (" or weights='hub'." if spec.hub else "."))
        models = require("torchvision.models", extra="wsi")
        net = getattr(models, spec.arch["constructor"])(weights=getattr(models, spec.imagenet).IMAGENET1K_V1)
        net.fc = torch.nn.Identity()
        if spec.arch.get("cut") == "layer3":
            net = _truncated_resnet_class()(net)
        return net, "imagenet"
    if isinstance(weights, str) and weights == "hub":
        if spec.hub is None:
            raise ValueError(f"Encoder {name!r} has no timm hub name; pass a local weights file ({spec.source}).")
        timm = require("timm", extra="wsi")
        kwargs = _vit_kwargs(torch, spec.arch, _arch)
        vit = timm.create_model(spec.hub, pretrained=True, **kwargs)
        return (_cls_mean_class()(vit) if spec.pool == "cls+mean" else vit), "hub"
    path = _weights_file(name, weights, spec)
    target, model = _build_architecture(spec, _arch, init=False)
    state = _adapt_keys(spec, _load_state_dict(torch, path), target)
    _check_state(spec, path, target, state)
    target.load_state_dict(state, strict=True)
    return model, "sha256:" + (_digest or sha256_file(path))


#: File names looked for, in this order, when ``weights`` is a folder (a Hugging Face download).
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")


def _weights_file(name: str, weights: str | os.PathLike, spec: EncoderSpec) -> str:
    """The weights file to read: ``weights`` itself, or the one checkpoint inside the folder ``weights``."""
    path = os.fspath(weights)
    if os.path.isdir(path):
        for candidate in _WEIGHT_FILES:
            if os.path.isfile(os.path.join(path, candidate)):
                return os.path.join(path, candidate)
        found = sorted(f for f in os.listdir(path) if f.endswith(_WEIGHT_SUFFIXES))
        if len(found) == 1:
            return os.path.join(path, found[0])
        raise FileNotFoundError(
            f"The encoder weights folder {path!r} holds " + (f"{len(found)} checkpoints ({', '.join(found)})" if found
                                                            else "no checkpoint (.safetensors, .bin, .pth, .pt)") +
            f". Pass the path of the {name} weights file itself ({spec.source}).")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"The encoder weights file {path!r} does not exist. Pass weights=None (random, for tests), " + (
                "'imagenet' or " if spec.imagenet else "") +
            f"the path of a {name} checkpoint ({spec.source}; a state_dict saved with "
            "torch.save(model.state_dict(), path), a .safetensors file, or the folder holding it).")
    return path


def weights_digest(name: str, weights: str | os.PathLike | None, *, cache: str | os.PathLike | None = None) -> str:
    """The tag of ``weights`` without building the model: ``"random"``, ``"imagenet"``, ``"hub"`` or ``"sha256:..."``.

    Parameters
    ----------
    name : str
        Registered encoder (the folder case looks for its checkpoint the way :func:`get_encoder` does).
    weights : None, "imagenet", "hub" or path
        See :func:`get_encoder`.
    cache : path, optional
        JSON file remembering the SHA-256 of each weights file by path, size and ``mtime_ns``, so that a multi-GB
        checkpoint is hashed once, not on every run.

    Returns
    -------
    str

    Examples
    --------
    >>> weights_digest("resnet50", None), weights_digest("uni", "hub")
    ('random', 'hub')
    """
    if weights is None:
        return "random"
    if isinstance(weights, str) and weights in ("imagenet", "hub"):
        return weights
    path = os.path.abspath(_weights_file(name, weights, encoder_spec(name)))
    return "sha256:" + _cached_sha256(path, cache)


def _cached_sha256(path: str, cache: str | os.PathLike | None) -> str:
    if cache is None:
        return sha256_file(path)
    from multisurv._atomic import write_json_atomic

    st = os.stat(path)
    stamp = {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}
    try:
        known = json.loads(Path(cache).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    entry = known.get(path) if isinstance(known, dict) else None
    if isinstance(entry, dict) and {k: entry.get(k) for k in stamp} == stamp and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = sha256_file(path)
    known = known if isinstance(known, dict) else {}
    known[path] = {**stamp, "sha256": digest}
    Path(cache).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(cache, known)
    return digest


def _load_state_dict(torch, path: str) -> dict[str, Any]:
    """Tensors of a checkpoint: safetensors, or torch.load with ``weights_only=True`` (no pickled code runs)."""
    try:
        if path.endswith(".safetensors"):
            safetensors_torch = require("safetensors.torch", extra="wsi")
            state = safetensors_torch.load_file(path, device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    # What torch.load and safetensors raise for files that are not checkpoints.
    except (RuntimeError, ValueError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise ValueError(
            f"Cannot read encoder weights from {path!r} ({type(exc).__name__}: {exc}). Save them with "
            "torch.save(model.state_dict(), path) or as .safetensors."
        ) from exc
    except Exception as exc:  # safetensors' own SafetensorError is not a ValueError subclass
        if type(exc).__name__ != "SafetensorError":
            raise
        raise ValueError(f"Cannot read encoder weights from {path!r} (SafetensorError: {exc}). Save them with "
                         "torch.save(model.state_dict(), path) or as .safetensors.") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise ValueError(f"The encoder weights file {path!r} holds a {type(state).__name__}, not a state_dict.")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}  # DataParallel


def _adapt_keys(spec: EncoderSpec, state: dict[str, Any], target) -> dict[str, Any]:
    """Map a checkpoint's keys onto the architecture's: drop unused heads, convert Hugging Face DINOv2."""
    expected = set(target.state_dict())
    if spec.family == "torchvision":
        unused = ("fc.", "layer4.") if spec.arch.get("cut") == "layer3" else ("fc.",)
        return {k: v for k, v in state.items() if not k.startswith(unused)}
    if any(k.startswith("encoder.layer.") for k in state):  # a Hugging Face Dinov2Model (Phikon-v2)
        state = _dinov2_hf_to_timm(state)
    if not (set(state) & expected):
        for prefix in ("model.", "backbone.", "encoder.", "inner."):
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                break
    return {k: v for k, v in state.items() if not k.startswith("head.") or k in expected}


def _dinov2_hf_to_timm(state: Mapping[str, Any]) -> dict[str, Any]:
    """Rename a Hugging Face ``Dinov2Model`` state_dict to timm's VisionTransformer names (q, k, v fused).

    ``embeddings.mask_token`` (used only in pre-training) is dropped.
    """
    torch = require("torch", extra="wsi")
    out: dict[str, Any] = {}
    fixed = {"embeddings.cls_token": "cls_token", "embeddings.position_embeddings": "pos_embed",
             "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
             "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
             "layernorm.weight": "norm.weight", "layernorm.bias": "norm.bias"}
    per_layer = {"norm1": "norm1", "norm2": "norm2", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2",
                 "attention.output.dense": "attn.proj"}
    qkv: dict[tuple[int, str], dict[str, Any]] = {}
    for key, value in state.items():
        if key in fixed:
            out[fixed[key]] = value
            continue
        if key == "embeddings.mask_token" or key.startswith("pooler."):
            continue
        match = re.match(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias|lambda1)$", key)
        if not match:
            out[key] = value  # left as is: reported as unexpected by the key check
            continue
        i, part, kind = int(match.group(1)), match.group(2), match.group(3)
        if part in per_layer:
            out[f"blocks.{i}.{per_layer[part]}.{kind}"] = value
        elif part in ("layer_scale1", "layer_scale2"):
            out[f"blocks.{i}.ls{part[-1]}.gamma"] = value
        elif part.startswith("attention.attention."):
            qkv.setdefault((i, kind), {})[part.rsplit(".", 1)[1]] = value
        else:
            out[key] = value
    for (i, kind), parts in qkv.items():
        if set(parts) == {"query", "key", "value"}:
            out[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat([parts["query"], parts["key"], parts["value"]], dim=0)
        else:
            out.update({f"encoder.layer.{i}.attention.attention.{p}.{kind}": v for p, v in parts.items()})
    return out


def _check_state(spec: EncoderSpec, path: str, target, state: Mapping[str, Any]) -> None:
    """Raise a ValueError naming the file, the missing/unexpected keys, the shape mismatches and the fix."""
    expected = target.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(f"{k!r}: file {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"
                    for k in set(expected) & set(state)
                    if hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(expected[k].shape))
    if not (missing or unexpected or shapes):
        return
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s) (e.g. {missing[:3]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s) (e.g. {unexpected[:3]})")
    if shapes:
        problems.append(f"{len(shapes)} key(s) of another shape (e.g. {'; '.join(shapes[:3])})")
    fix = (f"Save the state_dict of torchvision.models.{spec.arch['constructor']} (the 'fc.*' head is ignored)."
           if spec.family == "torchvision" else
           f"Pass the {spec.name} checkpoint as published ({spec.source}), or name the encoder it belongs to "
           f"(one of: {', '.join(repr(n) for n in available_encoders())}).")
    raise ValueError(f"The weights in {path!r} do not fit {spec.label}: {' and '.join(problems)}. {fix}")


def get_encoder(name: str = "resnet50", *, weights: str | os.PathLike | None = None,
                device: str | None = None, _stacklevel: int = 2, _arch: Mapping[str, Any] | None = None,
                _digest: str | None = None) -> Encoder:
    """Build a registered tile encoder, in eval mode, on ``device``.

    Parameters
    ----------
    name : str, default="resnet50"
        One of :func:`available_encoders`.
    weights : None, "imagenet", "hub" or path, default=None
        None: random weights built under ``torch.manual_seed(0)`` (identical on every run and machine;
        warns, as they are not pretrained). ``"imagenet"`` (ResNets): torchvision's ``IMAGENET1K_V1`` weights
        (downloaded once into the torch hub cache; needs internet). ``"hub"`` (foundation models): timm's
        ``hf-hub:`` download (needs internet and, for gated models, a Hugging Face token). A path: a local
        checkpoint (``.safetensors`` or a torch ``state_dict``; or the folder holding it), checked key by key
        and shape by shape against the architecture, then loaded strictly (the ResNets' ``fc.*`` head ignored).
    device : str, optional
        Default: ``"cuda"`` when available, else ``"cpu"``.
    _stacklevel, _arch, _digest
        Internal: the random-weights warning's stack level, a smaller architecture (tests) and an already
        computed weights digest.

    Returns
    -------
    Encoder

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names) or the weights do not fit the model (the
        message names the file, the missing and unexpected keys, the shape mismatches and the fix).
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
    ValueError: Unknown encoder 'resnet'. Choose one of: 'gigapath', 'h_optimus_0', 'phikon_v2', 'resnet18', 'resnet34', 'resnet50', 'resnet50_trunc', 'uni', 'uni2_h', 'virchow2'.
    """
    spec = encoder_spec(name)
    torch = require("torch", extra="wsi")
    model, tag = build_backbone(name, weights, stacklevel=_stacklevel + 1, _arch=_arch, _digest=_digest)
    device = resolve_device(device)
    model = model.eval().to(device=device, memory_format=torch.channels_last)
    for param in model.parameters():
        param.requires_grad_(False)
    dim = spec.dim
    if _arch and spec.family == "timm":  # a test-size build: its own width
        embed = int(_arch.get("embed_dim", spec.arch["embed_dim"]))
        dim = 2 * embed if spec.pool == "cls+mean" else embed
    return Encoder(name=name, model=model, dim=dim, device=device, weights=tag, mean=spec.mean, std=spec.std,
                   input_size=spec.input_size, resize=spec.resize, crop=spec.crop, mpp=spec.mpp)
