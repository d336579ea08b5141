"""Decision curves: net benefit of models against treat all and treat none."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multisurv.evaluation.decision_curve import DecisionCurveResult
from multisurv.plotting.km import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_decision_curve"]


def plot_decision_curve(*results: DecisionCurveResult, ax: Axes | None = None,
                        time_unit: str | None = "months") -> Axes:
    """Plot each model's net benefit over the thresholds, with treat all and treat none.

    Parameters
    ----------
    *results : DecisionCurveResult
        Results of :func:`multisurv.evaluation.decision_curve.decision_curve` on the same patients, time
        and thresholds (treat all is taken from the first); each is labelled with its ``name``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    time_unit : str or None, default="months"
        Unit of ``t0`` in the axis label.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The y-axis runs from a little below 0 to a little above the largest net benefit, as usual for decision
    curves, because treat all falls steeply at high thresholds.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from multisurv._validation import make_y
    >>> from multisurv.evaluation.decision_curve import decision_curve
    >>> y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 0, 1, 0, 0])
    >>> ax = plot_decision_curve(decision_curve(y, [0.9, 0.8, 0.2, 0.6, 0.1, 0.1], 4.5))
    >>> [line.get_label() for line in ax.lines]
    ['Treat none', 'Treat all', 'model']
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    if not results or not all(isinstance(r, DecisionCurveResult) for r in results):
        raise TypeError("plot_decision_curve takes one or more DecisionCurveResult objects (from decision_curve).")
    first = results[0].table
    for res in results[1:]:
        if res.t0 != results[0].t0 or not np.array_equal(res.table["threshold"], first["threshold"]):
            raise ValueError(f"Decision curves must share t0 and thresholds; '{res.name}' differs from "
                             f"'{results[0].name}'.")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.4))
    ax.plot(first["threshold"], first["treat_none"], color="0.3", linewidth=1, label="Treat none")
    ax.plot(first["threshold"], first["treat_all"], color="0.6", linewidth=1, linestyle="--", label="Treat all")
    for k, res in enumerate(results):
        ax.plot(res.table["threshold"], res.table["net_benefit"], color=OKABE_ITO[k % len(OKABE_ITO)],
                linewidth=1.6, label=res.name)
    best = np.nanmax([np.nanmax(r.table["net_benefit"]) for r in results] + [float(np.nanmax(first["treat_all"]))])
    top = max(best, 0.01)
    ax.set_ylim(-0.05 * top - 0.01, 1.15 * top)
    ax.set_xlim(float(first["threshold"].min()), float(first["threshold"].max()))
    unit = f" {time_unit}" if time_unit else ""
    ax.set_xlabel(f"Threshold probability of the event by {results[0].t0:g}{unit}")
    ax.set_ylabel("Net benefit")
    ax.legend(loc="upper right", frameon=False)
    return ax
