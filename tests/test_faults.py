"""Machine faults stop a batch (never recorded as a patient's failure); workers die with their parent; stale
temporary files are removed on the rerun; a missing GPU and an output path that is a file are clear errors."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from multisurv._faults import check_device, check_output_dir, remove_stale_tmp, resource_fault
from multisurv.cli import main
from multisurv.exceptions import ResourceError
from multisurv.features import store as store_module
from multisurv.features.batch import run_batch
from multisurv.features.store import FeatureStore

FAULTS = {
    "disk_full": (OSError(errno.ENOSPC, "No space left on device"), r"the disk is full"),
    "quota": (OSError(errno.EDQUOT, "Disk quota exceeded"), r"the disk quota is exhausted"),
    "permission": (PermissionError(errno.EACCES, "Permission denied"), r"permission was denied"),
    "read_only": (OSError(errno.EROFS, "Read-only file system"), r"the file system is read-only"),
    "memory": (MemoryError(), r"the machine ran out of memory"),
    "cuda": (RuntimeError("CUDA error: an illegal memory access was encountered"), r"the GPU failed"),
    "bad_alloc": (RuntimeError("std::bad_alloc"), r"the machine ran out of memory"),
    "h5py": (OSError(errno.ENOSPC, "Can't close file (file write failed: errno = 28)"), r"the disk is full"),
}


def _store(tmp_path) -> FeatureStore:
    return FeatureStore(tmp_path / "cache", modality="ct", name="t", settings={})


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_fault_raised_by_a_case_stops_the_batch_and_is_not_a_failure(tmp_path, fault):
    error, what = FAULTS[fault]

    def one(pid, inputs):
        if pid == "p2":
            raise error
        if pid == "p3":
            raise ValueError("never reached")
        return pd.Series({"ct__x": 1.0})

    store = _store(tmp_path)
    with pytest.raises(ResourceError, match=rf"t stopped at patient 'p2': {what} .*This is a fault of the machine, "
                                            r"not of the patient, so it was not recorded in failures.csv; the 1 "
                                            r"case\(s\) finished are kept in .*Fix: .*then rerun the same command"):
        run_batch([("p1", {}), ("p2", {}), ("p3", {})], one, store, stage="t", progress=False)
    assert not store.failures_path.exists()  # nothing says p2 failed
    rerun = run_batch([("p1", {}), ("p2", {})], lambda pid, inputs: pd.Series({"ct__x": 2.0}), store, stage="t",
                      progress=False)
    assert rerun.n_cached == 1 and list(rerun.features.index) == ["p1", "p2"] and rerun.failures.empty


def test_disk_full_while_storing_stops_the_batch(tmp_path, monkeypatch):
    """A patched write raising ENOSPC inside the store (the second patient's features cannot be written)."""
    real, calls = store_module.write_json_atomic, []

    def write(path, obj):
        calls.append(path)
        if len(calls) == 3:  # config.json, p1, then p2
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, obj)

    monkeypatch.setattr(store_module, "write_json_atomic", write)
    store = _store(tmp_path)
    with pytest.raises(ResourceError, match=r"stopped at patient 'p2': the disk is full"):
        run_batch([("p1", {}), ("p2", {})], lambda pid, inputs: pd.Series({"ct__x": 1.0}), store, stage="t",
                  progress=False)
    assert not store.failures_path.exists()


def test_disk_full_in_os_write_stops_the_batch(tmp_path, monkeypatch):
    """The lowest level: ``os.write`` fails with ENOSPC once the first patient is stored.

    (A real full disk is tried by experiments/reliability/run_cases.py on a small tmpfs when run as root.)
    """
    store = _store(tmp_path)
    real = os.write
    full = {"on": False}

    def write(fd, data):
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    def one(pid, inputs):
        if pid == "p2":
            full["on"] = True
            fd = os.open(tmp_path / "scratch.bin", os.O_WRONLY | os.O_CREAT)
            try:
                os.write(fd, b"x" * 10)  # as a writer that writes through os.write (e.g. a cache or a log)
            finally:
                os.close(fd)
        return pd.Series({"ct__x": 1.0})

    monkeypatch.setattr(os, "write", write)
    try:
        with pytest.raises(ResourceError, match=r"stopped at patient 'p2': the disk is full"):
            run_batch([("p1", {}), ("p2", {})], one, store, stage="t", progress=False)
    finally:
        full["on"] = False


def test_ordinary_errors_are_still_patient_failures(tmp_path):
    def one(pid, inputs):
        raise OSError(errno.ENOENT, "No such file or directory", "p1.nrrd")  # the patient's file is missing

    result = run_batch([("p1", {"ct_image": "p1.nrrd"})], one, _store(tmp_path), stage="t", progress=False)
    assert result.failures["error_type"].tolist() == ["FileNotFoundError"]


