"""Tests for multisurv.evaluation.resampling: refit-per-resample validation, leakage, and rms::validate."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sksurv.linear_model import CoxPHSurvivalAnalysis

from multisurv._validation import make_y
from multisurv.evaluation.resampling import (
    ValidationResult,
    bootstrap_indices,
    harrell_c,
    nested_cv,
    validate,
    validate_external,
)
from multisurv.exceptions import MultisurvWarning
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.lasso_cox import LassoCoxSelector

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "validate_reference.json"


def _linear(n, seed=0, p=3, beta=1.0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"x{i}" for i in range(p)])
    t = rng.exponential(np.exp(-beta * X["x0"].to_numpy()))
    c = rng.exponential(2.0, n)
    return X, make_y(np.minimum(t, c), t <= c)


def _noise(n, p, seed):
    """Pure-noise features and an outcome drawn independently of them."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"ct__f{i:04d}" for i in range(p)])
    return X, make_y(rng.exponential(1.0, n), rng.random(n) < 0.7)


class SpyCox(BaseEstimator):
    """Cox model that records the row labels of every fit (class-level log, shared by clones)."""

    log: list = []

    def fit(self, X, y):
        SpyCox.log.append(frozenset(X.index))
        self.cox_ = CoxPHSurvivalAnalysis().fit(X, y)
        return self

    def predict(self, X):
        return self.cox_.predict(X)


# ----------------------------------------------------------------------------------------------- mechanics
def test_bootstrap_refits_on_every_sample_and_matches_a_hand_computation():
    X, y = _linear(80, seed=1)
    samples = bootstrap_indices(80, 5, random_state=3)
    SpyCox.log = []
    res = validate(SpyCox(), X, y, resamples=samples)
    assert isinstance(res, ValidationResult) and res.method == "bootstrap" and res.n_resamples == 5
    # one fit on everything (apparent) then one per bootstrap sample, each on exactly that sample's rows
    assert SpyCox.log[0] == frozenset(X.index)
    assert SpyCox.log[1:] == [frozenset(X.index[s]) for s in samples]
    apparent = harrell_c(y, CoxPHSurvivalAnalysis().fit(X, y).predict(X))
    optimism = []
    for s in samples:
        m = CoxPHSurvivalAnalysis().fit(X.iloc[s], y[s])
        optimism.append(harrell_c(y[s], m.predict(X.iloc[s])) - harrell_c(y, m.predict(X)))
    assert res.apparent == pytest.approx(apparent, abs=1e-12)
    assert res.optimism == pytest.approx(np.mean(optimism), abs=1e-12)
    assert res.corrected == pytest.approx(apparent - np.mean(optimism), abs=1e-12)
    np.testing.assert_allclose(res.resamples["optimism"], optimism, atol=1e-12)


def test_cv_folds_are_disjoint_stratified_and_cover_every_patient():
    X, y = _linear(90, seed=2)
    SpyCox.log = []
    res = validate(SpyCox(), X, y, method="repeated_cv", n_splits=3, n_repeats=2, random_state=0)
    assert res.n_resamples == 6 and list(res.resamples["repeat"]) == [0, 0, 0, 1, 1, 1]
    everyone = frozenset(X.index)
    for repeat in range(2):
        trains = SpyCox.log[1 + 3 * repeat: 4 + 3 * repeat]
        tests = [everyone - t for t in trains]
        assert frozenset().union(*tests) == everyone and sum(len(t) for t in tests) == 90
        events = [int(y["event"][X.index.isin(list(t))].sum()) for t in tests]
        assert max(events) - min(events) <= 1  # stratified on the event indicator
    assert res.corrected == pytest.approx(res.resamples["c_test"].mean())
    per_repeat = res.resamples.groupby("repeat")["c_test"].mean()
    assert res.sd == pytest.approx(per_repeat.std(ddof=1))


def test_seeded_results_are_reproducible():
    X, y = _linear(60, seed=3)
    a = validate(CoxPHSurvivalAnalysis(), X, y, n_resamples=8, random_state=5)
    b = validate(CoxPHSurvivalAnalysis(), X, y, n_resamples=8, random_state=5)
    pd.testing.assert_frame_equal(a.resamples, b.resamples)
    c = validate(CoxPHSurvivalAnalysis(), X, y, n_resamples=8, random_state=6)
    assert not np.allclose(a.resamples["optimism"], c.resamples["optimism"])


