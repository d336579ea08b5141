"""One interface for every fusion strategy: early, late (out-of-fold scores) and late_insample (in-sample scores).

The words are those of :data:`multisurv.registry.FUSION_STRATEGIES`, the same in every config and report."""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from multisurv._validation import SurvivalScoreMixin, check_param
from multisurv.fusion.early import EarlyFusionCox
from multisurv.fusion.late import LateFusionCox
from multisurv.scores.formula import format_formula

__all__ = ["FusionCox", "STRATEGIES"]

_OWNER = "FusionCox"
STRATEGIES = ("early", "late", "late_insample")


class FusionCox(SurvivalScoreMixin, BaseEstimator):
    """Fuse modalities with one of three strategies behind one estimator.

    Parameters
    ----------
    strategy : {"early", "late", "late_insample"}, default="late"
        ``"early"``: one Cox model on the concatenated features each score selected
        (:class:`~multisurv.fusion.early.EarlyFusionCox`). ``"late"``: Cox on out-of-fold scores
        (:class:`~multisurv.fusion.late.LateFusionCox`), so the fusion layer never sees in-sample scores.
        ``"late_insample"``: Cox on the in-sample scores (the usual published recipe; optimistic).
    scores : sequence of ModalityScore (or NonlinearScore) or None
        One per modality; None means radscore, patscore and clinscore.
    missing : {"mean", "pattern"}, default="mean"
        Late fusions only: missing score imputed by its training mean, or per-pattern sub-models (see
        :class:`~multisurv.fusion.late.LateFusionCox`). Early fusion imputes training medians of the
        missing features and accepts only ``"mean"``.
    penalizer : float, default=0.1
        Early only: ridge penalty of the Cox model.
    cv : int, default=5
        ``"late"`` only: folds for the out-of-fold scores.
    random_state : int, RandomState instance or None

    Attributes
    ----------
    model_ : EarlyFusionCox or LateFusionCox
        The fitted model that does the work.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(150, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"] - X["wsi__a"])), np.ones(150, bool))
    >>> scores = [ModalityScore(name="radscore", prefix="ct__"), ModalityScore(name="patscore", prefix="wsi__")]
    >>> [FusionCox(strategy=s, scores=scores, cv=3, random_state=0).fit(X, y).predict(X).shape
    ...  for s in ("early", "late", "late_insample")]
    [(150,), (150,), (150,)]
    """

    def __init__(self, *, strategy: Literal["early", "late", "late_insample"] = "late", scores: Sequence | None = None,
                 missing: Literal["mean", "pattern"] = "mean", penalizer: float = 0.1, cv: int = 5,
                 random_state=None):
        self.strategy = strategy
        self.scores = scores
        self.missing = missing
        self.penalizer = penalizer
        self.cv = cv
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> FusionCox:
        """Fit the chosen strategy.

        Parameters
        ----------
        X : pandas.DataFrame
        y : structured array

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``strategy`` or ``missing`` is not one of the options (``strategy="stacked"`` names its new word), or
            ``strategy="early"`` is combined with ``missing="pattern"``; errors of the underlying model pass through.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.scores.modality_score import ModalityScore
        >>> from multisurv.selection.lasso_cox import LassoCoxSelector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"] - X["wsi__a"])), np.ones(100, bool))
        >>> scores = [ModalityScore(name=n, prefix=p, selector=LassoCoxSelector(alpha=0.1))
        ...           for n, p in (("radscore", "ct__"), ("patscore", "wsi__"))]
        >>> model = FusionCox(strategy="late_insample", scores=scores).fit(X, y).model_
        >>> type(model).__name__, model.stacking
        ('LateFusionCox', False)
        """
        if self.strategy == "stacked":
            raise ValueError(f"{_OWNER}: strategy='stacked' was renamed: out-of-fold late fusion is now "
                             "strategy='late' (and in-sample late fusion strategy='late_insample'), the words every "
                             "multisurv config uses. Write strategy='late'.")
        check_param(_OWNER, "strategy", self.strategy, kind="option", options=STRATEGIES)
        check_param(_OWNER, "missing", self.missing, kind="option", options=("mean", "pattern"))
        if self.strategy == "early":
            if self.missing != "mean":
                raise ValueError(f"{_OWNER}: strategy='early' imputes missing features with training medians and "
                                 f"has no missing={self.missing!r} policy. Use strategy='late' or 'late_insample'.")
            self.model_ = EarlyFusionCox(scores=self.scores, penalizer=self.penalizer,
                                         random_state=self.random_state)
        else:
            self.model_ = LateFusionCox(scores=self.scores, cv=self.cv, random_state=self.random_state,
                                        stacking=self.strategy == "late", missing=self.missing)
        self.model_.fit(X, y)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Fused risk (higher = worse) for every row.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
            The prefixed feature columns the model was fitted with.

        Returns
        -------
        ndarray, shape (n_samples,)
            The fitted ``model_``'s ``predict``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.scores.modality_score import ModalityScore
        >>> from multisurv.selection.lasso_cox import LassoCoxSelector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"] - X["wsi__a"])), np.ones(100, bool))
        >>> scores = [ModalityScore(name=n, prefix=p, selector=LassoCoxSelector(alpha=0.1))
        ...           for n, p in (("radscore", "ct__"), ("patscore", "wsi__"))]
        >>> FusionCox(strategy="late_insample", scores=scores).fit(X, y).predict(X.iloc[:3]).round(2)
        array([ 1.14,  1.1 , -1.36])
        """
        check_is_fitted(self, "model_")
        return self.model_.predict(X)

    @property
    def coef_(self) -> pd.Series:
        """Fusion coefficients: per score (late, late_insample) or per standardised feature (early).

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.scores.modality_score import ModalityScore
        >>> from multisurv.selection.lasso_cox import LassoCoxSelector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"] - X["wsi__a"])), np.ones(100, bool))
        >>> scores = [ModalityScore(name=n, prefix=p, selector=LassoCoxSelector(alpha=0.1))
        ...           for n, p in (("radscore", "ct__"), ("patscore", "wsi__"))]
        >>> FusionCox(strategy="late_insample", scores=scores).fit(X, y).coef_.round(2)
        radscore    2.02
        patscore    2.03
        Name: coef, dtype: float64
        """
        check_is_fitted(self, "model_")
        return self.model_.coef_

    def formula_text(self, *, digits: int = 4) -> str:
        """The fusion layer as one line, e.g. ``risk = 0.408 * radscore + 0.714 * patscore + ...``.

        Early fusion prints per-standardised-feature coefficients (``z(feature)``).

        Parameters
        ----------
        digits : int, default=4
            Significant digits of every coefficient.

        Returns
        -------
        str
            ``risk = c1 * term1 + c2 * term2 ...`` (no constant).

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.scores.modality_score import ModalityScore
        >>> from multisurv.selection.lasso_cox import LassoCoxSelector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"] - X["wsi__a"])), np.ones(100, bool))
        >>> scores = [ModalityScore(name=n, prefix=p, selector=LassoCoxSelector(alpha=0.1))
        ...           for n, p in (("radscore", "ct__"), ("patscore", "wsi__"))]
        >>> FusionCox(strategy="late_insample", scores=scores).fit(X, y).formula_text(digits=2)
        'risk = 2 * radscore + 2 * patscore'
        >>> FusionCox(strategy="early", scores=scores).fit(X, y).formula_text(digits=2)
        'risk = 1.2 * z(ct__a) - 0.18 * z(ct__b) + 1.2 * z(wsi__a)'
        """
        check_is_fitted(self, "model_")
        coef = self.model_.coef_
        if self.strategy == "early":
            coef = pd.Series(coef.to_numpy(), index=[f"z({f})" for f in coef.index])
        return format_formula(coef, name="risk", digits=digits)
