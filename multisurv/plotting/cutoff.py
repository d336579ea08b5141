"""The X-tile style scan of a maximally selected cut-off: standardised log-rank statistic against cut-off."""

from __future__ import annotations

from typing import TYPE_CHECKING

from multisurv.evaluation.cutoffs import MaxstatResult
from multisurv.plotting.km import OKABE_ITO, format_p

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_maxstat_scan"]


def plot_maxstat_scan(result: MaxstatResult, *, ax: Axes | None = None, xlabel: str = "Cut-off (risk score)") -> Axes:
    """Plot the standardised log-rank statistic of every candidate cut-off, marking the chosen one.

    Parameters
    ----------
    result : MaxstatResult
        From :func:`multisurv.evaluation.cutoffs.maxstat_cutoff` (or ``RiskCutoff(method="maxstat").maxstat_``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    xlabel : str
        Label of the x axis.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from multisurv._validation import make_y
    >>> from multisurv.evaluation.cutoffs import maxstat_cutoff
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1] * 8)
    >>> ax = plot_maxstat_scan(maxstat_cutoff(y, [9.0, 8.0, 7.0, 6.0, 4.0, 3.0, 2.0, 1.0]))
    >>> ax.lines[0].get_xdata().tolist() == [1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0]
    True
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    if not isinstance(result, MaxstatResult):
        raise TypeError("plot_maxstat_scan takes a MaxstatResult (from maxstat_cutoff).")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.0))
    ax.plot(result.cuts, result.stats, color=OKABE_ITO[0], marker="o", ms=3, linewidth=1.2,
            label="Standardised log-rank statistic")
    method = "Lau92" if result.p_method == "lau92" else f"{result.n_permutations} permutations"
    ax.axvline(result.cutoff, color=OKABE_ITO[1], linestyle="--", linewidth=1.2,
               label=f"Cut-off {result.cutoff:.3g}: corrected {format_p(result.p_value)} ({method})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("|standardised log-rank statistic|")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", frameon=False, fontsize="small")
    return ax
