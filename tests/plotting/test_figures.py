"""Calibration, decision-curve, forest and C-index figures: they draw what the statistics layer computed."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from multisurv._validation import make_y  # noqa: E402
from multisurv.evaluation.calibration import calibration_at  # noqa: E402
from multisurv.evaluation.decision_curve import decision_curve  # noqa: E402
from multisurv.plotting.calibration import plot_calibration  # noqa: E402
from multisurv.plotting.cindex import plot_cindex_comparison  # noqa: E402
from multisurv.plotting.decision_curve import plot_decision_curve  # noqa: E402
from multisurv.plotting.export import save_figure  # noqa: E402
from multisurv.plotting.forest import plot_forest  # noqa: E402

REF = json.loads((Path(__file__).parents[1] / "reference" / "calibration_reference.json").read_text())
Y = make_y(REF["time"], np.asarray(REF["status"]) == 1)
CASE = REF["cases"][0]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_calibration_plot_shows_the_table(tmp_path):
    res = calibration_at(Y, CASE["surv_prob"], CASE["t0"], n_groups=5)
    fig, ax = plt.subplots()
    assert plot_calibration(res, ax=ax, time_unit="days") is ax
    points = ax.containers[0].lines[0]  # the errorbar's data line
    assert ax.containers[0].get_label() == "Observed"
    np.testing.assert_allclose(points.get_xdata(), res.table["predicted"])
    np.testing.assert_allclose(points.get_ydata(), res.table["observed"])
    assert "90 days" in ax.get_xlabel()
    paths = save_figure(fig, tmp_path / "calibration", formats=("png", "pdf", "svg"))
    assert all(p.stat().st_size > 1000 for p in paths)


def test_decision_curve_plot_shows_net_benefit():
    risk = 1 - np.asarray(CASE["surv_prob"])
    model = decision_curve(Y, risk, CASE["t0"], name="Cox")
    ax = plot_decision_curve(model)
    lines = {line.get_label(): line for line in ax.lines}
    np.testing.assert_allclose(lines["Cox"].get_ydata(), model.table["net_benefit"])
    np.testing.assert_allclose(lines["Treat all"].get_ydata(), model.table["treat_all"])
    other = decision_curve(Y, risk, 180.0, name="later")
    with pytest.raises(ValueError, match="must share t0 and thresholds; 'later' differs from 'Cox'"):
        plot_decision_curve(model, other)


def test_forest_plot_marks_hazard_ratios():
    table = pd.DataFrame({"term": ["a", "b", "c"], "hr": [0.5, 1.0, 2.5], "lower": [0.3, 0.8, 1.2],
                          "upper": [0.9, 1.3, 5.0], "p": [0.02, 0.9, 0.0004]})
    ax = plot_forest(table)
    markers = ax.lines[0]
    np.testing.assert_allclose(markers.get_xdata(), table["hr"])
    assert [t.get_text() for t in ax.get_yticklabels()][::-1] == ["a", "b", "c"]  # first term on top
    texts = [t.get_text() for t in ax.texts]
    assert "2.50 (1.20-5.00), p < 0.001" in texts
    with pytest.raises(ValueError, match="missing 'upper'"):
        plot_forest(table.drop(columns="upper"))
    with pytest.raises(ValueError, match="finite, positive"):
        plot_forest(table.assign(lower=[0.0, 0.8, 1.2]))


def test_cindex_comparison_plot():
    metrics = pd.DataFrame({"model": ["rad", "rad", "late", "late"], "cohort": ["development", "external"] * 2,
                            "cindex": [0.7, 0.65, 0.8, 0.72], "ci_lower": [0.6, 0.55, 0.7, 0.6],
                            "ci_upper": [0.8, 0.75, 0.9, 0.84]})
    ax = plot_cindex_comparison(metrics, labels={"rad": "Radiomics", "late": "Late fusion"})
    ticks = {t.get_text(): pos for t, pos in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert ticks["Radiomics"] > ticks["Late fusion"]  # first-seen model on top
    external = [line for line in ax.lines if line.get_label() == "external"][0]
    np.testing.assert_allclose(external.get_xdata(), [0.65, 0.72])
    with pytest.raises(ValueError, match="missing 'ci_upper'"):
        plot_cindex_comparison(metrics.drop(columns="ci_upper"))
