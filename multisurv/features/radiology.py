"""Radiology modalities beyond one CT series: PET (SUV) radiomics, deep CT features, and feature reproducibility.

Adapters from the modality registry (:mod:`multisurv.registry`: a modality has a name, a kind, manifest columns,
a feature prefix and options) to the extractors, in the form of
:func:`multisurv.features.modalities.extract_radiomics_modality`:

- :func:`extract_pet_modality`: a DICOM PET series per patient converted to body-weight SUV
  (:mod:`multisurv.features.pet`; one cached NRRD per patient and a table of the SUV factors), then PyRadiomics
  with PET settings (:data:`PET_PARAMS` unless the modality sets ``params``);
- :func:`extract_deep_radiology_modality`: CNN features of 2.5D tumour crops
  (:func:`multisurv.features.deep_radiomics.extract_deep_radiomics`);
- :func:`modality_reproducibility`: the ICC table of a radiomics modality's features, from several readers' masks
  (:func:`~multisurv.features.robustness.reader_agreement`) or, without them, from perturbations
  (:func:`~multisurv.features.robustness.perturbation_robustness`), with the modality's prefix, ready for
  :class:`~multisurv.selection.robustness.RobustnessFilter`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from multisurv.features.batch import ExtractionResult, run_batch
from multisurv.features.modalities import store_folder, with_prefix
from multisurv.features.robustness import ReproducibilityResult, cohort_rows
from multisurv.features.store import FeatureStore

__all__ = ["PET_PARAMS", "extract_pet_modality", "extract_deep_radiology_modality", "modality_reproducibility",
           "convert_pet_cases"]

logger = logging.getLogger(__name__)

#: PyRadiomics settings for SUV images: original image, every 3D class, fixed bins of 0.25 SUV, no shift (SUV is
#: never negative), no resampling, label 1. SUV is an absolute scale like HU, so fixed bin width is the usual choice
#: (IBSI); 0.25 SUV gives about 40 bins over a typical tumour's 0-10 SUV range.
PET_PARAMS: dict[str, Any] = {
    "imageType": {"Original": {}},
    "featureClass": {c: None for c in ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")},
    "setting": {"label": 1, "binWidth": 0.25, "voxelArrayShift": 0, "normalize": False, "minimumROIDimensions": 2},
}


def _case_suv(patient_id: str, inputs: Mapping[str, str], *, folder: str) -> tuple[pd.Series, dict[str, Any]]:
    from urllib.parse import quote

    from multisurv.features.pet import write_pet_suv

    out = Path(folder) / f"{quote(str(patient_id), safe='-_.+')}_suv.nrrd"
    factor = write_pet_suv(inputs["pet_image"], out, patient_id=patient_id, role="pet_image")
    return pd.Series(factor.to_dict(), dtype=float, name=patient_id), {"suv_path": str(out)}


def convert_pet_cases(cases: Sequence[tuple[str, Mapping[str, str]]], *, out_dir: str | os.PathLike,
                      n_workers: int = 1, progress: bool = True) -> ExtractionResult:
    """Convert each case's DICOM PET folder (``pet_image``) to an SUVbw NRRD, cached by the series' content.

    Parameters
    ----------
    cases : sequence of (str, mapping)
        ``(patient_id, {"pet_image": folder})`` pairs (other keys are ignored).
    out_dir : str or Path
        Root of the feature stores; the factors go to ``<out_dir>/pet/suv_bw_<hash8>/`` and the NRRD files to its
        ``images/`` subfolder. A cached record whose NRRD was deleted is recomputed.
    n_workers : int, default=1
        Processes (:func:`~multisurv.features.batch.run_batch`).
    progress : bool, default=True
        Show a progress bar.

    Returns
    -------
    ExtractionResult
        ``features``: the SUV factor per patient (``factor``, ``weight_kg``, ``injected_dose_bq``, ``half_life_s``,
        ``elapsed_s``, ``decayed_dose_bq``); ``info.suv_path``: the NRRD written; failures name the missing tag.

    See Also
    --------
    multisurv.features.pet.write_pet_suv : The conversion of one series.

    Examples
    --------
    >>> converted = convert_pet_cases([("p1", {"pet_image": "data/p1/pet"})],
    ...                               out_dir="features")  # doctest: +SKIP
    >>> converted.info.loc["p1", "suv_path"]  # doctest: +SKIP
    """
    store = FeatureStore(out_dir, modality="pet", name="suv_bw", settings={"suv": "body weight", "format": 1})
    folder = store.directory / "images"
    for pid, _ in cases:  # a record whose NRRD was deleted is recomputed
        if store.path_for(pid).exists() and not Path(store.get_info(pid).get("suv_path", "")).is_file():
            store.path_for(pid).unlink()
    return run_batch([(pid, {"pet_image": inputs["pet_image"]}) for pid, inputs in cases],
                     partial(_case_suv, folder=str(folder)), store, stage="pet suv", n_workers=n_workers,
                     progress=progress, unit="PET series")


def extract_pet_modality(modality, cohort, *, feature_dir, progress: bool = True,
                         n_workers: int | None = None) -> ExtractionResult:
    """PET radiomics of one modality: its ``image`` column (a DICOM PET folder) as SUVbw, its ``mask`` column.

    The mask must lie on the PET grid. Options: ``params`` (default :data:`PET_PARAMS`), ``workers``. Feature
    columns ``<prefix><feature>``; a patient whose series lacks an SUV tag is a failure naming the tag. The SUV
    factors are in ``info`` (``suv_factor``, ``suv_elapsed_s``...). The extractor of the ``pet`` kind in
    :data:`multisurv.registry.MODALITY_KINDS`.

    Parameters
    ----------
    modality : Modality
        A modality of kind ``pet``.
    cohort : Cohort
        Its patients with both a PET folder and a mask are extracted.
    feature_dir : str or Path
        The study's feature cache (see :func:`~multisurv.features.modalities.store_folder`); the SUV NRRD files
        and the radiomics are both stored under the modality's folder.
    progress : bool, default=True
        Show a progress bar.
    n_workers : int, optional
        Processes; default the modality's ``workers`` option, else 1.

    Returns
    -------
    ExtractionResult
        Features with the modality's prefix; ``failures`` holds the SUV conversion's failures, then the
        extraction's.

    Examples
    --------
    >>> from multisurv.registry import make_modality
    >>> result = extract_pet_modality(make_modality("pet", {"kind": "pet"}), cohort,
    ...                               feature_dir="features")  # doctest: +SKIP
    """
    from multisurv.features.radiomics import extract_radiomics_cases

    rows = cohort_rows(cohort, [modality.columns["image"], modality.columns["mask"]])
    workers = int(n_workers if n_workers is not None else modality.options.get("workers", 1))
    root = store_folder(modality, feature_dir)
    converted = convert_pet_cases([(pid, {"pet_image": r[modality.columns["image"]]}) for pid, r in rows],
                                  out_dir=root, n_workers=workers, progress=progress)
    masks = dict(rows)
    cases = [(pid, {"ct_image": str(converted.info.loc[pid, "suv_path"]),
                    "ct_mask": masks[pid][modality.columns["mask"]]}) for pid in converted.features.index]
    result = extract_radiomics_cases(cases, out_dir=root, params=modality.options.get("params") or PET_PARAMS,
                                     n_workers=workers, progress=progress)
    suv = converted.features.add_prefix("suv_")
    info = result.info.join(suv, how="left") if len(result.info) else result.info
    failures = pd.concat([converted.failures, result.failures], ignore_index=True) if len(converted.failures) \
        else result.failures
    return with_prefix(replace(result, info=info, failures=failures), "ct__", modality.prefix)


def extract_deep_radiology_modality(modality, cohort, *, feature_dir, progress: bool = True,
                                    n_workers: int | None = None) -> ExtractionResult:
    """Deep CT features of one modality (its ``image`` and ``mask`` columns).

    Options: ``encoder`` (default ``resnet18``), ``weights`` (a local file; None: random with a warning),
    ``window`` ([low, high] HU), ``n_slices``, ``crop_size``, ``margin_mm``, ``device``, ``workers``. Feature columns
    ``<prefix><encoder>_0000``... The extractor of the ``deep_radiology`` kind in
    :data:`multisurv.registry.MODALITY_KINDS`.

    Parameters
    ----------
    modality : Modality
        A modality of kind ``deep_radiology``.
    cohort : Cohort
        Its patients with both an image and a mask are extracted.
    feature_dir : str or Path
        The study's feature cache (see :func:`~multisurv.features.modalities.store_folder`).
    progress : bool, default=True
        Show a progress bar.
    n_workers : int, optional
        Processes; default the modality's ``workers`` option, else 1.

    Returns
    -------
    ExtractionResult
        As :func:`~multisurv.features.deep_radiomics.extract_deep_radiomics`, with the modality's prefix.

    Examples
    --------
    >>> from multisurv.registry import make_modality
    >>> result = extract_deep_radiology_modality(make_modality("ctdeep", {"kind": "deep_radiology"}), cohort,
    ...                                          feature_dir="features")  # doctest: +SKIP
    """
    from multisurv.features.deep_radiomics import extract_deep_radiomics

    options = {k: modality.options[k] for k in ("encoder", "weights", "n_slices", "crop_size", "margin_mm", "device")
               if modality.options.get(k) is not None}
    if modality.options.get("window") is not None:
        options["window"] = tuple(float(v) for v in modality.options["window"])
    workers = int(n_workers if n_workers is not None else modality.options.get("workers", 1))
    return extract_deep_radiomics(cohort, out_dir=store_folder(modality, feature_dir),
                                  image_column=modality.columns["image"], mask_column=modality.columns["mask"],
                                  prefix=modality.prefix, n_workers=workers, progress=progress, **options)


def modality_reproducibility(modality, cohort, *, feature_dir, readers: Sequence[str] | None = None,
                             perturbations: int = 4, random_state: int = 0, progress: bool = True,
                             n_workers: int | None = None) -> ReproducibilityResult:
    """The ICC table of a radiomics modality's features, from readers' masks or, without them, perturbations.

    Parameters
    ----------
    modality : Modality
        A radiomics modality (``image`` and ``mask`` columns; its ``params`` option is used).
    cohort : Cohort
        Pass the **development** cohort: the ICC then uses no external patient. (A
        :class:`~multisurv.selection.robustness.RobustnessFilter` given the result recomputes the ICC on each
        fit's training rows anyway.)
    feature_dir : str or Path
        The study's feature cache (the modality's store folder is used, beside its ordinary features).
    readers : sequence of str, optional
        Mask columns of the readers (``["ct_mask", "ct_mask_reader2"]``); with two or more, inter-reader
        agreement is measured, otherwise perturbation robustness.
    perturbations : int, default=4
        Chained perturbations per patient (plus erosion and dilation) when there are no readers.
    random_state : int, default=0
        Seed of the perturbations.
    progress, n_workers
        As for extraction (``n_workers`` defaults to the modality's ``workers`` option).

    Returns
    -------
    ReproducibilityResult
        Feature names (columns of ``features`` tables and the ICC index) carry the modality's prefix.

    Examples
    --------
    >>> from multisurv.registry import make_modality
    >>> result = modality_reproducibility(make_modality("radiomics"), development,
    ...                                   feature_dir="features")  # doctest: +SKIP
    >>> result.icc["icc2_1"].describe()  # doctest: +SKIP
    """
    from multisurv.features.robustness import perturbation_robustness, reader_agreement

    workers = int(n_workers if n_workers is not None else modality.options.get("workers", 1))
    root = store_folder(modality, feature_dir)
    params = modality.options.get("params")
    if readers is not None and len(readers) >= 2:
        result = reader_agreement(cohort, mask_columns=list(readers), image_column=modality.columns["image"],
                                  out_dir=root, params=params, n_workers=workers, progress=progress)
    else:
        result = perturbation_robustness(cohort, out_dir=root, n_perturbations=perturbations,
                                         image_column=modality.columns["image"], mask_column=modality.columns["mask"],
                                         params=params, random_state=random_state, n_workers=workers,
                                         progress=progress)
    if modality.prefix == "ct__":
        return result

    def rename(name: str) -> str:
        return modality.prefix + name[len("ct__"):] if name.startswith("ct__") else name

    features = {k: v.rename(columns=rename) for k, v in result.features.items()}
    icc = result.icc.rename(index=rename)
    icc.index.name = "feature"
    return replace(result, features=features, icc=icc)
