"""run_study(): the whole study from one config: cohort -> features -> models -> evaluation -> report.

Everything fitted (clinical imputation and encoding, feature selection, Cox models, risk-group cut-offs) is
fitted on the development cohort only; every other cohort is touched only to be scored and evaluated.
Feature extraction itself fits nothing (each patient's features depend on that patient's files alone), so it
runs once for the whole cohort and is cached. The CLI only parses arguments and calls :func:`run_study`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from multisurv import __version__
from multisurv._atomic import write_csv_atomic, write_json_atomic, write_text_atomic
from multisurv.cohort.cohort import Cohort
from multisurv.registry import (BUILTIN_MODALITIES, MODALITY_KINDS, TRUE_LP, Modality, image_mask_pairs,
                                load_object, model_labels, path_columns, with_options)
from multisurv.study._saving import mil_scores as _mil_scores, save_fitted_model as _save_fitted_model
from multisurv.study.models import uses_abmil

__all__ = ["StudyResult", "run_study", "fit_study", "fit_and_evaluate", "extract_features", "manifest_options",
           "MODEL_LABELS", "CENTRE_COLUMN"]

logger = logging.getLogger(__name__)

#: Models the reference design compares, in report order, with the label used in tables and figures.
MODEL_LABELS = {k: v for k, v in model_labels(strategies=("early", "late")).items() if k != TRUE_LP}
#: Column added to the feature table when harmonising: each patient's centre (the manifest's ``cohort``).
CENTRE_COLUMN = "_centre"
#: Modality kinds whose features ComBat harmonises across centres (scanner and stain effects).
_HARMONISED_KINDS = ("radiomics", "pathomics")


@dataclass(frozen=True)
class StudyResult:
    """What a study run produced (returned by :func:`run_study`, :func:`fit_study` and :func:`fit_and_evaluate`).

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per (model, cohort, subset): n, events, C-index and its bootstrap interval, cut-off, log-rank p.
        ``cohort`` is the development label, each other label, and ``external (all)`` when there are several;
        ``subset`` is ``available`` (every patient the model scores) or ``complete`` (only patients with all
        modalities, the same patients for every model).
    predictions : pandas.DataFrame
        Index patient_id; cohort, time, event and one risk column per model (higher = worse).
    run_dir : Path
        The folder holding metrics.csv, predictions.csv, figures/, failures.csv, report.md and model/.
    internal : pandas.DataFrame or None, default=None
        Internal validation on the development cohort, one row per model (when requested).
    reclassification : Reclassification or None, default=None
        NRI and IDI at the figures' horizon of every other model over the reference model on each external cohort
        (:class:`~multisurv.study.evaluate.Reclassification`; its table is ``tables/reclassification.csv``).

    Examples
    --------
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> result = StudyResult(metrics=pd.DataFrame({"model": ["late_fusion"], "c_index": [0.71]}),
    ...                      predictions=pd.DataFrame(), run_dir=Path("runs/demo"))
    >>> float(result.metrics.loc[0, "c_index"]), result.internal is None
    (0.71, True)
    """

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    run_dir: Path
    internal: pd.DataFrame | None = None
    reclassification: object = None


# ---------------------------------------------------------------------------------------------- features
def extract_features(cohort: Cohort, feature_dir: Path, *, modalities: Sequence[Modality] | None = None,
                     weights=None, n_workers: int | None = None, progress: bool = True, radiomics_params=None,
                     pathomics_options: Mapping[str, object] | None = None):
    """Extract every modality that is extracted (all kinds but clinical) for every patient, cached in ``feature_dir``.

    Extraction fits nothing (a patient's features depend on that patient's files alone), so it runs once for the
    whole cohort; a rerun with the same settings reuses every cached patient.

    Parameters
    ----------
    cohort : Cohort
        The validated cohort (see :func:`multisurv.load_manifest`); every patient in it is extracted.
    feature_dir : Path
        Root of the feature cache; each modality writes a folder named after its settings below it.
    modalities : sequence of Modality, optional
        Modalities to extract; kinds without an extractor (clinical) are skipped. Default: the built-in
        radiomics and pathomics modalities.
    weights : str or Path, optional
        Local weights of the pathomics encoder, given to every pathomics modality (its own ``weights`` option,
        through ``pathomics_options``, wins).
    n_workers : int, optional
        Worker processes passed to each modality's extractor (None: the extractor's default).
    progress : bool, default=True
        Show progress bars.
    radiomics_params : str, Path or mapping, optional
        PyRadiomics parameters that replace the ``params`` option of every radiomics modality.
    pathomics_options : mapping, optional
        ``extract_pathomics`` keywords added to the options of every pathomics modality.

    Returns
    -------
    features : pandas.DataFrame
        Indexed by patient_id (every patient of ``cohort``, in its order), with each modality's prefixed columns;
        NaN where a modality is missing or failed.
    failures : pandas.DataFrame
        The failures of every modality (``patient_id``, ``path``, ``stage``, ``error_type``, ``message`` and
        ``modality``); empty when nothing failed.

    See Also
    --------
    fit_and_evaluate : Extraction followed by fitting, evaluation and the report.

    Examples
    --------
    >>> from multisurv.cohort.manifest import load_manifest
    >>> cohort = load_manifest("cohort/manifest.csv")  # doctest: +SKIP
    >>> features, failures = extract_features(cohort, Path("features"))  # doctest: +SKIP
    >>> features.filter(like="ct__").shape  # doctest: +SKIP
    (300, 107)
    """
    features, failures, _ = _extract_features(cohort, feature_dir, modalities=modalities, weights=weights,
                                              n_workers=n_workers, progress=progress,
                                              radiomics_params=radiomics_params, pathomics_options=pathomics_options)
    return features, failures


def _extract_features(cohort: Cohort, feature_dir: Path, *, modalities: Sequence[Modality] | None = None,
                      weights=None, n_workers: int | None = None, progress: bool = True, radiomics_params=None,
                      pathomics_options: Mapping[str, object] | None = None):
    """:func:`extract_features`, and the folder of per-slide patch files (tile stores) of each pathomics modality."""
    patch_folders: dict[str, Path] = {}
    if modalities is None:
        modalities = [BUILTIN_MODALITIES["radiomics"], BUILTIN_MODALITIES["pathomics"]]
    parts, failures = [], []
    for m in modalities:
        kind = MODALITY_KINDS[m.kind]
        if kind.extractor is None:
            continue
        if m.kind == "radiomics" and radiomics_params is not None:
            m = with_options(m, params=radiomics_params)
        if m.kind == "pathomics":
            m = with_options(m, **{"weights": weights, **dict(pathomics_options or {})})
        result = load_object(kind.extractor)(m, cohort, feature_dir=feature_dir, progress=progress,
                                             n_workers=n_workers)
        parts.append(result.features)
        if m.kind == "pathomics":
            patch_folders[m.name] = Path(result.store_dir) / "patches"
        if len(result.failures):
            failures.append(result.failures.assign(modality=m.name) if "modality" not in result.failures else
                            result.failures)
    features = pd.concat(parts, axis=1).reindex(cohort.ids) if parts else pd.DataFrame(index=cohort.ids)
    features.index.name = "patient_id"
    columns = ["patient_id", "path", "stage", "error_type", "message"]
    failures = pd.concat(failures, ignore_index=True) if failures else pd.DataFrame(columns=columns)
    return features, failures, patch_folders


# ---------------------------------------------------------------------------------------------- helpers
def _harmonised(model, options: Mapping[str, object], prefixes: Sequence[str]):
    """``Pipeline([ComBat on the imaging features, model])``."""
    from sklearn.pipeline import Pipeline

    from multisurv.features.harmonisation import ComBatHarmoniser

    combat = ComBatHarmoniser(batch=CENTRE_COLUMN, prefixes=tuple(prefixes), unseen="estimate", **dict(options))
    return Pipeline([("combat", combat), ("model", model)])


def _final(model):
    """The model itself when it sits at the end of a Pipeline (e.g. after ComBat)."""
    from sklearn.pipeline import Pipeline

    return model[-1] if isinstance(model, Pipeline) else model


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


def _default_models(modalities: Sequence[Modality], random_state: int, cv: int) -> dict:
    from multisurv.study.config import FusionConfig, SelectionConfig
    from multisurv.study.models import build_scores

    from multisurv.fusion import builders

    scores = build_scores(modalities, SelectionConfig(cv=cv), random_state)
    features = (build_scores(modalities, SelectionConfig(cv=cv), random_state, mil=False)  # early fuses features
                if any(uses_abmil(m) for m in modalities) else scores)
    fusion = FusionConfig(cv=cv)
    options = {"cv": fusion.cv, "missing": fusion.missing, "penalizer": fusion.penalizer}
    return {**{m.name: s for m, s in zip(modalities, scores)},
            "early_fusion": builders.early(features, options, random_state),
            "late_fusion": builders.late(scores, options, random_state)}


def _write_formulas(run_dir: Path, fitted: Mapping[str, object]) -> tuple[dict, pd.DataFrame]:
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
    return formulas, fusion_formula


def _robustness_rows(run_dir: Path, reproducibility: Mapping[str, tuple], fitted: Mapping[str, object]) -> list:
    """Write each robust modality's ICC tables and figure; return what the report says of it."""
    from multisurv.report.figures import write_icc_figure

    rows = []
    for name, (res, settings) in reproducibility.items():
        res.write(run_dir / "tables", stem=f"{name}_reproducibility", method=settings["method"],
                  icc_min=settings["icc_min"])
        figure = write_icc_figure(run_dir, name, res.icc, method=settings["method"], icc_min=settings["icc_min"])
        from multisurv.features.reproducibility import icc_summary

        bands = icc_summary(res.icc, method=settings["method"], icc_min=settings["icc_min"])
        score = fitted.get(name)
        steps = getattr(getattr(score, "selector_", None), "named_steps", {})
        robust = steps.get("robustness")
        rows.append({"modality": name, "source": settings.get("source", ""),
                     "method": settings["method"], "icc_min": settings["icc_min"],
                     "candidates": getattr(robust, "n_candidates_", None), "robust": getattr(robust, "n_kept_", None),
                     "selected": len(getattr(score, "selected_features_", [])), "figure": figure,
                     "tables": f"tables/{name}_reproducibility_icc.csv", "bands": bands,
                     "median_seconds": (float(res.cost["total_seconds"].median()) if "total_seconds" in res.cost
                                        else None)})
    return rows


