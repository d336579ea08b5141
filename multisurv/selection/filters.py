"""Unsupervised filters that run before any outcome-based selection: near-constant and redundant features."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from multisurv._validation import check_param
from multisurv.selection._base import ColumnSelectorMixin

__all__ = ["VarianceFilter", "CorrelationFilter"]


class VarianceFilter(ColumnSelectorMixin):
    """Drop features whose training variance is at most ``threshold`` (constant columns by default).

    Parameters
    ----------
    threshold : float, default=0.0
        Features with variance (ddof 0, NaN ignored) ``<= threshold`` are dropped; >= 0.
    min_unique : int, default=1
        Also drop features with fewer distinct non-missing values than this (2 drops binary-constant and
        all-missing columns alike; radiomics first-order features of a tiny ROI often have 1).

    Attributes
    ----------
    variances_ : ndarray, shape (n_features_in_,)
    support_ : ndarray of bool
    selected_features_ : list of str

    Notes
    -----
    Uses no outcome, so fitting it on all rows cannot leak the outcome; it is still refitted per resample
    inside a pipeline, as everything is. Variance depends on units: standardise first if the threshold is
    meant to compare features measured on different scales.

    Examples
    --------
    >>> X = pd.DataFrame({"ct__a": [1.0, 2.0, 3.0], "ct__b": [5.0, 5.0, 5.0]})
    >>> VarianceFilter().fit(X).selected_features_
    ['ct__a']
    """

    def __init__(self, *, threshold: float = 0.0, min_unique: int = 1):
        self.threshold = threshold
        self.min_unique = min_unique

    def fit(self, X, y=None) -> VarianceFilter:
        """Compute each feature's variance on the training rows.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self

        Examples
        --------
        The population variance (ddof 0) of each column, over its non-missing values:

        >>> X = pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": [1.0, 1.0, 1.0]})
        >>> VarianceFilter().fit(X).variances_.round(3)
        array([1.556, 0.   ])
        """
        check_param("VarianceFilter", "threshold", self.threshold, kind="float", low=0)
        check_param("VarianceFilter", "min_unique", self.min_unique, kind="int", low=1)
        frame = self._start_fit(X)
        values = frame.to_numpy(dtype=float)
        observed = ~np.isnan(values)
        n_obs = observed.sum(axis=0)
        variances = np.full(values.shape[1], np.nan)
        ok = n_obs > 0
        if ok.any():
            mean = np.nansum(values[:, ok], axis=0) / n_obs[ok]
            variances[ok] = np.nansum((values[:, ok] - mean) ** 2, axis=0) / n_obs[ok]
        n_unique = np.array([np.unique(values[observed[:, j], j]).size for j in range(values.shape[1])])
        self.variances_ = variances
        self._finish_fit(ok & (np.nan_to_num(variances, nan=-1.0) > self.threshold) & (n_unique >= self.min_unique))
        return self


class CorrelationFilter(ColumnSelectorMixin):
    """Drop features that are highly correlated with a feature already kept.

    Parameters
    ----------
    threshold : float, default=0.9
        A feature is dropped when ``|r| > threshold`` with a kept feature; in (0, 1].
    method : {"pearson", "spearman"}, default="spearman"
        Correlation (pairwise-complete rows). Spearman is robust to the heavy tails of radiomics features.
    order : {"variance", "input"}, default="input"
        Which feature of a correlated pair survives: features are visited in input order (``"input"``)
        or by decreasing variance of their ranks-free values (``"variance"``); each is kept unless it
        correlates above ``threshold`` with one kept before it.

    Attributes
    ----------
    correlation_ : pandas.DataFrame
        The training correlation matrix.
    dropped_ : dict
        Dropped feature -> the kept feature it duplicated.
    support_, selected_features_

    Notes
    -----
    Greedy, as in most radiomics studies (and caret's ``findCorrelation`` in spirit): the result depends
    on the visiting order, which is why it is a parameter. Uses no outcome.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 4, 6, 8.5], "c": [1.0, -1, 1, -1]})
    >>> f = CorrelationFilter(threshold=0.95).fit(X)
    >>> f.selected_features_, f.dropped_
    (['a', 'c'], {'b': 'a'})
    """

    def __init__(self, *, threshold: float = 0.9, method: Literal["pearson", "spearman"] = "spearman",
                 order: Literal["input", "variance"] = "input"):
        self.threshold = threshold
        self.method = method
        self.order = order

    def fit(self, X, y=None) -> CorrelationFilter:
        """Compute the correlation matrix and keep one feature of each highly correlated group.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self

        Examples
        --------
        >>> X = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 4, 6, 8.5], "c": [1.0, -1, 1, -1]})
        >>> f = CorrelationFilter(threshold=0.95, method="pearson").fit(X)
        >>> f.correlation_.round(2)
              a     b     c
        a  1.00  1.00  0.45
        b  1.00  1.00  0.47
        c  0.45  0.47  1.00
        >>> f.dropped_
        {'b': 'a'}
        """
        check_param("CorrelationFilter", "threshold", self.threshold, kind="float", low=0, high=1, low_open=True)
        check_param("CorrelationFilter", "method", self.method, kind="option", options=("pearson", "spearman"))
        check_param("CorrelationFilter", "order", self.order, kind="option", options=("input", "variance"))
        frame = self._start_fit(X)
        frame = pd.DataFrame(frame.to_numpy(dtype=float), columns=self._columns)
        corr = frame.corr(method=self.method).abs()
        self.correlation_ = corr
        names = list(self._columns)
        if self.order == "variance":
            names = list(frame.var(ddof=0).sort_values(ascending=False, kind="mergesort").index)
        kept: list[str] = []
        dropped: dict[str, str] = {}
        values = corr.to_numpy()
        pos = {c: i for i, c in enumerate(self._columns)}
        for name in names:
            row = values[pos[name]]
            hit = next((k for k in kept if row[pos[k]] > self.threshold), None)
            if hit is None:
                kept.append(name)
            else:
                dropped[name] = hit
        kept_set = set(kept)
        self.dropped_ = dropped
        self._finish_fit(np.array([c in kept_set for c in self._columns], dtype=bool))
        return self
