"""Time-dependent ROC curves (cumulative/dynamic, IPCW) at chosen times, the AUCs in the legend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from multisurv.evaluation.td_auc import TimeDependentROC
from multisurv.plotting.km import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_td_roc"]


def plot_td_roc(*rocs: TimeDependentROC, ax: Axes | None = None, labels: Sequence[str] | None = None,
                time_unit: str | None = "months") -> Axes:
    """Plot one ROC curve per result, each legend entry with its AUC.

    Parameters
    ----------
    *rocs : TimeDependentROC
        From :func:`multisurv.evaluation.td_auc.time_dependent_roc` (for example at 1, 3 and 5 years, or
        two models at one time).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    labels : sequence of str, optional
        Legend text per curve; default ``"t = <t0> <unit>"``. ``", AUC = 0.xxx"`` is appended.
    time_unit : str or None, default="months"
        Unit of the times in the default labels.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from multisurv._validation import make_y
    >>> from multisurv.evaluation.td_auc import time_dependent_roc
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    >>> ax = plot_td_roc(time_dependent_roc(y, [4.0, 1.0, 3.0, 2.0], 2.5), time_unit=None)
    >>> ax.get_legend().get_texts()[0].get_text()
    't = 2.5, AUC = 0.500'
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    if not rocs or not all(isinstance(r, TimeDependentROC) for r in rocs):
        raise TypeError("plot_td_roc takes one or more TimeDependentROC objects (from time_dependent_roc).")
    if labels is not None and len(labels) != len(rocs):
        raise ValueError(f"'labels' has {len(labels)} entries but {len(rocs)} curves were given.")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.8))
    unit = f" {time_unit}" if time_unit else ""
    for k, roc in enumerate(rocs):
        name = labels[k] if labels is not None else f"t = {roc.t0:g}{unit}"
        ax.plot(roc.fpr, roc.tpr, color=OKABE_ITO[k % len(OKABE_ITO)], linewidth=1.6,
                label=f"{name}, AUC = {roc.auc:.3f}")
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 - specificity (false-positive rate)")
    ax.set_ylabel("Sensitivity (IPCW)")
    ax.legend(loc="lower right", frameon=False, fontsize="small")
    return ax
