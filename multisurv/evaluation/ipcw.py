"""Inverse probability of censoring weights shared by Uno's C, the time-dependent AUC and the Brier score.

Convention (R's ``survival`` and ``riskRegression``, Uno et al. 2011, Graf et al. 1999): ``G`` is the
Kaplan-Meier estimate of the censoring distribution, with censorings as the "events" and, at a time where an
event and a censoring tie, the event first (the patient with the event is no longer at risk of censoring).
A patient with an event at ``T`` gets ``1 / G(T-)`` (the left limit: a censoring at exactly ``T`` does not
count); a patient still event-free at ``t`` gets ``1 / G(t)``.

scikit-survival's metrics use ``G(T)`` for the event weight instead, which differs only when a censoring time
equals an event time (common with times in whole days). :func:`censoring_reference` moves every censoring
time up by one floating-point step before handing the reference data to scikit-survival; its right-continuous
``G(T)`` then equals ``G(T-)`` exactly (the risk sets are unchanged), which is how multisurv calls
scikit-survival and still agrees with R to 1e-12.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sksurv.nonparametric import CensoringDistributionEstimator

from multisurv._validation import check_survival_y

__all__ = ["censoring_reference", "censoring_survival", "check_reference"]


def censoring_reference(y_train: np.ndarray) -> np.ndarray:
    """Copy of ``y_train`` with every censoring time moved up by one floating-point step (see module notes).

    Passed as ``survival_train`` to scikit-survival's metrics, it makes their weight of an event at ``T``
    ``1 / G(T-)``, R's convention.

    Parameters
    ----------
    y_train : structured array, shape (n_samples,)
        Fields ``event`` (bool) and ``time`` (float); not modified.

    Returns
    -------
    structured array, shape (n_samples,)
        The copy; event times unchanged.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = censoring_reference(make_y([2.0, 2.0], [1, 0]))
    >>> bool(y["time"][1] > 2.0), float(y["time"][0])
    (True, 2.0)
    """
    y = y_train.copy()
    cens = ~y["event"]
    y["time"][cens] = np.nextafter(y["time"][cens], np.inf)
    return y


def censoring_survival(y_train: np.ndarray, times: ArrayLike, *, left: bool = False) -> np.ndarray:
    """Kaplan-Meier estimate of the censoring survival ``G`` at ``times``, fitted on ``y_train``.

    Parameters
    ----------
    y_train : structured array, shape (n_samples,)
        Reference data for the censoring distribution (fields ``event``, ``time``).
    times : array-like
        Where to evaluate ``G``.
    left : bool, default=False
        ``True`` gives the left limit ``G(t-)``.

    Returns
    -------
    numpy.ndarray, same shape as ``times``

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 0])
    >>> censoring_survival(y, [2.0, 3.5]).tolist()
    [0.6666666666666667, 0.6666666666666667]
    >>> censoring_survival(y, [2.0], left=True).tolist()
    [1.0]
    """
    times = np.asarray(times, dtype=float)
    est = CensoringDistributionEstimator().fit(y_train)
    at = np.nextafter(times, -np.inf) if left else times
    return est.predict_proba(at.ravel()).reshape(times.shape)


def check_reference(y: np.ndarray, y_train: np.ndarray | None, *, owner: str, horizon: float | None = None
                    ) -> np.ndarray:
    """Check the censoring reference data and return it (``y`` itself when ``y_train`` is None).

    The censoring distribution must be known at every event time of ``y`` that is used (up to ``horizon``),
    or the weights are undefined; the message says which option to change. (Its left limit ``G(T-)`` is then
    positive: it can only reach 0 after the reference's last time.)

    Parameters
    ----------
    y : structured array, shape (n_samples,)
        The outcomes being evaluated (already checked).
    y_train : structured array or None
        The reference for the censoring distribution; None uses ``y``.
    owner : str
        The function named in the error message.
    horizon : float or None, default=None
        Only event times up to it are used.

    Returns
    -------
    structured array
        ``y_train`` (checked) or ``y``.

    Raises
    ------
    ValueError
        If ``y_train`` is not a valid survival outcome, or a used event time of ``y`` lies after its last time.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 5.0], [1, 0, 1])
    >>> check_reference(y, make_y([1.0, 4.0], [1, 0]), owner="demo", horizon=3.0)["time"].tolist()
    [1.0, 4.0]
    >>> check_reference(y, make_y([1.0, 4.0], [1, 0]), owner="demo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: demo: 'y' has event times up to 5, after the last follow-up time of 'y_train' (4), ...
    """
    ref = y if y_train is None else check_survival_y(y_train, name="y_train")
    used = y["time"][y["event"]]
    if horizon is not None:
        used = used[used <= horizon]
    if used.size == 0:
        return ref
    last = float(ref["time"].max())
    if y_train is not None and used.max() > last:
        raise ValueError(
            f"{owner}: 'y' has event times up to {used.max():g}, after the last follow-up time of 'y_train' "
            f"({last:g}), where the censoring distribution is unknown. Set 'tau' (or the times) to at most {last:g}."
        )
    return ref
