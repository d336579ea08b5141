"""
Feature importance
==================

:func:`multisurv.plotting.importance.plot_importance`: a horizontal bar per feature, here the Cox coefficients
per standard deviation (:func:`~multisurv.evaluation.importance.standardised_coefficients`), which put features
measured on different scales side by side. Permutation importance
(:func:`~multisurv.evaluation.importance.permutation_importance_cindex`) is drawn the same way, with its spread
as error bars.
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
from multisurv.evaluation.importance import standardised_coefficients
from multisurv.plotting.importance import plot_importance

table = standardised_coefficients(dict(zip(fit.names, fit.coef)), X)
ax = plot_importance(table, value="std_coef", xlabel="log hazard ratio per SD")
