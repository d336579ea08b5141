"""Which radiomics features are reproducible: inter-reader agreement and perturbation robustness.

- :func:`reader_agreement`: the same image segmented by several readers (manifest columns such as ``ct_mask``
  and ``ct_mask_reader2``); features extracted for every mask, ICC per feature across readers.
- :func:`perturbation_robustness`: when there is no second reader, each patient's image and mask are perturbed
  (rotation, translation, noise, contour randomisation, erosion and dilation by a voxel; Zwanenburg et al.
  2019), the perturbed copies written once as per-case files and their features extracted; ICC per feature
  across the original and its perturbations.

Both run through the same cached, resumable and parallel per-case loop as :func:`~multisurv.features.radiomics.
extract_radiomics` (:func:`~multisurv.features.batch.run_batch`), into their own feature stores beside it
(``<out_dir>/ct_readers/radiomics_<hash8>/`` and ``<out_dir>/ct_perturbed/radiomics_<hash8>/``; the perturbed
images in ``<out_dir>/ct/perturbations_<hash8>/images/``), so they can share ``out_dir`` with the main
extraction without touching its files. Each case's extraction time is kept, so the cost is reported per case.
"""

from __future__ import annotations

import logging
import os
import time
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd

from multisurv._atomic import write_atomic
from multisurv._optional import require
from multisurv._validation import check_param
from multisurv.features.batch import FAILURE_COLUMNS, run_batch
from multisurv.features.perturbation import Perturbation, dice, perturb_volume, perturbation_plan
from multisurv.features.radiomics import extract_ct_case, load_radiomics_params
from multisurv.features.reproducibility import icc_table
from multisurv.features.store import FeatureStore
from multisurv.features.volume import check_geometry, check_roi, read_volume

__all__ = ["ReproducibilityResult", "reader_agreement", "perturbation_robustness", "perturb_case", "cohort_rows",
           "SEPARATOR"]

logger = logging.getLogger(__name__)

#: Joins a patient id and a rater (reader column or perturbation) in the ids of the reproducibility stores.
SEPARATOR = "~"
ORIGINAL = "original"
#: Margin kept around the ROI's bounding box when cropping before perturbation, in mm. Wide enough for
#: PyRadiomics' default padDistance (5 voxels) and the widest LoG kernel of the shipped params on a 1 mm grid.
MARGIN_MM = 30.0


