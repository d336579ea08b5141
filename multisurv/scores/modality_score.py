"""One score per modality (radscore, patscore, clinscore): a linear Cox predictor on selected features."""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model import CoxPHSurvivalAnalysis

from multisurv._validation import SurvivalScoreMixin, check_consistent_length, check_survival_y
from multisurv.exceptions import ConvergenceWarning
from multisurv.selection.lasso_cox import LassoCoxSelector

__all__ = ["ModalityScore", "DEFAULT_SCORES", "default_scores", "modality_columns", "modality_present"]

_OWNER = "ModalityScore"
#: Ridge penalty of the Cox refit used only for selectors without coefficients (numerical stability).
_REFIT_RIDGE = 1e-2


#: (name, prefix) of the default scores, in fusion order.
DEFAULT_SCORES = (("radscore", "ct__"), ("patscore", "wsi__"), ("clinscore", "clin__"))


def default_scores(random_state=None) -> list[ModalityScore]:
    """The default scores: radscore (``ct__``), patscore (``wsi__``) and clinscore (``clin__``).

    Parameters
    ----------
    random_state : int or None, optional
        Seed of every score's selection (cross-validation folds).

    Returns
    -------
    list of ModalityScore
        Three unfitted scores, one per built-in modality, with the default LASSO-Cox selector.

    Examples
    --------
    >>> [s.name for s in default_scores()]
    ['radscore', 'patscore', 'clinscore']
    """
    return [ModalityScore(name=name, prefix=prefix, random_state=random_state) for name, prefix in DEFAULT_SCORES]


def check_scores(scores: Sequence[ModalityScore], owner: str) -> list[ModalityScore]:
    """Check a sequence of scores (non-empty, unique names) and return it as a list."""
    if isinstance(scores, (str, bytes)) or not hasattr(scores, "__iter__"):
        raise ValueError(f"The 'scores' parameter of {owner} must be a sequence of ModalityScore or None. "
                         f"Got {scores!r} instead.")
    scores = list(scores)
    if not scores or not all(hasattr(s, "fit") and hasattr(s, "name") for s in scores):
        raise ValueError(f"The 'scores' parameter of {owner} must be a non-empty sequence of ModalityScore or None. "
                         f"Got {scores!r} instead.")
    names = [s.name for s in scores]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"The scores of {owner} must have unique names; {', '.join(repr(n) for n in duplicated)} "
                         "is used more than once. Give each ModalityScore its own 'name'.")
    return scores


def modality_columns(X: pd.DataFrame, prefix: str) -> list[str]:
    """Columns of ``X`` whose name starts with ``prefix``.

    Parameters
    ----------
    X : pandas.DataFrame
        Feature matrix with prefixed columns.
    prefix : str
        A modality's prefix, such as ``ct__``.

    Returns
    -------
    list of str
        The matching column names, in the order of ``X``.

    Examples
    --------
    >>> modality_columns(pd.DataFrame(columns=["ct__a", "wsi__b", "ct__c"]), "ct__")
    ['ct__a', 'ct__c']
    """
    return [c for c in X.columns if str(c).startswith(prefix)]


