"""Tests for multisurv.evaluation.summary (reference: tests/reference/make_discrimination_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.metrics import concordance_index_censored

from multisurv._validation import make_y
from multisurv.evaluation.bootstrap import bootstrap_ci
from multisurv.evaluation.brier import brier_score
from multisurv.evaluation.summary import COLUMNS, default_times, evaluate_predictions
from multisurv.evaluation.td_auc import time_dependent_auc
from multisurv.evaluation.uno import uno_concordance

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "discrimination_reference.json").read_text())
TOL = 1e-6  # as in the per-metric tests: closed forms, same weights


def load(name):
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    ref = REF["datasets"][name]
    return make_y(d["time"], d["status"]), np.asarray(ref["lp"]), ref


@pytest.fixture(scope="module")
def veteran_table():
    y, lp, ref = load("veteran")
    return evaluate_predictions(y, lp, times=ref["times"], tau=float(ref["tau"]), surv_prob=ref["surv_prob"],
                                n_bootstrap=0)


def test_table_layout(veteran_table):
    assert tuple(veteran_table.columns) == COLUMNS
    assert veteran_table["metric"].tolist() == (["harrell_c", "uno_c"] + ["auc"] * 5 + ["mean_auc"] + ["brier"] * 5
                                                + ["ibs"])
    assert (veteran_table["ci_method"] == "none").all() and (veteran_table["note"] == "").all()


def test_every_row_matches_r(veteran_table):
    """Rows against R: survival::concordance (C and IJ variance), timewt = "n/G2" with ymax, riskRegression::Score."""
    ref = REF["datasets"]["veteran"]
    t = veteran_table.set_index(["metric", veteran_table.index])
    harrell = veteran_table.iloc[0]
    assert harrell["estimate"] == pytest.approx(ref["harrell"]["cindex"], abs=TOL)
    assert harrell["se"] ** 2 == pytest.approx(ref["harrell"]["var"], rel=TOL)
    uno = veteran_table.iloc[1]
    assert (uno["estimate"], uno["time"]) == (pytest.approx(ref["uno_tau"]["cindex"], abs=TOL), ref["tau"])
    np.testing.assert_allclose(t.loc["auc", "estimate"], ref["auc"]["auc"], atol=TOL, rtol=0)
    np.testing.assert_allclose(t.loc["auc", "time"], ref["times"])
    np.testing.assert_allclose(t.loc["brier", "estimate"], ref["brier"]["brier"], atol=TOL, rtol=0)
    assert float(t.loc["ibs", "estimate"].iloc[0]) == pytest.approx(ref["brier"]["ibs_trapezoid"], abs=TOL)


def test_intervals_share_resamples_with_the_metric_functions():
    """Every interval in the table is the one the metric's own function gives with the same seed; Harrell's C
    (computed there from weighted pairs) equals the generic driver running sksurv on each resample."""
    y, lp, ref = load("veteran")
    times, tau, surv = ref["times"][:3], float(ref["tau"]), np.asarray(ref["surv_prob"])[:, :3]
    opts = dict(n_bootstrap=60, random_state=3)
    table = evaluate_predictions(y, lp, times=times, tau=tau, surv_prob=surv, **opts)
    harrell = table.iloc[0]

    def cstat(idx):
        return concordance_index_censored(y["event"][idx], y["time"][idx], lp[idx])[0]

    generic = bootstrap_ci(cstat, len(y), **opts)
    assert (harrell["lower"], harrell["upper"]) == pytest.approx((generic.lower[0], generic.upper[0]), abs=1e-12)
    uno = uno_concordance(y, lp, tau=tau, **opts)
    assert (table.iloc[1]["lower"], table.iloc[1]["upper"]) == (uno.lower, uno.upper)
    auc = time_dependent_auc(y, lp, times, **opts)
    np.testing.assert_array_equal(table.loc[table.metric == "auc", "lower"], auc.lower)
    brier = brier_score(y, surv, times, **opts)
    np.testing.assert_array_equal(table.loc[table.metric == "brier", "upper"], brier.upper)
    assert (table["n_bootstrap"] == 60).all() and (table["ci_method"] == "percentile").all()


def test_without_surv_prob_there_are_no_brier_rows():
    y, lp, ref = load("gbsg2")
    table = evaluate_predictions(y, lp, n_bootstrap=0)
    assert "brier" not in set(table["metric"]) and "ibs" not in set(table["metric"])
    np.testing.assert_array_equal(table.loc[table.metric == "auc", "time"], default_times(y))
    assert np.isnan(table.iloc[1]["time"])  # Uno's C without tau


def test_default_times_are_event_time_quartiles():
    y, _, _ = load("whas500")
    events = np.sort(y["time"][y["event"]])
    expected = [events[int(np.floor(q * (events.size - 1)))] for q in (0.25, 0.5, 0.75)]
    np.testing.assert_array_equal(default_times(y), expected)


def test_undefined_metric_is_reported_in_note():
    """A reference cohort that ends before the evaluation's events makes the IPCW metrics undefined: NaN + note."""
    y, lp, _ = load("veteran")
    train = y[y["time"] < 100]
    table = evaluate_predictions(y, lp, times=[30.0, 60.0], y_train=train, n_bootstrap=0)
    uno = table.iloc[1]
    assert np.isnan(uno["estimate"])
    assert "after the last follow-up time of 'y_train'" in uno["note"]
    assert table.iloc[0]["note"] == ""  # Harrell's C needs no censoring model


def test_bad_surv_prob_raises():
    y, lp, ref = load("veteran")
    with pytest.raises(ValueError, match=r"^'surv_prob' must have shape"):
        evaluate_predictions(y, lp, times=ref["times"], surv_prob=np.ones((137, 2)), n_bootstrap=0)
