"""Draw a Cox nomogram: a points axis, one axis per variable, total points and survival at t."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np

from multisurv.evaluation.nomogram import Nomogram
from multisurv.plotting.km import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_nomogram"]


def _axis_row(ax, y: float, xs, labels, name: str, *, color: str = "black") -> None:
    """One horizontal axis: a line over the ticks, tick marks, tick labels above, the row name left."""
    xs = np.asarray(xs, dtype=float)
    ax.plot([xs.min(), xs.max()], [y, y], color=color, linewidth=1.0, solid_capstyle="butt")
    last = -np.inf
    for x, text in sorted(zip(xs, labels)):
        ax.plot([x, x], [y, y + 0.12], color=color, linewidth=0.8)
        if x - last >= 4.0:  # labels closer than 4 points would overprint: skip (the tick stays)
            ax.text(x, y + 0.18, text, ha="center", va="bottom", fontsize=7, color=color)
            last = x
    ax.text(-4, y, name, ha="right", va="center", fontsize=9, color=color)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def plot_nomogram(nomogram: Nomogram, *, ax: Axes | None = None, labels: Mapping[str, str] | None = None,
                  time_unit: str | None = "months", total_step: float | None = None) -> Axes:
    """Draw a nomogram: read each variable's points, add them, read survival at t below the total.

    Parameters
    ----------
    nomogram : Nomogram
        From :func:`multisurv.evaluation.nomogram.cox_nomogram`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    labels : mapping, optional
        Display name per variable.
    time_unit : str or None, default="months"
        Unit of t in the survival rows' names.
    total_step : float, optional
        Tick spacing of the total-points axis; default a round number giving 5-10 ticks.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Every row shares one x scale: the points axis runs 0-100, a variable's value sits at its points, and the total
    points axis (0 to :attr:`Nomogram.max_points`) is shrunk onto the same 0-100 width, as ``rms`` draws it.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from multisurv.evaluation.nomogram import cox_nomogram
    >>> ax = plot_nomogram(cox_nomogram({"a": 0.5, "b": -2.0}, {"a": [0, 2, 4], "b": [0, 0.5]}))
    >>> [t.get_text() for t in ax.texts if t.get_ha() == "right"]
    ['Points', 'a', 'b', 'Total points', 'Linear predictor']
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not isinstance(nomogram, Nomogram):
        raise TypeError("plot_nomogram takes a Nomogram (from cox_nomogram).")
    labels = dict(labels or {})
    n_rows = 1 + len(nomogram.axes) + 2 + len(nomogram.survival_axes)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.55 * n_rows + 0.6))
    row = 0.0
    _axis_row(ax, row, np.arange(0, 101, 10), [str(v) for v in range(0, 101, 10)], "Points")
    for name, axis in nomogram.axes.items():
        row -= 1
        _axis_row(ax, row, axis["points"], [_fmt(v) for v in axis["value"]], labels.get(name, name),
                  color=OKABE_ITO[0])
    shrink = 100.0 / nomogram.max_points
    if total_step is None:
        totals = MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]).tick_values(0, nomogram.max_points)
    else:
        totals = np.arange(0, nomogram.max_points + 1e-9, float(total_step))
    totals = totals[(totals >= 0) & (totals <= nomogram.max_points + 1e-9)]
    row -= 1
    _axis_row(ax, row, totals * shrink, [_fmt(v) for v in totals], "Total points")
    lp = nomogram.lp_from_points(totals)
    row -= 1
    _axis_row(ax, row, totals * shrink, [f"{v:.2f}" for v in lp], "Linear predictor", color="0.35")
    unit = f" {time_unit}" if time_unit else ""
    for k, (t, axis) in enumerate(nomogram.survival_axes.items()):
        row -= 1
        if len(axis):
            _axis_row(ax, row, axis["points"] * shrink, [f"{s:g}" for s in axis["survival"]],
                      f"Survival at {t:g}{unit}", color=OKABE_ITO[1 + k % (len(OKABE_ITO) - 1)])
    ax.set_xlim(-2, 102)
    ax.set_ylim(row - 0.6, 0.8)
    ax.axis("off")
    return ax