def _with_patches(models: Mapping[str, object], mil_modalities: Sequence[Modality],
                  patch_folders: Mapping[str, Path], dev_ids) -> dict:
    """A copy of ``models`` whose attention-MIL scores read the patch files extraction wrote (``patches=None``
    is set to the modality's ``patches/`` folder); raises when the development slides have no tile stores."""
    import copy

    from multisurv.scores.mil import patch_file_for

    models = copy.deepcopy(dict(models))  # the caller's estimators stay as given; shared scores stay shared
    by_score = {}
    for m in mil_modalities:
        folder = patch_folders.get(m.name)
        found = 0 if folder is None else sum(patch_file_for(folder, pid).exists() for pid in dev_ids)
        if found < 4:
            raise ValueError(
                f"Modality {m.name!r} has 'pooling: abmil', which trains on the per-slide tile stores (HDF5 patch "
                f"files) that pathomics extraction writes, but {found} of {len(dev_ids)} development patients have "
                f"one in {str(folder) if folder is not None else '(no pathomics extraction ran)'} (at least 4 "
                "needed). Check that the manifest's slide column is filled for the development cohort and that "
                "extraction succeeded (failures.csv), or use 'pooling: mean'.")
        by_score[m.score] = folder
    for score in _mil_scores(models):
        if score.patches is None and score.name in by_score:
            score.set_params(patches=str(by_score[score.name]))
    return models