@dataclass(frozen=True)
class ReproducibilityResult:
    """What :func:`reader_agreement` and :func:`perturbation_robustness` return.

    Parameters
    ----------
    icc : pandas.DataFrame
        One row per feature (index ``feature``), the columns of
        :func:`~multisurv.features.reproducibility.intraclass_correlation` (``icc2_1``, ``icc2_1_low``,
        ``icc2_1_high``, ``icc3_1``, ...).
    features : dict of str to DataFrame
        Rater (reader column, ``"original"`` or perturbation name) -> its feature table (index ``patient_id``).
    cost : pandas.DataFrame
        Per patient (index ``patient_id``): ``n_images`` extracted, ``extract_seconds`` (sum over its images),
        ``perturb_seconds`` (0 for readers) and ``total_seconds``; times are those measured when each result was
        computed, also for results read back from the cache.
    failures : pandas.DataFrame
        Failed cases (``patient_id`` is ``<patient><SEPARATOR><rater>`` for an extraction failure).
    overlap : pandas.DataFrame
        Dice overlap of each rater's mask with the first one (patients x raters).
    n_cached : int
        Images whose features were read from the store instead of being extracted.
    store_dir : Path
        The feature store of the extraction.

    Examples
    --------
    >>> icc = pd.DataFrame({"icc2_1": [0.95, 0.3], "icc2_1_low": [0.9, 0.1]},
    ...                    index=pd.Index(["ct__a", "ct__b"], name="feature"))
    >>> result = ReproducibilityResult(icc=icc, features={}, cost=pd.DataFrame(), failures=pd.DataFrame(),
    ...                                overlap=pd.DataFrame(), n_cached=0, store_dir=Path("features"))
    >>> result.to_frame()["icc2_1"].to_dict()
    {'ct__a': 0.95, 'ct__b': 0.3}
    """

    icc: pd.DataFrame
    features: dict[str, pd.DataFrame]
    cost: pd.DataFrame
    failures: pd.DataFrame
    overlap: pd.DataFrame
    n_cached: int
    store_dir: Path

    def to_frame(self) -> pd.DataFrame:
        """The ICC table.

        Returns
        -------
        pandas.DataFrame
            The ``icc`` field itself (index ``feature``), not a copy.

        Examples
        --------
        >>> icc = pd.DataFrame({"icc2_1": [0.95]}, index=pd.Index(["ct__a"], name="feature"))
        >>> empty = pd.DataFrame()
        >>> ReproducibilityResult(icc, {}, empty, empty, empty, 0, Path("features")).to_frame().index.name
        'feature'
        """
        return self.icc

    def write(self, directory: str | os.PathLike, *, stem: str = "reproducibility", method: str = "icc2_1",
              icc_min: float = 0.75) -> list[Path]:
        """Write the tables a report shows: ``<stem>_icc.csv``, ``_summary.csv`` (Koo and Li bands and the count
        at ``icc_min``), ``_cost.csv`` (seconds per patient), ``_overlap.csv`` (Dice) and ``_failures.csv``.

        Parameters
        ----------
        directory : str or Path
            Folder to write into (created if needed).
        stem : str, default="reproducibility"
            Start of every file name.
        method : {"icc2_1", "icc3_1"}, default="icc2_1"
            The ICC counted in the summary (:func:`~multisurv.features.reproducibility.icc_summary`).
        icc_min : float, default=0.75
            Threshold of the summary's ``kept`` row.

        Returns
        -------
        list of Path
            The files written (each atomically), in the order above.

        Examples
        --------
        >>> import tempfile
        >>> icc = pd.DataFrame({"icc2_1": [0.95, 0.3], "icc2_1_low": [0.9, 0.1]},
        ...                    index=pd.Index(["ct__a", "ct__b"], name="feature"))
        >>> empty = pd.DataFrame()
        >>> result = ReproducibilityResult(icc, {}, empty, pd.DataFrame(columns=["patient_id"]), empty, 0,
        ...                                Path("features"))
        >>> [path.name for path in result.write(tempfile.mkdtemp())]  # doctest: +NORMALIZE_WHITESPACE
        ['reproducibility_icc.csv', 'reproducibility_summary.csv', 'reproducibility_cost.csv',
         'reproducibility_overlap.csv', 'reproducibility_failures.csv']
        """
        from multisurv._atomic import write_csv_atomic
        from multisurv.features.reproducibility import icc_summary

        folder = Path(directory)
        tables = {"icc": self.icc, "summary": icc_summary(self.icc, method=method, icc_min=icc_min),
                  "cost": self.cost, "overlap": self.overlap}
        written = [write_csv_atomic(folder / f"{stem}_{name}.csv", table) for name, table in tables.items()]
        written.append(write_csv_atomic(folder / f"{stem}_failures.csv", self.failures, index=False))
        return written


