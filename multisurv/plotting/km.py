"""Kaplan-Meier curves per group, with a numbers-at-risk table and the log-rank p-value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from lifelines import KaplanMeierFitter
from matplotlib.lines import Line2D
from lifelines.plotting import add_at_risk_counts

from multisurv._validation import check_consistent_length, check_survival_y
from multisurv.evaluation.groups import logrank

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_km", "OKABE_ITO", "format_p"]

#: Okabe-Ito palette (colour-blind safe), in the order groups receive them.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")


def format_p(p: float) -> str:
    """Format a p-value for a figure: ``"p < 0.001"`` below 0.001, else three decimals.

    Examples
    --------
    >>> format_p(0.00012), format_p(0.0427)
    ('p < 0.001', 'p = 0.043')
    """
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def plot_km(y: np.ndarray, groups: ArrayLike, *, ax: Axes | None = None,
            labels: Mapping | Sequence[str] | None = None, title: str | None = None, at_risk: bool = True,
            show_logrank: bool = True, time_unit: str | None = "months") -> Axes:
    """Plot a Kaplan-Meier curve per group.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float), times in ``time_unit``.
    groups : array-like, shape (n_samples,)
        Group label per patient, for example from :func:`multisurv.evaluation.groups.risk_groups`.
        Groups are drawn in sorted order, except that ``"low"`` comes before ``"high"``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    labels : mapping or sequence of str, optional
        Display name per group (a mapping from group, or a sequence in drawing order). The legend adds
        the group size.
    title : str, optional
        Axes title.
    at_risk : bool, default=True
        Add the numbers-at-risk table below the axes (lifelines' ``add_at_risk_counts``).
    show_logrank : bool, default=True
        Add the log-rank p-value as the last line of the legend, in the upper-right corner (needs at least
        two groups).
    time_unit : str or None, default="months"
        Unit shown in the x-axis label.

    Returns
    -------
    matplotlib.axes.Axes
        The axes with the curves (the at-risk table is a twin axes of it).

    Raises
    ------
    ValueError
        If ``y`` and ``groups`` differ in length, or ``labels`` does not match the groups.

    Notes
    -----
    Each curve has its 95% pointwise band (log-log, as lifelines computes it) and censoring ticks. Colours
    follow the Okabe-Ito palette. When ``ax`` is omitted the new figure gets ``tight_layout`` so the table
    fits (it is a pyplot figure: close it with ``plt.close(ax.figure)``); with your own axes, call
    ``fig.tight_layout()`` (or save with ``bbox_inches="tight"``) yourself.

    References
    ----------
    .. [1] Kaplan, E. L., Meier, P. "Nonparametric estimation from incomplete observations", Journal of the
       American Statistical Association 53(282), 457-481, 1958.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from multisurv._validation import make_y
    >>> y = make_y([1, 0, 1, 1, 1, 0], [2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    >>> ax = plot_km(y, ["a", "a", "b", "a", "b", "b"])
    >>> len(ax.figure.axes)
    2
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    y = check_survival_y(y)
    groups = np.asarray(groups, dtype=object)
    check_consistent_length(y=y, groups=groups)
    if pd.isna(groups).any():
        raise ValueError(f"'groups' has {int(pd.isna(groups).sum())} missing label(s); give every patient a group.")
    order = _group_order(groups)
    names = _resolve_labels(labels, order)

    created = ax is None
    if created:
        _, ax = plt.subplots(figsize=(6.4, 5.6))
    fitters = []
    for k, (group, name) in enumerate(zip(order, names)):
        mask = groups == group
        kmf = KaplanMeierFitter(label=name).fit(y["time"][mask], y["event"][mask])
        kmf.plot_survival_function(
            ax=ax, ci_show=True, ci_alpha=0.2, show_censors=True, color=OKABE_ITO[k % len(OKABE_ITO)],
            censor_styles={"marker": "|", "ms": 7, "mew": 1.2}, label=f"{name} (n={int(mask.sum())})",
        )
        fitters.append(kmf)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlim(left=0.0)
    ax.set_xlabel(f"Time ({time_unit})" if time_unit else "Time")
    ax.set_ylabel("Survival probability")
    handles, texts = ax.get_legend_handles_labels()
    if show_logrank and len(order) >= 2:
        # The p-value closes the legend (upper right, where survival curves rarely are), so it never
        # sits on a curve.
        handles.append(Line2D([], [], linestyle="none"))
        texts.append(f"Log-rank {format_p(logrank(y, groups).p_value)}")
    ax.legend(handles, texts, loc="upper right", frameon=False)
    if title:
        ax.set_title(title)
    if at_risk:
        add_at_risk_counts(*fitters, ax=ax, fig=ax.figure, labels=list(names), rows_to_show=["At risk"])
    if created:
        ax.figure.tight_layout()
    return ax


def _group_order(groups: np.ndarray) -> list:
    """Sorted unique groups, with ``"low"`` before ``"high"``."""
    unique = pd.unique(groups)
    if set(unique) == {"low", "high"}:
        return ["low", "high"]
    try:
        return sorted(unique)
    except TypeError:  # mixed label types: keep first-seen order
        return list(unique)


def _resolve_labels(labels, order: list) -> list[str]:
    """One display name per group, in drawing order."""
    if labels is None:
        return [str(g) for g in order]
    if isinstance(labels, Mapping):
        missing = [g for g in order if g not in labels]
        if missing:
            raise ValueError(
                f"'labels' has no entry for group(s) {', '.join(repr(g) for g in missing)}; "
                f"give one per group: {', '.join(repr(g) for g in order)}."
            )
        return [str(labels[g]) for g in order]
    labels = [str(lab) for lab in labels]
    if len(labels) != len(order):
        raise ValueError(
            f"'labels' has {len(labels)} entries but there are {len(order)} groups "
            f"({', '.join(repr(g) for g in order)})."
        )
    return labels
