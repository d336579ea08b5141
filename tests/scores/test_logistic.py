"""Tests for multisurv.scores.logistic.LogisticModel (R: glm and rms::lrm in tests/reference/make_logistic_reference.R,
gbsg2 with the endpoint "recurrence by 730 days", n = 623, 9 covariates)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from multisurv.exceptions import ConvergenceWarning
from multisurv.scores.logistic import LogisticModel

REF = json.loads((Path(__file__).parents[1] / "reference" / "logistic_reference.json").read_text())
X = pd.DataFrame(np.asarray(REF["x"]).T, columns=REF["columns"])
Y = np.asarray(REF["y"])
# Newton-Raphson on both sides to convergence (glm: 1e-8 relative deviance; here 1e-10): coefficients agree to
# about 1e-8 relative; 1e-6 leaves room for the JSON's 15 digits and R's own stopping point.
TOL = 1e-6


def test_coefficients_se_and_wald_intervals_match_glm():
    """R: ``summary(glm(y ~ age + tsize + pnodes + progrec + estrec + horTh + menostat + grade2 + grade3,
    family = binomial))$coefficients`` and ``confint.default``; ``coef(lrm(...))`` and ``sqrt(diag(vcov(lrm)))``."""
    model = LogisticModel().fit(X, Y)
    table = model.odds_ratios()
    ref = REF["glm"]
    np.testing.assert_allclose(table["coef"], ref["coef"], rtol=TOL, atol=1e-9)
    np.testing.assert_allclose(table["coef"], ref["lrm_coef"], rtol=TOL, atol=1e-9)
    # Standard errors: rms::lrm evaluates the information at the final estimate, as here (measured 2e-8 relative).
    # summary.glm reuses the weights of its last IRLS iteration, one step before convergence, so its standard
    # errors (and Wald intervals, p-values) differ by up to 1e-4 relative (measured 9.6e-5): 2e-4 against glm.
    np.testing.assert_allclose(table["se"], ref["lrm_se"], rtol=TOL)
    np.testing.assert_allclose(table["se"], ref["se"], rtol=2e-4)
    np.testing.assert_allclose(table["p_value"], ref["p"], rtol=2e-3, atol=1e-12)
    np.testing.assert_allclose(table["lower"], np.exp(ref["lower"]), rtol=2e-4)
    np.testing.assert_allclose(table["upper"], np.exp(ref["upper"]), rtol=2e-4)
    assert model.log_likelihood_ == pytest.approx(ref["loglik"], abs=1e-8)
    assert model.aic_ == pytest.approx(ref["aic"], abs=1e-7)
    assert list(table.index) == ["(Intercept)", *REF["columns"]]


def test_predictions_and_estimator_contract():
    model = LogisticModel().fit(X, Y)
    prob = model.predict_proba(X)
    assert prob.shape == (623, 2) and np.allclose(prob.sum(axis=1), 1)
    np.testing.assert_allclose(np.log(prob[:, 1] / prob[:, 0]), model.decision_function(X))
    assert set(np.unique(model.predict(X))) <= {0, 1}
    assert prob[:, 1].mean() == pytest.approx(Y.mean(), abs=1e-9)  # the score equations of the intercept
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), prob)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        LogisticModel().predict_proba(X)
    np.testing.assert_allclose(LogisticModel().fit(X.to_numpy(), Y).coef_, model.coef_)


def test_separation_warns():
    x = pd.DataFrame({"clin__x": np.arange(10.0)})
    with pytest.warns(ConvergenceWarning, match="did not converge .* separated by the predictors"):
        LogisticModel().fit(x, (np.arange(10) >= 5).astype(int))


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda: LogisticModel().fit(X.assign(age=np.nan), Y), r"^LogisticModel\.fit: 'X' has missing or infinite "
         r"values in 1 column\(s\): 'age'\. Impute them first"),
        (lambda: LogisticModel().fit(X, Y[:-1]), r"^'y' has 622 samples but 'X' has 623\.$"),
        (lambda: LogisticModel(confidence=95).fit(X, Y), r"^The 'confidence' parameter of LogisticModel must be a "
         r"float in the range \(0, 1\)\. Got 95 instead\.$"),
        (lambda: LogisticModel().fit(X, Y).predict_proba(X.drop(columns="age")),
         r"^'X' lacks 1 column\(s\) LogisticModel was fitted on: 'age'\.$"),
    ],
    ids=["nan", "length", "confidence", "missing_column"],
)
def test_errors(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