def reader_agreement(cohort, *, mask_columns: Sequence[str], out_dir: str | os.PathLike,
                     image_column: str = "ct_image", params: str | os.PathLike | Mapping[str, Any] | None = None,
                     confidence: float = 0.95, n_workers: int = 1, progress: bool = True,
                     client: Any = None) -> ReproducibilityResult:
    """Features of several readers' masks of the same image, and their ICC per feature.

    Parameters
    ----------
    cohort : Cohort, DataFrame or sequence of (str, dict)
        A :class:`~multisurv.cohort.cohort.Cohort` or a table indexed by ``patient_id`` (or with that column)
        holding ``image_column`` and every column of ``mask_columns``; or ``(patient_id, {column: path})``
        pairs. Patients lacking the image or one of the masks are left out (logged).
    mask_columns : sequence of str
        At least two mask columns, e.g. ``["ct_mask", "ct_mask_reader2"]``; each is one rater.
    out_dir : str or Path
        Root of the feature stores (may be the main extraction's; this writes to ``<out_dir>/ct_readers/``).
    image_column : str, default="ct_image"
    params : str, Path, mapping or None
        PyRadiomics parameters, as in :func:`~multisurv.features.radiomics.extract_radiomics`.
    confidence : float, default=0.95
        Level of the ICC intervals.
    n_workers, progress, client
        As in :func:`~multisurv.features.radiomics.extract_radiomics` (all images of all readers form one batch).

    Returns
    -------
    ReproducibilityResult
        ``overlap``: Dice of each reader's mask with the first reader's.

    Raises
    ------
    ValueError
        If fewer than two distinct mask columns are given, a column is missing, or fewer than two patients
        have every mask extracted.

    Examples
    --------
    >>> res = reader_agreement(cohort, mask_columns=["ct_mask", "ct_mask_reader2"],
    ...                        out_dir="runs/study/features")  # doctest: +SKIP
    >>> res.icc[["icc2_1", "icc2_1_low", "icc2_1_high"]]  # doctest: +SKIP
    """
    columns = [str(c) for c in mask_columns]
    if len(set(columns)) < 2 or len(set(columns)) != len(columns):
        raise ValueError(f"reader_agreement needs at least two distinct mask columns (one per reader); got "
                         f"{columns}. Pass e.g. mask_columns=['ct_mask', 'ct_mask_reader2'].")
    bad = [c for c in columns if SEPARATOR in c]
    if bad:
        raise ValueError(f"Mask column names must not contain {SEPARATOR!r}; got {bad}. Rename the column(s).")
    rows = cohort_rows(cohort, [image_column, *columns])
    cases = [(f"{pid}{SEPARATOR}{col}", {"ct_image": row[image_column], "ct_mask": row[col]})
             for pid, row in rows for col in columns]
    result, store = _extract(cases, out_dir=out_dir, modality="ct_readers", params=params, n_workers=n_workers,
                             progress=progress, client=client)
    features = _split(result.features, columns)
    parsed = load_radiomics_params(params)
    label = int((parsed.get("setting") or {}).get("label", 1))
    overlap = _reader_overlap(rows, columns, label)
    icc = icc_table(features, confidence=confidence)
    cost = _cost(result.info, [pid for pid, _ in rows], perturb_seconds=None)
    return ReproducibilityResult(icc=icc, features=features, cost=cost, failures=result.failures, overlap=overlap,
                                 n_cached=result.n_cached, store_dir=store.directory)


