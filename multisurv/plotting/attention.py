"""Attention heatmaps of an attention-MIL slide score: tiles coloured by attention over the slide thumbnail.

:func:`plot_attention_heatmap` draws on given arrays (no slide needed); :func:`plot_slide_attention` reads the
thumbnail and the top-attention tiles from the slide (OpenSlide) and lays out the heatmap with the tiles beside
it, for the QC folder and the report (save it with :func:`multisurv.plotting.export.save_figure`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_attention_heatmap", "plot_mil_attention", "plot_slide_attention", "top_tiles"]

_COLUMNS = ("x", "y", "attention")


def _check_attention(attention: pd.DataFrame, owner: str) -> pd.DataFrame:
    if not isinstance(attention, pd.DataFrame) or any(c not in attention.columns for c in _COLUMNS):
        raise ValueError(f"{owner} needs 'attention' as a DataFrame with columns 'x', 'y', 'attention' (as "
                         "AttentionMILScore.tile_attention returns).")
    if len(attention) == 0:
        raise ValueError(f"{owner}: 'attention' has no tile.")
    return attention


def top_tiles(attention: pd.DataFrame, k: int = 6) -> pd.DataFrame:
    """The ``k`` tiles with the highest attention, highest first.

    Parameters
    ----------
    attention : pandas.DataFrame
        Columns ``x``, ``y``, ``attention`` (:meth:`~multisurv.scores.mil.AttentionMILScore.tile_attention`).
    k : int, default=6
        How many tiles to keep (fewer when the slide has fewer).

    Returns
    -------
    pandas.DataFrame
        The ``k`` rows of ``attention`` with the highest weight, highest first (ties keep their order).

    Raises
    ------
    ValueError
        When ``attention`` lacks a column or has no tile.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [0, 224, 448], "y": [0, 0, 0], "attention": [0.2, 0.5, 0.3]})
    >>> top_tiles(a, 2)["x"].tolist()
    [224, 448]
    """
    _check_attention(attention, "top_tiles")
    return attention.sort_values("attention", ascending=False, kind="mergesort").head(k)


def plot_attention_heatmap(thumbnail: np.ndarray, attention: pd.DataFrame, *, slide_size: tuple[int, int],
                           footprint: float, ax: Axes | None = None, top_k: int = 6, cmap: str = "magma",
                           alpha: float = 0.6) -> Axes:
    """Draw the thumbnail with each tile filled by its attention (rank-scaled colours) and the top tiles outlined.

    Parameters
    ----------
    thumbnail : ndarray, shape (h, w, 3)
        RGB thumbnail of the slide.
    attention : pandas.DataFrame
        Columns ``x``, ``y`` (level-0 top-left corner) and ``attention`` per tile
        (:meth:`~multisurv.scores.mil.AttentionMILScore.tile_attention`).
    slide_size : (int, int)
        Level-0 width and height of the slide (maps coordinates onto the thumbnail).
    footprint : float
        Tile side in level-0 pixels (the patch file's ``footprint`` attribute).
    ax : matplotlib.axes.Axes, optional
    top_k : int, default=6
        Tiles outlined and numbered (1 = highest attention).
    cmap : str, default="magma"
    alpha : float, default=0.6
        Opacity of the tile colours.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Attention weights of a slide are skewed (a few tiles take most of the weight), so colours show each tile's
    percentile rank among the slide's tiles rather than the raw weight; the colour bar is labelled so.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> a = pd.DataFrame({"x": [0, 224, 448], "y": [0, 0, 224], "attention": [0.2, 0.5, 0.3]})
    >>> ax = plot_attention_heatmap(np.full((60, 80, 3), 240, np.uint8), a, slide_size=(800, 600), footprint=224)
    >>> len(ax.patches)
    6
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    attention = _check_attention(attention, "plot_attention_heatmap")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6 * thumbnail.shape[0] / max(thumbnail.shape[1], 1)))
    h, w = thumbnail.shape[:2]
    sx, sy = w / slide_size[0], h / slide_size[1]
    ax.imshow(thumbnail, extent=(0, w, h, 0))
    colours = plt.get_cmap(cmap)
    rank = attention["attention"].rank(pct=True).to_numpy()
    for (x, y), r in zip(attention[["x", "y"]].to_numpy(), rank):
        ax.add_patch(Rectangle((x * sx, y * sy), footprint * sx, footprint * sy, facecolor=colours(r),
                               edgecolor="none", alpha=alpha))
    for i, (x, y) in enumerate(top_tiles(attention, top_k)[["x", "y"]].to_numpy(), start=1):
        ax.add_patch(Rectangle((x * sx, y * sy), footprint * sx, footprint * sy, fill=False, edgecolor="#00e5ff",
                               linewidth=1.5))
        ax.annotate(str(i), (x * sx, y * sy), color="#00e5ff", fontsize=7, va="bottom")
    mappable = plt.cm.ScalarMappable(cmap=colours, norm=plt.Normalize(0, 100))
    ax.figure.colorbar(mappable, ax=ax, fraction=0.04, pad=0.02, label="attention (percentile within slide)")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    return ax


