"""run_study(): cohort -> features -> scores -> fusion -> evaluation -> figures and report.

Everything fitted (clinical imputation and encoding, feature selection, Cox models, risk-group cut-offs) is
fitted on the development cohort only; the external cohort is touched only to be scored and evaluated.
Feature extraction itself fits nothing (each patient's features depend on that patient's files alone), so it
runs once for the whole cohort and is cached.
"""

from __future__ import annotations

import json
import logging
import platform
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from multisurv import __version__
from multisurv._atomic import write_csv_atomic, write_json_atomic
from multisurv.cohort.cohort import Cohort
from multisurv.report.report import MODEL_LABELS as _ALL_LABELS

__all__ = ["StudyResult", "run_study", "MODEL_LABELS"]

logger = logging.getLogger(__name__)

#: Models a study compares by default, in report order, with the label used in tables and figures.
MODEL_LABELS = {name: _ALL_LABELS[name] for name in ("radiomics", "pathomics", "clinical", "early_fusion",
                                                       "late_fusion")}


@dataclass(frozen=True)
class StudyResult:
    """What a study run produced.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per (model, cohort, subset): n, events, C-index and its bootstrap interval, cut-off, log-rank p.
        ``subset`` is ``available`` (every patient the model scores) or ``complete`` (only patients with all
        modalities, the same patients for every model).
    predictions : pandas.DataFrame
        Index patient_id; cohort, time, event and one risk column per model (higher = worse).
    internal : pandas.DataFrame or None
        Internal validation on the development cohort, one row per model (when requested).
    run_dir : Path
        The folder holding metrics.csv, predictions.csv, figures/, failures.csv and report.md.
    """

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    run_dir: Path
    internal: pd.DataFrame | None = None


#: Column added to the feature table when harmonising: each patient's centre (the manifest's ``cohort``).
CENTRE_COLUMN = "_centre"
_HARMONISATION_NOTE = ("ComBat on the radiomics and pathomics features, fitted on the development cohort with each "
                       "model; an external centre's location and scale are estimated from its own imaging features "
                       "(not outcomes) when it is scored.")


def _harmonised(model, options: Mapping[str, object]):
    """``Pipeline([ComBat on the imaging features, model])``."""
    from sklearn.pipeline import Pipeline

    from multisurv.selection.harmonisation import ComBatHarmoniser

    combat = ComBatHarmoniser(batch=CENTRE_COLUMN, prefixes=("ct__", "wsi__"), unseen="estimate", **dict(options))
    return Pipeline([("combat", combat), ("model", model)])


def _final(model):
    """The model itself when it sits at the end of a Pipeline (e.g. after ComBat)."""
    from sklearn.pipeline import Pipeline

    return model[-1] if isinstance(model, Pipeline) else model


def _build_models(random_state: int, cv: int):
    from multisurv.fusion.early import EarlyFusionCox
    from multisurv.fusion.late import LateFusionCox
    from multisurv.scores.modality_score import ModalityScore
    from multisurv.selection.lasso_cox import LassoCoxSelector

    def score(name, prefix):
        return ModalityScore(name=name, prefix=prefix,
                             selector=LassoCoxSelector(cv=cv, random_state=random_state), random_state=random_state)

    scores = [score("radscore", "ct__"), score("patscore", "wsi__"), score("clinscore", "clin__")]
    return {
        "radiomics": scores[0],
        "pathomics": scores[1],
        "clinical": scores[2],
        "early_fusion": EarlyFusionCox(scores=scores),
        "late_fusion": LateFusionCox(scores=scores, cv=cv, random_state=random_state),
    }


def extract_features(cohort: Cohort, feature_dir: Path, *, weights=None, n_workers: int = 2, progress: bool = True,
                     radiomics_params=None, pathomics_options: Mapping[str, object] | None = None):
    """Run the radiomics and pathomics branches for every patient (cached in ``feature_dir``).

    ``radiomics_params`` (name, path or mapping; None: ``radiomics_ct``) goes to ``extract_radiomics``;
    ``pathomics_options`` (e.g. ``encoder``, ``tile_size``, ``max_tiles``) are keyword arguments of
    ``extract_pathomics``.

    Returns ``(imaging_features, failures)``: a DataFrame indexed by patient_id with ``ct__*`` and ``wsi__*``
    columns (NaN where a modality is missing or failed), and the failures table of both branches.
    """
    from multisurv.features.radiomics import extract_radiomics
    from multisurv.features.wsi.pathomics import extract_pathomics

    logger.info("Radiomics: %d patients with CT.", int(cohort.has_ct.sum()))
    rad = extract_radiomics(cohort, out_dir=feature_dir, params=radiomics_params, n_workers=n_workers,
                            progress=progress)
    logger.info("Pathomics: %d patients with a slide.", int(cohort.has_wsi.sum()))
    path = extract_pathomics(cohort, out_dir=feature_dir, weights=weights, progress=progress,
                             **dict(pathomics_options or {}))
    features = pd.concat([rad.features, path.features], axis=1).reindex(cohort.ids)
    features.index.name = "patient_id"
    failures = pd.concat([rad.failures, path.failures], ignore_index=True)
    return features, failures


