"""
Maximally selected cut-off
==========================

:func:`multisurv.plotting.cutoff.plot_maxstat_scan`: the standardised log-rank statistic at every candidate
cut-off between the 10th and 90th percentiles, the chosen one, and the p-value corrected for the search
(Lausen and Schumacher 1992, as R's ``maxstat``), from :func:`~multisurv.evaluation.cutoffs.maxstat_cutoff`.
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
from multisurv.evaluation.cutoffs import maxstat_cutoff
from multisurv.plotting.cutoff import plot_maxstat_scan

result = maxstat_cutoff(y, risk)
ax = plot_maxstat_scan(result)
print(f"cut-off {result.cutoff:.3f}")