def _attention_outputs(run_dir: Path, mil_modalities: Sequence[Modality], fitted: Mapping[str, object],
                       predictions: pd.DataFrame, development: str, fit_seconds: Mapping[str, float]) -> dict:
    """Attention maps of each attention-MIL score (computed here), their table, and their figures (drawn by
    the report); returns what the report's attention section needs."""
    from multisurv.report.attention import write_attention_figures
    from multisurv.study.attention import attention_maps, attention_table

    maps, models = [], []
    for m in mil_modalities:
        score = fitted[m.name]
        found = attention_maps(score, m.name, predictions, development=development)
        table = f"tables/{m.name}_attention.csv"
        write_csv_atomic(run_dir / table, attention_table(found), index=False, float_format="%.8g")
        maps += found
        models.append({"modality": m.name, "score": m.score, "n_train": score.n_train_,
                       "best_epoch": score.best_epoch_, "loss": score.loss, "epochs": score.epochs, "table": table,
                       "seconds": fit_seconds.get(m.name)})
    rows, skipped = write_attention_figures(run_dir, maps)
    return {"rows": rows, "models": models, "skipped": skipped}


def _availability(cohort: Cohort, features: pd.DataFrame, modalities: Sequence[Modality]) -> dict[str, pd.Series]:
    """Who has each (non-clinical) modality: its manifest paths filled in, or (table) a row of features.

    The built-in imaging modalities keep their short names in the cohort table (``ct``, ``wsi``)."""
    short = {"radiomics": "ct", "pathomics": "wsi"}
    out = {}
    for m in modalities:
        if m.kind == "clinical":
            continue
        name = short.get(m.name, m.name) if m.name in BUILTIN_MODALITIES else m.name
        if m.columns:
            out[name] = cohort.has(list(m.columns.values()))
        else:
            cols = [c for c in features.columns if str(c).startswith(m.prefix)]
            out[name] = features[cols].notna().any(axis=1) if cols else pd.Series(False, index=cohort.table.index)
    return out