def _evaluate(name, risk: pd.Series, cohort: Cohort, cutoff: float, figures_dir: Path | None, *, n_bootstrap,
              random_state, subset: str = "available"):
    from multisurv.evaluation.concordance import concordance
    from multisurv.evaluation.groups import logrank, risk_groups
    from multisurv.plotting.export import save_figure
    from multisurv.plotting.km import plot_km

    import matplotlib.pyplot as plt

    label = cohort.table["cohort"].iloc[0] if len(cohort) else "empty"
    available = risk.notna().to_numpy()
    y = cohort.y[available]
    r = risk.to_numpy(float)[available]
    row = {"model": name, "cohort": label, "subset": subset, "n": int(available.sum()),
           "events": int(y["event"].sum())}
    if row["n"] < 2 or row["events"] == 0:
        logger.warning("Model %r on cohort %r: %d patients, %d events; not evaluated.", name, label, row["n"],
                       row["events"])
        return row
    c = concordance(y, r, n_bootstrap=n_bootstrap, random_state=random_state)
    row.update(cindex=c.cindex, ci_lower=c.lower, ci_upper=c.upper)
    groups = risk_groups(r, cutoff=cutoff)
    row.update(cutoff=cutoff, n_high=int((groups == "high").sum()), n_low=int((groups == "low").sum()))
    if len(set(groups)) > 1:
        try:
            lr = logrank(y, groups)
        except ValueError as err:  # e.g. one group censored before the first event: nothing to compare
            logger.warning("Model %r on cohort %r: no log-rank test or KM figure at cut-off %.4g: %s", name, label,
                           cutoff, err)
            return row
        row.update(logrank_chisq=lr.statistic, logrank_p=lr.p_value)
        if figures_dir is None:
            return row
        fig, ax = plt.subplots(figsize=(6.0, 5.0))
        plot_km(y, groups, ax=ax, labels={"low": "Low risk", "high": "High risk"},
                title=f"{_ALL_LABELS.get(name, name)}: {label} cohort")
        save_figure(fig, figures_dir / f"km_{name}_{label}", formats=("png", "pdf"), dpi=300)
        plt.close(fig)
    else:
        logger.warning("Model %r on cohort %r: every patient falls in one risk group at cut-off %.4g; "
                       "no log-rank test or KM figure.", name, label, cutoff)
    return row


