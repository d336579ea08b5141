"""Figures of a binary endpoint: ROC curves, calibration curves (apparent and bootstrap-corrected), net benefit and
the logistic nomogram. Each draws results computed elsewhere and returns its Axes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd

from multisurv.plotting.km import OKABE_ITO

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_calibration_curves", "plot_logistic_nomogram", "plot_net_benefit", "plot_roc"]


def _color(k: int) -> str:
    return OKABE_ITO[k % len(OKABE_ITO)]


def plot_roc(curves: Mapping[str, pd.DataFrame], *, ax: Axes | None = None,
             aucs: Mapping[str, tuple[float, float, float]] | None = None) -> Axes:
    """ROC curves, one per model, with the chance diagonal.

    Parameters
    ----------
    curves : mapping
        Label -> DataFrame with ``fpr`` and ``tpr`` (as ``sklearn.metrics.roc_curve`` returns them).
    ax : matplotlib.axes.Axes, optional
    aucs : mapping, optional
        Label -> (AUC, lower, upper), written in the legend.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> curve = pd.DataFrame({"fpr": [0, 0.5, 1], "tpr": [0, 0.8, 1]})
    >>> ax = plot_roc({"model": curve}, aucs={"model": (0.65, 0.5, 0.8)})
    >>> ax.get_legend().get_texts()[0].get_text()
    'model: AUC 0.65 (0.50-0.80)'
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 5.0))
    ax.plot([0, 1], [0, 1], color="0.6", linewidth=0.8, linestyle="--")
    for k, (label, frame) in enumerate(curves.items()):
        text = label
        if aucs and label in aucs:
            auc, lo, hi = aucs[label]
            text = f"{label}: AUC {auc:.2f} ({lo:.2f}-{hi:.2f})"
        ax.step(frame["fpr"], frame["tpr"], where="post", color=_color(k), linewidth=1.5, label=text)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("Sensitivity")
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    return ax


def plot_calibration_curves(curves: Mapping[str, pd.DataFrame], *, ax: Axes | None = None,
                            corrected: pd.DataFrame | None = None, predicted: Sequence[float] | None = None,
                            corrected_label: str = "Bias-corrected") -> Axes:
    """Observed against predicted probability: one smoothed curve per model, the ideal line, optionally the
    bootstrap bias-corrected curve (``rms::calibrate``) and a rug of the predictions.

    Parameters
    ----------
    curves : mapping
        Label -> DataFrame ``predicted``, ``observed`` (apparent, smoothed).
    ax : matplotlib.axes.Axes, optional
    corrected : pandas.DataFrame, optional
        ``predicted``, ``corrected`` (from :func:`~multisurv.evaluation.binary_validation.calibrate_binary`).
    predicted : sequence of float, optional
        Predictions drawn as a rug at the bottom.
    corrected_label : str

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> ax = plot_calibration_curves({"m": pd.DataFrame({"predicted": [0.1, 0.9], "observed": [0.2, 0.8]})})
    >>> [line.get_label() for line in ax.lines]
    ['Ideal', 'm']
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 5.0))
    ax.plot([0, 1], [0, 1], color="0.6", linewidth=0.8, linestyle="--", label="Ideal")
    for k, (label, frame) in enumerate(curves.items()):
        ax.plot(frame["predicted"], frame["observed"], color=_color(k), linewidth=1.5, label=label)
    if corrected is not None:
        ok = np.isfinite(corrected["corrected"].to_numpy(float))
        ax.plot(corrected["predicted"][ok], corrected["corrected"][ok], color="black", linewidth=1.5, linestyle=":",
                label=corrected_label)
    if predicted is not None:
        p = np.asarray(predicted, dtype=float)
        ax.plot(p, np.full(p.size, 0.0), "|", color="0.3", markersize=6, alpha=0.5)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("Predicted probability")
    ax.set_ylabel("Observed proportion")
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    return ax


def plot_net_benefit(results: Sequence, *, ax: Axes | None = None, xlabel: str = "Threshold probability",
                     max_threshold: float | None = None) -> Axes:
    """Decision curves: each model's net benefit, with treat all and treat none.

    Parameters
    ----------
    results : sequence of DecisionCurveResult
        On the same patients and thresholds (treat all is taken from the first); labelled by ``name``.
    ax : matplotlib.axes.Axes, optional
    xlabel : str
    max_threshold : float, optional
        Right end of the x axis (default the largest threshold).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from multisurv.evaluation.binary import binary_decision_curve
    >>> ax = plot_net_benefit([binary_decision_curve([1, 0, 1, 0], [0.9, 0.6, 0.7, 0.1])])
    >>> [line.get_label() for line in ax.lines]
    ['Treat none', 'Treat all', 'model']
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("plot_net_benefit needs at least one decision curve.")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.4))
    first = results[0].table
    ax.plot(first["threshold"], first["treat_none"], color="0.3", linewidth=1, label="Treat none")
    ax.plot(first["threshold"], first["treat_all"], color="0.6", linewidth=1, linestyle="--", label="Treat all")
    for k, res in enumerate(results):
        ax.plot(res.table["threshold"], res.table["net_benefit"], color=_color(k), linewidth=1.5, label=res.name)
    top = max(0.01, float(np.nanmax([np.nanmax(r.table["net_benefit"]) for r in results]
                                    + [float(np.nanmax(first["treat_all"]))])))
    ax.set_ylim(-0.05 * top - 0.01, 1.15 * top)
    ax.set_xlim(float(first["threshold"].min()), float(max_threshold or first["threshold"].max()))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Net benefit")
    ax.legend(fontsize=7, frameon=False)
    return ax


def plot_logistic_nomogram(nomogram, *, ax: Axes | None = None, labels: Mapping[str, str] | None = None,
                           outcome: str = "Probability of the event") -> Axes:
    """Draw a logistic nomogram: points per variable, total points, and the probability axis below them.

    Parameters
    ----------
    nomogram : LogisticNomogram
        From :func:`multisurv.evaluation.logistic_nomogram.logistic_nomogram`.
    ax : matplotlib.axes.Axes, optional
    labels : mapping, optional
        Display name per variable.
    outcome : str
        Name of the probability row.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from multisurv.evaluation.logistic_nomogram import logistic_nomogram
    >>> nom = logistic_nomogram({"age": 0.05, "stage": 1.0}, -4.0, {"age": [40, 80], "stage": [0, 1]})
    >>> ax = plot_logistic_nomogram(nom)
    >>> [t.get_text() for t in ax.texts if t.get_ha() == "right"][-1]
    'Probability of the event'
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    from multisurv.plotting.nomogram import _axis_row, plot_nomogram

    scale = nomogram.points_scale
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.55 * (len(scale.axes) + 4) + 0.6))
    plot_nomogram(scale, ax=ax, labels=labels, time_unit=None)
    bottom = ax.get_ylim()[0] + 0.6  # the last row plot_nomogram drew
    axis = nomogram.probability_axis
    row = bottom - 1
    if len(axis):
        shrink = 100.0 / scale.max_points
        _axis_row(ax, row, axis["points"].to_numpy(float) * shrink, [f"{p:g}" for p in axis["probability"]], outcome,
                  color=OKABE_ITO[1])
    ax.set_ylim(row - 0.6, 0.8)
    return ax
