"""``multisurv fit CONFIG --out MODEL_DIR`` and ``multisurv predict MODEL_DIR MANIFEST --out scores.csv``.

``fit`` reads a study config (``study_config.v1``, the format of ``multisurv run``) and fits its primary model on
the development patients exactly as ``run`` does, saving ``MODEL_DIR/model``
(:func:`multisurv.study.run.fit_study`); or, for precomputed feature tables, a model config (``model_config.v1``,
see ``data_schemas/model_config.v1.yaml``, the older format: per-modality selector pipelines on feature CSVs) and
saves the model folder (:func:`multisurv.persistence.save_model`). ``predict`` loads a model folder (refusing a changed file or
incompatible versions) and writes one row of scores per patient of a new cohort.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

__all__ = ["add_commands", "load_model_config", "build_estimator", "fit_from_config", "SELECTORS", "ConfigError"]

CONFIG_SCHEMA = "model_config.v1"


class ConfigError(ValueError):
    """A model config has problems; the message lists every one.

    Parameters
    ----------
    problems : list of str
        Every problem found, one sentence each (kept as ``problems``).
    source : str
        Where the config came from (its file name), for the first line of the message.

    Examples
    --------
    >>> err = ConfigError(["key 'selector': unknown.", "key 'alpha': must be > 0."], "model.yaml")
    >>> print(err)
    2 problem(s) in model.yaml:
      - key 'selector': unknown.
      - key 'alpha': must be > 0.
    """

    def __init__(self, problems: list[str], source: str):
        self.problems = problems
        super().__init__("\n".join([f"{len(problems)} problem(s) in {source}:", *("  - " + p for p in problems)]))


def _selectors() -> dict[str, Any]:
    from multisurv.selection.filters import CorrelationFilter, VarianceFilter
    from multisurv.selection.lasso_cox import LassoCoxSelector
    from multisurv.selection.rsf import RSFPermutationSelector
    from multisurv.selection.stepwise import StepwiseCoxSelector
    from multisurv.selection.univariate_cox import UnivariateCoxSelector

    return {"variance": VarianceFilter, "correlation": CorrelationFilter, "univariate_cox": UnivariateCoxSelector,
            "lasso": LassoCoxSelector, "elastic_net": lambda **kw: LassoCoxSelector(**{"l1_ratio": 0.5, **kw}),
            "rsf": RSFPermutationSelector, "stepwise": StepwiseCoxSelector}


#: Selector names a config may use (each takes the parameters of its class).
SELECTORS = ("variance", "correlation", "univariate_cox", "lasso", "elastic_net", "rsf", "stepwise")
_MODELS = ("linear", "rsf", "gbm")
_STRATEGIES = ("early", "late", "late_insample", "none")  # the words of multisurv.registry.FUSION_STRATEGIES


def load_model_config(path: str | Path) -> dict:
    """Read and check a ``model_config.v1`` YAML file; paths become absolute (relative to the file).

    Parameters
    ----------
    path : str or Path
        The config file (``data_schemas/model_config.v1.yaml`` is the commented template).

    Returns
    -------
    dict
        The checked config: ``manifest`` and ``features`` as absolute paths, ``modalities``, ``fusion``,
        ``clinical``, ``development`` and ``seed`` as written.

    Raises
    ------
    ConfigError
        Listing every problem found (missing keys, unknown selector or model names, bad types).
    FileNotFoundError
        When the config file does not exist.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = Path(d) / "model.yaml"
    ...     _ = path.write_text("schema: model_config.v1\\nmanifest: cohort.csv\\n")
    ...     try:
    ...         load_model_config(path)
    ...     except ConfigError as exc:
    ...         print(exc.problems[1])
    'modalities' must be a non-empty list of {name, prefix, model, selector}.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Model config {path} not found.")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    problems: list[str] = []
    if not isinstance(config, dict):
        raise ConfigError(["the file must hold a mapping of keys (schema, manifest, modalities, ...)"], str(path))
    if config.get("schema") != CONFIG_SCHEMA:
        problems.append(f"'schema' must be {CONFIG_SCHEMA!r}; got {config.get('schema')!r}.")
    base = path.parent
    if not isinstance(config.get("manifest"), str):
        problems.append("'manifest' must be the path of the outcome CSV (patient_id, time, event).")
    else:
        config["manifest"] = str((base / config["manifest"]).resolve())
        if not Path(config["manifest"]).is_file():
            problems.append(f"'manifest': {config['manifest']} not found.")
    features = config.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        problems.append("'features' must be a list of feature-table paths (CSV or Parquet).")
        features = []
    config["features"] = [str((base / f).resolve()) for f in features]
    problems += [f"'features': {f} not found." for f in config["features"] if not Path(f).is_file()]
    clinical = config.get("clinical")
    if clinical is not None and not (isinstance(clinical, dict) and set(clinical) <= {"numeric", "categorical"}):
        problems.append("'clinical' must be a mapping with 'numeric' and/or 'categorical' lists of manifest columns.")
    modalities = config.get("modalities")
    if not isinstance(modalities, list) or not modalities:
        problems.append("'modalities' must be a non-empty list of {name, prefix, model, selector}.")
        modalities = []
    for i, m in enumerate(modalities):
        where = f"modalities[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not isinstance(m.get("prefix"), str):
            problems.append(f"{where} needs a 'name' (e.g. radscore) and a 'prefix' (e.g. 'ct__').")
            continue
        if m.get("model", "linear") not in _MODELS:
            problems.append(f"{where} ({m['name']}): unknown model {m.get('model')!r}. Choose one of: "
                            f"{', '.join(repr(x) for x in _MODELS)}.")
        steps = m.get("selector", [{"lasso": {}}])
        if not isinstance(steps, list):
            problems.append(f"{where} ({m['name']}): 'selector' must be a list of steps like '- lasso: {{cv: 5}}'.")
            continue
        names = [next(iter(s)) for s in steps if isinstance(s, dict) and len(s) == 1]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"{where} ({m['name']}): selector step {name!r} is listed {names.count(name)} times; each "
                            "step may appear once (merge their parameters or drop one).")
        for step in steps:
            if not (isinstance(step, dict) and len(step) == 1):
                problems.append(f"{where} ({m['name']}): each selector step is one 'name: {{params}}' mapping; "
                                f"got {step!r}.")
                continue
            (name, params), = step.items()
            if name not in SELECTORS:
                problems.append(f"{where} ({m['name']}): unknown selector {name!r}. Choose one of: "
                                f"{', '.join(repr(s) for s in SELECTORS)}.")
            elif params is not None and not isinstance(params, dict):
                problems.append(f"{where} ({m['name']}): the parameters of {name!r} must be a mapping.")
    fusion = config.setdefault("fusion", {"strategy": "late"})
    if isinstance(fusion, dict) and fusion.get("strategy") == "stacked":
        problems.append("'fusion.strategy: stacked' was renamed: out-of-fold late fusion is now 'late' and in-sample "
                        "late fusion 'late_insample' (the words of the study config). Write 'strategy: late'.")
    elif not isinstance(fusion, dict) or fusion.get("strategy", "late") not in _STRATEGIES:
        problems.append(f"'fusion.strategy' must be one of {', '.join(repr(s) for s in _STRATEGIES)}.")
    elif fusion.get("strategy") == "none" and len(modalities) != 1:
        problems.append("'fusion.strategy: none' fits a single modality; list exactly one under 'modalities'.")
    if not isinstance(config.setdefault("seed", 0), int):
        problems.append("'seed' must be an integer.")
    if problems:
        raise ConfigError(problems, str(path))
    return config


