"""Input checks shared by the evaluation metrics."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from multisurv._validation import check_consistent_length, check_param
from multisurv.evaluation.bootstrap import METHODS

__all__ = ["check_risk", "check_common", "check_times"]


def check_risk(risk: ArrayLike, n: int, *, name: str = "risk") -> np.ndarray:
    """A 1-D float risk vector of length ``n`` without NaN (messages as in :func:`concordance`)."""
    risk = np.asarray(risk, dtype=float)
    if risk.ndim != 1:
        raise ValueError(f"'{name}' must be 1-dimensional; got shape {risk.shape}.")
    check_consistent_length(**{"y": np.empty(n), name: risk})
    n_nan = int(np.isnan(risk).sum())
    if n_nan:
        raise ValueError(
            f"'{name}' has {n_nan} NaN value(s) out of {n}. Drop the patients without a score (for example a "
            "missing modality) or impute the score first."
        )
    return risk


def check_common(owner: str, n_bootstrap, method, confidence) -> None:
    """Check the bootstrap parameters every metric shares (sklearn message template)."""
    check_param(owner, "n_bootstrap", n_bootstrap, kind="int", low=0)
    check_param(owner, "method", method, kind="option", options=METHODS)
    check_param(owner, "confidence", confidence, kind="float", low=0, high=1, low_open=True, high_open=True)


def check_times(times: ArrayLike, y: np.ndarray, *, owner: str) -> np.ndarray:
    """Evaluation times: finite, strictly increasing, within ``[min(time), max(time))`` of ``y``."""
    times = np.atleast_1d(np.asarray(times, dtype=float))
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)):
        raise ValueError(f"{owner}: 'times' must be a non-empty 1-D list of finite numbers; got {times!r}.")
    if np.any(np.diff(times) <= 0):
        raise ValueError(f"{owner}: 'times' must be strictly increasing; got {times.tolist()}.")
    lo, hi = float(y["time"].min()), float(y["time"].max())
    bad = times[(times < lo) | (times >= hi)]
    if bad.size:
        raise ValueError(
            f"{owner}: times {bad.tolist()} are outside the follow-up [{lo:g}, {hi:g}) of the data; every time "
            "must be at least the first observed time and before the last one. Choose times inside it."
        )
    return times
