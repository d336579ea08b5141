"""ComBat-style harmonisation of features across centres (location and scale per centre, fitted on training)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from multisurv._validation import check_param

__all__ = ["ComBatHarmoniser"]

_OWNER = "ComBatHarmoniser"


class ComBatHarmoniser(TransformerMixin, BaseEstimator):
    """Remove centre (scanner, stain) effects from each feature's mean and variance, ComBat style.

    Parameters
    ----------
    batch : str, default="centre"
        Column of ``X`` holding each patient's centre; it is used and dropped from the output.
    empirical_bayes : bool, default=True
        Shrink each centre's per-feature location and scale towards the centre's average over features
        (parametric priors of Johnson et al.), which steadies small centres. False: plain per-centre
        location/scale standardisation.
    min_samples : int, default=2
        Each training centre (and each new centre estimated with ``unseen="estimate"``) needs at least this
        many patients.
    prefixes : sequence of str, optional
        Harmonise only the columns whose names start with one of these (e.g. ``("ct__", "wsi__")``); the others
        (clinical variables) pass through unchanged. None: every column but ``batch``.
    unseen : {"error", "estimate"}, default="error"
        A centre absent from the training data: ``"error"`` refuses it; ``"estimate"`` estimates its location
        and scale from its own rows in the data being transformed (features only, never outcomes; shrunk like
        the training centres), relative to the training grand mean and pooled SD. Transform all of a new
        centre's patients together: its estimate depends on the rows passed.

    Attributes
    ----------
    batches_ : list
        Training centres.
    columns_ : list of str
        The harmonised columns.
    grand_mean_, pooled_sd_ : pandas.Series
        Per-feature mean and pooled within-centre standard deviation (training rows).
    gamma_, delta_ : pandas.DataFrame
        Index centre, one column per feature: the (shrunken) location shift and scale factor of the
        standardised feature in each centre.
    feature_names_in_ : ndarray of str

    Notes
    -----
    For feature g and centre b, with ``z = (x - grand_mean_g) / pooled_sd_g``, the harmonised value is
    ``(z - gamma_bg) / delta_bg * pooled_sd_g + grand_mean_g``. Everything is estimated on the training rows;
    :meth:`transform` applies those values to any row of a training centre and refuses a centre it has not
    seen (a new centre needs its own reference data, or ``batch`` set to a known centre). No biological
    covariates are protected: use it only when centres do not differ in case mix, or harmonise inside the
    training folds and check. NaN stays NaN.

    References
    ----------
    .. [1] Johnson, W. E., Li, C., Rabinovic, A. "Adjusting batch effects in microarray expression data
       using empirical Bayes methods", Biostatistics 8(1), 118-127, 2007.
    .. [2] Orlhac, F. et al. "A guide to ComBat harmonization of imaging biomarkers in multicenter studies",
       Journal of Nuclear Medicine 63(2), 172-179, 2022.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"ct__a": np.r_[rng.normal(0, 1, 50), rng.normal(5, 2, 50)],
    ...                   "centre": ["A"] * 50 + ["B"] * 50})
    >>> H = ComBatHarmoniser().fit_transform(X)
    >>> bool(abs(H["ct__a"][:50].mean() - H["ct__a"][50:].mean()) < 0.1)
    True
    """

    def __init__(self, *, batch: str = "centre", empirical_bayes: bool = True, min_samples: int = 2,
                 prefixes: tuple[str, ...] | None = None, unseen: str = "error"):
        self.batch = batch
        self.empirical_bayes = empirical_bayes
        self.min_samples = min_samples
        self.prefixes = prefixes
        self.unseen = unseen

    def _targets(self, columns) -> list[str]:
        if self.prefixes is None:
            return list(columns)
        return [c for c in columns if str(c).startswith(tuple(self.prefixes))]

    def _location_scale(self, z: np.ndarray, batches: np.ndarray, labels: list) -> tuple[np.ndarray, np.ndarray]:
        """Per centre and feature: location (gamma) and squared scale (delta^2) of the standardised values."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature missing for a whole centre: no effect
            gamma = np.vstack([np.nanmean(z[batches == b], axis=0) for b in labels])
            delta2 = np.vstack([np.nanvar(z[batches == b], axis=0, ddof=1) for b in labels])
        gamma = np.where(np.isfinite(gamma), gamma, 0.0)
        delta2 = np.where(np.isfinite(delta2) & (delta2 > 0), delta2, 1.0)
        if self.empirical_bayes and z.shape[1] > 1:
            gamma, delta2 = _empirical_bayes(z, batches, labels, gamma, delta2)
        return gamma, delta2

    def fit(self, X: pd.DataFrame, y=None) -> ComBatHarmoniser:
        """Estimate the per-centre location and scale of every feature on the training rows.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features + 1)
            Numeric features and the ``batch`` column.
        y : ignored
            Not used, present for the scikit-learn API.

        Returns
        -------
        self
            The fitted harmoniser.

        Raises
        ------
        TypeError
            When ``X`` is not a DataFrame.
        ValueError
            When ``X`` has no ``batch`` column or a missing centre, a centre has fewer than ``min_samples`` rows,
            or a parameter is invalid.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame({"ct__a": np.r_[rng.normal(0, 1, 20), rng.normal(5, 2, 20)],
        ...                   "centre": ["A"] * 20 + ["B"] * 20})
        >>> combat = ComBatHarmoniser().fit(X)
        >>> combat.batches_, combat.gamma_.shape
        (['A', 'B'], (2, 1))
        """
        check_param(_OWNER, "min_samples", self.min_samples, kind="int", low=2)
        check_param(_OWNER, "unseen", self.unseen, kind="option", options=("error", "estimate"))
        frame, batches = self._split(X)
        self.feature_names_in_ = np.asarray(list(frame.columns), dtype=object)
        self.columns_ = self._targets(frame.columns)
        values = frame[self.columns_].to_numpy(dtype=float)
        labels = sorted(pd.unique(batches), key=str)
        counts = {b: int((batches == b).sum()) for b in labels}
        small = {b: c for b, c in counts.items() if c < self.min_samples}
        if small:
            raise ValueError(f"{_OWNER}: centre(s) {small} have fewer than min_samples={self.min_samples} training "
                             "patients. Merge them with another centre or drop them.")
        grand = np.nanmean(values, axis=0)
        resid = np.empty_like(values)
        for b in labels:
            rows = batches == b
            resid[rows] = values[rows] - np.nanmean(values[rows], axis=0)
        pooled = np.sqrt(np.nanmean(resid ** 2, axis=0))
        pooled = np.where(pooled > 0, pooled, 1.0)
        grand = np.where(np.isfinite(grand), grand, 0.0)
        pooled = np.where(np.isfinite(pooled), pooled, 1.0)
        z = (values - grand) / pooled
        gamma, delta2 = self._location_scale(z, batches, labels)
        columns = list(self.columns_)
        self.batches_ = labels
        self.grand_mean_ = pd.Series(grand, index=columns)
        self.pooled_sd_ = pd.Series(pooled, index=columns)
        self.gamma_ = pd.DataFrame(gamma, index=labels, columns=columns)
        self.delta_ = pd.DataFrame(np.sqrt(delta2), index=labels, columns=columns)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Harmonise the features of ``X`` (the ``batch`` column is dropped).

        Parameters
        ----------
        X : pandas.DataFrame
            The feature columns of ``fit``, in the same order, and the ``batch`` column. With
            ``unseen="estimate"``, the rows of a centre not seen in ``fit`` (at least ``min_samples``) estimate
            its own location and scale.

        Returns
        -------
        pandas.DataFrame
            Same index; the feature columns, harmonised.

        Raises
        ------
        ValueError
            When the feature columns differ from ``fit``'s, a centre is new and ``unseen="error"``, or a new
            centre has fewer than ``min_samples`` rows.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame({"ct__a": np.r_[rng.normal(0, 1, 20), rng.normal(5, 2, 20)],
        ...                   "centre": ["A"] * 20 + ["B"] * 20})
        >>> H = ComBatHarmoniser().fit(X).transform(X)
        >>> H.columns.tolist(), bool(abs(H["ct__a"][:20].mean() - H["ct__a"][20:].mean()) < 0.1)
        (['ct__a'], True)
        """
        check_is_fitted(self, "gamma_")
        frame, batches = self._split(X)
        columns = list(frame.columns)
        if columns != list(self.feature_names_in_):
            raise ValueError(f"{_OWNER}: 'X' has different feature columns than in fit ({len(columns)} vs "
                             f"{len(self.feature_names_in_)}); pass the same columns in the same order.")
        known = {str(b) for b in self.batches_}
        labels = np.asarray([str(v) for v in batches], dtype=object)
        unknown = sorted(set(labels) - known)
        if unknown and self.unseen == "error":
            raise ValueError(f"{_OWNER}: centre(s) {', '.join(repr(u) for u in unknown)} in column {self.batch!r} "
                             f"were not in the training data ({', '.join(repr(str(b)) for b in self.batches_)}). "
                             "ComBat needs training patients from every centre it harmonises, or "
                             "unseen='estimate' to estimate a new centre from its own features.")
        values = frame[self.columns_].to_numpy(dtype=float)
        grand, pooled = self.grand_mean_.to_numpy(), self.pooled_sd_.to_numpy()
        z = (values - grand) / pooled
        gamma = {str(b): self.gamma_.loc[b].to_numpy() for b in self.batches_}
        delta = {str(b): self.delta_.loc[b].to_numpy() for b in self.batches_}
        for b in unknown:
            rows = labels == b
            if rows.sum() < self.min_samples:
                raise ValueError(f"{_OWNER}: new centre {b!r} has {int(rows.sum())} patient(s) in the data to "
                                 f"transform; estimating its effect needs at least min_samples={self.min_samples}. "
                                 "Transform all of its patients together.")
            g, d2 = self._location_scale(z[rows], np.zeros(int(rows.sum())), [0])
            gamma[b], delta[b] = g[0], np.sqrt(d2[0])
        out = frame.copy()
        harmonised = np.empty_like(values)
        for b in set(labels):
            rows = labels == b
            harmonised[rows] = (z[rows] - gamma[b]) / delta[b] * pooled + grand
        out[self.columns_] = harmonised
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The feature columns (the ``batch`` column is dropped).

        Parameters
        ----------
        input_features : ignored
            Not used, present for the scikit-learn API.

        Returns
        -------
        ndarray of str
            The feature columns of ``fit``, in order.

        Examples
        --------
        >>> X = pd.DataFrame({"ct__a": [1.0, 2.0, 3.0, 4.0], "ct__b": [0.0, 1.0, 0.0, 2.0],
        ...                   "centre": ["A", "A", "B", "B"]})
        >>> ComBatHarmoniser().fit(X).get_feature_names_out().tolist()
        ['ct__a', 'ct__b']
        """
        check_is_fitted(self, "gamma_")
        return self.feature_names_in_.copy()

    def _split(self, X) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{_OWNER} needs 'X' as a pandas DataFrame with a {self.batch!r} column; "
                            f"got {type(X).__name__}.")
        if self.batch not in X.columns:
            raise ValueError(f"{_OWNER}: 'X' has no column {self.batch!r} naming each patient's centre. Add it "
                             "or set 'batch' to the column that holds it.")
        batches = X[self.batch].to_numpy()
        if pd.isna(batches).any():
            raise ValueError(f"{_OWNER}: column {self.batch!r} has {int(pd.isna(batches).sum())} missing centre(s); "
                             "every patient needs one.")
        return X.drop(columns=[self.batch]), batches