def build_estimator(config: Mapping[str, Any]):
    """The (unfitted) estimator a checked config describes.

    Parameters
    ----------
    config : mapping
        A config returned by :func:`load_model_config`.

    Returns
    -------
    estimator
        One :class:`~multisurv.scores.modality_score.ModalityScore` (or non-linear score) per modality, fused by
        :class:`~multisurv.fusion.strategies.FusionCox` with the config's strategy; the single score when the
        strategy is ``none``.

    Examples
    --------
    >>> config = load_model_config("model.yaml")  # doctest: +SKIP
    >>> build_estimator(config)  # doctest: +SKIP
    FusionCox(...)
    """
    from sklearn.pipeline import Pipeline

    from multisurv.scores.nonlinear import NonlinearScore
    from multisurv.fusion.strategies import FusionCox
    from multisurv.scores.modality_score import ModalityScore

    registry = _selectors()
    seed = int(config.get("seed", 0))
    scores = []
    for m in config["modalities"]:
        steps = []
        for step in m.get("selector", [{"lasso": {}}]):
            (name, params), = step.items()
            steps.append((name, registry[name](**(params or {}))))
        selector = steps[0][1] if len(steps) == 1 else Pipeline(steps)
        kind = m.get("model", "linear")
        if kind == "linear":
            scores.append(ModalityScore(name=m["name"], prefix=m["prefix"], selector=selector, random_state=seed))
        else:
            scores.append(NonlinearScore(name=m["name"], prefix=m["prefix"], model=kind, selector=selector,
                                         random_state=seed, **(m.get("params") or {})))
    fusion = dict(config.get("fusion") or {})
    strategy = fusion.pop("strategy", "late")
    if strategy == "none":
        return scores[0]
    return FusionCox(strategy=strategy, scores=scores, random_state=seed, **fusion)


