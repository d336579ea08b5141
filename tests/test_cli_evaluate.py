"""`multisurv evaluate`: per-group tables, CSV and JSON outputs equal to R's numbers, and every input error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv.cli import main
from multisurv.exceptions import MultisurvWarning

REF_DIR = Path(__file__).resolve().parent / "reference"
REF = json.loads((REF_DIR / "discrimination_reference.json").read_text())


def _write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False, float_format="%.17g")
    return path


@pytest.fixture
def gbsg2_csv(tmp_path):
    """gbsg2 with the R script's Cox linear predictor and survival probabilities as model output columns."""
    ref = REF["datasets"]["gbsg2"]
    d = pd.read_csv(REF_DIR / "data" / "gbsg2.csv")[["time", "status"]]
    d["lp"] = ref["lp"]
    for k, t in enumerate(ref["times"]):
        d[f"S_{t}"] = np.asarray(ref["surv_prob"])[:, k]
    return _write(tmp_path / "gbsg2_predictions.csv", d)


@pytest.fixture
def small_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 80
    score = rng.normal(size=n)
    t_event = rng.exponential(10 * np.exp(-score))
    t_cens = rng.exponential(15, n)
    d = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)], "cohort": ["dev", "ext"] * (n // 2),
                      "os_months": np.round(np.minimum(t_event, t_cens), 2) + 0.01,
                      "death": (t_event <= t_cens).astype(int), "radscore": score})
    return _write(tmp_path / "preds.csv", d)


def evaluate(csv, *extra):
    return main(["-q", "evaluate", str(csv), *extra])


