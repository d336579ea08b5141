"""
C-index comparison
==================

:func:`multisurv.plotting.cindex.plot_cindex_comparison`: the C-index of several models with intervals, per
cohort, from a ``metrics.csv``-shaped table (``model, cohort, cindex, ci_lower, ci_upper``). Here: three
nested Cox models on the veteran trial, apparent C with bootstrap intervals, and a random half of the patients
standing in for a second cohort.
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
from multisurv.evaluation.concordance import concordance
from multisurv.plotting.cindex import plot_cindex_comparison

models = {"Karnofsky": ["karnofsky"], "+ cell type": ["karnofsky", "small_cell", "adeno"],
          "full model": list(X.columns)}
half = np.random.default_rng(0).random(len(y)) < 0.5
rows = []
for name, columns in models.items():
    lp = X[columns].to_numpy() @ cox_ph(y, X[columns]).coef
    for cohort, mask in [("all patients", np.ones(len(y), bool)), ("random half", half)]:
        c = concordance(y[mask], lp[mask], n_bootstrap=300, random_state=0)
        rows.append({"model": name, "cohort": cohort, "cindex": c.cindex, "ci_lower": c.lower, "ci_upper": c.upper})
ax = plot_cindex_comparison(pd.DataFrame(rows))