def modality_present(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Boolean mask of rows that have the modality (not every one of ``columns`` is NaN).

    Parameters
    ----------
    X : pandas.DataFrame
        Feature matrix.
    columns : list of str
        The modality's columns (:func:`modality_columns`).

    Returns
    -------
    numpy.ndarray of bool, shape (n_samples,)
        True for the patients with at least one non-missing value of the modality.

    Examples
    --------
    >>> modality_present(pd.DataFrame({"ct__a": [1.0, np.nan], "ct__b": [np.nan, np.nan]}), ["ct__a", "ct__b"])
    array([ True, False])
    """
    return X.loc[:, columns].notna().any(axis=1).to_numpy()


class ModalityScore(SurvivalScoreMixin, BaseEstimator):
    """A modality's risk score: selected features combined linearly, as in the radiomics "Rad-score".

    Parameters
    ----------
    name : str, default="radscore"
        Name of the score (used as a column name by the fusion models).
    prefix : str, default="ct__"
        Only columns whose name starts with this prefix are used.
    selector : estimator, Pipeline of selectors, or None, default=None
        Feature selector, cloned in :meth:`fit`; None means ``LassoCoxSelector(random_state=random_state)``.
        It must expose ``selected_features_`` after fitting. A scikit-learn ``Pipeline`` of multisurv
        selectors (filters, univariate Cox, LASSO, stepwise, RSF) is accepted; its last step decides the
        features and, if it is a ``LassoCoxSelector``, the coefficients.
    random_state : int, RandomState instance or None, default=None
        Seeds the selector's cross-validation (set on the selector's own ``random_state`` when not None).

    Attributes
    ----------
    modality_columns_ : list of str
        All ``prefix`` columns seen in fit (they decide whether a row has the modality).
    selector_ : estimator
        The fitted selector.
    selected_features_ : list of str
    coef_ : pandas.Series
        Coefficient per selected feature on the **original** feature scale.
    intercept_ : float
        Constant that centres the score at 0 over the training patients who have the modality.
    impute_values_ : pandas.Series
        Training median per selected feature, used for a NaN in a row that has the modality.
    formula_ : pandas.DataFrame
        Columns ``feature``, ``coef``, ``impute_value``: one row per selected feature and a last row
        ``"(intercept)"``. The score is ``sum(coef * x) + intercept``.
    n_train_ : int
        Number of training patients who had the modality.
    centring_, scaling_ : pandas.Series
        Training mean and standard deviation of each selected feature (after imputation); the published
        "per-sd" form of the score is ``sum(coef_ * scaling_ * (x - centring_) / scaling_)``.

    See Also
    --------
    multisurv.selection.lasso_cox.LassoCoxSelector
    multisurv.fusion.late.LateFusionCox : fuses several scores.

    Notes
    -----
    Rows missing the modality (all ``prefix`` columns NaN) are left out of fitting, and :meth:`predict`
    returns NaN for them; fusion models decide what to do with them. Imputation and scaling are fitted on
    the remaining training rows, inside :meth:`fit`.

    With a selector that has coefficients (``LassoCoxSelector``) the score is the LASSO-Cox linear predictor
    at the chosen penalty: the shrunken coefficients are the published Rad-score recipe and overfit less
    than an unpenalised Cox refitted on the selected features. A selector without ``coef_`` gets a Cox
    refit (ridge 1e-2, standardised features) on its selected features. Higher score = worse prognosis.

    References
    ----------
    .. [1] Huang, Y. et al. "Radiomics signature: a potential biomarker for the prediction of disease-free
       survival in early-stage (I or II) non-small cell lung cancer", Radiology 281(3), 947-957, 2016.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["ct__a", "ct__b", "clin__age"])
    >>> X.iloc[:20, :2] = np.nan  # 20 patients without CT
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"].fillna(0))), np.ones(200, bool))
    >>> risk = ModalityScore(random_state=0).fit(X, y).predict(X)
    >>> int(np.isnan(risk).sum())
    20
    """

    def __init__(self, *, name: str = "radscore", prefix: str = "ct__", selector=None, random_state=None):
        self.name = name
        self.prefix = prefix
        self.selector = selector
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> ModalityScore:
        """Select features and fit the score on the patients who have the modality.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
            Wide feature table; only ``prefix`` columns are used.
        y : structured array, shape (n_samples,)
            Fields ``event`` (bool) and ``time`` (float).

        Returns
        -------
        self

        Raises
        ------
        TypeError
            If ``X`` is not a DataFrame.
        ValueError
            If ``name``, ``prefix`` or ``selector`` is invalid, the sizes differ, no column starts with ``prefix``, no
            patient has the modality, ``y`` of those patients is not a valid survival outcome, a selector pipeline holds
            a step that changes values, or the final selector has no ``selected_features_``.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.selection.lasso_cox import LassoCoxSelector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__age"])
        >>> X.iloc[:10, :2] = np.nan  # 10 patients without CT
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"].fillna(0))), np.ones(100, bool))
        >>> score = ModalityScore(selector=LassoCoxSelector(alpha=0.1)).fit(X, y)
        >>> score.selected_features_, score.n_train_
        (['ct__a'], 90)
        >>> score.formula_[["feature", "coef"]].round(3)
               feature   coef
        0        ct__a  0.724
        1  (intercept)  0.074
        """
        self._check_params()
        X = _check_frame(X, self)
        y = np.asarray(y)
        check_consistent_length(X=X, y=y)
        columns = modality_columns(X, self.prefix)
        if not columns:
            prefixes = sorted({str(c).split("__")[0] + "__" for c in X.columns if "__" in str(c)})
            raise ValueError(
                f"No column of 'X' starts with {self.prefix!r} ({_OWNER} {self.name!r}). Prefixes present: "
                f"{', '.join(repr(p) for p in prefixes) or 'none'}. Add the columns or drop this score."
            )
        present = modality_present(X, columns)
        where = f"the {int(present.sum())} patients with {self.prefix!r} features ({_OWNER} {self.name!r})"
        if not present.any():
            raise ValueError(f"No patient has {self.prefix!r} features ({_OWNER} {self.name!r}); every value is NaN.")
        y_m = check_survival_y(y[present], where=where)
        X_m = X.loc[present, columns]

        selector = LassoCoxSelector(random_state=self.random_state) if self.selector is None else clone(self.selector)
        steps = selector.steps if isinstance(selector, Pipeline) else [("selector", selector)]
        changing = [name for name, step in steps[:-1] if not getattr(step, "selects_columns_only", False)]
        if changing:
            raise ValueError(
                f"{_OWNER} {self.name!r}: the selector pipeline step(s) {', '.join(repr(c) for c in changing)} change "
                "feature values, so the score would not be a formula on the features. Put them before the score "
                "(Pipeline([(..., step), ('score', ModalityScore(...))])) and keep only selectors inside."
            )
        for _, step in steps:
            if self.random_state is not None and "random_state" in step.get_params(deep=False):
                step.set_params(random_state=self.random_state)
        selector.fit(X_m, y_m)
        final = steps[-1][1]
        if not hasattr(final, "selected_features_"):
            raise ValueError(f"{_OWNER} {self.name!r}: the selector {type(final).__name__} has no "
                             "'selected_features_' after fitting; use a multisurv selector (multisurv.selection).")
        selected = [str(c) for c in final.selected_features_]
        if all(hasattr(final, a) for a in ("coef_", "mean_", "scale_", "medians_", "support_")):
            support = np.asarray(final.support_, dtype=bool)
            beta = np.asarray(final.coef_, dtype=float)[support]
            medians = np.asarray(final.medians_, dtype=float)[support]
            mean = np.asarray(final.mean_, dtype=float)[support]
            scale = np.asarray(final.scale_, dtype=float)[support]
        else:
            beta, medians, mean, scale = _refit_cox(X_m.loc[:, selected].to_numpy(dtype=float), y_m, self.name)

        self.modality_columns_ = columns
        self.selector_ = selector
        self.selected_features_ = selected
        self.coef_ = pd.Series(beta / scale, index=pd.Index(selected, name="feature"), name="coef", dtype=float)
        self.intercept_ = float(-np.sum(beta * mean / scale))
        self.impute_values_ = pd.Series(medians, index=pd.Index(selected, name="feature"), name="impute_value",
                                        dtype=float)
        self.n_train_ = int(present.sum())
        self.centring_ = pd.Series(mean, index=pd.Index(selected, name="feature"), name="mean", dtype=float)
        self.scaling_ = pd.Series(scale, index=pd.Index(selected, name="feature"), name="sd", dtype=float)
        self.formula_ = pd.DataFrame({
            "feature": [*selected, "(intercept)"],
            "coef": [*self.coef_.to_numpy(), self.intercept_],
            "impute_value": [*medians, np.nan],
        })
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Score each patient; NaN for patients without the modality.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
            Must hold every ``prefix`` column seen in fit.

        Returns
        -------
        ndarray, shape (n_samples,)
            Risk (higher = worse), NaN where all ``prefix`` columns are NaN.

        Raises
        ------
        TypeError
            If ``X`` is not a DataFrame.
        ValueError
            If ``X`` lacks a ``prefix`` column seen in fit.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.selection.lasso_cox import LassoCoxSelector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__age"])
        >>> X.iloc[:10, :2] = np.nan  # 10 patients without CT
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"].fillna(0))), np.ones(100, bool))
        >>> score = ModalityScore(selector=LassoCoxSelector(alpha=0.1)).fit(X, y)
        >>> score.predict(X.iloc[8:12]).round(2)  # rows 8 and 9 have no CT
        array([  nan,   nan, -0.66,  0.47])
        """
        check_is_fitted(self, "coef_")
        X = _check_frame(X, self)
        missing = [c for c in self.modality_columns_ if c not in X.columns]
        if missing:
            raise ValueError(
                f"'X' lacks {len(missing)} column(s) that {_OWNER} {self.name!r} was fitted with: "
                f"{', '.join(repr(c) for c in missing[:5])}{', ...' if len(missing) > 5 else ''}."
            )
        present = modality_present(X, self.modality_columns_)
        risk = np.full(X.shape[0], np.nan)
        values = X.loc[present, self.selected_features_].to_numpy(dtype=float)
        values = np.where(np.isnan(values), self.impute_values_.to_numpy(), values)
        risk[present] = values @ self.coef_.to_numpy() + self.intercept_
        return risk

    def formula_text(self, *, digits: int = 4, standardised: bool = False) -> str:
        """The score as one line, as published: ``radscore = 0.41 * ct__a - 0.12 * ct__b + ... - c``.

        See :func:`multisurv.scores.formula.formula_text`; :func:`~multisurv.scores.formula.write_formula`
        writes the table, the text and a JSON record.

        Parameters
        ----------
        digits : int, default=4
            Significant digits of the coefficients.
        standardised : bool, default=False
            False: coefficients on the raw features with a constant; True: per standard deviation of the
            development data, centred inside each term.

        Returns
        -------
        str
            The formula.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.selection.lasso_cox import LassoCoxSelector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__age"])
        >>> X.iloc[:10, :2] = np.nan  # 10 patients without CT
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"].fillna(0))), np.ones(100, bool))
        >>> score = ModalityScore(selector=LassoCoxSelector(alpha=0.1)).fit(X, y)
        >>> score.formula_text(digits=3)
        'radscore = 0.724 * ct__a + 0.0742'
        >>> score.formula_text(digits=3, standardised=True)
        'radscore = 0.784 * ((ct__a - -0.102) / 1.08)'
        """
        from multisurv.scores.formula import formula_text

        return formula_text(self, digits=digits, standardised=standardised)

    def _check_params(self) -> None:
        for param in ("name", "prefix"):
            value = getattr(self, param)
            if not isinstance(value, str) or not value:
                raise ValueError(f"The '{param}' parameter of {_OWNER} must be a non-empty str. Got {value!r} instead.")
        if self.selector is not None and not hasattr(self.selector, "fit"):
            raise ValueError(
                f"The 'selector' parameter of {_OWNER} must be an estimator with 'fit' or None. "
                f"Got {self.selector!r} instead."
            )


def _check_frame(X, owner) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{type(owner).__name__} needs 'X' as a pandas DataFrame with prefixed columns ('ct__', 'wsi__', "
            f"'clin__'); got {type(X).__name__}."
        )
    return X


def _refit_cox(values: np.ndarray, y: np.ndarray, name: str):
    """Ridge Cox on standardised, median-imputed features; returns (beta, medians, mean, scale)."""
    n_features = values.shape[1]
    if n_features == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), np.ones(0)
    medians = np.nanmedian(values, axis=0)
    imputed = np.where(np.isnan(values), medians, values)
    mean, scale = imputed.mean(axis=0), imputed.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SklearnConvergenceWarning)
        cox = CoxPHSurvivalAnalysis(alpha=_REFIT_RIDGE).fit((imputed - mean) / scale, y)
    if any(issubclass(w.category, SklearnConvergenceWarning) for w in caught):
        warnings.warn(
            f"{_OWNER} {name!r}: the Cox refit on the {n_features} selected features did not converge. Make the "
            "selector keep fewer features (for example its 'max_features').",
            category=ConvergenceWarning, stacklevel=3,
        )
    return np.asarray(cox.coef_, dtype=float), medians, mean, scale
