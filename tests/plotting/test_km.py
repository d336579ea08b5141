"""Tests for multisurv.plotting.km (KM reference values: tests/reference/make_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402

from multisurv._validation import make_y  # noqa: E402
from multisurv.plotting.km import OKABE_ITO, format_p, plot_km  # noqa: E402

REF = json.loads((Path(__file__).parents[1] / "reference" / "veteran_reference.json").read_text())
# KM and its log-log band against survival::survfit: closed forms, so 1e-6 (JSON keeps 15 digits).
TOL_KM = 1e-6


@pytest.fixture(scope="module")
def y_vet():
    return make_y(REF["data"]["time"], REF["data"]["status"])


@pytest.fixture
def close_figures():
    yield
    plt.close("all")


def _step_value(line, times):
    """Value of a steps-post line at ``times`` (right-continuous, as a survival curve)."""
    xy = line.get_xydata()
    idx = np.searchsorted(xy[:, 0], times, side="right") - 1
    return xy[idx, 1]


@pytest.mark.parametrize(("key", "trt"), [("all", None), ("trt1", 1), ("trt2", 2)])
def test_km_and_band_match_survfit(y_vet, key, trt):
    """R: summary(survfit(Surv(time, status) ~ 1, conf.type = "log-log"), times = c(30, 90, 180, 365))."""
    ref = REF["km"][key]
    mask = np.ones(137, bool) if trt is None else np.asarray(REF["data"]["trt"]) == trt
    kmf = KaplanMeierFitter().fit(y_vet["time"][mask], y_vet["event"][mask])
    np.testing.assert_allclose(kmf.survival_function_at_times(ref["time"]).to_numpy(), ref["surv"], atol=TOL_KM)
    band = kmf.confidence_interval_survival_function_
    idx = np.searchsorted(band.index.to_numpy(), ref["time"], side="right") - 1
    np.testing.assert_allclose(band.to_numpy()[idx, 0], ref["lower"], atol=TOL_KM)
    np.testing.assert_allclose(band.to_numpy()[idx, 1], ref["upper"], atol=TOL_KM)


def test_plot_km_draws_the_r_curves(y_vet, close_figures):
    ax = plot_km(y_vet, REF["data"]["trt"], labels={1: "standard", 2: "test"}, time_unit="days", title="Veteran")
    curves = [line for line in ax.lines if line.get_drawstyle() == "steps-post"]
    assert [c.get_label() for c in curves] == ["standard (n=69)", "test (n=68)"]
    for curve, key in zip(curves, ["trt1", "trt2"]):
        ref = REF["km"][key]
        np.testing.assert_allclose(_step_value(curve, ref["time"]), ref["surv"], atol=TOL_KM)
    assert [c.get_color() for c in curves] == list(OKABE_ITO[:2])
    censor_ticks = [line for line in ax.lines if line.get_marker() == "|"]
    assert len(censor_ticks) == 2
    assert len(ax.collections) == 2  # one confidence band per group
    assert ax.get_xlabel() == "Time (days)"
    assert ax.get_title() == "Veteran"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["standard (n=69)", "test (n=68)", f"Log-rank p = {REF['logrank']['trt']['p_value']:.3f}"]


def test_plot_km_at_risk_table(y_vet, close_figures):
    ax = plot_km(y_vet, REF["data"]["celltype"])
    assert len(ax.figure.axes) == 2  # the curves and the at-risk table (a twin axes)
    table = ax.figure.axes[1]
    first = table.get_xticklabels()[0].get_text()
    for name, n in REF["logrank"]["celltype"]["n"].items():
        assert name in first and str(n) in first
    assert ax.get_legend().get_texts()[-1].get_text() == "Log-rank p < 0.001"


def test_plot_km_on_given_axes_without_extras(y_vet, close_figures):
    fig, (left, right) = plt.subplots(1, 2)
    groups = np.where(np.asarray(REF["data"]["karno"]) > 50, "high", "low")
    out = plot_km(y_vet, groups, ax=right, at_risk=False, show_logrank=False)
    assert out is right
    assert len(fig.axes) == 2 and not left.lines
    assert not any("Log-rank" in t.get_text() for t in right.get_legend().get_texts())
    labels = [line.get_label() for line in right.lines if line.get_drawstyle() == "steps-post"]
    assert labels[0].startswith("low") and labels[1].startswith("high")  # low before high


def test_plot_km_single_group_has_no_p_value(y_vet, close_figures):
    ax = plot_km(y_vet, ["all"] * 137)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["all (n=137)"]


@pytest.mark.parametrize(("p", "text"), [(0.0004, "p < 0.001"), (0.001, "p = 0.001"), (0.04567, "p = 0.046"),
                                         (0.9, "p = 0.900")])
def test_format_p(p, text):
    assert format_p(p) == text


def test_plot_km_errors(y_vet, close_figures):
    with pytest.raises(ValueError, match=r"^'groups' has 2 samples but 'y' has 137\.$"):
        plot_km(y_vet, ["a", "b"])
    with pytest.raises(ValueError, match=r"^'labels' has 1 entries but there are 2 groups \(1, 2\)\.$"):
        plot_km(y_vet, REF["data"]["trt"], labels=["only one"])
    with pytest.raises(ValueError, match=r"^'labels' has no entry for group\(s\) 2; give one per group: 1, 2\.$"):
        plot_km(y_vet, REF["data"]["trt"], labels={1: "standard"})


# --- bands, medians, hazard ratios and placement (reference: tests/reference/make_km_cox_reference.R) -----------

KM_REF = json.loads((Path(__file__).parents[1] / "reference" / "km_cox_reference.json").read_text())
KM_DATA = Path(__file__).parents[1] / "reference" / "data"


def _stats_box(ax):
    from matplotlib.offsetbox import AnchoredText

    boxes = [a for a in ax.artists if isinstance(a, AnchoredText)]
    return boxes[0] if boxes else None


def _km_entry(name, by, group):
    return next(e for e in KM_REF["datasets"][name]["km"] if e["by"] == by and e["group"] == group)


def _dataset(name):
    import pandas as pd

    frame = pd.read_csv(KM_DATA / f"km_{name}.csv")
    return frame, make_y(frame["time"], frame["status"])


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_plot_km_band_is_the_chosen_conf_type(y_vet, close_figures, conf_type):
    """The shaded band spans R's survfit(conf.type = <conf_type>) limits for each arm."""
    ax = plot_km(y_vet, REF["data"]["trt"], conf_type=conf_type, at_risk=False)
    for band, group in zip(ax.collections, ["1", "2"]):
        ref = _km_entry("veteran", "trt", group)
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        lower = np.array([np.nan if v is None else v for v in ref["conf"][conf_type]["lower"]], float)
        assert np.nanmin(ys) == pytest.approx(np.nanmin(lower), abs=TOL_KM)


