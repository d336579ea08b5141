"""Intraclass correlation per feature: how reproducible each feature is across readers or perturbations.

:func:`intraclass_correlation` computes, for every feature at once (vectorised over thousands), the two-way
ICCs of Shrout and Fleiss (1979) that radiomics reproducibility studies report (Koo and Li 2016's naming):

- ``icc2_1``: ICC(2,1), two-way random effects, absolute agreement, single rater (ICC(A,1) of McGraw and
  Wong); a reader who measures systematically higher lowers it;
- ``icc3_1``: ICC(3,1), two-way mixed effects, consistency, single rater (ICC(C,1)); a systematic offset
  between readers does not lower it;

each with its confidence interval, exactly as R's ``psych::ICC`` computes them (the F-based interval for
ICC(3,1), the Satterthwaite-type approximation of McGraw and Wong for ICC(2,1)).
:func:`icc_table` does the same from one feature table per reader (or per perturbation).
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from multisurv._validation import check_param

__all__ = ["intraclass_correlation", "icc_table", "icc_summary", "ICC_COLUMNS", "ICC_METHODS", "KOO_LI_BANDS"]

logger = logging.getLogger(__name__)

#: The ICC forms computed, by name (Shrout and Fleiss's ICC(2,1) and ICC(3,1)).
ICC_METHODS = ("icc2_1", "icc3_1")
#: Columns of the table :func:`intraclass_correlation` returns, in order.
#: Koo and Li's (2016) reliability bands: poor < 0.5 <= moderate < 0.75 <= good < 0.9 <= excellent.
KOO_LI_BANDS = (("poor", -np.inf, 0.5), ("moderate", 0.5, 0.75), ("good", 0.75, 0.9), ("excellent", 0.9, np.inf))
ICC_COLUMNS = ("icc2_1", "icc2_1_low", "icc2_1_high", "icc3_1", "icc3_1_low", "icc3_1_high", "f_subjects",
               "df_subjects", "df_error", "ms_subjects", "ms_raters", "ms_error", "n_subjects", "n_raters")


def intraclass_correlation(ratings, *, confidence: float = 0.95, features: Sequence[str] | None = None
                           ) -> pd.DataFrame:
    """ICC(2,1) and ICC(3,1) with confidence intervals, for one or many features.

    Parameters
    ----------
    ratings : array-like, shape (n_subjects, n_raters) or (n_subjects, n_raters, n_features)
        ``ratings[i, j, f]``: feature ``f`` of subject (patient) ``i`` as measured by rater ``j`` (a reader's
        mask, or a perturbation of the image or mask). A subject with a missing (NaN) value for some rater is
        left out of that feature's ICC only (``n_subjects`` says how many were used).
    confidence : float, default=0.95
        Level of the two-sided confidence intervals, in (0, 1).
    features : sequence of str, optional
        Names of the features (the index of the result); ``f0``, ``f1``, ... by default.

    Returns
    -------
    pandas.DataFrame
        One row per feature (index ``feature``), columns :data:`ICC_COLUMNS`: the two ICCs and their interval
        bounds, the F statistic of subjects (``ms_subjects / ms_error``) with its degrees of freedom, the three
        mean squares of the two-way ANOVA without replication, and the numbers of subjects and raters used.
        A feature without variation (all mean squares zero) or with fewer than 2 complete subjects gets NaN.

    Raises
    ------
    ValueError
        If ``ratings`` has the wrong number of dimensions or fewer than 2 subjects or raters, if
        ``features`` has the wrong length, or if ``confidence`` is not in (0, 1).

    Notes
    -----
    With ``MSR``, ``MSC`` and ``MSE`` the mean squares of subjects (rows), raters (columns) and error of the
    two-way ANOVA, ``n`` subjects and ``k`` raters:

    - ICC(3,1) = (MSR - MSE) / (MSR + (k - 1) MSE);
    - ICC(2,1) = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n).

    The interval of ICC(3,1) comes from ``F = MSR / MSE`` with (n - 1, (n - 1)(k - 1)) degrees of freedom; that
    of ICC(2,1) uses the approximate degrees of freedom of McGraw and Wong (1996), as ``psych::ICC`` does. The
    error sum of squares is computed from the residuals (not as a difference of totals), so nearly constant
    features with large values (Energy, TotalEnergy) keep their precision. Both ICCs are unchanged by a common
    shift or scale of a feature; they are NaN when the feature varies neither across subjects nor raters.

    References
    ----------
    Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability. Psychol Bull.
    1979;86(2):420-428.

    McGraw KO, Wong SP. Forming inferences about some intraclass correlation coefficients. Psychol Methods.
    1996;1(1):30-46.

    Koo TK, Li MY. A guideline of selecting and reporting intraclass correlation coefficients for reliability
    research. J Chiropr Med. 2016;15(2):155-163.

    Examples
    --------
    Shrout and Fleiss's six targets rated by four judges (their Table 2):

    >>> sf = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> out = intraclass_correlation(sf)
    >>> out[["icc2_1", "icc3_1"]].round(2).to_dict("records")
    [{'icc2_1': 0.29, 'icc3_1': 0.71}]
    """
    check_param("intraclass_correlation", "confidence", confidence, kind="float", low=0, high=1, low_open=True,
                high_open=True)
    values = np.asarray(ratings, dtype=float)
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3:
        raise ValueError(f"'ratings' must have shape (n_subjects, n_raters) or (n_subjects, n_raters, n_features); "
                         f"got shape {values.shape}.")
    n_all, k, p = values.shape
    if n_all < 2 or k < 2:
        raise ValueError(f"'ratings' needs at least 2 subjects and 2 raters; got {n_all} subject(s) and {k} "
                         "rater(s). Extract the features for more patients or more readers/perturbations.")
    names = [f"f{j}" for j in range(p)] if features is None else [str(f) for f in features]
    if len(names) != p:
        raise ValueError(f"'features' has {len(names)} names but 'ratings' has {p} features.")

    complete = ~np.isnan(values).any(axis=1)  # (n, p): subject usable for this feature
    w = complete[:, None, :].astype(float)
    n = complete.sum(axis=0).astype(float)  # (p,)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(w > 0, values, 0.0)
        # centre and scale each feature first (ICCs are invariant to it) so that sums of squares keep precision
        centre = x.sum(axis=(0, 1)) / (n * k)
        x = np.where(w > 0, x - centre, 0.0)
        scale = np.sqrt((x ** 2).sum(axis=(0, 1)) / (n * k))
        scale = np.where(scale > 0, scale, 1.0)
        x = x / scale
        grand = x.sum(axis=(0, 1)) / (n * k)
        row = x.mean(axis=1)  # (n, p); zero for incomplete subjects (their x is zero)
        col = x.sum(axis=0) / n  # (k, p)
        resid = (x - row[:, None, :] - col[None, :, :] + grand) * w
        ss_rows = k * (complete * (row - grand) ** 2).sum(axis=0)
        ss_cols = n * ((col - grand) ** 2).sum(axis=0)
        ss_error = (resid ** 2).sum(axis=(0, 1))
        df_rows, df_cols, df_error = n - 1, k - 1.0, (n - 1) * (k - 1)
        msr, msc, mse = ss_rows / df_rows, ss_cols / df_cols, ss_error / df_error
        icc3 = (msr - mse) / (msr + (k - 1) * mse)
        icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        icc3_low, icc3_high = _icc3_interval(msr / mse, df_rows, df_error, k, 1 - confidence)
        icc2_low, icc2_high = _icc2_interval(icc2, msr, msc, mse, n, k, 1 - confidence)
        f_rows = msr / mse
    bad = n < 2
    scale2 = scale ** 2
    table = pd.DataFrame({
        "icc2_1": icc2, "icc2_1_low": icc2_low, "icc2_1_high": icc2_high,
        "icc3_1": icc3, "icc3_1_low": icc3_low, "icc3_1_high": icc3_high,
        "f_subjects": f_rows, "df_subjects": df_rows, "df_error": df_error,
        "ms_subjects": msr * scale2, "ms_raters": msc * scale2, "ms_error": mse * scale2,
        "n_subjects": n.astype(int), "n_raters": np.full(p, k, dtype=int),
    }, index=pd.Index(names, name="feature", dtype=object))
    stats = [c for c in ICC_COLUMNS if c not in ("n_subjects", "n_raters", "df_subjects", "df_error")]
    table.loc[bad, stats] = np.nan
    return table


def _icc3_interval(f, df1, df2, k, alpha):
    from scipy.stats import f as fdist

    f_low = f / fdist.ppf(1 - alpha / 2, df1, df2)
    f_high = f * fdist.ppf(1 - alpha / 2, df2, df1)
    return (f_low - 1) / (f_low + k - 1), (f_high - 1) / (f_high + k - 1)


def _icc2_interval(icc2, msr, msc, mse, n, k, alpha):
    """McGraw and Wong's (1996) interval for ICC(A,1), in the form of ``psych::ICC``."""
    from scipy.stats import f as fdist

    fj = msc / mse
    a = n * (1 + (k - 1) * icc2) - k * icc2
    v = (k - 1) * (n - 1) * (k * icc2 * fj + a) ** 2 / ((n - 1) * k ** 2 * icc2 ** 2 * fj ** 2 + a ** 2)
    f_up = fdist.ppf(1 - alpha / 2, n - 1, v)
    f_lo = fdist.ppf(1 - alpha / 2, v, n - 1)
    denom = k * msc + (k * n - k - n) * mse
    low = n * (msr - f_up * mse) / (f_up * denom + n * msr)
    high = n * (f_lo * msr - mse) / (denom + n * f_lo * msr)
    return low, high