def test_poisoned_held_out_rows_do_not_change_the_fold_models():
    """Leakage: replacing a fold's outcomes changes nothing fitted on the other folds (selection included)."""
    X, y = _noise(60, 40, seed=4)
    pipe = Pipeline([("lasso", LassoCoxSelector(alpha=0.05, n_alphas=8, max_features=5)),
                     ("cox", CoxPHSurvivalAnalysis(alpha=0.01))])
    folds = list(zip(*[iter(np.arange(60))] * 20))
    splits = [(np.setdiff1d(np.arange(60), f), np.array(f)) for f in folds]
    y2 = y.copy()
    y2["time"][splits[0][1]] = 1e-3  # poison the first held-out fold
    y2["event"][splits[0][1]] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MultisurvWarning)
        a = validate(pipe, X, y, method="cv", resamples=splits)
        b = validate(pipe, X, y2, method="cv", resamples=splits)
    # fold 0's model never saw fold 0: its predictions are unchanged, so only its C changes through y
    assert a.resamples.loc[0, "c_train"] == b.resamples.loc[0, "c_train"]
    assert a.resamples.loc[0, "c_test"] != b.resamples.loc[0, "c_test"]


def test_progress_bar_and_warning_summary(capsys):
    X, y = _noise(40, 5, seed=5)
    score = ModalityScore(prefix="ct__", selector=LassoCoxSelector(alpha=10.0))  # selects nothing: constant risk
    with pytest.warns(MultisurvWarning, match=r"raised 4 time\(s\) across the fits: .*selected no feature"):
        res = validate(score, X, y, n_resamples=3, random_state=0, progress=True)
    assert res.apparent == 0.5 and res.corrected == 0.5 and (res.resamples["n_warnings"] == 1).all()
    assert "validate (bootstrap)" in capsys.readouterr().err


def test_failed_resamples_are_reported_not_hidden():
    X, y = _linear(30, seed=6)
    y["event"][:] = False
    y["event"][:2] = True  # 2 events: many bootstrap samples hold none
    with pytest.warns(MultisurvWarning, match=r"\d+ of 20 resamples failed"):
        res = validate(CoxPHSurvivalAnalysis(alpha=0.1), X, y, n_resamples=20, random_state=0)
    assert res.n_failed > 0 and res.n_failed + res.n_resamples == 20
    assert (res.resamples["error"] != "").sum() + res.resamples["c_test"].isna().sum() >= res.n_failed


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "loo"}, r"The 'method' parameter of validate must be one of 'bootstrap', 'cv', 'repeated_cv'"),
    ({"n_resamples": 0}, r"The 'n_resamples' parameter of validate must be an int in the range \[1, inf\)"),
    ({"n_splits": 1, "method": "cv"}, r"The 'n_splits' parameter of validate must be an int in the range \[2"),
    ({"n_repeats": 0}, r"The 'n_repeats' parameter of validate must be an int"),
], ids=["method", "n_resamples", "n_splits", "n_repeats"])
def test_bad_parameters(kwargs, match):
    X, y = _linear(30)
    with pytest.raises(ValueError, match=match):
        validate(CoxPHSurvivalAnalysis(), X, y, **kwargs)


def test_bad_inputs():
    X, y = _linear(30)
    with pytest.raises(ValueError, match=r"'y' has 30 samples but 'X' has 29"):
        validate(CoxPHSurvivalAnalysis(), X.iloc[:29], y)
    with pytest.raises(ValueError, match=r"must have 'fit' and 'predict'"):
        validate(object(), X, y)
    with pytest.raises(ValueError, match=r"cannot run 5 folds with only 3 event"):
        validate(CoxPHSurvivalAnalysis(), X, make_y(np.arange(1, 31.0), np.arange(30) < 3), method="cv")


def test_validate_external_fits_on_development_only():
    X, y = _linear(150, seed=7)
    SpyCox.log = []
    model, res = validate_external(SpyCox(), X.iloc[:100], y[:100], X.iloc[100:], y[100:], n_bootstrap=50,
                                   random_state=0)
    assert SpyCox.log == [frozenset(X.index[:100])]
    assert res.n == 50 and res.cindex == pytest.approx(harrell_c(y[100:], model.predict(X.iloc[100:])))
    assert res.lower <= res.cindex <= res.upper


