"""Tests for multisurv.evaluation.concordance (reference values: tests/reference/make_reference.R)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from sksurv.datasets import load_veterans_lung_cancer
from sksurv.metrics import concordance_index_censored

from multisurv._validation import make_y
from multisurv.evaluation.concordance import CIndexResult, _weighted_cindex, concordance, harrell_counts

REF = json.loads((Path(__file__).parents[1] / "reference" / "veteran_reference.json").read_text())
# C-index against survival::concordance: both are exact pair counts, so only float rounding separates them;
# the JSON keeps 15 significant digits. 1e-6 is the house tolerance for closed forms.
TOL_C = 1e-6


@pytest.fixture(scope="module")
def veteran():
    X, y_sk = load_veterans_lung_cancer()
    return X, make_y(y_sk["Survival_in_days"], y_sk["Status"])


def test_sksurv_veteran_is_r_veteran(veteran):
    """The two copies of the veteran data agree row by row (so R's numbers apply to sksurv's data)."""
    X, y = veteran
    data = REF["data"]
    assert len(y) == len(data["time"]) == 137
    np.testing.assert_array_equal(y["time"], data["time"])
    np.testing.assert_array_equal(y["event"], np.asarray(data["status"], bool))
    np.testing.assert_array_equal(X["Karnofsky_score"], data["karno"])
    np.testing.assert_array_equal(X["Age_in_years"], data["age"])
    np.testing.assert_array_equal(X["Celltype"].astype(str), data["celltype"])


def test_karno_as_risk_matches_r(veteran):
    """R: concordance(Surv(time, status) ~ karno, data = veteran, reverse = TRUE).

    A high Karnofsky score means a fit patient (good prognosis), so used as a risk it ranks patients the
    wrong way round and C < 0.5.
    """
    X, y = veteran
    res = concordance(y, X["Karnofsky_score"].to_numpy(), n_bootstrap=0)
    expected = REF["concordance"]["karno_as_risk"]["cindex"]
    assert res.cindex == pytest.approx(expected, abs=TOL_C)
    assert res.cindex < 0.5


def test_minus_karno_as_risk_matches_r(veteran):
    """R: concordance(Surv(time, status) ~ karno, data = veteran) (reverse = FALSE: higher = longer survival)."""
    X, y = veteran
    res = concordance(y, -X["Karnofsky_score"].to_numpy(), n_bootstrap=0)
    assert res.cindex == pytest.approx(REF["concordance"]["minus_karno_as_risk"]["cindex"], abs=TOL_C)
    assert res.cindex == pytest.approx(1 - REF["concordance"]["karno_as_risk"]["cindex"], abs=TOL_C)


def test_cox_linear_predictor_matches_r(veteran):
    """R: lp = predict(coxph(Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype), type = "lp");
    concordance(Surv(time, status) ~ lp, reverse = TRUE)."""
    _, y = veteran
    res = concordance(y, np.asarray(REF["cox"]["lp"]), n_bootstrap=0)
    assert res.cindex == pytest.approx(REF["concordance"]["cox_lp"]["cindex"], abs=TOL_C)


def test_ties_convention_matches_r():
    """Tied times (event/event excluded, event/censored compared) and tied risks (1/2), as in R.

    R: concordance(Surv(time, status) ~ risk, reverse = TRUE) on the hand-made 'ties' data: 28 concordant,
    4 discordant, 2 tied in risk -> C = (28 + 2 / 2) / 34.
    """
    case = REF["concordance"]["ties"]
    y = make_y(case["time"], case["status"])
    res = concordance(y, case["risk"], n_bootstrap=0)
    assert res.cindex == pytest.approx(case["cindex"], abs=TOL_C)
    assert res.cindex == pytest.approx(29 / 34, abs=1e-12)


def test_known_answer_by_hand():
    """The docstring case: comparable pairs (1,2) (1,3) (1,4) (2,3) (2,4); (2,3) tie in risk -> 4.5 / 5."""
    y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1])
    res = concordance(y, [4.0, 3.0, 3.0, 1.0], n_bootstrap=0)
    assert res.cindex == pytest.approx(0.9, abs=1e-12)
    assert (res.n, res.n_events, res.n_bootstrap) == (4, 3, 0)
    assert np.isnan(res.lower) and np.isnan(res.upper)


def test_perfect_and_reversed_ranking():
    y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1])
    assert concordance(y, [4, 3, 2, 1], n_bootstrap=0).cindex == 1.0
    assert concordance(y, [1, 2, 3, 4], n_bootstrap=0).cindex == 0.0
    assert concordance(y, [1, 1, 1, 1], n_bootstrap=0).cindex == 0.5


def _random_case(n, seed):
    rng = np.random.default_rng(seed)
    time_ = np.round(rng.exponential(10, n)) + 1  # many tied times
    event = rng.random(n) < 0.7
    risk = np.round(rng.normal(size=n) - 0.05 * time_, 1)  # many tied risks
    return make_y(time_, event), risk


def test_weighted_pairs_equal_sksurv_on_resamples():
    """The bootstrap's pair-matrix C equals sksurv on the explicitly resampled data (ties included)."""
    y, risk = _random_case(120, 0)
    rng = np.random.RandomState(1)
    for _ in range(20):
        idx = rng.randint(0, 120, 120)
        weights = np.bincount(idx, minlength=120)[None, :].astype(float)
        expected = concordance_index_censored(y["event"][idx], y["time"][idx], risk[idx])[0]
        assert _weighted_cindex(y["time"], y["event"], risk, weights)[0] == pytest.approx(expected, abs=1e-12)