def perturbation_robustness(cohort, *, out_dir: str | os.PathLike, n_perturbations: int = 4,
                            plan: Sequence[Perturbation] | None = None, image_column: str = "ct_image",
                            mask_column: str = "ct_mask", params: str | os.PathLike | Mapping[str, Any] | None = None,
                            noise_sd: float | None = None, random_state: int = 0, margin_mm: float = MARGIN_MM,
                            confidence: float = 0.95,
                            n_workers: int = 1, progress: bool = True, client: Any = None) -> ReproducibilityResult:
    """Perturb every patient's image and mask, extract the features of each copy, and their ICC per feature.

    Parameters
    ----------
    cohort : Cohort, DataFrame or sequence of (str, dict)
        As in :func:`reader_agreement`, with ``image_column`` and ``mask_column``.
    out_dir : str or Path
        Root of the feature stores (may be the main extraction's). Perturbed images go to
        ``<out_dir>/ct/perturbations_<hash8>/images/<patient>/`` (``hash8`` covers the plan, seed, noise level
        and ROI label), their features to ``<out_dir>/ct_perturbed/radiomics_<hash8>/``.
    n_perturbations : int, default=4
        Chained perturbations per patient (see :func:`~multisurv.features.perturbation.perturbation_plan`);
        with the default plan two volume adaptations (erosion, dilation) are added. Ignored when ``plan`` is given.
    plan : sequence of Perturbation, optional
        The perturbations to apply instead of the default plan.
    image_column, mask_column : str
        Manifest columns of the image and mask.
    params : str, Path, mapping or None
        PyRadiomics parameters (its ``label`` setting names the ROI value).
    noise_sd : float, optional
        Standard deviation of the added noise (image units, e.g. HU); by default each image's own noise level
        (:func:`~multisurv.features.perturbation.estimate_noise_sd`).
    random_state : int, default=0
        Seed; each patient's random draws come from ``(random_state, CRC32(patient_id))``, so a patient's
        perturbations do not depend on the other patients or on the order of the cohort.
    margin_mm : float, default=30.0
        Each image is cropped to its ROI's bounding box plus this margin before perturbation (see
        :func:`perturb_case`); all raters, the original included, are extracted from the crop. Params that use
        whole-image statistics (``normalize: true``) therefore see the crop, not the whole image.
    confidence : float, default=0.95
    n_workers, progress, client
        As in :func:`~multisurv.features.radiomics.extract_radiomics`: the perturbation step and the extraction
        each run as one resumable batch.

    Returns
    -------
    ReproducibilityResult
        Raters ``"original"`` and one per perturbation; ``overlap``: Dice of each perturbed mask with the
        original; ``cost.perturb_seconds``: time to make the patient's perturbed copies.

    Raises
    ------
    ValueError
        If a parameter is out of range, a column is missing, or fewer than two patients have every copy extracted.

    Notes
    -----
    The ICC is taken over the original and all perturbed copies as raters (subjects: patients). The files are
    written once and reused while the patient's image and mask are unchanged; features of unchanged files are
    read back from the store.

    References
    ----------
    Zwanenburg A, Leger S, Agolli L, et al. Assessing robustness of radiomic features by image perturbation.
    Sci Rep. 2019;9:614.

    Examples
    --------
    >>> res = perturbation_robustness(cohort, out_dir="runs/study/features", n_workers=4)  # doctest: +SKIP
    >>> (res.icc["icc2_1"] >= 0.75).sum(), res.cost["total_seconds"].median()  # doctest: +SKIP
    """
    check_param("perturbation_robustness", "random_state", random_state, kind="int", low=0)
    check_param("perturbation_robustness", "margin_mm", margin_mm, kind="float", low=0)
    if noise_sd is not None:
        check_param("perturbation_robustness", "noise_sd", noise_sd, kind="float", low=0)
    steps = list(plan) if plan is not None else perturbation_plan(n_perturbations)
    names = [p.name for p in steps]
    if not steps or len(set(names)) != len(names) or ORIGINAL in names or any(SEPARATOR in n for n in names):
        raise ValueError(f"The perturbation plan must be non-empty with unique names other than {ORIGINAL!r} and "
                         f"without {SEPARATOR!r}; got {names}.")
    parsed = load_radiomics_params(params)
    label = int((parsed.get("setting") or {}).get("label", 1))
    rows = cohort_rows(cohort, [image_column, mask_column])
    sitk = require("SimpleITK", extra="radiomics")
    settings = {"plan": [p.to_dict() for p in steps], "random_state": random_state, "noise_sd": noise_sd,
                "label": label, "margin_mm": margin_mm, "simpleitk": str(sitk.Version_VersionString())}
    gen_store = FeatureStore(out_dir, modality="ct", name="perturbations", settings=settings)
    images = gen_store.directory / "images"
    gen_cases = [(pid, {"ct_image": row[image_column], "ct_mask": row[mask_column]}) for pid, row in rows]
    for pid, _ in gen_cases:  # a record whose files were deleted is recomputed
        if gen_store.path_for(pid).exists() and not all(p.exists() for p in _case_files(images, pid,
                                                                                          [ORIGINAL, *names])):
            gen_store.path_for(pid).unlink()
    generated = run_batch(gen_cases, partial(perturb_case, plan=tuple(steps), folder=str(images), label=label,
                                             random_state=random_state, noise_sd=noise_sd, margin_mm=margin_mm),
                          gen_store, stage="perturbation", n_workers=n_workers, progress=progress, client=client,
                          unit="CT case")
    ok = [(pid, inputs) for pid, inputs in gen_cases if pid in generated.features.index]
    raters = [ORIGINAL, *names]
    cases = []
    for pid, inputs in ok:
        files = _case_files(images, pid, raters)
        for i, name in enumerate(raters):
            cases.append((f"{pid}{SEPARATOR}{name}", {"ct_image": str(files[2 * i]), "ct_mask": str(files[2 * i + 1])}))
    result, store = _extract(cases, out_dir=out_dir, modality="ct_perturbed", params=parsed, n_workers=n_workers,
                             progress=progress, client=client)
    features = _split(result.features, raters)
    overlap = generated.features.rename(columns=lambda c: c.replace("dice__", "", 1))
    overlap.insert(0, ORIGINAL, 1.0)
    perturb_seconds = pd.to_numeric(generated.info.get("multisurv_Seconds", pd.Series(dtype=float)), errors="coerce")
    cost = _cost(result.info, [pid for pid, _ in ok], perturb_seconds=perturb_seconds)
    failures = pd.concat([generated.failures, result.failures], ignore_index=True) if len(generated.failures) \
        else result.failures
    icc = icc_table(features, confidence=confidence)
    return ReproducibilityResult(icc=icc, features=features, cost=cost, failures=failures.reindex(
        columns=list(FAILURE_COLUMNS)), overlap=overlap, n_cached=result.n_cached, store_dir=store.directory)


