"""ClinicalPreprocessor: sklearn contract, leakage, unknown levels, spec, errors."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from multisurv.exceptions import MultisurvWarning
from multisurv.features.clinical import ClinicalPreprocessor

SPEC = {
    "age": {"type": "numeric"},
    "n_nodes": {"type": "integer"},
    "sex": {"type": "categorical", "categories": ["female", "male"]},
    "stage": {"type": "categorical", "categories": ["I", "II", "III", "IV"]},
}


@pytest.fixture
def train():
    return pd.DataFrame(
        {"age": [50.0, 60.0, np.nan, 70.0, 65.0], "n_nodes": [0, 2, 1, np.nan, 3],
         "sex": ["male", "female", "male", None, "male"], "stage": ["II", "I", "III", "II", np.nan],
         "note": ["x", "y", "z", "w", "v"]},
        index=pd.Index(["a", "b", "c", "d", "e"], name="patient_id"),
    )


@parametrize_with_checks([ClinicalPreprocessor(), ClinicalPreprocessor(impute="mean")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_output_names_values_and_index(train):
    pre = ClinicalPreprocessor.from_spec(SPEC).fit(train)
    out = pre.transform(train)
    assert list(out.columns) == ["clin__age", "clin__n_nodes", "clin__sex_male", "clin__stage_II", "clin__stage_III",
                                 "clin__stage_IV"]
    assert out.index.equals(train.index)
    assert (out.dtypes == float).all()
    assert out.loc["c", "clin__age"] == 62.5  # median of 50, 60, 70, 65
    assert out.loc["d", "clin__n_nodes"] == 1.5  # median of 0, 2, 1, 3
    assert out.loc["d", "clin__sex_male"] == 1.0  # most frequent level
    assert out.loc["e", ["clin__stage_II", "clin__stage_III", "clin__stage_IV"]].tolist() == [1.0, 0.0, 0.0]
    assert out.loc["b", ["clin__stage_II", "clin__stage_III", "clin__stage_IV"]].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_array_equal(pre.get_feature_names_out(), out.columns.to_numpy(dtype=object))


def test_fit_learns_from_training_rows_only(train):
    """Poisoned held-out rows (extreme values, NaN, new levels) change nothing learned in fit."""
    pre = ClinicalPreprocessor.from_spec(SPEC).fit(train)
    learned = dict(pre.impute_values_)
    train_out = pre.transform(train)
    poisoned = pd.DataFrame(
        {"age": [1e9, np.nan, -1e9], "n_nodes": [np.nan, 1e6, np.nan], "sex": [np.nan, "female", "female"],
         "stage": ["IV", "IV", np.nan], "note": ["p", "q", "r"]},
        index=pd.Index(["x", "y", "z"], name="patient_id"),
    )
    test_out = pre.transform(poisoned)
    assert pre.impute_values_ == learned == {"age": 62.5, "n_nodes": 1.5, "sex": "male", "stage": "II"}
    assert test_out.loc["y", "clin__age"] == 62.5  # the training median, not the held-out rows'
    assert test_out.loc["x", "clin__sex_male"] == 1.0  # the training mode, although 'female' dominates here
    pd.testing.assert_frame_equal(pre.transform(train), train_out)


def test_unknown_level_warns_and_is_encoded_as_reference(train):
    pre = ClinicalPreprocessor.from_spec(SPEC).fit(train)
    new = train.iloc[:2].copy()
    new["stage"] = ["V", "II"]
    with pytest.warns(MultisurvWarning, match=r"Column 'stage' of the transformed data has 1 value\(s\) outside its "
                                              r"levels \['I', 'II', 'III', 'IV'\]: 'V'\. They are encoded as the "
                                              r"reference level 'I'") as record:
        out = pre.transform(new)
    assert record[0].filename == __file__  # stacklevel points at the caller
    assert out.loc["a", ["clin__stage_II", "clin__stage_III", "clin__stage_IV"]].tolist() == [0.0, 0.0, 0.0]
    assert out.loc["b", "clin__stage_II"] == 1.0


def test_level_outside_spec_in_training_warns_too(train):
    train.loc["a", "sex"] = "unknown"
    with pytest.warns(MultisurvWarning, match="Column 'sex' of the training data has 1 value"):
        ClinicalPreprocessor.from_spec(SPEC).fit(train)


def test_categories_spec_sets_reference_and_levels_compare_as_text():
    X = pd.DataFrame({"grade": [1.0, 2.0, np.nan, 3.0], "ecog": ["1", "0", "0", "2"]})
    pre = ClinicalPreprocessor(categorical=["grade", "ecog"], categories={"grade": [3, 2, 1]}).fit(X)
    assert pre.categories_ == {"grade": ["3", "2", "1"], "ecog": ["0", "1", "2"]}
    assert list(pre.get_feature_names_out()) == ["clin__grade_2", "clin__grade_1", "clin__ecog_1", "clin__ecog_2"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = pre.transform(pd.DataFrame({"grade": [2, 3], "ecog": [1, 0]}))  # ints match the text levels
    assert out.to_numpy().tolist() == [[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def test_clone_and_pickle_round_trip(train):
    pre = ClinicalPreprocessor.from_spec(SPEC, impute="mean")
    twin = clone(pre)
    assert twin.get_params() == pre.get_params()
    with pytest.raises(NotFittedError):
        twin.transform(train)
    fitted = pre.fit(train)
    expected = fitted.transform(train)
    pd.testing.assert_frame_equal(clone(pre).fit(train).transform(train), expected)
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(fitted)).transform(train), expected)
    assert fitted.impute_values_["age"] == 61.25


def test_array_in_array_out():
    X = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 6.0]])
    pre = ClinicalPreprocessor().fit(X)
    out = pre.transform(X)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [[1.0, 5.0], [3.0, 4.0], [5.0, 6.0]])
    assert list(pre.get_feature_names_out()) == ["clin__x0", "clin__x1"]


def test_set_output_pandas_works(train):
    pre = ClinicalPreprocessor(numeric=["age"]).set_output(transform="pandas").fit(train)
    assert list(pre.transform(train).columns) == ["clin__age"]


class TestErrors:
    def test_missing_column(self, train):
        with pytest.raises(ValueError, match=r"column\(s\) \['weight'\] are not in the data\. Available columns"):
            ClinicalPreprocessor(numeric=["weight"]).fit(train)

    def test_overlap(self, train):
        with pytest.raises(ValueError, match=r"\['age'\] are listed as both 'numeric' and 'categorical'"):
            ClinicalPreprocessor(numeric=["age"], categorical=["age"]).fit(train)

    def test_categories_for_unlisted_column(self, train):
        with pytest.raises(ValueError, match=r"'categories' parameter .* names column\(s\) \['sex'\] that are not "
                                             r"in 'categorical'"):
            ClinicalPreprocessor(numeric=["age"], categories={"sex": ["female", "male"]}).fit(train)

    def test_all_missing_training_column(self, train):
        train["age"] = np.nan
        with pytest.raises(ValueError, match=r"\['age'\] have no observed value in the training data"):
            ClinicalPreprocessor(numeric=["age"]).fit(train)

    def test_text_in_numeric_column(self, train):
        with pytest.raises(ValueError, match="Column 'note' is listed as numeric but holds non-numeric value 'x'"):
            ClinicalPreprocessor(numeric=["note"]).fit(train)

    def test_impute_option(self, train):
        with pytest.raises(ValueError, match="The 'impute' parameter of ClinicalPreprocessor must be one of "
                                             "'median', 'mean'. Got 'mode' instead."):
            ClinicalPreprocessor(numeric=["age"], impute="mode").fit(train)

    def test_column_list_given_as_string(self, train):
        with pytest.raises(ValueError, match="The 'numeric' parameter of ClinicalPreprocessor must be a list of "
                                             "column names"):
            ClinicalPreprocessor(numeric="age").fit(train)

    def test_spec_type(self):
        with pytest.raises(ValueError, match="Clinical variable 'smoker' has type 'bool'; the spec type must be one "
                                             "of: 'numeric', 'integer', 'categorical'."):
            ClinicalPreprocessor.from_spec({"smoker": {"type": "bool"}})

    def test_columns_changed_after_fit(self, train):
        pre = ClinicalPreprocessor(numeric=["age"]).fit(train)
        with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
            pre.transform(train.drop(columns="note"))
