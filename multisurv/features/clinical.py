"""ClinicalPreprocessor: impute and one-hot encode clinical variables, learning only from training data.

A scikit-learn transformer built from ``SimpleImputer``, ``OneHotEncoder`` and ``ColumnTransformer``:
numeric columns are imputed with the training median (or mean); categorical columns with the training
most frequent level, then one-hot encoded with the first level as reference (dropped). Levels not seen
(or not in the spec) are encoded as the reference level, with a warning. A DataFrame comes back as a
DataFrame with ``clin__`` columns and the same index.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from multisurv._validation import check_param
from multisurv.exceptions import MultisurvWarning

__all__ = ["ClinicalPreprocessor", "ClinicalBlock", "PREFIX", "SPEC_TYPES"]

#: Column prefix of clinical features.
PREFIX = "clin__"
#: Variable types understood by :meth:`ClinicalPreprocessor.from_spec`.
SPEC_TYPES = ("numeric", "integer", "categorical")


class ClinicalPreprocessor(TransformerMixin, BaseEstimator):
    """Impute and encode clinical variables with statistics learned on the training data only.

    Parameters
    ----------
    numeric : sequence of str, default=()
        Numeric columns; missing values get the training ``impute`` statistic. When both ``numeric`` and
        ``categorical`` are empty, every column is treated as numeric.
    categorical : sequence of str, default=()
        Categorical columns; missing values get the training most frequent level, then one indicator column
        per level except the first (the reference), e.g. ``clin__sex_male``.
    categories : dict of str to list, optional
        Levels of some categorical columns, in order (the first is the reference), e.g.
        ``{"sex": ["female", "male"]}``. Columns without an entry use their sorted training levels.
        Levels are compared as text (``1``, ``1.0`` and ``"1"`` are the same level).
    impute : {"median", "mean"}, default="median"
        Statistic used for missing numeric values.

    Attributes
    ----------
    numeric_ : list of str
        Numeric columns used.
    categorical_ : list of str
        Categorical columns used.
    impute_values_ : dict
        Column -> value used for its missing entries (learned in ``fit``).
    categories_ : dict of str to list of str
        Column -> its levels (the first is the reference).
    column_transformer_ : sklearn.compose.ColumnTransformer
        The fitted transformer doing the work.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.

    See Also
    --------
    ClinicalPreprocessor.from_spec : build one from the clinical spec of a manifest.

    Notes
    -----
    Columns not named in ``numeric`` or ``categorical`` are dropped. Numeric columns are imputed but not
    scaled (scaling belongs to the model that uses them).

    Examples
    --------
    >>> train = pd.DataFrame({"age": [50.0, 60.0, None], "sex": ["male", "female", "male"]},
    ...                      index=pd.Index(["a", "b", "c"], name="patient_id"))
    >>> pre = ClinicalPreprocessor(numeric=["age"], categorical=["sex"],
    ...                            categories={"sex": ["female", "male"]}).fit(train)
    >>> out = pre.transform(train)
    >>> list(out.index), out.to_dict("list")
    (['a', 'b', 'c'], {'clin__age': [50.0, 60.0, 55.0], 'clin__sex_male': [1.0, 0.0, 1.0]})
    """

    def __init__(self, *, numeric: Sequence[str] = (), categorical: Sequence[str] = (),
                 categories: Mapping[str, Sequence[Any]] | None = None, impute: str = "median"):
        self.numeric = numeric
        self.categorical = categorical
        self.categories = categories
        self.impute = impute

    @classmethod
    def from_spec(cls, spec: Mapping[str, Mapping[str, Any]], **kwargs: Any) -> "ClinicalPreprocessor":
        """Build a preprocessor from a clinical variable spec.

        Parameters
        ----------
        spec : dict
            Column name -> ``{"type": "numeric" | "integer" | "categorical", "categories": [...]}``
            (``categories`` optional, categorical only), e.g. ``Cohort.clinical_spec``.
        **kwargs
            Other parameters, e.g. ``impute="mean"``.

        Returns
        -------
        ClinicalPreprocessor
            Unfitted.

        Raises
        ------
        ValueError
            If a variable has no or an unknown ``type``.

        Examples
        --------
        >>> pre = ClinicalPreprocessor.from_spec({"age": {"type": "numeric"},
        ...                                       "sex": {"type": "categorical", "categories": ["female", "male"]}})
        >>> pre.numeric, pre.categorical, pre.categories
        (['age'], ['sex'], {'sex': ['female', 'male']})
        """
        numeric: list[str] = []
        categorical: list[str] = []
        categories: dict[str, list[Any]] = {}
        for name, entry in spec.items():
            kind = (entry or {}).get("type")
            if kind in ("numeric", "integer"):
                numeric.append(name)
            elif kind == "categorical":
                categorical.append(name)
                if entry.get("categories") is not None:
                    categories[name] = list(entry["categories"])
            else:
                choices = ", ".join(repr(t) for t in SPEC_TYPES)
                raise ValueError(f"Clinical variable {name!r} has type {kind!r}; the spec type must be one of: "
                                 f"{choices}.")
        return cls(numeric=numeric, categorical=categorical, categories=categories or None, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------------ fit / transform
    def fit(self, X, y=None) -> "ClinicalPreprocessor":
        """Learn imputation values and levels from the training data ``X``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            The training rows; with ``numeric`` and ``categorical`` given, a DataFrame holding those columns.
        y : ignored
            Not used, present for the scikit-learn API.

        Returns
        -------
        self
            The fitted preprocessor.

        Raises
        ------
        ValueError
            When a named column is missing from ``X``, listed as both numeric and categorical, has no observed
            value, when ``categories`` names a column that is not categorical, or for invalid parameters
            (``impute``, ``numeric``, ``categorical``, ``categories``).

        Examples
        --------
        >>> train = pd.DataFrame({"age": [50.0, 60.0, None], "sex": ["male", "female", "male"]})
        >>> pre = ClinicalPreprocessor(numeric=["age"], categorical=["sex"]).fit(train)
        >>> pre.impute_values_, pre.categories_
        ({'age': 55.0, 'sex': 'male'}, {'sex': ['female', 'male']})
        """
        self._check_params()
        frame = self._as_frame(X, reset=True)
        names = list(frame.columns)
        numeric = [str(c) for c in self.numeric]
        categorical = [str(c) for c in self.categorical]
        if not numeric and not categorical:
            numeric = names
        missing = [c for c in numeric + categorical if c not in names]
        if missing:
            raise ValueError(
                f"ClinicalPreprocessor: column(s) {missing} are not in the data. Available columns: {names}."
            )
        both = sorted(set(numeric) & set(categorical))
        if both:
            raise ValueError(f"ClinicalPreprocessor: column(s) {both} are listed as both 'numeric' and 'categorical'.")
        spec_levels = {str(k): [_level(v) for v in levels] for k, levels in (self.categories or {}).items()}
        stray = sorted(set(spec_levels) - set(categorical))
        if stray:
            raise ValueError(
                f"The 'categories' parameter of ClinicalPreprocessor names column(s) {stray} that are not in "
                f"'categorical' ({categorical})."
            )
        clean = _clean(frame, numeric, categorical)
        empty = [c for c in numeric + categorical if clean[c].isna().all()]
        if empty:
            raise ValueError(
                f"ClinicalPreprocessor: column(s) {empty} have no observed value in the training data, so nothing "
                "can be learned for them. Drop them from 'numeric' / 'categorical'."
            )
        levels = {}
        for col in categorical:
            levels[col] = spec_levels.get(col) or sorted(clean[col].dropna().unique().tolist())
        parts = []
        if numeric:
            parts.append(("numeric", SimpleImputer(strategy=self.impute), numeric))
        if categorical:
            encoder = OneHotEncoder(categories=[levels[c] for c in categorical], drop="first",
                                    handle_unknown="ignore", sparse_output=False, dtype=np.float64)
            parts.append(("categorical", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                                                   ("onehot", encoder)]), categorical))
        transformer = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False)
        self._warn_unknown(clean, categorical, levels, "training")
        with _quiet_unknown_categories():
            transformer.fit(clean)
        self.column_transformer_ = transformer
        self.numeric_ = numeric
        self.categorical_ = categorical
        self.categories_ = levels
        impute_values: dict[str, Any] = {}
        if numeric:
            impute_values.update(zip(numeric, transformer.named_transformers_["numeric"].statistics_.tolist()))
        if categorical:
            impute_values.update(zip(categorical,
                                     transformer.named_transformers_["categorical"]["impute"].statistics_.tolist()))
        self.impute_values_ = impute_values
        self._input_names = names
        return self

    def transform(self, X):
        """Impute and encode ``X`` with what was learned in ``fit``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            The same columns as in ``fit``.

        Returns
        -------
        pandas.DataFrame or ndarray of shape (n_samples, n_features_out)
            A DataFrame (index kept, ``clin__`` columns) when ``X`` is one, else an array.

        Warns
        -----
        MultisurvWarning
            When a categorical column holds levels outside ``categories_``; they are encoded as the
            reference level (all its indicator columns 0).

        Examples
        --------
        >>> train = pd.DataFrame({"age": [50.0, 60.0, None], "sex": ["male", "female", "male"]})
        >>> pre = ClinicalPreprocessor(numeric=["age"], categorical=["sex"]).fit(train)
        >>> pre.transform(pd.DataFrame({"age": [None, 80.0], "sex": [None, "female"]})).to_dict("list")
        {'clin__age': [55.0, 80.0], 'clin__sex_male': [1.0, 0.0]}
        """
        check_is_fitted(self, "column_transformer_")
        frame = self._as_frame(X, reset=False)
        clean = _clean(frame, self.numeric_, self.categorical_)
        self._warn_unknown(clean, self.categorical_, self.categories_, "transformed")
        with _quiet_unknown_categories():
            out = np.asarray(self.column_transformer_.transform(clean), dtype=np.float64)
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=self.get_feature_names_out())
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names: ``clin__<numeric>`` then ``clin__<categorical>_<level>`` (reference dropped).

        Parameters
        ----------
        input_features : array-like of str, optional
            Input column names; must equal ``feature_names_in_`` when fitted on a DataFrame, and have
            ``n_features_in_`` entries otherwise.

        Returns
        -------
        ndarray of str (object dtype)
            The names of the columns :meth:`transform` returns, in order.

        Raises
        ------
        ValueError
            When ``input_features`` has the wrong length or differs from ``feature_names_in_``.

        Examples
        --------
        >>> train = pd.DataFrame({"age": [50.0, 60.0, None], "sex": ["male", "female", "male"]})
        >>> pre = ClinicalPreprocessor(numeric=["age"], categorical=["sex"]).fit(train)
        >>> pre.get_feature_names_out().tolist()
        ['clin__age', 'clin__sex_male']
        """
        check_is_fitted(self, "column_transformer_")
        names = self._input_names
        if input_features is not None:
            input_features = [str(f) for f in input_features]
            if len(input_features) != self.n_features_in_:
                raise ValueError(
                    f"input_features should have length equal to number of features ({self.n_features_in_}), "
                    f"got {len(input_features)}."
                )
            if hasattr(self, "feature_names_in_") and list(self.feature_names_in_) != input_features:
                raise ValueError("input_features is not equal to feature_names_in_.")
            names = input_features
        rename = dict(zip(self._input_names, names))
        out = [PREFIX + rename[c] for c in self.numeric_]
        for col in self.categorical_:
            out += [f"{PREFIX}{rename[col]}_{level}" for level in self.categories_[col][1:]]
        return np.asarray(out, dtype=object)

    # ------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        check_param("ClinicalPreprocessor", "impute", self.impute, kind="option", options=("median", "mean"))
        for name in ("numeric", "categorical"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ValueError(
                    f"The '{name}' parameter of ClinicalPreprocessor must be a list of column names (str). "
                    f"Got {value!r} instead."
                )
        if self.categories is not None and not isinstance(self.categories, Mapping):
            raise ValueError(
                "The 'categories' parameter of ClinicalPreprocessor must be a dict mapping a column to its levels "
                f"or None. Got {self.categories!r} instead."
            )

    def _as_frame(self, X, *, reset: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            if X.shape[0] == 0:
                raise ValueError("ClinicalPreprocessor got a DataFrame with 0 rows; at least 1 is required.")
            if X.columns.duplicated().any():
                dup = X.columns[X.columns.duplicated()][0]
                raise ValueError(f"ClinicalPreprocessor got a DataFrame with duplicated column {dup!r}.")
            validate_data(self, X, reset=reset, skip_check_array=True)
            return X.set_axis([str(c) for c in X.columns], axis=1)
        array = check_array(X, dtype=None, ensure_all_finite=False, accept_sparse=False)
        validate_data(self, array, reset=reset, skip_check_array=True)
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def _warn_unknown(self, clean: pd.DataFrame, categorical, levels, where: str) -> None:
        for col in categorical:
            values = clean[col].dropna()
            unknown = values[~values.isin(levels[col])]
            if len(unknown):
                shown = ", ".join(repr(v) for v in sorted(unknown.unique())[:5])
                warnings.warn(
                    f"Column {col!r} of the {where} data has {len(unknown)} value(s) outside its levels "
                    f"{levels[col]}: {shown}. They are encoded as the reference level {levels[col][0]!r} (all "
                    f"indicator columns 0); add them to 'categories' to give them their own column.",
                    category=MultisurvWarning,
                    stacklevel=_caller_stacklevel(),
                )


def _caller_stacklevel() -> int:
    """Stack level of the first frame outside this module and scikit-learn (the user's call)."""
    skip = (os.path.dirname(sklearn.__file__), __file__)
    frame, level = sys._getframe(2), 2  # 1 = the function calling warnings.warn
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame, level = frame.f_back, level + 1
    return level


def _clean(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """Numeric columns as float; categorical columns as text levels with NaN for missing values."""
    out = {}
    for col in numeric:
        values = frame[col]
        try:
            out[col] = pd.Series(np.asarray(values.to_numpy(), dtype=np.float64), index=frame.index)
        except TypeError as exc:
            raise TypeError(f"Column {col!r} is listed as numeric but holds a value that is not a number: "
                            f"{exc}") from exc
        except ValueError as exc:
            bad = _first_non_number(values)
            raise ValueError(
                f"Column {col!r} is listed as numeric but holds non-numeric value {bad!r}. Correct the data or list "
                "the column as categorical."
            ) from exc
    for col in categorical:
        values = frame[col].astype(object)
        missing = values.isna()
        out[col] = values.where(missing, values.map(_level)).where(~missing, np.nan).astype(object)
    return pd.DataFrame(out, index=frame.index, columns=list(numeric) + list(categorical))


def _level(value: Any) -> str:
    """The text form of a categorical level (integral floats lose their '.0': 1.0 -> '1')."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer, np.floating)):
        return str(value.item())
    return str(value)


def _first_non_number(values: pd.Series) -> Any:
    for value in values:
        try:
            float(value)
        except (TypeError, ValueError):
            return value
    return None


class _quiet_unknown_categories(warnings.catch_warnings):
    """Silence OneHotEncoder's own unknown-category warning (ClinicalPreprocessor raises a clearer one)."""

    def __enter__(self):
        super().__enter__()
        warnings.filterwarnings("ignore", message=re.escape("Found unknown categories"), category=UserWarning)
        return self


class ClinicalBlock(TransformerMixin, BaseEstimator):
    """Encode the raw clinical columns of a wide table and pass every other column through unchanged.

    Put it first in a Pipeline whose model needs the ``clin__`` features, so that resampling (bootstrap, CV)
    refits the clinical imputation and encoding on each training sample with the model.

    Parameters
    ----------
    preprocessor : ClinicalPreprocessor
        Cloned and fitted on ``X[columns]`` of the training rows.
    columns : sequence of str
        The raw clinical columns of ``X`` (they are replaced by the encoded ``clin__`` columns).

    Attributes
    ----------
    preprocessor_ : ClinicalPreprocessor
        The fitted clone.

    Examples
    --------
    >>> X = pd.DataFrame({"ct__a": [1.0, 2.0, 3.0], "age": [50.0, None, 70.0]})
    >>> block = ClinicalBlock(ClinicalPreprocessor(numeric=["age"]), columns=["age"]).fit(X)
    >>> block.transform(X).to_dict("list")
    {'ct__a': [1.0, 2.0, 3.0], 'clin__age': [50.0, 60.0, 70.0]}
    """

    def __init__(self, preprocessor: ClinicalPreprocessor, columns: Sequence[str]):
        self.preprocessor = preprocessor
        self.columns = columns

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _check_frame(self, X) -> list[str]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"ClinicalBlock needs a pandas DataFrame with the clinical columns; got {type(X).__name__}.")
        columns = list(self.columns)
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(f"ClinicalBlock: clinical column(s) {missing} are not in the data. Pass the raw clinical "
                             "columns of the manifest in 'columns'.")
        return columns

    def fit(self, X: pd.DataFrame, y=None) -> "ClinicalBlock":
        """Fit a clone of ``preprocessor`` on the clinical columns of the training rows ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            The training rows: the clinical ``columns`` and any other feature columns.
        y : ignored
            Not used, present for the scikit-learn API.

        Returns
        -------
        self
            The fitted block (``preprocessor_`` set; ``preprocessor`` itself is not fitted).

        Raises
        ------
        TypeError
            When ``X`` is not a DataFrame.
        ValueError
            When a clinical column is not in ``X``.

        Examples
        --------
        >>> X = pd.DataFrame({"ct__a": [1.0, 2.0, 3.0], "stage": ["I", "II", None]})
        >>> block = ClinicalBlock(ClinicalPreprocessor(categorical=["stage"]), columns=["stage"])
        >>> block.fit(X).preprocessor_.categories_
        {'stage': ['I', 'II']}
        """
        from sklearn.base import clone

        columns = self._check_frame(X)
        self.preprocessor_ = clone(self.preprocessor).fit(X[columns])
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` without its raw clinical columns, followed by their ``clin__`` encoding.

        Parameters
        ----------
        X : pandas.DataFrame
            Rows to encode, with the clinical ``columns`` (its index may repeat, as in a bootstrap sample).

        Returns
        -------
        pandas.DataFrame
            The other columns of ``X`` unchanged, then the ``clin__`` columns.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        TypeError
            When ``X`` is not a DataFrame.
        ValueError
            When a clinical column is not in ``X``.

        Examples
        --------
        >>> X = pd.DataFrame({"ct__a": [1.0, 2.0, 3.0], "stage": ["I", "II", None]})
        >>> block = ClinicalBlock(ClinicalPreprocessor(categorical=["stage"]), columns=["stage"])
        >>> block.fit(X).transform(X).columns.tolist()
        ['ct__a', 'clin__stage_II']
        """
        check_is_fitted(self, "preprocessor_")
        columns = self._check_frame(X)
        encoded = self.preprocessor_.transform(X[columns])
        out = X.drop(columns=columns)  # positional assignment: bootstrap samples repeat patient ids
        out[list(encoded.columns)] = encoded.to_numpy()
        return out