def perturb_case(patient_id: str, inputs: Mapping[str, str], *, plan: Sequence[Perturbation], folder: str,
                 label: int, random_state: int, noise_sd: float | None, margin_mm: float = MARGIN_MM
                 ) -> tuple[pd.Series, dict[str, Any]]:
    """Write one patient's cropped original and perturbed images and masks; return each mask's Dice with the original.

    The image and mask are first cropped to the ROI's bounding box plus ``margin_mm`` on every side (clipped to
    the image), which keeps the perturbations fast on whole CT volumes; the noise level is estimated on the
    whole image. The cropped original is written too (rater ``"original"``), so that every rater's features come
    from the same field of view.

    Top-level (hence picklable) so that it runs in worker processes; used by :func:`perturbation_robustness`.
    Files are gzip-compressed NRRD with nothing time-dependent in them, so the same inputs and seed give
    byte-identical files (their features stay cached).

    Parameters
    ----------
    patient_id : str
        The patient; names the output subfolder (URL-quoted) and seeds the perturbations.
    inputs : mapping of str to str
        ``ct_image`` and ``ct_mask`` paths.
    plan : sequence of Perturbation
        The perturbations (:func:`~multisurv.features.perturbation.perturbation_plan`).
    folder : str
        Output root: files go to ``<folder>/<patient_id>/<rater>_image.nrrd`` and ``<rater>_mask.nrrd``.
    label : int
        The mask value of the ROI.
    random_state : int
        Seed; combined with a CRC of ``patient_id``, then one child seed per perturbation.
    noise_sd : float or None
        Noise standard deviation in image units; None estimates it from the whole image
        (:func:`~multisurv.features.perturbation.estimate_noise_sd`).
    margin_mm : float, default=MARGIN_MM
        Margin kept around the ROI's bounding box when cropping, in mm.

    Returns
    -------
    dice : pandas.Series
        ``dice__<perturbation>`` per perturbation (named ``patient_id``).
    info : dict
        ``multisurv_Seconds`` (time taken), ``noise_sd`` (image units), ``crop_size`` (x, y, z voxels) and
        ``roi_voxels__<perturbation>``.

    Raises
    ------
    ExtractionError
        If a file cannot be read, the mask is empty or lacks the label, or the mask is not on the image's grid.

    Examples
    --------
    >>> import tempfile
    >>> import SimpleITK as sitk
    >>> from multisurv.features.perturbation import perturbation_plan
    >>> folder = Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> ct = sitk.GetImageFromArray(rng.normal(40, 10, (6, 24, 24)).astype(np.int16))
    >>> sitk.WriteImage(ct, str(folder / "ct.nrrd"))
    >>> mask = sitk.Image(24, 24, 6, sitk.sitkUInt8)
    >>> mask[6:18, 6:18, 1:5] = 1
    >>> sitk.WriteImage(mask, str(folder / "mask.nrrd"))
    >>> dice, info = perturb_case("p1", {"ct_image": str(folder / "ct.nrrd"), "ct_mask": str(folder / "mask.nrrd")},
    ...                           plan=perturbation_plan(1), folder=str(folder / "out"), label=1, random_state=0,
    ...                           noise_sd=None)
    >>> dice.round(3).to_dict()
    {'dice__rtnc1': 0.82, 'dice__erode': 0.82, 'dice__dilate': 0.857}
    >>> sorted(path.name for path in (folder / "out" / "p1").iterdir())[:4]
    ['dilate_image.nrrd', 'dilate_mask.nrrd', 'erode_image.nrrd', 'erode_mask.nrrd']
    """
    sitk = require("SimpleITK", extra="radiomics")
    from multisurv.features.perturbation import estimate_noise_sd

    start = time.perf_counter()
    image = read_volume(inputs["ct_image"], patient_id=patient_id, role="ct_image")
    mask = read_volume(inputs["ct_mask"], patient_id=patient_id, role="ct_mask")
    check_roi(mask, label=label, patient_id=patient_id, mask_path=inputs["ct_mask"])
    check_geometry(image, mask, patient_id=patient_id, mask_path=inputs["ct_mask"], settings={})
    sd = estimate_noise_sd(sitk.GetArrayViewFromImage(image)) if noise_sd is None else float(noise_sd)
    image, mask = _crop(image, mask, label, margin_mm)
    roi = sitk.GetArrayFromImage(mask) == label
    seeds = np.random.SeedSequence([int(random_state), zlib.crc32(str(patient_id).encode("utf-8"))]).spawn(len(plan))
    files = _case_files(Path(folder), patient_id, [ORIGINAL, *(p.name for p in plan)])
    _write_nrrd(sitk.Cast(image, sitk.sitkFloat32), files[0])
    original_mask = sitk.GetImageFromArray((roi * label).astype(np.uint8))
    original_mask.CopyInformation(mask)
    _write_nrrd(original_mask, files[1])
    files = files[2:]
    overlap: dict[str, float] = {}
    info: dict[str, Any] = {"noise_sd": sd, "crop_size": list(image.GetSize())}
    for i, (step, seed) in enumerate(zip(plan, seeds)):
        new_image, new_mask, step_info = perturb_volume(image, mask, step, label=label,
                                                        rng=np.random.default_rng(seed), noise_sd=sd)
        _write_nrrd(new_image, files[2 * i])
        _write_nrrd(new_mask, files[2 * i + 1])
        overlap[f"dice__{step.name}"] = dice(roi, sitk.GetArrayViewFromImage(new_mask) == label)
        info[f"roi_voxels__{step.name}"] = step_info["roi_voxels"]
    info["multisurv_Seconds"] = time.perf_counter() - start
    return pd.Series(overlap, dtype=float, name=patient_id), info


