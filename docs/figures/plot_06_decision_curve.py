"""
Decision curve
==============

:func:`multisurv.plotting.decision_curve.plot_decision_curve`: net benefit at ``t0`` across threshold
probabilities, against treating everyone and treating no one (Vickers and Elkin 2006;
:func:`~multisurv.evaluation.decision_curve.decision_curve`). Several models can be drawn on one axes.
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
from multisurv.evaluation.decision_curve import decision_curve
from multisurv.plotting.decision_curve import plot_decision_curve

t0 = 6.0
event_prob = 1 - BreslowBaseline().fit(y, risk).predict_survival(risk, t0)
karno_only = -X["karnofsky"].to_numpy() * 0.035
karno_prob = 1 - BreslowBaseline().fit(y, karno_only).predict_survival(karno_only, t0)
ax = plot_decision_curve(decision_curve(y, event_prob, t0, name="Cox model"),
                         decision_curve(y, karno_prob, t0, name="Karnofsky only"), time_unit="months")
