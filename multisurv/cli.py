"""The ``multisurv`` command line: thin wrappers around the library's stage functions.

Sub-commands: ``validate`` (check a manifest, list every problem), ``synth`` (write the synthetic cohort),
``run`` (run a study on a manifest, or a whole study described by a ``study_config.v1`` YAML file), ``demo``
(synth + run on the embedded synthetic cohort).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from pathlib import Path
from typing import Sequence

__all__ = ["main"]

logger = logging.getLogger("multisurv")

#: Modules that each add their own sub-commands with ``add_commands(subparsers)`` (one module per command
#: family keeps this file a thin table of contents).
_COMMAND_MODULES: tuple[str, ...] = ("multisurv.cli_extract", "multisurv.cli_km", "multisurv.cli_evaluate",
                                      "multisurv.cli_model", "multisurv.cli_classifier")


def _add_study_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default=None,
                   help="Local ResNet50 weights (a torch state_dict .pth) for the pathomics encoder. "
                        "Without it the encoder is randomly initialised (a warning says so).")
    p.add_argument("--workers", type=int, default=2, help="Processes for radiomics extraction (default 2).")
    p.add_argument("--cv", type=int, default=5, help="Cross-validation folds for penalties and late fusion.")
    p.add_argument("--bootstrap", type=int, default=1000, help="Bootstrap resamples for C-index intervals.")
    p.add_argument("--seed", type=int, default=0, help="Seed for every random step (default 0).")
    p.add_argument("--no-progress", action="store_true", help="Hide progress bars.")


def _cmd_validate(args) -> int:
    from multisurv.cohort.manifest import format_problems, validate_manifest

    problems = validate_manifest(args.manifest, clinical_spec=args.clinical_spec)
    if problems:
        print(format_problems(problems, source=str(args.manifest), limit=args.limit))
        return 1
    print(f"{args.manifest}: valid.")
    return 0


def _cmd_synth(args) -> int:
    from multisurv.cohort.synthetic import make_synthetic_cohort

    manifest = make_synthetic_cohort(args.out, n_development=args.n_development, n_external=args.n_external,
                                     random_state=args.seed, progress=not args.no_progress)
    print(f"Synthetic cohort written; manifest: {manifest}")
    return 0


def _run(manifest: Path, out: Path, args, *, truth=None, extra=None) -> int:
    from multisurv.cohort.manifest import load_manifest
    from multisurv.cohort.schema import load_clinical_spec
    from multisurv.pipeline import run_study
    from multisurv.report.tables import to_markdown
    from multisurv.report.report import summary_table

    spec = load_clinical_spec(getattr(args, "clinical_spec", None))
    cohort = load_manifest(manifest, clinical_spec=spec)
    result = run_study(cohort, out, development=args.development, weights=args.weights, n_workers=args.workers,
                       cv=args.cv, n_bootstrap=args.bootstrap, random_state=args.seed, truth=truth,
                       progress=not args.no_progress, extra_report=extra)
    print(to_markdown(summary_table(result.metrics)))
    print(f"\nReport: {result.run_dir / 'report.md'}")
    return 0


def _cmd_run(args) -> int:
    target = Path(args.manifest)
    if target.suffix.lower() in (".yaml", ".yml"):
        return _run_config(target, args)
    if args.out is None:
        raise ValueError(f"multisurv run {target}: '--out' is required when running on a manifest. Add "
                         "'--out DIR', or pass a study config (.yaml) that names its output folder.")
    return _run(target, Path(args.out), args)


def _data_hashes(cohort) -> "pd.DataFrame":  # noqa: F821
    """SHA-256 of every data file the cohort references (one row per patient and column)."""
    import pandas as pd

    from multisurv._hashing import sha256_file

    rows = []
    for pid, row in cohort.table.iterrows():
        for column in ("ct_image", "ct_mask", "wsi"):
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
    import numpy as np
    import pandas as pd

    from multisurv._atomic import write_csv_atomic
    from multisurv.cohort.schema import load_clinical_spec
    from multisurv.cohort.synthetic import make_synthetic_cohort
    from multisurv.cohort.synthetic_clinical import add_null_clinical_variables, write_clinical_spec

    syn = cfg.cohort.synthetic
    folder = out / "cohort"
    manifest = make_synthetic_cohort(folder, n_development=syn.n_development, n_external=syn.n_external,
                                     random_state=syn.seed)
    if syn.n_ct is None and syn.n_wsi is None and not syn.n_null_clinical:
        return manifest, folder / "truth.csv", None
    table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
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
        if target is None:
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


def _config_models(cfg) -> dict:
    from multisurv.config import FUSION_STRATEGIES
    from multisurv.fusion.early import EarlyFusionCox
    from multisurv.fusion.late import LateFusionCox
    from multisurv.scores.modality_score import ModalityScore
    from multisurv.selection.lasso_cox import LassoCoxSelector

    sel, fus, seed = cfg.selection, cfg.fusion, cfg.seed

    def score(name, prefix):
        selector = LassoCoxSelector(l1_ratio=sel.l1_ratio, cv=sel.cv, rule=sel.rule, max_features=sel.max_features,
                                    random_state=seed)
        return ModalityScore(name=name, prefix=prefix, selector=selector, random_state=seed)

    scores = [score("radscore", "ct__"), score("patscore", "wsi__"), score("clinscore", "clin__")]
    fusions = {
        "early": lambda: EarlyFusionCox(scores=scores, penalizer=fus.penalizer, random_state=seed),
        "late": lambda: LateFusionCox(scores=scores, cv=fus.cv, missing=fus.missing, random_state=seed),
        "late_insample": lambda: LateFusionCox(scores=scores, cv=fus.cv, missing=fus.missing, stacking=False,
                                               random_state=seed),
        "late_pattern": lambda: LateFusionCox(scores=scores, cv=fus.cv, missing="pattern", random_state=seed),
    }
    models = {"radiomics": scores[0], "pathomics": scores[1], "clinical": scores[2]}
    for strategy in fus.strategies:
        models[FUSION_STRATEGIES[strategy]] = fusions[strategy]()
    return models


def _run_config(path: Path, args) -> int:
    """``multisurv run CONFIG.yaml``: the whole study from one config; the run folder records how to redo it."""
    import json

    import pandas as pd
    import yaml

    from multisurv import __version__
    from multisurv._atomic import write_csv_atomic, write_json_atomic
    from multisurv._hashing import sha256_file
    from multisurv.cohort.manifest import load_manifest
    from multisurv.cohort.schema import load_clinical_spec
    from multisurv.config import StudyConfig
    from multisurv.pipeline import run_study
    from multisurv.report.report import summary_table
    from multisurv.report.tables import to_markdown

    started = time.perf_counter()
    cfg = StudyConfig.from_yaml(path)
    out = Path(args.out).resolve() if args.out is not None else cfg.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")  # as written
    resolved = cfg.to_dict()
    resolved["out"] = str(out)
    (out / "config.resolved.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False), encoding="utf-8")

    truth = None
    if cfg.cohort.synthetic is not None:
        manifest, truth_path, spec_path = _synthetic_manifest(cfg, out)
        truth = pd.read_csv(truth_path, dtype={"patient_id": str}).set_index("patient_id")
    else:
        manifest, spec_path = cfg.cohort.manifest, cfg.cohort.clinical_spec
    spec = load_clinical_spec(str(spec_path) if spec_path else None)
    cohort = load_manifest(manifest, clinical_spec=spec)
    hashes = _data_hashes(cohort)
    write_csv_atomic(out / "data_hashes.csv", hashes, index=False)
    inputs = {"config": path.resolve(), "manifest": Path(manifest), "clinical_spec": spec_path}
    from multisurv.features.radiomics import shipped_params

    inputs["radiomics_params"] = shipped_params().get(cfg.radiomics.params, Path(cfg.radiomics.params))
    record = {
        "multisurv": __version__, "command": " ".join(["multisurv", *sys.argv[1:]]) if sys.argv else "",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seeds": {"study": cfg.seed, "synthetic_cohort": cfg.cohort.synthetic.seed if cfg.cohort.synthetic else None},
        "inputs_sha256": {k: (sha256_file(v) if v is not None else None) for k, v in inputs.items()},
        "data_files": {"n": int(len(hashes)),
                       "sha256_of_list": _sha256_text("\n".join(hashes["sha256"].tolist()))},
    }
    write_json_atomic(out / "run.json", json.loads(json.dumps(record, default=str)))

    extra = {"Config": str(path.resolve()), "Study": cfg.name}
    val = cfg.validation
    result = run_study(
        cohort, out, development=cfg.cohort.development, weights=cfg.pathomics.weights, feature_dir=cfg.feature_cache,
        n_workers=cfg.radiomics.workers, cv=cfg.selection.cv, n_bootstrap=cfg.validation.n_bootstrap,
        random_state=cfg.seed, truth=truth, progress=not args.no_progress, extra_report=extra,
        radiomics_params=cfg.radiomics.params,
        pathomics_options={"encoder": cfg.pathomics.encoder, "tile_size": cfg.pathomics.tile_size,
                           "max_tiles": cfg.pathomics.max_tiles},
        models=_config_models(cfg),
        figure_options={"primary": cfg.figures.primary, "t0": cfg.figures.horizon, "roc_times": cfg.figures.roc_times,
                        "cutoff_methods": cfg.figures.cutoff_methods, "fixed_cutoff": cfg.figures.fixed_cutoff},
        internal_validation=None if val.internal == "none" else {
            "method": val.internal, "n_resamples": val.n_resamples, "n_splits": val.n_splits,
            "n_repeats": val.n_repeats},
        harmonisation=None if cfg.harmonisation.method == "none" else {
            "empirical_bayes": cfg.harmonisation.empirical_bayes})
    record["elapsed_s"] = round(time.perf_counter() - started, 1)
    write_json_atomic(out / "run.json", json.loads(json.dumps(record, default=str)))
    print(to_markdown(summary_table(result.metrics)))
    if result.internal is not None:
        from multisurv.report.report import internal_validation_table

        print("\nInternal validation (development cohort):\n")
        print(to_markdown(internal_validation_table(result.internal)))
    print(f"\nReport: {result.run_dir / 'report.md'}")
    print(f"Study {cfg.name!r} finished in {record['elapsed_s']:.0f} s.")
    return 0


def _sha256_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _cmd_demo(args) -> int:
    import pandas as pd

    from multisurv.cohort.synthetic import make_synthetic_cohort

    out = Path(args.out)
    started = time.perf_counter()
    manifest = make_synthetic_cohort(out / "cohort", n_development=args.n_development, n_external=args.n_external,
                                     random_state=args.seed, progress=not args.no_progress)
    truth = pd.read_csv(out / "cohort" / "truth.csv", dtype={"patient_id": str}).set_index("patient_id")
    args.development = "development"
    extra = {"Cohort": f"synthetic GIST-like cohort (seed {args.seed}), {args.n_development} development and "
                       f"{args.n_external} external patients"}
    code = _run(manifest, out, args, truth=truth, extra=extra)
    print(f"Demo finished in {time.perf_counter() - started:.0f} s.")
    return code


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``multisurv`` command."""
    from multisurv import __version__

    parser = argparse.ArgumentParser(prog="multisurv", description="Multimodal survival modelling for oncology.")
    parser.add_argument("--version", action="version", version=f"multisurv {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only warnings and errors in the log.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="Check a cohort manifest and list every problem.")
    p.add_argument("manifest", type=Path)
    p.add_argument("--clinical-spec", default=None, help="Clinical variable spec (YAML); default: the GIST spec.")
    p.add_argument("--limit", type=int, default=None, help="Print at most this many problems (default: all).")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("synth", help="Write the synthetic GIST-like multimodal cohort.")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-development", type=int, default=200)
    p.add_argument("--n-external", type=int, default=100)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("run", help="Run the study on a manifest, or the study a config file (.yaml) describes: "
                                  "features, scores, fusion, evaluation, report.")
    p.add_argument("manifest", type=Path, metavar="MANIFEST_OR_CONFIG",
                   help="A cohort manifest (.csv), or a study config (.yaml/.yml, format study_config.v1; the other "
                        "options are then taken from the config and only --out and --no-progress apply).")
    p.add_argument("--out", type=Path, default=None, help="Output folder (required for a manifest; overrides the "
                                                          "config's 'out').")
    p.add_argument("--clinical-spec", default=None)
    p.add_argument("--development", default="development", help="Cohort label used for fitting.")
    _add_study_options(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("demo", help="Write the synthetic cohort and run the whole study on it.")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.add_argument("--n-development", type=int, default=200)
    p.add_argument("--n-external", type=int, default=100)
    _add_study_options(p)
    p.set_defaults(func=_cmd_demo)
    for module in _COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``multisurv`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        # Data and setup errors carry a message written for the user; a traceback would only hide it.
        print(f"multisurv {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