# ---------------------------------------------------------------------------------------------- the core
def fit_and_evaluate(
    cohort: Cohort,
    run_dir: str | Path,
    *,
    modalities: Sequence[Modality] | None = None,
    development: str = "development",
    feature_dir: str | Path | None = None,
    weights: str | Path | None = None,
    n_workers: int | None = None,
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
    config: Mapping | None = None,
    reproducibility: Mapping[str, tuple] | None = None,
    evaluate: bool = True,
    reclassification: Mapping[str, object] | None = None,
) -> StudyResult:
    """Extract, fit on development, score every cohort, evaluate, draw and report (the core of :func:`run_study`).

    Parameters
    ----------
    cohort : Cohort
        The validated cohort (see :func:`multisurv.load_manifest`).
    run_dir : path
        Output folder: ``metrics.csv``, ``predictions.csv``, ``failures.csv``, ``figures/``, ``report.md``,
        ``model/``.
    modalities : sequence of Modality, optional
        The study's modalities (default: the built-in radiomics, pathomics and clinical).
    development : str
        Cohort label whose patients are used for fitting; every other label is external validation (each on its
        own, and pooled when there are several).
    feature_dir : path, optional
        Feature cache (default ``run_dir / "features"``); a rerun reuses every cached patient.
    weights : path, optional
        Local weights of the pathomics encoder; None means random initialisation (a warning says so).
    n_workers : int, optional
        Processes for radiomics extraction (default: each modality's ``workers`` option, else 2).
    cv : int
        Folds of the default models' LASSO penalty and late-fusion out-of-fold scores (when ``models`` is None).
    n_bootstrap : int
        Bootstrap resamples for the C-index confidence intervals.
    random_state : int
        Seed for every random step.
    truth : DataFrame, optional
        Index patient_id with column ``true_lp`` (synthetic cohorts): its C-index is reported as the ceiling.
    progress : bool, default=True
        Show progress bars.
    extra_report : mapping, optional
        Extra ``label: value`` lines for the head of the report (the config path, the study's name, ...).
    radiomics_params, pathomics_options : optional
        Settings of the built-in imaging modalities (PyRadiomics params; ``extract_pathomics`` keywords).
    models : mapping, optional
        Unfitted estimators by name (see :func:`multisurv.study.models.build_models`); it must hold
        ``"late_fusion"``, whose formula and scores the report shows.
    figure_options : mapping, optional
        ``primary``, ``t0``, ``roc_times``, ``cutoff_methods``, ``fixed_cutoff`` of the evaluation figures.
    internal_validation : mapping, optional
        ``method``, ``n_resamples``, ``n_splits``, ``n_repeats`` of
        :func:`~multisurv.study.internal.validate_models` (every step refitted in each resample).
    harmonisation : mapping, optional
        ComBat of the radiomics and pathomics features across centres in front of every model (keywords of
        :class:`~multisurv.features.harmonisation.ComBatHarmoniser`); fitted on development patients with each
        model, an external centre's location and scale estimated from its own features (never outcomes).
    config : mapping, optional
        The resolved study config, saved with the fitted model.
    reproducibility : mapping, optional
        Modality name -> (ReproducibilityResult, robustness settings) of the modalities whose score starts with a
        robustness filter: their ICC tables and figure, and how many features survived each step, are reported.
    evaluate : bool, default=True
        False fits only the primary model (``figure_options["primary"]``, default late fusion) on development and
        saves it to ``run_dir/model`` (what :func:`fit_study` and ``multisurv fit STUDY.yaml`` do): no metrics,
        figures or report.
    reclassification : mapping, optional
        ``reference`` ("auto": the clinical modality's model when the study has one; "none"; or a model name) and
        ``cutoffs`` (risk categories of the categorical NRI) of the reclassification: NRI and IDI at the figures'
        horizon of every other model over the reference, on each external cohort, with ``n_bootstrap`` resamples
        (``tables/reclassification.csv`` and a report section). Default ``{"reference": "auto"}``.

    Returns
    -------
    StudyResult
        The metrics and predictions tables, the run folder, (when requested) the internal validation, and the
        reclassification.

    Raises
    ------
    NotADirectoryError
        When ``run_dir`` is an existing file.
    ValueError
        When a modality has ``pooling: abmil`` but fewer than 4 development patients have a tile store, or the
        reclassification's reference is not one of ``models``.

    Notes
    -----
    A single-modality model is fitted and evaluated only on patients who have that modality (``n`` in metrics.csv
    says how many); every fusion scores every patient. Late fusion replaces a missing modality score by its
    development mean (the modality then adds no information); early fusion replaces missing features by their
    development medians.

    Examples
    --------
    >>> from multisurv.cohort.synthetic import make_synthetic_cohort
    >>> from multisurv.cohort.manifest import load_manifest
    >>> cohort = load_manifest(make_synthetic_cohort("demo/cohort"))  # doctest: +SKIP
    >>> result = fit_and_evaluate(cohort, "runs/demo", n_bootstrap=200)  # doctest: +SKIP
    >>> result.metrics[["model", "cohort", "c_index"]]  # doctest: +SKIP
    """
    from multisurv.features.clinical import ClinicalPreprocessor
    from multisurv.report.figures import write_evaluation_figures, write_km_figures
    from multisurv.report.report import write_report
    from multisurv.study.assessment import assess_study
    from multisurv.study.evaluate import _reclassification_reference, compare_models, complete_cases, evaluate_study

    started = time.perf_counter()
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise NotADirectoryError(f"Output folder {str(run_dir)!r} is a file. Choose another output folder.")
    feature_dir = Path(feature_dir) if feature_dir is not None else run_dir / "features"
    run_dir.mkdir(parents=True, exist_ok=True)
    modalities = list(modalities) if modalities is not None else list(BUILTIN_MODALITIES.values())
    dev, ext = cohort.split(development)
    logger.info("Development: %d patients; external: %d patients.", len(dev), len(ext))

    notes: list[str] = []
    with _collect_warnings(notes, "feature extraction"):
        features, failures, patch_folders = _extract_features(
            cohort, feature_dir, modalities=modalities, weights=weights, n_workers=n_workers, progress=progress,
            radiomics_params=radiomics_params, pathomics_options=pathomics_options)
    write_csv_atomic(run_dir / "failures.csv", failures, index=False)
    if len(failures):
        logger.warning("%d feature extraction(s) failed; see %s", len(failures), run_dir / "failures.csv")

    has_clinical = any(m.kind == "clinical" for m in modalities)
    clinical = ClinicalPreprocessor.from_spec(cohort.clinical_spec).fit(dev.clinical) if has_clinical else None
    parts = [features] + ([clinical.transform(cohort.clinical)] if clinical is not None else [])
    X = pd.concat(parts, axis=1).loc[cohort.ids]
    imaging = [m for m in modalities if m.kind in _HARMONISED_KINDS]
    imaging_prefixes = [m.prefix for m in imaging]
    if harmonisation is not None:  # the centre of each patient, read by the ComBat step of every model
        X[CENTRE_COLUMN] = cohort.table.loc[cohort.ids, "cohort"].astype(str)
    X_dev = X.loc[dev.ids]

    models = _default_models(modalities, random_state, cv) if models is None else dict(models)
    mil_modalities = [m for m in modalities if uses_abmil(m)]
    if mil_modalities:
        models = _with_patches(models, mil_modalities, patch_folders, dev.ids)
    if harmonisation is not None:
        models = {name: _harmonised(model, harmonisation, imaging_prefixes) for name, model in models.items()}
        extra_report = {**dict(extra_report or {}), "Harmonisation": (
            "ComBat on the " + " and ".join(m.name for m in imaging) + " features ("
            + ", ".join(f"'{p}'" for p in imaging_prefixes) + "), fitted on the "
            "development cohort with each model; an external centre's location and scale are estimated from its "
            "own imaging features (not outcomes) when it is scored.")}
    primary = dict(figure_options or {}).get("primary", "late_fusion")
    primary = primary if primary in models else "late_fusion"
    reclassification = dict(reclassification or {})
    reference = _reclassification_reference(reclassification.get("reference", "auto"), modalities, list(models))
    if not evaluate:  # fit: the saved model only
        models = {primary: models[primary]}
    predictions = cohort.table.loc[:, ["cohort", "time", "event"]].copy()
    fit_seconds: dict[str, float] = {}
    for name, model in models.items():
        logger.info("Fitting %s on the development cohort.", name)
        tic = time.perf_counter()
        with _collect_warnings(notes, name):
            model.fit(X_dev, dev.y)
        fit_seconds[name] = time.perf_counter() - tic
        predictions[name] = pd.Series(model.predict(X), index=X.index, dtype=float)
    if not evaluate:
        from multisurv.evaluation.resampling import harrell_c

        apparent = harrell_c(dev.y, predictions.loc[dev.ids, primary].to_numpy(dtype=float))
        _save_fitted_model(run_dir, models[primary], clinical, X_dev, config, primary,
                           {"model": primary, "n_patients": len(dev), "n_events": int(dev.y["event"].sum()),
                            "apparent_cindex": float(apparent)}, notes)
        for note in notes:
            logger.warning("%s", note)
        return StudyResult(metrics=pd.DataFrame(), predictions=predictions, run_dir=run_dir, internal=None)
    if truth is not None:
        predictions[TRUE_LP] = truth["true_lp"].reindex(cohort.ids)
    evaluated = [m for m in (*models, TRUE_LP) if m in predictions]
    # Like-for-like comparison: every model on the same patients, those with all modalities.
    complete = complete_cases(features, [m.prefix for m in modalities if MODALITY_KINDS[m.kind].extractor])
    evaluation = evaluate_study(predictions, development=development, models=evaluated, complete=complete,
                                n_bootstrap=n_bootstrap, random_state=random_state, notes=notes,
                                collect=_collect_warnings)
    metrics = evaluation.metrics
    write_csv_atomic(run_dir / "metrics.csv", metrics, index=False, float_format="%.6g")
    fusions = [name for name in models if name not in {m.name for m in modalities}]
    comparison = None
    if len(fusions) > 1:
        with _collect_warnings(notes, "fusion comparison"):
            comparison = compare_models(predictions, [(a, b) for i, a in enumerate(fusions) for b in fusions[i + 1:]],
                                        development=development, n_bootstrap=n_bootstrap, random_state=random_state)
        write_csv_atomic(run_dir / "tables" / "fusion_comparison.csv", comparison, index=False, float_format="%.6g")
    labels = model_labels(modalities)
    write_km_figures(run_dir, evaluation.risk_groups, labels)

    internal = None
    if internal_validation:
        from multisurv.study.internal import validate_models

        raw_dev = pd.concat([features.loc[dev.ids], dev.clinical], axis=1)
        if harmonisation is not None:
            raw_dev[CENTRE_COLUMN] = X_dev[CENTRE_COLUMN]
        with _collect_warnings(notes, "internal validation"):
            internal = validate_models(models, raw_dev, dev.y, clinical=ClinicalPreprocessor.from_spec(
                cohort.clinical_spec) if has_clinical else None,
                clinical_columns=list(dev.clinical.columns) if has_clinical else [], random_state=random_state,
                progress=progress, **dict(internal_validation))
        write_csv_atomic(run_dir / "tables" / "internal_validation.csv", internal, index=False, float_format="%.6g")
    write_csv_atomic(run_dir / "predictions.csv", predictions, float_format="%.8g")
    fitted = {name: _final(m) for name, m in models.items()}  # the models without their ComBat step
    formulas, fusion_formula = _write_formulas(run_dir, fitted)
    write_json_atomic(run_dir / "versions.json", _versions())
    late = fitted["late_fusion"]
    fusion_scores = late.oof_scores_.join(dev.table.loc[:, ["time", "event"]])
    figure_options = dict(figure_options or {})
    with _collect_warnings(notes, "evaluation figures"):
        assessment = assess_study(
            predictions, development=development, models=evaluated, labels=labels,
            complete_ids=[i for i in cohort.ids if complete.loc[i]], fusion_scores=fusion_scores,
            fusion_formula=fusion_formula, score_models={m.score: m.name for m in modalities},
            random_state=random_state, reference=reference, reclassified=[m for m in models if m != reference],
            nri_cutoffs=tuple(reclassification.get("cutoffs", ())), n_bootstrap=n_bootstrap, **figure_options)
        figures = write_evaluation_figures(run_dir, assessment, labels=labels, metrics=metrics)
    dev_metrics = metrics[(metrics["model"] == primary) & (metrics["cohort"] == development)
                          & (metrics["subset"] == "available")]
    _save_fitted_model(run_dir, models[primary], clinical, X_dev, config, primary,
                       {"model": primary, "n_patients": len(dev), "n_events": int(dev.y["event"].sum()),
                        "apparent_cindex": float(dev_metrics["cindex"].iloc[0]) if len(dev_metrics) else None},
                       notes)
    robustness = _robustness_rows(run_dir, reproducibility or {}, fitted)
    attention = None
    if mil_modalities:
        with _collect_warnings(notes, "attention maps"):
            attention = _attention_outputs(run_dir, mil_modalities, fitted, predictions, development, fit_seconds)
    elapsed = time.perf_counter() - started
    write_report(run_dir, cohort=cohort, metrics=metrics, failures=failures, formulas=formulas,
                 fusion_formula=fusion_formula, elapsed=elapsed, extra=dict(extra_report or {}), notes=notes,
                 evaluation=figures, internal=internal, labels=labels, modalities=modalities,
                 available=_availability(cohort, features, modalities), comparison=comparison,
                 robustness=robustness, attention=attention)
    logger.info("Study finished in %.0f s; report: %s", elapsed, run_dir / "report.md")
    return StudyResult(metrics=metrics, predictions=predictions, run_dir=run_dir, internal=internal,
                       reclassification=assessment.reclassification)


