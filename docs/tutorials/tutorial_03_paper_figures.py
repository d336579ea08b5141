"""
A Kaplan-Meier figure and a nomogram for a paper
================================================

Journals ask for specific things: numbers at risk under the curves, the log-rank p and hazard ratio in the
panel, colour-blind-safe colours, a given size in millimetres, vector PDF plus a 300-dpi PNG, and several
panels in one figure. Every multisurv ``plot_*`` function draws into an ``Axes`` you pass (``ax=``) and returns
it, so a publication figure is ordinary matplotlib around them.

Data: the Veterans' Administration lung cancer trial (137 patients; ``sksurv.datasets``, shipped offline).
"""

# %%
# A Cox model and its risk groups
# -------------------------------
# Fit a Cox model (:func:`~multisurv.evaluation.cox.cox_ph`, Efron ties, as R's ``coxph``) on the Karnofsky
# performance score, age and cell type; the linear predictor is the risk (higher = worse).
import numpy as np
import pandas as pd
from sksurv.datasets import load_veterans_lung_cancer

from multisurv._validation import make_y
from multisurv.evaluation.cox import cox_ph

data, outcome = load_veterans_lung_cancer()
y = make_y(outcome["Survival_in_days"] / 30.44, outcome["Status"])  # months
X = pd.DataFrame({"karnofsky": data["Karnofsky_score"], "age": data["Age_in_years"],
                  "large_cell": (data["Celltype"] == "large").astype(float),
                  "small_cell": (data["Celltype"] == "smallcell").astype(float),
                  "squamous": (data["Celltype"] == "squamous").astype(float)})
fit = cox_ph(y, X)
fit.to_frame().round(3)

# %%
# Panel A: Kaplan-Meier curves of the risk groups
# -----------------------------------------------
# :class:`~multisurv.evaluation.cutoffs.RiskCutoff` fits the cut-off (here tertiles) on these patients; in a
# validation study fit it on development and apply it unchanged to the external cohort.
# :func:`~multisurv.plotting.km.plot_risk_groups` draws the curves with 95% bands, the table of numbers at risk,
# the log-rank p and the hazard ratios against the lowest group.
import matplotlib.pyplot as plt

from multisurv.evaluation.cutoffs import RiskCutoff
from multisurv.plotting.km import plot_risk_groups

coef = dict(zip(fit.names, fit.coef))
risk = X[list(coef)].to_numpy() @ np.array(list(coef.values()))
cutoff = RiskCutoff(method="tertiles").fit(None, risk)

mm = 1 / 25.4
fig = plt.figure(figsize=(180 * mm, 95 * mm))        # a double-column figure: 180 mm wide
panel_a = fig.add_axes([0.07, 0.30, 0.38, 0.62])
plot_risk_groups(y, risk, cutoff, ax=panel_a, title="", time_unit="months")
panel_a.set_xlim(0, 24)
panel_a.text(-0.12, 1.04, "A", transform=panel_a.transAxes, fontsize=14, fontweight="bold")

# %%
# Panel B: the nomogram of the same model
# ---------------------------------------
# :func:`~multisurv.evaluation.nomogram.cox_nomogram` turns the coefficients into points (0-100 for the widest
# variable), total points into the linear predictor and, with a Breslow baseline fitted on the same patients,
# into survival at chosen times (agrees with ``rms::nomogram``; see :doc:`/reference/evidence`).
from multisurv.evaluation.baseline import BreslowBaseline
from multisurv.evaluation.nomogram import cox_nomogram, nomogram_values
from multisurv.plotting.nomogram import plot_nomogram

X_nomo = X[["karnofsky", "age"]].assign(cell_type_risk=X[["large_cell", "small_cell", "squamous"]].to_numpy()
                                        @ np.array([coef["large_cell"], coef["small_cell"], coef["squamous"]]))
coef_nomo = {"karnofsky": coef["karnofsky"], "age": coef["age"], "cell_type_risk": 1.0}
lp = X_nomo.to_numpy() @ np.array(list(coef_nomo.values()))
baseline = BreslowBaseline().fit(y, lp)
nomogram = cox_nomogram(coef_nomo, nomogram_values(X_nomo), baseline=baseline, times=[3, 6])
panel_b = fig.add_axes([0.55, 0.05, 0.43, 0.87])
plot_nomogram(nomogram, ax=panel_b, labels={"karnofsky": "Karnofsky score", "age": "Age (years)",
                                            "cell_type_risk": "Cell type (log HR)"}, time_unit="months")
panel_b.text(-0.02, 1.04, "B", transform=panel_b.transAxes, fontsize=14, fontweight="bold")

# %%
# Export for the journal
# ----------------------
# :func:`~multisurv.plotting.export.save_figure` writes every format at once (vector PDF, 300-dpi PNG by
# default) and returns the paths.
import tempfile
from pathlib import Path

from multisurv.plotting.export import save_figure

paths = save_figure(fig, Path(tempfile.mkdtemp()) / "figure2", formats=("pdf", "png"), dpi=300)
print([p.name for p in paths])

# %%
# Restyling one curve: ``plot_km`` with your own groups
# -----------------------------------------------------
# :func:`~multisurv.plotting.km.plot_km` takes any grouping (here the trial arms), labels, colours and what to
# show; the returned ``Axes`` can be changed like any other.
from multisurv.plotting.km import plot_km

arm = np.where(data["Treatment"] == "test", "Test chemotherapy", "Standard chemotherapy")
ax = plot_km(y, arm, colors=["#0072B2", "#D55E00"], show_hr=False, show_median=True, time_unit="months")
ax.set_xlim(0, 24)
ax.set_title("Overall survival by treatment arm", loc="left")
ax.figure.set_size_inches(6, 4.5)
