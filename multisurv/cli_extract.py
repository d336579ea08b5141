"""``multisurv extract <modality> MANIFEST --out DIR``: batch feature extraction from the command line.

Sub-commands (one ``_add_<modality>`` function each, listed in ``_EXTRACTORS``):

- ``radiomics``: PyRadiomics features of each patient's CT (``ct_image``, ``ct_mask`` columns).
- ``pathomics``: deep features of each patient's whole-slide image (``wsi`` column), pooled over its tissue
  (or, with ``--classifier``, tumour) tiles; one HDF5 of patch coordinates and features per slide.

Every sub-command shares the batch options (:func:`add_batch_options`: ``--out``, ``--workers``,
``--scheduler``, ``--no-progress``) and writes its tables with :func:`write_tables`:

- ``<stage>_features.parquet`` and ``<stage>_features.csv``: one row per patient, one column per feature;
- ``<stage>_diagnostics.csv``: side information per patient (e.g. PyRadiomics' diagnostics);
- ``<stage>_errors.csv``: ``patient_id, file, reason, error_type``, one row per failed patient.

Results are cached per patient under ``DIR/<modality>/<name>_<hash8>/`` (see
:class:`multisurv.features.store.FeatureStore`): an interrupted run resumes where it stopped and a rerun
with nothing changed recomputes nothing. The exit code is 0 when every patient succeeded, 1 when some failed
(their reasons are in the errors table), 2 for a usage or input error.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator

from multisurv._faults import check_device, check_output_dir

__all__ = ["add_commands", "add_batch_options", "write_tables"]

#: How long to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = "30s"


def add_commands(subparsers) -> None:
    """Add ``extract`` and its sub-commands to the ``multisurv`` parser's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned for the ``multisurv`` command.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="multisurv")
    >>> add_commands(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["extract", "radiomics", "cohort.csv", "--out", "features"])
    >>> args.modality, args.params, args.workers, args.func.__name__
    ('radiomics', 'radiomics_ct', 1, '_cmd_radiomics')
    """
    p = subparsers.add_parser("extract", help="Extract features for every patient of a manifest (cached, resumable).",
                              description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="modality", required=True, metavar="{" + ",".join(_EXTRACTORS) + "}")
    for add in _EXTRACTORS.values():
        add(sub)


def add_batch_options(p: argparse.ArgumentParser) -> None:
    """The options every ``extract`` sub-command shares.

    Adds the positional ``manifest`` and the options ``--out`` (required), ``--workers`` (default 1),
    ``--scheduler`` (a Dask address) and ``--no-progress``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        A sub-command's parser.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="multisurv extract radiomics")
    >>> add_batch_options(parser)
    >>> args = parser.parse_args(["cohort.csv", "--out", "features"])
    >>> args.manifest, args.out, args.workers, args.scheduler, args.no_progress
    (PosixPath('cohort.csv'), PosixPath('features'), 1, None, False)
    """
    p.add_argument("manifest", type=Path, help="CSV with 'patient_id' and the modality's input columns "
                                                "(other columns are ignored; relative paths are read from its folder).")
    p.add_argument("--out", type=Path, required=True, help="Output folder: tables, and the per-patient cache.")
    p.add_argument("--workers", type=int, default=1, help="Local worker processes (default 1).")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address (e.g. tcp://10.0.0.5:8786): run on that cluster instead of local "
                        "processes.")
    p.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")


# --------------------------------------------------------------------------------------------------------------
# radiomics
# --------------------------------------------------------------------------------------------------------------


def _add_radiomics(sub) -> None:
    p = sub.add_parser("radiomics", help="PyRadiomics features of each patient's CT and tumour mask.",
                       description="PyRadiomics features of each patient's CT (columns 'ct_image': a file or a DICOM "
                                   "series folder, and 'ct_mask': the label volume).")
    add_batch_options(p)
    p.add_argument("--params", default="radiomics_ct",
                   help="PyRadiomics params: a YAML file, or a shipped name: radiomics_ct (default, the same as "
                        "'multisurv run' and extract_radiomics, so 'run' reuses this cache: no resampling, 25 HU "
                        "bins), radiomics_ct_ibsi (1 mm B-spline resampling, 25 HU bins), radiomics_gist_2246 "
                        "(original + wavelet + LoG, 2,246 features).")
    p.add_argument("--label", type=int, default=None,
                   help="Mask value of the tumour (overrides 'label' in the params; default: the params' value, 1 in "
                        "the shipped files).")
    p.set_defaults(func=_cmd_radiomics)


def _cmd_radiomics(args) -> int:
    from multisurv._optional import require
    from multisurv.features.cases import load_cases
    from multisurv.features.radiomics import extract_radiomics_cases, load_radiomics_params

    require("pyarrow", extra="radiomics")  # checked before hours of extraction, not after
    check_output_dir(args.out)
    params = load_radiomics_params(args.params)  # invalid params stop here, before any patient
    if args.label is not None:
        params["setting"] = {**(params.get("setting") or {}), "label": args.label}
        params = load_radiomics_params(params)
    cases, skipped = load_cases(args.manifest, roles=("ct_image", "ct_mask"))
    with _client(args.scheduler) as client:
        result = extract_radiomics_cases(cases, out_dir=args.out, params=params, n_workers=args.workers,
                                         progress=not args.no_progress, client=client)
    return _report(result, args.out, "radiomics", n_cases=len(cases), skipped=skipped, unit="CT case")


# --------------------------------------------------------------------------------------------------------------
# pathomics
# --------------------------------------------------------------------------------------------------------------


def _add_pathomics(sub) -> None:
    p = sub.add_parser("pathomics", help="Deep features of each patient's whole-slide image (tiles -> CNN -> pooled).",
                       description="Deep features of each patient's whole-slide image (column 'wsi': any slide OpenSlide "
                                   "reads): tissue tiles -> encoder -> slide vector; patch coordinates and features "
                                   "are kept per slide in HDF5 (DIR/wsi/<settings>/patches/).")
    add_batch_options(p)
    p.add_argument("--encoder", default=None,
                   help="Tile encoder: resnet50 (default, as in the reference study; 2048-d), resnet50_trunc (CLAM's "
                        "1024-d), resnet34, resnet18, or a pathology foundation model: uni, uni2_h, virchow2, "
                        "h_optimus_0, gigapath, phikon_v2 (tiled at 0.5 um/px unless --mpp/--magnification/--level "
                        "says otherwise). With --classifier and no --encoder, the classifier's fine-tuned backbone "
                        "encodes.")
    p.add_argument("--weights", default=None,
                   help="Encoder weights: a local checkpoint (.safetensors, or a torch state_dict .pth/.bin; or the "
                        "folder holding it, e.g. a Hugging Face download), 'imagenet' (ResNets: torchvision download) "
                        "or 'hub' (foundation models: timm downloads from the Hugging Face hub; needs internet and, "
                        "for gated models, a token). Default: random initialisation (a warning says so; for dry runs "
                        "only).")
    p.add_argument("--classifier", default=None, metavar="CKPT",
                   help="Tissue classifier checkpoint (from multisurv train-classifier, or train_tile_classifier + "
                        "TileClassifier.save): pool only tiles predicted tumour.")
    p.add_argument("--threshold", type=float, default=0.5, help="P(tumour) needed to keep a tile (default 0.5).")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--mpp", type=float, default=None, help="Tile at this many microns per pixel (e.g. 0.5).")
    where.add_argument("--magnification", type=float, default=None, help="Tile at this objective power (e.g. 20).")
    where.add_argument("--level", type=int, default=None,
                       help="Tile this pyramid level (no resizing). Default: the encoder's resolution (0.5 um/px for "
                            "the foundation models), else level 0.")
    p.add_argument("--tile-size", type=int, default=224, help="Tile side in pixels (default 224).")
    p.add_argument("--min-tissue", type=float, default=0.5, help="Minimum tissue fraction of a tile (default 0.5).")
    p.add_argument("--max-tiles", type=int, default=None, help="Encode at most this many tiles per slide (seeded).")
    p.add_argument("--pooling", choices=("mean", "median", "max"), default="mean",
                   help="Patch features -> slide vector (default mean).")
    p.add_argument("--batch-size", type=int, default=None,
                   help="Tiles per forward pass (default: from the machine, printed: 32 on a CPU, up to 512 with a "
                        "large GPU).")
    p.add_argument("--loader-workers", type=int, default=None,
                   help="Processes decoding tiles while the model runs, one pool for the whole run (default: from "
                        "the machine, printed: 1 on a CPU, every core but one with a GPU; 0 = none).")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1... (default: CUDA when available).")
    p.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default="auto",
                   help="Forward-pass precision (default auto: bf16 on GPUs that support it, else fp16; fp32 on a "
                        "CPU).")
    p.add_argument("--compile", action="store_true", help="torch.compile the encoder (GPU; tens of seconds of "
                                                          "warm-up, then faster).")
    p.add_argument("--slide-mpp", type=float, default=None,
                   help="Microns per pixel of level 0 for slides whose metadata do not record it (e.g. 0.25 for "
                        "40x scans); needed to tile such slides at a resolution.")
    p.add_argument("--stain", choices=("macenko", "reinhard"), default=None,
                   help="Stain normalisation of every tile, on the device, fitted on --stain-reference (default: "
                        "none). Part of the cache key.")
    p.add_argument("--stain-reference", type=Path, default=None, metavar="IMAGE",
                   help="Reference image (PNG, JPEG, TIFF) of well-stained H&E tissue for --stain.")
    p.add_argument("--full-hash", action="store_true",
                   help="Fingerprint slides by the SHA-256 of every byte (default: size + a 16 MiB sample, so a "
                        "multi-GB slide is not read again on every run).")
    p.add_argument("--no-qc", action="store_true",
                   help="Do not write the QC thumbnail per slide (patches/<patient>.qc.png: tiles coloured by "
                        "predicted class, pooled tiles outlined).")
    p.set_defaults(func=_cmd_pathomics)


def _cmd_pathomics(args) -> int:
    from multisurv._optional import require
    from multisurv.features.cases import load_cases
    from multisurv.features.wsi.pathomics import extract_pathomics_cases

    require("pyarrow", extra="radiomics")  # Parquet tables; checked before hours of extraction, not after
    require("h5py", extra="wsi")
    check_output_dir(args.out)
    check_device(args.device)
    # No --encoder: the classifier's backbone encodes when there is one (the study's design), else ResNet-50.
    encoder = args.encoder or (None if args.classifier else "resnet50")
    stain = None
    if (args.stain is None) != (args.stain_reference is None):
        raise ValueError("--stain and --stain-reference go together: name the method and the reference image.")
    if args.stain is not None:
        from multisurv.features.wsi.stain import load_stain_normalizer

        stain = load_stain_normalizer(args.stain, args.stain_reference)  # a bad reference stops here
    cases, skipped = load_cases(args.manifest, roles=("wsi",), several=("wsi",))  # 'a.svs;b.svs': one patient
    with _client(args.scheduler) as client:
        result = extract_pathomics_cases(
            cases, out_dir=args.out, encoder=encoder, weights=args.weights, classifier=args.classifier,
            threshold=args.threshold, tile_size=args.tile_size, level=args.level, mpp=args.mpp,
            magnification=args.magnification, slide_mpp=args.slide_mpp, min_tissue=args.min_tissue,
            max_tiles=args.max_tiles, pooling=args.pooling, batch_size=args.batch_size,
            loader_workers=args.loader_workers, device=args.device, precision=args.precision, compile=args.compile,
            stain=stain, full_hash=args.full_hash, n_workers=args.workers, client=client,
            progress=not args.no_progress, qc=not args.no_qc)
    return _report(result, args.out, "pathomics", n_cases=len(cases), skipped=skipped, unit="slide")


#: Sub-commands of ``multisurv extract``: name -> function adding its parser.
_EXTRACTORS: dict[str, Callable[[Any], None]] = {"radiomics": _add_radiomics, "pathomics": _add_pathomics}


# --------------------------------------------------------------------------------------------------------------
# shared
# --------------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _client(address: str | None) -> Iterator[Any]:
    if address is None:
        yield None
        return
    from multisurv._optional import require

    distributed = require("distributed", extra="dask")
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise ValueError(f"Cannot reach the Dask scheduler at {address!r} ({exc}). Check the address (e.g. "
                         "tcp://host:8786) and that the scheduler is running, or leave out --scheduler to use local "
                         "processes.") from exc
    try:
        yield client
    finally:
        client.close()


def write_tables(result, out: Path, stage: str) -> dict[str, Path]:
    """Write the features (Parquet and CSV), diagnostics and errors tables of an extraction atomically.

    Parameters
    ----------
    result : ExtractionResult
        What the extraction returned (its ``features``, ``info`` and ``failures``).
    out : Path
        Output folder.
    stage : str
        File name prefix, e.g. ``"radiomics"``.

    Returns
    -------
    dict
        ``{"features", "features_csv", "diagnostics", "errors"}`` -> path written.

    Examples
    --------
    >>> paths = write_tables(result, Path("features"), "radiomics")  # doctest: +SKIP
    >>> paths["features"].name  # doctest: +SKIP
    'radiomics_features.parquet'
    """
    from multisurv._atomic import write_atomic, write_csv_atomic

    out = Path(out)
    paths = {"features": out / f"{stage}_features.parquet", "features_csv": out / f"{stage}_features.csv",
             "diagnostics": out / f"{stage}_diagnostics.csv", "errors": out / f"{stage}_errors.csv"}
    write_atomic(paths["features"], lambda p: result.features.to_parquet(p, engine="pyarrow"))
    write_csv_atomic(paths["features_csv"], result.features)
    write_csv_atomic(paths["diagnostics"], result.info)
    errors = result.failures.rename(columns={"path": "file", "message": "reason"})[
        ["patient_id", "file", "reason", "error_type"]]
    write_csv_atomic(paths["errors"], errors, index=False)
    return paths


def _report(result, out: Path, stage: str, *, n_cases: int, skipped: list[str], unit: str) -> int:
    paths = write_tables(result, out, stage)
    n_ok, n_failed = len(result.features), len(result.failures)
    print(f"{stage}: {n_ok} of {n_cases} {unit}s extracted ({result.n_cached} from the cache in "
          f"{result.store_dir}); {n_failed} failed.")
    if skipped:
        print(f"{len(skipped)} patient(s) without {unit} input skipped.")
    print(f"Features: {paths['features']} (and .csv); diagnostics: {paths['diagnostics']}.")
    if n_failed:
        print(f"{n_failed} {unit}(s) failed; see {paths['errors']}")
        return 1
    return 0
