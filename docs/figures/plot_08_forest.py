"""
Forest plot of hazard ratios
============================

:func:`multisurv.plotting.forest.plot_forest`: hazard ratios with their intervals on a log axis, and the values
written beside them; the table comes from :func:`~multisurv.evaluation.cox.cox_ph` (checked against R's
``coxph``) or from a fusion model's coefficients.
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
from multisurv.plotting.forest import plot_forest

table = fit.to_frame().reset_index().rename(columns={"p_value": "p"})
ax = plot_forest(table[["term", "hr", "lower", "upper", "p"]])
