"""
Time-dependent ROC curves
=========================

:func:`multisurv.plotting.td_roc.plot_td_roc`: cumulative/dynamic ROC curves at chosen times with inverse
probability of censoring weights, each with its AUC (:func:`~multisurv.evaluation.td_auc.time_dependent_roc`;
the AUCs agree with R's ``riskRegression::Score``).
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
from multisurv.evaluation.td_auc import time_dependent_roc
from multisurv.plotting.td_roc import plot_td_roc

rocs = [time_dependent_roc(y, risk, t) for t in (3.0, 6.0, 12.0)]
ax = plot_td_roc(*rocs, time_unit="months")
