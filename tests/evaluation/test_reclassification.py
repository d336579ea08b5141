"""Tests for multisurv.evaluation.reclassification (R reference: tests/reference/make_binary_reference.R).

nricens and PredictABEL are not packaged for Debian, so R computes the closed forms of Pencina et al. in base R
(binary: 2008; survival at t0: Kaplan-Meier weighting of 2011, with R's survfit; IDI at t0 with IPCW weights
from survfit of the censoring distribution).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y
from multisurv.evaluation.reclassification import idi, idi_at, nri, nri_at

REF = json.loads((Path(__file__).parents[1] / "reference" / "binary_reference.json").read_text())
GBSG2 = pd.read_csv(Path(__file__).parents[1] / "reference" / "data" / "gbsg2.csv")
Y = np.asarray(REF["y"])
# Closed forms (proportions, means, Kaplan-Meier products) on both sides: only the JSON's 15 digits differ.
TOL = 1e-9


@pytest.mark.parametrize("kind", ["continuous", "categorical"])
def test_binary_nri_matches_closed_form(kind):
    """R: Pencina et al. (2008) NRI of model B over model A (cut-offs 0.2, 0.4 for the categorical one) and its
    asymptotic standard error."""
    ref = REF["nri"][kind]
    cut = REF["nri"]["cutoffs"] if kind == "categorical" else None
    res = nri(Y, REF["p_a"], REF["p_b"], cutoffs=cut, n_bootstrap=0)
    assert (res.nri, res.nri_events, res.nri_non_events) == pytest.approx(
        (ref["nri"], ref["nri_events"], ref["nri_non_events"]), abs=TOL)
    assert res.standard_error == pytest.approx(ref["se"], rel=TOL)
    assert res.kind == kind and np.isnan(res.lower)


def test_binary_idi_matches_closed_form():
    ref = REF["idi"]
    res = idi(Y, REF["p_a"], REF["p_b"], n_bootstrap=0)
    assert (res.idi, res.slope_old, res.slope_new) == pytest.approx(
        (ref["idi"], ref["slope_old"], ref["slope_new"]), abs=TOL)
    assert res.standard_error == pytest.approx(ref["se"], rel=TOL)


def test_bootstrap_intervals_agree_with_asymptotic_standard_errors():
    """Statistical check (resamples differ from any R run): with 400 resamples the bootstrap standard error of
    the NRI and IDI estimates Pencina's asymptotic one; its own Monte Carlo error is about 1/sqrt(2 * 400) =
    3.5 % of it, and the asymptotic formula ignores the model's estimation, so allow 20 %."""
    res_n = nri(Y, REF["p_a"], REF["p_b"], cutoffs=REF["nri"]["cutoffs"], n_bootstrap=400, random_state=0)
    res_i = idi(Y, REF["p_a"], REF["p_b"], n_bootstrap=400, random_state=0)
    width_n = (res_n.upper - res_n.lower) / (2 * 1.96)
    width_i = (res_i.upper - res_i.lower) / (2 * 1.96)
    assert width_n == pytest.approx(REF["nri"]["categorical"]["se"], rel=0.2)
    assert width_i == pytest.approx(REF["idi"]["se"], rel=0.2)
    assert res_n.lower < res_n.nri < res_n.upper and res_i.lower < res_i.idi < res_i.upper
    again = nri(Y, REF["p_a"], REF["p_b"], cutoffs=REF["nri"]["cutoffs"], n_bootstrap=400, random_state=0)
    assert (again.lower, again.upper) == (res_n.lower, res_n.upper)


@pytest.fixture(scope="module")
def surv():
    return make_y(GBSG2["time"].to_numpy(float), GBSG2["status"].to_numpy() == 1), REF["survival"]


@pytest.mark.parametrize("kind", ["continuous", "categorical"])
def test_survival_nri_at_t0_matches_km_closed_form(surv, kind):
    """R: NRI at t0 = 1095 days on all 686 gbsg2 patients, risks ``1 - S(t0 | x)`` of two coxph models; the
    Kaplan-Meier weighting of Pencina, D'Agostino and Steyerberg (2011) with ``summary(survfit(...), times = t0)``."""
    y, ref = surv
    cut = REF["nri"]["cutoffs"] if kind == "categorical" else None
    res = nri_at(y, ref["risk_a"], ref["risk_b"], ref["t0"], cutoffs=cut, n_bootstrap=0)
    expected = ref[f"nri_{kind}"]
    assert (res.nri, res.nri_events, res.nri_non_events) == pytest.approx(
        (expected["nri"], expected["nri_events"], expected["nri_non_events"]), abs=TOL)
    assert res.method == "km" and res.t0 == 1095.0


def test_survival_idi_at_t0_matches_ipcw_closed_form(surv):
    """R: cases (event by t0) weighted 1 / G(T-) with G = survfit(Surv(time, 1 - status) ~ 1), controls
    (time > t0) unweighted."""
    y, ref = surv
    res = idi_at(y, ref["risk_a"], ref["risk_b"], ref["t0"], n_bootstrap=0)
    assert (res.idi, res.slope_old, res.slope_new) == pytest.approx(
        (ref["idi"]["idi"], ref["idi"]["slope_old"], ref["idi"]["slope_new"]), abs=TOL)


def test_survival_bootstrap_gives_interval_and_p(surv):
    y, ref = surv
    res = nri_at(y, ref["risk_a"], ref["risk_b"], ref["t0"], n_bootstrap=100, random_state=1)
    assert res.lower < res.nri < res.upper and res.standard_error > 0 and 0 <= res.p_value <= 1
    res_i = idi_at(y, ref["risk_a"], ref["risk_b"], ref["t0"], n_bootstrap=100, random_state=1)
    assert res_i.lower < res_i.idi < res_i.upper


def test_identical_models_reclassify_nobody():
    res = nri(Y, REF["p_b"], REF["p_b"], n_bootstrap=0)
    assert res.nri == 0.0 and idi(Y, REF["p_b"], REF["p_b"], n_bootstrap=0).idi == 0.0


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda y: nri(Y, REF["p_a"], REF["p_b"], cutoffs=[0.4, 0.2]),
         r"^nri: 'cutoffs' must be increasing risks strictly between 0 and 1"),
        (lambda y: nri(Y, REF["p_a"], REF["p_b"], n_bootstrap=-1),
         r"^The 'n_bootstrap' parameter of nri must be an int in the range \[0, inf\)\. Got -1 instead\.$"),
        (lambda y: idi(Y, REF["p_a"], np.asarray(REF["p_b"]) * 2),
         r"^'prob_new' must hold probabilities in \[0, 1\]"),
        (lambda y: nri_at(y, REF["survival"]["risk_a"], REF["survival"]["risk_b"], 1e6),
         r"^nri_at: 't0' must lie inside the follow-up, between 8 and 2659 \(exclusive\); got 1000000\.0\.$"),
        (lambda y: idi_at(y, REF["survival"]["risk_a"], REF["survival"]["risk_b"], 50.0),
         r"^idi_at: no event is observed by t0=50, so no patient is a case\. Choose a later 't0'\.$"),
    ],
    ids=["cutoffs_order", "n_bootstrap", "prob_range", "t0_outside", "no_case"],
)
def test_errors(surv, call, msg):
    y, _ = surv
    with pytest.raises(ValueError, match=msg):
        call(y)