@contextmanager
def _collect_warnings(notes: list[str], stage: str):
    """Record the warnings a stage raises: logged once each and listed in the report, not sprayed on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        if issubclass(w.category, DeprecationWarning):  # libraries' housekeeping, not about the user's study
            continue
        text = f"{stage}: {w.category.__name__}: {w.message}"
        if text not in seen:
            seen.add(text)
            notes.append(text)
            logger.warning(text)


def run_study(
    cohort: Cohort,
    run_dir: str | Path,
    *,
    development: str = "development",
    feature_dir: str | Path | None = None,
    weights: str | Path | None = None,
    n_workers: int = 2,
    cv: int = 5,
    n_bootstrap: int = 1000,
    random_state: int = 0,
    truth: pd.DataFrame | None = None,
    progress: bool = True,
    extra_report: Mapping[str, object] | None = None,
    radiomics_params=None,
    pathomics_options: Mapping[str, object] | None = None,
    models: Mapping[str, object] | None = None,
    figure_options: Mapping[str, object] | None = None,
    internal_validation: Mapping[str, object] | None = None,
    harmonisation: Mapping[str, object] | None = None,
) -> StudyResult:
    """Run the whole study on a cohort and write its outputs into ``run_dir``.

    Parameters
    ----------
    cohort : Cohort
        The validated cohort (see :func:`multisurv.load_manifest`).
    run_dir : path
        Output folder: ``metrics.csv``, ``predictions.csv``, ``failures.csv``, ``figures/``, ``report.md``.
    development : str
        Cohort label whose patients are used for fitting; every other label is external validation.
    feature_dir : path, optional
        Feature cache (default ``run_dir / "features"``); a rerun reuses every cached patient.
    weights : path, optional
        Local ResNet50 weights (state_dict) for the pathomics encoder; None means random initialisation
        (a warning says features are then not pretrained).
    n_workers : int
        Processes for radiomics extraction.
    cv : int
        Folds for the LASSO penalty and for the out-of-fold scores of late fusion.
    n_bootstrap : int
        Bootstrap resamples for the C-index confidence intervals.
    random_state : int
        Seed for every random step.
    truth : DataFrame, optional
        Index patient_id with column ``true_lp`` (synthetic cohorts): its C-index is reported as the ceiling.
    radiomics_params, pathomics_options : optional
        Branch settings passed to :func:`extract_features` (PyRadiomics params; ``extract_pathomics`` keywords).
    models : mapping, optional
        Unfitted estimators by name, replacing the default LASSO-Cox models; it must hold ``"late_fusion"``
        (a :class:`~multisurv.fusion.late.LateFusionCox`), whose formula and scores the report shows.
    figure_options : mapping, optional
        Keywords of :func:`~multisurv.report.figures.write_evaluation_figures`: ``primary``, ``t0``,
        ``roc_times``, ``cutoff_methods``, ``fixed_cutoff``.
    internal_validation : mapping, optional
        Keywords of :func:`~multisurv.evaluation.internal.validate_models` (``method``, ``n_resamples``,
        ``n_splits``, ``n_repeats``): every model is also validated on the development cohort by bootstrap or
        CV, its clinical encoding refitted in each resample; written to ``tables/internal_validation.csv``.
    harmonisation : mapping, optional
        Put ComBat harmonisation of the imaging features (``ct__``, ``wsi__``) across centres (the manifest's
        ``cohort`` column) in front of every model; the mapping holds keywords of
        :class:`~multisurv.selection.harmonisation.ComBatHarmoniser` (e.g. ``empirical_bayes``). It is fitted
        with each model on development patients; an external centre's location and scale are estimated from
        its own imaging features when it is scored (never from outcomes).

    Returns
    -------
    StudyResult

    Notes
    -----
    Patients missing a modality (or whose extraction failed) are handled so: a single-modality model is fitted
    and evaluated only on patients who have that modality (``n`` in metrics.csv says how many); both fusions
    score every patient. Late fusion replaces a missing modality score by its development mean (the modality
    then adds no information); early fusion replaces missing features by their development medians.
    """
    from multisurv.features.clinical import ClinicalPreprocessor
    from multisurv.report.figures import write_evaluation_figures
    from multisurv.report.report import write_report

    started = time.perf_counter()
    run_dir = Path(run_dir)
    figures_dir = run_dir / "figures"
    feature_dir = Path(feature_dir) if feature_dir is not None else run_dir / "features"
    run_dir.mkdir(parents=True, exist_ok=True)
    dev, ext = cohort.split(development)
    logger.info("Development: %d patients; external: %d patients.", len(dev), len(ext))

    notes: list[str] = []
    with _collect_warnings(notes, "feature extraction"):
        imaging, failures = extract_features(cohort, feature_dir, weights=weights, n_workers=n_workers,
                                             progress=progress, radiomics_params=radiomics_params,
                                             pathomics_options=pathomics_options)
    write_csv_atomic(run_dir / "failures.csv", failures, index=False)
    if len(failures):
        logger.warning("%d feature extraction(s) failed; see %s", len(failures), run_dir / "failures.csv")

    clinical = ClinicalPreprocessor.from_spec(cohort.clinical_spec).fit(dev.clinical)
    X = pd.concat([imaging, clinical.transform(cohort.clinical)], axis=1).loc[cohort.ids]
    if harmonisation is not None:  # the centre of each patient, read by the ComBat step of every model
        X[CENTRE_COLUMN] = cohort.table.loc[cohort.ids, "cohort"].astype(str)
    X_dev, X_ext = X.loc[dev.ids], X.loc[ext.ids]

    models = _build_models(random_state, cv) if models is None else dict(models)
    if harmonisation is not None:
        models = {name: _harmonised(model, harmonisation) for name, model in models.items()}
        extra_report = {**dict(extra_report or {}), "Harmonisation": _HARMONISATION_NOTE}
    predictions = cohort.table.loc[:, ["cohort", "time", "event"]].copy()
    rows = []
    cutoffs: dict[str, float] = {}
    for name, model in models.items():
        logger.info("Fitting %s on the development cohort.", name)
        with _collect_warnings(notes, name):
            model.fit(X_dev, dev.y)
        risk = pd.Series(model.predict(X), index=X.index, dtype=float)
        predictions[name] = risk
        cutoff = float(np.nanmedian(risk.loc[dev.ids]))  # fitted on development, applied unchanged to external
        cutoffs[name] = cutoff
        with _collect_warnings(notes, f"{name} evaluation"):
            for part in (dev, ext):
                if len(part):
                    rows.append(_evaluate(name, risk.loc[part.ids], part, cutoff, figures_dir,
                                          n_bootstrap=n_bootstrap, random_state=random_state))
    if truth is not None:
        true_lp = truth["true_lp"].reindex(cohort.ids)
        predictions["true_lp"] = true_lp
        cutoff = float(np.nanmedian(true_lp.loc[dev.ids]))
        cutoffs["true_lp"] = cutoff
        with _collect_warnings(notes, "true_lp evaluation"):
            for part in (dev, ext):
                if len(part):
                    rows.append(_evaluate("true_lp", true_lp.loc[part.ids], part, cutoff, figures_dir,
                                          n_bootstrap=n_bootstrap, random_state=random_state))
    # Like-for-like comparison: every model on the same patients, those with all modalities.
    # (a failed extraction counts as missing, as it does in the models)
    complete = imaging.filter(regex="^ct__").notna().any(axis=1) & imaging.filter(regex="^wsi__").notna().any(axis=1)
    for name in [m for m in (*models, "true_lp") if m in predictions]:
        with _collect_warnings(notes, f"{name} evaluation, complete cases"):
            for part in (dev, ext):
                ids = [i for i in part.ids if complete.loc[i]]
                if ids:
                    rows.append(_evaluate(name, predictions.loc[ids, name], part.subset(ids), cutoffs[name], None,
                                          n_bootstrap=n_bootstrap, random_state=random_state, subset="complete"))
    metrics = pd.DataFrame(rows)
    write_csv_atomic(run_dir / "metrics.csv", metrics, index=False, float_format="%.6g")
    internal = None
    if internal_validation:
        from multisurv.evaluation.internal import validate_models

        raw_dev = pd.concat([imaging.loc[dev.ids], dev.clinical], axis=1)
        if harmonisation is not None:
            raw_dev[CENTRE_COLUMN] = X_dev[CENTRE_COLUMN]
        with _collect_warnings(notes, "internal validation"):
            internal = validate_models(models, raw_dev, dev.y, clinical=ClinicalPreprocessor.from_spec(
                cohort.clinical_spec), clinical_columns=list(dev.clinical.columns), random_state=random_state,
                progress=progress, **dict(internal_validation))
        write_csv_atomic(run_dir / "tables" / "internal_validation.csv", internal, index=False, float_format="%.6g")
    write_csv_atomic(run_dir / "predictions.csv", predictions, float_format="%.8g")
    fitted = {name: _final(m) for name, m in models.items()}  # the models without their ComBat step
    formulas = {name: m.formula_ for name, m in fitted.items() if hasattr(m, "formula_")}
    late = fitted["late_fusion"]
    fusion_formula = pd.DataFrame({"term": late.coef_.index, "coef": late.coef_.to_numpy()})
    write_csv_atomic(run_dir / "tables" / "late_fusion_formula.csv", fusion_formula, index=False, float_format="%.6g")
    for name, formula in formulas.items():
        write_csv_atomic(run_dir / "tables" / f"{name}_formula.csv", formula, index=False, float_format="%.6g")
    for name, model in fitted.items():  # the other fusions' coefficients (early: per standardised feature)
        coef = getattr(model, "coef_", None) if name not in formulas and name != "late_fusion" else None
        if isinstance(coef, pd.Series):
            write_csv_atomic(run_dir / "tables" / f"{name}_formula.csv",
                             pd.DataFrame({"term": coef.index, "coef": coef.to_numpy()}), index=False,
                             float_format="%.6g")
    write_json_atomic(run_dir / "versions.json", _versions())
    fusion_scores = late.oof_scores_.join(dev.table.loc[:, ["time", "event"]])
    with _collect_warnings(notes, "evaluation figures"):
        evaluation = write_evaluation_figures(
            run_dir, predictions, development=development, models=[m for m in (*models, "true_lp") if m in predictions],
            labels={**_ALL_LABELS, "true_lp": "True linear predictor"}, metrics=metrics,
            complete_ids=[i for i in cohort.ids if complete.loc[i]], fusion_scores=fusion_scores,
            random_state=random_state, **dict(figure_options or {}))
    elapsed = time.perf_counter() - started
    write_report(run_dir, cohort=cohort, metrics=metrics, failures=failures, formulas=formulas,
                 fusion_formula=fusion_formula, elapsed=elapsed, extra=dict(extra_report or {}), notes=notes,
                 evaluation=evaluation, internal=internal)
    logger.info("Study finished in %.0f s; report: %s", elapsed, run_dir / "report.md")
    return StudyResult(metrics=metrics, predictions=predictions, run_dir=run_dir, internal=internal)


def _versions() -> dict:
    from importlib import metadata

    out = {"multisurv": __version__, "python": platform.python_version()}
    for dist in ("numpy", "pandas", "scikit-learn", "scikit-survival", "lifelines", "pyradiomics-bhklab", "torch",
                 "torchvision", "openslide-python", "openslide-bin"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return json.loads(json.dumps(out))
