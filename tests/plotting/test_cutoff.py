"""KM by risk group from a fitted cut-off, and the maxstat scan plot: what they draw equals the statistics layer."""

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
from multisurv.evaluation.cutoffs import RiskCutoff  # noqa: E402
from multisurv.evaluation.groups import logrank  # noqa: E402
from multisurv.plotting.cutoff import plot_maxstat_scan  # noqa: E402
from multisurv.plotting.km import format_p, plot_risk_groups  # noqa: E402

REF = Path(__file__).parents[1] / "reference"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def gbsg2():
    frame = pd.read_csv(REF / "data" / "gbsg2.csv")
    return make_y(frame["time"].to_numpy(float), frame["status"].to_numpy(bool)), frame["tsize"].to_numpy(float)


@pytest.mark.parametrize("method", ["median", "tertiles", "maxstat"])
def test_km_groups_follow_the_fitted_cutoff(gbsg2, method):
    """Development = first 400 patients, 'external' = the rest: the curves are the groups transform gives."""
    y, x = gbsg2
    cut = RiskCutoff(method=method).fit(y[:400], x[:400])
    ax = plot_risk_groups(y[400:], x[400:], cut, time_unit="days", show_hr=False)
    groups = cut.transform(x[400:])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    expected = [f"{g} (n={int((groups == g).sum())})" for g in cut.labels_]
    assert legend[:len(expected)] == expected
    assert legend[-1] == f"Log-rank {format_p(logrank(y[400:], groups).p_value)}"
    assert ax.get_title() == cut.describe()


def test_maxstat_scan_plot(gbsg2):
    y, x = gbsg2
    cut = RiskCutoff(method="maxstat").fit(y, x)
    ax = plot_maxstat_scan(cut.maxstat_)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), cut.maxstat_.stats)
    assert ax.lines[1].get_xdata()[0] == cut.cutoffs_[0] == 19.0  # R: maxstat.test(... ~ tsize)$estimate
    assert "corrected p = 0.003" in ax.get_legend().get_texts()[1].get_text()


def test_bad_inputs():
    y = make_y([1.0, 2.0], [1, 0])
    with pytest.raises(TypeError, match="must be a fitted RiskCutoff"):
        plot_risk_groups(y, [0.0, 1.0], RiskCutoff())
    with pytest.raises(TypeError, match="takes a MaxstatResult"):
        plot_maxstat_scan({"cutoff": 1.0})