# ---------------------------------------------------------------------------------------------- from a config
def run_study(study, run_dir: str | Path | None = None, *, progress: bool = True, **options) -> StudyResult:
    """Run a whole study and write its outputs.

    Parameters
    ----------
    study : StudyConfig or Cohort
        A study config (``StudyConfig.from_yaml``): everything is taken from it (cohort, modalities, models,
        validation, figures, output folder). A :class:`~multisurv.cohort.cohort.Cohort` runs the reference
        design on it with ``options`` (those of :func:`fit_and_evaluate`); ``run_dir`` is then required.
    run_dir : path, optional
        Output folder; for a config it overrides the config's ``out``.
    progress : bool, default=True
        Show progress bars.
    **options
        Only with a cohort: keywords of :func:`fit_and_evaluate` (``modalities``, ``development``,
        ``n_bootstrap``, ``random_state``, ...).

    Returns
    -------
    StudyResult
        The metrics and predictions tables and the run folder.

    Raises
    ------
    TypeError
        When ``options`` are given with a config, or ``run_dir`` is missing with a cohort.

    Examples
    --------
    >>> from multisurv.study.config import StudyConfig
    >>> cfg = StudyConfig.from_yaml("experiments/gist_fusion/study.yaml")  # doctest: +SKIP
    >>> result = run_study(cfg, run_dir="runs/gist")  # doctest: +SKIP
    """
    from multisurv.study.config import StudyConfig

    if isinstance(study, StudyConfig):
        if options:
            raise TypeError("run_study(config): the config holds every setting; got extra keyword(s) "
                            + ", ".join(repr(k) for k in options) + ". Put them in the config.")
        return _run_config(study, run_dir, progress=progress)
    if run_dir is None:
        raise TypeError("run_study(cohort, run_dir, ...): 'run_dir' is required when running on a cohort.")
    return fit_and_evaluate(study, run_dir, progress=progress, **options)