def icc_table(tables: Mapping[str, pd.DataFrame] | Sequence[pd.DataFrame], *, confidence: float = 0.95,
              prefix: str | None = None) -> pd.DataFrame:
    """ICC per feature from one feature table per rater (reader mask or perturbation).

    Parameters
    ----------
    tables : mapping of str to DataFrame, or sequence of DataFrame
        One table per rater, each indexed by ``patient_id`` with one column per feature (e.g. the ``features``
        of an :class:`~multisurv.features.batch.ExtractionResult`). Patients and features common to all tables
        are used; a patient missing from a table (its extraction failed) is left out, and said so in the log.
    confidence : float, default=0.95
        Level of the confidence intervals.
    prefix : str, optional
        Use only the columns starting with it (e.g. ``"ct__"``).

    Returns
    -------
    pandas.DataFrame
        As :func:`intraclass_correlation`, one row per common feature, in the first table's column order.

    Raises
    ------
    ValueError
        If fewer than 2 tables are given, or they share fewer than 2 patients or no feature.

    Examples
    --------
    >>> r1 = pd.DataFrame({"ct__a": [1.0, 2.0, 3.0, 4.0]}, index=["P1", "P2", "P3", "P4"])
    >>> r2 = pd.DataFrame({"ct__a": [1.1, 2.1, 2.9, 4.2]}, index=["P1", "P2", "P3", "P4"])
    >>> round(float(icc_table({"reader1": r1, "reader2": r2}).loc["ct__a", "icc2_1"]), 3)
    0.995
    """
    named = dict(tables) if isinstance(tables, Mapping) else {f"rater{i + 1}": t for i, t in enumerate(tables)}
    if len(named) < 2:
        raise ValueError(f"icc_table needs the feature tables of at least 2 raters (readers or perturbations); got "
                         f"{len(named)}.")
    frames = list(named.values())
    patients = frames[0].index
    for frame in frames[1:]:
        patients = patients.intersection(frame.index, sort=False)
    columns = [c for c in frames[0].columns if prefix is None or str(c).startswith(prefix)]
    for frame in frames[1:]:
        present = set(frame.columns)
        columns = [c for c in columns if c in present]
    dropped = sorted({str(p) for frame in frames for p in frame.index} - {str(p) for p in patients})
    if dropped:
        logger.info("ICC: %d patient(s) lack features for some rater and are left out: %s", len(dropped),
                    ", ".join(dropped[:10]) + (", ..." if len(dropped) > 10 else ""))
    if len(patients) < 2 or not columns:
        raise ValueError(f"The feature tables of raters {', '.join(repr(r) for r in named)} share {len(patients)} "
                         f"patient(s) and {len(columns)} feature(s); the ICC needs at least 2 patients and 1 feature "
                         "common to all. Check the failures tables of the extractions.")
    stacked = np.stack([frame.loc[patients, columns].to_numpy(dtype=float) for frame in frames], axis=1)
    return intraclass_correlation(stacked, confidence=confidence, features=columns)


