"""Late fusion: a Cox model on modality scores that were computed out of fold."""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model import CoxPHSurvivalAnalysis

from multisurv._validation import SurvivalScoreMixin, check_consistent_length, check_param, check_survival_y
from multisurv.exceptions import ConvergenceWarning
from multisurv.scores.modality_score import ModalityScore, check_scores, default_scores

__all__ = ["LateFusionCox"]

_OWNER = "LateFusionCox"
#: Ridge penalty of the fusion Cox model: negligible for a few scores, but keeps a constant score
#: (a modality where nothing was selected) from making the fit singular.
_FUSION_RIDGE = 1e-4


class LateFusionCox(SurvivalScoreMixin, BaseEstimator):
    """Cox model on per-modality risk scores, fitted on out-of-fold scores.

    Parameters
    ----------
    scores : sequence of ModalityScore or None, default=None
        One per modality, with unique names; each is cloned. None means radscore (``ct__``), patscore
        (``wsi__``) and clinscore (``clin__``), seeded with ``random_state``.
    cv : int, default=5
        Number of folds for the out-of-fold scores; at least 2.
    random_state : int, RandomState instance or None, default=None
        Seeds the fold split (``KFold(shuffle=True)``) and the default scores.
    stacking : bool, default=True
        True: the fusion Cox model is fitted on out-of-fold scores (stacking). False: on the in-sample
        scores of the refitted scores, as most published late-fusion models are (optimistic weights; kept
        for comparison).
    missing : {"mean", "pattern"}, default="mean"
        Policy for a patient who lacks a modality. ``"mean"`` (score imputation): the missing score is set
        to its training mean. ``"pattern"`` (per-pattern sub-models): one fusion Cox model per set of
        available scores, fitted on every training patient who has at least those scores; a patient is
        scored by the sub-model of exactly the scores they have.
    min_patients : int, default=20
        ``missing="pattern"``: a sub-model needs this many training patients (and 5 events); patterns
        without enough fall back to mean imputation in the full model.

    Attributes
    ----------
    scores_ : list of ModalityScore
        Every score refitted on all training rows; :meth:`predict` uses these.
    oof_scores_ : pandas.DataFrame
        Out-of-fold score per training patient (index of ``X``, one column per score name); NaN where the
        patient lacks the modality.
    oof_score_means_ : pandas.Series
        Mean out-of-fold score per score over the patients who have it; fills the gaps when fitting.
    score_means_ : pandas.Series
        Mean of each refitted score over the training patients who have the modality; fills the gaps
        when predicting.
    coef_ : pandas.Series
        Fusion Cox coefficient per score name (risk = sum of coef * score).
    fusion_ : CoxPHSurvivalAnalysis
        The fusion Cox model.
    folds_ : list of (ndarray, ndarray)
        The (train, test) row positions of each fold.
    submodels_ : dict
        ``missing="pattern"`` only: tuple of available score names -> dict with ``coef`` (Series),
        ``offset`` (the sub-model's mean risk over its training patients, subtracted so that sub-models share
        a centre) and ``n``, ``events``.

    See Also
    --------
    multisurv.fusion.early.EarlyFusionCox : fuses the selected features instead.

    Notes
    -----
    Stacking without leakage: for each fold, every score is refitted on the other folds and applied to
    the held-out fold, so the fusion model is fitted on scores that never saw the patient they score
    (in-sample scores are optimistic and would get too much weight). Then every score is refitted on all
    training rows for prediction.

    Missing modality, ``missing="mean"``: a missing score is replaced by the training mean of that score, so
    its term is the same as for an average patient and adds no information; the other modalities keep the
    weights they have in the full model. ``missing="pattern"``: the weights are refitted for each pattern of
    available scores, so a modality that correlates with the missing one can take over its share; each
    sub-model's risk is centred on its own training patients so that risks from different sub-models share a
    centre (their spread still differs: a patient with fewer modalities gets a less extreme risk). The two
    policies are compared in ``tests/fusion/test_strategies.py``. Risk is higher = worse, for every row.

    References
    ----------
    .. [1] Wolpert, D. H. "Stacked generalization", Neural Networks 5(2), 241-259, 1992.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from multisurv._validation import make_y
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(150, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"] - X["wsi__a"])), np.ones(150, bool))
    >>> scores = [ModalityScore(name="radscore", prefix="ct__"), ModalityScore(name="patscore", prefix="wsi__")]
    >>> model = LateFusionCox(scores=scores, cv=3, random_state=0).fit(X, y)
    >>> list(model.coef_.index)
    ['radscore', 'patscore']
    """

    def __init__(self, *, scores: Sequence[ModalityScore] | None = None, cv: int = 5, random_state=None,
                 stacking: bool = True, missing: str = "mean", min_patients: int = 20):
        self.scores = scores
        self.cv = cv
        self.random_state = random_state
        self.stacking = stacking
        self.missing = missing
        self.min_patients = min_patients

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> LateFusionCox:
        """Compute out-of-fold scores, fit the fusion Cox model on them, refit every score on all rows.

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
            If a parameter is invalid, there are fewer rows than ``cv``, the sizes differ, or a score cannot be
            fitted on a fold (the message names the fold).

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
        >>> model = LateFusionCox(scores=scores, cv=3, random_state=0).fit(X, y)
        >>> model.coef_.round(2)
        radscore    1.96
        patscore    1.79
        Name: coef, dtype: float64
        >>> model.oof_scores_.shape  # one out-of-fold score per patient and modality
        (100, 2)
        """
        check_param(_OWNER, "cv", self.cv, kind="int", low=2)
        check_param(_OWNER, "missing", self.missing, kind="option", options=("mean", "pattern"))
        check_param(_OWNER, "stacking", self.stacking, kind="option", options=(True, False))
        check_param(_OWNER, "min_patients", self.min_patients, kind="int", low=2)
        scores = default_scores(self.random_state) if self.scores is None else check_scores(self.scores, _OWNER)
        X = _check_frame(X)
        y = check_survival_y(y, where=f"{_OWNER}.fit")
        n = check_consistent_length(X=X, y=y)
        if n < self.cv:
            raise ValueError(f"{_OWNER} cannot split {n} patients into cv={self.cv} folds. Lower 'cv'.")
        names = [s.name for s in scores]

        if self.stacking:
            folds = list(KFold(n_splits=self.cv, shuffle=True, random_state=self.random_state).split(X))
            oof = np.full((n, len(scores)), np.nan)
            for k, (train, test) in enumerate(folds):
                for j, template in enumerate(scores):
                    try:
                        fitted = clone(template).fit(X.iloc[train], y[train])
                    except ValueError as exc:
                        raise ValueError(f"{_OWNER}, fold {k + 1} of cv={self.cv}: {exc}") from exc
                    oof[test, j] = fitted.predict(X.iloc[test])
            self.folds_ = folds
            self.oof_scores_ = pd.DataFrame(oof, index=X.index, columns=names)
        self.scores_ = [clone(s).fit(X, y) for s in scores]
        in_sample = pd.DataFrame({s.name: s.predict(X) for s in self.scores_}, index=X.index)
        self.score_means_ = in_sample.mean(axis=0)
        if not self.stacking:
            self.folds_ = []
            self.oof_scores_ = in_sample.copy()  # not out of fold: the in-sample scores the fusion is fitted on
        self.oof_score_means_ = self.oof_scores_.mean(axis=0)

        filled = self.oof_scores_.fillna(self.oof_score_means_).to_numpy()
        self.fusion_ = _fit_fusion(filled, y, names)
        self.coef_ = pd.Series(np.asarray(self.fusion_.coef_, dtype=float), index=names, name="coef")
        self.submodels_ = {}
        if self.missing == "pattern":
            self.submodels_ = self._fit_patterns(self.oof_scores_, y, names)
        return self

    def _fit_patterns(self, scores: pd.DataFrame, y: np.ndarray, names: list[str]) -> dict:
        """One fusion Cox per non-empty set of available scores, on the patients who have that set or more."""
        available = scores.notna().to_numpy()
        patterns = {tuple(n for n, a in zip(names, row) if a) for row in available}
        # every subset of a seen pattern can be needed at predict time; fit those with enough patients
        from itertools import combinations

        wanted = {sub for pat in patterns for k in range(1, len(pat) + 1) for sub in combinations(pat, k)}
        out = {}
        for pat in sorted(wanted, key=lambda p: (-len(p), p)):
            cols = [names.index(c) for c in pat]
            rows = available[:, cols].all(axis=1)
            n_events = int(y["event"][rows].sum())
            if rows.sum() < self.min_patients or n_events < 5:
                continue
            values = scores.to_numpy()[np.ix_(rows, cols)]
            model = _fit_fusion(values, y[rows], list(pat))
            coef = pd.Series(np.asarray(model.coef_, dtype=float), index=list(pat), name="coef")
            out[pat] = {"coef": coef, "offset": float((values @ coef.to_numpy()).mean()), "n": int(rows.sum()),
                        "events": n_events}
        return out

    def transform_scores(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each score for each row of ``X`` (NaN where the modality is missing), before filling.

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        pandas.DataFrame
            Index of ``X``, one column per score name.

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
        >>> model = LateFusionCox(scores=scores, cv=3, random_state=0).fit(X, y)
        >>> X.loc[0, ["wsi__a", "wsi__b"]] = np.nan  # patient 0 has no slide
        >>> model.transform_scores(X.iloc[:2]).round(2)
           radscore  patscore
        0       0.1       NaN
        1      -0.3      0.84
        """
        check_is_fitted(self, "coef_")
        X = _check_frame(X)
        return pd.DataFrame({s.name: s.predict(X) for s in self.scores_}, index=X.index)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Fused risk (higher = worse) for every row of ``X``; missing scores are set to their training mean.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples,)

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
        >>> model = LateFusionCox(scores=scores, cv=3, random_state=0).fit(X, y)
        >>> model.predict(X.iloc[:2]).round(2)
        array([1.02, 0.91])
        >>> X.loc[0, ["wsi__a", "wsi__b"]] = np.nan  # without a slide, patscore takes its training mean
        >>> model.predict(X.iloc[:2]).round(2)
        array([0.2 , 0.91])
        """
        raw = self.transform_scores(X)
        risk = raw.fillna(self.score_means_).to_numpy() @ self.coef_.to_numpy()
        if self.missing == "pattern" and self.submodels_:
            names = list(raw.columns)
            available = raw.notna().to_numpy()
            risk = risk - float(self.oof_scores_.fillna(self.oof_score_means_).to_numpy().dot(
                self.coef_.to_numpy()).mean())
            values = raw.to_numpy()
            for key in np.unique(available, axis=0):
                pat = tuple(n for n, a in zip(names, key) if a)
                sub = self.submodels_.get(pat)
                if sub is None:
                    continue  # too few training patients with this pattern: mean imputation in the full model
                rows = (available == key).all(axis=1)
                risk[rows] = values[np.ix_(rows, key)] @ sub["coef"].to_numpy() - sub["offset"]
        return risk

def _fit_fusion(values: np.ndarray, y: np.ndarray, names: list[str]) -> CoxPHSurvivalAnalysis:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SklearnConvergenceWarning)
        model = CoxPHSurvivalAnalysis(alpha=_FUSION_RIDGE).fit(values, y)
    if any(issubclass(w.category, SklearnConvergenceWarning) for w in caught):
        warnings.warn(
            f"{_OWNER}: the fusion Cox model on the scores {', '.join(repr(s) for s in names)} did not "
            "converge; a score may separate the outcome perfectly. Drop that score from 'scores' or give "
            "its selector a larger penalty.", category=ConvergenceWarning, stacklevel=3,
        )
    return model


def _check_frame(X) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{_OWNER} needs 'X' as a pandas DataFrame with prefixed columns; got {type(X).__name__}.")
    return X