def _data_hashes(cohort: Cohort) -> pd.DataFrame:
    """SHA-256 of every data file the cohort references (one row per patient and column)."""
    from multisurv._hashing import sha256_file

    rows = []
    for pid, row in cohort.table.iterrows():
        for column in cohort.path_columns:
            value = row[column]
            if isinstance(value, str) and value:
                path = Path(value)
                files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
                for f in files:
                    rows.append({"patient_id": pid, "column": column, "path": str(f), "sha256": sha256_file(f)})
    return pd.DataFrame(rows, columns=["patient_id", "column", "path", "sha256"])


def _synthetic_manifest(cfg, out: Path) -> tuple[Path, Path, Path | None]:
    """Write the synthetic cohort of the config; clear CT / slide paths down to n_ct / n_wsi development patients;
    add n_null_clinical variables. Returns the manifest, the truth table and the clinical spec (None: default)."""
    from multisurv.cohort.schema import load_clinical_spec
    from multisurv.cohort.synthetic import make_synthetic_cohort
    from multisurv.cohort.synthetic_clinical import add_null_clinical_variables, write_clinical_spec

    syn = cfg.cohort.synthetic
    folder = out / "cohort"
    manifest = make_synthetic_cohort(folder, n_development=syn.n_development, n_external=syn.n_external,
                                     random_state=syn.seed, second_reader=syn.second_reader)
    read = path_columns(cfg.modalities)
    unread = [c for c in ("ct_image", "ct_mask", "wsi") if c not in read]  # a built-in modality left out
    if syn.n_ct is None and syn.n_wsi is None and not syn.n_null_clinical and not unread and (
            not syn.second_reader or "ct_mask_reader2" in read):
        return manifest, folder / "truth.csv", None
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False).drop(columns=unread)
    if "ct_mask_reader2" in table and "ct_mask_reader2" not in read:  # no modality reads the second reader
        table = table.drop(columns="ct_mask_reader2")
    spec_path = None
    if syn.n_null_clinical:
        table, extra = add_null_clinical_variables(table, syn.n_null_clinical, random_state=syn.seed)
        table = table.fillna("")
        spec_path = write_clinical_spec(folder / "clinical_spec.study.yaml", load_clinical_spec(), extra,
                                        description=f"GIST demo variables and {syn.n_null_clinical} null variables "
                                                    "(no effect on the outcome) of the study's synthetic cohort.")
    rng = np.random.default_rng(syn.seed)
    dev = table["cohort"] == cfg.cohort.development
    for target, columns in ((syn.n_ct, ["ct_image", "ct_mask"]), (syn.n_wsi, ["wsi"])):
        if target is None or columns[0] not in table:
            continue
        have = np.flatnonzero(dev.to_numpy() & (table[columns[0]] != "").to_numpy())
        if target > have.size:
            raise ValueError(f"{cfg.source}: key 'cohort.synthetic.n_{'ct' if columns[0] == 'ct_image' else 'wsi'}'"
                             f" asks for {target} development patients with {columns[0]!r}, but the synthetic cohort "
                             f"has {have.size}. Lower it to at most {have.size}.")
        drop = rng.choice(have, size=have.size - target, replace=False)
        table.loc[table.index[drop], columns] = ""
    study_manifest = folder / "manifest.study.csv"
    write_csv_atomic(study_manifest, table, index=False)
    return study_manifest, folder / "truth.csv", spec_path


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fit_study(config, run_dir: str | Path | None = None, *, progress: bool = True) -> StudyResult:
    """Fit the primary model of a study config on its development cohort and save it (``<run_dir>/model``).

    The same features, models and seed as :func:`run_study` on that config (so the saved model is the one its
    report describes), without the evaluation: no metrics, figures or report. ``multisurv fit STUDY.yaml``.

    Parameters
    ----------
    config : StudyConfig
    run_dir : path, optional
        Output folder (default the config's ``out``); the model goes to ``run_dir/model``.
    progress : bool

    Returns
    -------
    StudyResult
        ``predictions`` holds the primary model's risk of every patient; ``metrics`` is empty.

    Notes
    -----
    A binary-endpoint config saves its primary logistic model the same way (``predict`` then writes each
    patient's event probability).

    Examples
    --------
    >>> from multisurv.study.config import StudyConfig
    >>> result = fit_study(StudyConfig.from_yaml("study.yaml"), "runs/fitted")  # doctest: +SKIP
    >>> # then: multisurv predict runs/fitted/model new_manifest.csv --features ... --out scores.csv
    """
    return _run_config(config, run_dir, progress=progress, evaluate=False)


