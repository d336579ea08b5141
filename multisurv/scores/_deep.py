"""torch networks and the training loop behind the deep estimators (imported only when one is fitted).

This private module imports torch at the top; :mod:`multisurv.scores.mil` and
:mod:`multisurv.fusion.intermediate` import it inside ``fit`` / ``predict``, so ``import multisurv`` stays
light. The networks use standard layers only, so a fitted estimator pickles with its network.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from multisurv.scores.losses import cox_loss, discrete_time_loss

logger = logging.getLogger(__name__)

__all__ = ["FusionNet", "GatedAttentionMIL", "TrainingResult", "deterministic", "resolve_device", "train_network"]

#: Largest Kronecker product the fusion network builds ((kron_dim + 1) ** n_modalities).
MAX_KRONECKER = 20_000


def resolve_device(device: str | None) -> torch.device:
    """``device``, or CUDA when available, else CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


@contextlib.contextmanager
def deterministic(seed: int, n_threads: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch, fix the CPU threads and, on CUDA, switch on deterministic algorithms; restore afterwards.

    On the CPU the layers used here (linear, ELU, ReLU, softmax, cumulative sums, gathers) are deterministic
    for a fixed thread count; ``torch.use_deterministic_algorithms`` is called only for CUDA because in torch
    2.x it imports the compiler stack (tens of seconds on a busy machine).
    """
    old_threads = torch.get_num_threads()
    cuda = device.type == "cuda"
    if cuda:
        old_det = torch.are_deterministic_algorithms_enabled()
        old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it to be deterministic
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if cuda:
            torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
        torch.set_num_threads(old_threads)


class FusionNet(nn.Module):
    """One MLP encoder per modality, a fusion layer (concat, gated Kronecker or gated attention), a head.

    Parameters
    ----------
    dims : list of int
        Input width of each modality (>= 1).
    hidden : int
        Width of each modality embedding and of the head's hidden layer.
    fusion : {"concat", "kronecker", "attention"}
    dropout : float
    out_dim : int
        1 (Cox risk) or the number of time bins (discrete-time logits).
    kron_dim : int
        Width of each gated modality vector entering the Kronecker product.
    """

    def __init__(self, dims: list[int], *, hidden: int, fusion: str, dropout: float, out_dim: int, kron_dim: int):
        super().__init__()
        self.fusion = fusion
        m = len(dims)
        self.encoders = nn.ModuleList(
            [nn.Sequential(nn.Linear(d, hidden), nn.ELU(), nn.Dropout(dropout)) for d in dims])
        if fusion == "concat":
            fused = m * hidden + m
        elif fusion == "kronecker":
            # Pathomic Fusion (Chen et al. 2020): each modality's vector is gated by a sigmoid of all the
            # embeddings, a 1 is appended, and the outer product keeps every uni-, bi- and tri-modal term.
            self.gates = nn.ModuleList([nn.Linear(m * hidden, kron_dim) for _ in dims])
            self.projections = nn.ModuleList([nn.Linear(hidden, kron_dim) for _ in dims])
            fused = (kron_dim + 1) ** m
        else:  # attention over modality embeddings (gated attention, Ilse et al. 2018)
            self.modality_embedding = nn.Parameter(torch.zeros(m, hidden))
            self.attention_v = nn.Linear(hidden, hidden)
            self.attention_u = nn.Linear(hidden, hidden)
            self.attention_w = nn.Linear(hidden, 1)
            fused = hidden
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(fused, hidden), nn.ELU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, out_dim))

    def forward(self, xs: list[torch.Tensor], masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = [enc(x) * masks[:, [k]] for k, (enc, x) in enumerate(zip(self.encoders, xs))]
        weights = None
        if self.fusion == "concat":
            fused = torch.cat([*h, masks], dim=1)
        elif self.fusion == "kronecker":
            joint = torch.cat(h, dim=1)
            fused = None
            for k, hk in enumerate(h):
                z = torch.sigmoid(self.gates[k](joint)) * torch.relu(self.projections[k](hk)) * masks[:, [k]]
                z = torch.cat([z, torch.ones_like(z[:, :1])], dim=1)
                fused = z if fused is None else torch.bmm(fused.unsqueeze(2), z.unsqueeze(1)).flatten(1)
        else:
            tokens = torch.stack(h, dim=1) + self.modality_embedding.unsqueeze(0)  # (n, m, hidden)
            a = self.attention_w(torch.tanh(self.attention_v(tokens)) * torch.sigmoid(self.attention_u(tokens)))
            a = a.squeeze(2).masked_fill(masks <= 0, -1e9)
            weights = torch.softmax(a, dim=1) * (masks > 0)  # a patient without any modality gets zeros
            fused = (weights.unsqueeze(2) * tokens).sum(dim=1)
        return self.head(fused), weights


class GatedAttentionMIL(nn.Module):
    """Gated attention pooling over bags of tile features (Ilse et al. 2018), then a survival head.

    ``forward(tiles, mask)`` takes padded bags ``(n_bags, n_tiles, dim)`` and a mask of real tiles
    ``(n_bags, n_tiles)`` and returns ``(output (n_bags, out_dim), attention (n_bags, n_tiles), embedding
    (n_bags, hidden))``; padded tiles get attention 0.
    """

    def __init__(self, dim: int, *, hidden: int, attention_dim: int, dropout: float, out_dim: int):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.attention_v = nn.Linear(hidden, attention_dim)
        self.attention_u = nn.Linear(hidden, attention_dim)
        self.attention_w = nn.Linear(attention_dim, 1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, out_dim))

    def forward(self, tiles: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.embed(tiles)
        a = self.attention_w(torch.tanh(self.attention_v(h)) * torch.sigmoid(self.attention_u(h))).squeeze(2)
        attention = torch.softmax(a.masked_fill(~mask, -1e9), dim=1) * mask
        embedding = torch.bmm(attention.unsqueeze(1), h).squeeze(1)
        return self.head(embedding), attention, embedding


def pad_bags(bags: list, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack bags of different sizes into ``(n, max_tiles, dim)`` with a boolean mask of real tiles."""
    n, longest, dim = len(bags), max(b.shape[0] for b in bags), bags[0].shape[1]
    out = np.zeros((n, longest, dim), dtype=np.float32)
    mask = np.zeros((n, longest), dtype=bool)
    for i, b in enumerate(bags):
        out[i, : b.shape[0]] = b
        mask[i, : b.shape[0]] = True
    return torch.as_tensor(out, device=device), torch.as_tensor(mask, device=device)


def subsample_mask(mask: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Keep a random ``fraction`` of each bag's real tiles (at least one)."""
    r = torch.rand(mask.shape, generator=generator).to(mask.device)
    r = r.masked_fill(~mask, 2.0)
    keep = (r < fraction) & mask
    first = torch.zeros_like(mask)
    first[torch.arange(mask.shape[0], device=mask.device), r.argmin(dim=1)] = True
    return keep | first


class Adam:
    """Adam with L2 weight decay (Kingma and Ba 2015), as ``torch.optim.Adam(weight_decay=...)``.

    Written out because ``torch.optim`` imports torch's compiler stack on first use (tens of seconds on a
    busy 2-core machine) for a loop of a few lines.
    """

    def __init__(self, params, *, lr: float, weight_decay: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            g = p.grad + self.weight_decay * p if self.weight_decay else p.grad
            m.mul_(b1).add_(g, alpha=1.0 - b1)
            v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
            p.addcdiv_(m / c1, (v / c2).sqrt_().add_(self.eps), value=-self.lr)


@dataclass
class TrainingResult:
    """What :func:`train_network` did: per-epoch losses, the epoch kept and why it stopped."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


def survival_loss(out: torch.Tensor, time: np.ndarray, event: np.ndarray, bins: np.ndarray | None, *,
                  loss: str, ties: str) -> torch.Tensor:
    """The Cox loss on ``out[:, 0]`` or the discrete-time loss on ``out`` (logits per bin)."""
    if loss == "cox":
        return cox_loss(out[:, 0], time, event, ties=ties)
    return discrete_time_loss(out, event, bins)


def train_network(net: nn.Module, step: Callable[[bool], torch.Tensor], *, epochs: int, learning_rate: float,
                  weight_decay: float, validate: Callable[[], float] | None = None,
                  patience: int | None = None) -> TrainingResult:
    """Full-batch Adam for ``epochs`` epochs; with ``validate``, keep the weights of the best validation loss.

    ``step(train=True)`` returns the training loss of one epoch (the caller draws modality dropout or bags);
    ``validate()`` returns the validation loss (in eval mode, no gradient). Training stops when the
    validation loss has not improved for ``patience`` epochs; the network is left with its best weights.
    """
    optimiser = Adam(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    result = TrainingResult()
    best, best_state, waited = np.inf, None, 0
    for epoch in range(1, epochs + 1):
        net.train()
        optimiser.zero_grad()
        loss = step(True)
        if loss.requires_grad:
            loss.backward()
            optimiser.step()
        result.train_loss.append(loss.item())
        if validate is None:
            result.best_epoch = epoch
            continue
        net.eval()
        with torch.no_grad():
            val = float(validate())
        result.val_loss.append(val)
        if val < best - 1e-6:
            best, best_state, waited, result.best_epoch = val, copy.deepcopy(net.state_dict()), 0, epoch
        else:
            waited += 1
            if patience is not None and waited >= patience:
                result.stopped_early = True
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    logger.debug("Trained %d epochs; kept epoch %d.", len(result.train_loss), result.best_epoch)
    return result
