"""Logistic nomogram: points per variable value and total points -> probability of the event (rms::nomogram of
an lrm with ``fun = plogis``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from multisurv.evaluation.nomogram import Nomogram, cox_nomogram

__all__ = ["DEFAULT_PROBABILITY_AT", "LogisticNomogram", "logistic_nomogram"]

#: Probabilities marked on the probability axis by default (those inside the total-points range are kept).
DEFAULT_PROBABILITY_AT = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class LogisticNomogram:
    """A logistic model as a nomogram.

    Parameters
    ----------
    intercept : float
    points_scale : Nomogram
        The variable axes and the points <-> linear predictor map (shared with the Cox nomogram).
    probability_axis : pandas.DataFrame
        ``probability``, ``points``: the total points at which the predicted probability is each value.

    Examples
    --------
    Built by :func:`logistic_nomogram`:

    >>> nom = logistic_nomogram({"age": 0.05, "stage": 1.0}, -4.0, {"age": [40, 80], "stage": [0, 1]},
    ...                         probability_at=[0.2, 0.5])
    >>> nom.intercept, nom.probability_axis["points"].round(2).tolist()
    (-4.0, [30.69, 100.0])
    """

    intercept: float
    points_scale: Nomogram
    probability_axis: pd.DataFrame

    @property
    def axes(self) -> dict:
        """Per variable, its axis (``value``, ``points``).

        Examples
        --------
        >>> nom = logistic_nomogram({"age": 0.05, "stage": 1.0}, -4.0, {"age": [40, 80], "stage": [0, 1]},
        ...                         probability_at=[0.2, 0.5])
        >>> nom.axes["age"]
           value  points
        0   40.0     0.0
        1   80.0   100.0
        """
        return self.points_scale.axes

    def points(self, X: pd.DataFrame) -> np.ndarray:
        """Total points of each row of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame
            One row per patient with (at least) the nomogram's variables.

        Returns
        -------
        numpy.ndarray, shape (n_samples,)
            The total points.

        Raises
        ------
        ValueError
            When ``X`` lacks a variable of the nomogram.

        Examples
        --------
        >>> nom = logistic_nomogram({"age": 0.05, "stage": 1.0}, -4.0, {"age": [40, 80], "stage": [0, 1]},
        ...                         probability_at=[0.2, 0.5])
        >>> nom.points(pd.DataFrame({"age": [60.0], "stage": [1]})).tolist()  # 50 + 50
        [100.0]
        """
        return self.points_scale.points(X)

    def probability_from_points(self, total: ArrayLike) -> np.ndarray:
        """Predicted probability of total points: ``plogis(intercept + lp(total))``.

        Parameters
        ----------
        total : array-like
            Total points.

        Returns
        -------
        numpy.ndarray
            The predicted probability of each total.

        Examples
        --------
        >>> nom = logistic_nomogram({"age": 0.05, "stage": 1.0}, -4.0, {"age": [40, 80], "stage": [0, 1]},
        ...                         probability_at=[0.2, 0.5])
        >>> nom.probability_from_points([0.0, 150.0]).round(4)  # plogis(-2) and plogis(1)
        array([0.1192, 0.7311])
        """
        return 1.0 / (1.0 + np.exp(-(self.intercept + self.points_scale.lp_from_points(total))))

    def points_from_probability(self, prob: ArrayLike) -> np.ndarray:
        """Total points whose predicted probability is ``prob``.

        Parameters
        ----------
        prob : array-like
            Probabilities in (0, 1).

        Returns
        -------
        numpy.ndarray
            The total points of each probability (inverse of :meth:`probability_from_points`).

        Examples
        --------
        >>> nom = logistic_nomogram({"age": 0.05, "stage": 1.0}, -4.0, {"age": [40, 80], "stage": [0, 1]},
        ...                         probability_at=[0.2, 0.5])
        >>> nom.points_from_probability([0.5]).tolist()  # plogis(-4 + 4) = 0.5: a linear predictor of 4
        [100.0]
        """
        prob = np.asarray(prob, dtype=float)
        lp = np.log(prob / (1 - prob)) - self.intercept
        return (lp - self.points_scale.lp_offset) * self.points_scale.scale

    def to_frame(self) -> pd.DataFrame:
        """Every axis in one long table: ``axis``, ``value``, ``points`` (the probability axis as ``"probability"``).

        Returns
        -------
        pandas.DataFrame
            Columns ``axis``, ``value``, ``points``: the variable axes in order, then the probability axis.

        Examples
        --------
        >>> nom = logistic_nomogram({"age": 0.05, "stage": 1.0}, -4.0, {"age": [40, 80], "stage": [0, 1]},
        ...                         probability_at=[0.2, 0.5])
        >>> nom.to_frame().round(2)
                  axis  value  points
        0          age   40.0    0.00
        1          age   80.0  100.00
        2        stage    0.0    0.00
        3        stage    1.0   50.00
        4  probability    0.2   30.69
        5  probability    0.5  100.00
        """
        rows = [frame.assign(axis=name) for name, frame in self.axes.items()]
        rows.append(self.probability_axis.rename(columns={"probability": "value"}).assign(axis="probability"))
        return pd.concat(rows, ignore_index=True)[["axis", "value", "points"]]


def logistic_nomogram(coef: Mapping[str, float], intercept: float, values: Mapping[str, ArrayLike], *,
                      probability_at: Sequence[float] = DEFAULT_PROBABILITY_AT) -> LogisticNomogram:
    """Build the nomogram of a logistic model: 0-100 points for the widest variable, total points to probability.

    Parameters
    ----------
    coef : mapping
        Coefficient (log odds ratio) per variable; code a binary variable 0/1.
    intercept : float
    values : mapping
        Axis values per variable (e.g. :func:`multisurv.evaluation.nomogram.nomogram_values` of the development
        data); the points scale depends on these ranges, as in rms.
    probability_at : sequence of float
        Probabilities to mark; those outside the total-points range are dropped.

    Returns
    -------
    LogisticNomogram

    Notes
    -----
    Points per variable are those of :func:`multisurv.evaluation.nomogram.cox_nomogram` (``rms::nomogram``'s
    scale). Total points ``T`` map to ``lp = T / scale + lp_offset`` and ``P = plogis(intercept + lp)``; the
    probability axis is the exact inverse, where rms interpolates on a grid (agreement 1e-3 points).

    References
    ----------
    .. [1] Harrell, F. E. "Regression Modeling Strategies", 2nd ed., Springer, 2015, section 10.

    Examples
    --------
    >>> nom = logistic_nomogram({"age": 0.05, "stage": 1.0}, -4.0, {"age": [40, 80], "stage": [0, 1]},
    ...                         probability_at=[0.2, 0.5])
    >>> nom.axes["age"]["points"].tolist(), nom.axes["stage"]["points"].tolist()
    ([0.0, 100.0], [0.0, 50.0])
    >>> round(float(nom.probability_from_points(0.0)), 4)   # age 40, stage 0: plogis(-4 + 2)
    0.1192
    """
    scale = cox_nomogram(coef, values)
    prob = np.asarray(probability_at, dtype=float)
    if prob.ndim != 1 or np.any((prob <= 0) | (prob >= 1)):
        raise ValueError(f"'probability_at' must be probabilities strictly between 0 and 1; got {probability_at!r}.")
    nom = LogisticNomogram(intercept=float(intercept), points_scale=scale, probability_axis=pd.DataFrame())
    pts = nom.points_from_probability(prob)
    keep = (pts >= 0) & (pts <= scale.max_points)
    return LogisticNomogram(intercept=float(intercept), points_scale=scale,
                            probability_axis=pd.DataFrame({"probability": prob[keep], "points": pts[keep]}))