def icc_summary(icc: pd.DataFrame, *, method: str = "icc2_1", icc_min: float = 0.75) -> pd.DataFrame:
    """How many features fall in each of Koo and Li's reliability bands, and how many reach ``icc_min``.

    Parameters
    ----------
    icc : pandas.DataFrame
        A table from :func:`intraclass_correlation` / :func:`icc_table`.
    method : {"icc2_1", "icc3_1"}, default="icc2_1"
    icc_min : float, default=0.75
        The threshold of the robustness filter, reported as the ``kept`` row.

    Returns
    -------
    pandas.DataFrame
        Index ``band`` (poor, moderate, good, excellent, undefined, kept, total); columns ``n_features`` and
        ``n_lower_bound`` (the same count judged by the interval's lower bound, as Koo and Li advise).

    Examples
    --------
    >>> table = pd.DataFrame({"icc2_1": [0.95, 0.8, 0.3, np.nan], "icc2_1_low": [0.9, 0.6, 0.1, np.nan]})
    >>> icc_summary(table)["n_features"].to_dict()
    {'poor': 1, 'moderate': 0, 'good': 1, 'excellent': 1, 'undefined': 1, 'kept': 2, 'total': 4}
    """
    check_param("icc_summary", "method", method, kind="option", options=ICC_METHODS)
    out = {}
    for column, values in (("n_features", icc[method]), ("n_lower_bound", icc[f"{method}_low"])):
        v = values.to_numpy(dtype=float)
        counts = {name: int(((v >= lo) & (v < hi)).sum()) for name, lo, hi in KOO_LI_BANDS}
        counts["undefined"] = int(np.isnan(v).sum())
        counts["kept"] = int((v >= icc_min).sum())
        counts["total"] = int(v.size)
        out[column] = counts
    table = pd.DataFrame(out)
    table.index.name = "band"
    return table
