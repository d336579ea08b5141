"""`multisurv km`: the figure, the JSON/CSV numbers (checked against R end to end) and the error messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv.cli import main

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "km_cox_reference.json").read_text())
VETERAN = REF_DIR / "data" / "km_veteran.csv"
TOL = 1e-6  # closed forms (KM, log-rank, medians) against R; the HR is a Cox fit, see test_cox.py (1e-6 rel)


def _num(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _km_ref(by: str | None, group: str | None) -> dict:
    return next(e for e in REF["datasets"]["veteran"]["km"] if e["by"] == by and e["group"] == group)


def _run(args, capsys) -> tuple[int, str, str]:
    code = main(["km", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def trt_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("km") / "trt"
    assert main(["km", str(VETERAN), "--time-col", "time", "--event-col", "status", "--group-col", "trt",
                 "--out", str(out), "--times", "30,90", "180", "365", "1000", "--time-unit", "days",
                 "--title", "Veteran"]) == 0
    return out


def test_km_writes_figure_json_and_tables(trt_run):
    from PIL import Image

    assert sorted(p.name for p in trt_run.iterdir()) == ["km.json", "km.pdf", "km.png", "km_table.csv",
                                                        "km_times.csv"]
    with Image.open(trt_run / "km.png") as image:
        assert round(image.info["dpi"][0]) == 300
    assert (trt_run / "km.pdf").read_bytes()[:5] == b"%PDF-"
    summary = json.loads((trt_run / "km.json").read_text())
    assert summary["input"]["n"] == 137 and summary["input"]["n_events"] == 128
    assert summary["settings"]["conf_type"] == "log" and summary["settings"]["time_unit"] == "days"
    assert [g["group"] for g in summary["groups"]] == ["1", "2"]


def test_km_json_matches_r(trt_run):
    """R: survfit(Surv(time, status) ~ 1, subset(veteran, trt == k)) (conf.type "log"), its print() median,
    survdiff(Surv(time, status) ~ trt) and coxph(Surv(time, status) ~ factor(trt), ties = "efron")."""
    summary = json.loads((trt_run / "km.json").read_text())
    for entry in summary["groups"]:
        ref = _km_ref("trt", entry["group"])
        km = entry["km"]
        np.testing.assert_array_equal(km["time"], ref["time"])
        np.testing.assert_array_equal(km["n_risk"], ref["n_risk"])
        np.testing.assert_array_equal(km["n_event"], ref["n_event"])
        np.testing.assert_array_equal(km["n_censor"], ref["n_censor"])
        np.testing.assert_allclose(km["surv"], ref["surv"], atol=TOL)
        for field in ("lower", "upper"):
            np.testing.assert_allclose(_num(km[field]), _num(ref["conf"]["log"][field]), atol=TOL)
        median = entry["median"]
        want = ref["median_print"]["log"]
        np.testing.assert_allclose(_num([median["median"], median["lower"], median["upper"]]),
                                   _num([want["median"], want["lower"], want["upper"]]), atol=TOL)
        at = entry["survival_at"]
        want = ref["summary"]["log"]
        times = [t for t in [30, 90, 180, 365, 1000] if t <= ref["time"][-1]]
        rows = [want["time"].index(t) for t in times]
        assert at["time"] == times
        np.testing.assert_allclose(at["surv"], np.asarray(want["surv"])[rows], atol=TOL)
        np.testing.assert_array_equal(at["n_risk"], np.asarray(want["n_risk"])[rows])
    lr = next(e for e in REF["datasets"]["veteran"]["logrank"] if e["group"] == "trt" and e["strata"] is None
              and e["rho"] == 0)
    assert summary["logrank"]["statistic"] == pytest.approx(lr["chisq"], abs=TOL)
    assert summary["logrank"]["p_value"] == pytest.approx(lr["p_value"], abs=TOL)
    assert summary["logrank"]["observed"] == pytest.approx(lr["observed"], abs=TOL)
    hr = next(e for e in REF["datasets"]["veteran"]["group_hr"] if e["by"] == "trt")
    assert summary["hazard_ratios"]["reference"] == "1"
    row = summary["hazard_ratios"]["rows"][0]
    assert row["group"] == "2"
    np.testing.assert_allclose([row["hr"], row["lower"], row["upper"], row["p_value"]],
                               [hr["hr"][0], hr["lower"][0], hr["upper"][0], hr["p_value"][0]], rtol=1e-6)


def test_km_csv_tables(trt_run):
    table = pd.read_csv(trt_run / "km_table.csv")
    assert list(table.columns) == ["group", "time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower",
                                   "upper"]
    assert table.groupby("group")["n_event"].sum().to_dict() == {1: 64, 2: 64}
    times = pd.read_csv(trt_run / "km_times.csv")
    assert times[times["group"] == 1]["time"].tolist() == [30.0, 90.0, 180.0, 365.0]  # 1000 > 553, the last time
    assert times[times["group"] == 2]["time"].tolist() == [30.0, 90.0, 180.0, 365.0]  # 1000 > 999


def test_km_prints_a_summary(tmp_path, capsys):
    code, out, _ = _run([VETERAN, "--time-col", "time", "--event-col", "status", "--group-col", "celltype",
                         "--out", tmp_path, "--times", "1000"], capsys)
    assert code == 0
    assert "Log-rank: chi2 = 25.404, df = 3, p < 0.001" in out
    assert "HR large vs adeno: 0.40 (0.23-0.70)" in out
    assert "adeno                27      26  51 (35-92)" in out  # R: print(survfit(...)) median 51, CI 35-92
    assert "Note: group 'adeno' has no follow-up after 186; times 1000 are left out" in out


@pytest.mark.parametrize("conf_type", ["log-log", "plain"])
def test_km_conf_type(tmp_path, capsys, conf_type):
    code, _, _ = _run([VETERAN, "--time-col", "time", "--event-col", "status", "--out", tmp_path,
                       "--conf-type", conf_type], capsys)
    assert code == 0
    summary = json.loads((tmp_path / "km.json").read_text())
    assert summary["logrank"] is None and summary["hazard_ratios"] is None  # one overall curve
    ref = _km_ref(None, None)
    (entry,) = summary["groups"]
    want = _num(ref["conf"][conf_type]["lower"])
    ok = ~np.isnan(want)
    np.testing.assert_allclose(_num(entry["km"]["lower"])[ok], want[ok], atol=TOL)
    want = ref["median_print"][conf_type]
    assert [entry["median"][k] for k in ("median", "lower", "upper")] == pytest.approx(
        [want["median"], want["lower"], want["upper"]])


def test_km_score_split_at_the_median(tmp_path, capsys):
    code, out, _ = _run([VETERAN, "--time-col", "time", "--event-col", "status", "--score-col", "karno",
                         "--out", tmp_path], capsys)
    assert code == 0
    summary = json.loads((tmp_path / "km.json").read_text())
    karno = pd.read_csv(VETERAN)["karno"]
    split = summary["input"]["split"]
    assert split["cutoff"] == float(np.median(karno)) and split["cutoff_rule"] == "median"
    assert [g["group"] for g in summary["groups"]] == ["low", "high"]
    assert [g["label"] for g in summary["groups"]] == ["Low risk", "High risk"]
    assert [g["n"] for g in summary["groups"]] == [int((karno <= 60).sum()), int((karno > 60).sum())]
    assert summary["hazard_ratios"]["reference"] == "low"
    assert summary["hazard_ratios"]["rows"][0]["hr"] < 1  # a high Karnofsky score is a GOOD prognosis
    assert "Groups: 'karno' > 60 is 'high', otherwise 'low' (cut-off: median)." in out


def test_km_score_with_a_value_cutoff_and_event_words(tmp_path, capsys):
    data = tmp_path / "words.csv"
    frame = pd.read_csv(VETERAN)
    frame.assign(status=np.where(frame["status"] == 1, "Yes", "no")).to_csv(data, index=False)
    code, _, _ = _run([data, "--time-col", "time", "--event-col", "status", "--score-col", "age",
                       "--cutoff", "60", "--out", tmp_path / "out"], capsys)
    assert code == 0
    summary = json.loads((tmp_path / "out" / "km.json").read_text())
    assert summary["input"]["n_events"] == 128 and summary["input"]["split"]["cutoff"] == 60.0


def test_km_group_without_events_reports_no_hr(tmp_path, capsys):
    data = tmp_path / "d.csv"
    pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 1, 1, 1, 0, 0, 0, 0],
                  "g": ["a", "a", "a", "a", "b", "b", "b", "b"]}).to_csv(data, index=False)
    code, out, _ = _run([data, "--time-col", "t", "--event-col", "e", "--group-col", "g", "--out", tmp_path / "o"],
                        capsys)
    assert code == 0
    summary = json.loads((tmp_path / "o" / "km.json").read_text())
    assert summary["hazard_ratios"]["estimable"] is False
    assert "group(s) 'b' have no events" in summary["notes"][0]
    assert "Note: The hazard ratios between groups are not estimable" in out


def test_km_numeric_groups_sort_as_numbers(tmp_path, capsys):
    data = tmp_path / "d.csv"
    frame = pd.read_csv(VETERAN)
    frame.assign(trt=frame["trt"] * 5).to_csv(data, index=False)  # 5 and 10: text order would put 10 first
    assert _run([data, "--time-col", "time", "--event-col", "status", "--group-col", "trt", "--out", tmp_path / "o"],
                capsys)[0] == 0
    summary = json.loads((tmp_path / "o" / "km.json").read_text())
    assert [g["group"] for g in summary["groups"]] == ["5", "10"]


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("csv", "args", "messages"),
    [
        ("t,e,g\n1,1,a\n2,0,b\n", ["--time-col", "time", "--event-col", "e"],
         ["bad.csv has no column 'time' (--time-col). Available columns: 't', 'e', 'g'. Pass one of them to "
          "--time-col."]),
        ("t,e,g\n1,1,a\n2,0,b\n", ["--time-col", "t", "--event-col", "e", "--group-col", "arm"],
         ["bad.csv has no column 'arm' (--group-col). Available columns: 't', 'e', 'g'."]),
        ("t,e\n5,1\n-3,0\nabc,1\n,0\n0,1\n", ["--time-col", "t", "--event-col", "e"],
         ["4 problem(s) found in bad.csv:",
          "row 3, column 't': must be a number > 0; got '-3'. Correct the value or drop the row.",
          "row 4, column 't': must be a number > 0; got 'abc'.",
          "row 5, column 't': missing follow-up time; got ''. Fill it in or drop the row.",
          "row 6, column 't': must be a number > 0; got '0'."]),
        ("t,e\n5,1\n3,2\n4,dead\n", ["--time-col", "t", "--event-col", "e"],
         ["row 3, column 'e': must be 1 (event) or 0 (censored); true/false and yes/no are accepted too; got '2'. "
          "Correct the value.", "row 4, column 'e': must be 1 (event) or 0 (censored)"]),
        ("t,e,g\n5,1,a\n3,0,a\n4,1,a\n", ["--time-col", "t", "--event-col", "e", "--group-col", "g"],
         ["bad.csv: column 'g' has a single value ('a') in all 3 rows, so there are no groups to compare. Choose "
          "another --group-col, or omit it for one overall curve."]),
        ("t,e,g\n5,1,a\n3,0,\n4,1,b\n", ["--time-col", "t", "--event-col", "e", "--group-col", "g"],
         ["row 3, column 'g': missing group; got ''. Fill it in or drop the row."]),
        ("t,e,s\n5,1,1\n3,0,1\n4,1,1\n", ["--time-col", "t", "--event-col", "e", "--score-col", "s"],
         ["bad.csv: the cut-off 1 on 's' puts all 3 patients in the 'low' group ('s' ranges from 1 to 1; 'high' "
          "means > cut-off). Give --cutoff a value inside that range that leaves patients on both sides."]),
        ("t,e,s\n5,1,1\n3,0,2\n4,1,3\n", ["--time-col", "t", "--event-col", "e", "--score-col", "s", "--cutoff",
                                         "-5"],
         ["the cut-off -5 on 's' puts all 3 patients in the 'high' group"]),
        ("t,e,s\n5,1,1\n3,0,x\n4,1,3\n", ["--time-col", "t", "--event-col", "e", "--score-col", "s"],
         ["row 3, column 's': must be a number (the risk score); got 'x'. Correct the value or drop the row."]),
        ("t,e,s\n5,1,1\n3,0,2\n4,1,3\n", ["--time-col", "t", "--event-col", "e", "--score-col", "s", "--cutoff",
                                         "mean"],
         ["--cutoff must be 'median' or a number; got 'mean'."]),
        ("t,e\n5,0\n3,0\n", ["--time-col", "t", "--event-col", "e"],
         ["bad.csv: column 'e' has no event (all 2 rows are censored), so there is no survival curve to draw. Check "
          "that 1 (or true) marks an event."]),
        ("t,e,g\n5,1,a\n", ["--time-col", "t", "--event-col", "e", "--cutoff", "3"],
         ["--cutoff needs --score-col (the score to split)."]),
        ("t,e\n5,1\n", ["--time-col", "t", "--event-col", "e", "--times", "30", "-1"],
         ["--times: '-1' is not a time; give numbers >= 0 in the unit of the time column"]),
        ("t,e\n", ["--time-col", "t", "--event-col", "e"], ["bad.csv has a header but no rows; add one row per patient."]),
        ("", ["--time-col", "t", "--event-col", "e"], ["bad.csv is empty: it has no header row."]),
    ],
    ids=["missing_time_col", "missing_group_col", "bad_times", "bad_events", "single_group", "missing_group",
         "cutoff_all_low", "cutoff_all_high", "bad_score", "bad_cutoff", "no_event", "cutoff_without_score",
         "bad_times_option", "no_rows", "empty_file"],
)
def test_km_errors_name_file_row_column_and_fix(tmp_path, capsys, csv, args, messages):
    code, out, err = _run([_write(tmp_path, csv), *args, "--out", tmp_path / "out"], capsys)
    assert code == 2
    assert err.startswith("multisurv km: error: ") and "Traceback" not in err
    for message in messages:
        assert message in err
    assert not (tmp_path / "out" / "km.json").exists()


def test_km_too_many_groups_message(tmp_path, capsys):
    code, _, err = _run([VETERAN, "--time-col", "time", "--event-col", "status", "--group-col", "age",
                         "--out", tmp_path], capsys)
    assert code == 2
    n = pd.read_csv(VETERAN)["age"].nunique()
    assert (f"km_veteran.csv: column 'age' has {n} distinct values; more than 12 curves are unreadable. If it is a "
            "score, use --score-col age (split at the median or --cutoff); otherwise merge groups first.") in err


def test_km_missing_file(tmp_path, capsys):
    code, _, err = _run([tmp_path / "nope.csv", "--time-col", "t", "--event-col", "e"], capsys)
    assert code == 2 and "nope.csv does not exist" in err and "Check the path to the CSV." in err


def test_km_group_and_score_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["km", str(VETERAN), "--time-col", "time", "--event-col", "status", "--group-col", "trt",
              "--score-col", "karno"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_km_default_out_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run([VETERAN, "--time-col", "time", "--event-col", "status"], capsys)[0] == 0
    assert (tmp_path / "km_km_veteran" / "km.json").exists()
