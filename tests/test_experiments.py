"""The experiment scripts: the benchmark runner's summary table and the real-data fusion experiment."""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _load(relative: str, name: str):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_all():
    return _load("benchmarks/run_all.py", "run_all_under_test")


@pytest.fixture(scope="module")
def real_data():
    return _load("real_data_fusion/run.py", "real_data_fusion_under_test")


# --------------------------------------------------------------------------------------------- run_all.py
def test_every_benchmark_script_exists(run_all):
    for bench in run_all.BENCHMARKS:
        assert (EXPERIMENTS / "benchmarks" / bench.script).is_file(), bench.script


def test_benchmark_runner_labels_the_rows_of_a_real_run_and_keeps_its_log(run_all, tmp_path):
    bench = replace(next(b for b in run_all.BENCHMARKS if b.name == "tile_streaming"), quick=("--sizes", "1024,2048"))
    row = run_all.run(bench, full=False, log_dir=tmp_path, timeout=300)
    assert row["exit"] == 0 and row["arguments"] == "--sizes 1024,2048"
    log = (tmp_path / "tile_streaming.log").read_text()
    header = log.splitlines()[0].split()
    assert header[:2] == ["slide", "(px)"]  # the columns run_all names are the script's own
    parts = row["headline"].split(" / ")
    assert len(parts) == 2
    for side, part in zip((1024, 2048), parts):
        assert re.fullmatch(rf"slide \(px\) {side}, raw RGB \(MB\) {round(side * side * 3 / 1e6)}, tissue tiles \d+, "
                            r"tiles/s \d+, peak RSS \(MB\) \d+", part), part


def test_benchmark_runner_labels_markdown_rows_and_keeps_other_lines(run_all):
    bench = next(b for b in run_all.BENCHMARKS if b.name == "cindex_speed")
    output = ("| method | seconds | x multisurv |\n| --- | ---:| ---:|\n"
              "| multisurv concordance(n_bootstrap=0)   |     0.276 |        1.00 |\n"
              "| sksurv concordance_index_censored      |     4.181 |       15.15 |\n")
    assert run_all.headline(bench, output) == ("method multisurv concordance(n_bootstrap=0), seconds 0.276, "
                                               "x multisurv 1.00 / method sksurv concordance_index_censored, "
                                               "seconds 4.181, x multisurv 15.15")
    radiomics = next(b for b in run_all.BENCHMARKS if b.name == "radiomics_throughput")
    assert run_all.headline(radiomics, "noise\nspeed-up :   1.67x (target >= 1.8)\n") == "speed-up : 1.67x (target >= 1.8)"
    assert run_all.headline(radiomics, "nothing to report\n") == "-"


# ----------------------------------------------------------------------------------- real_data_fusion/run.py
def test_out_of_fold_risks_come_from_the_fold_that_never_saw_the_patient(real_data):
    rng = np.random.default_rng(0)
    n = 40
    y = make_y(rng.exponential(1.0, n), rng.random(n) < 0.5)
    index = pd.Index([f"p{i}" for i in range(n)])
    splits = real_data.stratified_splits(y, 5, 1, seed=0)
    risk_of = {k: rng.normal(size=n) for k in range(len(splits))}  # the k-th fold model's risk for everyone
    calls = [(np.asarray(index), np.zeros(n))]
    for k, (train, test) in enumerate(splits):
        calls += [(np.asarray(index[train]), risk_of[k][train]), (np.asarray(index[test]), risk_of[k][test])]
    risk, group = real_data.oof_predictions(calls, splits, index)
    for k, (train, test) in enumerate(splits):
        np.testing.assert_array_equal(risk.iloc[test].to_numpy(), risk_of[k][test])
        cutoff = np.median(risk_of[k][train])  # the fold's own training patients set its cut-off
        np.testing.assert_array_equal(group.iloc[test].to_numpy(), np.where(risk_of[k][test] > cutoff, "high", "low"))
    assert risk.notna().all() and set(group) <= {"high", "low"}


def _table(cv: dict, boot: dict, difference: float, lower: float, upper: float) -> pd.DataFrame:
    t = pd.DataFrame({"model": list(cv), "cv_mean": [f"{v:.3f}" for v in cv.values()], "_boot": list(boot.values())})
    t.attrs["cmp"] = SimpleNamespace(difference=difference, boot_lower=lower, boot_upper=upper)
    return t


def test_the_conclusion_follows_the_interval_not_a_fixed_verdict(real_data):
    cv = {"clinical": 0.62, "genes": 0.60, "early": 0.64, "late": 0.66}
    boot = {"clinical": 0.61, "genes": 0.58, "early": 0.63, "late": 0.65}
    unclear = real_data.conclusion({"a": _table(cv, boot, 0.02, -0.01, 0.05)})
    assert "late and early fusion cannot be told apart" in unclear and "best by repeated CV is 'late'" in unclear
    assert "0.040 above the better single block" in unclear
    late = real_data.conclusion({"a": _table(cv, boot, 0.02, 0.005, 0.05)})
    assert "late fusion is better than early fusion" in late
    early = real_data.conclusion({"a": _table({**cv, "early": 0.5, "late": 0.55}, boot, -0.03, -0.06, -0.01)})
    assert "early fusion is better than late fusion" in early and "0.070 below the better single block" in early


@pytest.mark.slow
def test_real_data_fusion_runs_end_to_end_on_the_breast_cancer_set(real_data, tmp_path, capsys):
    assert real_data.main(["--datasets", "breast", "--repeats", "1", "--bootstrap", "2", "--out",
                           str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "## breast: 198 patients, 51 events; 5 clinical columns, 76 genes" in printed
    assert "## Conclusion (computed from the numbers above)" in printed and "- breast: best by repeated CV" in printed
    results = pd.read_csv(tmp_path / "results_breast.csv")
    assert list(results["model"]) == ["clinical", "genes", "early", "late"]
    assert (results["failed"] == 0).all()
    for column in ("cv_mean", "boot_corrected"):
        assert results[column].between(0.4, 1.0).all()
    assert (tmp_path / "km_late_fusion_oof_breast.png").is_file() and (tmp_path / "km_late_fusion_oof_breast.pdf").is_file()
