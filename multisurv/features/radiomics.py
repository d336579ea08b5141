"""extract_radiomics: PyRadiomics features of each patient's CT tumour mask, cached and fault-tolerant.

PyRadiomics is driven by a YAML params file (default: ``data_schemas/radiomics_ct.yaml``), validated once
against PyRadiomics' own schema before any patient is processed. Features get the ``ct__`` prefix
(``ct__original_glcm_Contrast``); PyRadiomics' ``diagnostics_*`` entries (versions, settings, image and
mask hashes, ROI size...) are kept as side information (``ExtractionResult.info`` and ``info.csv``).
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from functools import partial
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

from multisurv._optional import require
from multisurv.features.batch import ExtractionResult, case_error, run_batch
from multisurv.features.store import FeatureStore
from multisurv.features.volume import check_geometry, check_image_and_mask, check_resampled_size, check_roi, read_volume

__all__ = ["extract_radiomics", "extract_radiomics_cases", "load_radiomics_params", "default_params_path",
           "shipped_params", "PREFIX", "DEPRECATED_PARAMS"]

logger = logging.getLogger(__name__)

#: Column prefix of CT radiomics features.
PREFIX = "ct__"
_PARAMS_FILE = "radiomics_ct.yaml"
#: Old names of shipped params files -> their current names (still accepted, with a FutureWarning).
DEPRECATED_PARAMS = {"radiomics_gist_2266": "radiomics_gist_2246"}


def default_params_path() -> Path:
    """Path of multisurv's default PyRadiomics params file (``radiomics_ct.yaml``).

    It lives in ``data_schemas/`` (found by ``multisurv.cohort.schema.schemas_dir()``).

    Returns
    -------
    Path
        The file's path.

    Raises
    ------
    FileNotFoundError
        When the file is not there (a broken installation).

    Examples
    --------
    >>> default_params_path().name
    'radiomics_ct.yaml'
    """
    from multisurv.cohort.schema import schemas_dir

    candidate = schemas_dir() / _PARAMS_FILE
    if not candidate.is_file():
        raise FileNotFoundError(
            f"multisurv's default radiomics params file {_PARAMS_FILE!r} was not found in {candidate.parent}. "
            "Reinstall multisurv or pass params='path/to/params.yaml'."
        )
    return candidate


def shipped_params() -> dict[str, Path]:
    """The PyRadiomics params files shipped with multisurv, by name (``radiomics_*.yaml`` in ``data_schemas/``).

    - ``radiomics_ct``: the library default (original image, bin width 25 HU, no resampling);
    - ``radiomics_ct_ibsi``: close to IBSI practice (1 mm isotropic B-spline resampling, bin width 25 HU);
    - ``radiomics_gist_2246``: the reference GIST study's set (original + 8 wavelet + 15 LoG images; 2,246
      features, see the file for the count). Its old name ``radiomics_gist_2266`` (the study's reported count,
      which these image types cannot give) still works, with a ``FutureWarning``; it is listed here too, so
      that configs naming it stay valid.

    Returns
    -------
    dict of str to Path
        Name (the file's stem) -> params file, sorted by name, the deprecated names added.

    Examples
    --------
    >>> sorted(shipped_params())
    ['radiomics_ct', 'radiomics_ct_ibsi', 'radiomics_gist_2246', 'radiomics_gist_2266']
    >>> shipped_params()["radiomics_gist_2266"] == shipped_params()["radiomics_gist_2246"]
    True
    """
    folder = default_params_path().parent
    found = {path.stem: path for path in sorted(folder.glob("radiomics_*.yaml"))}
    found.update({old: found[new] for old, new in DEPRECATED_PARAMS.items() if new in found})
    return found


def load_radiomics_params(params: str | os.PathLike | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read and validate PyRadiomics parameters.

    Parameters
    ----------
    params : str, Path, mapping or None
        None for multisurv's default (``data_schemas/radiomics_ct.yaml``), the name of a shipped params file
        (see :func:`shipped_params`, e.g. ``"radiomics_ct_ibsi"``; a deprecated old name warns), the path of a
        PyRadiomics YAML params file, or the same structure as a dict (keys ``imageType``, ``featureClass``,
        ``setting``).

    Returns
    -------
    dict
        The parameters as a plain dict (the content, not the path, so that edits change the cache key).

    Raises
    ------
    FileNotFoundError
        If the params file does not exist (or the name is not a shipped file's; the message lists them).
    ValueError
        If PyRadiomics' schema rejects the parameters; the message lists every problem found.

    Warns
    -----
    FutureWarning
        If ``params`` is a deprecated name of a shipped file (:data:`DEPRECATED_PARAMS`), naming the new one.

    Examples
    --------
    >>> load_radiomics_params()["setting"]["binWidth"]
    25
    """
    source = "the params dict"
    if params is None or isinstance(params, (str, os.PathLike)):
        path = default_params_path() if params is None else Path(params)
        if isinstance(params, str) and not path.is_file() and path.name == params and not path.suffix:
            shipped = shipped_params()
            if params not in shipped:
                names = ", ".join(repr(n) for n in shipped if n not in DEPRECATED_PARAMS)
                raise FileNotFoundError(
                    f"Unknown radiomics params {params!r}: neither a file nor a shipped params name. Choose one of: "
                    f"{names}, or pass the path of a PyRadiomics YAML file."
                )
            path = shipped[params]
            if params in DEPRECATED_PARAMS:
                warnings.warn(f"The radiomics params name {params!r} is deprecated: the file gives 2,246 features, "
                              f"not 2,266, and is now named {DEPRECATED_PARAMS[params]!r}. Write "
                              f"params: {DEPRECATED_PARAMS[params]} in the config (same settings, same feature cache).",
                              FutureWarning, stacklevel=2)
        source = str(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"The radiomics params file {str(path)!r} does not exist. Pass an existing PyRadiomics YAML file "
                "or params=None for multisurv's default."
            )
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = {} if loaded is None else loaded
    elif isinstance(params, Mapping):
        parsed = copy.deepcopy(dict(params))
    else:
        raise TypeError(
            f"'params' must be None, a path to a PyRadiomics YAML file or a dict; got {type(params).__name__}."
        )
    if not isinstance(parsed, dict):
        raise ValueError(f"The radiomics params in {source} must be a mapping (YAML keys imageType, featureClass, "
                         f"setting); got {type(parsed).__name__}.")
    _check_with_pyradiomics(parsed, source)
    return parsed


def _names_problems(params: Mapping[str, Any]) -> list[str]:
    """Every unknown top-level key, image type, feature class and feature name, at once.

    Written here because PyRadiomics' own check stops at the first unknown image type or feature class.
    """
    import radiomics

    problems = []
    known_keys = ("imageType", "featureClass", "setting", "voxelSetting")
    problems += [f"unknown top-level key {k!r}; the keys are {', '.join(known_keys)}" for k in params
                 if k not in known_keys]
    image_types, classes = radiomics.getImageTypes(), radiomics.getFeatureClasses()
    if isinstance(params.get("imageType"), Mapping):
        problems += [f"imageType {k!r} is not one of {', '.join(image_types)}" for k in params["imageType"]
                     if k not in image_types]
    if isinstance(params.get("featureClass"), Mapping):
        for name, features in params["featureClass"].items():
            if name not in classes:
                problems.append(f"featureClass {name!r} is not one of {', '.join(classes)}")
            elif isinstance(features, list):
                known = classes[name].getFeatureNames()
                problems += [f"featureClass {name!r} has no feature {f!r} (its features: {', '.join(known)})"
                             for f in features if f not in known]
    return problems


def _check_with_pyradiomics(params: dict[str, Any], source: str) -> None:
    featureextractor = require("radiomics.featureextractor", extra="radiomics")
    _quiet_pyradiomics()
    problems = _names_problems(params)
    if problems:
        raise ValueError(f"The radiomics params in {source} have {len(problems)} problem(s):\n"
                         + "\n".join(f"  - {p}" for p in problems)
                         + "\nCorrect the names (they are case-sensitive) as listed at "
                           "https://pyradiomics.readthedocs.io/en/latest/customization.html.")
    try:
        featureextractor.RadiomicsFeatureExtractor(copy.deepcopy(params))
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:  # pykwalify's SchemaError is a RuntimeError
        detail = str(getattr(exc, "msg", None) or exc).replace("Schema validation failed:", "")
        detail = "; ".join(line.strip(" -") for line in detail.splitlines() if line.strip(" -"))
        raise ValueError(
            f"PyRadiomics rejects the radiomics params in {source}: {detail.rstrip('.')}. Correct them as described "
            "at https://pyradiomics.readthedocs.io/en/latest/customization.html."
        ) from exc


def _quiet_pyradiomics() -> None:
    """Keep PyRadiomics' INFO chatter (one line per feature class and patient) out of the user's logs."""
    for name in ("radiomics", "pykwalify"):  # pykwalify validates PyRadiomics' params, logging each time
        logging.getLogger(name).setLevel(logging.WARNING)
    glcm = logging.getLogger("radiomics.glcm")
    if not any(isinstance(f, _SumAverageNote) for f in glcm.filters):
        glcm.addFilter(_SumAverageNote())


class _SumAverageNote(logging.Filter):
    """Drops PyRadiomics' note that SumAverage = 2 x JointAverage, logged once per image type and patient
    (24 times a patient with the GIST params); the params files document it once instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Sum Average = 2 * Joint Average" not in record.getMessage()


def extract_radiomics(
    cohort,
    *,
    out_dir: str | os.PathLike,
    params: str | os.PathLike | Mapping[str, Any] | None = None,
    n_workers: int = 1,
    progress: bool = True,
    client: Any = None,
) -> ExtractionResult:
    """Extract PyRadiomics features for every patient of ``cohort`` that has a CT image and mask.

    Parameters
    ----------
    cohort : Cohort
        Patients with ``ct_image`` and ``ct_mask`` set (``cohort.has_ct``) are processed; others are skipped.
    out_dir : str or Path
        Root of the feature stores; features go to ``<out_dir>/ct/radiomics_<hash8>/``.
    params : str, Path, mapping or None, default=None
        PyRadiomics parameters (see :func:`load_radiomics_params`); None uses ``data_schemas/radiomics_ct.yaml``
        (original image, every 3D feature class, bin width 25 HU, no resampling, label 1).
    n_workers : int, default=1
        Worker processes (each patient is independent).
    progress : bool, default=True
        Show a progress bar.
    client : dask.distributed.Client, optional
        Run the patients on this Dask cluster instead of local processes.

    Returns
    -------
    ExtractionResult
        ``features``: one row per successful patient, columns ``ct__<imageType>_<class>_<feature>``;
        ``info``: PyRadiomics' ``diagnostics_*`` values per patient; ``failures``: one row per failed patient.

    Raises
    ------
    ValueError
        If the params are invalid (before any patient is processed).

    See Also
    --------
    multisurv.features.batch.run_batch : the shared per-patient loop (cache, workers, failures table).

    Notes
    -----
    The store folder's hash covers the parsed params and the PyRadiomics version, so changing either
    recomputes the features in a new folder; within it each patient's result is keyed on the content of its
    image and mask (see :class:`~multisurv.features.store.FeatureStore`). Images may be NRRD, NIfTI or MHA
    files or DICOM series folders (:func:`multisurv.features.volume.read_volume`). A patient whose image or
    mask is missing, unreadable, empty, lacks the label or does not lie on the image grid (unless the params
    set ``correctMask: true``) is recorded in ``failures`` with the fix, and the other patients go on.

    References
    ----------
    van Griethuysen JJM et al. Computational radiomics system to decode the radiographic phenotype.
    Cancer Res. 2017;77(21):e104-e107.

    Examples
    --------
    >>> res = extract_radiomics(cohort, out_dir="runs/study/features")  # doctest: +SKIP
    >>> res.features.filter(like="glcm_Contrast")  # doctest: +SKIP
    """
    table = cohort.table.loc[cohort.has_ct.to_numpy()]
    n_skipped = len(cohort) - len(table)
    if n_skipped:
        logger.info("%d of %d patients have no CT image and mask; skipped by radiomics.", n_skipped, len(cohort))
    cases = [(str(pid), {"ct_image": str(row["ct_image"]), "ct_mask": str(row["ct_mask"])})
             for pid, row in table.iterrows()]
    return extract_radiomics_cases(cases, out_dir=out_dir, params=params, n_workers=n_workers, progress=progress,
                                   client=client)


def extract_radiomics_cases(
    cases,
    *,
    out_dir: str | os.PathLike,
    params: str | os.PathLike | Mapping[str, Any] | None = None,
    n_workers: int = 1,
    progress: bool = True,
    client: Any = None,
) -> ExtractionResult:
    """Extract PyRadiomics features for explicit cases (what :func:`extract_radiomics` does for a cohort).

    Parameters
    ----------
    cases : sequence of (str, dict)
        ``(patient_id, {"ct_image": path, "ct_mask": path})``, e.g. from
        :func:`multisurv.features.cases.load_cases`.
    out_dir : str or Path
        Root of the feature stores; features go to ``out_dir/ct/radiomics_<hash8>/``.
    params : str, Path or mapping, optional
        PyRadiomics parameters (see :func:`load_radiomics_params`); None: the default ``radiomics_ct``.
    n_workers : int, default=1
        Processes for extraction.
    progress : bool, default=True
        Show a progress bar.
    client : dask.distributed.Client, optional
        Submit the cases to this Dask cluster instead.

    Returns
    -------
    ExtractionResult
        ``ct__``-prefixed features of every successful case, the failures table and the store folder.

    Raises
    ------
    ImportError
        When PyRadiomics is not installed (``pip install "multisurv[radiomics]"``).

    Examples
    --------
    >>> cases = [("P1", {"ct_image": "ct/P1.nii.gz", "ct_mask": "ct/P1_mask.nii.gz"})]
    >>> result = extract_radiomics_cases(cases, out_dir="features", params="radiomics_ct")  # doctest: +SKIP
    >>> result.features.filter(like="ct__original_firstorder").columns[:2].tolist()  # doctest: +SKIP
    ['ct__original_firstorder_10Percentile', 'ct__original_firstorder_90Percentile']
    """
    radiomics = require("radiomics", extra="radiomics")
    parsed = load_radiomics_params(params)
    store = FeatureStore(out_dir, modality="ct", name="radiomics",
                         settings={"params": parsed, "pyradiomics": str(radiomics.__version__)})
    return run_batch(list(cases), partial(extract_ct_case, params=parsed), store, stage="radiomics",
                     n_workers=n_workers, progress=progress, client=client, unit="CT case")


def extract_ct_case(patient_id: str, inputs: Mapping[str, str], *,
                    params: Mapping[str, Any]) -> tuple[pd.Series, dict[str, Any]]:
    """Radiomics of one patient: ``(features, diagnostics)``; failures raise ``ExtractionError``.

    Top-level (hence picklable) so that it can run in worker processes.

    Parameters
    ----------
    patient_id : str
    inputs : mapping
        ``{"ct_image": path, "ct_mask": path}``; each a file SimpleITK reads (NRRD, NIfTI, MHA...) or a folder
        holding one DICOM series (see :func:`multisurv.features.volume.read_volume`).
    params : mapping
        Validated PyRadiomics parameters (see :func:`load_radiomics_params`).

    Returns
    -------
    features : pandas.Series
        Float values named ``ct__<feature>``.
    diagnostics : dict
        PyRadiomics' ``diagnostics_*`` entries (numbers kept, other values as strings), plus
        ``multisurv_RoiVoxels`` (voxels of the label), ``multisurv_MaskResampled`` (the geometry properties
        that differed when ``correctMask`` let PyRadiomics resample the mask; empty otherwise) and
        ``multisurv_Warnings`` (e.g. a tiny ROI).

    Raises
    ------
    ExtractionError
        Naming the patient, the file at fault, the reason and the fix: unreadable file or DICOM folder, empty
        mask or missing label, image and mask grids that differ (both geometries given) without
        ``correctMask: true``, or PyRadiomics' own error.
    """
    featureextractor = require("radiomics.featureextractor", extra="radiomics")
    _quiet_pyradiomics()
    image_path, mask_path = inputs["ct_image"], inputs["ct_mask"]
    where = f"CT radiomics failed for patient {patient_id!r} (image {image_path!r}, mask {mask_path!r})"
    image = read_volume(image_path, patient_id=patient_id, role="ct_image")
    mask = read_volume(mask_path, patient_id=patient_id, role="ct_mask")
    setting = dict(params.get("setting") or {})
    label = int(setting.get("label", 1))
    pieces = check_image_and_mask(image, mask, patient_id=patient_id, image_path=image_path, mask_path=mask_path,
                                  label=label)
    n_voxels, warnings = check_roi(mask, label=label, patient_id=patient_id, mask_path=mask_path)
    warnings = [*warnings, *pieces]
    resampled = check_geometry(image, mask, patient_id=patient_id, mask_path=mask_path, settings=setting)
    check_resampled_size(image, mask, label=label, settings=setting, patient_id=patient_id, image_path=image_path)
    extractor = featureextractor.RadiomicsFeatureExtractor(copy.deepcopy(dict(params)))
    try:
        result = extractor.execute(image, mask)
    except (ValueError, RuntimeError, IndexError, TypeError) as exc:
        reason = " ".join(str(exc).split()).rstrip("!. ") + "."
        fix, path = _explain(reason, image_path, mask_path, params)
        raise case_error(f"{where}: {reason} {fix}", path=path) from exc
    features: dict[str, float] = {}
    diagnostics: dict[str, Any] = {}
    for key, value in result.items():
        if key.startswith("diagnostics_"):
            diagnostics[key] = _plain(value)
        else:
            features[PREFIX + key] = float(value)
    diagnostics["multisurv_RoiVoxels"] = n_voxels
    diagnostics["multisurv_MaskResampled"] = ", ".join(resampled)
    diagnostics["multisurv_Warnings"] = " ".join(warnings)
    return pd.Series(features, dtype=float, name=patient_id), diagnostics


def _explain(reason: str, image: str, mask: str, params: Mapping[str, Any]) -> tuple[str, str]:
    """The fix to suggest for a PyRadiomics error message, and the file most likely at fault."""
    low = reason.lower()
    label = (params.get("setting") or {}).get("label", 1)
    if "no labels found" in low or "not present in mask" in low:
        return (f"The mask must mark this patient's ROI with value {label}: correct the mask, or set 'label' in the "
                "params file to the value the masks use.", mask)
    if "geometry mismatch" in low or "does not match" in low or "bounding box" in low:
        return ("The mask must lie on the CT's voxel grid (same size, spacing, origin and direction): resample the "
                "mask onto the CT, or set 'geometryTolerance' / 'correctMask: true' in the params file.", mask)
    if "unable to determine imageio" in low or "imagefilereader" in low or "can't read" in low:
        return ("One of the files is not a readable image: check that it is a complete NRRD, NIfTI or MHA file.",
                f"{image}; {mask}")
    if "arange" in low or "cannot compute length" in low or "nan" in low.split():
        return ("The image has NaN (or infinite) voxels, so the intensities cannot be binned: re-export the image, or "
                "replace those voxels (e.g. by the background value).", image)
    if "itk::error" in low or "itk::exception" in low:
        return ("SimpleITK/ITK could not process this image (see its message): check that the image and mask are "
                "complete 3-D volumes with a sane voxel spacing.", f"{image}; {mask}")
    if "cannot compute 2d shape" in low:
        return ("The shape2D class needs a mask that covers a single slice: leave 'shape2D' out of 'featureClass' in "
                "the params file (list the classes you want), or use a one-slice mask.", mask)
    if "too small" in low or "minimum" in low or "dimension" in low:
        return ("The ROI is smaller than the params allow: check the mask, or lower 'minimumROIDimensions' / "
                "'minimumROISize' in the params file.", mask)
    return "Check both files and the radiomics params.", f"{image}; {mask}"


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a PyRadiomics diagnostics value."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return item()
    return str(value)
