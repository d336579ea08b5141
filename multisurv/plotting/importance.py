"""Feature importance as a horizontal bar chart (standardised coefficients, permutation importance, mean |SHAP|)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np
import pandas as pd

from multisurv.plotting.km import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_importance"]


def plot_importance(table: pd.DataFrame, *, value: str, error: str | None = None, ax: Axes | None = None,
                    labels: Mapping[str, str] | None = None, xlabel: str | None = None, max_features: int = 20
                    ) -> Axes:
    """Bar per feature, largest magnitude on top; negative values (protective coefficients) point left.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per feature with a ``feature`` column and ``value`` (for example from
        :func:`multisurv.evaluation.importance.standardised_coefficients` with ``value="std_coef"`` or
        :func:`~multisurv.evaluation.importance.permutation_importance_cindex` with ``value="importance_mean"``,
        ``error="importance_std"``).
    value : str
        Column drawn as bar length.
    error : str, optional
        Column drawn as a +-1 error bar.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    labels : mapping, optional
        Display name per feature.
    xlabel : str, optional
        x-axis label; default ``value``.
    max_features : int, default=20
        Only the largest ``max_features`` (by magnitude) are drawn.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> ax = plot_importance(pd.DataFrame({"feature": ["a", "b"], "w": [0.2, -0.5]}), value="w")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['a', 'b']
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    for col in ("feature", value, *([error] if error else [])):
        if col not in table:
            raise ValueError(f"'table' has no column '{col}'; its columns are {', '.join(map(repr, table.columns))}.")
    if len(table) == 0:
        raise ValueError("'table' is empty; there is no feature to draw.")
    shown = table.reindex(table[value].abs().sort_values(ascending=False).index).head(max_features)
    shown = shown.iloc[::-1]  # barh draws bottom-up: largest on top
    labels = dict(labels or {})
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 0.35 * len(shown) + 1.2))
    vals = shown[value].to_numpy(float)
    colours = [OKABE_ITO[1] if v > 0 else OKABE_ITO[0] for v in vals]
    xerr = shown[error].to_numpy(float) if error else None
    ax.barh(np.arange(len(shown)), vals, xerr=xerr, color=colours, height=0.6, capsize=3 if error else 0,
            error_kw={"elinewidth": 1, "ecolor": "0.3"})
    ax.set_yticks(np.arange(len(shown)))
    ax.set_yticklabels([labels.get(f, str(f)) for f in shown["feature"]])
    ax.axvline(0, color="0.4", linewidth=0.8)
    ax.set_xlabel(xlabel or value)
    return ax
