"""
Calibration at a time point
===========================

:func:`multisurv.plotting.calibration.plot_calibration`: predicted against observed (Kaplan-Meier) survival at
``t0`` in groups of patients, with the observed 95% intervals and the diagonal of perfect calibration
(:func:`~multisurv.evaluation.calibration.calibration_at`). Predicted survival comes from the Breslow baseline
hazard of the development cohort.
"""

import numpy as np
import pandas as pd
from sksurv.datasets import load_veterans_lung_cancer

from multisurv._validation import make_y
from multisurv.evaluation.cox import cox_ph

data, outcome = load_veterans_lung_cancer()
y = make_y(outcome["Survival_in_days"] / 30.44, outcome["Status"])  # months
X = pd.DataFrame({"karnofsky": data["Karnofsky_score"], "age": data["Age_in_years"],
                  "months_from_diagnosis": data["Months_from_Diagnosis"],
                  "small_cell": (data["Celltype"] == "smallcell").astype(float),
                  "adeno": (data["Celltype"] == "adeno").astype(float)})
fit = cox_ph(y, X)
risk = X.to_numpy() @ fit.coef  # the linear predictor: higher = worse
from multisurv.evaluation.baseline import BreslowBaseline
from multisurv.evaluation.calibration import calibration_at
from multisurv.plotting.calibration import plot_calibration

baseline = BreslowBaseline().fit(y, risk)
t0 = 6.0
surv = baseline.predict_survival(risk, t0)
ax = plot_calibration(calibration_at(y, surv, t0, n_groups=5), time_unit="months")
