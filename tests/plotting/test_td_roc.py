"""Time-dependent ROC: the curve's area is time_dependent_auc's number (which matches riskRegression), and the plot
shows exactly that AUC."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from multisurv._validation import make_y  # noqa: E402
from multisurv.evaluation.td_auc import time_dependent_auc, time_dependent_roc  # noqa: E402
from multisurv.plotting.td_roc import plot_td_roc  # noqa: E402

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "discrimination_reference.json").read_text())


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def load(name):
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    return make_y(d["time"], d["status"]), np.asarray(REF["datasets"][name]["lp"])


@pytest.mark.parametrize("name", ["veteran", "gbsg2", "whas500"])
def test_roc_area_is_td_auc_and_riskregression(name):
    """Trapezoid area of the curve = time_dependent_auc (same sums; 1e-12) = riskRegression::Score AUC (1e-6)."""
    y, lp = load(name)
    ref = REF["datasets"][name]
    auc = time_dependent_auc(y, lp, ref["times"], n_bootstrap=0).auc
    for t, expected, r_auc in zip(ref["times"], auc, ref["auc"]["auc"]):
        roc = time_dependent_roc(y, lp, t)
        assert roc.auc == pytest.approx(expected, abs=1e-12)
        assert roc.auc == pytest.approx(r_auc, abs=1e-6)
        assert roc.fpr[0] == roc.tpr[0] == 0.0 and roc.fpr[-1] == roc.tpr[-1] == 1.0
        assert np.all(np.diff(roc.fpr) >= 0) and np.all(np.diff(roc.tpr) >= 0)


def test_roc_with_external_censoring_reference():
    """y_train gives the censoring weights, as in time_dependent_auc."""
    y, lp = load("gbsg2")
    t = 1000.0
    roc = time_dependent_roc(y[300:], lp[300:], t, y_train=y[:300])
    assert roc.auc == pytest.approx(time_dependent_auc(y[300:], lp[300:], [t], y_train=y[:300],
                                                       n_bootstrap=0).auc[0], abs=1e-12)


def test_plot_shows_the_auc():
    y, lp = load("veteran")
    rocs = [time_dependent_roc(y, lp, t) for t in (30.0, 90.0, 180.0)]
    ax = plot_td_roc(*rocs, time_unit="days")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == [f"t = {r.t0:g} days, AUC = {r.auc:.3f}" for r in rocs]
    for line, roc in zip(ax.lines, rocs):
        np.testing.assert_array_equal(line.get_xdata(), roc.fpr)
        np.testing.assert_array_equal(line.get_ydata(), roc.tpr)


def test_errors():
    y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 0])
    with pytest.raises(ValueError, match="there are 0 case"):
        time_dependent_roc(make_y([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 0]), [1.0, 2.0, 3.0, 4.0], 1.5)
    with pytest.raises(TypeError, match="takes one or more TimeDependentROC"):
        plot_td_roc([0.0, 1.0])
    roc = time_dependent_roc(y, [4.0, 3.0, 2.0, 1.0], 2.5)
    with pytest.raises(ValueError, match="'labels' has 2 entries but 1 curves"):
        plot_td_roc(roc, labels=["a", "b"])