def test_outputs_match_r(gbsg2_csv, tmp_path, capsys):
    """End to end: the CLI's numbers are R's (survival::concordance, riskRegression::Score), as in the unit tests."""
    ref = REF["datasets"]["gbsg2"]
    times = ",".join(str(t) for t in ref["times"])
    surv = ",".join(f"S_{t}" for t in ref["times"])
    code = evaluate(gbsg2_csv, "--time-col", "time", "--event-col", "status", "--score-col", "lp", "--times", times,
                    "--surv-cols", surv, "--tau", str(ref["tau"]), "--n-bootstrap", "0", "--out", str(tmp_path / "o"))
    assert code == 0
    table = pd.read_csv(tmp_path / "o" / "evaluation.csv")
    by = table.groupby("metric")["estimate"]
    assert by.first()["harrell_c"] == pytest.approx(ref["harrell"]["cindex"], abs=1e-6)
    assert by.first()["uno_c"] == pytest.approx(ref["uno_tau"]["cindex"], abs=1e-6)
    np.testing.assert_allclose(table.loc[table.metric == "auc", "estimate"], ref["auc"]["auc"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(table.loc[table.metric == "brier", "estimate"], ref["brier"]["brier"], atol=1e-6,
                               rtol=0)
    assert by.first()["ibs"] == pytest.approx(ref["brier"]["ibs_trapezoid"], abs=1e-6)
    assert (table["group"] == "all").all()
    report = json.loads((tmp_path / "o" / "evaluation.json").read_text())
    assert report["groups"]["all"]["n"] == 686 and report["groups"]["all"]["n_events"] == 299
    assert report["groups"]["all"]["metrics"][0]["metric"] == "harrell_c"
    assert report["settings"]["tau"] == ref["tau"]
    out = capsys.readouterr().out
    assert "All patients: 686 patients, 299 events" in out
    assert "| harrell_c |  | 0.692 |" in out


def test_groups_and_intervals(small_csv, tmp_path, capsys):
    args = ["--time-col", "os_months", "--event-col", "death", "--score-col", "radscore", "--group-col", "cohort",
            "--n-bootstrap", "100", "--seed", "1"]
    # 40 patients per group: a resample can end its follow-up before the last AUC time; it is skipped, with a warning
    with pytest.warns(MultisurvWarning, match=r"1 of 100 bootstrap resamples gave an undefined statistic"):
        code = evaluate(small_csv, *args)
    assert code == 0
    out_dir = small_csv.with_name("preds_evaluation")  # default --out
    table = pd.read_csv(out_dir / "evaluation.csv")
    assert list(table["group"].unique()) == ["dev", "ext"]
    assert set(table["metric"]) == {"harrell_c", "uno_c", "auc", "mean_auc"}  # no --surv-cols: no Brier
    assert (table.loc[table.metric == "auc"].groupby("group").size() == 3).all()  # default: 3 event quartiles
    harrell = table[table.metric == "harrell_c"]
    assert (harrell["lower"] < harrell["estimate"]).all() and (harrell["estimate"] < harrell["upper"]).all()
    assert (harrell["n_bootstrap"] == 100).all() and (table["n_bootstrap"] >= 99).all()
    out = capsys.readouterr().out
    assert "cohort = 'dev': 40 patients" in out and "cohort = 'ext': 40 patients" in out
    assert "95% CI" in out
    # the same seed gives the same file
    first = (out_dir / "evaluation.csv").read_bytes()
    with pytest.warns(MultisurvWarning):
        evaluate(small_csv, *args)
    assert (out_dir / "evaluation.csv").read_bytes() == first


def test_bca_option(small_csv, tmp_path):
    code = evaluate(small_csv, "--time-col", "os_months", "--event-col", "death", "--score-col", "radscore",
                    "--n-bootstrap", "100", "--ci", "bca", "--confidence", "0.9", "--out", str(tmp_path / "b"))
    assert code == 0
    table = pd.read_csv(tmp_path / "b" / "evaluation.csv")
    assert (table["ci_method"] == "bca").all() and (table["confidence"] == 0.9).all()


# ---------------------------------------------------------------- failure cases
BASE = ["--time-col", "os_months", "--event-col", "death", "--score-col", "radscore", "--n-bootstrap", "0"]


def _edit(small_csv, edit):
    d = pd.read_csv(small_csv, dtype=str, keep_default_na=False)
    edit(d)
    d.to_csv(small_csv, index=False)
    return small_csv


def _error(capsys, csv, *args):
    assert evaluate(csv, *args) == 2
    return capsys.readouterr().err


def test_missing_column_lists_available(small_csv, capsys):
    err = _error(capsys, small_csv, "--time-col", "time", "--event-col", "death", "--score-col", "score",
                 "--n-bootstrap", "0")
    assert "2 problem(s) found in" in err
    assert "column 'time' (given by --time-col) is not in the file" in err
    assert "column 'score' (given by --score-col) is not in the file" in err
    assert "Available columns: 'patient_id', 'cohort', 'os_months', 'death', 'radscore'." in err


def test_bad_values_are_listed_together(small_csv, capsys):
    def edit(d):
        d.loc[2, "os_months"] = "abc"    # line 4
        d.loc[5, "os_months"] = "-3"     # line 7
        d.loc[6, "death"] = "2"          # line 8
        d.loc[7, "radscore"] = ""        # line 9

    err = _error(capsys, _edit(small_csv, edit), *BASE)
    assert "4 problem(s) found in" in err
    assert "column 'os_months': 1 value(s) are not numbers (line 4: 'abc'). Correct them or drop those rows." in err
    assert ("column 'os_months': 1 follow-up time(s) are not finite numbers > 0 (line 7: '-3'). Times must be "
            "positive") in err
    assert ("row 8, column 'death': must be 1 (event) or 0 (censored); true/false and yes/no are accepted too; "
            "got '2'. Correct the value." in err)
    assert ("column 'radscore': 1 row(s) have no risk score (line 9). Drop the patients without a score (e.g. a "
            "missing modality) or impute the score; multisurv does not drop patients silently.") in err


def test_many_bad_values_are_counted(small_csv, capsys):
    err = _error(capsys, _edit(small_csv, lambda d: d.__setitem__("radscore", "nan?")), *BASE)
    assert "column 'radscore': 80 value(s) are not numbers (line 2: 'nan?', line 3: 'nan?', line 4: 'nan?', " \
           "line 5: 'nan?', line 6: 'nan?' and 75 more)" in err


def test_true_false_events_are_accepted(small_csv, tmp_path):
    csv = _edit(small_csv, lambda d: d.__setitem__("death", d["death"].map({"1": "TRUE", "0": "false"})))
    assert evaluate(csv, *BASE, "--out", str(tmp_path / "tf")) == 0


def test_group_without_events(small_csv, capsys):
    csv = _edit(small_csv, lambda d: d.__setitem__("death", np.where(d.cohort == "ext", "0", d["death"])))
    err = _error(capsys, csv, *BASE, "--group-col", "cohort")
    assert ("group 'ext' (column 'cohort') has 40 patient(s) and no event in column 'death': no metric is defined. "
            "Drop that group from the CSV or check the event column.") in err


def test_file_without_events(small_csv, capsys):
    err = _error(capsys, _edit(small_csv, lambda d: d.__setitem__("death", "0")), *BASE)
    assert "the file has 80 patient(s) and no event in column 'death': no metric is defined." in err


def test_missing_group_label(small_csv, capsys):
    err = _error(capsys, _edit(small_csv, lambda d: d.__setitem__("cohort", [""] + list(d["cohort"][1:]))), *BASE,
                 "--group-col", "cohort")
    assert "column 'cohort': 1 row(s) have no group label (line 2). Fill them in or drop those rows." in err


def test_times_outside_a_groups_follow_up(small_csv, capsys):
    err = _error(capsys, small_csv, *BASE, "--group-col", "cohort", "--times", "1,500")
    assert "group 'dev': evaluate_predictions: times [500.0] are outside the follow-up" in err


def test_surv_cols_must_match_times(small_csv, capsys):
    err = _error(capsys, small_csv, *BASE, "--times", "1,2", "--surv-cols", "radscore")
    assert ("--surv-cols names 1 column(s) but --times gives 2 time(s); give one survival-probability column per "
            "time, in the same order.") in err


def test_surv_cols_must_be_probabilities(small_csv, capsys):
    err = _error(capsys, small_csv, *BASE, "--times", "1", "--surv-cols", "radscore")
    assert "column 'radscore':" in err and "are not probabilities in [0, 1]" in err


def test_bad_times_option(small_csv, capsys):
    with pytest.raises(SystemExit) as info:
        evaluate(small_csv, *BASE, "--times", "one,two")
    assert info.value.code == 2
    assert "expected comma-separated numbers such as 365,730; got 'one,two'" in capsys.readouterr().err


def test_missing_and_empty_files(tmp_path, capsys):
    err = _error(capsys, tmp_path / "nope.csv", *BASE)
    assert "nope.csv: no such file. Check the path of the predictions CSV." in err
    (tmp_path / "header.csv").write_text("os_months,death,radscore\n")
    err = _error(capsys, tmp_path / "header.csv", *BASE)
    assert "header.csv: the file has a header but no rows; there is nothing to evaluate." in err
    (tmp_path / "empty.csv").write_text("")
    err = _error(capsys, tmp_path / "empty.csv", *BASE)
    assert "empty.csv: cannot be read as a CSV file" in err
