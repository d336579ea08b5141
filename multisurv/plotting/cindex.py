"""C-index comparison across models and cohorts, with confidence intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from multisurv.plotting.km import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_cindex_comparison"]

_REQUIRED = ("model", "cohort", "cindex", "ci_lower", "ci_upper")


def plot_cindex_comparison(metrics: pd.DataFrame, *, ax: Axes | None = None, labels=None,
                           cohorts: Sequence[str] | None = None) -> Axes:
    """Plot each model's C-index with its interval, one marker per cohort, models as rows.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Columns ``model``, ``cohort``, ``cindex``, ``ci_lower``, ``ci_upper`` (the study's ``metrics.csv``,
        one subset). Models keep their first-seen order, top to bottom.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    labels : mapping, optional
        Display name per model.
    cohorts : sequence of str, optional
        Cohorts to draw, in legend order (default: first-seen order).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> m = pd.DataFrame({"model": ["a", "a", "b", "b"], "cohort": ["dev", "ext"] * 2,
    ...                   "cindex": [0.7, 0.65, 0.8, 0.72], "ci_lower": [0.6, 0.55, 0.7, 0.6],
    ...                   "ci_upper": [0.8, 0.75, 0.9, 0.84]})
    >>> ax = plot_cindex_comparison(m)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['dev', 'ext']
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    missing = [c for c in _REQUIRED if c not in metrics.columns]
    if missing:
        raise ValueError(f"plot_cindex_comparison needs columns {', '.join(map(repr, _REQUIRED))}; missing "
                         f"{', '.join(map(repr, missing))}.")
    data = metrics.dropna(subset=["cindex"])
    models = list(pd.unique(data["model"]))
    cohorts = list(pd.unique(data["cohort"])) if cohorts is None else list(cohorts)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 0.5 * len(models) + 1.4))
    offsets = np.linspace(-0.15, 0.15, len(cohorts)) if len(cohorts) > 1 else [0.0]
    rows = {m: len(models) - 1 - k for k, m in enumerate(models)}
    for k, (cohort, offset) in enumerate(zip(cohorts, offsets)):
        part = data[data["cohort"] == cohort]
        y = np.array([rows[m] for m in part["model"]]) + offset
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        ax.hlines(y, part["ci_lower"], part["ci_upper"], color=colour, linewidth=1.6)
        ax.plot(part["cindex"], y, "o", color=colour, label=str(cohort), linestyle="none")
    ax.axvline(0.5, color="0.5", linestyle="--", linewidth=1)
    names = [labels.get(m, m) if labels else m for m in models]
    ax.set_yticks([rows[m] for m in models], names)
    ax.set_xlabel("C-index (95% CI)")
    # outside the axes (right): inside, it can cover the intervals of the bottom rows
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, title="Cohort")
    return ax
