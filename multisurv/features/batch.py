"""run_batch: the per-case loop shared by every extraction stage (cache, workers, failures, progress).

The loop skips cases already in the :class:`~multisurv.features.store.FeatureStore` (same input
fingerprint), runs the others in-process, in a process pool or on a Dask cluster, stores each result
the moment it arrives (so a crash loses nothing already done), records every failing case with its
error and goes on, then writes the failures table and logs ``"2 of 40 CT cases failed; see <path>"``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, Tuple, Union

import pandas as pd
from tqdm import tqdm

from multisurv._atomic import write_csv_atomic
from multisurv._faults import die_with_parent, remove_stale_tmp, stop_for_fault
from multisurv._optional import require
from multisurv._validation import check_param
from multisurv.exceptions import ExtractionError
from multisurv.features.store import FeatureStore

__all__ = ["ExtractionResult", "run_batch", "case_error", "FAILURE_COLUMNS"]

logger = logging.getLogger(__name__)

#: Columns of every failures table.
FAILURE_COLUMNS = ("patient_id", "path", "stage", "error_type", "message")

Case = Tuple[str, Mapping[str, str]]
CaseOutput = Union[pd.Series, Tuple[pd.Series, Mapping[str, Any]]]


@dataclass(frozen=True)
class ExtractionResult:
    """What an extraction stage returns.

    Parameters
    ----------
    features : pandas.DataFrame
        Index ``patient_id``; one float column per feature; one row per successful case, in the order the
        cases were given (cached and newly extracted alike).
    failures : pandas.DataFrame
        Columns ``patient_id, path, stage, error_type, message``; one row per failed case.
    n_cached : int
        How many cases were read from the store instead of being extracted.
    store_dir : Path
        The feature store folder (holds ``config.json``, the per-patient files, ``failures.csv``, ``info.csv``).
    info : pandas.DataFrame, default=empty
        Side information per successful case (e.g. PyRadiomics diagnostics, tiles per slide); index
        ``patient_id``.

    See Also
    --------
    run_batch : Fills a feature store and returns one.

    Examples
    --------
    >>> res = ExtractionResult(features=pd.DataFrame({"ct__a": [0.5]}, index=pd.Index(["P1"], name="patient_id")),
    ...                        failures=pd.DataFrame(columns=["patient_id", "path", "stage", "error_type", "message"]),
    ...                        n_cached=1, store_dir=Path("features/ct/radiomics_1a2b3c4d"))
    >>> res.features.shape, len(res.failures), res.info.empty
    ((1, 1), 0, True)
    """

    features: pd.DataFrame
    failures: pd.DataFrame
    n_cached: int
    store_dir: Path
    info: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(index=pd.Index([], name="patient_id")))


def case_error(message: str, *, path: str | os.PathLike | None = None) -> ExtractionError:
    """An :class:`~multisurv.exceptions.ExtractionError` that remembers which file was at fault.

    :func:`run_batch` puts ``path`` in the ``path`` column of the failures table (otherwise it lists all
    the case's inputs).

    Parameters
    ----------
    message : str
        What went wrong, and the fix.
    path : str or Path, optional
        The file at fault.

    Returns
    -------
    ExtractionError
        The error (to raise), with a ``path`` attribute (str or None).

    Examples
    --------
    >>> err = case_error("Mask is empty.", path="/data/p1_mask.nrrd")
    >>> err.path, str(err)
    ('/data/p1_mask.nrrd', 'Mask is empty.')
    """
    err = ExtractionError(message)
    err.path = None if path is None else os.fspath(path)
    return err


def run_batch(
    cases: Sequence[Case],
    extract_one: Callable[[str, Mapping[str, str]], CaseOutput],
    store: FeatureStore,
    *,
    stage: str,
    n_workers: int = 1,
    progress: bool = True,
    client: Any = None,
    unit: str = "case",
) -> ExtractionResult:
    """Extract features for every case not already in ``store``, recording failures and going on.

    Parameters
    ----------
    cases : sequence of (str, dict)
        ``(patient_id, inputs)`` pairs; ``inputs`` maps a role (``"ct_image"``) to a file or folder path (or a
        list of them, e.g. the several slides of one patient, each fingerprinted on its own). The
        content of the input files (SHA-256, see :meth:`FeatureStore.fingerprint`) decides whether a stored
        result is still valid; files unchanged since the record (path, size, ``mtime_ns``) are not re-read.
    extract_one : callable
        ``extract_one(patient_id, inputs)`` returns a float ``pandas.Series`` of features, or a tuple
        ``(features, info)`` where ``info`` is a JSON-serialisable dict kept beside them. Raise (ideally an
        :class:`~multisurv.exceptions.ExtractionError` from :func:`case_error`) to fail one case. It must be
        picklable (a top-level function or a ``functools.partial`` of one) when ``n_workers > 1``.
    store : FeatureStore
        Where results are cached and where ``failures.csv`` and ``info.csv`` are written.
    stage : str
        Stage name written in the failures table, e.g. ``"radiomics"``.
    n_workers : int, default=1
        Processes to use; 1 runs in this process (needed for objects that cannot be pickled). Each worker
        process runs BLAS/OpenMP and SimpleITK with one thread, so that ``n_workers`` processes use as many cores.
    progress : bool, default=True
        Show a tqdm progress bar (on stderr).
    client : dask.distributed.Client, optional
        Submit the cases to this Dask cluster instead (``n_workers`` is then ignored).
    unit : str, default="case"
        Singular noun for a case in messages, e.g. ``"CT case"`` or ``"slide"``.

    Returns
    -------
    ExtractionResult

    Raises
    ------
    ValueError
        If a patient id occurs twice in ``cases`` or ``n_workers`` is not an int >= 1.
    TypeError
        If ``n_workers > 1`` (or ``client`` is given) and ``extract_one`` cannot be pickled.
    ResourceError
        When a case fails for a reason of the machine, not of the patient (disk full, quota, permission denied,
        read-only folder, out of memory, GPU error, a worker killed by the system; see
        :func:`multisurv._faults.resource_fault`): the batch stops, nothing is recorded for that patient, and
        the cases finished so far stay in the store for the rerun.

    Notes
    -----
    ``except Exception`` is used only around a single case, as the house style requires: the error's
    type and message go to the failures table and the loop continues, unless the error is a machine fault
    (then the batch stops). Results are stored as each case finishes, so an interrupted batch resumes where it
    stopped; temporary files a killed run left in the store are removed first. Worker processes die with the
    process that started them (Linux), so killing a batch leaves no workers behind.

    Examples
    --------
    >>> import tempfile
    >>> store = FeatureStore(tempfile.mkdtemp(), modality="ct", name="demo", settings={})
    >>> def one(pid, inputs):
    ...     if pid == "bad":
    ...         raise case_error("No such file.", path=inputs["x"])
    ...     return pd.Series({"ct__n": float(len(pid))})
    >>> res = run_batch([("a", {"x": "a.txt"}), ("bad", {"x": "b.txt"})], one, store, stage="demo",
    ...                 progress=False)
    >>> res.features.to_dict("index")
    {'a': {'ct__n': 1.0}}
    >>> res.failures[["patient_id", "path", "error_type"]].to_dict("records")
    [{'patient_id': 'bad', 'path': 'b.txt', 'error_type': 'ExtractionError'}]
    """
    check_param("run_batch", "n_workers", n_workers, kind="int", low=1)
    cases = [(str(pid), dict(inputs)) for pid, inputs in cases]
    ids = [pid for pid, _ in cases]
    if len(set(ids)) != len(ids):
        dup = pd.Index(ids)[pd.Index(ids).duplicated()][0]
        raise ValueError(f"Patient {dup!r} occurs more than once in the cases of stage {stage!r}; ids must be unique.")

    stale = remove_stale_tmp(store.directory)
    if stale:
        logger.info("%s: removed %d temporary file(s) left by an interrupted run in %s.", stage, len(stale),
                    store.directory)
    features: dict[str, pd.Series] = {}
    info: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, str]] = []
    todo: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    for pid, inputs in cases:
        fingerprint = store.fingerprint(pid, inputs)
        cached = store.get(pid, fingerprint)
        if cached is None:
            todo.append((pid, inputs, fingerprint))
            continue
        features[pid] = cached
        info[pid] = store.get_info(pid)
        if store.recorded_fingerprint(pid) != fingerprint:  # same content, moved or touched: record where it is now
            store.put(pid, cached, fingerprint, info=info[pid])
    n_cached = len(features)
    logger.info("%s: %d of %d %ss cached in %s; extracting %d.", stage, n_cached, len(cases), unit,
                store.directory, len(todo))

    remote = client is not None or n_workers > 1
    if remote and todo:
        _check_picklable(extract_one, stage)

    bar = tqdm(total=len(cases), initial=n_cached, desc=stage, unit=unit, disable=not progress, leave=False)
    try:
        with contextlib.closing(_execute(todo, extract_one, n_workers, client)) as outcomes:
            for pid, inputs, fingerprint, outcome in outcomes:
                try:
                    if isinstance(outcome, BaseException):
                        raise outcome
                    values, extra = _split_output(outcome)
                    store.put(pid, values, fingerprint, info=extra)
                    features[pid] = store.get(pid, fingerprint)  # read back: exactly what a rerun will see
                    info[pid] = store.get_info(pid)
                except Exception as exc:  # per-case boundary: record and go on (house style 3.4.5)
                    fault = stop_for_fault(exc, stage=stage, patient_id=pid, kept=len(features),
                                           directory=store.directory)
                    if fault is not None:  # the machine's fault, not the patient's: stop, record nothing
                        raise fault from exc
                    failures.append(_failure_row(pid, inputs, stage, exc))
                    logger.debug("%s failed for %r", stage, pid, exc_info=exc)
                bar.update(1)
    finally:
        bar.close()

    order = [pid for pid in ids if pid in features]
    position = {pid: i for i, pid in enumerate(ids)}
    failures.sort(key=lambda row: position[row["patient_id"]])
    failures_table = pd.DataFrame(failures, columns=list(FAILURE_COLUMNS), dtype=object)
    info_table = _info_table(order, info)
    try:
        write_csv_atomic(store.failures_path, failures_table, index=False)
        write_csv_atomic(store.info_path, info_table)
    except OSError as exc:  # e.g. the disk filled up with the last case: the tables are not a patient's fault
        fault = stop_for_fault(exc, stage=stage, patient_id="(writing the tables)", kept=len(features),
                               directory=store.directory)
        if fault is None:
            raise
        raise fault from exc

    if failures:
        logger.warning("%d of %d %ss failed; see %s", len(failures), len(cases), unit, store.failures_path)
    return ExtractionResult(
        features=_feature_table(order, features),
        failures=failures_table,
        n_cached=n_cached,
        store_dir=store.directory,
        info=info_table,
    )


def _execute(todo, extract_one, n_workers: int, client) -> Iterator[tuple[str, dict, dict, Any]]:
    """Yield ``(patient_id, inputs, fingerprint, output or exception)`` as each case finishes."""
    if not todo:
        return
    if client is not None:
        yield from _execute_dask(todo, extract_one, client)
    elif n_workers > 1:
        executor = ProcessPoolExecutor(max_workers=min(n_workers, len(todo)), initializer=_init_worker,
                                       initargs=(os.getpid(),))
        try:
            futures = {executor.submit(extract_one, pid, inputs): (pid, inputs, fp) for pid, inputs, fp in todo}
            for future in as_completed(futures):
                pid, inputs, fp = futures[future]
                exc = future.exception()
                yield pid, inputs, fp, exc if exc is not None else future.result()
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
    else:
        for pid, inputs, fp in todo:
            try:
                outcome = extract_one(pid, inputs)
            except Exception as exc:  # per-case boundary: handed to the recording loop
                outcome = exc
            yield pid, inputs, fp, outcome


def _init_worker(parent_pid: int) -> None:
    """Worker-process initializer: die with the parent, one thread per library."""
    die_with_parent(parent_pid)
    _one_thread_per_worker()


def _one_thread_per_worker() -> None:
    """Worker-process initializer: one thread each for BLAS/OpenMP and ITK, so N workers use N cores.

    Without it every worker's SimpleITK filters and BLAS calls start one thread per core, and N workers on N
    cores oversubscribe them (measured with experiments/benchmarks/radiomics_throughput.py: 2 workers on 2 cores
    gave 1.4x instead of 1.9x).
    """
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        os.environ[name] = "1"  # for libraries the worker imports later
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    else:
        threadpool_limits(1)
    sitk = sys.modules.get("SimpleITK")  # already initialised in the parent (fork): set it directly
    if sitk is not None:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def _execute_dask(todo, extract_one, client) -> Iterator[tuple[str, dict, dict, Any]]:
    distributed = require("distributed", extra="dask")
    futures = [client.submit(extract_one, pid, inputs, pure=False) for pid, inputs, _ in todo]
    by_key = {future.key: case for future, case in zip(futures, todo)}
    for future in distributed.as_completed(futures):
        pid, inputs, fp = by_key[future.key]
        outcome = future.exception() if future.status == "error" else future.result()
        future.release()
        yield pid, inputs, fp, outcome


def _check_picklable(extract_one, stage: str) -> None:
    try:
        pickle.dumps(extract_one)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TypeError(
            f"The extraction function of stage {stage!r} cannot be sent to worker processes ({exc}). "
            "Use a top-level function (or functools.partial of one), or run with n_workers=1 and no client."
        ) from exc


def _split_output(outcome: CaseOutput) -> tuple[pd.Series, Mapping[str, Any]]:
    if isinstance(outcome, tuple) and len(outcome) == 2 and isinstance(outcome[0], pd.Series):
        return outcome[0], dict(outcome[1] or {})
    if isinstance(outcome, pd.Series):
        return outcome, {}
    raise TypeError(
        f"An extraction function must return a pandas Series of features or a (Series, dict) tuple; "
        f"got {type(outcome).__name__}."
    )


def _failure_row(pid: str, inputs: Mapping[str, str], stage: str, exc: BaseException) -> dict[str, str]:
    path = getattr(exc, "path", None)
    if not path:
        path = "; ".join(str(p) for value in inputs.values() if value is not None
                         for p in (value if isinstance(value, (list, tuple)) else [value]))
    return {"patient_id": pid, "path": str(path), "stage": stage, "error_type": type(exc).__name__,
            "message": str(exc)}


def _feature_table(order: list[str], features: Mapping[str, pd.Series]) -> pd.DataFrame:
    if not order:
        return pd.DataFrame(index=pd.Index([], name="patient_id", dtype=object), dtype=float)
    table = pd.DataFrame([features[pid] for pid in order]).astype(float)
    table.index = pd.Index(order, name="patient_id", dtype=object)
    return table


def _info_table(order: list[str], info: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame([dict(info.get(pid) or {}) for pid in order])
    table.index = pd.Index(order, name="patient_id", dtype=object)
    return table
