"""Shared machinery of the column selectors: name handling, ``transform``, ``get_support``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["ColumnSelectorMixin", "as_frame", "has_names"]


def has_names(X) -> bool:
    """True for a DataFrame whose column names are all str (scikit-learn's rule for ``feature_names_in_``)."""
    return isinstance(X, pd.DataFrame) and X.shape[1] > 0 and all(isinstance(c, str) for c in X.columns)


def as_frame(X) -> pd.DataFrame:
    """``X`` as a float DataFrame with str column names (``x0``, ``x1``, ... when it has none)."""
    if has_names(X):
        return X
    values = np.asarray(X, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"'X' must be 2-dimensional; got shape {values.shape}.")
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])


class ColumnSelectorMixin(TransformerMixin, BaseEstimator):
    """Keeps a subset of the input columns, unchanged; subclasses set ``support_`` in ``fit``.

    ``selects_columns_only`` tells :class:`~multisurv.scores.modality_score.ModalityScore` that the step
    passes values through untouched, so a score built after it is a formula on the raw features.
    """

    selects_columns_only = True

    def _start_fit(self, X) -> pd.DataFrame:
        frame = as_frame(X)
        if has_names(X):
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_features_in_ = frame.shape[1]
        self._columns = [str(c) for c in frame.columns]
        return frame

    def _finish_fit(self, support: np.ndarray) -> None:
        self.support_ = np.asarray(support, dtype=bool)
        self.selected_features_ = [c for c, s in zip(self._columns, self.support_) if s]

    def get_support(self, indices: bool = False) -> np.ndarray:
        """Mask (or integer indices) of the selected features."""
        check_is_fitted(self, "support_")
        return np.flatnonzero(self.support_) if indices else self.support_.copy()

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the selected features."""
        check_is_fitted(self, "support_")
        return np.asarray(self.selected_features_, dtype=object)

    def transform(self, X):
        """Keep the selected columns (by name for a DataFrame fitted with names, else by position).

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features_in_)

        Returns
        -------
        DataFrame or ndarray, shape (n_samples, n_selected)
            Same type as ``X``; values unchanged.
        """
        check_is_fitted(self, "support_")
        owner = type(self).__name__
        if has_names(X) and hasattr(self, "feature_names_in_"):
            missing = [c for c in self.selected_features_ if c not in X.columns]
            if missing:
                raise ValueError(
                    f"'X' lacks {len(missing)} column(s) that {owner} selected: "
                    f"{', '.join(repr(c) for c in missing[:5])}{', ...' if len(missing) > 5 else ''}."
                )
            return X.loc[:, self.selected_features_]
        shape = np.shape(X)
        if len(shape) != 2 or shape[1] != self.n_features_in_:
            raise ValueError(f"'X' has {shape[1] if len(shape) == 2 else shape} features but {owner} was fitted "
                             f"with {self.n_features_in_}.")
        if isinstance(X, pd.DataFrame):
            return X.iloc[:, self.support_]
        return np.asarray(X)[:, self.support_]
