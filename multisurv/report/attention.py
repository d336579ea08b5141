"""Attention figures of a run's attention-MIL slide scores, for the report and the QC folder (drawing only).

The study computes the attention maps (:func:`multisurv.study.attention.attention_maps`); this module draws each
one over its slide thumbnail with the top-attention tiles (:func:`multisurv.plotting.attention.plot_slide_attention`)
and writes it twice: ``figures/attention_<modality>_<role>_<rank>.png`` (+ PDF) for the report, and
``qc/attention/<modality>/<patient_id>.png`` for a pathologist's review beside the extraction's QC thumbnails.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Sequence

__all__ = ["write_attention_figures", "attention_section"]

logger = logging.getLogger(__name__)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "-", str(text))


def write_attention_figures(run_dir: str | Path, maps: Sequence, *, top_k: int = 6) -> tuple[list[dict], list[str]]:
    """Draw every attention map of the run; returns (rows for the report, what could not be drawn and why).

    Parameters
    ----------
    run_dir : str or Path
        The run folder; figures go to ``figures/`` (PNG and PDF, 150 dpi) and ``qc/attention/<modality>/``.
    maps : sequence of AttentionMap
        As :func:`multisurv.study.attention.attention_maps` computed them.
    top_k : int, default=6
        Tiles outlined on the heatmap and shown beside it.

    Returns
    -------
    rows : list of dict
        ``modality, patient_id, cohort, role, among, rank, risk, figure`` (PNG path relative to ``run_dir``),
        ``qc`` (the QC copy, relative to ``run_dir``).
    skipped : list of str
        One line per map whose slide could not be read (moved or unreadable since extraction); each is also logged
        as a warning.

    Examples
    --------
    A map whose slide is gone is reported, not drawn:

    >>> import pandas as pd
    >>> from multisurv.study.attention import AttentionMap
    >>> a = pd.DataFrame({"x": [0, 224], "y": [0, 0], "attention": [0.25, 0.75]})
    >>> m = AttentionMap("pathomics", "P001", "external", "highest risk", "external", 1, 1.2, a, "gone.tiff", 224.0)
    >>> rows, skipped = write_attention_figures("runs/x", [m])
    >>> rows, skipped
    ([], ["attention map of 'P001' (pathomics): its slide 'gone.tiff', recorded in the patch file, does not exist"])

    With the run's maps (:func:`multisurv.study.attention.attention_maps`):

    >>> rows, skipped = write_attention_figures("runs/gist", maps)  # doctest: +SKIP
    >>> rows[0]["figure"]  # doctest: +SKIP
    'figures/attention_pathomics_high_1.png'
    """
    import matplotlib.pyplot as plt

    from multisurv.plotting.attention import plot_slide_attention
    from multisurv.plotting.export import save_figure

    run_dir = Path(run_dir)
    rows, skipped = [], []
    for m in maps:
        if m.slide is None or not Path(m.slide).exists():
            skipped.append(f"attention map of {m.patient_id!r} ({m.modality}): its slide {m.slide!r}, recorded in "
                           "the patch file, does not exist")
            continue
        title = f"{m.patient_id} ({m.cohort}): slide risk {m.risk:+.2f}, {m.role} #{m.rank} among {m.among}"
        try:
            fig = plot_slide_attention(m.slide, m.attention, footprint=m.footprint, top_k=top_k, max_size=768,
                                       title=title)
        except (OSError, ValueError) as exc:  # an unreadable slide costs this figure only
            skipped.append(f"attention map of {m.patient_id!r} ({m.modality}): {type(exc).__name__}: {exc}")
            continue
        stem = f"attention_{_safe(m.modality)}_{'high' if m.role.startswith('highest') else 'low'}_{m.rank}"
        figure = save_figure(fig, run_dir / "figures" / stem, formats=("png", "pdf"), dpi=150)[0]
        qc = save_figure(fig, run_dir / "qc" / "attention" / _safe(m.modality) / _safe(m.patient_id),
                         formats=("png",), dpi=150)[0]
        plt.close(fig)
        rows.append({"modality": m.modality, "patient_id": m.patient_id, "cohort": m.cohort, "role": m.role,
                     "among": m.among, "rank": m.rank, "risk": m.risk,
                     "figure": figure.relative_to(run_dir).as_posix(), "qc": qc.relative_to(run_dir).as_posix()})
    for line in skipped:
        logger.warning("Not drawn: %s.", line)
    return rows, skipped


def attention_section(rows: Sequence[dict], models: Sequence[dict] = (), skipped: Sequence[str] = ()) -> list[str]:
    """Markdown: how each attention-MIL score was trained and its attention figures.

    Parameters
    ----------
    rows : sequence of dict
        :func:`write_attention_figures`' rows; each becomes a caption and an image link.
    models : sequence of dict, default=()
        One dict per attention-MIL modality: ``modality, score, n_train, best_epoch, loss, epochs, table``,
        optionally ``seconds`` (the development fit).
    skipped : sequence of str, default=()
        Maps that could not be drawn (:func:`write_attention_figures`), listed in one "Not drawn" line.

    Returns
    -------
    list of str
        Markdown lines, starting with the section heading.

    Examples
    --------
    >>> model = {"modality": "pathomics", "score": "patscore", "n_train": 30, "best_epoch": 7, "loss": "cox",
    ...          "epochs": 60, "table": "tables/pathomics_attention.csv"}
    >>> attention_section([], [model])[0]
    '## Attention-MIL slide score'
    """
    lines = ["## Attention-MIL slide score", "",
             "Gated attention pooling over each slide's tile features (Ilse et al. 2018) with a linear survival head, "
             "trained on the development slides only (tile standardisation, early stopping on an inner validation "
             "split of the development slides, then refitted on all of them), and refitted inside every late-fusion "
             "fold and internal-validation resample; other cohorts are only scored. Early and intermediate fusion "
             "fuse features, so they keep the LASSO-selected mean-pooled tile features of the modality.", ""]
    for model in models:
        lines += [f"- **{model['modality']}** ({model['score']}): {model['n_train']} development slides, "
                  f"{model['loss']} loss, early stopping chose {model['best_epoch']} of at most {model['epochs']} "
                  "epochs" + ("" if model.get("seconds") is None else f", fitted in {model['seconds']:.1f} s")
                  + f". Tile attention of the patients shown: `{model['table']}`."]
    if models:
        lines.append("")
    if rows:
        lines += ["Heatmaps: each tile coloured by its attention (percentile within the slide) over the slide "
                  "thumbnail; the highest-attention tiles are outlined, numbered and shown beside it. Patients: the "
                  "highest and lowest slide risks among the external patients (development when there is none). "
                  "Copies for review: `qc/attention/`.", ""]
        for r in rows:
            lines += [f"**{r['patient_id']}** ({r['cohort']}), {r['role']} #{r['rank']}, slide risk {r['risk']:+.2f}",
                      "", f"![attention {r['patient_id']}]({r['figure']})", ""]
    if skipped:
        lines += ["Not drawn: " + "; ".join(skipped) + ".", ""]
    return lines