def _empirical_bayes(z, batches, labels, gamma_hat, delta2_hat, *, tol: float = 1e-4, max_iter: int = 100):
    """Johnson et al.'s parametric shrinkage of per-feature location and scale within each centre."""
    gamma = gamma_hat.copy()
    delta2 = delta2_hat.copy()
    for i, b in enumerate(labels):
        zb = z[batches == b]
        n = np.sum(~np.isnan(zb), axis=0)
        g_bar, t2 = gamma_hat[i].mean(), gamma_hat[i].var(ddof=1)
        m, s2 = delta2_hat[i].mean(), delta2_hat[i].var(ddof=1)
        if not np.isfinite(t2) or t2 <= 0 or not np.isfinite(s2) or s2 <= 0:
            continue
        a = (2 * s2 + m ** 2) / s2
        beta = (m * s2 + m ** 3) / s2
        g_new, d_new = gamma_hat[i].copy(), delta2_hat[i].copy()
        for _ in range(max_iter):
            g_next = (n * t2 * gamma_hat[i] + d_new * g_bar) / (n * t2 + d_new)
            ss = np.nansum((zb - g_next) ** 2, axis=0)
            d_next = (beta + 0.5 * ss) / (n / 2.0 + a - 1.0)
            change = max(np.max(np.abs(g_next - g_new) / np.maximum(np.abs(g_new), 1e-12)),
                         np.max(np.abs(d_next - d_new) / np.maximum(d_new, 1e-12)))
            g_new, d_new = g_next, d_next
            if change < tol:
                break
        gamma[i], delta2[i] = g_new, d_new
    return gamma, delta2
