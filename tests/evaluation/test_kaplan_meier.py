"""Tests for multisurv.evaluation.kaplan_meier against R's survfit (tests/reference/make_km_cox_reference.R).

The reference covers four real datasets shipped by scikit-survival (veteran, gbsg2, whas500, aids), overall and
per group, with conf.type "log", "log-log" and "plain".
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from multisurv._validation import make_y
from multisurv.evaluation.kaplan_meier import CONF_TYPES, KaplanMeierResult, kaplan_meier

REF_DIR = Path(__file__).parents[1] / "reference"
REF = json.loads((REF_DIR / "km_cox_reference.json").read_text())
# Kaplan-Meier, Greenwood and the bands are closed forms computed in the same order of operations as R; only
# rounding separates them (measured max 4e-15), and the JSON keeps 15 significant digits: 1e-6 is generous.
TOL_KM = 1e-6


def _num(values) -> np.ndarray:
    """JSON list -> float array; R's NA/NaN/Inf were written as null -> NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / f"km_{name}.csv")


def _y(frame: pd.DataFrame) -> np.ndarray:
    return make_y(frame["time"], frame["status"])


def _subset(name: str, entry: dict) -> np.ndarray:
    frame = _data(name)
    if entry["by"] is not None:
        frame = frame[frame[entry["by"]].astype(str) == entry["group"]]
    return _y(frame)


KM_CASES = [(name, i, ct) for name, d in REF["datasets"].items() for i in range(len(d["km"])) for ct in CONF_TYPES]


def _case_id(case) -> str:
    name, i, ct = case
    entry = REF["datasets"][name]["km"][i]
    group = "all" if entry["by"] is None else f"{entry['by']}={entry['group']}"
    return f"{name}-{group}-{ct}"


