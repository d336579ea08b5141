"""Performance measures of a simulation study, with Monte-Carlo standard errors (Morris, White and Crowther 2019).

Input: the long table of replicate results (one row per scenario, replicate and model) that
:func:`multisurv.simulation.runner.run_simulation` builds. Columns used: ``scenario``, ``replicate``, ``model``,
``c_external`` (Harrell's C on the external cohort), ``lower`` / ``upper`` (its bootstrap interval), ``c_true``
(the estimand: the fitted model's C on a large independent external sample) and ``c_development``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multisurv.registry import FUSION_STRATEGIES

__all__ = ["performance_table", "win_table", "comparisons", "FUSIONS", "SINGLES"]

#: Fusion models and single-modality models, in display order.
FUSIONS = tuple(FUSION_STRATEGIES)  # early, late, late_insample, late_pattern, intermediate
SINGLES = ("radscore", "patscore", "clinscore")


def _mean_mcse(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    mcse = float(np.std(values, ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")
    return float(np.mean(values)), mcse


def _share_mcse(hits: np.ndarray) -> tuple[float, float]:
    hits = hits[np.isfinite(hits)]
    if hits.size == 0:
        return float("nan"), float("nan")
    p = float(np.mean(hits))
    return p, float(np.sqrt(p * (1.0 - p) / hits.size))


def performance_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and model: mean external C, bias against the estimand, gap to the truth, coverage; with MC SEs.

    Parameters
    ----------
    records : pandas.DataFrame
        Long replicate table (see the module docstring). A ``truth`` model, if present, gives the gaps.

    Returns
    -------
    pandas.DataFrame
        One row per (scenario, model): ``n_replicates`` (with a finite external C), ``n_failed``, ``mean_c``
        and ``mcse_c`` (mean external C), ``empse_c`` (its SD over replicates, the empirical SE), ``mean_true_c``
        and ``mcse_true_c`` (mean estimand), ``bias`` and ``mcse_bias`` (mean of external C - true C),
        ``gap_truth`` and ``mcse_gap_truth`` (mean of the model's external C minus the true linear predictor's
        on the same cohort), ``true_gap_truth`` and its MC SE (the same on the estimand), ``coverage`` and
        ``mcse_coverage`` (share of bootstrap intervals holding the true C), ``mean_width`` (interval width),
        ``mean_c_development`` (apparent C).

    Notes
    -----
    Monte-Carlo SE of a mean: SD / sqrt(R); of a share p: sqrt(p (1 - p) / R) (Morris et al. 2019, table 6).

    References
    ----------
    .. [1] Morris, T. P., White, I. R., Crowther, M. J. "Using simulation studies to evaluate statistical
       methods", Statistics in Medicine 38(11), 2074-2102, 2019.

    Examples
    --------
    >>> rec = pd.DataFrame({"scenario": "s", "replicate": [0, 1, 0, 1], "model": ["a", "a", "truth", "truth"],
    ...                     "c_external": [0.6, 0.7, 0.8, 0.8], "lower": [0.5, 0.6, 0.7, 0.7],
    ...                     "upper": [0.7, 0.8, 0.9, 0.9], "c_true": [0.65, 0.65, 0.8, 0.8],
    ...                     "c_development": [0.7, 0.7, 0.8, 0.8]})
    >>> t = performance_table(rec)
    >>> t.loc[t["model"] == "a", ["mean_c", "coverage", "gap_truth"]].round(3).to_dict("records")
    [{'mean_c': 0.65, 'coverage': 1.0, 'gap_truth': -0.15}]
    """
    rows = []
    truth = records[records["model"] == "truth"].set_index(["scenario", "replicate"])
    for (scenario, model), part in records.groupby(["scenario", "model"], sort=False):
        c = part["c_external"].to_numpy(dtype=float)
        true_c = part["c_true"].to_numpy(dtype=float)
        ok = np.isfinite(c)
        row = {"scenario": scenario, "model": model, "n_replicates": int(ok.sum()), "n_failed": int((~ok).sum())}
        row["mean_c"], row["mcse_c"] = _mean_mcse(c)
        row["empse_c"] = float(np.std(c[ok], ddof=1)) if ok.sum() > 1 else float("nan")
        row["mean_true_c"], row["mcse_true_c"] = _mean_mcse(true_c)
        row["bias"], row["mcse_bias"] = _mean_mcse(c - true_c)
        if len(truth):
            key = pd.MultiIndex.from_arrays([part["scenario"], part["replicate"]])
            ref = truth.reindex(key)
            row["gap_truth"], row["mcse_gap_truth"] = _mean_mcse(c - ref["c_external"].to_numpy(dtype=float))
            row["true_gap_truth"], row["mcse_true_gap_truth"] = _mean_mcse(true_c - ref["c_true"].to_numpy(dtype=float))
        lower, upper = part["lower"].to_numpy(dtype=float), part["upper"].to_numpy(dtype=float)
        valid = np.isfinite(lower) & np.isfinite(upper) & np.isfinite(true_c)
        hits = np.where(valid, (lower <= true_c) & (true_c <= upper), np.nan).astype(float)
        row["coverage"], row["mcse_coverage"] = _share_mcse(hits)
        row["mean_width"] = float(np.mean((upper - lower)[valid])) if valid.any() else float("nan")
        row["mean_c_development"] = _mean_mcse(part["c_development"].to_numpy(dtype=float))[0]
        rows.append(row)
    return pd.DataFrame(rows)


