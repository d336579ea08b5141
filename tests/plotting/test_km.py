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
    return make_y(REF["data"]["status"], REF["data"]["time"])


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