def test_csv_is_the_sksurv_dataset():
    """The CSVs R read are exactly what scikit-survival's loaders give (provenance of the reference)."""
    spec = importlib.util.spec_from_file_location("export_km_datasets", REF_DIR / "data" / "export_km_datasets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for stem in module.DATASETS:
        expected = module.load(stem)
        written = pd.read_csv(REF_DIR / "data" / f"{stem}.csv")
        assert list(written.columns) == list(expected.columns)
        for col in expected.columns:
            if pd.api.types.is_numeric_dtype(expected[col]):
                np.testing.assert_array_equal(written[col].to_numpy(float), expected[col].to_numpy(float))
            else:
                assert written[col].astype(str).tolist() == expected[col].astype(str).tolist()


@pytest.mark.parametrize("case", KM_CASES, ids=_case_id)
def test_curve_and_band_match_survfit(case):
    """R: survfit(Surv(time, status) ~ 1, data = <subset>, conf.type = <ct>): every row of the object."""
    name, i, ct = case
    ref = REF["datasets"][name]["km"][i]
    km = kaplan_meier(_subset(name, ref), conf_type=ct)
    assert km.n == ref["n"] and km.n_events == ref["n_events"]
    np.testing.assert_array_equal(km.time, ref["time"])
    for field in ("n_risk", "n_event", "n_censor"):
        np.testing.assert_array_equal(getattr(km, field), ref[field], err_msg=field)
    np.testing.assert_allclose(km.surv, ref["surv"], atol=TOL_KM, rtol=0)
    # R's std.err is Inf once S = 0 (written as null).
    np.testing.assert_allclose(np.where(np.isinf(km.std_err), np.nan, km.std_err), _num(ref["std_err"]),
                               atol=TOL_KM, rtol=0)
    for field in ("lower", "upper"):
        got, want = getattr(km, field), _num(ref["conf"][ct][field])
        defined = ~np.isnan(want)
        np.testing.assert_allclose(got[defined], want[defined], atol=TOL_KM, rtol=0, err_msg=field)
        # Where R has NA: S = 0 (we give NaN too), or S = 1 in the log-log band (we give [1, 1], see README).
        assert np.all(np.isnan(got[~defined]) == (km.surv[~defined] == 0.0))
        assert np.all(got[~defined & (km.surv == 1.0)] == 1.0)
        if ct != "log-log":
            assert np.array_equal(np.isnan(got), ~defined)


@pytest.mark.parametrize("case", KM_CASES, ids=_case_id)
def test_median_matches_print_survfit(case):
    """R: summary(survfit(..., conf.type = <ct>))$table[c("median", "0.95LCL", "0.95UCL")], as print() shows."""
    name, i, ct = case
    ref = REF["datasets"][name]["km"][i]
    km = kaplan_meier(_subset(name, ref), conf_type=ct)
    want = _num([ref["median_print"][ct][k] for k in ("median", "lower", "upper")])
    np.testing.assert_allclose([km.median, km.median_lower, km.median_upper], want, atol=TOL_KM, rtol=0)


@pytest.mark.parametrize("extend", [False, True], ids=["extend_false", "extend_true"])
@pytest.mark.parametrize("case", KM_CASES, ids=_case_id)
def test_at_times_matches_summary_survfit(case, extend):
    """R: summary(survfit(..., conf.type = <ct>), times = <times>, extend = <extend>)."""
    name, i, ct = case
    ref = REF["datasets"][name]["km"][i]
    want = ref["summary"][ct + ("_extend" if extend else "")]
    got = kaplan_meier(_subset(name, ref), conf_type=ct).at_times(ref["summary"]["times"], extend=extend)
    np.testing.assert_array_equal(got["time"], want["time"])
    for field in ("n_risk", "n_event", "n_censor"):
        np.testing.assert_array_equal(got[field], want[field], err_msg=field)
    for field in ("surv", "std_err", "lower", "upper"):
        values, ref_values = got[field].to_numpy(float), _num(want[field])
        defined = ~np.isnan(ref_values)
        np.testing.assert_allclose(values[defined], ref_values[defined], atol=TOL_KM, rtol=0, err_msg=field)
        if field in ("lower", "upper"):  # the same two NA conventions as the full curve
            surv = got["surv"].to_numpy()
            assert np.all(np.isnan(values[~defined]) == (surv[~defined] == 0.0))
            assert np.all(values[~defined & (surv == 1.0)] == 1.0)


@pytest.mark.parametrize("case", sorted(REF["median_cases"]))
@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_median_flat_stretch_rules(case, conf_type):
    """Hand-made curves that sit exactly at 0.5: R's print(survfit(...)) and quantile(fit, 0.5).

    They differ only when the curve ENDS at 0.5 (ends_at_half): print gives the time it reached 0.5 (2),
    quantile the midpoint with the last follow-up time (3). multisurv follows print.
    """
    ref = REF["median_cases"][case]
    km = kaplan_meier(make_y(ref["time"], ref["status"]), conf_type=conf_type)
    got = [km.median, km.median_lower, km.median_upper]
    printed = _num([ref["median_print"][conf_type][k] for k in ("median", "lower", "upper")])
    quantile = _num([ref["median_quantile"][conf_type][k] for k in ("median", "lower", "upper")])
    np.testing.assert_allclose(got, printed, atol=TOL_KM, rtol=0)
    if case == "ends_at_half":
        assert (km.median, quantile[0]) == (2.0, 3.0)
    else:
        np.testing.assert_allclose(got, quantile, atol=TOL_KM, rtol=0)


@pytest.mark.parametrize("name", sorted(REF["datasets"]))
def test_log_log_band_is_lifelines_exponential_greenwood(name):
    y = _y(_data(name))
    km = kaplan_meier(y, conf_type="log-log")
    kmf = KaplanMeierFitter().fit(y["time"], y["event"])
    band = kmf.confidence_interval_.reindex(km.time).to_numpy()
    positive = km.surv > 0  # lifelines gives [0, 0] once S = 0, R and multisurv NaN
    np.testing.assert_allclose(km.lower[positive], band[positive, 0], atol=1e-12)
    np.testing.assert_allclose(km.upper[positive], band[positive, 1], atol=1e-12)
    np.testing.assert_allclose(km.surv, kmf.survival_function_.reindex(km.time).to_numpy()[:, 0], atol=1e-14)


@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_curve_invariants(conf_type):
    km = kaplan_meier(_y(_data("whas500")), conf_type=conf_type)
    assert np.all(np.diff(km.surv) <= 0) and km.surv[0] <= 1 and km.surv[-1] >= 0
    ok = ~np.isnan(km.lower)
    assert np.all((km.lower[ok] <= km.surv[ok]) & (km.surv[ok] <= km.upper[ok]))
    assert np.all((km.lower[ok] >= 0) & (km.upper[ok] <= 1))
    assert km.n_risk[0] == km.n and km.n_event.sum() == km.n_events


def test_all_censored_curve_stays_at_one():
    km = kaplan_meier(make_y([1.0, 2.0, 3.0], [0, 0, 0]))
    assert km.surv.tolist() == [1.0, 1.0, 1.0] and km.std_err.tolist() == [0.0, 0.0, 0.0]
    assert km.lower.tolist() == [1.0, 1.0, 1.0] and km.upper.tolist() == [1.0, 1.0, 1.0]
    assert np.isnan([km.median, km.median_lower, km.median_upper]).all()


def test_confidence_level_changes_the_band():
    y = _y(_data("veteran"))
    narrow, wide = kaplan_meier(y, confidence=0.8), kaplan_meier(y, confidence=0.99)
    ok = ~np.isnan(narrow.lower) & (narrow.surv < 1)
    assert np.all(wide.lower[ok] < narrow.lower[ok])
    assert wide.confidence == 0.99


def test_result_frames_and_dict():
    km = kaplan_meier(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]))
    assert isinstance(km, KaplanMeierResult)
    frame = km.to_frame()
    assert list(frame.columns) == ["time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"]
    assert len(frame) == 4
    d = km.to_dict()
    assert d["surv"] == [0.75, 0.5, 0.5, 0.0] and d["median"] == 3.0 and d["conf_type"] == "log"
    json.dumps({k: v for k, v in d.items()})  # plain Python types only
    at = km.at_times([4.5, 0.5, 2])  # sorted as R sorts; 4.5 is after the last time: dropped
    assert at["time"].tolist() == [0.5, 2.0]
    assert at["n_event"].tolist() == [0, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conf_type": "log-log-log"},
         r"^The 'conf_type' parameter of kaplan_meier must be one of 'log', 'log-log', 'plain'\. "
         r"Got 'log-log-log' instead\.$"),
        ({"confidence": 1.0},
         r"^The 'confidence' parameter of kaplan_meier must be a float in the range \(0, 1\)\. Got 1\.0 instead\.$"),
    ],
    ids=["conf_type", "confidence"],
)
def test_kaplan_meier_parameter_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kaplan_meier(make_y([1.0, 2.0], [1, 0]), **kwargs)


def test_kaplan_meier_data_errors():
    with pytest.raises(ValueError, match=r"^'y' must be a structured array with fields 'event' and 'time'"):
        kaplan_meier(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"^'y' has times that are not finite numbers > 0\.$"):
        kaplan_meier(make_y([-1.0, 2.0], [0, 0]))
    with pytest.raises(ValueError, match=r"^'y' has times that are not finite numbers > 0\.$"):
        kaplan_meier(make_y([np.nan, 2.0], [1, 0]))
    km = kaplan_meier(make_y([1.0, 2.0], [1, 0]))
    with pytest.raises(ValueError, match=r"^'times' must be finite numbers >= 0; got \[-1\.0\]\.$"):
        km.at_times([-1.0])
