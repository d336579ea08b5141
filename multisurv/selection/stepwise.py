"""Stepwise Cox selection (forward, backward or both) by AIC, BIC or likelihood-ratio p-values."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.selection._base import ColumnSelectorMixin

__all__ = ["StepwiseCoxSelector", "efron_log_likelihood"]

_OWNER = "StepwiseCoxSelector"


def _efron_terms(y: np.ndarray):
    """Sort order and Efron bookkeeping shared by every fit on the same outcome."""
    order = np.argsort(y["time"], kind="mergesort")
    time, event = y["time"][order], y["event"][order]
    event_times, d = np.unique(time[event], return_counts=True)
    starts = np.searchsorted(time, event_times, side="left")  # first row of each risk set
    ev_rows = np.flatnonzero(event)  # sorted positions of the events
    group = np.searchsorted(event_times, time[ev_rows])  # tied-time group of each event
    first_in_group = np.searchsorted(group, group, side="left")
    rank = np.arange(ev_rows.size) - first_in_group  # l = 0 .. d_j - 1 within each tied group
    frac = rank / d[group]
    return order, ev_rows, group, starts, frac, event_times.size


def _efron_fit(Z: np.ndarray, y: np.ndarray, beta: np.ndarray | None = None, *, terms=None,
               max_iter: int = 50, tol: float = 1e-10, evaluate_only: bool = False):
    """Newton-Raphson for the Cox model with Efron ties; returns (beta, loglik, converged).

    Written here because every stepwise move fits many small models and scikit-survival's general solver
    costs about 0.1 s a fit; this one is vectorised over events and needs a few ms (checked against
    ``survival::coxph`` through the stepwise reference to 1e-9 in log-likelihood).
    """
    order, ev_rows, group, starts, frac, n_groups = terms if terms is not None else _efron_terms(y)
    Z = np.asarray(Z, dtype=float)[order]
    n, p = Z.shape
    beta = np.zeros(p) if beta is None else np.asarray(beta, dtype=float)

    def evaluate(b):
        eta = Z @ b
        shift = eta.max() if n else 0.0
        w = np.exp(eta - shift)
        s0 = np.cumsum(w[::-1])[::-1][starts]
        s0d = np.bincount(group, weights=w[ev_rows], minlength=n_groups)
        phi = s0[group] - frac * s0d[group]
        ll = eta[ev_rows].sum() - np.sum(np.log(phi) + shift)
        if evaluate_only:
            return ll, None, None
        wz = w[:, None] * Z
        s1 = np.cumsum(wz[::-1], axis=0)[::-1][starts]
        s1d = np.zeros((n_groups, p))
        np.add.at(s1d, group, wz[ev_rows])
        mu = (s1[group] - frac[:, None] * s1d[group]) / phi[:, None]
        grad = Z[ev_rows].sum(axis=0) - mu.sum(axis=0)
        wzz = wz[:, :, None] * Z[:, None, :]
        s2 = np.cumsum(wzz[::-1], axis=0)[::-1][starts]
        s2d = np.zeros((n_groups, p, p))
        np.add.at(s2d, group, wzz[ev_rows])
        m2 = (s2[group] - frac[:, None, None] * s2d[group]) / phi[:, None, None]
        info = (m2 - mu[:, :, None] * mu[:, None, :]).sum(axis=0)
        return ll, grad, info

    ll, grad, info = evaluate(beta)
    if evaluate_only or p == 0:
        return beta, float(ll), True
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            return beta, float(ll), False
        new_beta = beta + step
        new_ll, new_grad, new_info = evaluate(new_beta)
        halvings = 0
        while not (np.isfinite(new_ll) and new_ll >= ll - 1e-12) and halvings < 30:
            step = step / 2.0
            new_beta = beta + step
            new_ll, new_grad, new_info = evaluate(new_beta)
            halvings += 1
        if not np.isfinite(new_ll):
            return beta, float(ll), False
        done = abs(new_ll - ll) <= tol * max(1.0, abs(ll))
        beta, ll, grad, info = new_beta, new_ll, new_grad, new_info
        if done:
            return beta, float(ll), bool(np.all(np.abs(beta) < 50))
    return beta, float(ll), False


def efron_log_likelihood(y: np.ndarray, eta: np.ndarray) -> float:
    """Cox partial log-likelihood with Efron's handling of tied event times.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
    eta : ndarray, shape (n_samples,)
        Linear predictor.

    Returns
    -------
    float
        ``sum_j [sum_{i in D_j} eta_i - sum_{l=0}^{d_j-1} log(S_j - l/d_j * S_{D_j})]`` with ``S_j`` the sum of
        ``exp(eta)`` over the risk set of event time ``j`` and ``S_{D_j}`` over its ``d_j`` events; equal to
        ``coxph(..., ties = "efron")$loglik`` (tested against R through the stepwise reference).

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> round(efron_log_likelihood(make_y([1.0, 1.0], [1, 1]), np.zeros(2)), 6)  # log(1/2) + log(1/1)
    -0.693147
    """
    eta = np.asarray(eta, dtype=float)
    _, ll, _ = _efron_fit(eta[:, None], y, np.ones(1), evaluate_only=True)
    return ll


class StepwiseCoxSelector(ColumnSelectorMixin):
    """Stepwise Cox regression: add or drop one feature at a time while the criterion improves.

    Parameters
    ----------
    direction : {"forward", "backward", "both"}, default="both"
        ``"forward"`` starts from no feature and only adds; ``"backward"`` starts from all and only drops;
        ``"both"`` starts from none and considers every addition and every removal at each step (as R's
        ``step(direction = "both")`` from the empty model).
    criterion : {"aic", "bic", "p"}, default="aic"
        ``"aic"``: ``-2 loglik + 2 k``; ``"bic"``: ``-2 loglik + log(n_events) k`` (``stats::BIC`` of a
        ``coxph`` fit counts events); ``"p"``: likelihood-ratio test, add the best feature while its
        p < ``p_enter``, drop the worst while its p > ``p_remove``.
    p_enter, p_remove : float, default=0.05 and 0.10
        Thresholds of ``criterion="p"`` (``p_enter <= p_remove`` avoids cycling).
    max_features : int or None, default=None
        Never hold more than this many features.
    max_steps : int, default=100
        Upper bound on the number of moves.

    Attributes
    ----------
    medians_ : ndarray
        Training medians (NaN is imputed before fitting).
    path_ : pandas.DataFrame
        One row per step: ``step``, ``action`` ("start", "add" or "drop"), ``feature``, ``n_features``,
        ``loglik``, ``criterion`` (AIC or BIC; for "p" the AIC is shown) and ``p_value`` (LR test of the move).
    loglik_ : float
        Partial log-likelihood (Efron ties) of the final model.
    coef_ : pandas.Series
        Unpenalised Cox coefficients of the final model on the raw feature scale.
    support_, selected_features_

    Notes
    -----
    Fits use a vectorised Newton-Raphson with Efron ties (as ``survival::coxph``; the moves match
    ``MASS::stepAIC`` on ``survival::pbc``, see tests/reference). Candidate fits that do not converge (a feature
    that separates the outcome) are skipped. Stepwise p-values and coefficients are optimistic: use the
    selection inside :func:`multisurv.evaluation.resampling.validate` to measure what it is worth.

    References
    ----------
    .. [1] Venables, W. N., Ripley, B. D. "Modern Applied Statistics with S", 4th ed., Springer, 2002
       (``MASS::stepAIC``).

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
    >>> y = make_y(rng.exponential(np.exp(-X["a"] + 0.8 * X["b"])), np.ones(200, bool))
    >>> sel = StepwiseCoxSelector(criterion="bic").fit(X, y)
    >>> sel.path_["feature"].tolist()[1:3]  # the two true features enter first
    ['a', 'b']
    """

    def __init__(self, *, direction: Literal["forward", "backward", "both"] = "both",
                 criterion: Literal["aic", "bic", "p"] = "aic", p_enter: float = 0.05, p_remove: float = 0.10,
                 max_features: int | None = None, max_steps: int = 100):
        self.direction = direction
        self.criterion = criterion
        self.p_enter = p_enter
        self.p_remove = p_remove
        self.max_features = max_features
        self.max_steps = max_steps

    def fit(self, X, y) -> StepwiseCoxSelector:
        """Run the stepwise search on the training rows.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
        y : structured array, shape (n_samples,)

        Returns
        -------
        self

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
        >>> y = make_y(rng.exponential(np.exp(-2 * X["a"])), np.ones(100, bool))
        >>> sel = StepwiseCoxSelector(direction="forward", criterion="bic").fit(X, y)
        >>> sel.path_[["action", "feature", "n_features"]]
          action feature  n_features
        0  start                   0
        1    add       a           1
        2    add       c           2
        >>> sel.coef_.round(2).to_dict()
        {'a': 1.96, 'c': 0.23}
        """
        check_param(_OWNER, "direction", self.direction, kind="option", options=("forward", "backward", "both"))
        check_param(_OWNER, "criterion", self.criterion, kind="option", options=("aic", "bic", "p"))
        check_param(_OWNER, "p_enter", self.p_enter, kind="float", low=0, high=1, low_open=True)
        check_param(_OWNER, "p_remove", self.p_remove, kind="float", low=0, high=1, low_open=True)
        check_param(_OWNER, "max_steps", self.max_steps, kind="int", low=1)
        if self.max_features is not None:
            check_param(_OWNER, "max_features", self.max_features, kind="int", low=1)
        if self.criterion == "p" and self.p_enter > self.p_remove:
            raise ValueError(f"{_OWNER}: 'p_enter' ({self.p_enter}) must not exceed 'p_remove' ({self.p_remove}), "
                             "or a feature could be added and dropped forever. Lower 'p_enter'.")
        frame = self._start_fit(X)
        y = check_survival_y(y, where=f"{_OWNER}.fit")
        check_consistent_length(X=frame, y=y)
        values = frame.to_numpy(dtype=float)
        has = (~np.isnan(values)).any(axis=0)
        self.medians_ = np.zeros(values.shape[1])
        if has.any():
            self.medians_[has] = np.nanmedian(values[:, has], axis=0)
        values = np.where(np.isnan(values), self.medians_, values)
        self._values, self._y = values, y
        self._penalty = 2.0 if self.criterion in ("aic", "p") else float(np.log(y["event"].sum()))
        self._cache: dict[frozenset, tuple[float, np.ndarray] | None] = {}
        self._terms = _efron_terms(y)

        current: list[int] = [] if self.direction in ("forward", "both") else list(range(values.shape[1]))
        fitted = self._fit(current)
        if fitted is None:
            raise ValueError(f"{_OWNER}: the Cox model on all {len(current)} features did not converge. Start "
                             "forward (direction='forward' or 'both') or filter correlated features first.")
        ll = fitted[0]
        path = [dict(step=0, action="start", feature="", n_features=len(current), loglik=ll,
                     criterion=self._ic(ll, len(current)), p_value=np.nan)]
        for step in range(1, self.max_steps + 1):
            move = self._best_move(current, ll)
            if move is None:
                break
            action, j, new_ll, p_value = move
            current = [*current, j] if action == "add" else [k for k in current if k != j]
            ll = new_ll
            path.append(dict(step=step, action=action, feature=self._columns[j], n_features=len(current), loglik=ll,
                             criterion=self._ic(ll, len(current)), p_value=p_value))
        self.path_ = pd.DataFrame(path)
        self.loglik_ = float(ll)
        support = np.zeros(values.shape[1], dtype=bool)
        support[current] = True
        self._finish_fit(support)
        beta = self._fit(sorted(current))[1] if current else np.zeros(0)
        self.coef_ = pd.Series(beta, index=pd.Index([self._columns[k] for k in sorted(current)], name="feature"),
                               name="coef", dtype=float)
        del self._values, self._y, self._cache, self._terms
        return self

    def _ic(self, ll: float, k: int) -> float:
        return -2.0 * ll + self._penalty * k

    def _fit(self, columns: list[int]):
        key = frozenset(columns)
        if key not in self._cache:
            cols = sorted(columns)
            beta, ll, ok = _efron_fit(self._values[:, cols], self._y, terms=self._terms)
            self._cache[key] = (ll, beta) if ok and np.isfinite(ll) else None
        return self._cache[key]

    def _best_move(self, current: list[int], ll: float):
        k = len(current)
        adds, drops = [], []
        can_add = self.direction in ("forward", "both") and (self.max_features is None or k < self.max_features)
        if can_add:
            for j in range(self._values.shape[1]):
                if j not in current:
                    fitted = self._fit([*current, j])
                    if fitted is not None:
                        adds.append((j, fitted[0]))
        if self.direction in ("backward", "both"):
            for j in current:
                fitted = self._fit([c for c in current if c != j])
                if fitted is not None:
                    drops.append((j, fitted[0]))
        if self.criterion == "p":
            # drop first (the worst term above p_remove), otherwise add the best term below p_enter
            if drops:
                j, new_ll = min(drops, key=lambda t: 2.0 * (ll - t[1]))
                p = float(stats.chi2.sf(max(2.0 * (ll - new_ll), 0.0), 1))
                if p > self.p_remove:
                    return "drop", j, new_ll, p
            if adds:
                j, new_ll = max(adds, key=lambda t: t[1])
                p = float(stats.chi2.sf(max(2.0 * (new_ll - ll), 0.0), 1))
                if p < self.p_enter:
                    return "add", j, new_ll, p
            return None
        best = None
        current_ic = self._ic(ll, k)
        for action, moves, size in (("add", adds, k + 1), ("drop", drops, k - 1)):
            for j, new_ll in moves:
                ic = self._ic(new_ll, size)
                if ic < current_ic - 1e-10 and (best is None or ic < best[0] - 1e-12):
                    p = float(stats.chi2.sf(abs(2.0 * (new_ll - ll)), 1))
                    best = (ic, action, j, new_ll, p)
        return None if best is None else best[1:]