def _crop(image, mask, label: int, margin_mm: float):
    """Image and mask cut to the ROI's bounding box plus ``margin_mm`` (physical positions unchanged)."""
    sitk = require("SimpleITK", extra="radiomics")
    roi = sitk.GetArrayViewFromImage(mask) == label
    where = np.argwhere(roi)
    low_zyx, high_zyx = where.min(axis=0), where.max(axis=0)
    size_xyz = np.asarray(image.GetSize())
    pad = np.ceil(margin_mm / np.asarray(image.GetSpacing())).astype(int)
    low = np.maximum(low_zyx[::-1] - pad, 0)
    high = np.minimum(high_zyx[::-1] + pad, size_xyz - 1)
    size = [int(v) for v in high - low + 1]
    index = [int(v) for v in low]
    return sitk.RegionOfInterest(image, size, index), sitk.RegionOfInterest(mask, size, index)


def _timed_ct_case(patient_id: str, inputs: Mapping[str, str], *, params: Mapping[str, Any]):
    start = time.perf_counter()
    features, diagnostics = extract_ct_case(patient_id, inputs, params=params)
    diagnostics["multisurv_Seconds"] = time.perf_counter() - start
    return features, diagnostics


def _extract(cases, *, out_dir, modality: str, params, n_workers: int, progress: bool, client):
    radiomics = require("radiomics", extra="radiomics")
    parsed = load_radiomics_params(params)
    store = FeatureStore(out_dir, modality=modality, name="radiomics",
                         settings={"params": parsed, "pyradiomics": str(radiomics.__version__)})
    result = run_batch(cases, partial(_timed_ct_case, params=parsed), store, stage=f"radiomics ({modality})",
                       n_workers=n_workers, progress=progress, client=client, unit="image")
    return result, store


