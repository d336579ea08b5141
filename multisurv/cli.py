"""The ``multisurv`` command line: thin wrappers around the library's stage functions.

Sub-commands: ``validate`` (check a manifest, list every problem), ``synth`` (write the synthetic cohort),
``run`` (run a study on a manifest, or a whole study described by a ``study_config.v1`` YAML file), ``demo``
(synth + run on the embedded synthetic cohort).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
import time
from pathlib import Path
from typing import Sequence

from multisurv.exceptions import ResourceError

__all__ = ["main"]

logger = logging.getLogger("multisurv")

#: Modules that each add their own sub-commands with ``add_commands(subparsers)`` (one module per command
#: family keeps this file a thin table of contents).
_COMMAND_MODULES: tuple[str, ...] = ("multisurv.cli_extract", "multisurv.cli_km", "multisurv.cli_evaluate",
                                      "multisurv.cli_model", "multisurv.cli_classifier",
                                      "multisurv.cli_simulate")


#: Options of ``run`` on a manifest and of ``demo``, with their defaults and the config key each sets.
_STUDY_OPTIONS = {  # dest: (default, config keys)
    "weights": (None, ("pathomics.weights",)),
    "workers": (2, ("radiomics.workers",)),
    "cv": (5, ("selection.cv", "fusion.cv")),
    "bootstrap": (1000, ("validation.n_bootstrap",)),
    "seed": (0, ("seed",)),
}


def _add_study_options(p: argparse.ArgumentParser) -> None:
    # defaults are None so that an option given with a config file (which holds every setting) can be refused
    p.add_argument("--weights", default=None,
                   help="Local weights of the pathomics encoder (a torch state_dict .pth). Without them the encoder "
                        "is randomly initialised (a warning says so).")
    p.add_argument("--workers", type=int, default=None, help="Processes for radiomics extraction (default 2).")
    p.add_argument("--cv", type=int, default=None, help="Cross-validation folds for penalties and late fusion "
                                                        "(default 5).")
    p.add_argument("--bootstrap", type=int, default=None, help="Bootstrap resamples for C-index intervals "
                                                               "(default 1000).")
    p.add_argument("--seed", type=int, default=None, help="Seed for every random step (default 0).")
    p.add_argument("--no-progress", action="store_true", help="Hide progress bars.")


def _apply_options(raw: dict, args) -> dict:
    """The config mapping with the command-line study options written into their keys."""
    for dest, (default, keys) in _STUDY_OPTIONS.items():
        value = getattr(args, dest, None)
        if value is None:
            value = default
        if value is None:
            continue
        for key in keys:
            section, _, name = key.rpartition(".")
            target = raw.setdefault(section, {}) if section else raw
            target[name] = str(Path(value).resolve()) if dest == "weights" else value
    return raw


def _validate_options(args) -> tuple[Path, dict, tuple]:
    """The manifest, the load_manifest options and the image/mask pairs ``validate`` checks (from a study config's
    modalities and clinical spec when ``--config`` is given)."""
    if args.config is None:
        if args.manifest is None:
            raise ValueError("Give the manifest to check, or --config STUDY.yaml (its cohort.manifest).")
        return args.manifest, {"clinical_spec": args.clinical_spec}, (("ct_image", "ct_mask"),)
    from multisurv.study.config import StudyConfig
    from multisurv.study.run import manifest_options

    if args.clinical_spec is not None:
        raise ValueError("--clinical-spec with --config: the study config's cohort.clinical_spec is used. Remove "
                         "--clinical-spec, or set cohort.clinical_spec in the config.")
    cfg = StudyConfig.from_yaml(args.config)
    if cfg.cohort.synthetic is not None and args.manifest is None:
        raise ValueError(f"{args.config}: the study uses a synthetic cohort, which 'multisurv run' writes and "
                         "checks itself; there is no manifest to validate.")
    options = manifest_options(cfg)
    return args.manifest or cfg.cohort.manifest, options, tuple(options["pairs"])


def _cmd_validate(args) -> int:
    from multisurv.cohort.manifest import format_problems, validate_manifest

    manifest, options, pairs = _validate_options(args)
    problems = validate_manifest(manifest, **options)
    if not problems and pairs and not args.skip_image_checks and importlib.util.find_spec("SimpleITK") is not None:
        from multisurv.cohort.images import check_manifest_images

        problems, warned = check_manifest_images(manifest, pairs=pairs)  # swapped image/mask, NaN voxels, ...
        for message in warned:
            print(f"warning: {message}")
    if problems:
        print(format_problems(problems, source=str(manifest), limit=args.limit))
        return 1
    print(f"{manifest}: valid" + (f" for the study {args.config}." if args.config else "."))
    from multisurv.cohort.manifest import load_manifest

    counts = load_manifest(manifest, **options).slide_counts()
    if counts.n_patients:  # several slides of a patient are listed with ';' in a slide cell
        print(counts.sentence()[0].upper() + counts.sentence()[1:] + ".")
    return 0


def _cmd_synth(args) -> int:
    from multisurv.cohort.synthetic import make_synthetic_cohort

    manifest = make_synthetic_cohort(args.out, n_development=args.n_development, n_external=args.n_external,
                                     random_state=args.seed, progress=not args.no_progress)
    print(f"Synthetic cohort written; manifest: {manifest}")
    return 0


def _print_result(result, labels=None) -> None:
    from multisurv.report.report import internal_validation_table, summary_table
    from multisurv.report.tables import to_markdown

    if getattr(result, "endpoint", None) is not None:  # a binary-endpoint study
        from multisurv.report.binary import binary_summary_table

        print(to_markdown(binary_summary_table(result)))
        print(f"\nReport: {result.run_dir / 'report.md'}")
        return
    print(to_markdown(summary_table(result.metrics, labels=labels)))
    if result.internal is not None:
        print("\nInternal validation (development cohort):\n")
        print(to_markdown(internal_validation_table(result.internal, labels)))
    print(f"\nReport: {result.run_dir / 'report.md'}")


def _run_config_object(cfg, out: Path | None, args) -> int:
    from multisurv.registry import model_labels
    from multisurv.study.run import run_study

    started = time.perf_counter()
    result = run_study(cfg, run_dir=out, progress=not args.no_progress)
    _print_result(result, model_labels(cfg.modalities))
    print(f"Study {cfg.name!r} finished in {time.perf_counter() - started:.0f} s.")
    return 0


def _cmd_run(args) -> int:
    from multisurv.study.config import StudyConfig

    target = Path(args.manifest)
    if target.suffix.lower() in (".yaml", ".yml"):
        given = [f"--{name.replace('_', '-')}" for name in (*_STUDY_OPTIONS, "clinical_spec")
                 if getattr(args, name, None) is not None]
        if args.development != "development":
            given.append("--development")
        if given:
            raise ValueError(f"multisurv run {target}: {', '.join(given)} cannot be combined with a study config, "
                             "which holds every setting (only --out and --no-progress apply). Set them in the "
                             "config (see data_schemas/study_config.v1.yaml) and run again.")
        return _run_config_object(StudyConfig.from_yaml(target), args.out, args)
    if args.out is None:
        raise ValueError(f"multisurv run {target}: '--out' is required when running on a manifest. Add "
                         "'--out DIR', or pass a study config (.yaml) that names its output folder.")
    raw = {"schema": "study_config.v1", "name": target.stem, "out": str(Path(args.out).resolve()),
           "cohort": {"manifest": str(target.resolve()), "development": args.development}}
    if args.clinical_spec is not None:
        raw["cohort"]["clinical_spec"] = str(Path(args.clinical_spec).resolve())
    cfg = StudyConfig.from_dict(_apply_options(raw, args))
    return _run_config_object(cfg, Path(args.out), args)


def _cmd_demo(args) -> int:
    """``multisurv demo``: ``multisurv run`` on the study config shipped in the package (demo_study.yaml)."""
    import yaml

    from multisurv.cohort.schema import schemas_dir
    from multisurv.study.config import StudyConfig

    path = schemas_dir() / "demo_study.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["out"] = str(Path(args.out).resolve())
    raw["cohort"]["synthetic"].update(n_development=args.n_development, n_external=args.n_external)
    if args.seed is not None:
        raw["cohort"]["synthetic"]["seed"] = args.seed
    cfg = StudyConfig.from_dict(_apply_options(raw, args), base=path.parent, source=path)
    return _run_config_object(cfg, Path(args.out), args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``multisurv`` command."""
    from multisurv import __version__

    parser = argparse.ArgumentParser(prog="multisurv", description="Multimodal survival modelling for oncology.")
    parser.add_argument("--version", action="version", version=f"multisurv {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only warnings and errors in the log.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="Check a cohort manifest and list every problem.")
    p.add_argument("manifest", type=Path, nargs="?", default=None,
                   help="The manifest CSV (default with --config: the config's cohort.manifest).")
    p.add_argument("--config", type=Path, default=None,
                   help="Study config (study_config.v1): check the manifest as 'multisurv run' will, with the "
                        "columns its modalities read and its clinical spec (and its binary endpoint column).")
    p.add_argument("--clinical-spec", default=None, help="Clinical variable spec (YAML); default: the GIST spec.")
    p.add_argument("--limit", type=int, default=None, help="Print at most this many problems (default: all).")
    p.add_argument("--skip-image-checks", action="store_true",
                   help="Do not read the CT images and masks (by default each pair is read to catch a swapped image "
                        "and mask, an image given as its own mask, NaN voxels and fragmented ROIs).")
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
    p.add_argument("--clinical-spec", default=None, help="Clinical variable spec (YAML); default: the GIST spec.")
    p.add_argument("--development", default="development", help="Cohort label used for fitting (manifest only).")
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
    """Entry point of the ``multisurv`` console script; returns the exit code.

    Parses the arguments, sets up logging (INFO, WARNING with ``--quiet``) and runs the sub-command. Errors written
    for the user are printed to stderr as one line instead of a traceback.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``multisurv``; default: ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code: the sub-command's (0 on success), 2 for a data or setup error (``ValueError``,
        ``FileNotFoundError``, ``ImportError``), 3 for a fault of the machine (disk, memory, permissions: a
        ``ResourceError`` or a recognised ``OSError`` / ``MemoryError``). Any other exception propagates.

    Examples
    --------
    >>> main(["validate", "cohort.csv"])  # doctest: +SKIP
    0
    >>> main(["km", "missing.csv", "--time-col", "t", "--event-col", "e"])  # doctest: +SKIP
    2

    (The second prints ``multisurv km: error: FileNotFoundError: missing.csv does not exist ...`` to stderr;
    ``multisurv validate`` returns 1 when the manifest has problems.)
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        return args.func(args)
    except ResourceError as exc:
        # A fault of the machine (disk, memory, GPU, permissions): its own exit code, so scripts can tell it apart.
        print(f"multisurv {args.command}: stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError, ImportError) as exc:
        # Data and setup errors carry a message written for the user; a traceback would only hide it.
        print(f"multisurv {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as exc:
        from multisurv._faults import resource_fault

        fault = resource_fault(exc)
        if fault is None:
            raise
        where = f" while writing {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"multisurv {args.command}: stopped: {fault[0]}{where} ({type(exc).__name__}: {exc}). Fix: {fault[1]}, "
              "then rerun the same command (results already stored are kept and reused).", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
