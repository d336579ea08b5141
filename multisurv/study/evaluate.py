"""evaluate_study(): every discrimination and risk-group result of a study, computed once, as objects.

Each model's risk is evaluated on the development cohort, on every other cohort label on its own (each external
centre), and on all external patients pooled (``external (all)``) when there is more than one external label. The
risk-group cut-off (the development median) is fitted on development patients only and applied unchanged
elsewhere. Nothing here draws: :mod:`multisurv.report` renders the results.

The other results of the evaluation stage (Breslow baselines, calibration, decision curves, the other cut-off rules,
ROC curves, hazard ratios, importance, nomogram) are computed by :func:`multisurv.study.assessment.assess_study`,
under the same rule: fitted on development patients only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from multisurv._validation import make_y

__all__ = ["POOLED_EXTERNAL", "Reclassification", "RiskGroups", "StudyEvaluation", "evaluation_groups",
           "evaluate_study", "compare_models", "complete_cases", "reclassify_models"]

logger = logging.getLogger(__name__)

#: Label of the pooled external patients when there is more than one external cohort label.
POOLED_EXTERNAL = "external (all)"


@dataclass(frozen=True)
class RiskGroups:
    """One model's risk groups on one cohort, for a Kaplan-Meier figure (drawn by the report).

    Parameters
    ----------
    model : str
        The model (risk column) whose cut-off made the groups.
    cohort : str
        The evaluated cohort label (``external (all)`` for the pooled external patients).
    y : numpy.ndarray
        Structured array (``event``, ``time``) of the patients the model scores on that cohort.
    groups : numpy.ndarray of str
        ``"high"`` or ``"low"`` per patient, aligned with ``y``.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> rg = RiskGroups("late_fusion", "external", make_y([5.0, 9.0], [True, False]), np.array(["high", "low"]))
    >>> rg.groups.tolist()
    ['high', 'low']
    """

    model: str
    cohort: str
    y: np.ndarray
    groups: np.ndarray


@dataclass
class StudyEvaluation:
    """What :func:`evaluate_study` computed.

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per (model, cohort, subset): n, events, C-index and its bootstrap interval, cut-off, group sizes,
        log-rank statistic and p.
    cutoffs : dict, default={}
        Development-median cut-off per model.
    risk_groups : list of RiskGroups, default=[]
        The groups behind each log-rank test of the ``available`` subset (the KM figures).

    Examples
    --------
    >>> ev = StudyEvaluation(metrics=pd.DataFrame({"model": ["m"], "cindex": [0.7]}), cutoffs={"m": 0.1})
    >>> ev.cutoffs, ev.risk_groups
    ({'m': 0.1}, [])
    """

    metrics: pd.DataFrame
    cutoffs: dict[str, float] = field(default_factory=dict)
    risk_groups: list[RiskGroups] = field(default_factory=list)


def evaluation_groups(cohort_labels: pd.Series, development: str) -> dict[str, list[str]]:
    """Patients of each evaluated cohort: development, each other label, and the pooled external patients.

    Parameters
    ----------
    cohort_labels : pandas.Series
        Each patient's cohort label, indexed by patient_id.
    development : str
        The development label.

    Returns
    -------
    dict of str to list
        Cohort label -> patient ids, in the order development, the other labels (as first seen), then
        ``external (all)`` when there are at least two other labels; labels without patients are left out.

    Examples
    --------
    >>> labels = pd.Series(["development", "centre_A", "centre_B", "centre_A"], index=["p1", "p2", "p3", "p4"])
    >>> evaluation_groups(labels, "development")
    {'development': ['p1'], 'centre_A': ['p2', 'p4'], 'centre_B': ['p3'], 'external (all)': ['p2', 'p3', 'p4']}
    """
    labels = cohort_labels.astype(str)
    out = {development: list(labels.index[labels == development])}
    others = [c for c in pd.unique(labels) if c != development]
    for label in others:
        out[label] = list(labels.index[labels == label])
    if len(others) > 1:
        out[POOLED_EXTERNAL] = list(labels.index[labels != development])
    return {k: v for k, v in out.items() if v}


def _evaluate_one(name: str, risk: pd.Series, y: np.ndarray, label: str, cutoff: float, *, subset: str,
                  n_bootstrap: int, random_state: int) -> tuple[dict, RiskGroups | None]:
    from multisurv.evaluation.concordance import concordance
    from multisurv.evaluation.groups import logrank, risk_groups

    available = risk.notna().to_numpy()
    y = y[available]
    r = risk.to_numpy(float)[available]
    row = {"model": name, "cohort": label, "subset": subset, "n": int(available.sum()),
           "events": int(y["event"].sum())}
    if row["n"] < 2 or row["events"] == 0:
        logger.warning("Model %r on cohort %r: %d patients, %d events; not evaluated.", name, label, row["n"],
                       row["events"])
        return row, None
    c = concordance(y, r, n_bootstrap=n_bootstrap, random_state=random_state)
    row.update(cindex=c.cindex, ci_lower=c.lower, ci_upper=c.upper)
    groups = risk_groups(r, cutoff=cutoff)
    row.update(cutoff=cutoff, n_high=int((groups == "high").sum()), n_low=int((groups == "low").sum()))
    if len(set(groups)) < 2:
        logger.warning("Model %r on cohort %r: every patient falls in one risk group at cut-off %.4g; "
                       "no log-rank test or KM figure.", name, label, cutoff)
        return row, None
    try:
        lr = logrank(y, groups)
    except ValueError as err:  # e.g. one group censored before the first event: nothing to compare
        logger.warning("Model %r on cohort %r: no log-rank test or KM figure at cut-off %.4g: %s", name, label,
                       cutoff, err)
        return row, None
    row.update(logrank_chisq=lr.statistic, logrank_p=lr.p_value)
    return row, RiskGroups(name, label, y, groups)


def evaluate_study(predictions: pd.DataFrame, *, development: str, models: Sequence[str],
                   complete: pd.Series | None = None, n_bootstrap: int = 1000, random_state: int = 0,
                   notes: list[str] | None = None, collect=None) -> StudyEvaluation:
    """C-index with bootstrap intervals, median risk groups and log-rank tests of every model on every cohort.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Index patient_id; ``cohort``, ``time``, ``event`` and one risk column per model (higher = worse).
    development : str
        The development cohort label: cut-offs are fitted on its patients.
    models : sequence of str
        Risk columns to evaluate, in report order.
    complete : boolean Series, optional
        Patients with every modality: each model is also evaluated on them (``subset = "complete"``).
    n_bootstrap, random_state : int
        C-index intervals.
    notes, collect : optional
        ``collect(notes, stage)`` is a context manager recording warnings into ``notes`` (the study's).

    Returns
    -------
    StudyEvaluation
        The metrics table, the cut-offs and the risk groups. A cohort with fewer than 2 patients or no event gets
        a row with ``n`` and ``events`` only; one whose patients all fall in one group gets no log-rank test.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 30 + ["a"] * 15 + ["b"] * 15,
    ...                      "time": rng.uniform(1, 50, 60), "event": rng.integers(0, 2, 60).astype(bool),
    ...                      "m": rng.normal(size=60)}, index=[f"p{i}" for i in range(60)])
    >>> ev = evaluate_study(pred, development="development", models=["m"], n_bootstrap=0)
    >>> ev.metrics["cohort"].tolist()
    ['development', 'a', 'b', 'external (all)']
    """
    from contextlib import nullcontext

    groups = evaluation_groups(predictions["cohort"], development)
    y_all = make_y(predictions["time"].to_numpy(float), predictions["event"].to_numpy(bool))
    position = pd.Series(np.arange(len(predictions)), index=predictions.index)
    out = StudyEvaluation(metrics=pd.DataFrame())
    rows = []
    subsets = [("available", None)]
    if complete is not None:
        subsets.append(("complete", complete.reindex(predictions.index).fillna(False).astype(bool)))
    for name in models:
        dev_ids = groups.get(development, [])
        cutoff = float(np.nanmedian(predictions.loc[dev_ids, name])) if dev_ids else float("nan")
        out.cutoffs[name] = cutoff
        for subset, mask in subsets:
            stage = f"{name} evaluation" + ("" if subset == "available" else ", complete cases")
            with (collect(notes, stage) if collect is not None else nullcontext()):
                for label, ids in groups.items():
                    if mask is not None:
                        ids = [i for i in ids if mask.loc[i]]
                        if not ids:
                            continue
                    row, km = _evaluate_one(name, predictions.loc[ids, name], y_all[position.loc[ids].to_numpy()],
                                            label, cutoff, subset=subset, n_bootstrap=n_bootstrap,
                                            random_state=random_state)
                    rows.append(row)
                    if km is not None and subset == "available":
                        out.risk_groups.append(km)
    out.metrics = pd.DataFrame(rows)
    return out


def complete_cases(features: pd.DataFrame, prefixes: Sequence[str]) -> pd.Series:
    """Patients with at least one feature of every prefix (a failed extraction counts as missing).

    Parameters
    ----------
    features : pandas.DataFrame
        Feature table indexed by patient_id, columns prefixed by modality.
    prefixes : sequence of str
        One column prefix per modality (``"ct__"``, ...); a prefix with no column makes every patient incomplete.

    Returns
    -------
    pandas.Series of bool
        Indexed like ``features``: True where the patient has every modality.

    Examples
    --------
    >>> f = pd.DataFrame({"ct__a": [1.0, np.nan], "wsi__b": [2.0, 3.0]}, index=["p1", "p2"])
    >>> complete_cases(f, ["ct__", "wsi__"]).tolist()
    [True, False]
    """
    out = pd.Series(True, index=features.index)
    for prefix in prefixes:
        cols = [c for c in features.columns if str(c).startswith(prefix)]
        out &= features[cols].notna().any(axis=1) if cols else False
    return out


def compare_models(predictions: pd.DataFrame, pairs: Sequence[tuple[str, str]], *, development: str,
                   n_bootstrap: int = 1000, random_state: int = 0) -> pd.DataFrame:
    """Paired comparison of models' Harrell's C on every evaluated cohort (the same patients for both models).

    Each pair ``(a, b)`` is compared on the patients both score, with
    :func:`~multisurv.evaluation.comparison.compare_concordance`: C of each, the difference a - b with its normal
    (jackknife standard error) interval and p, and the paired-bootstrap interval and p.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Index patient_id; ``cohort``, ``time``, ``event`` and one risk column per model (higher = worse).
    pairs : sequence of (str, str)
        The risk columns to compare.
    development : str
        The development label (see :func:`evaluation_groups`).
    n_bootstrap : int, default=1000
        Paired bootstrap resamples; 0 leaves the bootstrap columns NaN.
    random_state : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per (pair, cohort): ``model_a, model_b, cohort, n, events, cindex_a, cindex_b, difference, lower,
        upper, p_value, boot_lower, boot_upper, boot_p_value``. Cohorts with fewer than 3 patients scored by both
        models, no event or no comparable pair are left out.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> lp = rng.normal(size=80)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 80, "time": rng.exponential(np.exp(-lp)),
    ...                      "event": rng.random(80) < 0.8, "good": lp, "noise": rng.normal(size=80)})
    >>> row = compare_models(pred, [("good", "noise")], development="development", n_bootstrap=0).iloc[0]
    >>> bool(row["difference"] > 0), row["cohort"]
    (True, 'development')
    """
    from multisurv.evaluation.comparison import compare_concordance

    groups = evaluation_groups(predictions["cohort"], development)
    rows = []
    for a, b in pairs:
        for label, ids in groups.items():
            part = predictions.loc[ids]
            part = part[part[a].notna() & part[b].notna()]
            y = make_y(part["time"].to_numpy(float), part["event"].to_numpy(bool))
            if len(part) < 3 or y["event"].sum() == 0:
                continue
            try:
                res = compare_concordance(y, part[a].to_numpy(float), part[b].to_numpy(float),
                                          n_bootstrap=n_bootstrap, random_state=random_state)
            except ValueError as exc:  # e.g. no comparable pair
                logger.warning("Comparison of %r and %r on %r: %s", a, b, label, exc)
                continue
            rows.append({"model_a": a, "model_b": b, "cohort": label, "n": res.n, "events": res.n_events,
                         "cindex_a": res.cindex_a, "cindex_b": res.cindex_b, "difference": res.difference,
                         "lower": res.lower, "upper": res.upper, "p_value": res.p_value,
                         "boot_lower": res.boot_lower, "boot_upper": res.boot_upper, "boot_p_value": res.boot_p_value})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------ reclassification
#: Fewest patients (scored by both models) a cohort needs for NRI and IDI, as for the decision curves.
MIN_RECLASSIFIED = 10


@dataclass(frozen=True)
class Reclassification:
    """NRI and IDI of every model over the reference ("old") model on each external cohort (the report draws it).

    Parameters
    ----------
    reference : str
        The reference model.
    t0 : float or None
        Survival: the time point of the event probabilities; None for a binary endpoint.
    cutoffs : tuple of float
        Risk categories of the categorical NRI (empty: continuous NRI only).
    nri : dict
        ``(model, cohort, kind) -> NRIResult`` (``kind``: ``"continuous"`` or ``"categorical"``).
    idi : dict
        ``(model, cohort) -> IDIResult``.
    table : pandas.DataFrame
        One row per NRI (``tables/reclassification.csv``): ``model, reference, cohort, kind, cutoffs, t0, n,
        n_events, nri`` with ``lower, upper, se, p_value``, its components ``nri_events`` and ``nri_non_events`` with
        their intervals, ``idi`` with ``idi_lower, idi_upper, idi_se, idi_p_value``, the discrimination slopes
        ``slope_reference`` and ``slope_model``, ``method``, ``n_bootstrap``, ``confidence``.
    skipped : tuple of str
        The (model, cohort) pairs that could not be computed, and why.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 60).astype(float)
    >>> pred = pd.DataFrame({"cohort": ["development"] * 20 + ["external"] * 40, "outcome": y,
    ...                      "old": np.full(60, 0.5), "new": 0.3 + 0.4 * y})
    >>> res = reclassify_models(pred, development="development", reference="old", models=["new"], n_bootstrap=0)
    >>> res.table[["model", "reference", "cohort", "kind", "n", "nri", "idi"]].round(3)
      model reference    cohort        kind   n  nri  idi
    0   new       old  external  continuous  40  2.0  0.4
    """

    reference: str
    t0: float | None
    cutoffs: tuple
    nri: dict
    idi: dict
    table: pd.DataFrame
    skipped: tuple = ()


def reclassify_models(predictions: pd.DataFrame, *, development: str, reference: str, models: Sequence[str],
                      t0: float | None = None, cutoffs: Sequence[float] = (), n_bootstrap: int = 1000,
                      random_state: int = 0) -> Reclassification:
    """NRI (continuous, and categorical with ``cutoffs``) and IDI of each model over ``reference`` on each cohort
    other than development (each external label, and the pooled externals when there are several).

    Each model is compared with the reference on the patients both score (and, for a binary endpoint, whose
    outcome is known), cohorts with fewer than 10 such patients are skipped. Survival (``t0`` given): the columns
    hold the probability of the event by ``t0`` and censoring is handled by
    :func:`~multisurv.evaluation.reclassification.nri_at` (Kaplan-Meier) and
    :func:`~multisurv.evaluation.reclassification.idi_at` (IPCW); binary (``t0`` None):
    :func:`~multisurv.evaluation.reclassification.nri` and :func:`~multisurv.evaluation.reclassification.idi`.
    Every call uses ``random_state``, so every comparison on a cohort draws the same resamples.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Index patient_id; ``cohort``, the outcome (``time`` and ``event`` with ``t0``; else ``outcome``, 0/1 or NaN
        for unknown) and one event-probability column per model.
    development : str
        The development label (left out: the models were fitted there).
    reference : str
        The "old" model's column.
    models : sequence of str
        The "new" models' columns (the reference, if listed, is left out).
    t0 : float, optional
        Survival: the time point of the probabilities. None: a binary outcome.
    cutoffs : sequence of float, default=()
        Risk categories (increasing event probabilities in (0, 1)) of the categorical NRI; empty for none.
    n_bootstrap : int, default=1000
        Resamples of the percentile intervals (0: none).
    random_state : int, default=0
        Seed of the resamples.

    Returns
    -------
    Reclassification
        Results, their table and what was skipped.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(1)
    >>> lp = rng.normal(size=90)
    >>> time = rng.exponential(20 * np.exp(-lp)) + 0.5
    >>> pred = pd.DataFrame({"cohort": ["development"] * 30 + ["external"] * 60, "time": np.minimum(time, 40),
    ...                      "event": time < 40, "old": 1 - np.exp(-0.5 * np.exp(0.3 * lp)),
    ...                      "new": 1 - np.exp(-0.5 * np.exp(lp))})
    >>> res = reclassify_models(pred, development="development", reference="old", models=["new"], t0=10.0,
    ...                         cutoffs=[0.2, 0.5], n_bootstrap=0)
    >>> res.table[["cohort", "kind", "t0", "method"]]
         cohort         kind    t0 method
    0  external   continuous  10.0     km
    1  external  categorical  10.0     km
    >>> bool(res.nri[("new", "external", "continuous")].nri > 0), bool(res.idi[("new", "external")].idi > 0)
    (True, True)
    """
    from multisurv.evaluation.reclassification import idi, idi_at, nri, nri_at

    survival = t0 is not None
    known = predictions if survival else predictions[predictions["outcome"].notna()]
    groups = evaluation_groups(known["cohort"], development)
    kinds = [("continuous", None)] + ([("categorical", tuple(float(c) for c in cutoffs))] if len(cutoffs) else [])
    boot = {"n_bootstrap": n_bootstrap, "random_state": random_state}
    nris, idis, rows, skipped = {}, {}, [], []
    for label, ids in groups.items():
        if label == development:
            continue
        for name in models:
            if name == reference:
                continue
            part = known.loc[ids]
            part = part[part[reference].notna() & part[name].notna()]
            old, new = part[reference].to_numpy(float), part[name].to_numpy(float)
            if len(part) < MIN_RECLASSIFIED:
                skipped.append(f"reclassification of {name} over {reference}, {label}: {len(part)} patients scored "
                               f"by both (at least {MIN_RECLASSIFIED} needed).")
                continue
            try:
                if survival:
                    y = make_y(part["time"].to_numpy(float), part["event"].to_numpy(bool))
                    found = [(kind, nri_at(y, old, new, t0, cutoffs=c, **boot)) for kind, c in kinds]
                    gain = idi_at(y, old, new, t0, **boot)
                else:
                    y = part["outcome"].to_numpy(float)
                    found = [(kind, nri(y, old, new, cutoffs=c, **boot)) for kind, c in kinds]
                    gain = idi(y, old, new, **boot)
            except ValueError as exc:  # e.g. no event by t0, or a single outcome class
                skipped.append(f"reclassification of {name} over {reference}, {label}: {exc}")
                continue
            idis[(name, label)] = gain
            for kind, res in found:
                nris[(name, label, kind)] = res
                rows.append({
                    "model": name, "reference": reference, "cohort": label, "kind": kind,
                    "cutoffs": ";".join(f"{c:g}" for c in res.cutoffs), "t0": np.nan if t0 is None else float(t0),
                    "n": res.n, "n_events": res.n_events, "nri": res.nri, "lower": res.lower, "upper": res.upper,
                    "se": res.standard_error, "p_value": res.p_value, "nri_events": res.nri_events,
                    "events_lower": res.events_lower, "events_upper": res.events_upper,
                    "nri_non_events": res.nri_non_events, "non_events_lower": res.non_events_lower,
                    "non_events_upper": res.non_events_upper, "idi": gain.idi, "idi_lower": gain.lower,
                    "idi_upper": gain.upper, "idi_se": gain.standard_error, "idi_p_value": gain.p_value,
                    "slope_reference": gain.slope_old, "slope_model": gain.slope_new, "method": res.method,
                    "n_bootstrap": res.n_bootstrap, "confidence": res.confidence})
    return Reclassification(reference=reference, t0=None if t0 is None else float(t0),
                            cutoffs=tuple(float(c) for c in cutoffs), nri=nris, idi=idis, table=pd.DataFrame(rows),
                            skipped=tuple(skipped))


def _reclassification_reference(reference: str | None, modalities: Sequence, models: Sequence[str]) -> str | None:
    """The reference model of ``validation.reclassification.reference``: "auto" -> the study's clinical modality's
    model (None without one), "none" or None -> None, else the named model, which must be one of ``models``."""
    if reference is None or reference == "none":
        return None
    if reference == "auto":
        clinical = next((m.name for m in modalities if m.kind == "clinical"), None)
        return clinical if clinical in models else None
    if reference not in models:
        raise ValueError(f"key 'validation.reclassification.reference': must be 'auto', 'none' or a model of the "
                         f"study ({', '.join(repr(m) for m in models)}); got {reference!r}. Name the model every "
                         "other model is compared with (the 'old' model, e.g. the clinical one).")
    return reference