def test_plot_km_censor_ticks_sit_at_censoring_times(y_vet, close_figures):
    ax = plot_km(y_vet, REF["data"]["trt"], at_risk=False)
    ticks = [line for line in ax.lines if line.get_marker() == "|"]
    for tick, group in zip(ticks, ["1", "2"]):
        ref = _km_entry("veteran", "trt", group)
        censored = np.asarray(ref["n_censor"]) > 0
        np.testing.assert_array_equal(tick.get_xdata(), np.asarray(ref["time"])[censored])
        np.testing.assert_allclose(tick.get_ydata(), np.asarray(ref["surv"])[censored], atol=TOL_KM)


def test_plot_km_shows_r_medians_and_hazard_ratio(y_vet, close_figures):
    """Medians as R's print(survfit(...)) (log band), HR as coxph(Surv(time, status) ~ factor(trt))."""
    ax = plot_km(y_vet, REF["data"]["trt"], labels={1: "standard", 2: "test"}, time_unit="days")
    text = _stats_box(ax).txt.get_text().split("\n")
    assert text[0] == "Median survival (95% CI), days"
    med1 = _km_entry("veteran", "trt", "1")["median_print"]["log"]
    med2 = _km_entry("veteran", "trt", "2")["median_print"]["log"]
    assert text[1] == f"standard: {med1['median']:.0f} ({med1['lower']:.0f}\u2013{med1['upper']:.0f})"
    assert text[2] == f"test: {med2['median']:.3g} ({med2['lower']:.3g}\u2013{med2['upper']:.3g})"
    hr = next(e for e in KM_REF["datasets"]["veteran"]["group_hr"] if e["by"] == "trt")
    assert text[3] == f"HR test vs standard: {hr['hr'][0]:.2f} ({hr['lower'][0]:.2f}\u2013{hr['upper'][0]:.2f})"