def plot_slide_attention(slide: str | os.PathLike, attention: pd.DataFrame, *, footprint: float,
                         top_k: int = 6, max_size: int = 1024, title: str | None = None,
                         tile_level: int = 0) -> Figure:
    """Heatmap over the slide thumbnail and the ``top_k`` highest-attention tiles, read from the slide.

    Parameters
    ----------
    slide : str or Path
        The slide (any format OpenSlide reads).
    attention : pandas.DataFrame
        Columns ``x``, ``y``, ``attention`` (:meth:`~multisurv.scores.mil.AttentionMILScore.tile_attention`).
    footprint : float
        Tile side in level-0 pixels (the patch file's ``footprint`` attribute).
    top_k : int, default=6
        Tiles outlined on the heatmap and shown beside it.
    max_size : int, default=1024
        Longest side of the thumbnail.
    title : str, optional
        E.g. the patient id and the slide risk.
    tile_level : int, default=0
        Pyramid level the tiles are read at for display.

    Returns
    -------
    matplotlib.figure.Figure
        Heatmap on the left, the top tiles (numbered as on the heatmap, with their attention) on the right.

    Raises
    ------
    ValueError
        When ``attention`` lacks a column or has no tile.
    ImportError
        When OpenSlide is not installed (``pip install "multisurv[wsi]"``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> a = pd.DataFrame({"x": [0, 224, 448], "y": [0, 0, 224], "attention": [0.2, 0.5, 0.3]})
    >>> fig = plot_slide_attention("slides/P1.svs", a, footprint=224, top_k=2, title="P1")  # doctest: +SKIP
    >>> plt.close(fig)  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    from multisurv.features.wsi.reader import iter_tiles, open_slide

    attention = _check_attention(attention, "plot_slide_attention")
    best = top_tiles(attention, top_k)
    with open_slide(slide) as handle:
        size = handle.dimensions
        thumb = np.asarray(handle.get_thumbnail((max_size, max_size)).convert("RGB"))
        down = handle.level_downsamples[tile_level] if tile_level < handle.level_count else 1.0
        side = max(round(footprint / down), 1)
        tiles = list(iter_tiles(handle, best[["x", "y"]].to_numpy(), side, level=tile_level))
    n_cols = 2 if len(tiles) > 3 else 1
    n_rows = -(-len(tiles) // n_cols)
    fig = plt.figure(figsize=(10, 6), layout="constrained")
    grid = fig.add_gridspec(max(n_rows, 1), 2 + n_cols, width_ratios=[3, 3] + [1.3] * n_cols)
    plot_attention_heatmap(thumb, attention, slide_size=size, footprint=footprint, top_k=top_k,
                           ax=fig.add_subplot(grid[:, :2]))
    for i, (tile, weight) in enumerate(zip(tiles, best["attention"].to_numpy())):
        ax = fig.add_subplot(grid[i // n_cols, 2 + i % n_cols])
        ax.imshow(tile)
        ax.set_title(f"{i + 1}: {weight:.3f}", fontsize=8)
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig


def plot_mil_attention(score, patient_id, *, slide: str | os.PathLike | None = None, top_k: int = 6,
                       max_size: int = 1024) -> Figure:
    """The attention figure of one patient under a fitted :class:`~multisurv.scores.mil.AttentionMILScore`.

    Reads the patient's patch file (found through ``score.patches``) for the slide path and the tile footprint,
    computes the tile attention and the slide risk, and calls :func:`plot_slide_attention`; save the result
    with :func:`~multisurv.plotting.export.save_figure` (e.g. ``qc/attention/<patient_id>``).

    Parameters
    ----------
    score : AttentionMILScore
        Fitted.
    patient_id : str
        A patient with a patch file in ``score.patches``; with several slides, the first slide is drawn.
    slide : str or Path, optional
        The slide, when it has moved since extraction (default: the path recorded in the patch file).
    top_k, max_size
        See :func:`plot_slide_attention`.

    Returns
    -------
    matplotlib.figure.Figure
        Titled with the patient id and the slide risk.

    Raises
    ------
    FileNotFoundError
        If the slide recorded in the patch file does not exist (pass ``slide``).
    ValueError
        If the patient has no patch file.

    Examples
    --------
    >>> from multisurv.plotting.export import save_figure
    >>> fig = plot_mil_attention(fitted_score, "GIST-042")  # doctest: +SKIP
    >>> save_figure(fig, "qc/attention/GIST-042")  # doctest: +SKIP
    """
    from multisurv.features.wsi.patch_store import read_patches
    from multisurv.scores.mil import patch_file_for

    attention = score.tile_attention(patient_id)  # raises for a patient without a patch file
    if "slide" in attention:  # several slides in one bag: draw the first slide's tiles (its patch file is read)
        attention = attention.loc[attention["slide"] == 1, ["x", "y", "attention"]]
    table = read_patches(patch_file_for(score.patches, patient_id), features=False)
    slide_path = os.fspath(slide) if slide is not None else table.attrs.get("slide")
    if slide_path is None or not os.path.exists(slide_path):
        raise FileNotFoundError(f"The slide of patient {patient_id!r} ({slide_path!r}, recorded in its patch file) "
                                "does not exist; pass slide=<its current path>.")
    footprint = float(table.attrs.get("footprint", table.attrs.get("read_size", 224)))
    risk = score.predict(pd.DataFrame(index=pd.Index([patient_id], name="patient_id")))[0]
    return plot_slide_attention(slide_path, attention, footprint=footprint, top_k=top_k, max_size=max_size,
                                title=f"{patient_id}: {score.name} {risk:+.2f} (attention-MIL)")
