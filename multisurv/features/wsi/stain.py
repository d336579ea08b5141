"""Stain normalisation of H&E tiles, fitted on a reference image, applied per batch on the model's device.

Two classic methods:

- :class:`ReinhardNormalizer` (Reinhard et al. 2001): each tile's CIE L*a*b* channels are standardised and
  given the reference's mean and standard deviation.
- :class:`MacenkoNormalizer` (Macenko et al. 2009): each tile's two stain vectors (haematoxylin, eosin) are
  estimated in optical-density space (the plane of the two largest eigenvectors of the tissue pixels' optical
  densities, and the robust extreme angles in it); the tile's stain concentrations are rescaled to the
  reference's 99th percentiles and recombined with the reference's stain vectors.

Both work on float RGB batches (N, 3, H, W) in [0, 1] with torch, so they run where the model runs (the GPU) and
cost no CPU decoding time. Fit once (:meth:`~StainNormalizer.fit` or :func:`load_stain_normalizer`); the fitted
values and the reference's SHA-256 are part of the feature store's settings (:meth:`~StainNormalizer.settings`).

References
----------
Reinhard E, Adhikhmin M, Gooch B, Shirley P. Color transfer between images. IEEE Comput Graph Appl.
2001;21(5):34-41.
Macenko M, Niethammer M, Marron JS, et al. A method for normalizing histology slides for quantitative analysis.
Proc IEEE ISBI. 2009:1107-1110.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np

from multisurv._optional import require

__all__ = ["StainNormalizer", "ReinhardNormalizer", "MacenkoNormalizer", "STAIN_METHODS", "load_stain_normalizer",
           "rgb_to_lab", "lab_to_rgb"]

#: sRGB (D65) to CIE XYZ, and the D65 white point.
_RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
_WHITE = (0.950456, 1.0, 1.088754)
_EPS = 216 / 24389  # CIE's epsilon: 0.008856
_KAPPA = 24389 / 27  # CIE's kappa: 903.3


def _torch():
    return require("torch", extra="wsi")


def rgb_to_lab(rgb):
    """CIE L*a*b* (D65) of sRGB values in [0, 1]; ``rgb`` is a tensor (..., 3, H, W) with channels on dim -3.

    Parameters
    ----------
    rgb : torch.Tensor of shape (..., 3, H, W)
        sRGB values in [0, 1], floating point, on any device.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device: L* in [0, 100], a* and b* about [-128, 127].

    Examples
    --------
    >>> import torch
    >>> rgb_to_lab(torch.ones(1, 3, 1, 1)).flatten().round(decimals=3).tolist()  # white
    [100.0, 0.0, 0.0]
    """
    torch = _torch()
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp(min=0) + 0.055) / 1.055) ** 2.4)
    m = torch.tensor(_RGB_TO_XYZ, dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,...jhw->...ihw", m, linear)
    xyz = xyz / torch.tensor(_WHITE, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1 / 3), (_KAPPA * xyz + 16) / 116)
    fx, fy, fz = f.unbind(dim=-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_rgb(lab):
    """sRGB in [0, 1] (clipped) of CIE L*a*b* (D65) values; the inverse of :func:`rgb_to_lab`.

    Parameters
    ----------
    lab : torch.Tensor of shape (..., 3, H, W)
        L*, a*, b* on dim -3, floating point, on any device.

    Returns
    -------
    torch.Tensor
        sRGB in [0, 1], same shape, dtype and device; colours outside the sRGB gamut are clipped.

    Examples
    --------
    >>> import torch
    >>> rgb = torch.tensor([0.8, 0.4, 0.6], dtype=torch.float64).view(1, 3, 1, 1)
    >>> lab_to_rgb(rgb_to_lab(rgb)).flatten().round(decimals=6).tolist()
    [0.8, 0.4, 0.6]
    """
    torch = _torch()
    l, a, b = lab.unbind(dim=-3)
    fy = (l + 16) / 116
    fx = fy + a / 500
    fz = fy - b / 200
    f = torch.stack([fx, fy, fz], dim=-3)
    xyz = torch.where(f ** 3 > _EPS, f ** 3, (116 * f - 16) / _KAPPA)
    xyz = xyz * torch.tensor(_WHITE, dtype=lab.dtype, device=lab.device).view(3, 1, 1)
    m_inv = torch.linalg.inv(torch.tensor(_RGB_TO_XYZ, dtype=torch.float64)).to(lab.dtype).to(lab.device)
    linear = torch.einsum("ij,...jhw->...ihw", m_inv, xyz).clamp(0, 1)
    rgb = torch.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return rgb.clamp(0, 1)


class StainNormalizer:
    """Base of the stain normalisers: fit on a reference image, then call on float RGB batches (N, 3, H, W).

    Subclasses set ``method`` and implement ``_fit`` (reference batch -> fitted tensors) and ``_apply``; calling an
    unfitted normaliser raises ``ValueError``. Use :class:`ReinhardNormalizer` or :class:`MacenkoNormalizer`.

    Examples
    --------
    >>> import torch
    >>> ref = np.random.default_rng(0).integers(60, 250, (32, 32, 3), dtype=np.uint8)
    >>> norm = ReinhardNormalizer().fit(ref)
    >>> isinstance(norm, StainNormalizer), norm(torch.rand(2, 3, 16, 16)).shape
    (True, torch.Size([2, 3, 16, 16]))
    """

    method = "none"

    def __init__(self):
        self.reference_sha256: str | None = None
        self._params: dict[str, Any] = {}

    def fit(self, reference) -> "StainNormalizer":
        """Fit on a reference image: a uint8 RGB array (H, W, 3), or the path of an image file (PNG, JPEG, TIFF).

        Parameters
        ----------
        reference : str, Path or ndarray of shape (H, W, 3), uint8
            The reference image; its SHA-256 (of the pixels and shape) is kept in ``reference_sha256``.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If the file does not exist or cannot be read, the array is not uint8 RGB, or (Macenko) the reference
            has too few stained pixels.

        Examples
        --------
        >>> ref = np.random.default_rng(0).integers(60, 250, (32, 32, 3), dtype=np.uint8)
        >>> ReinhardNormalizer().fit(ref).reference_sha256[:12]
        '07f0a3568cf8'
        >>> ReinhardNormalizer().fit(np.zeros((4, 4), np.uint8))
        Traceback (most recent call last):
        ...
        ValueError: A stain reference must be a uint8 RGB image of shape (H, W, 3); got uint8 of shape (4, 4).
        """
        torch = _torch()
        array, digest = _read_reference(reference)
        self.reference_sha256 = digest
        batch = torch.from_numpy(np.array(array, dtype=np.float64)).permute(2, 0, 1)[None] / 255.0
        self._params = {k: v.cpu() for k, v in self._fit(batch).items()}
        return self

    def __call__(self, batch):
        """Normalise a float RGB batch (N, 3, H, W) in [0, 1] (on any device); returns a batch of the same shape."""
        if not self._params:
            raise ValueError(f"This {type(self).__name__} is not fitted; call fit(reference_image) first.")
        torch = _torch()
        kind = "cuda" if batch.device.type == "cuda" else "cpu"
        with torch.autocast(kind, enabled=False):  # fp32 (or fp64) whatever the model's precision
            dtype = batch.dtype if batch.dtype in (torch.float32, torch.float64) else torch.float32
            params = {k: v.to(device=batch.device, dtype=dtype) for k, v in self._params.items()}
            return self._apply(batch.to(dtype), params)

    def settings(self) -> dict[str, Any]:
        """Method, reference digest and fitted values (rounded to 6 digits): what the feature store records.

        Returns
        -------
        dict
            ``method``, ``reference_sha256`` and each fitted tensor as a (nested) list of floats (Reinhard:
            ``mean`` and ``std`` of L*, a*, b*; Macenko: ``stains`` and ``max_c``).

        Examples
        --------
        >>> ref = np.random.default_rng(0).integers(60, 250, (32, 32, 3), dtype=np.uint8)
        >>> settings = ReinhardNormalizer().fit(ref).settings()
        >>> settings["method"], [round(v, 2) for v in settings["mean"]]
        ('reinhard', [65.75, 3.18, 1.51])
        """
        return {"method": self.method, "reference_sha256": self.reference_sha256,
                **{k: np.round(v.double().numpy(), 6).tolist() for k, v in self._params.items()}}

    def _fit(self, batch) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply(self, batch, params):  # pragma: no cover - abstract
        raise NotImplementedError


class ReinhardNormalizer(StainNormalizer):
    """Reinhard colour transfer in CIE L*a*b*: each tile's channel means and standard deviations become the
    reference's.

    Examples
    --------
    >>> ref = np.random.default_rng(0).integers(60, 250, (32, 32, 3), dtype=np.uint8)
    >>> norm = ReinhardNormalizer().fit(ref)
    >>> sorted(norm.settings())
    ['mean', 'method', 'reference_sha256', 'std']
    """

    method = "reinhard"

    def _fit(self, batch):
        lab = rgb_to_lab(batch)[0].flatten(1)
        return {"mean": lab.mean(dim=1), "std": lab.std(dim=1)}

    def _apply(self, batch, params):
        lab = rgb_to_lab(batch)
        mean = lab.mean(dim=(2, 3), keepdim=True)
        std = lab.std(dim=(2, 3), keepdim=True).clamp(min=1e-6)
        lab = (lab - mean) / std * params["std"].view(1, 3, 1, 1) + params["mean"].view(1, 3, 1, 1)
        return lab_to_rgb(lab)


class MacenkoNormalizer(StainNormalizer):
    """Macenko stain normalisation: per-tile H&E stain vectors and concentrations mapped onto the reference's.

    Parameters
    ----------
    beta : float, default=0.15
        Optical-density threshold below which a pixel counts as background (in every channel... any channel
        below it excludes the pixel from the stain estimate).
    alpha : float, default=1.0
        Percentile (and 100 - alpha) of the angles taken as the extreme stain directions.
    min_pixels : int, default=64
        Tiles with fewer stained pixels are returned unchanged (glass).

    Notes
    -----
    Optical density is ``-log((255 * I + 1) / 256)``; the haematoxylin vector is the one with the larger red
    component. Concentrations are the least-squares solution for the two stain vectors, their 99th percentiles
    the "maximum" concentrations that are matched to the reference's.

    Examples
    --------
    >>> import torch
    >>> rng = np.random.default_rng(0)
    >>> ref = np.zeros((32, 32, 3), np.uint8)
    >>> ref[:] = (150, 80, 160)  # eosin-like
    >>> ref[:, :16] = (90, 40, 140)  # haematoxylin-like
    >>> ref = np.clip(ref + rng.integers(-10, 10, ref.shape), 0, 255).astype(np.uint8)
    >>> norm = MacenkoNormalizer().fit(ref)
    >>> norm(torch.rand(2, 3, 16, 16)).shape
    torch.Size([2, 3, 16, 16])
    >>> MacenkoNormalizer().fit(np.full((16, 16, 3), 250, np.uint8))  # glass only
    Traceback (most recent call last):
    ...
    ValueError: The stain reference has fewer than 64 stained pixels (optical density >= 0.15 in every channel); \