def test_plot_km_median_not_reached(close_figures):
    frame, y = _dataset("aids")
    ax = plot_km(y, frame["tx"], at_risk=False, time_unit=None)
    text = _stats_box(ax).txt.get_text().split("\n")
    assert text[:3] == ["Median survival (95% CI)", "0: NR (NR\u2013NR)", "1: NR (NR\u2013NR)"]


@pytest.mark.parametrize(("name", "by", "outside"),
                         [("veteran", "trt", False), ("veteran", "celltype", True), ("gbsg2", "horTh", False),
                          ("whas500", "chf", False), ("aids", "tx", False)])
def test_plot_km_boxes_do_not_overlap(close_figures, name, by, outside):
    """The legend and the statistics never overlap; the statistics leave the axes only when no corner is free."""
    frame, y = _dataset(name)
    ax = plot_km(y, frame[by])
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    box = _stats_box(ax).get_window_extent(renderer)
    assert not legend.overlaps(box)
    inside = ax.get_window_extent(renderer).contains(box.x0 + 1, box.y0 + 1)
    assert inside != outside
    if outside:  # the new figure was widened, so the curves keep their width
        assert fig.get_figwidth() > 6.4 and ax.get_window_extent(renderer).width > 0.5 * fig.bbox.width


def test_plot_km_without_statistics(y_vet, close_figures):
    ax = plot_km(y_vet, REF["data"]["trt"], show_median=False, show_hr=False, show_ci=False, at_risk=False)
    assert _stats_box(ax) is None and len(ax.collections) == 0
    one = plot_km(y_vet, ["all"] * 137, at_risk=False)
    assert _stats_box(one).txt.get_text().split("\n")[1].startswith("all: 80 (")  # R: median 80 (52-105)


def test_plot_km_palette(y_vet, close_figures):
    ax = plot_km(y_vet, REF["data"]["trt"], colors=["black", "grey"], at_risk=False)
    curves = [line for line in ax.lines if line.get_drawstyle() == "steps-post"]
    assert [c.get_color() for c in curves] == ["black", "grey"]


def test_plot_km_hazard_ratio_not_estimable(close_figures):
    from multisurv.exceptions import ConvergenceWarning

    y = make_y([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1, 1, 1, 1, 0, 0, 0, 0])
    with pytest.warns(ConvergenceWarning, match=r"^The hazard ratios between groups are not estimable: group\(s\) "
                                                r"'b' have no events"):
        ax = plot_km(y, ["a"] * 4 + ["b"] * 4, at_risk=False)
    assert _stats_box(ax).txt.get_text().split("\n")[-1] == "HR: not estimable (a group has no events)"


def test_plot_km_conf_type_error(y_vet, close_figures):
    with pytest.raises(ValueError, match=r"^The 'conf_type' parameter of plot_km must be one of 'log', 'log-log', "
                                         r"'plain'\. Got 'exp' instead\.$"):
        plot_km(y_vet, REF["data"]["trt"], conf_type="exp")
