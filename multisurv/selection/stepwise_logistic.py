"""Stepwise logistic selection for a binary endpoint (forward, backward or both) by AIC, BIC or likelihood-ratio
p-values, as R's ``step(glm(..., family = binomial))``."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

from multisurv._validation import check_consistent_length, check_param
from multisurv.selection._logistic import check_binary_y, fit_logistic
from multisurv.selection.stepwise import StepwiseCoxSelector

__all__ = ["StepwiseLogisticSelector"]

_OWNER = "StepwiseLogisticSelector"


class StepwiseLogisticSelector(StepwiseCoxSelector):
    """Stepwise logistic regression: add or drop one feature at a time while the criterion improves.

    The search (moves, criteria, ties between moves) is :class:`~multisurv.selection.stepwise.StepwiseCoxSelector`'s;
    only the model differs: a logistic regression with an intercept, fitted by Newton-Raphson.

    Parameters
    ----------
    direction : {"forward", "backward", "both"}, default="both"
    criterion : {"aic", "bic", "p"}, default="aic"
        ``"aic"``: ``-2 loglik + 2 k``; ``"bic"``: ``-2 loglik + log(n) k`` (n patients, as ``step(k = log(n))``
        on a ``glm``); ``"p"``: likelihood-ratio tests with ``p_enter`` / ``p_remove``.
    p_enter, p_remove : float, default=0.05 and 0.10
    max_features : int or None, default=None
    max_steps : int, default=100

    Attributes
    ----------
    medians_ : ndarray
    path_ : pandas.DataFrame
        ``step``, ``action``, ``feature``, ``n_features``, ``loglik``, ``criterion``, ``p_value``.
    loglik_ : float
        Log-likelihood of the final model.
    coef_ : pandas.Series
        Coefficients (log odds ratios) of the final model on the raw scale, without the intercept.
    intercept_ : float
    support_, selected_features_

    Notes
    -----
    The criterion counts only the features (the intercept is in every model, so it cancels from comparisons);
    ``path_["criterion"] + 2`` is R's ``extractAIC`` for AIC. Candidate fits that do not converge (separation) are
    skipped. As with any stepwise selection, validate the whole procedure by bootstrap
    (:func:`multisurv.evaluation.binary_validation.validate_binary`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(400, 4)), columns=list("abcd"))
    >>> y = rng.uniform(size=400) < 1 / (1 + np.exp(-(1.5 * X["a"] - X["b"])))
    >>> StepwiseLogisticSelector(criterion="bic").fit(X, y).selected_features_
    ['a', 'b']
    """

    def __init__(self, *, direction: Literal["forward", "backward", "both"] = "both",
                 criterion: Literal["aic", "bic", "p"] = "aic", p_enter: float = 0.05, p_remove: float = 0.10,
                 max_features: int | None = None, max_steps: int = 100):
        super().__init__(direction=direction, criterion=criterion, p_enter=p_enter, p_remove=p_remove,
                         max_features=max_features, max_steps=max_steps)

    def fit(self, X, y) -> StepwiseLogisticSelector:
        """Run the stepwise search on the training rows.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
            NaN is median-imputed.
        y : array-like of 0/1 or bool, shape (n_samples,)

        Returns
        -------
        self

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
        >>> y = rng.uniform(size=100) < 1 / (1 + np.exp(-2 * X["a"]))
        >>> sel = StepwiseLogisticSelector(direction="forward", criterion="bic").fit(X, y)
        >>> sel.path_[["action", "feature", "n_features"]]
          action feature  n_features
        0  start                   0
        1    add       a           1
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
        yy = check_binary_y(y, where=f"{_OWNER}.fit")
        check_consistent_length(X=frame, y=yy)
        values = frame.to_numpy(dtype=float)
        has = (~np.isnan(values)).any(axis=0)
        self.medians_ = np.zeros(values.shape[1])
        if has.any():
            self.medians_[has] = np.nanmedian(values[:, has], axis=0)
        values = np.where(np.isnan(values), self.medians_, values)
        self._values, self._y = values, yy
        self._penalty = 2.0 if self.criterion in ("aic", "p") else float(np.log(yy.size))
        self._cache = {}
        current: list[int] = [] if self.direction in ("forward", "both") else list(range(values.shape[1]))
        fitted = self._fit(current)
        if fitted is None:
            raise ValueError(f"{_OWNER}: the logistic model on all {len(current)} features did not converge "
                             "(separation). Start forward (direction='forward' or 'both') or drop the separating "
                             "features.")
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
        beta = self._fit(sorted(current))[1]
        self.intercept_ = float(beta[0])
        self.coef_ = pd.Series(beta[1:], index=pd.Index([self._columns[k] for k in sorted(current)], name="feature"),
                               name="coef", dtype=float)
        del self._values, self._y, self._cache
        return self

    def _fit(self, columns: list[int]):
        key = frozenset(columns)
        if key not in self._cache:
            cols = sorted(columns)
            design = np.column_stack([np.ones(self._y.size), self._values[:, cols]])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a separated candidate is skipped, not reported
                fit = fit_logistic(design, self._y, where=f"{_OWNER} candidate")
            self._cache[key] = (fit.log_likelihood, fit.coef) if fit.converged else None
        return self._cache[key]