def read_table(path: str | Path) -> pd.DataFrame:
    """A feature table (CSV or Parquet) indexed by ``patient_id`` (text); ids and numbers checked.

    See :func:`multisurv.cohort.outcomes.read_feature_table` (a ``ManifestError`` lists every problem).
    """
    from multisurv.cohort.outcomes import read_feature_table

    return read_feature_table(path)


def read_outcomes(path: str | Path, *, outcome: bool = False) -> pd.DataFrame:
    """The manifest, index patient_id, checked as ``multisurv validate`` checks ids, times and events.

    ``outcome=True`` (fitting) requires ``time`` > 0 and ``event`` 0/1 in every row; see
    :func:`multisurv.cohort.outcomes.read_outcome_table`.
    """
    from multisurv.cohort.outcomes import read_outcome_table

    return read_outcome_table(path, outcome=outcome)


def _check_tables(manifest: pd.DataFrame, tables: list[pd.DataFrame], paths: list, source: str) -> None:
    """Refuse feature tables that share no patient with the manifest (ids written differently, wrong file)."""
    from multisurv.cohort.outcomes import check_feature_overlap
    from multisurv.exceptions import ManifestError

    problems = check_feature_overlap(manifest.index, {Path(p).name: t for p, t in zip(paths, tables)},
                                     source=Path(source).name)
    if problems:
        raise ManifestError(problems, source=str(source))


def fit_from_config(config: Mapping[str, Any]):
    """Fit the model a checked config describes on its development patients.

    Parameters
    ----------
    config : mapping
        A config returned by :func:`load_model_config`.

    Returns
    -------
    model : multisurv.persistence.StudyModel
        The fitted estimator with its feature columns, clinical encoding and config.
    data : dict
        Name -> DataFrame of the training data (manifest and feature tables), for the hashes
        :func:`multisurv.persistence.save_model` records.
    facts : dict
        ``n_patients``, ``n_events`` and the (optimistic) ``apparent_cindex``.

    Raises
    ------
    ValueError
        When the manifest or a feature table fails its checks, or no patient has the development label.

    Examples
    --------
    >>> model, data, facts = fit_from_config(load_model_config("model.yaml"))  # doctest: +SKIP
    >>> sorted(facts)  # doctest: +SKIP
    ['apparent_cindex', 'n_events', 'n_patients']
    """
    from multisurv._validation import make_y
    from multisurv.evaluation.resampling import harrell_c
    from multisurv.features.clinical import ClinicalPreprocessor
    from multisurv.persistence import StudyModel

    manifest = read_outcomes(config["manifest"], outcome=True)
    development = config.get("development")
    if development is not None:
        if "cohort" not in manifest.columns:
            raise ValueError(f"'development: {development}' needs a 'cohort' column in {config['manifest']}.")
        manifest = manifest[manifest["cohort"].astype(str) == str(development)]
        if manifest.empty:
            raise ValueError(f"No patient of {config['manifest']} has cohort {development!r}.")
    tables = [read_table(p) for p in config["features"]]
    _check_tables(manifest, tables, config["features"], config["manifest"])
    clinical = None
    if config.get("clinical"):
        spec = config["clinical"]
        columns = list(spec.get("numeric", [])) + list(spec.get("categorical", []))
        clinical = ClinicalPreprocessor(numeric=spec.get("numeric", []),
                                        categorical=spec.get("categorical", [])).fit(manifest.loc[:, columns])
    model = StudyModel(estimator=build_estimator(config), feature_columns=[], clinical=clinical, config=dict(config))
    parts = [t.reindex(manifest.index) for t in tables]
    own = manifest.loc[:, [c for c in manifest.columns if "__" in str(c)]]
    if own.shape[1]:
        parts.append(own)
    if clinical is not None:
        parts.append(clinical.transform(manifest.loc[:, list(clinical.feature_names_in_)]))
    X = pd.concat(parts, axis=1)
    X = X.loc[:, ~X.columns.duplicated()]
    model.feature_columns = [str(c) for c in X.columns]
    y = make_y(manifest["time"].to_numpy(dtype=float), manifest["event"].astype(int).to_numpy())
    model.estimator.fit(X, y)
    risk = model.estimator.predict(X)
    facts = {"n_patients": int(len(y)), "n_events": int(y["event"].sum()),
             "apparent_cindex": harrell_c(y, np.asarray(risk, dtype=float))}
    return model, {"manifest": manifest, **{f"features[{i}]": t for i, t in enumerate(tables)}}, facts


