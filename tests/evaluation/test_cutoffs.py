"""Risk-group cut-offs: maximally selected log-rank statistics against R's maxstat, and the fit/transform contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y
from multisurv.evaluation.cutoffs import RiskCutoff, logrank_scores, maxstat_cutoff

REF = Path(__file__).parents[1] / "reference"
CASES = json.loads((REF / "cutoff_reference.json").read_text())["cases"]


def _data(case):
    frame = pd.read_csv(REF / "data" / f"{case['dataset']}.csv")
    return make_y(frame["time"].to_numpy(float), frame["status"].to_numpy(bool)), frame[case["variable"]].to_numpy(float)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['dataset']}-{c['variable']}")
def test_maxstat_matches_r(case):
    """R: maxstat.test(Surv(time, status) ~ x, smethod = "LogRank", pmethod = "Lau92", minprop = 0.1, maxprop = 0.9).

    Closed-form sums: statistic, scan and Lau92 p to 1e-9 (R writes 15 significant digits).
    """
    y, x = _data(case)
    res = maxstat_cutoff(y, x, min_prop=0.1, max_prop=0.9)
    assert res.cutoff == case["estimate"]
    assert res.statistic == pytest.approx(case["statistic"], rel=1e-9)
    assert res.p_value == pytest.approx(case["p_lau92"], rel=1e-9, abs=1e-15)
    np.testing.assert_allclose(res.cuts, case["cuts"], rtol=0, atol=0)
    np.testing.assert_allclose(res.stats, case["stats"], rtol=1e-9)
    # Development-only quantiles: numpy's default is R's type 7.
    np.testing.assert_allclose(RiskCutoff(method="tertiles").fit(None, x).cutoffs_, case["tertiles"], rtol=1e-12)
    assert RiskCutoff(method="median").fit(None, x).cutoffs_ == (case["median"],)


@pytest.mark.parametrize("case", [c for c in CASES if c["variable"] in ("age", "Age_in_years")],
                         ids=lambda c: c["dataset"])
def test_permutation_p_agrees_with_r_condmc(case):
    """R: pmethod = "condMC", B = 20000. Both are Monte Carlo estimates of the same permutation p: they must agree
    within 4 combined standard errors (2,000 permutations here, 20,000 in R)."""
    y, x = _data(case)
    res = maxstat_cutoff(y, x, p_method="permutation", n_permutations=2000, random_state=0)
    p_r = case["p_condmc"]
    se = np.sqrt(p_r * (1 - p_r) / 2000 + p_r * (1 - p_r) / case["condmc_B"])
    assert abs(res.p_value - p_r) < 4 * se
    assert res.n_permutations == 2000


def test_logrank_scores_tie_convention():
    """exactRankTests::cscores(Surv(c(1,2,2,3,3,4), c(1,1,0,1,1,0))) printed
    0.8333333 0.5833333 -0.4166667 -0.4166667 -0.4166667 -1.4166667."""
    y = make_y([1.0, 2.0, 2.0, 3.0, 3.0, 4.0], [1, 1, 0, 1, 1, 0])
    np.testing.assert_allclose(logrank_scores(y), [5 / 6, 7 / 12, -5 / 12, -5 / 12, -5 / 12, -17 / 12], rtol=1e-12)


def test_cutoff_fitted_on_development_only():
    """Poisoned external scores change nothing fitted; transform applies the development cut-off unchanged."""
    rng = np.random.default_rng(1)
    risk = rng.normal(size=200)
    y = make_y(rng.exponential(np.exp(-risk)), rng.random(200) < 0.7)
    for method in ("median", "tertiles", "maxstat"):
        cut = RiskCutoff(method=method).fit(y, risk)
        before = cut.cutoffs_
        external = np.r_[rng.normal(size=50) * 100, 1e9]
        groups = cut.transform(external)
        assert cut.cutoffs_ == before
        expected = np.where(external > before[-1], "high", "low" if len(before) == 1 else "intermediate")
        if len(before) == 2:
            expected = np.where(external <= before[0], "low", expected)
        assert groups.tolist() == expected.tolist()


def test_fixed_and_boundary():
    cut = RiskCutoff(method="fixed", value=0.5).fit(None, [0.0, 1.0])
    assert cut.transform([0.5, 0.50001]).tolist() == ["low", "high"]
    assert "fixed cut-off 0.5" == cut.describe()


@pytest.mark.parametrize("kwargs, data, match", [
    ({"method": "quartiles"}, (None, [1.0, 2.0]), "The 'method' parameter of RiskCutoff must be one of"),
    ({"method": "fixed"}, (None, [1.0, 2.0]), "The 'value' parameter of RiskCutoff must be a finite float"),
    ({"method": "maxstat"}, (None, [1.0, 2.0]), "needs the development outcomes 'y'"),
    ({"method": "median"}, (None, [1.0, np.nan]), "'risk' has 1 NaN value"),
    ({"method": "median"}, (make_y([1.0, 2.0, 3.0], [1, 1, 1]), [1.0, 2.0]), "'risk' has 2 samples but 'y' has 3"),
])
def test_risk_cutoff_errors(kwargs, data, match):
    with pytest.raises(ValueError, match=match):
        RiskCutoff(**kwargs).fit(*data)


def test_maxstat_errors():
    y = make_y([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 1])
    with pytest.raises(ValueError, match="No cut-off leaves between"):
        maxstat_cutoff(y, [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="'y' has no observed event"):
        maxstat_cutoff(make_y([1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0]), [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="The 'p_method' parameter of maxstat_cutoff must be one of"):
        maxstat_cutoff(y, [1.0, 2.0, 3.0, 4.0], p_method="Lau94")