def _case_files(folder: Path, patient_id: str, names: Sequence[str]) -> list[Path]:
    stem = quote(str(patient_id), safe="-_.+")
    stem = "%2E" + stem[1:] if stem.startswith(".") else stem
    out = []
    for name in names:
        out += [Path(folder) / stem / f"{name}_image.nrrd", Path(folder) / stem / f"{name}_mask.nrrd"]
    return out


def _write_nrrd(image, path: Path) -> None:
    sitk = require("SimpleITK", extra="radiomics")

    def write(tmp: Path) -> None:
        writer = sitk.ImageFileWriter()
        writer.SetImageIO("NrrdImageIO")  # the temporary file has no .nrrd suffix
        writer.SetFileName(str(tmp))
        writer.SetUseCompression(True)
        writer.Execute(image)

    write_atomic(path, write)


def cohort_rows(cohort, columns: Sequence[str]) -> list[tuple[str, dict[str, str]]]:
    """``(patient_id, {column: path})`` for every patient with all ``columns`` filled in (others logged, skipped).

    Parameters
    ----------
    cohort : Cohort, pandas.DataFrame or list of (str, dict)
        A Cohort (its ``table``), a DataFrame indexed by ``patient_id`` (or with that column), or a list of
        ``(patient_id, {column: path})`` pairs.
    columns : sequence of str
        The path columns every returned patient must have (a non-empty string or path in each).

    Returns
    -------
    list of (str, dict of str to str)
        One pair per complete patient, in the cohort's order; paths as strings.

    Raises
    ------
    ValueError
        Naming any column that is absent altogether.
    TypeError
        If ``cohort`` is none of the accepted types.

    Examples
    --------
    >>> table = pd.DataFrame({"patient_id": ["p1", "p2"], "ct_image": ["p1.nrrd", "p2.nrrd"],
    ...                       "ct_mask": ["p1_mask.nrrd", None]})
    >>> cohort_rows(table, ["ct_image", "ct_mask"])  # p2 has no mask
    [('p1', {'ct_image': 'p1.nrrd', 'ct_mask': 'p1_mask.nrrd'})]
    >>> try:
    ...     cohort_rows(table, ["pet_image"])
    ... except ValueError as exc:
    ...     print(str(exc)[:52])
    The cohort table lacks column(s) 'pet_image'; it has
    """
    if isinstance(cohort, (list, tuple)):
        rows = [(str(pid), {c: inputs.get(c) for c in columns}) for pid, inputs in cohort]
        source = "the cases"
        present = set().union(*(set(inputs) for _, inputs in cohort)) if cohort else set()
    else:
        table = getattr(cohort, "table", cohort)
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"'cohort' must be a Cohort, a DataFrame or a list of (patient_id, dict) pairs; got "
                            f"{type(cohort).__name__}.")
        if "patient_id" in table.columns:
            table = table.set_index("patient_id")
        present = set(table.columns)
        source = "the cohort table"
        rows = [(str(pid), {c: row.get(c) for c in columns}) for pid, row in table.iterrows()]
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValueError(f"{source[0].upper()}{source[1:]} lacks column(s) {', '.join(repr(c) for c in missing)}; "
                         f"it has {sorted(present)}. Add the column(s) to the manifest or pass the right names.")
    complete, skipped = [], []
    for pid, values in rows:
        if all(isinstance(v, (str, os.PathLike)) and str(v).strip() for v in values.values()):
            complete.append((pid, {c: os.fspath(v) for c, v in values.items()}))
        else:
            skipped.append(pid)
    if skipped:
        logger.info("%d patient(s) lack one of %s and are left out: %s", len(skipped),
                    ", ".join(repr(c) for c in columns), ", ".join(skipped[:10]) + (", ..." if len(skipped) > 10
                                                                                   else ""))
    return complete


