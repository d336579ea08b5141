"""Extraction of one modality of a study, whatever its manifest columns: adapters from the modality registry to the
radiomics and pathomics extractors.

Each function takes a :class:`~multisurv.registry.Modality`, the cohort and the feature cache folder, and returns
an :class:`~multisurv.features.batch.ExtractionResult` whose feature columns carry the modality's prefix. The
built-in modalities keep their cache where ``multisurv extract`` writes it (``<cache>/ct/...``, ``<cache>/wsi/...``),
so ``run`` reuses what ``extract`` computed; any other modality gets its own sub-folder (``<cache>/<name>/``), so
two series of one patient never overwrite each other's cached features.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

from multisurv.features.batch import ExtractionResult

__all__ = ["extract_radiomics_modality", "extract_pathomics_modality", "store_folder", "with_prefix"]

logger = logging.getLogger(__name__)


def store_folder(modality, feature_dir: str | os.PathLike) -> Path:
    """The cache root of a modality: ``feature_dir`` for a built-in modality, ``feature_dir/<name>`` otherwise.

    Parameters
    ----------
    modality : Modality
        The modality (its :attr:`~multisurv.registry.Modality.store_name`).
    feature_dir : str or Path
        The study's feature cache.

    Returns
    -------
    Path

    Examples
    --------
    >>> from multisurv.registry import make_modality
    >>> store_folder(make_modality("radiomics"), "features").as_posix()
    'features'
    >>> store_folder(make_modality("ct_arterial", {"kind": "radiomics"}), "features").as_posix()
    'features/ct_arterial'
    """
    return Path(feature_dir) / modality.store_name if modality.store_name else Path(feature_dir)


def with_prefix(result: ExtractionResult, old: str, new: str) -> ExtractionResult:
    """The result with feature columns renamed from prefix ``old`` to ``new``.

    Parameters
    ----------
    result : ExtractionResult
        An extraction result (unchanged).
    old, new : str
        The prefix to replace, and its replacement; columns without ``old`` keep their name.

    Returns
    -------
    ExtractionResult
        ``result`` itself when ``old == new``, else a copy with renamed feature columns.

    Examples
    --------
    >>> import pandas as pd
    >>> res = ExtractionResult(features=pd.DataFrame({"ct__a": [1.0]}), failures=pd.DataFrame(), n_cached=0,
    ...                        store_dir=Path("."))
    >>> list(with_prefix(res, "ct__", "art__").features.columns)
    ['art__a']
    """
    if old == new:
        return result
    features = result.features.rename(columns=lambda c: new + c[len(old):] if c.startswith(old) else c)
    return replace(result, features=features)


def _cases(modality, cohort, roles: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """(patient_id, {extractor role: path}) of the patients who have every column of the modality."""
    columns = [modality.columns[r] for r in roles]
    table = cohort.table.loc[cohort.has(columns).to_numpy()]
    skipped = len(cohort) - len(table)
    if skipped:
        logger.info("%s: %d of %d patients have no %s; skipped.", modality.name, skipped, len(cohort),
                    " and ".join(repr(c) for c in columns))
    return [(str(pid), {role_name: str(row[modality.columns[r]]) for r, role_name in roles.items()})
            for pid, row in table.iterrows()]


def extract_radiomics_modality(modality, cohort, *, feature_dir, progress: bool = True,
                               n_workers: int | None = None) -> ExtractionResult:
    """PyRadiomics features of one radiomics modality (its ``image`` and ``mask`` columns; ``params`` option).

    See :func:`multisurv.features.radiomics.extract_radiomics_cases`; feature columns ``<prefix><feature>``.
    The extractor of the ``radiomics`` kind in :data:`multisurv.registry.MODALITY_KINDS`.

    Parameters
    ----------
    modality : Modality
        A modality of kind ``radiomics``.
    cohort : Cohort
        Its patients with both an image and a mask are extracted.
    feature_dir : str or Path
        The study's feature cache (see :func:`store_folder`).
    progress : bool, default=True
        Show a progress bar.
    n_workers : int, optional
        Processes; default the modality's ``workers`` option, else 2.

    Returns
    -------
    ExtractionResult

    Examples
    --------
    >>> from multisurv.registry import make_modality
    >>> result = extract_radiomics_modality(make_modality("radiomics"), cohort,
    ...                                     feature_dir="features")  # doctest: +SKIP
    """
    from multisurv.features.radiomics import extract_radiomics_cases

    cases = _cases(modality, cohort, {"image": "ct_image", "mask": "ct_mask"})
    workers = int(n_workers if n_workers is not None else modality.options.get("workers", 2))
    logger.info("%s: %d patients with an image and mask.", modality.name, len(cases))
    result = extract_radiomics_cases(cases, out_dir=store_folder(modality, feature_dir),
                                     params=modality.options.get("params"), n_workers=workers, progress=progress)
    return with_prefix(result, "ct__", modality.prefix)


def extract_pathomics_modality(modality, cohort, *, feature_dir, progress: bool = True,
                               n_workers: int | None = None) -> ExtractionResult:
    """Slide features of one pathomics modality (its ``slide`` column, one slide or several separated by ``;``;
    ``encoder``, ``weights``, ``tile_size``,
    ``max_tiles``, ``mpp``, ``slide_mpp``, ``precision``, ``device`` options, and ``stain`` with
    ``stain_reference`` for stain normalisation). See :func:`multisurv.features.wsi.pathomics.extract_pathomics_cases`.

    Parameters
    ----------
    modality : Modality
        A modality of kind ``pathomics``.
    cohort : Cohort
        Its patients with a slide are extracted; a patient's several slides give one vector.
    feature_dir : str or Path
        The study's feature cache (see :func:`store_folder`).
    progress : bool, default=True
        Show a progress bar.
    n_workers : int, optional
        Accepted for the common extractor signature; not passed on.

    Returns
    -------
    ExtractionResult
        Features prefixed by the modality's prefix.

    Examples
    --------
    >>> from multisurv.registry import make_modality
    >>> result = extract_pathomics_modality(make_modality("pathomics", {"encoder": "resnet50"}), cohort,
    ...                                     feature_dir="features")  # doctest: +SKIP
    """
    from multisurv.features.wsi.pathomics import extract_pathomics_cases, slide_input

    # a patient's several slides (';' in the slide column) are one case whose vector pools all their tiles
    cases = [(pid, {"wsi": slide_input(inputs["wsi"])}) for pid, inputs in _cases(modality, cohort, {"slide": "wsi"})]
    logger.info("%s: %d patients with a slide.", modality.name, len(cases))
    options = {k: modality.options[k] for k in ("encoder", "weights", "tile_size", "max_tiles", "mpp", "slide_mpp",
                                                "precision", "device")
               if modality.options.get(k) is not None}
    if modality.options.get("stain"):
        from multisurv.features.wsi.stain import load_stain_normalizer

        options["stain"] = load_stain_normalizer(modality.options["stain"], modality.options.get("stain_reference"))
    result = extract_pathomics_cases(cases, out_dir=store_folder(modality, feature_dir), progress=progress,
                                     **options)
    return with_prefix(result, "wsi__", modality.prefix)
