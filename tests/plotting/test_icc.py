"""Tests for multisurv.plotting.icc.plot_icc and multisurv.features.reproducibility.icc_summary."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from multisurv.features.reproducibility import icc_summary, intraclass_correlation
from multisurv.plotting.icc import plot_icc


def _table():
    rng = np.random.default_rng(0)
    subject = rng.normal(size=(20, 1, 60))
    noise = rng.normal(size=(20, 3, 60)) * np.linspace(0.05, 3.0, 60)
    ratings = subject + noise
    ratings[:, :, 0] = 1.0  # a constant feature: undefined ICC
    return intraclass_correlation(ratings)


def test_plot_counts_match_the_summary():
    table = _table()
    summary = icc_summary(table, method="icc3_1", icc_min=0.75)
    ax = plot_icc(table, method="icc3_1", icc_min=0.75)
    kept = summary.loc["kept", "n_features"]
    assert ax.get_legend().get_texts()[0].get_text() == f"ICC >= 0.75: {kept} of 60 features"
    assert ax.get_title().endswith("(1 undefined)") and summary.loc["undefined", "n_features"] == 1
    drawn = sum(p.get_height() for p in ax.patches if p.get_height() > 0 and p.get_width() < 0.06)  # bars: 2 / 40 wide
    assert drawn == 59
    plt.close(ax.figure)


def test_summary_bands_add_up_and_lower_bound_is_stricter():
    summary = icc_summary(_table())
    bands = ["poor", "moderate", "good", "excellent", "undefined"]
    assert summary.loc[bands].sum().tolist() == [60, 60]
    assert summary.loc["kept", "n_lower_bound"] <= summary.loc["kept", "n_features"]


@pytest.mark.parametrize("call, match", [
    (lambda: plot_icc(pd.DataFrame({"icc2_1": [0.5]}), method="icc1"), "'method' parameter of plot_icc"),
    (lambda: plot_icc(pd.DataFrame({"x": [0.5]})), "needs column 'icc2_1'"),
    (lambda: icc_summary(pd.DataFrame({"icc2_1": [0.5]}), method="icc"), "'method' parameter of icc_summary"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