def _split(table: pd.DataFrame, raters: Sequence[str]) -> dict[str, pd.DataFrame]:
    ids = pd.Index([str(i) for i in table.index])
    pid = ids.str.rsplit(SEPARATOR, n=1).str[0]
    rater = ids.str.rsplit(SEPARATOR, n=1).str[1]
    out = {}
    for name in raters:
        part = table.loc[np.asarray(rater == name)]
        part.index = pd.Index(pid[np.asarray(rater == name)], name="patient_id", dtype=object)
        out[name] = part
    return out


def _cost(info: pd.DataFrame, patients: Sequence[str], *, perturb_seconds: pd.Series | None) -> pd.DataFrame:
    seconds = pd.to_numeric(info.get("multisurv_Seconds", pd.Series(np.nan, index=info.index)), errors="coerce")
    pid = pd.Index([str(i) for i in info.index]).str.rsplit(SEPARATOR, n=1).str[0]
    grouped = pd.DataFrame({"pid": pid, "s": seconds.to_numpy()}).groupby("pid", sort=False)["s"]
    out = pd.DataFrame(index=pd.Index(list(patients), name="patient_id", dtype=object))
    out["n_images"] = grouped.size().reindex(out.index).fillna(0).astype(int)
    out["extract_seconds"] = grouped.sum(min_count=1).reindex(out.index)
    out["perturb_seconds"] = 0.0 if perturb_seconds is None else perturb_seconds.reindex(out.index)
    out["total_seconds"] = out["extract_seconds"] + out["perturb_seconds"]
    return out


def _reader_overlap(rows, columns: Sequence[str], label: int) -> pd.DataFrame:
    """Dice of every reader's mask with the first reader's (NaN where a mask cannot be read or grids differ)."""
    sitk = require("SimpleITK", extra="radiomics")
    out = pd.DataFrame(np.nan, index=pd.Index([pid for pid, _ in rows], name="patient_id", dtype=object),
                       columns=list(columns))
    for pid, paths in rows:
        try:
            masks = [sitk.GetArrayFromImage(read_volume(paths[c], patient_id=pid, role=c)) == label for c in columns]
        except ValueError:  # unreadable: already a failure of the extraction
            continue
        for c, m in zip(columns, masks):
            if m.shape == masks[0].shape:
                out.loc[pid, c] = dice(masks[0], m)
    return out
