"""Attention maps of a study's attention-MIL slide scores: which tiles drove the risk of a few chosen patients.

:func:`attention_maps` picks the patients (the highest and lowest slide risks of the external cohorts, or of the
development cohort when there is none) and computes each one's tile attention under the fitted
:class:`~multisurv.scores.mil.AttentionMILScore`; :func:`attention_table` lays them out as one tidy table. The
report only draws them (:func:`multisurv.report.attention.write_attention_figures`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["AttentionMap", "attention_maps", "attention_table"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttentionMap:
    """The tile attention of one patient's slide under a fitted attention-MIL score.

    Parameters
    ----------
    modality : str
        The pathomics modality (model name in metrics and predictions).
    patient_id : str
        The patient.
    cohort : str
        The patient's cohort label.
    role : str
        Why the patient was chosen: ``"highest risk"`` or ``"lowest risk"`` (within ``among``).
    among : str
        The patients ranked: ``"external"`` (every non-development cohort) or the development label.
    rank : int
        1 = the highest (or lowest) slide risk among them.
    risk : float
        The patient's slide risk (higher = worse, centred on the development slides).
    attention : pandas.DataFrame
        Columns ``x``, ``y`` (level-0 top-left corner of each tile) and ``attention`` (sums to 1).
    slide : str or None
        The slide file recorded in the patch file (None when it was not recorded).
    footprint : float
        Tile side in level-0 pixels.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [0, 224], "y": [0, 0], "attention": [0.25, 0.75]})
    >>> m = AttentionMap("pathomics", "P1", "external", "highest risk", "external", 1, 0.8, a, None, 224.0)
    >>> m.role, float(m.attention["attention"].sum())
    ('highest risk', 1.0)
    """

    modality: str
    patient_id: str
    cohort: str
    role: str
    among: str
    rank: int
    risk: float
    attention: pd.DataFrame
    slide: str | None
    footprint: float


def attention_maps(score, modality: str, predictions: pd.DataFrame, *, development: str,
                   n: int = 2) -> list[AttentionMap]:
    """Tile attention of the ``n`` highest- and ``n`` lowest-risk patients under a fitted attention-MIL score.

    Parameters
    ----------
    score : AttentionMILScore
        Fitted on the development cohort.
    modality : str
        Its model name: the column of ``predictions`` that holds its slide risk.
    predictions : pandas.DataFrame
        The study's predictions (index patient_id; ``cohort`` and one risk column per model).
    development : str
        The development cohort label. Patients are chosen among the other cohorts (scored only), or among the
        development patients when there is no other cohort.
    n : int, default=2
        Patients at each end of the risk ranking (fewer when fewer patients have a slide).

    Returns
    -------
    list of AttentionMap
        Highest risk first (rank 1, 2, ...), then lowest risk (rank 1 = the lowest).

    Examples
    --------
    >>> maps = attention_maps(fitted_score, "pathomics", result.predictions,
    ...                       development="development")  # doctest: +SKIP
    >>> [(m.role, m.rank, m.patient_id) for m in maps]  # doctest: +SKIP
    [('highest risk', 1, 'GIST-212'), ('highest risk', 2, 'GIST-250'), ('lowest risk', 1, 'GIST-231'), ...]
    """
    from multisurv.features.wsi.patch_store import read_patches
    from multisurv.scores.mil import patch_file_for

    risk = predictions[modality].astype(float)
    external = predictions["cohort"].astype(str) != str(development)
    among = "external" if bool((external & risk.notna()).any()) else str(development)
    pool = risk[(external if among == "external" else ~external) & risk.notna()]
    order = pool.sort_values(kind="mergesort")
    high = list(order.index[::-1][:n])
    low = [pid for pid in order.index[:n] if pid not in high]
    out = []
    for role, ids in (("highest risk", high), ("lowest risk", low)):
        for rank, pid in enumerate(ids, start=1):
            attention = score.tile_attention(pid)
            attrs = read_patches(patch_file_for(score.patches, pid), features=False).attrs
            out.append(AttentionMap(
                modality=modality, patient_id=str(pid), cohort=str(predictions.at[pid, "cohort"]), role=role,
                among=among, rank=rank, risk=float(risk.at[pid]), attention=attention,
                slide=attrs.get("slide"), footprint=float(attrs.get("footprint", attrs.get("read_size", 224)))))
    logger.info("%s: attention maps of %d %s patients (highest and lowest slide risk).", modality, len(out), among)
    return out


def attention_table(maps: list[AttentionMap]) -> pd.DataFrame:
    """One row per tile of every map: ``modality, patient_id, cohort, role, rank, risk, x, y, attention``.

    Parameters
    ----------
    maps : list of AttentionMap
        The maps, e.g. from :func:`attention_maps`.

    Returns
    -------
    pandas.DataFrame
        The tiles of each map in order (an empty table with those columns when there is no map).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [0, 224], "y": [0, 0], "attention": [0.25, 0.75]})
    >>> m = AttentionMap("pathomics", "P1", "external", "highest risk", "external", 1, 0.8, a, None, 224.0)
    >>> attention_table([m])[["patient_id", "x", "attention"]].to_numpy().tolist()
    [['P1', 0, 0.25], ['P1', 224, 0.75]]
    """
    columns = ["modality", "patient_id", "cohort", "role", "rank", "risk", "x", "y", "attention"]
    parts = [m.attention.loc[:, ["x", "y", "attention"]].assign(
        modality=m.modality, patient_id=m.patient_id, cohort=m.cohort, role=m.role, rank=m.rank, risk=m.risk)
        for m in maps]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True).loc[:, columns].astype({"attention": np.float64})
