"""Cox nomogram against rms::nomogram (tests/reference/make_nomogram_reference.R) and its drawing."""

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
from multisurv.evaluation.baseline import BreslowBaseline  # noqa: E402
from multisurv.evaluation.nomogram import cox_nomogram, nomogram_values  # noqa: E402
from multisurv.plotting.nomogram import plot_nomogram  # noqa: E402

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "nomogram_reference.json").read_text())
# Points and axes are closed forms of the coefficients rms wrote (15 digits) and of the Breslow baseline, which
# matches R's survfit to 1e-12: 1e-9 absolute on points (0-120 scale) and on probabilities.
TOL = 1e-9
# rms places fun.at values by linear interpolation of fun over a grid of linear predictors (nomogram's approx()),
# so its survival-axis points carry interpolation error (measured max 1.0e-4 points on a 0-120 scale); the inversion
# here is exact. Hence 1e-3 points on those axes and 1e-5 in probability when reading R's points back.
TOL_FUN_POINTS = 1e-3
TOL_FUN_PROB = 1e-5


@pytest.fixture(scope="module")
def veteran_nomogram():
    v = pd.read_csv(REF_DIR / "data" / "veteran.csv")
    X = pd.DataFrame({"karno": v["Karnofsky_score"], "age": v["Age_in_years"], "diagtime": v["Months_from_Diagnosis"],
                      "prior": (v["Prior_therapy"] == "yes").astype(float)})
    y = make_y(v["time"].to_numpy(float), v["status"].to_numpy(bool))
    coef = REF["coef"]
    lp = X[list(coef)].to_numpy(float) @ np.array(list(coef.values()))
    base = BreslowBaseline().fit(y, lp)
    values = {var["name"]: var["value"] for var in REF["variables"]}
    return cox_nomogram(coef, values, baseline=base, times=(90.0, 180.0), survival_at=REF["fun_at"]), X


def test_points_match_rms(veteran_nomogram):
    """R: nomogram(cph(Surv(time, status) ~ karno + age + diagtime + prior, method = "breslow"), karno = ..., ...)."""
    nom, _ = veteran_nomogram
    for var in REF["variables"]:
        np.testing.assert_allclose(nom.axes[var["name"]]["points"], var["points"], rtol=0, atol=TOL)
    assert nom.axes["karno"]["points"].max() == pytest.approx(100.0, abs=1e-12)


@pytest.mark.parametrize("t, key", [(90.0, "s90"), (180.0, "s180")])
def test_survival_axes_match_rms(veteran_nomogram, t, key):
    """Total points of each survival probability on rms's fun axes, both directions; the same probabilities kept."""
    nom, _ = veteran_nomogram
    axis = nom.survival_axes[t]
    np.testing.assert_allclose(axis["survival"], REF[key]["value"], rtol=0, atol=0)
    np.testing.assert_allclose(axis["points"], REF[key]["points"], rtol=0, atol=TOL_FUN_POINTS)
    np.testing.assert_allclose(nom.survival_from_points(REF[key]["points"], t), REF[key]["value"], rtol=0,
                               atol=TOL_FUN_PROB)
    # Exact round trip on our side.
    np.testing.assert_allclose(nom.survival_from_points(axis["points"], t), axis["survival"], rtol=0, atol=1e-12)


def test_linear_predictor_axis_matches_rms(veteran_nomogram):
    """rms's lp axis is centred (lp - f$center): adding the centre back gives our uncentred lp at those points."""
    nom, _ = veteran_nomogram
    lp = nom.lp_from_points(REF["lp_axis"]["points"])
    np.testing.assert_allclose(lp - REF["center"], REF["lp_axis"]["value"], rtol=0, atol=TOL)


def test_points_of_patients_give_their_survival(veteran_nomogram):
    """Reading a patient's total points off the nomogram gives the model's own survival prediction."""
    nom, X = veteran_nomogram
    total = nom.points(X)
    np.testing.assert_allclose(nom.survival_from_points(total, 90.0),
                               nom.baseline.predict_survival(nom.linear_predictor(X), 90.0), rtol=1e-12)


def test_plot_draws_every_axis(veteran_nomogram):
    nom, _ = veteran_nomogram
    ax = plot_nomogram(nom, time_unit="days")
    names = [t.get_text() for t in ax.texts if t.get_ha() == "right"]
    assert names == ["Points", "karno", "age", "diagtime", "prior", "Total points", "Linear predictor",
                     "Survival at 90 days", "Survival at 180 days"]
    # A survival tick sits at its total points shrunk onto the 0-100 width.
    tick_labels = {t.get_text(): t.get_position()[0] for t in ax.texts if t.get_position()[1] < -7}
    axis = nom.survival_axes[180.0]
    expected = float(axis.loc[axis["survival"] == 0.5, "points"].iloc[0]) * 100 / nom.max_points
    assert tick_labels["0.5"] == pytest.approx(expected, abs=1e-9)
    plt.close(ax.figure)


def test_values_helper_and_errors():
    vals = nomogram_values(pd.DataFrame({"x": np.linspace(0, 10, 101), "flag": [0, 1] * 50 + [1]}))
    assert vals["flag"].tolist() == [0.0, 1.0] and vals["x"].min() >= 0.1 - 1e-9 and vals["x"].max() <= 9.9 + 1e-9
    with pytest.raises(ValueError, match="must name the same variables"):
        cox_nomogram({"a": 1.0}, {"b": [0, 1]})
    with pytest.raises(ValueError, match="need the development 'baseline'"):
        cox_nomogram({"a": 1.0}, {"a": [0, 1]}, times=(1.0,))
    with pytest.raises(ValueError, match="points range is zero"):
        cox_nomogram({"a": 0.0}, {"a": [0, 1]})
    with pytest.raises(TypeError, match="takes a Nomogram"):
        plot_nomogram({"a": 1.0})
