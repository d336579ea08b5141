"""The distribution of feature reproducibility (ICC per feature), with the robustness filter's threshold."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from multisurv.features.reproducibility import ICC_METHODS, KOO_LI_BANDS
from multisurv.plotting.km import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_icc"]


def plot_icc(icc: pd.DataFrame, *, method: str = "icc2_1", icc_min: float | None = 0.75, ax: Axes | None = None,
             bins: int = 40, title: str | None = None) -> Axes:
    """Histogram of the features' ICCs, Koo and Li's bands shaded, and the filter's threshold.

    Parameters
    ----------
    icc : pandas.DataFrame
        A table from :func:`~multisurv.features.reproducibility.icc_table` (or ``reader_agreement(...).icc``).
    method : {"icc2_1", "icc3_1"}, default="icc2_1"
    icc_min : float or None, default=0.75
        Drawn as a vertical line, with the number of features at or above it in the legend; None draws none.
    ax : matplotlib.axes.Axes, optional
    bins : int, default=40
        Histogram bins over [-1, 1] (ICCs below -1 or undefined are left out; the title says how many are
        undefined).
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> table = pd.DataFrame({"icc2_1": [0.95, 0.8, 0.3, 0.92]})
    >>> ax = plot_icc(table)
    >>> ax.get_legend().get_texts()[0].get_text()
    'ICC >= 0.75: 3 of 4 features'
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    if method not in ICC_METHODS:
        raise ValueError(f"The 'method' parameter of plot_icc must be one of {', '.join(map(repr, ICC_METHODS))}. "
                         f"Got {method!r} instead.")
    if method not in icc.columns:
        raise ValueError(f"plot_icc needs column {method!r} in the ICC table; it has {list(icc.columns)}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    values = icc[method].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    shades = ("#f2f2f2", "#e0e0e0", "#cccccc", "#b8b8b8")
    for (name, lo, hi), shade in zip(KOO_LI_BANDS, shades):
        ax.axvspan(max(lo, -1.0), min(hi, 1.0), color=shade, zorder=0, lw=0)
        ax.text((max(lo, -1.0) + min(hi, 1.0)) / 2, 1.0, name, transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=7, color="0.35")
    ax.hist(np.clip(finite, -1.0, 1.0), bins=bins, range=(-1.0, 1.0), color=OKABE_ITO[4], zorder=2)
    if icc_min is not None:
        kept = int((finite >= icc_min).sum())
        ax.axvline(icc_min, color=OKABE_ITO[5], lw=1.5, zorder=3,
                   label=f"ICC >= {icc_min:g}: {kept} of {values.size} features")
        ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax.set_xlim(-1.0, 1.0)
    ax.set_xlabel({"icc2_1": "ICC(2,1), absolute agreement", "icc3_1": "ICC(3,1), consistency"}[method])
    ax.set_ylabel("features")
    undefined = values.size - finite.size
    ax.set_title((title or "Feature reproducibility") + (f" ({undefined} undefined)" if undefined else ""),
                 fontsize=10, pad=14)
    return ax
