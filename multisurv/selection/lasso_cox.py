"""LASSO (elastic-net) Cox feature selection with the penalty chosen by cross-validation."""

from __future__ import annotations

import logging
import warnings
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model import CoxnetSurvivalAnalysis

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.exceptions import ConvergenceWarning
from multisurv.selection._base import ColumnSelectorMixin, has_names

__all__ = ["LassoCoxSelector", "kkt_violation", "partial_log_likelihood"]

logger = logging.getLogger(__name__)

_OWNER = "LassoCoxSelector"


class LassoCoxSelector(ColumnSelectorMixin):
    """Select features with a LASSO (or elastic-net) Cox model.

    The features are median-imputed and standardised (both fitted in :meth:`fit`), the regularisation
    path is computed with scikit-survival's :class:`~sksurv.linear_model.CoxnetSurvivalAnalysis`, and the
    penalty is chosen by K-fold cross-validation of the partial-likelihood deviance. The selected features
    are those with a non-zero coefficient at the chosen penalty.

    Parameters
    ----------
    l1_ratio : float, default=1.0
        Elastic-net mixing in (0, 1]; 1 is the LASSO.
    alpha : "cv" or float, default="cv"
        Penalty strength. ``"cv"`` chooses it on the path by cross-validation; a float > 0 is fitted at exactly
        that penalty (a warm-started path from the largest penalty down to it; should the solver's path stop
        before reaching it, the penalty is refitted on its own, and fitting refuses with a ValueError rather
        than report another penalty).
    cv : int, default=5
        Number of folds (stratified on the event indicator) when ``alpha="cv"``; at least 2.
    n_alphas : int, default=50
        Number of penalties on the path (scikit-survival may stop the path early once the fit saturates).
    alpha_min_ratio : float, default=0.01
        Smallest penalty on the path as a fraction of the largest (the one that removes every feature), in
        (0, 1). Unlike glmnet's 1e-4 for n > p, the default stops before near-unpenalised fits, which do not
        converge when features are many and which cross-validation does not pick for selection anyway.
    rule : {"min", "1se"}, default="min"
        ``"min"``: the penalty with the lowest mean CV deviance. ``"1se"``: the largest penalty whose mean
        deviance is within one standard error of that minimum (a sparser model).
    max_features : int or None, default=None
        If set, move to larger penalties on the path until at most this many features are selected.
    tol : float, default=1e-7
        Convergence tolerance of the coordinate descent (scikit-survival's ``tol``, relative to the null
        deviance, as glmnet's ``thresh``). Lower it (e.g. 1e-12) to agree with glmnet beyond about 1e-3 at small
        penalties with many features.
    max_iter : int, default=100000
        Iteration cap of the coordinate descent (a ConvergenceWarning names it when reached).
    random_state : int, RandomState instance or None, default=None
        Seeds the fold split.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` is a DataFrame.
    medians_ : ndarray, shape (n_features_in_,)
        Training medians used for imputation (0 for a column that is all missing).
    mean_, scale_ : ndarray, shape (n_features_in_,)
        Mean and standard deviation (ddof 0) of the imputed training features; ``scale_`` is 1 for
        constant columns, which are never selected.
    alphas_ : ndarray
        The penalty path, in decreasing order.
    alpha_ : float
        The chosen penalty.
    coef_ : ndarray, shape (n_features_in_,)
        Coefficients at ``alpha_`` on the **standardised** scale; divide by ``scale_`` for the raw scale.
    support_ : ndarray of bool, shape (n_features_in_,)
        ``coef_ != 0``.
    selected_features_ : list of str
        Names of the selected features, in input order.
    kkt_violation_ : float
        Largest violation of the optimality (Karush-Kuhn-Tucker) conditions at ``alpha_``, relative to
        ``alpha_ * l1_ratio``: 0 at the exact optimum, shrinks with ``tol``. It shows that the reported penalty
        is the one the coefficients solve.
    cv_results_ : pandas.DataFrame or None
        One row per penalty: ``alpha``, ``n_nonzero``, ``mean_deviance``, ``se_deviance`` and
        ``split<k>_deviance`` (deviance per event in the held-out fold). None when ``alpha`` is a float.

    See Also
    --------
    sksurv.linear_model.CoxnetSurvivalAnalysis : fits the path.
    multisurv.scores.modality_score.ModalityScore : turns the selection into a score.

    Notes
    -----
    Times of 0 are accepted (an event at time 0), as ``survival::coxph`` accepts them: the partial likelihood
    depends only on the order of the times. (``glmnet`` refuses them; its reference replaces 0 by 1e-6.)

    The CV criterion is the cross-validated partial likelihood of Verweij and van Houwelingen [2]_, as
    ``glmnet::cv.glmnet(family = "cox", grouped = TRUE)`` uses: for fold k,
    ``-2 * (l(beta_-k) - l_-k(beta_-k))`` where ``beta_-k`` is fitted without fold k (imputation and scaling
    refitted on the other folds too), ``l`` is the Breslow partial log-likelihood on all training rows and
    ``l_-k`` on all rows but fold k. It is divided by the number of events in fold k; the mean over folds
    is weighted by those event counts. It is smoother than a per-fold C-index on small folds.

    References
    ----------
    .. [1] Simon, N., Friedman, J., Hastie, T., Tibshirani, R. "Regularization paths for Cox's proportional
       hazards model via coordinate descent", Journal of Statistical Software 39(5), 2011.
    .. [2] Verweij, P. J. M., van Houwelingen, H. C. "Cross-validation in survival analysis", Statistics in
       Medicine 12(24), 2305-2314, 1993.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 5)), columns=[f"ct__f{i}" for i in range(5)])
    >>> y = make_y(rng.exponential(np.exp(-2 * X["ct__f0"])), np.ones(200, bool))
    >>> sel = LassoCoxSelector(random_state=0).fit(X, y)
    >>> "ct__f0" in sel.selected_features_
    True
    """

    def __init__(self, *, l1_ratio: float = 1.0, alpha: float | Literal["cv"] = "cv", cv: int = 5,
                 n_alphas: int = 50, alpha_min_ratio: float = 0.01, rule: Literal["min", "1se"] = "min",
                 max_features: int | None = None, tol: float = 1e-7, max_iter: int = 100_000, random_state=None):
        self.l1_ratio = l1_ratio
        self.alpha = alpha
        self.cv = cv
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.rule = rule
        self.max_features = max_features
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame | ArrayLike, y: np.ndarray) -> LassoCoxSelector:
        """Fit imputation, scaling and the penalised Cox path; choose the penalty and the features.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
            Features; NaN is allowed (median-imputed).
        y : structured array, shape (n_samples,)
            Fields ``event`` (bool) and ``time`` (float).

        Returns
        -------
        self

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
        >>> y = make_y(rng.exponential(np.exp(-2 * X["a"])), np.ones(100, bool))
        >>> sel = LassoCoxSelector(alpha=0.3).fit(X, y)  # a fixed penalty: no cross-validation
        >>> sel.selected_features_, sel.alpha_
        (['a'], 0.3)
        """
        self._check_params()
        frame = self._start_fit(X)
        y = check_survival_y(y, where=f"{_OWNER}.fit", allow_zero_time=True)
        check_consistent_length(X=frame, y=y)
        values = frame.to_numpy(dtype=float)

        self.medians_, self.mean_, self.scale_, usable = _fit_standardisation(values)
        Z = (_impute(values, self.medians_) - self.mean_) / self.scale_
        coef = np.zeros(values.shape[1])
        self.cv_results_ = None
        if usable.any():
            solver = {"tol": float(self.tol), "max_iter": int(self.max_iter)}
            if self.alpha == "cv":
                alphas, path = _coxnet_path(Z[:, usable], y, l1_ratio=self.l1_ratio, n_alphas=self.n_alphas,
                                            alpha_min_ratio=self.alpha_min_ratio, **solver)
                self.cv_results_ = self._cross_validate(values[:, usable], y, alphas, path)
                idx = self._choose(self.cv_results_)
            else:
                alpha_max = float(np.abs(_gradient(Z[:, usable], y, np.zeros(int(usable.sum())))).max()) / self.l1_ratio
                alphas, path = _fit_fixed_alpha(Z[:, usable], y, float(self.alpha), alpha_max, l1_ratio=self.l1_ratio,
                                                n_alphas=self.n_alphas, **solver)
                idx = alphas.size - 1
            if self.max_features is not None:
                while idx > 0 and np.count_nonzero(path[:, idx]) > self.max_features:
                    idx -= 1
            self.alphas_ = alphas
            self.alpha_ = float(alphas[idx])
            coef[usable] = path[:, idx]
            self.kkt_violation_ = kkt_violation(Z[:, usable], y, path[:, idx], self.alpha_, self.l1_ratio)
        else:
            self.alphas_ = np.array([np.inf])
            self.alpha_ = float("inf")
            self.kkt_violation_ = 0.0
        self.coef_ = coef
        self._finish_fit(coef != 0)
        if not self.selected_features_:
            how = "as given" if self.alpha != "cv" else f"chosen by cross-validation, rule={self.rule!r}"
            fix = "Pass a smaller float 'alpha'" + (" (or rule='min')" if self.rule == "1se" else "")
            warnings.warn(
                f"{_OWNER} selected no feature: every coefficient is zero at alpha={self.alpha_:.4g} ({how}), so "
                f"the features carry no signal the penalty lets through. {fix} to keep some.",
                category=ConvergenceWarning, stacklevel=2,
            )
        return self

    def _check_params(self) -> None:
        check_param(_OWNER, "l1_ratio", self.l1_ratio, kind="float", low=0, high=1, low_open=True)
        if not (isinstance(self.alpha, str) and self.alpha == "cv"):
            if isinstance(self.alpha, str):
                raise ValueError(
                    f"The 'alpha' parameter of {_OWNER} must be 'cv' or a float in the range (0, inf). "
                    f"Got {self.alpha!r} instead."
                )
            check_param(_OWNER, "alpha", self.alpha, kind="float", low=0, low_open=True)
        check_param(_OWNER, "cv", self.cv, kind="int", low=2)
        check_param(_OWNER, "n_alphas", self.n_alphas, kind="int", low=2)
        check_param(_OWNER, "alpha_min_ratio", self.alpha_min_ratio, kind="float", low=0, high=1, low_open=True,
                    high_open=True)
        check_param(_OWNER, "rule", self.rule, kind="option", options=("min", "1se"))
        if self.max_features is not None:
            check_param(_OWNER, "max_features", self.max_features, kind="int", low=1)
        check_param(_OWNER, "tol", self.tol, kind="float", low=0, low_open=True)
        check_param(_OWNER, "max_iter", self.max_iter, kind="int", low=1)

    def _folds(self, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Fold split, stratified on the event indicator when each class can fill every fold."""
        n_events = int(y["event"].sum())
        n_censored = y.shape[0] - n_events
        if n_events < self.cv:
            raise ValueError(
                f"{_OWNER} cannot run cv={self.cv} folds with only {n_events} event(s); each fold needs an "
                "event. Lower 'cv' or pass a float 'alpha'."
            )
        if 0 < n_censored < self.cv:
            splitter = KFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        else:
            splitter = StratifiedKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
        return list(splitter.split(np.zeros((y.shape[0], 1)), y["event"]))

    def _cross_validate(self, values: np.ndarray, y: np.ndarray, alphas: np.ndarray, path: np.ndarray,
                        folds: list[tuple[np.ndarray, np.ndarray]] | None = None) -> pd.DataFrame:
        """Cross-validated partial-likelihood deviance of every penalty on the path."""
        folds = self._folds(y) if folds is None else folds
        n_folds = len(folds)
        dev = np.empty((n_folds, alphas.size))
        fold_events = np.empty(n_folds)
        for k, (train, test) in enumerate(folds):
            medians, mean, scale, _ = _fit_standardisation(values[train])
            Z = (_impute(values, medians) - mean) / scale
            _, fold_path = _coxnet_path(Z[train], y[train], l1_ratio=self.l1_ratio, alphas=alphas,
                                        where=f"fold {k + 1} of cv={n_folds}", tol=float(self.tol),
                                        max_iter=int(self.max_iter))
            if fold_path.shape[1] < alphas.size:
                # Coxnet stops a path once the fit saturates; the remaining (smaller) penalties keep the last fit.
                fold_path = np.hstack([fold_path, np.repeat(fold_path[:, -1:], alphas.size - fold_path.shape[1], 1)])
            eta = Z @ fold_path
            full = partial_log_likelihood(y, eta)
            rest = partial_log_likelihood(y[train], eta[train])
            fold_events[k] = y["event"][test].sum()
            dev[k] = -2.0 * (full - rest) / fold_events[k]
        weights = fold_events / fold_events.sum()
        mean = weights @ dev
        se = np.sqrt((weights @ (dev - mean) ** 2) / (n_folds - 1))
        table = {"alpha": alphas, "n_nonzero": np.count_nonzero(path, axis=0), "mean_deviance": mean,
                 "se_deviance": se}
        table.update({f"split{k}_deviance": dev[k] for k in range(n_folds)})
        return pd.DataFrame(table)

    def _choose(self, results: pd.DataFrame) -> int:
        mean = results["mean_deviance"].to_numpy()
        best = int(np.argmin(mean))
        if self.rule == "min":
            return best
        threshold = mean[best] + results["se_deviance"].to_numpy()[best]
        return int(np.flatnonzero(mean <= threshold)[0])  # alphas decrease: the first is the largest

    # ------------------------------------------------------------ transform
    def transform(self, X: pd.DataFrame | ArrayLike) -> pd.DataFrame | np.ndarray:
        """Keep the selected columns.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features_in_)
            When fitted on a DataFrame with str column names, the selected columns are taken by name;
            otherwise ``X`` must have ``n_features_in_`` columns in training order.

        Returns
        -------
        DataFrame or ndarray, shape (n_samples, n_selected)
            Same type as ``X``; values are not imputed or scaled.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
        >>> y = make_y(rng.exponential(np.exp(-2 * X["a"])), np.ones(100, bool))
        >>> sel = LassoCoxSelector(alpha=0.3).fit(X, y)
        >>> sel.transform(X).columns.tolist()
        ['a']
        >>> sel.transform(X.to_numpy()).shape  # by position for an array
        (100, 1)
        """
        check_is_fitted(self, "support_")
        if not self.selected_features_:
            warnings.warn(
                f"{_OWNER} selected no feature, so transform returns 0 columns. Pass a smaller float 'alpha' "
                "(or rule='min') when fitting to keep some.",
                category=ConvergenceWarning, stacklevel=2,
            )
        if has_names(X) and hasattr(self, "feature_names_in_"):
            missing = [c for c in self.selected_features_ if c not in X.columns]
            if missing:
                raise ValueError(
                    f"'X' lacks {len(missing)} selected column(s) of {_OWNER}: "
                    f"{', '.join(repr(c) for c in missing[:5])}{', ...' if len(missing) > 5 else ''}."
                )
            return X.loc[:, self.selected_features_]
        shape = np.shape(X)
        if len(shape) != 2 or shape[1] != self.n_features_in_:
            raise ValueError(
                f"'X' has {shape[1] if len(shape) == 2 else shape} features but {_OWNER} was "
                f"fitted with {self.n_features_in_}."
            )
        if isinstance(X, pd.DataFrame):
            return X.iloc[:, self.support_]
        return np.asarray(X)[:, self.support_]


# ------------------------------------------------------------------ helpers
def partial_log_likelihood(y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Cox partial log-likelihood with Breslow's handling of ties.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` and ``time``.
    eta : ndarray, shape (n_samples,) or (n_samples, n_models)
        Linear predictors, one column per model.

    Returns
    -------
    float or ndarray, shape (n_models,)
        ``sum over events i of eta_i - log(sum over j with time_j >= time_i of exp(eta_j))``.

    Examples
    --------
    Two events, no ties, eta = 0: log(1/2) + log(1/1).

    >>> from multisurv._validation import make_y
    >>> round(float(partial_log_likelihood(make_y([1.0, 2.0], [1, 1]), np.zeros(2))), 6)
    -0.693147
    """
    eta = np.asarray(eta, dtype=float)
    squeeze = eta.ndim == 1
    eta = eta.reshape(eta.shape[0], -1)
    order = np.argsort(y["time"], kind="mergesort")
    time, event, eta = y["time"][order], y["event"][order], eta[order]
    log_at_risk = np.logaddexp.accumulate(eta[::-1], axis=0)[::-1]  # log of the sum over j >= i, in time order
    first = np.searchsorted(time, time, side="left")  # tied times share the whole tied risk set
    log_risk = log_at_risk[first]
    ll = ((eta - log_risk) * event[:, None]).sum(axis=0)
    return float(ll[0]) if squeeze else ll


