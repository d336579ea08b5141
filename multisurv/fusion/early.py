"""Early fusion: one Cox model on the features each modality selected, concatenated."""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model import CoxPHSurvivalAnalysis

from multisurv._validation import SurvivalScoreMixin, check_consistent_length, check_param, check_survival_y
from multisurv.exceptions import ConvergenceWarning
from multisurv.scores.modality_score import ModalityScore, check_scores, default_scores

__all__ = ["EarlyFusionCox"]

_OWNER = "EarlyFusionCox"


class EarlyFusionCox(SurvivalScoreMixin, BaseEstimator):
    """Cox model on the concatenation of every modality's selected features.

    Parameters
    ----------
    scores : sequence of ModalityScore or None, default=None
        One per modality; each is cloned and fitted to choose its modality's features. None means radscore
        (``ct__``), patscore (``wsi__``) and clinscore (``clin__``), seeded with ``random_state``.
    penalizer : float, default=0.1
        Ridge penalty of the multivariable Cox model (scikit-survival's ``alpha``: ``0.5 * penalizer *
        ||beta||^2`` added to the negative partial log-likelihood, on standardised features); >= 0.
    random_state : int, RandomState instance or None, default=None
        Seeds the default scores' selection (ignored for scores you pass).

    Attributes
    ----------
    scores_ : list of ModalityScore
        Fitted clones, used only for their selected features.
    features_ : list of str
        The concatenated selected features (model columns).
    impute_values_, mean_, scale_ : pandas.Series
        Training medians (imputation), and mean and standard deviation of the imputed training features.
    coef_ : pandas.Series
        Cox coefficient per feature on the standardised scale.
    cox_ : CoxPHSurvivalAnalysis or None
        The fitted Cox model (None when no feature was selected).

    See Also
    --------
    multisurv.fusion.late.LateFusionCox : fuses scores instead of features.

    Notes
    -----
    A patient missing a modality has all its features NaN; they are imputed with the training medians,
    so the missing modality contributes the value of a "typical" training patient. Medians, means and
    scales come from the training rows only and are reused unchanged by :meth:`predict`, which returns a
    risk (linear predictor, higher = worse) for every row.

    References
    ----------
    .. [1] Cox, D. R. "Regression models and life-tables", Journal of the Royal Statistical Society B 34(2),
       187-220, 1972.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from multisurv._validation import make_y
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(150, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"] - X["wsi__a"])), np.ones(150, bool))
    >>> scores = [ModalityScore(name="radscore", prefix="ct__"), ModalityScore(name="patscore", prefix="wsi__")]
    >>> model = EarlyFusionCox(scores=scores, random_state=0).fit(X, y)
    >>> model.predict(X).shape
    (150,)
    """

    def __init__(self, *, scores: Sequence[ModalityScore] | None = None, penalizer: float = 0.1, random_state=None):
        self.scores = scores
        self.penalizer = penalizer
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> EarlyFusionCox:
        """Select features per modality, then fit the Cox model on all of them.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
        y : structured array, shape (n_samples,)

        Returns
        -------
        self

        Raises
        ------
        TypeError
            If ``X`` is not a DataFrame.
        ValueError
            If ``penalizer`` is negative, ``y`` is not a valid survival outcome, or the sizes differ.

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
        >>> model = EarlyFusionCox(scores=scores).fit(X, y)
        >>> model.coef_.round(2)
        feature
        ct__a     1.18
        ct__b    -0.18
        wsi__a    1.19
        Name: coef, dtype: float64
        """
        check_param(_OWNER, "penalizer", self.penalizer, kind="float", low=0)
        scores = default_scores(self.random_state) if self.scores is None else check_scores(self.scores, _OWNER)
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{_OWNER} needs 'X' as a pandas DataFrame with prefixed columns; got {type(X).__name__}.")
        y = check_survival_y(y, where=f"{_OWNER}.fit")
        check_consistent_length(X=X, y=y)

        self.scores_ = [clone(s).fit(X, y) for s in scores]
        features: list[str] = []
        for s in self.scores_:
            features.extend(f for f in s.selected_features_ if f not in features)
        values = X.loc[:, features].to_numpy(dtype=float)
        medians = np.zeros(len(features))
        if features:
            medians = np.nanmedian(values, axis=0)  # each selected feature has training values
        imputed = np.where(np.isnan(values), medians, values)
        mean = imputed.mean(axis=0)
        scale = imputed.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        index = pd.Index(features, name="feature")
        self.features_ = features
        self.impute_values_ = pd.Series(medians, index=index, dtype=float)
        self.mean_ = pd.Series(mean, index=index, dtype=float)
        self.scale_ = pd.Series(scale, index=index, dtype=float)
        if features:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SklearnConvergenceWarning)
                self.cox_ = CoxPHSurvivalAnalysis(alpha=self.penalizer).fit((imputed - mean) / scale, y)
            if any(issubclass(w.category, SklearnConvergenceWarning) for w in caught):
                warnings.warn(
                    f"{_OWNER}: the Cox model on {len(features)} features did not converge. Increase 'penalizer' "
                    f"(now {self.penalizer}).", category=ConvergenceWarning, stacklevel=2,
                )
            coef = np.asarray(self.cox_.coef_, dtype=float)
        else:
            self.cox_ = None
            coef = np.zeros(0)
        self.coef_ = pd.Series(coef, index=index, name="coef", dtype=float)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Risk (linear predictor, higher = worse) for every row of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
            Must hold the columns in ``features_``; NaN (missing modality) is imputed with training medians.

        Returns
        -------
        ndarray, shape (n_samples,)

        Raises
        ------
        TypeError
            If ``X`` is not a DataFrame.
        ValueError
            If ``X`` lacks a column of ``features_``.

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
        >>> EarlyFusionCox(scores=scores).fit(X, y).predict(X.iloc[:3]).round(2)
        array([ 1.17,  1.02, -1.12])
        """
        check_is_fitted(self, "coef_")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{_OWNER} needs 'X' as a pandas DataFrame with prefixed columns; got {type(X).__name__}.")
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise ValueError(
                f"'X' lacks {len(missing)} column(s) that {_OWNER} was fitted with: "
                f"{', '.join(repr(c) for c in missing[:5])}{', ...' if len(missing) > 5 else ''}."
            )
        values = X.loc[:, self.features_].to_numpy(dtype=float)
        values = np.where(np.isnan(values), self.impute_values_.to_numpy(), values)
        return ((values - self.mean_.to_numpy()) / self.scale_.to_numpy()) @ self.coef_.to_numpy()