def comparisons(models) -> list[tuple[str, str]]:
    """The (a, b) pairs whose win probability is reported: each fusion vs each single modality, late vs early,
    intermediate vs early and vs late.

    Parameters
    ----------
    models : iterable of str
        The models of the study (``truth`` and unknown names are ignored).

    Returns
    -------
    list of (str, str)
        (a, b) pairs, in this order: each fusion present against each single-modality score present, each late
        fusion against early, then intermediate against early and late.

    Examples
    --------
    >>> comparisons(["clinscore", "early", "late", "truth"])
    [('early', 'clinscore'), ('late', 'clinscore'), ('late', 'early')]
    >>> comparisons(["early", "late", "intermediate"])
    [('late', 'early'), ('intermediate', 'early'), ('intermediate', 'late')]
    """
    models = list(models)
    pairs = [(f, s) for f in FUSIONS if f in models for s in SINGLES if s in models]
    pairs += [(late, "early") for late in ("late", "late_insample", "late_pattern") if late in models
              and "early" in models]
    # the deep family against the two classical ones
    pairs += [("intermediate", other) for other in ("early", "late") if "intermediate" in models and other in models]
    return pairs


def win_table(records: pd.DataFrame) -> pd.DataFrame:
    """P(model a beats model b) per scenario, on the external cohort and on the estimand, with MC SEs.

    A replicate counts 1 when a's C is higher, 1/2 when they tie and 0 otherwise; replicates where either
    C is missing are left out (``n_pairs`` says how many were used).

    Parameters
    ----------
    records : pandas.DataFrame
        Long replicate table.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, ``a``, ``b``, ``comparison`` (``"a > b"``), ``p_win`` and ``mcse_p_win`` (observed
        external C), ``p_win_true`` and ``mcse_p_win_true`` (true C), ``mean_difference`` and its MC SE (external
        C of a minus b), ``n_pairs``.

    Examples
    --------
    >>> rec = pd.DataFrame({"scenario": "s", "replicate": [0, 1, 0, 1], "model": ["early", "early", "late", "late"],
    ...                     "c_external": [0.6, 0.7, 0.65, 0.7], "c_true": [0.6, 0.6, 0.7, 0.7]})
    >>> win_table(rec)[["comparison", "p_win", "p_win_true"]].to_dict("records")
    [{'comparison': 'late > early', 'p_win': 0.75, 'p_win_true': 1.0}]
    """
    rows = []
    for scenario, part in records.groupby("scenario", sort=False):
        wide = part.pivot(index="replicate", columns="model", values="c_external")
        wide_true = part.pivot(index="replicate", columns="model", values="c_true")
        for a, b in comparisons(wide.columns):
            d = (wide[a] - wide[b]).to_numpy(dtype=float)
            d_true = (wide_true[a] - wide_true[b]).to_numpy(dtype=float)
            score = np.where(np.isfinite(d), (d > 1e-12) + 0.5 * (np.abs(d) <= 1e-12), np.nan).astype(float)
            score_true = np.where(np.isfinite(d_true), (d_true > 1e-12) + 0.5 * (np.abs(d_true) <= 1e-12),
                                  np.nan).astype(float)
            p, se = _mean_mcse(score)  # SD / sqrt(R) of the 0 / 1/2 / 1 scores: the binomial SE without ties
            pt, set_ = _mean_mcse(score_true)
            md, mdse = _mean_mcse(d)
            rows.append({"scenario": scenario, "a": a, "b": b, "comparison": f"{a} > {b}", "p_win": p,
                         "mcse_p_win": se, "p_win_true": pt, "mcse_p_win_true": set_, "mean_difference": md,
                         "mcse_mean_difference": mdse, "n_pairs": int(np.isfinite(score).sum())})
    return pd.DataFrame(rows)
