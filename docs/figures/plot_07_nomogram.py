"""
Nomogram
========

:func:`multisurv.plotting.nomogram.plot_nomogram`: points per variable, total points, the linear predictor and
survival at chosen times, from :func:`~multisurv.evaluation.nomogram.cox_nomogram` (agrees with
``rms::nomogram``). In a study the late-fusion nomogram has one axis per modality score.
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
from multisurv.evaluation.nomogram import cox_nomogram, nomogram_values
from multisurv.plotting.nomogram import plot_nomogram

coef = dict(zip(fit.names, fit.coef))
nomogram = cox_nomogram(coef, nomogram_values(X), baseline=BreslowBaseline().fit(y, risk), times=[3, 12])
ax = plot_nomogram(nomogram, time_unit="months")