def manifest_options(cfg, spec_path: str | Path | None = None) -> dict:
    """How a study reads its manifest: the clinical spec, the columns its modalities read and their image/mask pairs
    (the keywords of :func:`~multisurv.cohort.manifest.load_manifest` and ``validate_manifest``).

    Parameters
    ----------
    cfg : StudyConfig
        The study.
    spec_path : str or Path, optional
        The clinical spec file (default the config's ``cohort.clinical_spec``; None there: the shipped GIST spec, or
        no clinical variable when the study has no clinical modality).

    Returns
    -------
    dict
        ``clinical_spec`` (with a binary endpoint's 0/1 column, checked with the manifest), ``path_columns`` and
        ``pairs``.

    Examples
    --------
    >>> from multisurv.study.config import StudyConfig
    >>> cfg = StudyConfig.from_dict({"schema": "study_config.v1", "name": "x", "out": "runs/x",
    ...                              "cohort": {"synthetic": {}}})
    >>> options = manifest_options(cfg)
    >>> sorted(options["path_columns"]), options["pairs"], list(options["clinical_spec"])[:2]
    (['ct_image', 'ct_mask', 'wsi'], [('ct_image', 'ct_mask')], ['age', 'sex'])
    """
    from multisurv.cohort.schema import load_clinical_spec

    spec_path = spec_path if spec_path is not None else cfg.cohort.clinical_spec
    spec = load_clinical_spec(str(spec_path) if spec_path else None)
    if not any(m.kind == "clinical" for m in cfg.modalities) and cfg.cohort.clinical_spec is None:
        spec = {}
    if cfg.endpoint.type == "binary":  # the 0/1 endpoint column is read and checked with the manifest
        from multisurv.study.binary import with_outcome_column

        spec = with_outcome_column(spec, cfg.endpoint)
    return {"clinical_spec": spec, "path_columns": path_columns(cfg.modalities),
            "pairs": image_mask_pairs(cfg.modalities)}


