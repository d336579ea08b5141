"""Faults of the machine, not of the data: recognise them, stop with the fix, and clean up after a killed run.

A full disk, a quota, a read-only or forbidden folder, exhausted memory or a GPU that is missing or failing are
not properties of a patient. A batch loop that records them in ``failures.csv`` and goes on silently drops
patients and changes every downstream number, so :func:`resource_fault` tells the per-case loop to stop instead
(:class:`~multisurv.exceptions.ResourceError`). The rest of the module keeps worker processes from outliving
their parent and removes the temporary files a killed run left behind.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys
from pathlib import Path

from multisurv.exceptions import ResourceError

__all__ = ["resource_fault", "stop_for_fault", "check_device", "check_output_dir", "die_with_parent",
           "remove_stale_tmp"]

#: errno -> (what happened, how to fix it).
_ERRNOS = {
    errno.ENOSPC: ("the disk is full", "free space there (or point the output or cache folder at a bigger disk)"),
    errno.EDQUOT: ("the disk quota is exhausted", "free space within your quota or write to another disk"),
    errno.EACCES: ("permission was denied", "give this user read/write permission there or choose another folder"),
    errno.EPERM: ("the operation is not permitted", "give this user permission there or choose another folder"),
    errno.EROFS: ("the file system is read-only", "write to a writable folder"),
    errno.ENOMEM: ("the machine ran out of memory", "free memory or use fewer workers / a smaller batch size"),
    errno.EMFILE: ("too many files are open", "raise 'ulimit -n' or use fewer workers"),
}
_MEMORY = ("the machine ran out of memory", "free memory, or use fewer workers ('--workers') or a smaller batch size")
_DEVICE_PATTERNS = re.compile(
    r"CUDA out of memory|CUDA error|CUDNN_STATUS|cuDNN error|CUBLAS_STATUS|device-side assert|NCCL error|"
    r"Torch not compiled with CUDA|Found no NVIDIA driver|no CUDA-capable device|MPS backend out of memory|"
    r"HIP error", re.IGNORECASE)
_MEMORY_PATTERNS = re.compile(r"std::bad_alloc|Failed to allocate memory|Unable to allocate|Cannot allocate memory",
                              re.IGNORECASE)
_DEVICE = ("the GPU failed or ran out of memory", "free the GPU (nvidia-smi), use a smaller batch size, or run with "
           "'--device cpu'")


def _chain(exc: BaseException):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def resource_fault(exc: BaseException) -> tuple[str, str] | None:
    """``(what happened, fix)`` when ``exc`` (or an error it was raised from) is a fault of the machine.

    Faults: ``OSError`` with errno ENOSPC, EDQUOT, EACCES, EPERM, EROFS, ENOMEM or EMFILE (h5py and PIL keep
    the errno); ``MemoryError`` and C++ allocation failures; CUDA / cuDNN / device errors; a worker process
    killed by the system (``BrokenProcessPool``). Everything else is None (a property of the case).

    Examples
    --------
    >>> resource_fault(OSError(28, "No space left on device"))[0]
    'the disk is full'
    >>> resource_fault(ValueError("Mask is empty.")) is None
    True
    """
    from concurrent.futures.process import BrokenProcessPool

    for item in _chain(exc):
        if isinstance(item, ResourceError):
            return str(item), "see above"
        if isinstance(item, OSError) and item.errno in _ERRNOS:
            return _ERRNOS[item.errno]
        if isinstance(item, MemoryError):
            return _MEMORY
        if isinstance(item, BrokenProcessPool):
            return ("a worker process died (the system kills workers that exhaust memory)",
                    "use fewer workers ('--workers') or free memory")
        message = str(item)
        if _DEVICE_PATTERNS.search(message) or type(item).__name__ in ("OutOfMemoryError", "AcceleratorError"):
            return _DEVICE
        if _MEMORY_PATTERNS.search(message):
            return _MEMORY
    return None


def stop_for_fault(exc: BaseException, *, stage: str, patient_id: str, kept: int, directory: str | os.PathLike
                   ) -> ResourceError | None:
    """The :class:`ResourceError` that stops a batch when ``exc`` is a machine fault, else None.

    The message says what happened, while extracting which patient, that nothing was recorded as that patient's
    failure, where the finished cases are kept, and the fix (then rerun: the batch resumes).

    Examples
    --------
    >>> err = stop_for_fault(MemoryError(), stage="radiomics", patient_id="p7", kept=3, directory="/c")
    >>> print(err)  # doctest: +NORMALIZE_WHITESPACE
    radiomics stopped at patient 'p7': the machine ran out of memory (MemoryError). This is a fault of the
    machine, not of the patient, so it was not recorded in failures.csv; the 3 case(s) finished are kept in /c.
    Fix: free memory, or use fewer workers ('--workers') or a smaller batch size, then rerun the same command (it
    resumes where it stopped).
    """
    fault = resource_fault(exc)
    if fault is None:
        return None
    if isinstance(exc, ResourceError):
        return exc
    what, fix = fault
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ResourceError(
        f"{stage} stopped at patient {patient_id!r}: {what} ({detail}). This is a fault of the machine, not of the "
        f"patient, so it was not recorded in failures.csv; the {kept} case(s) finished are kept in {directory}. "
        f"Fix: {fix}, then rerun the same command (it resumes where it stopped)."
    )


def check_device(device: str | None, *, option: str = "--device") -> None:
    """Refuse a CUDA/MPS ``device`` this machine does not have, before any model is built.

    Raises
    ------
    ResourceError
        Naming the option, what was found (no CUDA build, no GPU, or fewer GPUs than the index) and the fix.

    Examples
    --------
    >>> check_device(None), check_device("cpu")
    (None, None)
    """
    if device is None or str(device).split(":")[0] not in ("cuda", "mps"):
        return
    torch = __import__("torch")
    kind, _, index = str(device).partition(":")
    if kind == "mps":
        available = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
        found = "no Apple GPU (MPS) is available"
    else:
        available = torch.cuda.is_available()
        found = ("this PyTorch was built without CUDA" if torch.version.cuda is None
                 else "no CUDA GPU is visible (driver missing, or CUDA_VISIBLE_DEVICES empty)")
        if available and index:
            count = torch.cuda.device_count()
            available = index.isdigit() and int(index) < count
            found = f"this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1})"
    if not available:
        raise ResourceError(f"{option} {device!r}: {found}. Run with '{option} cpu' (slower), or on a machine with "
                            "that GPU.")


def check_output_dir(path: str | os.PathLike, *, option: str = "--out") -> Path:
    """Refuse an output folder that is an existing file (or under one); return it as a Path.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     try:
    ...         check_output_dir(f.name)
    ...     except ResourceError as exc:
    ...         print(str(exc).split(": ", 1)[1])
    is a file, not a folder. Choose a folder path (it is created if missing) or move the file away.
    """
    path = Path(path)
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            where = "is" if part == path else f"is under {part}, which is"
            raise ResourceError(f"{option} {path}: {where} a file, not a folder. Choose a folder path (it is created "
                                "if missing) or move the file away.")
    return path


def die_with_parent(parent_pid: int) -> None:
    """Worker-process initializer: receive SIGKILL when the parent dies (Linux), and exit if it already did.

    Without it, the workers of a process pool whose parent was killed (SIGKILL, or SIGTERM without cleanup) wait
    for work forever. Elsewhere than Linux this only checks that the parent is still there.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl: fall back to the check below
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


_TMP = re.compile(r"^\..+\.(\d+)\..*tmp$")


def remove_stale_tmp(directory: str | os.PathLike) -> list[Path]:
    """Delete temporary files that a killed run left in ``directory`` (recursively); return them.

    Only files named ``.<name>.<pid>.<anything>tmp`` whose writing process ``pid`` no longer exists (on this
    machine) are removed, so the files of a run still writing into the same folder are left alone.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / ".p1.csv.999999999.ab.tmp").write_text("x"), (d / f".p2.csv.{os.getpid()}.cd.tmp").write_text("x")
    >>> [p.name for p in remove_stale_tmp(d)]
    ['.p1.csv.999999999.ab.tmp']
    """
    directory = Path(directory)
    removed = []
    if not directory.is_dir():
        return removed
    for path in directory.rglob(".*tmp"):
        match = _TMP.match(path.name)
        if match is None or not path.is_file() or _alive(int(match.group(1))):
            continue
        try:
            path.unlink()
        except FileNotFoundError:  # removed meanwhile by a concurrent cleanup
            continue
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to another user
        return True
    except OverflowError:  # not a pid this system can have
        return False
    return True
