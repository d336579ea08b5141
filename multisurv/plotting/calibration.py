"""Calibration plot: predicted against observed survival at t0, by risk group."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multisurv.evaluation.calibration import CalibrationResult
from multisurv.plotting.km import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_calibration"]


def plot_calibration(*results: CalibrationResult, labels=None, ax: Axes | None = None,
                     time_unit: str | None = "months") -> Axes:
    """Plot observed (Kaplan-Meier, 95% band) against mean predicted survival at ``t0`` per group.

    Parameters
    ----------
    *results : CalibrationResult
        One or more results of :func:`multisurv.evaluation.calibration.calibration_at` (for example the
        development and the external cohort), drawn in the Okabe-Ito colours.
    labels : sequence of str, optional
        Legend entry per result.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    time_unit : str or None, default="months"
        Unit of ``t0`` in the axis labels.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from multisurv._validation import make_y
    >>> from multisurv.evaluation.calibration import calibration_at
    >>> rng = np.random.default_rng(0)
    >>> y = make_y(rng.exponential(10, 100), np.ones(100, bool))
    >>> ax = plot_calibration(calibration_at(y, np.full(100, 0.6), 5.0, n_groups=1))
    >>> len(ax.lines) >= 2
    True
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    if not results or not all(isinstance(r, CalibrationResult) for r in results):
        raise TypeError("plot_calibration takes one or more CalibrationResult objects (from calibration_at).")
    if labels is not None and len(labels) != len(results):
        raise ValueError(f"'labels' has {len(labels)} entries but {len(results)} results were given.")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.8))
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="Ideal")
    for k, res in enumerate(results):
        table = res.table
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        label = labels[k] if labels is not None else (f"t0 = {res.t0:g}" if len(results) > 1 else "Observed")
        predicted, observed = table["predicted"].to_numpy(float), table["observed"].to_numpy(float)
        err = np.vstack([observed - table["lower"].to_numpy(float), table["upper"].to_numpy(float) - observed])
        ax.errorbar(predicted, observed, yerr=np.nan_to_num(err), color=colour, marker="o",
                    linestyle="-", linewidth=1.2, capsize=3, label=label)
    t0 = results[0].t0
    unit = f" {time_unit}" if time_unit else ""
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel(f"Predicted survival at {t0:g}{unit}")
    ax.set_ylabel(f"Observed survival at {t0:g}{unit} (Kaplan-Meier)")
    ax.legend(loc="upper left", frameon=False)
    return ax
