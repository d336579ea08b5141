"""Tests for multisurv.evaluation.ipcw: the censoring weights' convention (R's G(T-), events before censorings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sksurv.nonparametric import CensoringDistributionEstimator

from multisurv._validation import make_y
from multisurv.evaluation.ipcw import censoring_reference, censoring_survival, check_reference

DATA = Path(__file__).parents[1] / "reference" / "data"


@pytest.fixture(scope="module")
def veteran():
    d = pd.read_csv(DATA / "veteran.csv")
    return make_y(d["time"], d["status"])


def _km_censoring_left(y, t):
    """G(t-) by the textbook product over censoring times u < t; at a tie the event leaves the risk set first."""
    g = 1.0
    for u in np.unique(y["time"][~y["event"]]):
        if u >= t:
            break
        at_risk = np.sum(y["time"] > u) + np.sum((y["time"] == u) & ~y["event"])
        g *= 1.0 - np.sum((y["time"] == u) & ~y["event"]) / at_risk
    return g


def test_left_limit_matches_textbook_product(veteran):
    events = np.unique(veteran["time"][veteran["event"]])
    expected = [_km_censoring_left(veteran, t) for t in events]
    np.testing.assert_allclose(censoring_survival(veteran, events, left=True), expected, rtol=0, atol=1e-14)


def test_nudged_reference_gives_sksurv_the_left_limit(veteran):
    """sksurv's right-continuous G, fitted on the nudged data, equals G(T-) of the original data at every event."""
    events = veteran["time"][veteran["event"]]
    nudged = CensoringDistributionEstimator().fit(censoring_reference(veteran)).predict_proba(events)
    np.testing.assert_allclose(nudged, censoring_survival(veteran, events, left=True), rtol=0, atol=1e-15)
    # veteran has censorings tied with events (e.g. t = 25, 87, 100, 103), so the right limit differs there
    tied = np.intersect1d(veteran["time"][~veteran["event"]], events)
    assert tied.size > 0
    assert np.all(censoring_survival(veteran, tied) < censoring_survival(veteran, tied, left=True))


def test_nudge_moves_only_censored_times(veteran):
    nudged = censoring_reference(veteran)
    np.testing.assert_array_equal(nudged["time"][veteran["event"]], veteran["time"][veteran["event"]])
    assert np.all(nudged["time"][~veteran["event"]] > veteran["time"][~veteran["event"]])
    assert np.all(nudged["time"][~veteran["event"]] - veteran["time"][~veteran["event"]] < 1e-10)
    assert veteran["time"][~veteran["event"]][0] != nudged["time"][~veteran["event"]][0]  # input not modified ...
    assert censoring_reference(veteran) is not veteran  # ... a copy is returned


def test_reference_defaults_to_y(veteran):
    assert check_reference(veteran, None, owner="f") is veteran


def test_reference_ending_before_events_is_refused():
    y = make_y([1.0, 2.0, 3.0, 9.0], [1, 1, 0, 1])
    train = make_y([1.0, 2.0, 5.0], [1, 0, 1])
    with pytest.raises(ValueError, match=r"^f: 'y' has event times up to 9, after the last follow-up time of "
                                         r"'y_train' \(5\), where the censoring distribution is unknown\. Set 'tau'"):
        check_reference(y, train, owner="f")
    assert check_reference(y, train, owner="f", horizon=5.0)["time"].max() == 5.0  # fine up to tau = 5
