"""Survival probabilities from a risk score: the Breslow baseline hazard fitted on training data."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from sksurv.linear_model.coxph import BreslowEstimator

from multisurv._validation import check_consistent_length, check_survival_y

__all__ = ["BreslowBaseline"]


class BreslowBaseline(BaseEstimator):
    """Turn a Cox linear predictor into survival probabilities, S(t | x) = S0(t) ** exp(risk).

    The baseline cumulative hazard is Breslow's estimator given the linear predictor (scikit-survival's
    ``BreslowEstimator``), fitted on the training patients only; applied to new patients it gives the
    survival a Cox model with that linear predictor predicts. This is what calibration and decision curves
    need from models that output only a risk score.

    Attributes
    ----------
    estimator_ : sksurv.linear_model.coxph.BreslowEstimator
        The fitted baseline.
    max_time_ : float
        Last training time; survival is not extrapolated beyond it.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> y = make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1])
    >>> base = BreslowBaseline().fit(y, [0.0, 0.0, 0.0, 0.0])
    >>> base.predict_survival([0.0], 2.5).round(3).tolist()   # Nelson-Aalen: exp(-(1/4 + 1/3))
    [0.558]
    """

    def fit(self, y: ArrayLike, risk: ArrayLike) -> "BreslowBaseline":
        """Fit the baseline on training outcomes ``y`` and linear predictors ``risk``.

        Parameters
        ----------
        y : structured array, shape (n_samples,)
            Training outcomes: fields ``event`` (bool) and ``time`` (float).
        risk : array-like, shape (n_samples,)
            The model's linear predictor for the same patients (uncentred, as the model will predict it).

        Returns
        -------
        BreslowBaseline
            ``self``, fitted (``estimator_``, ``max_time_``).

        Raises
        ------
        ValueError
            When sizes differ or ``risk`` has NaN or infinite values.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> base = BreslowBaseline().fit(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]), [0.0, 0.0, 0.0, 0.0])
        >>> base.max_time_
        4.0
        """
        y = check_survival_y(y)
        risk = np.asarray(risk, dtype=float)
        check_consistent_length(y=y, risk=risk)
        if not np.all(np.isfinite(risk)):
            raise ValueError("'risk' has NaN or infinite values; fit the baseline on the patients the model scores.")
        self.estimator_ = BreslowEstimator().fit(risk, y["event"], y["time"])
        self.max_time_ = float(y["time"].max())
        return self

    def predict_survival(self, risk: ArrayLike, t0: float) -> np.ndarray:
        """Survival probability at ``t0`` for each linear predictor in ``risk``.

        Parameters
        ----------
        risk : array-like, shape (n_samples,)
            Linear predictors on the scale the baseline was fitted on.
        t0 : float
            Time point, in (0, the last training time].

        Returns
        -------
        numpy.ndarray, shape (n_samples,)
            ``S0(t0) ** exp(risk)``.

        Raises
        ------
        ValueError
            If ``t0`` lies beyond the last training time (the baseline is not defined there).

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> base = BreslowBaseline().fit(make_y([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 1]), [0.0, 0.0, 0.0, 0.0])
        >>> base.predict_survival([0.0, np.log(2)], 2.5).round(3)  # S0(2.5) = exp(-(1/4 + 1/3)); then its square
        array([0.558, 0.311])
        """
        check_is_fitted(self, "estimator_")
        if not 0 < t0 <= self.max_time_:
            raise ValueError(f"'t0' must be in (0, {self.max_time_:g}], the training follow-up; got {t0!r}.")
        risk = np.asarray(risk, dtype=float)
        cum_hazard = self.estimator_.cum_baseline_hazard_(t0)
        return np.exp(-cum_hazard * np.exp(risk))
