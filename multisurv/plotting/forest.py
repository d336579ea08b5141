"""Forest plot of hazard ratios with their confidence intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from multisurv.plotting.km import OKABE_ITO, format_p

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_forest"]

_REQUIRED = ("term", "hr", "lower", "upper")


def plot_forest(table: pd.DataFrame, *, ax: Axes | None = None, show_values: bool = True,
                xlabel: str = "Hazard ratio (95% CI)") -> Axes:
    """Draw hazard ratios and intervals on a log axis, one row per term (first row on top).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``term``, ``hr``, ``lower``, ``upper`` and optionally ``p`` (for example built from
        lifelines' ``CoxPHFitter.summary``: ``exp(coef)``, ``exp(coef) lower 95%``, ``exp(coef) upper 95%``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    show_values : bool, default=True
        Write "HR (lower-upper), p" to the right of each row.
    xlabel : str
        Axis label.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> t = pd.DataFrame({"term": ["radscore", "patscore"], "hr": [2.1, 1.4], "lower": [1.5, 1.1],
    ...                   "upper": [2.9, 1.8], "p": [1e-5, 0.01]})
    >>> ax = plot_forest(t)
    >>> [label.get_text() for label in ax.get_yticklabels()]
    ['patscore', 'radscore']
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"plot_forest needs columns {', '.join(map(repr, _REQUIRED))}; missing "
                         f"{', '.join(map(repr, missing))} (got {', '.join(map(repr, table.columns))}).")
    values = table.loc[:, ["hr", "lower", "upper"]].to_numpy(float)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError("plot_forest needs finite, positive 'hr', 'lower' and 'upper' values.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 0.45 * len(table) + 1.2))
    rows = np.arange(len(table))[::-1]  # first term on top
    ax.hlines(rows, values[:, 1], values[:, 2], color=OKABE_ITO[0], linewidth=1.6)
    ax.plot(values[:, 0], rows, "s", color=OKABE_ITO[0], markersize=6, linestyle="none")
    ax.axvline(1.0, color="0.5", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(rows[::-1], [str(t) for t in table["term"]][::-1])
    ax.set_ylim(-0.7, len(table) - 0.3)
    ax.set_xlabel(xlabel)
    if show_values:
        for row, (hr, lo, hi), (_, rec) in zip(rows, values, table.iterrows()):
            text = f"{hr:.2f} ({lo:.2f}-{hi:.2f})"
            if "p" in table.columns and pd.notna(rec["p"]):
                text += f", {format_p(float(rec['p']))}"
            ax.annotate(text, xy=(1.02, row), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    return ax
