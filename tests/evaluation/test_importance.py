"""Feature importance: standardised Cox coefficients, permutation importance with a C-index scorer, SHAP, plot."""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from lifelines import CoxPHFitter  # noqa: E402

from multisurv._validation import make_y  # noqa: E402
from multisurv.evaluation.concordance import concordance  # noqa: E402
from multisurv.evaluation.importance import (  # noqa: E402
    LinearRisk, permutation_importance_cindex, shap_importance, standardised_coefficients)
from multisurv.plotting.importance import plot_importance  # noqa: E402

DATA = Path(__file__).parents[1] / "reference" / "data"


@pytest.fixture(scope="module")
def veteran():
    v = pd.read_csv(DATA / "veteran.csv")
    X = pd.DataFrame({"karno": v["Karnofsky_score"], "age": v["Age_in_years"],
                      "diagtime": v["Months_from_Diagnosis"]}).astype(float)
    return X, make_y(v["time"].to_numpy(float), v["status"].to_numpy(bool)), v


def test_standardised_coefficients_equal_refit_on_zscores(veteran):
    """Cox on z-scored features (lifelines, Efron) has coef * sd as coefficients; both fits converge to ~1e-8, so
    1e-6 (the Cox tolerance of the house rules is 1e-4)."""
    X, _, v = veteran
    data = X.assign(time=v["time"], event=v["status"])
    raw = CoxPHFitter().fit(data, "time", "event").params_
    z = CoxPHFitter().fit(((X - X.mean()) / X.std(ddof=1)).assign(time=v["time"], event=v["status"]),
                          "time", "event").params_
    table = standardised_coefficients(raw.to_dict(), X).set_index("feature")
    np.testing.assert_allclose(table.loc[z.index, "std_coef"], z.to_numpy(), rtol=0, atol=1e-6)
    assert table.index[0] == "karno"  # the dominant prognostic factor of veteran
    np.testing.assert_allclose(table["hr_per_sd"], np.exp(table["std_coef"]))


def test_permutation_importance_cindex():
    """Only x1 carries risk: permuting x1 drops C to 0.5 on average; x2 (coefficient 0) has importance exactly 0."""
    rng = np.random.default_rng(3)
    n = 2000
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    t = rng.exponential(np.exp(-X["x1"].to_numpy()))
    y = make_y(t, np.ones(n, bool))
    model = LinearRisk(coef={"x1": 1.0, "x2": 0.0}).fit(X)
    table = permutation_importance_cindex(model, X, y, n_repeats=10, random_state=0).set_index("feature")
    baseline = concordance(y, X["x1"].to_numpy(), n_bootstrap=0).cindex
    assert table["baseline_cindex"].iloc[0] == pytest.approx(baseline, abs=1e-12)
    # A permuted score's C has SD ~ 1 / sqrt(3 n) ~ 0.013 per repeat; the mean of 10 is within 0.02 of 0.5.
    assert table.loc["x1", "importance_mean"] == pytest.approx(baseline - 0.5, abs=0.02)
    assert table.loc["x2", "importance_mean"] == 0.0 and table.loc["x2", "importance_std"] == 0.0
    with pytest.raises(ValueError, match="'X' has 2000 samples but 'y' has 10"):
        permutation_importance_cindex(model, X, y[:10])


@pytest.mark.slow  # ~30 s: importing shap compiles numba functions
def test_shap_is_additive_for_a_forest(veteran):
    """SHAP values of a random survival forest's risk add up to risk - mean background risk (shap's efficiency)."""
    pytest.importorskip("shap")
    from sksurv.ensemble import RandomSurvivalForest

    X, y, _ = veteran
    forest = RandomSurvivalForest(n_estimators=20, min_samples_leaf=10, random_state=0).fit(X, y)
    started = time.perf_counter()
    table, matrix = shap_importance(forest, X.iloc[:10], background=X.iloc[20:50], random_state=0)
    assert time.perf_counter() - started < 60
    expected = forest.predict(X.iloc[:10]) - forest.predict(X.iloc[20:50]).mean()
    np.testing.assert_allclose(matrix.sum(axis=1), expected, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(table.set_index("feature").loc[list(X.columns), "mean_abs_shap"],
                               np.abs(matrix).mean(axis=0))


def test_plot_importance_bars_equal_the_table(veteran):
    X, _, _ = veteran
    table = standardised_coefficients({"karno": -0.03, "age": -0.005, "diagtime": 0.002}, X)
    ax = plot_importance(table, value="std_coef", xlabel="log HR per SD")
    widths = [p.get_width() for p in ax.patches]
    assert widths == list(table["std_coef"].iloc[::-1])  # largest magnitude on top
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "karno"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="'table' has no column 'importance_mean'"):
        plot_importance(table, value="importance_mean")
