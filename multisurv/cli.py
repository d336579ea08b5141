"""The ``multisurv`` command line: thin wrappers around the library's stage functions.

Sub-commands: ``validate`` (check a manifest, list every problem), ``synth`` (write the synthetic cohort),
``run`` (run a study on a manifest), ``demo`` (synth + run on the embedded synthetic cohort).
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
                                      "multisurv.cli_model")


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
    return _run(Path(args.manifest), Path(args.out), args)


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

    p = sub.add_parser("run", help="Run the study on a manifest: features, scores, fusion, evaluation, report.")
    p.add_argument("manifest", type=Path)
    p.add_argument("--out", type=Path, required=True)
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