def kkt_violation(Z: np.ndarray, y: np.ndarray, coef: np.ndarray, alpha: float, l1_ratio: float = 1.0) -> float:
    """Largest violation of the elastic-net Cox optimality conditions, relative to ``alpha * l1_ratio``.

    The objective is scikit-survival's and glmnet's: ``-l(beta) / n + alpha * (l1_ratio * |beta|_1 +
    (1 - l1_ratio) / 2 * |beta|_2^2)`` with Breslow's partial log-likelihood ``l``. With ``g`` the gradient of
    ``l / n`` minus the ridge term, the optimum has ``g_j = alpha * l1_ratio * sign(beta_j)`` where
    ``beta_j != 0`` and ``|g_j| <= alpha * l1_ratio`` where ``beta_j = 0``.

    Parameters
    ----------
    Z : ndarray, shape (n_samples, n_features)
        The (standardised) design the coefficients were fitted on.
    y : structured array, shape (n_samples,)
    coef : ndarray, shape (n_features,)
    alpha, l1_ratio : float

    Returns
    -------
    float
        0 at the exact optimum.

    Examples
    --------
    At a penalty above the largest gradient the zero vector is optimal:

    >>> from multisurv._validation import make_y
    >>> Z = np.array([[1.0], [-1.0], [0.5], [-0.5]])
    >>> kkt_violation(Z, make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 0]), np.zeros(1), alpha=10.0)
    0.0
    """
    coef = np.asarray(coef, dtype=float)
    grad = _gradient(Z, y, coef) - alpha * (1.0 - l1_ratio) * coef
    bound = alpha * l1_ratio
    active = coef != 0
    excess = np.where(active, np.abs(grad - bound * np.sign(coef)), np.maximum(np.abs(grad) - bound, 0.0))
    return float(excess.max() / bound) if excess.size else 0.0


