"""Formula export of modality scores, and ModalityScore with a pipeline of selectors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from multisurv._validation import make_y
from multisurv.scores.formula import evaluate_formula_text, format_formula, formula_table, write_formula
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.filters import CorrelationFilter, VarianceFilter
from multisurv.features.harmonisation import ComBatHarmoniser
from multisurv.selection.lasso_cox import LassoCoxSelector
from multisurv.selection.stepwise import StepwiseCoxSelector
from multisurv.selection.univariate_cox import UnivariateCoxSelector


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 200
    X = pd.DataFrame(rng.normal(loc=[10, 0, 5, 0, 0, 0], scale=[3, 1, 2, 1, 1, 1], size=(n, 6)),
                     columns=[f"ct__f{i}" for i in range(6)])
    X.iloc[:10] = np.nan  # 10 patients without CT
    X.iloc[20, 1] = np.nan  # one missing value in a patient who has CT
    lp = 0.3 * X["ct__f0"].fillna(10) - 0.8 * X["ct__f1"].fillna(0) + 0.4 * X["ct__f2"].fillna(5)
    t = rng.exponential(np.exp(-(lp - lp.mean())).to_numpy())
    return X, make_y(t, rng.random(n) < 0.8)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return ModalityScore(name="radscore", prefix="ct__", selector=LassoCoxSelector(cv=3), random_state=0).fit(X, y)


def test_text_formula_reproduces_predict(data, fitted):
    X, _ = data
    has = X.notna().any(axis=1).to_numpy()
    full = X[has].fillna(fitted.impute_values_.to_dict())
    text = fitted.formula_text(digits=17)
    assert text.startswith("radscore = ")
    np.testing.assert_allclose(evaluate_formula_text(text, full), fitted.predict(X)[has], atol=1e-10)
    # the standardised form is the same score
    table = formula_table(fitted).iloc[:-1]
    std = sum(c * (full[f] - m) / s for f, c, m, s in
              zip(table["feature"], table["coef_per_sd"], table["mean"], table["sd"]))
    np.testing.assert_allclose(std.to_numpy(), fitted.predict(X)[has], atol=1e-10)
    assert "((ct__f0 - " in fitted.formula_text(standardised=True)


def test_score_is_centred_on_the_training_patients(data, fitted):
    X, _ = data
    assert np.nanmean(fitted.predict(X)) == pytest.approx(0.0, abs=1e-10)


def test_write_formula_files(tmp_path, fitted):
    paths = write_formula(fitted, tmp_path / "radscore_formula")
    assert sorted(p.suffix for p in paths) == [".csv", ".json", ".txt"]
    table = pd.read_csv(tmp_path / "radscore_formula.csv")
    pd.testing.assert_frame_equal(table, formula_table(fitted), check_exact=False, rtol=1e-15)
    record = json.loads((tmp_path / "radscore_formula.json").read_text())
    assert record["intercept"] == fitted.intercept_ and len(record["terms"]) == len(fitted.selected_features_)
    lines = (tmp_path / "radscore_formula.txt").read_text().splitlines()
    assert lines[0] == fitted.formula_text(digits=6)


@pytest.mark.parametrize("coef,constant,expected", [
    ({"a": 1.0}, 0.0, "s = 1 * a"),
    ({"a": -0.5, "b": 2.0}, 3.0, "s = -0.5 * a + 2 * b + 3"),
    ({}, -1.25, "s = -1.25"),
], ids=["one", "signs", "constant-only"])
def test_format_formula_cases(coef, constant, expected):
    assert format_formula(coef, name="s", constant=constant) == expected


def test_pipeline_of_selectors_inside_a_score(data):
    X, y = data
    selector = Pipeline([("var", VarianceFilter()), ("corr", CorrelationFilter()),
                         ("uni", UnivariateCoxSelector(p_threshold=0.2)), ("step", StepwiseCoxSelector())])
    score = ModalityScore(prefix="ct__", selector=selector).fit(X, y)
    assert {"ct__f0", "ct__f1", "ct__f2"} <= set(score.selected_features_)
    assert set(score.selected_features_) <= set(score.selector_["uni"].selected_features_)
    lasso_last = Pipeline([("uni", UnivariateCoxSelector()), ("lasso", LassoCoxSelector(cv=3))])
    s2 = ModalityScore(prefix="ct__", selector=lasso_last, random_state=0).fit(X, y)
    # coefficients come from the LASSO step (shrunken), features from it too
    lasso = s2.selector_["lasso"]
    assert s2.selected_features_ == lasso.selected_features_
    assert lasso.random_state == 0


def test_value_changing_step_inside_the_selector_is_refused(data):
    X, y = data
    bad = Pipeline([("combat", ComBatHarmoniser()), ("lasso", LassoCoxSelector())])
    with pytest.raises(ValueError, match=r"step\(s\) 'combat' change feature values"):
        ModalityScore(prefix="ct__", selector=bad).fit(X.assign(centre="A"), y)
