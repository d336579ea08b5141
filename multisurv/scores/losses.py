"""Survival losses for deep models (torch): Cox negative partial log-likelihood and a discrete-time NLL.

torch is imported inside the functions, so importing this module (and ``multisurv``) never imports torch;
install it with ``pip install "multisurv[wsi]"``.

Both losses take the model's output for a batch and the batch's ``time`` and ``event``; they are what
:class:`~multisurv.fusion.intermediate.IntermediateFusionCox` and :class:`~multisurv.scores.mil.AttentionMILScore`
minimise. The Cox loss at fixed coefficients equals minus the log-likelihood of
:func:`multisurv.evaluation.cox.cox_ph` (Efron) and of R's ``coxph`` (Breslow and Efron), see
``tests/scores/test_losses.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multisurv._optional import require

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "LOSSES",
    "TIES",
    "cox_loss",
    "discrete_risk",
    "discrete_time_loss",
    "make_time_bins",
    "time_to_bin",
]

#: Loss names accepted by the deep estimators (``loss=``).
LOSSES = ("cox", "discrete")
#: Tie handling of :func:`cox_loss`.
TIES = ("efron", "breslow")


def _torch():
    return require("torch", extra="wsi")


def _check_option(owner: str, name: str, value, options) -> None:
    if value not in options:
        raise ValueError(f"The '{name}' parameter of {owner} must be one of "
                         f"{', '.join(repr(o) for o in options)}. Got {value!r} instead.")


def cox_loss(risk: torch.Tensor, time, event, *, ties: str = "efron", reduction: str = "mean") -> torch.Tensor:
    """Negative Cox partial log-likelihood of a batch, with Efron's or Breslow's handling of tied times.

    Parameters
    ----------
    risk : torch.Tensor, shape (n,) or (n, 1)
        Log-hazard ratio (linear predictor, higher = worse) of each patient in the batch.
    time : array-like or torch.Tensor of float, shape (n,)
    event : array-like or torch.Tensor of bool, shape (n,)
        In the order of ``Surv(time, event)``.
    ties : {"efron", "breslow"}, default="efron"
        Efron is R's ``coxph`` default and :func:`~multisurv.evaluation.cox.cox_ph`'s; Breslow is
        scikit-survival's and glmnet's.
    reduction : {"mean", "sum"}, default="mean"
        ``"sum"`` is minus the partial log-likelihood; ``"mean"`` divides it by the number of events, so the
        scale does not depend on the batch size.

    Returns
    -------
    torch.Tensor
        A scalar, differentiable with respect to ``risk``.

    Raises
    ------
    ValueError
        If the sizes differ or an option is unknown.

    Notes
    -----
    With ``R(t) = sum_{j: t_j >= t} exp(risk_j)``, ``D(t)`` the ``d`` events at ``t`` and
    ``S(t) = sum_{i in D(t)} exp(risk_i)``, the partial log-likelihood is
    ``sum_t [sum_{i in D(t)} risk_i - sum_{l=0}^{d-1} log(R(t) - l / d * S(t))]`` (Efron) or
    ``sum_t [sum_{i in D(t)} risk_i - d log R(t)]`` (Breslow); both equal Cox's likelihood without ties.
    It is computed after subtracting the batch's largest risk (the likelihood does not change), so large
    risks do not overflow.

    **A batch without an event** has no comparable pair, so its partial likelihood is empty: the loss is
    ``0`` and its gradient is ``0`` everywhere (the returned tensor stays attached to the graph, so
    ``backward()`` works and the step changes nothing but weight decay). Trainers should draw batches that
    contain events (the estimators here train on the whole training set at once, or on batches drawn so that
    each holds at least one event). The partial likelihood of a mini-batch only compares patients inside the
    batch, so small batches estimate the full-data loss with bias; full-batch training avoids it.

    References
    ----------
    .. [1] Cox, D. R. "Regression models and life-tables", JRSS B 34(2), 187-220, 1972.
    .. [2] Efron, B. "The efficiency of Cox's likelihood function for censored data", JASA 72(359),
       557-565, 1977.
    .. [3] Katzman, J. L. et al. "DeepSurv: personalized treatment recommender system using a Cox
       proportional hazards deep neural network", BMC Medical Research Methodology 18, 24, 2018.

    Examples
    --------
    Two events without ties at risk 0: ``-(log 1/2 + log 1/1) = log 2``.

    >>> import torch
    >>> round(float(cox_loss(torch.zeros(2), [1.0, 2.0], [True, True], reduction="sum")), 6)
    0.693147
    >>> float(cox_loss(torch.zeros(2), [1.0, 2.0], [False, False]))
    0.0
    """
    torch = _torch()
    _check_option("cox_loss", "ties", ties, TIES)
    _check_option("cox_loss", "reduction", reduction, ("mean", "sum"))
    risk = risk.reshape(-1)
    device = risk.device
    event_np = np.asarray(event.detach().cpu() if hasattr(event, "detach") else event).reshape(-1)
    if event_np.dtype != bool and not np.isin(event_np.astype(float), (0.0, 1.0)).all():
        raise ValueError("'event' must hold 0 (censored) or 1 (event) only; cox_loss takes (risk, time, event), "
                         "time before event as in Surv(time, event).")
    event_np = event_np.astype(bool)
    time_np = np.asarray(time.detach().cpu() if hasattr(time, "detach") else time, dtype=float).reshape(-1)
    if not (risk.shape[0] == event_np.shape[0] == time_np.shape[0]):
        raise ValueError(f"'risk' has {risk.shape[0]} samples but 'event' has {event_np.shape[0]} and 'time' "
                         f"{time_np.shape[0]}.")
    n_events = int(event_np.sum())
    if n_events == 0:
        return (risk * 0.0).sum()

    # Index bookkeeping in numpy (no gradient flows through it). Only sorting, cumulative sums and gathers run
    # in torch, all deterministic on CPU and CUDA (no scatter/index_add).
    order = np.argsort(time_np, kind="stable")
    t_sorted, e_sorted = time_np[order], event_np[order]
    first = np.searchsorted(t_sorted, t_sorted, side="left")  # first row of each row's tie group
    last = np.searchsorted(t_sorted, t_sorted, side="right") - 1
    events = np.flatnonzero(e_sorted)
    order_t = torch.as_tensor(order, device=device)
    e_t = torch.as_tensor(e_sorted, device=device, dtype=risk.dtype)

    shift = risk.detach().max()
    eta = risk[order_t] - shift
    w = torch.exp(eta)
    at_risk = torch.flip(torch.cumsum(torch.flip(w, [0]), 0), [0])  # R(t_i): sum over rows with time >= t_i
    r_ev = at_risk[torch.as_tensor(first[events], device=device)]  # R(t) at each event
    first_term = (eta * e_t).sum()
    if ties == "breslow":
        loglik = first_term - torch.log(r_ev).sum()
    else:
        cum = torch.cat([torch.zeros(1, device=device, dtype=risk.dtype), torch.cumsum(w * e_t, 0)])
        first_t = torch.as_tensor(first[events], device=device)
        tied = cum[torch.as_tensor(last[events] + 1, device=device)] - cum[first_t]  # S(t): events tied at t
        # within a tie group of d events, the l-th (l = 0 .. d-1) gets log(R - l / d * S)
        d = np.bincount(first[events], minlength=t_sorted.size)[first[events]]
        rank = np.arange(events.size) - np.searchsorted(first[events], first[events], side="left")
        frac = torch.as_tensor(rank / d, device=device, dtype=risk.dtype)
        loglik = first_term - torch.log(r_ev - frac * tied).sum()
    loss = -loglik
    return loss / n_events if reduction == "mean" else loss


def make_time_bins(y: np.ndarray, n_bins: int = 4) -> np.ndarray:
    """Cut points of the discrete-time loss: quantiles of the event times (training rows only).

    Parameters
    ----------
    y : structured array
        Fields ``event`` and ``time`` of the training patients.
    n_bins : int, default=4
        Number of intervals; at least 2.

    Returns
    -------
    ndarray, shape (n_bins - 1,)
        Inner cut points, increasing; bin ``k`` holds ``cuts[k - 1] < t <= cuts[k]``.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> make_time_bins(make_y([1.0, 2.0, 3.0, 9.0], [1, 1, 1, 0]), n_bins=2).tolist()
    [2.0]
    """
    if not isinstance(n_bins, (int, np.integer)) or isinstance(n_bins, bool) or n_bins < 2:
        raise ValueError(f"The 'n_bins' parameter of make_time_bins must be an int in the range [2, inf). "
                         f"Got {n_bins!r} instead.")
    times = np.asarray(y["time"], dtype=float)[np.asarray(y["event"], dtype=bool)]
    if times.size == 0:
        raise ValueError("make_time_bins needs at least one event in 'y' to place the time bins; got none.")
    cuts = np.unique(np.quantile(times, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return cuts


def time_to_bin(time, cuts: np.ndarray) -> np.ndarray:
    """Bin index of each time (0 .. len(cuts)); see :func:`make_time_bins`.

    Parameters
    ----------
    time : array-like of float, shape (n,)
        Times to place.
    cuts : ndarray, shape (n_bins - 1,)
        Increasing inner cut points (from :func:`make_time_bins`).

    Returns
    -------
    ndarray of int, shape (n,)
        Bin ``k`` holds ``cuts[k - 1] < t <= cuts[k]`` (a time equal to a cut point falls in the lower bin).

    Examples
    --------
    >>> time_to_bin([0.5, 2.0, 2.5, 10.0], np.array([2.0, 3.0])).tolist()
    [0, 0, 1, 2]
    """
    return np.searchsorted(np.asarray(cuts, dtype=float), np.asarray(time, dtype=float), side="left")


def discrete_time_loss(logits: torch.Tensor, event, time_bin, *, reduction: str = "mean") -> torch.Tensor:
    """Negative log-likelihood of a discrete-time hazard model (logistic hazards per time bin).

    Parameters
    ----------
    logits : torch.Tensor, shape (n, n_bins)
        ``logit h_k``: hazard of the event in bin ``k`` given survival to its start.
    event : array-like or torch.Tensor of bool, shape (n,)
    time_bin : array-like or torch.Tensor of int, shape (n,)
        Bin of each patient's time (:func:`time_to_bin`).
    reduction : {"mean", "sum"}, default="mean"
        ``"mean"`` divides by the number of patients.

    Returns
    -------
    torch.Tensor
        Scalar.

    Notes
    -----
    An event in bin ``k`` contributes ``-log h_k - sum_{j<k} log(1 - h_j)``; a patient censored in bin ``k``
    survived it: ``-sum_{j<=k} log(1 - h_j)`` (the PORPOISE / Nnet-survival convention). This is the binary
    cross-entropy of the person-period table, which the tests check against scikit-learn's ``log_loss``. A
    batch without events still has a (censored) likelihood and a gradient. The risk of a patient is
    :func:`discrete_risk` (minus the summed survival over bins, higher = worse).

    References
    ----------
    .. [1] Gensheimer, M. F. and Narasimhan, B. "A scalable discrete-time survival model for neural
       networks", PeerJ 7, e6257, 2019.
    .. [2] Zadeh, S. G. and Schmid, M. "Bias in cross-entropy-based training of deep survival networks",
       IEEE TPAMI 43(9), 3126-3137, 2021.

    Examples
    --------
    One event in bin 0 with h_0 = 1/2: ``log 2``.

    >>> import torch
    >>> round(float(discrete_time_loss(torch.zeros(1, 3), [True], [0])), 6)
    0.693147
    """
    torch = _torch()
    _check_option("discrete_time_loss", "reduction", reduction, ("mean", "sum"))
    if logits.ndim != 2:
        raise ValueError(f"'logits' must have shape (n, n_bins); got {tuple(logits.shape)}.")
    n, n_bins = logits.shape
    device = logits.device
    event_t = torch.as_tensor(np.asarray(event.detach().cpu() if hasattr(event, "detach") else event, dtype=bool),
                              device=device).reshape(-1)
    bins = np.asarray(time_bin.detach().cpu() if hasattr(time_bin, "detach") else time_bin).astype(int).reshape(-1)
    if not (event_t.shape[0] == bins.shape[0] == n):
        raise ValueError(f"'logits' has {n} samples but 'event' has {event_t.shape[0]} and 'time_bin' "
                         f"{bins.shape[0]}.")
    if bins.size and (bins.min() < 0 or bins.max() >= n_bins):
        raise ValueError(f"'time_bin' must lie in [0, {n_bins - 1}] (one per column of 'logits'); got values "
                         f"from {bins.min()} to {bins.max()}.")
    bins_t = torch.as_tensor(bins, device=device)
    log_h = torch.nn.functional.logsigmoid(logits)
    log_1mh = torch.nn.functional.logsigmoid(-logits)
    cum = torch.cumsum(log_1mh, dim=1)  # log S(k) = sum_{j<=k} log(1 - h_j)
    rows = torch.arange(n, device=device)
    surv_before = torch.where(bins_t > 0, cum[rows, (bins_t - 1).clamp(min=0)], torch.zeros_like(cum[:, 0]))
    ll_event = log_h[rows, bins_t] + surv_before
    ll_censored = cum[rows, bins_t]
    ll = torch.where(event_t, ll_event, ll_censored)
    loss = -ll.sum()
    return loss / max(n, 1) if reduction == "mean" else loss


def discrete_risk(logits: torch.Tensor) -> torch.Tensor:
    """Risk (higher = worse) of a discrete-time model: minus the sum of survival over the bins.

    Parameters
    ----------
    logits : torch.Tensor, shape (n, n_bins)
        ``logit h_k`` per patient and time bin, as for :func:`discrete_time_loss`.

    Returns
    -------
    torch.Tensor, shape (n,)
        ``-sum_k S(k)`` with ``S(k) = prod_{j<=k} (1 - h_j)``: minus the expected number of bins survived.

    Examples
    --------
    >>> import torch
    >>> discrete_risk(torch.tensor([[0.0, 0.0], [5.0, 5.0]])).argmax().item()
    1
    """
    torch = _torch()
    return -torch.exp(torch.cumsum(torch.nn.functional.logsigmoid(-logits), dim=1)).sum(dim=1)