def _gradient(Z: np.ndarray, y: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Gradient of Breslow's partial log-likelihood divided by n, at ``coef``."""
    Z = np.asarray(Z, dtype=float)
    order = np.argsort(y["time"], kind="mergesort")
    time, event, Zs = y["time"][order], y["event"][order], Z[order]
    eta = Zs @ coef
    w = np.exp(eta - eta.max())
    cum_w = np.cumsum(w[::-1])[::-1]
    cum_wz = np.cumsum((w[:, None] * Zs)[::-1], axis=0)[::-1]
    first = np.searchsorted(time, time, side="left")  # Breslow: tied times share the whole tied risk set
    mean_z = cum_wz[first] / cum_w[first][:, None]
    return ((Zs - mean_z) * event[:, None]).sum(axis=0) / Z.shape[0]


def _fit_fixed_alpha(Z: np.ndarray, y: np.ndarray, alpha: float, alpha_max: float, *, l1_ratio: float,
                     n_alphas: int, tol: float, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """The coefficients at exactly ``alpha``: a warm-started path down to it, refitted alone if the path stops early.

    scikit-survival (like glmnet) ends a path once the deviance ratio stops changing; the last penalty of
    such a shortened path is not the one asked for. Then ``alpha`` is fitted on its own (a cold start: same
    optimum, more iterations); if even that does not report ``alpha``, fitting refuses.
    """
    if alpha >= alpha_max:  # every coefficient is zero at or above the largest penalty on the path
        return np.array([alpha]), np.zeros((Z.shape[1], 1))
    grid = np.geomspace(alpha_max, alpha, max(int(n_alphas), 2))
    alphas, path = _coxnet_path(Z, y, l1_ratio=l1_ratio, alphas=grid, tol=tol, max_iter=max_iter)
    if not np.isclose(alphas[-1], alpha, rtol=1e-12, atol=0.0):
        logger.info("%s: the solver's path stopped at alpha=%.6g before the requested %.6g; refitting at %.6g "
                    "alone.", _OWNER, alphas[-1], alpha, alpha)
        alphas, path = _coxnet_path(Z, y, l1_ratio=l1_ratio, alphas=np.array([alpha]), tol=tol, max_iter=max_iter,
                                    where="the full training data (requested alpha alone)")
        if alphas.size != 1 or not np.isclose(alphas[-1], alpha, rtol=1e-12, atol=0.0):
            raise ValueError(
                f"{_OWNER} could not fit at the requested alpha={alpha:.6g}: scikit-survival's solver returned "
                f"alpha={alphas[-1]:.6g} even when asked for that penalty alone. Pass another float 'alpha' "
                "or alpha='cv'."
            )
    return alphas, path


def _fit_standardisation(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Medians, means and scales of the median-imputed columns; ``usable`` marks non-constant columns."""
    n_features = values.shape[1]
    observed = ~np.isnan(values)
    medians = np.zeros(n_features)
    has_values = observed.any(axis=0)
    if has_values.any():
        medians[has_values] = np.nanmedian(values[:, has_values], axis=0)
    imputed = _impute(values, medians)
    mean = imputed.mean(axis=0) if values.shape[0] else np.zeros(n_features)
    scale = imputed.std(axis=0) if values.shape[0] else np.ones(n_features)
    usable = scale > 1e-12 * np.maximum(1.0, np.abs(mean))
    scale = np.where(usable, scale, 1.0)
    return medians, mean, scale, usable


def _impute(values: np.ndarray, medians: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), medians, values)


def _coxnet_path(Z: np.ndarray, y: np.ndarray, *, l1_ratio: float, n_alphas: int = 50,
                 alpha_min_ratio: float = 0.01, alphas=None,
                 where: str = "the full training data", tol: float = 1e-7,
                 max_iter: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fit scikit-survival's Coxnet path; translate its warnings and numerical errors into multisurv's.

    ``tol`` is scikit-survival's convergence tolerance (its default, 1e-7); the glmnet reference tests lower it.
    ``max_iter`` defaults to scikit-survival's 100,000, or 1,000,000 for a tolerance below 1e-7.
    """
    if max_iter is None:
        max_iter = 100_000 if tol >= 1e-7 else 1_000_000
    model = CoxnetSurvivalAnalysis(l1_ratio=l1_ratio, n_alphas=int(n_alphas), alphas=alphas,
                                   alpha_min_ratio=alpha_min_ratio, tol=tol, max_iter=max_iter)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(Z, y)
        except ArithmeticError as exc:
            raise ValueError(
                f"{_OWNER}: the Coxnet path failed on {where} ({exc}). The smallest penalties are the hard "
                "ones: raise 'alpha_min_ratio' (or pass a larger float 'alpha')."
            ) from exc
    for w in caught:
        if issubclass(w.category, SklearnConvergenceWarning):
            warnings.warn(
                f"{_OWNER}: the Coxnet path did not converge on {where} ({w.message}). The smallest penalties "
                "are the hard ones: raise 'alpha_min_ratio' (or pass a larger float 'alpha'), or raise 'max_iter'.",
                category=ConvergenceWarning, stacklevel=3,
            )
        elif "all coefficients are zero" not in str(w.message):  # an empty selection is reported by fit
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return np.asarray(model.alphas_, dtype=float), np.asarray(model.coef_, dtype=float)