def test_bootstrap_ci_contains_estimate_and_is_reproducible():
    y, risk = _random_case(200, 2)
    a = concordance(y, risk, n_bootstrap=500, random_state=0)
    b = concordance(y, risk, n_bootstrap=500, random_state=0)
    c = concordance(y, risk, n_bootstrap=500, random_state=1)
    assert a == b
    assert a.lower != c.lower
    assert a.lower < a.cindex < a.upper
    assert 0.0 <= a.lower and a.upper <= 1.0
    assert a.n_bootstrap == 500
    narrow = concordance(y, risk, n_bootstrap=500, confidence=0.5, random_state=0)
    assert a.lower <= narrow.lower <= narrow.upper <= a.upper


def test_bootstrap_speed():
    """1000 bootstrap samples of 300 patients take well under 2 s."""
    y, risk = _random_case(300, 3)
    start = time.perf_counter()
    concordance(y, risk, n_bootstrap=1000, random_state=0)
    assert time.perf_counter() - start < 2.0


def test_result_to_frame_and_dict():
    y, risk = _random_case(50, 4)
    res = concordance(y, risk, n_bootstrap=10, random_state=0)
    assert isinstance(res, CIndexResult)
    frame = res.to_frame()
    assert list(frame.columns) == ["cindex", "lower", "upper", "n", "n_events", "n_bootstrap", "confidence"]
    assert frame.shape == (1, 7)
    assert res.to_dict()["cindex"] == res.cindex
    with pytest.raises(AttributeError):
        res.cindex = 0.1  # frozen


# ---------------------------------------------------------------- failure cases
def test_nan_risk_error_names_count():
    y = make_y([1.0, 2.0, 3.0], [1, 0, 1])
    msg = r"'risk' has 2 NaN value\(s\) out of 3\. Drop the patients without a score"
    with pytest.raises(ValueError, match=msg):
        concordance(y, [np.nan, 1.0, np.nan])


def test_length_mismatch():
    y = make_y([1.0, 2.0, 3.0], [1, 0, 1])
    with pytest.raises(ValueError, match=r"^'risk' has 2 samples but 'y' has 3\.$"):
        concordance(y, [1.0, 2.0])


def test_no_comparable_pair():
    y = make_y([1.0, 2.0, 3.0], [0, 0, 1])  # the only event is last
    with pytest.raises(ValueError, match=r"^No pair of the 3 patients is comparable"):
        concordance(y, [1.0, 2.0, 3.0], n_bootstrap=0)


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"n_bootstrap": -1}, "The 'n_bootstrap' parameter of concordance must be an int in the range [0, inf). "
                              "Got -1 instead."),
        ({"n_bootstrap": 10.5}, "The 'n_bootstrap' parameter of concordance must be an int in the range [0, inf). "
                                "Got 10.5 instead."),
        ({"confidence": 1.0}, "The 'confidence' parameter of concordance must be a float in the range (0, 1). "
                              "Got 1.0 instead."),
    ],
    ids=["negative_n_bootstrap", "float_n_bootstrap", "confidence_one"],
)
def test_param_errors(kwargs, msg):
    y = make_y([1.0, 2.0, 3.0], [1, 0, 1])
    with pytest.raises(ValueError) as info:
        concordance(y, [1.0, 2.0, 3.0], **kwargs)
    assert str(info.value) == msg


def test_rare_events_warn_when_bootstrap_samples_are_skipped():
    y = make_y(np.arange(1.0, 11.0), [1] + [0] * 9)
    from multisurv.exceptions import MultisurvWarning

    with pytest.warns(MultisurvWarning, match=r"bootstrap samples had no comparable pair and were skipped"):
        res = concordance(y, np.arange(10.0)[::-1], n_bootstrap=200, random_state=0)
    assert 0 < res.n_bootstrap < 200


@pytest.mark.parametrize("seed", range(10))
def test_harrell_counts_equal_sksurv_pair_loop(seed):
    """The O(n log n) counts equal scikit-survival's pair loop, ties in time and in risk included."""
    y, risk = _random_case(150, seed)
    expected = concordance_index_censored(y["event"], y["time"], risk, tied_tol=1e-8)[1:4]
    assert harrell_counts(y["time"], y["event"], risk)[:3] == tuple(int(v) for v in expected)