def _run_config(cfg, run_dir: str | Path | None, *, progress: bool = True, evaluate: bool = True) -> StudyResult:
    """The whole study of a config; the run folder records how to redo it (config, seeds, input hashes)."""
    import yaml

    from multisurv._hashing import sha256_file
    from multisurv.cohort.manifest import load_manifest
    from multisurv.features.radiomics import shipped_params
    from multisurv.study.models import build_models

    _check_reclassification(cfg)
    started = time.perf_counter()
    out = Path(run_dir).resolve() if run_dir is not None else cfg.out
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"Output folder {str(out)!r} is a file. Choose another output folder.")
    out.mkdir(parents=True, exist_ok=True)
    if cfg.source is not None:
        write_text_atomic(out / "config.yaml", Path(cfg.source).read_text(encoding="utf-8"))  # as written
    resolved = cfg.to_dict()
    resolved["out"] = str(out)
    write_text_atomic(out / "config.resolved.yaml", yaml.safe_dump(resolved, sort_keys=False))

    truth = None
    if cfg.cohort.synthetic is not None:
        manifest, truth_path, spec_path = _synthetic_manifest(cfg, out)
        truth = pd.read_csv(truth_path, dtype={"patient_id": str}).set_index("patient_id")
    else:
        manifest, spec_path = cfg.cohort.manifest, cfg.cohort.clinical_spec
    cohort = load_manifest(manifest, **manifest_options(cfg, spec_path))
    binary = cfg.endpoint.type == "binary"
    if binary:  # the 0/1 endpoint column was checked with the manifest; it is kept out of the predictors
        from multisurv.study import binary as binary_study

        cohort = binary_study.without_outcome_column(cohort, cfg.endpoint)
    hashes = _data_hashes(cohort)
    write_csv_atomic(out / "data_hashes.csv", hashes, index=False)
    inputs: dict[str, Path | None] = {"config": Path(cfg.source).resolve() if cfg.source else None,
                                      "manifest": Path(manifest), "clinical_spec": spec_path}
    for m in cfg.modalities:
        if m.kind == "radiomics":
            params = str(m.options.get("params", "radiomics_ct"))
            inputs[f"radiomics_params[{m.name}]"] = shipped_params().get(params, Path(params))
        if m.kind == "table":
            path = Path(m.options["path"])
            inputs[f"table[{m.name}]"] = path if path.is_file() else None
    record = {
        "multisurv": __version__, "command": " ".join(["multisurv", *sys.argv[1:]]) if sys.argv else "",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seeds": {"study": cfg.seed, "synthetic_cohort": cfg.cohort.synthetic.seed if cfg.cohort.synthetic else None},
        "modalities": [m.name for m in cfg.modalities],
        "inputs_sha256": {k: (sha256_file(v) if v is not None else None) for k, v in inputs.items()},
        "data_files": {"n": int(len(hashes)), "sha256_of_list": _sha256_text("\n".join(hashes["sha256"].tolist()))},
    }
    write_json_atomic(out / "run.json", json.loads(json.dumps(record, default=str)))

    extra = {"Config": str(cfg.source) if cfg.source else "(built in memory)", "Study": cfg.name}
    if cfg.description:
        extra["Description"] = cfg.description
    if cfg.cohort.synthetic is not None:
        syn = cfg.cohort.synthetic
        extra["Cohort"] = (f"synthetic GIST-like cohort (seed {syn.seed}), {syn.n_development} development and "
                           f"{syn.n_external} external patients")
    reproducibility = _reproducibility(cfg, cohort, progress=progress)
    val = cfg.validation
    fit = binary_study.fit_and_evaluate_binary if binary else fit_and_evaluate
    result = fit(
        cohort, out, **({"endpoint": cfg.endpoint} if binary else {}), modalities=cfg.modalities,
        development=cfg.cohort.development, feature_dir=cfg.feature_cache,
        n_bootstrap=val.n_bootstrap, random_state=cfg.seed, truth=truth, progress=progress, extra_report=extra,
        models=build_models(cfg, {name: res for name, (res, _) in reproducibility.items()}),
        reproducibility=reproducibility,
        figure_options={"primary": cfg.figures.primary, "t0": cfg.figures.horizon, "roc_times": cfg.figures.roc_times,
                        "cutoff_methods": cfg.figures.cutoff_methods, "fixed_cutoff": cfg.figures.fixed_cutoff},
        internal_validation=None if val.internal == "none" else {
            "method": val.internal, "n_resamples": val.n_resamples, "n_splits": val.n_splits,
            "n_repeats": val.n_repeats},
        harmonisation=None if cfg.harmonisation.method == "none" else {
            "empirical_bayes": cfg.harmonisation.empirical_bayes},
        config=resolved, reclassification=dict(val.reclassification),
        evaluate=evaluate)
    record["elapsed_s"] = round(time.perf_counter() - started, 1)
    write_json_atomic(out / "run.json", json.loads(json.dumps(record, default=str)))
    return result


def _check_reclassification(cfg) -> None:
    """A reclassification reference named in the config must be one of the study's models (the config's own check
    cannot see the models); refused before anything is extracted or fitted."""
    from multisurv.study.config import StudyConfigError, model_names
    from multisurv.study.evaluate import _reclassification_reference

    names = list(model_names(cfg.fusion.strategies, cfg.modalities))
    if cfg.endpoint.type == "binary":
        from multisurv.study.binary import COMPARATOR_PREFIX

        names += [COMPARATOR_PREFIX + c for c in cfg.endpoint.comparators]
    try:
        _reclassification_reference(cfg.validation.reclassification.get("reference"), cfg.modalities, names)
    except ValueError as exc:
        raise StudyConfigError([str(exc)], source=str(cfg.source) if cfg.source else None) from None


def _reproducibility(cfg, cohort: Cohort, *, progress: bool) -> dict:
    """ICC of every radiomics modality with ``robustness`` settings, on the development cohort only."""
    out = {}
    for m in cfg.modalities:
        settings = m.options.get("robustness")
        if not settings:
            continue
        from multisurv.features.radiology import modality_reproducibility

        dev, _ = cohort.split(cfg.cohort.development)
        feature_dir = cfg.feature_cache if cfg.feature_cache is not None else Path(cfg.out) / "features"
        logger.info("%s: feature reproducibility (%s) on %d development patients.", m.name,
                    "readers " + ", ".join(m.options["readers"]) if m.options.get("readers") else
                    f"{settings['perturbations']} perturbations", len(dev))
        res = modality_reproducibility(m, dev, feature_dir=feature_dir, readers=m.options.get("readers"),
                                       perturbations=settings["perturbations"], random_state=settings["seed"],
                                       progress=progress)
        out[m.name] = (res, {**settings, "source": "readers' masks" if m.options.get("readers") else
                             f"{settings['perturbations']} perturbations"})
    return out


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