def test_resource_fault_follows_the_cause_chain():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise ValueError("writing the patch file failed") from exc
    except ValueError as wrapped:
        assert resource_fault(wrapped)[0] == "the disk is full"
    assert resource_fault(KeyError("x")) is None


def test_stale_tmp_files_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    store = _store(tmp_path)
    (store.directory / "patches").mkdir(parents=True, exist_ok=True)
    stale = [store.directory / f".p1.json.{pid}.abc.tmp", store.directory / "patches" / f".p1.h5.{pid}.tmp"]
    live = store.directory / f".p2.json.{os.getpid()}.def.tmp"
    for path in (*stale, live):
        path.write_text("partial")
    run_batch([("p1", {})], lambda pid, inputs: pd.Series({"ct__x": 1.0}), store, stage="t", progress=False)
    assert not any(p.exists() for p in stale) and live.exists()
    assert remove_stale_tmp(tmp_path / "missing") == []


_KILL_SCRIPT = textwrap.dedent("""
    import os, sys, time
    import pandas as pd
    from multisurv.features.batch import run_batch
    from multisurv.features.store import FeatureStore

    def one(pid, inputs):
        open(os.path.join(sys.argv[1], f"worker-{os.getpid()}"), "w").close()
        time.sleep(120)
        return pd.Series({"ct__x": 1.0})

    store = FeatureStore(sys.argv[1], modality="ct", name="k", settings={})
    run_batch([("p1", {}), ("p2", {})], one, store, stage="k", n_workers=2, progress=False)
""")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie has exited; only its parent (now gone) could reap it


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_workers_die_with_their_parent(tmp_path, sig):
    script = tmp_path / "batch.py"
    script.write_text(_KILL_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=Path(__file__).parents[1])
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("worker-*"))) < 2:
            assert time.monotonic() < deadline and parent.poll() is None, "workers did not start"
            time.sleep(0.1)
        workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 15
        while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        alive = [pid for pid in workers if not _gone(pid)]
        for pid in alive:  # never leave them behind, even when the test fails
            os.kill(pid, signal.SIGKILL)
        assert alive == [], f"workers {alive} outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_check_device_refuses_a_missing_gpu(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ResourceError, match=r"--device 'cuda': .*Run with '--device cpu' \(slower\)"):
        check_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ResourceError, match=r"--device 'cuda:2': this machine has 1 CUDA GPU\(s\) \(cuda:0 to "
                                            r"cuda:0\)"):
        check_device("cuda:2")
    check_device("cuda:0")


def test_extract_pathomics_without_cuda_is_a_clear_error(tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("h5py")
    pytest.importorskip("pyarrow")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    manifest = tmp_path / "m.csv"
    manifest.write_text("patient_id,wsi\np1,p1.svs\n")
    code = main(["extract", "pathomics", str(manifest), "--out", str(tmp_path / "out"), "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 3 and "stopped: ResourceError: --device 'cuda'" in err and "Traceback" not in err


def test_output_path_that_is_a_file(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    (tmp_path / "out").write_text("not a folder")
    manifest = tmp_path / "m.csv"
    manifest.write_text("patient_id,ct_image,ct_mask\np1,a.nrrd,b.nrrd\n")
    code = main(["extract", "radiomics", str(manifest), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3 and "--out" in err and "is a file, not a folder" in err
    with pytest.raises(ResourceError, match=r"is under .*out, which is a file"):
        check_output_dir(tmp_path / "out" / "sub")


def test_disk_full_while_writing_the_tables_stops_the_batch(tmp_path, monkeypatch):
    from multisurv.features import batch

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(batch, "write_csv_atomic", full)
    with pytest.raises(ResourceError, match=r"stopped at patient '\(writing the tables\)': the disk is full"):
        run_batch([("p1", {})], lambda pid, inputs: pd.Series({"ct__x": 1.0}), _store(tmp_path), stage="t",
                  progress=False)


def test_cli_turns_a_late_disk_fault_into_exit_3(tmp_path, monkeypatch, capsys):
    import multisurv.cli_km as cli_km

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "km.json"))

    monkeypatch.setattr(cli_km, "run_km", full)
    (tmp_path / "d.csv").write_text("time,event\n1,1\n2,0\n")
    code = main(["km", str(tmp_path / "d.csv"), "--time-col", "time", "--event-col", "event", "--out",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3 and "stopped: the disk is full while writing" in err and "Traceback" not in err
