"""run_batch: cache, per-case failures, order, workers (processes and Dask), failures table and log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from multisurv.features.batch import FAILURE_COLUMNS, ExtractionResult, case_error, run_batch
from multisurv.features.store import FeatureStore


def extract_length(patient_id, inputs, *, log_dir=None):
    """Top-level (picklable) toy extractor: fails on 'bad*' ids, records each call in ``log_dir``."""
    if log_dir is not None:
        Path(log_dir, f"{patient_id}.{os.getpid()}.{len(os.listdir(log_dir))}").touch()
    if patient_id.startswith("bad"):
        raise case_error(f"Case {patient_id!r} is broken.", path=inputs["x"])
    text = Path(inputs["x"]).read_text()
    return pd.Series({"toy__len": float(len(text)), "toy__third": len(text) / 3}), {"chars": len(text)}


def make_cases(tmp_path, ids):
    cases = []
    for pid in ids:
        path = tmp_path / "inputs" / f"{pid}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(pid * 3)
        cases.append((pid, {"x": str(path)}))
    return cases


@pytest.fixture
def store(tmp_path):
    return FeatureStore(tmp_path / "features", modality="toy", name="length", settings={"v": 1})


def calls(log_dir):
    return sorted(p.name.split(".")[0] for p in Path(log_dir).iterdir())


def test_failures_are_recorded_and_the_batch_goes_on(tmp_path, store, caplog):
    cases = make_cases(tmp_path, ["p1", "bad1", "p2"])
    with caplog.at_level(logging.WARNING, logger="multisurv.features.batch"):
        res = run_batch(cases, extract_length, store, stage="toy", progress=False, unit="toy case")
    assert isinstance(res, ExtractionResult)
    assert list(res.features.index) == ["p1", "p2"]
    assert res.features.index.name == "patient_id"
    assert (res.features.dtypes == float).all()
    assert res.features.loc["p2", "toy__third"] == 6 / 3
    assert list(res.failures.columns) == list(FAILURE_COLUMNS)
    row = res.failures.iloc[0]
    assert (row.patient_id, row.path, row.stage, row.error_type) == ("bad1", cases[1][1]["x"], "toy", "ExtractionError")
    assert "Case 'bad1' is broken." in row.message
    on_disk = pd.read_csv(store.failures_path)
    assert on_disk["patient_id"].tolist() == ["bad1"]
    assert f"1 of 3 toy cases failed; see {store.failures_path}" in caplog.text
    assert res.info.loc["p1", "chars"] == 6
    assert res.n_cached == 0 and res.store_dir == store.directory


def test_rerun_uses_the_cache_and_gives_identical_tables(tmp_path, store):
    log_dir = tmp_path / "calls"
    log_dir.mkdir()
    cases = make_cases(tmp_path, ["p1", "bad1", "p2"])
    first = run_batch(cases, partial(extract_length, log_dir=log_dir), store, stage="toy", progress=False)
    second = run_batch(cases, partial(extract_length, log_dir=log_dir), store, stage="toy", progress=False)
    assert second.n_cached == 2
    assert calls(log_dir) == ["bad1", "bad1", "p1", "p2"]  # only the failed case is retried
    assert second.features.to_csv() == first.features.to_csv()  # byte-identical
    assert second.info.to_csv() == first.info.to_csv()


def test_changed_input_is_recomputed(tmp_path, store):
    cases = make_cases(tmp_path, ["p1", "p2"])
    run_batch(cases, extract_length, store, stage="toy", progress=False)
    Path(cases[0][1]["x"]).write_text("longer text now")
    res = run_batch(cases, extract_length, store, stage="toy", progress=False)
    assert res.n_cached == 1
    assert res.features.loc["p1", "toy__len"] == len("longer text now")


def test_failures_table_is_rewritten_when_a_case_is_fixed(tmp_path, store):
    cases = make_cases(tmp_path, ["p1"])
    missing = [("p2", {"x": str(tmp_path / "nope.txt")})]
    res = run_batch(cases + missing, extract_length, store, stage="toy", progress=False)
    assert res.failures["error_type"].tolist() == ["FileNotFoundError"]
    assert res.failures["path"].tolist() == [str(tmp_path / "nope.txt")]  # falls back to the case's inputs
    (tmp_path / "nope.txt").write_text("now here")
    res = run_batch(cases + missing, extract_length, store, stage="toy", progress=False)
    assert res.failures.empty and pd.read_csv(store.failures_path).empty
    assert list(res.features.index) == ["p1", "p2"]


def test_results_are_kept_when_the_batch_is_interrupted(tmp_path, store):
    cases = make_cases(tmp_path, ["p1", "p2", "p3"])

    def interrupted(pid, inputs):
        if pid == "p3":
            raise KeyboardInterrupt  # not an Exception: stops the batch, as Ctrl-C would
        return extract_length(pid, inputs)

    with pytest.raises(KeyboardInterrupt):
        run_batch(cases, interrupted, store, stage="toy", progress=False)
    res = run_batch(cases, extract_length, store, stage="toy", progress=False)
    assert res.n_cached == 2


def test_process_pool_gives_the_same_result(tmp_path, store):
    cases = make_cases(tmp_path, ["p1", "bad1", "p2", "p3"])
    serial = run_batch(cases, extract_length, store, stage="toy", progress=False)
    other = FeatureStore(tmp_path / "other", modality="toy", name="length", settings={"v": 1})
    pooled = run_batch(cases, extract_length, other, stage="toy", n_workers=2, progress=False)
    pd.testing.assert_frame_equal(pooled.features, serial.features)
    pd.testing.assert_frame_equal(pooled.failures, serial.failures)


def test_dask_client_gives_the_same_result(tmp_path, store):
    distributed = pytest.importorskip("distributed")
    cases = make_cases(tmp_path, ["p1", "bad1", "p2"])
    serial = run_batch(cases, extract_length, store, stage="toy", progress=False)
    other = FeatureStore(tmp_path / "other", modality="toy", name="length", settings={"v": 1})
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        res = run_batch(cases, extract_length, other, stage="toy", client=client, progress=False)
    pd.testing.assert_frame_equal(res.features, serial.features)
    assert res.failures["patient_id"].tolist() == ["bad1"]


def test_unpicklable_function_with_workers_is_refused_up_front(tmp_path, store):
    cases = make_cases(tmp_path, ["p1"])
    with pytest.raises(TypeError, match="cannot be sent to worker processes.*n_workers=1"):
        run_batch(cases, lambda pid, inputs: pd.Series({"a": 1.0}), store, stage="toy", n_workers=2, progress=False)


def test_wrong_return_type_is_a_case_failure(tmp_path, store):
    res = run_batch(make_cases(tmp_path, ["p1"]), lambda pid, inputs: [1.0], store, stage="toy", progress=False)
    assert res.failures["error_type"].tolist() == ["TypeError"]
    assert "must return a pandas Series" in res.failures["message"].iloc[0]


class TestInputErrors:
    def test_duplicate_ids(self, tmp_path, store):
        cases = make_cases(tmp_path, ["p1"]) * 2
        with pytest.raises(ValueError, match="Patient 'p1' occurs more than once in the cases of stage 'toy'"):
            run_batch(cases, extract_length, store, stage="toy", progress=False)

    def test_n_workers(self, tmp_path, store):
        with pytest.raises(ValueError, match=r"The 'n_workers' parameter of run_batch must be an int in the range "
                                             r"\[1, inf\)\. Got 0 instead\."):
            run_batch([], extract_length, store, stage="toy", n_workers=0)


def test_no_cases_gives_empty_tables(store):
    res = run_batch([], extract_length, store, stage="toy", progress=False)
    assert res.features.empty and res.failures.empty and res.n_cached == 0
    assert list(res.failures.columns) == list(FAILURE_COLUMNS)


def test_progress_bar_goes_to_stderr(tmp_path, store, capsys):
    run_batch(make_cases(tmp_path, ["p1"]), extract_length, store, stage="toy", progress=True)
    out = capsys.readouterr()
    assert out.out == "" and "toy" in out.err


def test_importing_features_does_not_import_heavy_extras():
    code = ("import sys, multisurv.features.radiomics, multisurv.features.clinical, "
            "multisurv.features.wsi.pathomics; "
            "print(sorted(m for m in ('torch', 'torchvision', 'openslide', 'radiomics', 'SimpleITK') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


KILL_SCRIPT = '''
import os, sys, time
from pathlib import Path
import pandas as pd
from multisurv.features.batch import run_batch
from multisurv.features.store import FeatureStore

def slow_length(pid, inputs):
    Path(os.environ["CALL_LOG"], f"{pid}.{os.getpid()}").touch()
    time.sleep(0.25)
    return pd.Series({"toy__len": float(len(Path(inputs["x"]).read_text()))})

if __name__ == "__main__":
    root, n_workers = Path(sys.argv[1]), int(sys.argv[2])
    cases = [(p.stem, {"x": str(p)}) for p in sorted((root / "inputs").glob("*.txt"))]
    store = FeatureStore(root / "features", modality="toy", name="slow", settings={"v": 1})
    res = run_batch(cases, slow_length, store, stage="toy", n_workers=n_workers, progress=False)
    print(len(res.features), res.n_cached)
'''


@pytest.mark.parametrize("n_workers", [1, 2])
def test_killed_batch_resumes_without_loss_or_repeats(tmp_path, n_workers):
    """SIGKILL a batch (the whole process group) after some cases finished; the rerun redoes none of them."""
    import signal
    import time

    script = tmp_path / "batch_script.py"
    script.write_text(KILL_SCRIPT)
    ids = [f"p{i:02d}" for i in range(12)]
    make_cases(tmp_path, ids)
    store_dir = FeatureStore(tmp_path / "features", modality="toy", name="slow", settings={"v": 1}).directory

    def records():
        return sorted(p.stem for p in store_dir.glob("p*.json"))

    first_log, second_log = tmp_path / "calls1", tmp_path / "calls2"
    first_log.mkdir()
    second_log.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path), str(n_workers)],
                            env={**os.environ, "CALL_LOG": str(first_log)}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(records()) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = records()
    assert 4 <= len(done) < len(ids), "the batch was not killed half-way"
    # Every stored record is complete (atomic writes): it reads back with its value.
    store = FeatureStore(tmp_path / "features", modality="toy", name="slow", settings={"v": 1})
    for pid in done:
        x = tmp_path / "inputs" / f"{pid}.txt"
        assert store.get(pid, store.fingerprint(pid, {"x": str(x)}))["toy__len"] == 9.0

    out = subprocess.run([sys.executable, str(script), str(tmp_path), str(n_workers)], capture_output=True,
                         text=True, env={**os.environ, "CALL_LOG": str(second_log)}, check=True, timeout=120)
    assert out.stdout.split() == ["12", str(len(done))]
    recomputed = sorted(p.name.split(".")[0] for p in second_log.iterdir())
    assert recomputed == sorted(set(ids) - set(done))  # finished cases are not repeated, none is lost
    assert records() == ids

    third = subprocess.run([sys.executable, str(script), str(tmp_path), str(n_workers)], capture_output=True,
                           text=True, env={**os.environ, "CALL_LOG": str(second_log)}, check=True, timeout=120)
    assert third.stdout.split() == ["12", "12"]  # nothing changed: nothing recomputed
    assert sorted(p.name.split(".")[0] for p in second_log.iterdir()) == recomputed


def report_threads(patient_id, inputs):
    """Top-level (picklable): the thread counts a worker process runs with."""
    import SimpleITK
    from threadpoolctl import threadpool_info

    blas = [pool["num_threads"] for pool in threadpool_info()]
    return pd.Series({"itk": float(SimpleITK.ProcessObject.GetGlobalDefaultNumberOfThreads()),
                      "blas_max": float(max(blas, default=1))})


def test_worker_processes_run_single_threaded(tmp_path, store):
    """N workers on N cores must not each start one thread per core (ITK, BLAS): measured 1.4x -> 1.9x."""
    pytest.importorskip("SimpleITK")
    pytest.importorskip("threadpoolctl")
    res = run_batch(make_cases(tmp_path, ["p1", "p2"]), report_threads, store, stage="toy", n_workers=2,
                    progress=False)
    assert (res.features["itk"] == 1).all() and (res.features["blas_max"] == 1).all()


def test_moved_input_with_same_content_stays_cached_and_the_record_follows(tmp_path, store):
    log_dir = tmp_path / "calls"
    log_dir.mkdir()
    cases = make_cases(tmp_path, ["p1", "p2"])
    run_batch(cases, partial(extract_length, log_dir=log_dir), store, stage="toy", progress=False)
    moved = tmp_path / "elsewhere.txt"
    Path(cases[0][1]["x"]).rename(moved)
    cases[0] = ("p1", {"x": str(moved)})
    res = run_batch(cases, partial(extract_length, log_dir=log_dir), store, stage="toy", progress=False)
    assert res.n_cached == 2 and calls(log_dir) == ["p1", "p2"]  # nothing recomputed
    assert store.recorded_fingerprint("p1")["x"]["path"] == str(moved)
