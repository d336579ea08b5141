"""``multisurv fit CONFIG --out DIR`` and ``multisurv predict MODEL_DIR MANIFEST --out scores.csv``.

``fit`` reads a study config (``study_config.v1``, the format of ``multisurv run``) and fits its ``figures.primary``
model on the development patients exactly as ``run`` does, saving ``DIR/model``
(:func:`multisurv.study.run.fit_study`). A file in the retired model-config format (``model_config.v1``) is first
written as the equivalent study config (:func:`multisurv.study.legacy.study_config_from_model_config`), so both go
through the one study core. ``predict`` loads a model folder (refusing a changed file or incompatible versions) and
writes one row of scores per patient of a new cohort.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
import pandas as pd
import yaml

from multisurv.study.legacy import CONFIG_SCHEMA, ConfigError, load_model_config

__all__ = ["add_commands", "load_model_config", "ConfigError"]


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


def _schema_of(path: Path) -> str | None:
    """The ``schema`` key of a YAML config, or None when the file cannot be read as a mapping (checked later)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return raw.get("schema") if isinstance(raw, dict) else None


def _cmd_fit(args) -> int:
    from multisurv.study.config import StudyConfig
    from multisurv.study.run import fit_study

    config = args.config
    if _schema_of(config) == CONFIG_SCHEMA:  # the retired format: the same model as a study config
        from multisurv.study.legacy import study_config_from_model_config

        config = study_config_from_model_config(config, args.out)
        print(f"{args.config} is a model config ({CONFIG_SCHEMA}), a format now retired: the same model is written "
              f"as a study config, {config}; use that file from now on ('multisurv run' on it also evaluates "
              "every model and writes the report).")
    result = fit_study(StudyConfig.from_yaml(config), args.out, progress=not args.no_progress)
    model_dir = result.run_dir / "model"
    if not (model_dir / "manifest.json").is_file():
        print(f"No model was saved in {model_dir}: see the warning above.", file=sys.stderr)
        return 1
    facts = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8")).get("extra", {})
    apparent = (f"apparent AUC {facts.get('apparent_auc', float('nan')):.3f}" if facts.get("endpoint") == "binary"
                else f"apparent C-index {facts.get('apparent_cindex', float('nan')):.3f}")
    print(f"Model {facts.get('model')!r} fitted on {facts.get('n_patients')} development patients "
          f"({facts.get('n_events')} events); {apparent} (optimistic: 'multisurv run' on the same config "
          "evaluates it).")
    print(f"Saved: {model_dir}")
    return 0


def _modality_tables(model, specs: list[str]) -> list[pd.DataFrame]:
    """``--table NAME=PATH``: a new cohort's table for the saved study's ``table`` modality NAME, read with that
    modality's settings (id column, columns, prefix) as the study read its development table."""
    from multisurv.features.table import read_table_modality
    from multisurv.registry import make_modality

    saved = {m["name"]: m for m in (getattr(model, "config", None) or {}).get("study", {}).get("modalities", [])
             if isinstance(m, dict) and m.get("kind") == "table"}
    out = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not path:
            raise ValueError(f"--table {spec!r}: write NAME=PATH, e.g. --table genes=new_expression.csv.")
        if name not in saved:
            raise ValueError(f"--table {spec!r}: the model's study has no table modality {name!r}"
                             + (f" (its table modalities: {', '.join(saved)})." if saved else
                                " (it has no table modality: pass feature tables with --features).")
                             + " Use the modality's name from the study config.")
        entry = {k: v for k, v in saved[name].items() if k not in ("name", "path")}
        out.append(read_table_modality(make_modality(name, entry), path))
    return out


def _cmd_predict(args) -> int:
    from multisurv.persistence import load_model

    model, manifest = load_model(args.model, allow_version_mismatch=args.allow_version_mismatch)
    cohort = read_outcomes(args.manifest)
    tables = [read_table(p) for p in (args.features or [])]
    tables += _modality_tables(model, args.table or [])
    _check_tables(cohort, tables, [*(args.features or []), *(t.split("=", 1)[-1] for t in args.table or [])],
                  args.manifest)
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
    output, what = ("probability", "an event probability") if "probability" in scores.columns else ("risk", "a risk")
    print(f"Scored {len(scores)} patients with the model of {args.model} ({manifest['model_class']}); "
          f"{int(scores[output].isna().sum())} without {what}. Written: {out}")
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
                                             "figures.primary model is fitted on the development cohort and saved "
                                             "in OUT/model). A retired model config (model_config.v1) is first "
                                             "written as the equivalent study config, OUT/study_config.yaml.")
    p.add_argument("--out", type=Path, required=True, help="Output folder (the model is saved in OUT/model).")
    p.add_argument("--no-progress", action="store_true", help="No progress bars.")
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
    p.add_argument("--features", type=Path, nargs="*", default=None,
                   help="Feature tables of the new cohort, with the model's column names (e.g. written by "
                        "'multisurv extract').")
    p.add_argument("--table", action="append", metavar="NAME=PATH",
                   help="The new cohort's table of the study's 'table' modality NAME, read with that modality's "
                        "settings (id column, columns, prefix); repeat for each table modality.")
    p.add_argument("--out", type=Path, required=True, help="Scores CSV to write.")
    p.add_argument("--allow-version-mismatch", action="store_true",
                   help="Load a model saved with other package versions (scores may differ).")
    p.set_defaults(func=_cmd_predict)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args()
    sys.exit(ns.func(ns))
