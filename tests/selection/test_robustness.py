"""Tests for multisurv.selection.robustness.RobustnessFilter."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from multisurv.features.reproducibility import icc_table
from multisurv.features.robustness import ReproducibilityResult
from multisurv.selection.filters import VarianceFilter
from multisurv.selection.robustness import RobustnessFilter


def _data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["ct__stable", "ct__noisy", "ct__const", "clin__age"],
                     index=pd.Index([f"P{i}" for i in range(n)], name="patient_id"))
    X["ct__const"] = 1.0
    reader2 = X.copy()
    reader2["ct__stable"] += 0.05 * rng.normal(size=n)
    reader2["ct__noisy"] = rng.normal(size=n)
    return X, {"ct_mask": X, "ct_mask_reader2": reader2}


def _result(features):
    return ReproducibilityResult(icc=icc_table(features), features=features, cost=pd.DataFrame(),
                                 failures=pd.DataFrame(), overlap=pd.DataFrame(), n_cached=0, store_dir=Path("."))


def test_contract_clone_fit_pickle_and_arrays():
    X, features = _data()
    f = RobustnessFilter(icc=icc_table(features))
    cloned = clone(f).get_params()
    assert cloned.keys() == f.get_params().keys() and cloned["icc"].equals(f.icc)
    with pytest.raises(NotFittedError):
        clone(f).transform(X)
    fitted = clone(f)
    assert fitted.fit(X) is fitted
    out = fitted.transform(X)
    assert list(out.columns) == fitted.selected_features_ == list(fitted.get_feature_names_out())
    assert fitted.selected_features_ == ["ct__stable", "clin__age"]
    assert fitted.get_support().tolist() == [True, False, False, True]
    assert (fitted.n_candidates_, fitted.n_kept_, fitted.missing_features_) == (3, 1, ["ct__const"])
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(fitted)).transform(X), out)
    named = icc_table(features).rename(index=lambda c: f"x{list(X.columns).index(c)}")
    arr = RobustnessFilter(icc=named, prefix=None).fit(X.to_numpy()).transform(X.to_numpy())
    np.testing.assert_array_equal(arr, X[["ct__stable", "clin__age"]].to_numpy())  # clin__age: ICC 1 here


def test_icc_is_computed_on_training_patients_only():
    """Poisoning a held-out patient's reproducibility features changes nothing fitted on the others."""
    X, features = _data(n=16)
    dev = X.iloc[:12]
    poisoned = {k: v.copy() for k, v in features.items()}
    poisoned["ct_mask_reader2"].loc["P15", ["ct__stable", "ct__noisy"]] = [1e6, -1e6]
    a = RobustnessFilter(icc=_result(features)).fit(dev)
    b = RobustnessFilter(icc=_result(poisoned)).fit(dev)
    pd.testing.assert_series_equal(a.icc_, b.icc_)
    expected = icc_table({k: v.loc[dev.index] for k, v in features.items()})["icc2_1"]
    np.testing.assert_allclose(a.icc_[["ct__stable", "ct__noisy"]], expected[["ct__stable", "ct__noisy"]])
    # the poisoned value does reach a filter fitted on all patients: the check above is not vacuous
    c = RobustnessFilter(icc=_result(poisoned)).fit(X)
    assert not np.isclose(c.icc_["ct__stable"], a.icc_["ct__stable"])


def test_options_method_criterion_missing_and_callable():
    X, features = _data()
    table = icc_table(features)
    lower = RobustnessFilter(icc=table, criterion="lower", icc_min=0.9).fit(X)
    assert lower.icc_.name == "icc2_1_low" and lower.icc_["ct__stable"] == table.loc["ct__stable", "icc2_1_low"]
    keep = RobustnessFilter(icc=table, missing="keep").fit(X)
    assert keep.selected_features_ == ["ct__stable", "ct__const", "clin__age"]
    consistency = RobustnessFilter(icc=lambda rows: icc_table(features), method="icc3_1").fit(X)
    assert consistency.icc_.name == "icc3_1" and consistency.n_kept_ == 1
    everything = RobustnessFilter(icc={"ct__stable": 0.8}, prefix=None, icc_min=0.75).fit(X)
    assert everything.selected_features_ == ["ct__stable"]


def test_composes_in_a_pipeline_before_other_steps():
    X, features = _data()
    pipe = Pipeline([("robust", RobustnessFilter(icc=icc_table(features))), ("variance", VarianceFilter())])
    assert list(pipe.fit(X).transform(X).columns) == ["ct__stable", "clin__age"]


@pytest.mark.parametrize("params, match", [
    ({"icc": None}, "needs 'icc'"),
    ({"icc": pd.DataFrame({"icc": [1.0]}, index=["ct__stable"])}, "has no column 'icc2_1'"),
    ({"icc": {}, "icc_min": 1.5}, "The 'icc_min' parameter of RobustnessFilter must be a float in the range"),
    ({"icc": {}, "method": "icc1"}, "The 'method' parameter of RobustnessFilter must be one of 'icc2_1', 'icc3_1'"),
    ({"icc": {}, "criterion": "upper"}, "The 'criterion' parameter"),
    ({"icc": {}, "prefix": 3}, "The 'prefix' parameter"),
])
def test_errors(params, match):
    X, _ = _data()
    with pytest.raises(ValueError, match=match):
        RobustnessFilter(**params).fit(X)


def test_too_few_training_patients_with_reproducibility_features():
    X, features = _data()
    other = {k: v.rename(index=lambda i: "Q" + i) for k, v in features.items()}
    with pytest.raises(ValueError, match="only 0 of the 12 training patients have reproducibility features"):
        RobustnessFilter(icc=_result(other)).fit(X)
