"""Kaplan-Meier curves per group: bands, censoring ticks, numbers at risk, log-rank p, medians and hazard ratios."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from lifelines import KaplanMeierFitter
from matplotlib.lines import Line2D
from matplotlib.offsetbox import AnchoredText
from lifelines.plotting import add_at_risk_counts

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.evaluation.cox import group_hazard_ratios
from multisurv.evaluation.groups import logrank
from multisurv.evaluation.kaplan_meier import CONF_TYPES, kaplan_meier
from multisurv.exceptions import ConvergenceWarning

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_km", "plot_risk_groups", "OKABE_ITO", "format_p", "format_time"]

#: Okabe-Ito palette (colour-blind safe), in the order groups receive them.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")


def format_p(p: float) -> str:
    """Format a p-value for a figure: ``"p < 0.001"`` below 0.001, else three decimals.

    Parameters
    ----------
    p : float
        A p-value.

    Returns
    -------
    str
        ``"p < 0.001"`` or ``"p = 0.043"``.

    Examples
    --------
    >>> format_p(0.00012), format_p(0.0427)
    ('p < 0.001', 'p = 0.043')
    """
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def plot_km(y: np.ndarray, groups: ArrayLike, *, ax: Axes | None = None,
            labels: Mapping | Sequence[str] | None = None, title: str | None = None, at_risk: bool = True,
            show_logrank: bool = True, time_unit: str | None = "months", conf_type: str = "log",
            show_ci: bool = True, show_median: bool = True, show_hr: bool = True,
            colors: Sequence[str] = OKABE_ITO) -> Axes:
    """Plot a Kaplan-Meier curve per group, with the statistics a publication figure reports.

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float), times in ``time_unit``.
    groups : array-like, shape (n_samples,)
        Group label per patient, for example from :func:`multisurv.evaluation.groups.risk_groups`.
        Groups are drawn in sorted order, except that ``"low"`` comes before ``"high"``. The first group is
        the reference of the hazard ratios.
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
        Unit shown in the x-axis label and with the medians.
    conf_type : {"log", "log-log", "plain"}, default="log"
        Transform of the 95% bands and of the medians' intervals (R's ``survfit`` default is ``"log"``;
        lifelines draws ``"log-log"``). See :func:`multisurv.evaluation.kaplan_meier.kaplan_meier`.
    show_ci : bool, default=True
        Shade each curve's 95% pointwise band.
    show_median : bool, default=True
        List each group's median survival with its 95% CI ("NR": not reached) in the lower-left corner.
    show_hr : bool, default=True
        Add the hazard ratio of each group against the first, with its 95% CI (Cox model on the group
        indicators, Efron ties), under the medians. Needs at least two groups.
    colors : sequence of str, default=OKABE_ITO
        One colour per group, cycled; the default palette is colour-blind safe.

    Returns
    -------
    matplotlib.axes.Axes
        The axes with the curves (the at-risk table is a twin axes of it).

    Raises
    ------
    ValueError
        If ``y`` and ``groups`` differ in length, a group label is missing, ``labels`` does not match the
        groups, or ``conf_type`` is unknown.

    Warns
    -----
    multisurv.exceptions.ConvergenceWarning
        When a hazard ratio is not estimable (a group without events); the figure then says so.

    See Also
    --------
    multisurv.evaluation.kaplan_meier.kaplan_meier : the curves, bands and medians drawn here.
    multisurv.evaluation.cox.group_hazard_ratios : the hazard ratios.

    Notes
    -----
    Censored patients are marked with a vertical tick on their curve. When ``ax`` is omitted the new figure
    gets ``tight_layout`` so the table fits (it is a pyplot figure: close it with ``plt.close(ax.figure)``);
    with your own axes, call ``fig.tight_layout()`` (or save with ``bbox_inches="tight"``) yourself.

    References
    ----------
    .. [1] Kaplan, E. L., Meier, P. "Nonparametric estimation from incomplete observations", Journal of the
       American Statistical Association 53(282), 457-481, 1958.
    .. [2] Morris, T. P. et al. "Proposals on Kaplan-Meier plots in medical research and a survey of
       stakeholder views: KMunicate", BMJ Open 9, e030215, 2019.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from multisurv._validation import make_y
    >>> y = make_y([2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [1, 0, 1, 1, 1, 0])
    >>> ax = plot_km(y, ["a", "a", "b", "a", "b", "b"])
    >>> len(ax.figure.axes)
    2
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    check_param("plot_km", "conf_type", conf_type, kind="option", options=CONF_TYPES)
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
    curves, fitters = [], []
    for k, (group, name) in enumerate(zip(order, names)):
        mask = groups == group
        km = kaplan_meier(y[mask], conf_type=conf_type)
        color = colors[k % len(colors)]
        _draw_curve(ax, km, color=color, label=f"{name} (n={int(mask.sum())})", show_ci=show_ci)
        curves.append(km)
        if at_risk:
            fitters.append(KaplanMeierFitter(label=name).fit(y["time"][mask], y["event"][mask]))
    ax.set_ylim(0.0, 1.05)
    ax.set_xlim(left=0.0)
    ax.set_xlabel(f"Time ({time_unit})" if time_unit else "Time")
    ax.set_ylabel("Survival probability")
    handles, texts = ax.get_legend_handles_labels()
    if show_logrank and len(order) >= 2:
        # The p-value closes the legend, so it sits with the groups it compares.
        handles.append(Line2D([], [], linestyle="none"))
        texts.append(f"Log-rank {format_p(logrank(y, groups).p_value)}")
    lines = []
    if show_median:
        unit = f", {time_unit}" if time_unit else ""
        lines.append(f"Median survival (95% CI){unit}")
        lines += [f"{name}: {format_time(km.median)} ({format_time(km.median_lower)}\u2013"
                  f"{format_time(km.median_upper)})" for name, km in zip(names, curves)]
    if show_hr and len(order) >= 2:
        lines += _hazard_ratio_lines(y, groups, order, names)
    # The legend and the statistics go to the corners the curves and bands cover least.
    legend_size = _text_size(ax, texts, legend=True)
    legend_loc, _ = _emptiest_place(ax, curves, legend_size, taken=())
    ax.legend(handles, texts, loc=legend_loc, frameon=False, fontsize=10)
    if lines:
        stats_loc, hits = _emptiest_place(ax, curves, _text_size(ax, lines, legend=False),
                                          taken=[(legend_loc, legend_size)])
        if hits == 0:  # a free corner inside the axes
            box = AnchoredText("\n".join(lines), loc=stats_loc, frameon=False, prop={"fontsize": "small"},
                               borderpad=0.6)
        else:  # every corner would hide a curve: put the statistics beside the axes, top-aligned
            box = AnchoredText("\n".join(lines), loc="upper left", frameon=False, prop={"fontsize": "small"},
                               bbox_to_anchor=(1.02, 1.0), bbox_transform=ax.transAxes, borderpad=0.0)
            # A new figure is widened by the box's width, so tight_layout keeps the curves' width; with your own
            # axes, save with bbox_inches="tight" (as save_figure does) to keep the box.
            if created:
                width = _text_size(ax, lines, legend=False, inches=True)[0]
                ax.figure.set_figwidth(ax.figure.get_figwidth() + width + 0.2)
        ax.add_artist(box)
    if title:
        ax.set_title(title)
    if at_risk:
        add_at_risk_counts(*fitters, ax=ax, fig=ax.figure, labels=list(names), rows_to_show=["At risk"])
    if created:
        ax.figure.tight_layout()
    return ax


def plot_risk_groups(y: np.ndarray, risk: ArrayLike, cutoff, *, ax: Axes | None = None, title: str | None = None,
                     **kwargs) -> Axes:
    """Kaplan-Meier curves of the risk groups a fitted cut-off gives (for example on an external cohort).

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        Outcomes of the patients drawn.
    risk : array-like, shape (n_samples,)
        Their risk scores (higher = worse).
    cutoff : multisurv.evaluation.cutoffs.RiskCutoff
        Fitted on the development cohort; applied here unchanged.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    title : str, optional
        Axes title; default: the cut-off's :meth:`~multisurv.evaluation.cutoffs.RiskCutoff.describe`.
    **kwargs
        Passed to :func:`plot_km` (``time_unit``, ``at_risk``, ``show_hr``, ...).

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The log-rank p in the legend is the ordinary one for these groups. On the cohort a maximally selected cut-off
    was chosen on it is too small; the corrected p is in the default title.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from multisurv._validation import make_y
    >>> from multisurv.evaluation.cutoffs import RiskCutoff
    >>> y = make_y([2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [1, 0, 1, 1, 1, 0])
    >>> risk = [3.0, 2.5, 2.0, 1.0, 0.5, 0.1]
    >>> ax = plot_risk_groups(y, risk, RiskCutoff().fit(None, risk), show_hr=False)
    >>> ax.get_title()
    'development median 1.5'
    >>> plt.close(ax.figure)
    """
    from multisurv.evaluation.cutoffs import RiskCutoff

    if not isinstance(cutoff, RiskCutoff) or not hasattr(cutoff, "cutoffs_"):
        raise TypeError("'cutoff' must be a fitted RiskCutoff (fit it on the development cohort first).")
    groups = cutoff.transform(risk)
    return plot_km(y, groups, ax=ax, title=cutoff.describe() if title is None else title, **kwargs)


def format_time(value: float) -> str:
    """Format a time for a figure: ``"NR"`` (not reached) for NaN, whole numbers from 100, else 3 digits.

    Parameters
    ----------
    value : float
        A time (for example a median survival), NaN when not reached.

    Returns
    -------
    str
        The time as written in the figure.

    Examples
    --------
    >>> format_time(float("nan")), format_time(1807.0), format_time(52.5), format_time(5.25)
    ('NR', '1807', '52.5', '5.25')
    """
    if not np.isfinite(value):
        return "NR"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _draw_curve(ax, km, *, color: str, label: str, show_ci: bool) -> None:
    """One Kaplan-Meier step curve from (0, 1), its band and its censoring ticks."""
    x = np.concatenate([[0.0], km.time])
    ax.plot(x, np.concatenate([[1.0], km.surv]), drawstyle="steps-post", color=color, label=label, linewidth=1.6)
    if show_ci:
        ax.fill_between(x, np.concatenate([[1.0], km.lower]), np.concatenate([[1.0], km.upper]), step="post",
                        color=color, alpha=0.2, linewidth=0)
    censored = km.n_censor > 0
    ax.plot(km.time[censored], km.surv[censored], linestyle="none", marker="|", ms=7, mew=1.2, color=color)


#: Where the legend and the statistics box may go (matplotlib ``loc`` names), in order of preference.
_PLACES = ("upper right", "lower left", "lower right", "center right", "upper center", "lower center",
           "center left", "upper left")


def _text_size(ax, lines: Sequence[str], *, legend: bool, inches: bool = False) -> tuple[float, float]:
    """Rough (width, height) of a legend or a text box in axes fractions (or ``inches``), before drawing.

    An estimate (0.6 em per character; a legend entry 1.5 em high in the 10 pt legend font with a 2.8 em handle,
    a text line 1.2 em in the 'small' font) is enough to choose a corner and needs no renderer.
    """
    fig = ax.figure
    pos = ax.get_position()
    width_pt = pos.width * fig.get_figwidth() * 72 * 0.85  # tight_layout takes room for the at-risk labels
    height_pt = pos.height * fig.get_figheight() * 72 * 0.85
    chars = max((len(t) for t in lines), default=0)
    if legend:
        em = 10.0
        width, height = (chars * 0.6 + 3.8) * em, (len(lines) * 1.5 + 1.0) * em
    else:
        em = 10.0 * 0.833
        width, height = (chars * 0.6 + 1.5) * em, (len(lines) * 1.2 + 1.5) * em
    if inches:
        return width / 72, height / 72
    return min(1.0, width / width_pt), min(1.0, height / height_pt)


def _box(place: str, size: tuple[float, float], pad: float = 0.02) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) in axes fractions of a box of ``size`` anchored at ``place``."""
    w, h = size
    vertical, horizontal = ("center", "center") if place == "center" else place.split(" ")
    x0 = {"left": pad, "right": 1 - pad - w, "center": (1 - w) / 2}[horizontal]
    y0 = {"lower": pad, "upper": 1 - pad - h, "center": (1 - h) / 2}[vertical]
    return x0, x0 + w, y0, y0 + h


def _emptiest_place(ax, curves, size: tuple[float, float], *,
                    taken: Sequence[tuple[str, tuple]]) -> tuple[str, int]:
    """The place in :data:`_PLACES` whose box covers the fewest curve points (then bands), and that number.

    ``taken`` lists boxes already placed, as ``(place, size)``; overlapping one of them costs more than any curve.
    Curves are sampled at 400 times; a band counts a quarter of a curve.
    """
    xmax = max(float(km.time[-1]) for km in curves)
    x_hi = max(ax.get_xlim()[1], xmax)
    y_lo, y_hi = ax.get_ylim()
    grid = np.linspace(0.0, xmax, 400)
    fx = grid / x_hi
    tracks = []
    for km in curves:
        idx = np.searchsorted(km.time, grid, side="right") - 1
        pick = lambda v: np.where(idx < 0, 1.0, v[np.maximum(idx, 0)])  # noqa: E731
        to_frac = lambda v: (v - y_lo) / (y_hi - y_lo)  # noqa: E731
        tracks.append((to_frac(pick(km.surv)), to_frac(np.nan_to_num(pick(km.lower), nan=0.0)),
                       to_frac(np.nan_to_num(pick(km.upper), nan=0.0))))
    taken_boxes = [_box(place, box_size) for place, box_size in taken]
    best, best_score, best_hits = _PLACES[0], np.inf, 0
    for place in _PLACES:
        x0, x1, y0, y1 = _box(place, size)
        inside = (fx >= x0) & (fx <= x1)
        hits = sum(int(np.sum(inside & (surv >= y0) & (surv <= y1))) for surv, _, _ in tracks)
        score = hits + 0.25 * sum(float(np.sum(inside & (upper >= y0) & (lower <= y1))) for _, lower, upper in tracks)
        for tx0, tx1, ty0, ty1 in taken_boxes:  # a box on top of the other one is as bad as on a curve
            if x0 < tx1 and tx0 < x1 and y0 < ty1 and ty0 < y1:
                score += 1000.0
                hits += 1000
        if score < best_score:
            best, best_score, best_hits = place, score, hits
    return best, best_hits


def _hazard_ratio_lines(y: np.ndarray, groups: np.ndarray, order: list, names: list[str]) -> list[str]:
    """``HR <group> vs <reference>: hr (lower-upper)`` per non-reference group."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = group_hazard_ratios(y, groups, order=order)
    fragile = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    for w in caught:
        warnings.warn(w.message, category=w.category, stacklevel=3)
    if fragile:
        return ["HR: not estimable (a group has no events)"]
    return [f"HR {name} vs {names[0]}: {hr:.2f} ({lo:.2f}\u2013{hi:.2f})"
            for name, hr, lo, hi in zip(names[1:], fit.hr, fit.lower, fit.upper)]


def _group_order(groups: np.ndarray) -> list:
    """Sorted unique groups, with ``"low"`` before ``"high"``."""
    unique = pd.unique(groups)
    for ladder in (["low", "high"], ["low", "intermediate", "high"]):
        if set(unique) == set(ladder):
            return ladder
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