choose a reference image showing H&E tissue.
    """

    method = "macenko"

    def __init__(self, *, beta: float = 0.15, alpha: float = 1.0, min_pixels: int = 64):
        super().__init__()
        self.beta, self.alpha, self.min_pixels = float(beta), float(alpha), int(min_pixels)

    def _fit(self, batch):
        stains, max_c, ok = self._estimate(batch)
        if not bool(ok[0]):
            raise ValueError(f"The stain reference has fewer than {self.min_pixels} stained pixels (optical density "
                             f">= {self.beta} in every channel); choose a reference image showing H&E tissue.")
        return {"stains": stains[0], "max_c": max_c[0]}

    def settings(self) -> dict[str, Any]:
        """The base settings plus Macenko's ``beta`` (optical-density threshold) and ``alpha`` (angle percentile).

        Returns
        -------
        dict
            What the feature store records for this normaliser.

        Examples
        --------
        >>> ref = np.zeros((32, 32, 3), np.uint8)
        >>> ref[:] = (150, 80, 160)
        >>> ref[:, :16] = (90, 40, 140)
        >>> ref = np.clip(ref + np.random.default_rng(0).integers(-10, 10, ref.shape), 0, 255).astype(np.uint8)
        >>> sorted(MacenkoNormalizer(beta=0.15).fit(ref).settings())
        ['alpha', 'beta', 'max_c', 'method', 'reference_sha256', 'stains']
        """
        return {**super().settings(), "beta": self.beta, "alpha": self.alpha}

    def _estimate(self, batch):
        """Per tile: stain matrix (N, 3, 2) [H, E], 99th-percentile concentrations (N, 2), enough pixels (N,)."""
        torch = _torch()
        od = _optical_density(batch).flatten(2).transpose(1, 2)  # (N, P, 3)
        mask = (od >= self.beta).all(dim=2)  # (N, P)
        count = mask.sum(dim=1)
        ok = count >= self.min_pixels
        w = mask.to(od.dtype)[..., None]
        n = count.clamp(min=2).to(od.dtype)[:, None, None]
        mean = (od * w).sum(dim=1, keepdim=True) / n
        centred = (od - mean) * w
        cov = centred.transpose(1, 2) @ centred / (n - 1)
        cov = cov + torch.eye(3, dtype=od.dtype, device=od.device) * 1e-10
        _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
        plane = vecs[:, :, 1:3].flip(dims=(2,))  # (N, 3, 2): largest first
        plane = plane * torch.sign(plane.sum(dim=1, keepdim=True) + 1e-12)  # point into positive OD
        proj = od @ plane  # (N, P, 2)
        phi = torch.atan2(proj[..., 1], proj[..., 0])
        lo = _masked_quantile(phi, mask, self.alpha / 100)
        hi = _masked_quantile(phi, mask, 1 - self.alpha / 100)
        v_lo = (plane @ torch.stack([torch.cos(lo), torch.sin(lo)], dim=1)[..., None])[..., 0]  # (N, 3)
        v_hi = (plane @ torch.stack([torch.cos(hi), torch.sin(hi)], dim=1)[..., None])[..., 0]
        h_first = (v_lo[:, 0] > v_hi[:, 0])[:, None]
        h = torch.where(h_first, v_lo, v_hi)
        e = torch.where(h_first, v_hi, v_lo)
        stains = torch.stack([h, e], dim=2)
        stains = stains / stains.norm(dim=1, keepdim=True).clamp(min=1e-12)
        conc = torch.linalg.pinv(stains) @ od.transpose(1, 2)  # (N, 2, P)
        everything = torch.ones_like(conc[:, 0], dtype=torch.bool)
        max_c = torch.stack([_masked_quantile(conc[:, i], everything, 0.99) for i in range(2)], dim=1)
        return stains, max_c, ok

    def _apply(self, batch, params):
        torch = _torch()
        n, _, height, width = batch.shape
        stains, max_c, ok = self._estimate(batch)
        od = _optical_density(batch).flatten(2)  # (N, 3, P)
        conc = torch.linalg.pinv(stains) @ od  # (N, 2, P)
        conc = conc * (params["max_c"].view(1, 2, 1) / max_c.clamp(min=1e-6)[..., None])
        od_new = params["stains"][None] @ conc  # (N, 3, P)
        out = ((256.0 * torch.exp(-od_new) - 1.0) / 255.0).clamp(0, 1).view(n, 3, height, width)
        return torch.where(ok.view(n, 1, 1, 1), out, batch)


def _optical_density(batch):
    torch = _torch()
    return -torch.log((batch * 255.0 + 1.0) / 256.0)


def _masked_quantile(values, mask, q: float):
    """Per-row ``q`` quantile (linear interpolation) of ``values`` (N, P) over the entries where ``mask`` is True."""
    torch = _torch()
    filled = torch.where(mask, values, torch.full_like(values, float("inf")))
    ordered, _ = torch.sort(filled, dim=1)
    count = mask.sum(dim=1).clamp(min=1)
    pos = q * (count - 1).to(values.dtype)
    lo = pos.floor().long()
    hi = torch.minimum(lo + 1, count - 1)
    frac = pos - lo.to(values.dtype)
    a = ordered.gather(1, lo[:, None])[:, 0]
    b = ordered.gather(1, hi[:, None])[:, 0]
    return torch.where(torch.isfinite(a), a + (torch.where(torch.isfinite(b), b, a) - a) * frac,
                       torch.zeros_like(a))


#: Method names accepted by :func:`load_stain_normalizer`.
STAIN_METHODS = {"reinhard": ReinhardNormalizer, "macenko": MacenkoNormalizer}


def load_stain_normalizer(method: str, reference) -> StainNormalizer:
    """A normaliser of ``method`` fitted on ``reference`` (an image path or a uint8 RGB array).

    Parameters
    ----------
    method : {"macenko", "reinhard"}
        A key of :data:`STAIN_METHODS` (default settings of that normaliser).
    reference : str, Path or ndarray of shape (H, W, 3), uint8
        The reference image (see :meth:`StainNormalizer.fit`).

    Returns
    -------
    StainNormalizer
        Fitted.

    Raises
    ------
    ValueError
        If ``method`` is unknown (the valid names are listed) or the reference cannot be read.

    Examples
    --------
    >>> load_stain_normalizer("vahadane", "ref.png")
    Traceback (most recent call last):
    ...
    ValueError: Unknown stain normalisation 'vahadane'. Choose one of: 'macenko', 'reinhard'.
    >>> ref = np.random.default_rng(0).integers(60, 250, (32, 32, 3), dtype=np.uint8)
    >>> type(load_stain_normalizer("reinhard", ref)).__name__
    'ReinhardNormalizer'
    """
    if method not in STAIN_METHODS:
        raise ValueError(f"Unknown stain normalisation {method!r}. Choose one of: "
                         f"{', '.join(repr(m) for m in sorted(STAIN_METHODS))}.")
    return STAIN_METHODS[method]().fit(reference)


def _read_reference(reference) -> tuple[np.ndarray, str]:
    if isinstance(reference, (str, os.PathLike)):
        from PIL import Image

        path = os.fspath(reference)
        if not os.path.isfile(path):
            raise ValueError(f"The stain reference image {path!r} does not exist. Pass the path of an RGB image "
                             "(PNG, JPEG, TIFF) of well-stained H&E tissue.")
        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB"))
        except OSError as exc:
            raise ValueError(f"Cannot read the stain reference image {path!r} ({exc}). Pass an RGB image (PNG, JPEG, "
                             "TIFF).") from exc
    else:
        array = np.asarray(reference)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"A stain reference must be a uint8 RGB image of shape (H, W, 3); got {array.dtype} of shape "
                         f"{array.shape}.")
    digest = hashlib.sha256(np.ascontiguousarray(array).tobytes() + str(array.shape).encode()).hexdigest()
    return array, digest
