"""
Risk groups of a score
======================

:func:`multisurv.plotting.km.plot_risk_groups`: the Kaplan-Meier curves of the groups a fitted
:class:`~multisurv.evaluation.cutoffs.RiskCutoff` makes (median, tertiles, a fixed published threshold or the
maximally selected log-rank cut-off). The cut-off is fitted on development risks and applied unchanged to
other cohorts.
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
from multisurv.evaluation.cutoffs import RiskCutoff
from multisurv.plotting.km import plot_risk_groups

cutoff = RiskCutoff(method="tertiles").fit(None, risk)
ax = plot_risk_groups(y, risk, cutoff, time_unit="months")
ax.set_xlim(0, 24)