def _schema_of(path: Path) -> str | None:
    """The ``schema`` key of a YAML config, or None when the file cannot be read as a mapping (checked later)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return raw.get("schema") if isinstance(raw, dict) else None


def _cmd_fit(args) -> int:
    from multisurv.persistence import save_model

    if _schema_of(args.config) == "study_config.v1":
        from multisurv.study.config import StudyConfig
        from multisurv.study.run import fit_study

        result = fit_study(StudyConfig.from_yaml(args.config), args.out, progress=not args.no_progress)
        model_dir = result.run_dir / "model"
        if not (model_dir / "manifest.json").is_file():
            print(f"No model was saved in {model_dir}: see the warning above.", file=sys.stderr)
            return 1
        facts = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8")).get("extra", {})
        print(f"Model {facts.get('model')!r} fitted on {facts.get('n_patients')} development patients "
              f"({facts.get('n_events')} events); apparent C-index {facts.get('apparent_cindex', float('nan')):.3f} "
              "(optimistic: 'multisurv run' on the same config evaluates it).")
        print(f"Saved: {model_dir}")
        return 0
    config = load_model_config(args.config)
    model, data, facts = fit_from_config(config)
    path = save_model(model, args.out, data=data, extra=facts)
    print(f"Model fitted on {facts['n_patients']} patients ({facts['n_events']} events); apparent C-index "
          f"{facts['apparent_cindex']:.3f} (optimistic: validate with multisurv.evaluation.resampling.validate).")
    print(f"Saved: {path.parent}")
    return 0


def _cmd_predict(args) -> int:
    from multisurv.persistence import load_model

    model, manifest = load_model(args.model, allow_version_mismatch=args.allow_version_mismatch)
    cohort = read_outcomes(args.manifest)
    tables = [read_table(p) for p in (args.features or [])]
    _check_tables(cohort, tables, list(args.features or []), args.manifest)
    if model.clinical is not None:
        from multisurv.cohort.outcomes import check_categories
        from multisurv.exceptions import ManifestError

        levels = {c: model.clinical.categories_[c] for c in model.clinical.categorical_}
        problems = check_categories(cohort, levels, source=Path(args.manifest).name)
        if problems:
            raise ManifestError(problems, source=str(args.manifest))
    X = model.features(cohort, tables)
    scores = model.predict_frame(X)
    scores.index.name = "patient_id"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, float_format="%.17g")
    print(f"Scored {len(scores)} patients with the model of {args.model} ({manifest['model_class']}); "
          f"{int(scores['risk'].isna().sum())} without a risk. Written: {out}")
    return 0


def add_commands(subparsers) -> None:
    """Add ``fit`` and ``predict`` to the ``multisurv`` parser's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned for the ``multisurv`` command.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="multisurv")
    >>> add_commands(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["fit", "study.yaml", "--out", "model"])
    >>> args.config, args.out, args.func.__name__
    (PosixPath('study.yaml'), PosixPath('model'), '_cmd_fit')
    """
    p = subparsers.add_parser("fit", help="Fit a study model from a config and save it (model.skops + manifest.json).")
    p.add_argument("config", type=Path, help="Study config (study_config.v1 YAML, as 'multisurv run' takes: its "
                                             "primary model is fitted on the development cohort and saved in "
                                             "OUT/model) or model config (model_config.v1: feature tables).")
    p.add_argument("--out", type=Path, required=True, help="Folder to write (the model folder for a model config).")
    p.add_argument("--no-progress", action="store_true", help="No progress bars (study configs).")
    p.set_defaults(func=_cmd_fit)

    p = subparsers.add_parser(
        "predict", help="Score a new cohort with a saved model.",
        description="Score a new cohort with a model folder written by 'multisurv fit'. Verified before anything is "
                    "read: model.skops has the SHA-256 recorded in manifest.json; it names only trusted multisurv, "
                    "scikit-learn, scikit-survival and numpy types (skops format: no pickle, so loading cannot run "
                    "code); its decision trees point only inside themselves; it was saved with the same major.minor "
                    "package versions. Not verified: who wrote the folder (the hash sits next to the file, so a "
                    "replaced model can be rehashed; keep model_sha256 elsewhere and compare), and that the new "
                    "cohort resembles the training one.")
    p.add_argument("model", type=Path, help="Model folder written by 'multisurv fit'.")
    p.add_argument("manifest", type=Path, help="CSV with patient_id (and the clinical columns the model uses; "
                                               "prefixed feature columns are used too).")
    p.add_argument("--features", type=Path, nargs="*", default=None, help="Feature tables of the new cohort.")
    p.add_argument("--out", type=Path, required=True, help="Scores CSV to write.")
    p.add_argument("--allow-version-mismatch", action="store_true",
                   help="Load a model saved with other package versions (scores may differ).")
    p.set_defaults(func=_cmd_predict)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args()
    sys.exit(ns.func(ns))