class SpyRidgeCox(BaseEstimator):
    """Ridge Cox that records the row labels of every fit (class-level log, shared by clones)."""

    log: list = []

    def __init__(self, alpha=0.01):
        self.alpha = alpha

    def fit(self, X, y):
        SpyRidgeCox.log.append(frozenset(X.index))
        self.cox_ = CoxPHSurvivalAnalysis(alpha=self.alpha).fit(X, y)
        return self

    def predict(self, X):
        return self.cox_.predict(X)


def test_nested_cv_tunes_inside_each_outer_fold():
    X, y = _linear(90, seed=8)
    res = nested_cv(CoxPHSurvivalAnalysis(), {"alpha": [0.01, 1e4]}, X, y, inner_cv=3, n_splits=3, random_state=0)
    assert res.method == "cv" and res.n_resamples == 3
    assert 0.6 < res.corrected < 0.9  # the huge ridge penalty flattens nothing's ranking: C ~ a plain Cox's
    # every fit of the search (3 inner folds x 2 penalties, then the refit) sees only its outer training rows
    SpyRidgeCox.log = []
    nested_cv(SpyRidgeCox(), {"alpha": [0.01, 1e4]}, X, y, inner_cv=3, n_splits=3, random_state=0)
    per_search = 3 * 2 + 1
    assert len(SpyRidgeCox.log) == 4 * per_search  # the apparent search on everyone, then one per outer fold
    everyone = frozenset(X.index)
    assert SpyRidgeCox.log[per_search - 1] == everyone
    held_out = []
    for k in range(1, 4):
        fits = SpyRidgeCox.log[k * per_search: (k + 1) * per_search]
        outer_train = fits[-1]  # the refit with the chosen penalty
        assert all(f < outer_train for f in fits[:-1])  # inner fits: strict subsets of the outer training rows
        held_out.append(everyone - outer_train)
    assert frozenset().union(*held_out) == everyone and sum(map(len, held_out)) == 90


# -------------------------------------------------------------------------------------------- rms::validate
def test_bootstrap_optimism_matches_rms_validate_with_the_same_samples():
    """rms::validate(cph(...), B = 200) on survival::veteran, fed the very bootstrap samples rms drew.

    R (tests/reference/make_validate_reference.R)::

        fit <- cph(Surv(time, status) ~ karno + age + diagtime + prior + trt + celltype, x = TRUE, y = TRUE)
        set.seed(20261123); v <- rms::validate(fit, method = "boot", B = 200)
        set.seed(20261123); samples <- replicate(200, sample(n, replace = TRUE))   # the same samples

    C = (Dxy + 1) / 2. Tolerances: 1e-6 against the R hand computation (survival::coxph fits to 1e-9 and
    survival::concordance on both sides; only the Cox solvers' convergence separates them); 2e-5 against rms,
    whose bootstrap refits stop at coxphFit(eps = 1e-4, iter.max = 10) (R itself sees 5.7e-6 between the two).
    """
    ref = json.loads(REFERENCE.read_text())
    X = pd.DataFrame(np.asarray(ref["x"], dtype=float), columns=ref["x_columns"])
    y = make_y(np.asarray(ref["time"], dtype=float), np.asarray(ref["status"]) == 1)
    samples = [np.asarray(s, dtype=int) for s in ref["samples0"]]
    res = validate(CoxPHSurvivalAnalysis(ties="efron"), X, y, resamples=samples)
    manual, rms = ref["manual"], ref["rms_c"]
    assert res.apparent == pytest.approx(manual["apparent"], abs=1e-6)
    np.testing.assert_allclose(res.resamples["c_train"], manual["train"], atol=1e-6)
    np.testing.assert_allclose(res.resamples["c_test"], manual["test"], atol=1e-6)
    assert res.corrected == pytest.approx(manual["corrected"], abs=1e-6)
    assert res.apparent == pytest.approx(rms["apparent"], abs=1e-6)
    assert res.optimism == pytest.approx(rms["optimism"], abs=2e-5)
    assert res.corrected == pytest.approx(rms["corrected"], abs=2e-5)


