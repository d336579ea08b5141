"""RobustnessFilter: keep the features of a modality that are reproducible across readers or perturbations."""

from __future__ import annotations

from typing import Any, Literal, Mapping

import numpy as np
import pandas as pd

from multisurv._validation import check_param
from multisurv.features.reproducibility import ICC_METHODS, icc_table
from multisurv.selection._base import ColumnSelectorMixin

__all__ = ["RobustnessFilter"]

_OWNER = "RobustnessFilter"


class RobustnessFilter(ColumnSelectorMixin):
    """Drop features whose intraclass correlation (ICC) is below ``icc_min``; other modalities pass through.

    Parameters
    ----------
    icc : DataFrame, Series, mapping, ReproducibilityResult or callable
        Where the ICCs come from:

        - a table indexed by feature name with a column named ``method`` (as returned by
          :func:`~multisurv.features.reproducibility.icc_table`, or read from its CSV), or a Series / mapping
          feature -> ICC: used as is;
        - a :class:`~multisurv.features.robustness.ReproducibilityResult` (or anything with a ``features``
          mapping rater -> feature table indexed by ``patient_id``): the ICC is computed in ``fit`` **on the
          training patients only** (the rows of ``X``, matched by index), so nothing is learnt from held-out
          patients;
        - a callable ``icc(X) -> table``, called in ``fit`` with the training rows.
    icc_min : float, default=0.75
        Keep a feature when its ICC is ``>= icc_min`` (0.75 is "good" reliability in Koo and Li 2016); in [-1, 1].
    method : {"icc2_1", "icc3_1"}, default="icc2_1"
        ICC(2,1) (absolute agreement) or ICC(3,1) (consistency).
    criterion : {"estimate", "lower"}, default="estimate"
        Compare the ICC itself, or the lower bound of its confidence interval (stricter, as Koo and Li advise).
    prefix : str or None, default="ct__"
        Only columns starting with it are filtered; the others pass through unchanged. None filters every column.
    missing : {"drop", "keep"}, default="drop"
        What to do with a filtered column that has no ICC (absent from the table, or NaN because it is constant).

    Attributes
    ----------
    icc_ : pandas.Series
        The ICC (or lower bound) of every filtered column, NaN where unknown; the distribution to report.
    n_candidates_ : int
        Number of filtered columns (those with ``prefix``).
    n_kept_ : int
        How many of them survived.
    missing_features_ : list of str
        Filtered columns without an ICC.
    support_ : ndarray of bool
    selected_features_ : list of str
        Surviving filtered columns and every passed-through column, in input order.

    Notes
    -----
    The filter uses no outcome. Fitted on the development cohort only, like every selection step: with a
    ``ReproducibilityResult`` (or a callable) the ICC itself is recomputed on the rows it is fitted on, so
    inside resampling each fold's ICC uses only that fold's training patients.

    References
    ----------
    Koo TK, Li MY. A guideline of selecting and reporting intraclass correlation coefficients for reliability
    research. J Chiropr Med. 2016;15(2):155-163.

    Zwanenburg A, Leger S, Agolli L, et al. Assessing robustness of radiomic features by image perturbation.
    Sci Rep. 2019;9:614.

    Examples
    --------
    >>> X = pd.DataFrame({"ct__a": [1.0, 2.0, 3.0], "ct__b": [3.0, 1.0, 2.0], "clin__age": [60.0, 70.0, 55.0]})
    >>> icc = pd.DataFrame({"icc2_1": [0.91, 0.40]}, index=["ct__a", "ct__b"])
    >>> f = RobustnessFilter(icc=icc).fit(X)
    >>> f.selected_features_, f.n_kept_, f.n_candidates_
    (['ct__a', 'clin__age'], 1, 2)
    """

    def __init__(self, *, icc: Any = None, icc_min: float = 0.75, method: Literal["icc2_1", "icc3_1"] = "icc2_1",
                 criterion: Literal["estimate", "lower"] = "estimate", prefix: str | None = "ct__",
                 missing: Literal["drop", "keep"] = "drop"):
        self.icc = icc
        self.icc_min = icc_min
        self.method = method
        self.criterion = criterion
        self.prefix = prefix
        self.missing = missing

    def fit(self, X, y=None) -> RobustnessFilter:
        """Look up (or compute on these rows) the ICC of each filtered column and keep the reproducible ones.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
            Training rows; with a ``ReproducibilityResult`` as ``icc`` its index must be the patient ids.
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If a parameter is invalid, ``icc`` is missing or lacks the ``method`` column, or (with a
            ``ReproducibilityResult``) fewer than two training patients have reproducibility features.

        Examples
        --------
        Columns outside ``prefix`` (here ``ct__``) are kept without a test:

        >>> X = pd.DataFrame({"ct__a": [1.0, 2.0, 3.0], "ct__b": [3.0, 1.0, 2.0], "clin__age": [60.0, 70.0, 55.0]})
        >>> icc = pd.DataFrame({"icc2_1": [0.91, 0.40]}, index=["ct__a", "ct__b"])
        >>> RobustnessFilter(icc=icc, icc_min=0.9).fit(X).selected_features_
        ['ct__a', 'clin__age']
        """
        check_param(_OWNER, "icc_min", self.icc_min, kind="float", low=-1, high=1)
        check_param(_OWNER, "method", self.method, kind="option", options=ICC_METHODS)
        check_param(_OWNER, "criterion", self.criterion, kind="option", options=("estimate", "lower"))
        check_param(_OWNER, "missing", self.missing, kind="option", options=("drop", "keep"))
        if self.prefix is not None and not isinstance(self.prefix, str):
            raise ValueError(f"The 'prefix' parameter of {_OWNER} must be a str or None. Got {self.prefix!r} instead.")
        frame = self._start_fit(X)
        values = self._icc_values(X if isinstance(X, pd.DataFrame) else frame)
        filtered = [c for c in self._columns if self.prefix is None or c.startswith(self.prefix)]
        icc = pd.Series([values.get(c, np.nan) for c in filtered], index=pd.Index(filtered, dtype=object),
                        dtype=float, name=self._column())
        known = icc.notna()
        keep = (icc >= self.icc_min) & known
        if self.missing == "keep":
            keep |= ~known
        kept = set(icc.index[keep.to_numpy()])
        filtered_set = set(filtered)
        self.icc_ = icc
        self.n_candidates_ = len(filtered)
        self.n_kept_ = int(keep.sum())
        self.missing_features_ = list(icc.index[~known.to_numpy()])
        self._finish_fit(np.array([c not in filtered_set or c in kept for c in self._columns], dtype=bool))
        return self

    def _column(self) -> str:
        return self.method if self.criterion == "estimate" else f"{self.method}_low"

    def _icc_values(self, X) -> Mapping[str, float]:
        source = self.icc
        if source is None:
            raise ValueError(f"{_OWNER} needs 'icc': an ICC table (e.g. from reader_agreement or "
                             "perturbation_robustness), a ReproducibilityResult, or a callable icc(X) -> table.")
        if isinstance(getattr(source, "features", None), Mapping):
            source = _icc_on_rows(source.features, X)
        elif callable(source) and not isinstance(source, (pd.DataFrame, pd.Series)):
            source = source(X)
        column = self._column()
        if isinstance(source, pd.DataFrame):
            if column not in source.columns:
                raise ValueError(f"The ICC table given to {_OWNER} has no column {column!r} (method={self.method!r}, "
                                 f"criterion={self.criterion!r}); it has {list(source.columns)}. Pass a table from "
                                 "icc_table / reader_agreement / perturbation_robustness, or change 'method'.")
            source = source[column]
        if isinstance(source, pd.Series):
            return {str(k): float(v) for k, v in source.items()}
        if isinstance(source, Mapping):
            return {str(k): float(v) for k, v in source.items()}
        raise TypeError(f"'icc' of {_OWNER} must be a DataFrame, Series, mapping, ReproducibilityResult or callable; "
                        f"got {type(source).__name__}.")


def _icc_on_rows(features: Mapping[str, pd.DataFrame], X) -> pd.DataFrame:
    """ICC table of the raters' features restricted to the patients of ``X`` (its index)."""
    rows = pd.Index([str(i) for i in X.index])
    restricted = {}
    for rater, table in features.items():
        index = pd.Index([str(i) for i in table.index])
        restricted[rater] = table.loc[np.asarray(index.isin(rows))]
    n_common = min(len(t) for t in restricted.values()) if restricted else 0
    if n_common < 2:
        raise ValueError(f"{_OWNER}: only {n_common} of the {len(rows)} training patients have reproducibility "
                         "features (matched on the index of 'X', which must hold the patient ids); the ICC needs at "
                         "least 2. Run reader_agreement / perturbation_robustness on the development cohort.")
    return icc_table(restricted)

