"""Small input checkers shared by every stage (multisurv's own, so we never import sklearn privates)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["make_y", "check_survival_y", "check_consistent_length", "check_param", "SurvivalScoreMixin"]

SURV_DTYPE = np.dtype([("event", bool), ("time", float)])


def make_y(time, event) -> np.ndarray:
    """Build the structured survival array used everywhere: fields ``event`` (bool) and ``time`` (float).

    The arguments come in the order of R's ``Surv(time, event)``, as everywhere in multisurv.

    Parameters
    ----------
    time : array-like, shape (n_samples,)
        Follow-up time to the event or to the last contact, in one unit throughout.
    event : array-like, shape (n_samples,)
        1 (or True) when the event was observed at ``time``, 0 (or False) when the patient was censored.

    Returns
    -------
    numpy.ndarray, shape (n_samples,)
        Structured array with fields ``event`` (bool) and ``time`` (float64): the ``y`` of every multisurv
        estimator and metric (scikit-survival's convention).

    Raises
    ------
    ValueError
        When ``time`` and ``event`` differ in length, or ``event`` holds a value other than 0/1 (so a call with
        the arguments swapped fails instead of treating follow-up times as event indicators).

    Examples
    --------
    >>> make_y([5.0, 3.0], [1, 0])
    array([( True, 5.), (False, 3.)], dtype=[('event', '?'), ('time', '<f8')])
    """
    event = np.asarray(event)
    time = np.asarray(time, dtype=float)
    if event.shape != time.shape:
        raise ValueError(f"'time' has {time.size} samples but 'event' has {event.size}.")
    if event.dtype != bool:
        values = np.asarray(event, dtype=float)
        odd = ~np.isin(values, (0.0, 1.0))
        if odd.any():
            raise ValueError(f"'event' must hold 0 (censored) or 1 (event) only; got {values[odd][0]!r} at position "
                             f"{int(np.flatnonzero(odd)[0])}. make_y takes (time, event), as Surv(time, event) does.")
    y = np.empty(time.shape[0], dtype=SURV_DTYPE)
    y["event"] = event.astype(bool)
    y["time"] = time
    return y


def check_survival_y(y, *, name: str = "y", where: str = "", allow_zero_time: bool = False) -> np.ndarray:
    """Check a structured survival array and return it with fields ``event`` (bool), ``time`` (float).

    Raises a ValueError naming ``where`` (a cohort or fold) when times are not positive and finite,
    or when no event was observed (then no pair of patients can be compared). ``allow_zero_time=True``
    accepts times of 0 (as ``survival::coxph`` does: a Cox partial likelihood depends only on the order).
    """
    y = np.asarray(y)
    if y.dtype.names is None or set(y.dtype.names) != {"event", "time"}:
        raise ValueError(
            f"'{name}' must be a structured array with fields 'event' and 'time' (see multisurv.make_y); "
            f"got dtype {y.dtype}."
        )
    y = make_y(y["time"], y["event"])
    suffix = f" in {where}" if where else ""
    if y.shape[0] == 0:
        raise ValueError(f"'{name}' is empty{suffix}.")
    if not np.all(np.isfinite(y["time"])) or np.any(y["time"] < 0 if allow_zero_time else y["time"] <= 0):
        bound = ">= 0" if allow_zero_time else "> 0"
        raise ValueError(f"'{name}' has times that are not finite numbers {bound}{suffix}.")
    if not y["event"].any():
        raise ValueError(
            f"'{name}' has no observed event{suffix} (all {y.shape[0]} patients censored), "
            "so no pair of patients can be compared. Use a larger cohort or fold."
        )
    return y


def check_consistent_length(**arrays: Any) -> int:
    """Check that all named arrays have the same length; the error names both sides.

    Examples
    --------
    >>> check_consistent_length(risk=[1, 2], y=[0, 1])
    2
    """
    lengths = {k: len(v) for k, v in arrays.items()}
    items = list(lengths.items())
    for k, n in items[1:]:
        if n != items[0][1]:
            raise ValueError(f"'{k}' has {n} samples but '{items[0][0]}' has {items[0][1]}.")
    return items[0][1] if items else 0


def check_param(owner: str, name: str, value: Any, *, kind: str, low=None, high=None, options=None,
                low_open: bool = False, high_open: bool = False) -> None:
    """Check one constructor parameter, raising with scikit-learn's message template.

    ``kind`` is ``"int"``, ``"float"`` or ``"option"``.

    Examples
    --------
    >>> check_param("LassoCoxSelector", "l1_ratio", 1.5, kind="float", low=0, high=1, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: The 'l1_ratio' parameter of LassoCoxSelector must be a float in the range (0, 1]. Got 1.5 instead.
    """
    if kind == "option":
        if value not in options:
            choices = ", ".join(repr(o) for o in options)
            raise ValueError(f"The '{name}' parameter of {owner} must be one of {choices}. Got {value!r} instead.")
        return
    ok_type = isinstance(value, numbers.Integral) if kind == "int" else isinstance(value, numbers.Real)
    ok_type = ok_type and not isinstance(value, bool)
    in_range = ok_type
    if ok_type and low is not None:
        in_range = in_range and (value > low if low_open else value >= low)
    if ok_type and high is not None:
        in_range = in_range and (value < high if high_open else value <= high)
    if not in_range:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        rng = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(
            f"The '{name}' parameter of {owner} must be {'an int' if kind == 'int' else 'a float'} "
            f"in the range {rng}. Got {value!r} instead."
        )


class SurvivalScoreMixin:
    """``score(X, y)`` of every survival estimator: Harrell's C of ``predict(X)`` (higher risk = worse).

    Patients whose risk is NaN (a single-modality score for patients without that modality) are left out; the
    message of an unusable ``y`` names them by the estimator's ``prefix`` when it has one.
    """

    def score(self, X, y) -> float:
        """Harrell's C of the predicted risk on the patients it scores.

        Parameters
        ----------
        X : pandas.DataFrame
        y : structured array

        Returns
        -------
        float
        """
        from sksurv.metrics import concordance_index_censored

        risk = np.asarray(self.predict(X), dtype=float)
        y = np.asarray(y)
        check_consistent_length(X=X, y=y)
        keep = ~np.isnan(risk)
        prefix = getattr(self, "prefix", None)
        y = check_survival_y(y[keep], where=f"the patients with {prefix!r} features" if prefix else "")
        return float(concordance_index_censored(y["event"], y["time"], risk[keep])[0])