# ------------------------------------------------------------------------------------------------- leakage
def _leakage(n, p, seed, *, n_repeats, n_perm=1000):
    """Honest (LASSO inside every fold) and leaky (LASSO on all rows first) 5-fold CV on noise.

    Returns the honest and leaky results and the permutation null of the honest CV estimate.
    """
    X, y = _noise(n, p, seed)
    lasso = dict(alpha=0.1, n_alphas=40, max_features=10)  # walk a fine path until at most 10 features are in
    honest = Pipeline([("lasso", LassoCoxSelector(**lasso)), ("cox", CoxPHSurvivalAnalysis(alpha=0.01))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MultisurvWarning)
        res_honest = validate(honest, X, y, method="repeated_cv", n_splits=5, n_repeats=n_repeats, random_state=0)
        chosen = LassoCoxSelector(**lasso).fit(X, y).selected_features_  # leak: selection saw every outcome
        res_leaky = validate(CoxPHSurvivalAnalysis(alpha=0.01), X[chosen], y, method="repeated_cv", n_splits=5,
                             n_repeats=n_repeats, random_state=0)
    # Null of the first repeat's mean fold C: with the outcome independent of X and each fold's model fitted
    # without that fold, a fold's risks are exchangeable with respect to its outcomes; permuting them
    # within the fold gives the estimate's exact conditional null.
    first = res_honest.resamples[res_honest.resamples["repeat"] == 0]
    splits = list(validate.__globals__["_stratified_splits"](y, 5, 1, 0))
    pipe_risks = []
    for train, test in splits:
        model = Pipeline([("lasso", LassoCoxSelector(**lasso)), ("cox", CoxPHSurvivalAnalysis(alpha=0.01))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X.iloc[train], y[train])
        pipe_risks.append((test, model.predict(X.iloc[test])))
    np.testing.assert_allclose([harrell_c(y[t], r) for t, r in pipe_risks], first["c_test"], atol=1e-12)
    rng = np.random.default_rng(seed)
    null = np.array([np.mean([harrell_c(y[t], rng.permutation(r)) for t, r in pipe_risks]) for _ in range(n_perm)])
    return res_honest, res_leaky, null, len(chosen)


def test_leakage_selection_inside_folds_stays_at_chance_the_leaky_variant_does_not():
    """2,000 noise features, random outcome (n = 120, 5-fold CV, 2 repeats; about 10 s).

    Band: the 0.1 % and 99.9 % quantiles of the permutation null of the honest CV estimate, computed in the
    test from the fold models' own risks (measured [0.39, 0.61], null sd 0.037, for seeds 11-13). The
    spread of the estimate over repeats is smaller (sd 0.00-0.02) because the repeats share the data, so
    it would give a band too narrow for a dataset-level claim. Measured for seeds 11, 12, 13: honest
    0.558, 0.543, 0.481; leaky 0.765, 0.745, 0.767; apparent (in-sample) 0.76-0.80 for both.
    """
    honest, leaky, null, k = _leakage(120, 2000, seed=11, n_repeats=2)
    assert 8 <= k <= 10
    low, high = np.quantile(null, [0.001, 0.999])
    first_repeat = honest.resamples.query("repeat == 0")["c_test"].mean()
    assert low < first_repeat < high
    assert low < honest.corrected < high
    assert leaky.corrected > high
    assert leaky.corrected - honest.corrected > 0.15
    # both pipelines look excellent in-sample: only the honest CV tells them apart
    assert honest.apparent > 0.7 and leaky.apparent > 0.7


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21, 22, 23])
def test_leakage_bigger_with_cv_chosen_penalty(seed):
    """n = 300, 2,000 noise features, the penalty chosen by inner 5-fold CV, 5 x 5-fold repeated CV."""
    X, y = _noise(300, 2000, seed)
    # the realistic pipeline: LASSO with a CV-chosen penalty, score = LASSO linear predictor (constant when
    # the penalty keeps no feature, which is what CV usually picks on noise)
    honest = ModalityScore(prefix="ct__", selector=LassoCoxSelector(n_alphas=20), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = validate(honest, X, y, method="repeated_cv", n_splits=5, n_repeats=5, random_state=seed)
    # 2,000 noise features: a single fold C has sd about 0.05 (n_test = 60); the mean over 25 folds is
    # well within 0.5 +- 0.06 under the null.
    assert abs(res.corrected - 0.5) < 0.06
    _, leaky, _, _ = _leakage(300, 2000, seed, n_repeats=2, n_perm=10)
    assert leaky.corrected > 0.6
