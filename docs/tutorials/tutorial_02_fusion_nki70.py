"""
Early against late fusion on real data
======================================

Two blocks of variables on the same patients: five clinical variables and the 70-gene signature of the NKI
breast cancer cohort (van de Vijver et al. 2002; 144 lymph-node-positive patients, metastasis-free survival),
as shipped by the ``survset`` package (the ``experiments`` extra, read offline). The question a multimodal study
asks: does fusing the blocks beat the best single block, and is early or late fusion better?

This is a quick version of ``experiments/real_data_fusion/run.py`` (which adds repeated CV, bootstrap optimism
and a second data set): one 5-fold cross-validation, every model refitted from scratch in every fold, selection
included, with the same folds for every model so that the comparison is paired.
"""

# %%
# The data: two prefixed blocks
# -----------------------------
# multisurv finds a modality's columns by their prefix: ``clin__`` for the clinical block, ``gene__`` here for
# the genes. ``y`` is the structured survival array (``event``, ``time``) every multisurv function takes.
import numpy as np
import pandas as pd
from SurvSet.data import SurvLoader

from multisurv._validation import make_y

df = SurvLoader().load_dataset("nki70")["df"]
genes = df.filter(regex="^num_").drop(columns="num_Age")
genes.columns = ["gene__" + c[4:] for c in genes.columns]
clinical = pd.DataFrame({
    "clin__age": df["num_Age"].astype(float),
    "clin__diam_gt2cm": (df["fac_Diam"] == ">2cm").astype(float),
    "clin__nodes_ge4": (df["fac_N"] == ">=4").astype(float),
    "clin__er_positive": (df["fac_ER"] == "Positive").astype(float),
    "clin__grade_poor": (df["fac_Grade"] == "Poorly diff").astype(float),
    "clin__grade_well": (df["fac_Grade"] == "Well diff").astype(float),
})
X = pd.concat([clinical, genes], axis=1)
X.index = [f"N{i:03d}" for i in range(len(X))]
y = make_y(df["time"].astype(float), df["event"].astype(bool))
print(f"{len(X)} patients, {y['event'].sum()} events; {clinical.shape[1]} clinical columns, {genes.shape[1]} genes")

# %%
# The four models
# ---------------
# Each modality becomes a score (:class:`~multisurv.scores.modality_score.ModalityScore`): the clinical score is
# a plain Cox model on every clinical column (a keep-all variance filter), the gene score a LASSO-Cox whose
# penalty is chosen by an inner cross-validation. Early fusion fits one ridge Cox on the clinical columns and
# the genes the LASSO kept; late fusion fits a Cox model on the two scores, computed out of fold.
from multisurv.fusion.early import EarlyFusionCox
from multisurv.fusion.late import LateFusionCox
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.filters import VarianceFilter
from multisurv.selection.lasso_cox import LassoCoxSelector

clin_score = ModalityScore(name="clinscore", prefix="clin__", selector=VarianceFilter())
gene_score = ModalityScore(name="genescore", prefix="gene__", selector=LassoCoxSelector(cv=3, n_alphas=20),
                           random_state=0)
models = {
    "clinical": clin_score,
    "genes": gene_score,
    "early fusion": EarlyFusionCox(scores=[clin_score, gene_score], random_state=0),
    "late fusion": LateFusionCox(scores=[clin_score, gene_score], cv=3, random_state=0),
}

# %%
# Cross-validation that refits everything
# ---------------------------------------
# In each fold every model is cloned and fitted on the training patients only (selection and penalty
# included), then scores the held-out patients. Selecting genes on all 144 patients first would leak the
# held-out outcomes into the model: see :doc:`/validated`. Each patient ends up with one out-of-fold risk per
# model. :func:`multisurv.evaluation.resampling.validate` does the same loop for any estimator, with bootstrap
# optimism correction as an alternative.
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

import warnings

from multisurv.evaluation.resampling import harrell_c

folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(X, y["event"]))
oof = pd.DataFrame(np.nan, index=X.index, columns=list(models))
per_fold = []
with warnings.catch_warnings(record=True) as caught:  # kept, and counted below
    warnings.simplefilter("always")
    for k, (train, test) in enumerate(folds):
        for name, model in models.items():
            fitted = clone(model).fit(X.iloc[train], y[train])
            risk = np.asarray(fitted.predict(X.iloc[test]), dtype=float)
            oof.iloc[test, oof.columns.get_loc(name)] = risk
            per_fold.append({"fold": k + 1, "model": name, "C": harrell_c(y[test], risk)})
empty = sum("selected no feature" in str(w.message) for w in caught)
print(f"{empty} LASSO fits (of the gene score, inside any model and fold) kept no gene: the gene score is then "
      "constant and adds nothing in that fit.")
per_fold = pd.DataFrame(per_fold).pivot(index="fold", columns="model", values="C")[list(models)]
per_fold.round(3)

# %%
# Out-of-fold C-index with intervals
# ----------------------------------
from multisurv.evaluation.concordance import concordance

summary = []
for name in models:
    c = concordance(y, oof[name].to_numpy(), n_bootstrap=500, random_state=0)
    summary.append({"model": name, "cohort": "out of fold", "cindex": c.cindex, "ci_lower": c.lower,
                    "ci_upper": c.upper, "mean of folds": per_fold[name].mean()})
summary = pd.DataFrame(summary)
summary.round(3)

# %%
# Is late fusion better than early fusion?
# ----------------------------------------
# Two C-indices on the same patients are correlated: test their difference, not their separate intervals.
# :func:`~multisurv.evaluation.comparison.compare_concordance` gives the paired difference with a bootstrap
# interval and a p-value.
from multisurv.evaluation.comparison import compare_concordance

diff = compare_concordance(y, oof["late fusion"].to_numpy(), oof["early fusion"].to_numpy(), n_bootstrap=500,
                           random_state=0)
verdict = ("cannot be told apart" if diff.lower <= 0 <= diff.upper else
           "late fusion is better" if diff.difference > 0 else "early fusion is better")
print(f"late - early: {diff.difference:+.3f} (95% CI {diff.lower:+.3f} to {diff.upper:+.3f}), p = {diff.p_value:.3f}: "
      f"{verdict}.")
best_block = max(summary.loc[summary["model"].isin(["clinical", "genes"]), "cindex"])
best_fusion = max(summary.loc[summary["model"].str.contains("fusion"), "cindex"])
print(f"best single block C = {best_block:.3f}, best fusion C = {best_fusion:.3f}")

# %%
# The figure for the paper: out-of-fold C-index per model with its interval, and the fold-by-fold pairs.
import matplotlib.pyplot as plt

from multisurv.plotting.cindex import plot_cindex_comparison

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.2, 1]})
plot_cindex_comparison(summary, ax=left)
left.set_title("Out-of-fold C-index (95% CI)")
for fold, row in per_fold.iterrows():
    right.plot(range(len(models)), row.to_numpy(), marker="o", color="0.6", lw=1)
right.plot(range(len(models)), per_fold.mean().to_numpy(), marker="o", color="C3", lw=2.5, label="mean")
right.set_xticks(range(len(models)), list(models), rotation=20)
right.set_ylabel("C-index in the held-out fold")
right.set_title("The same 5 folds for every model")
right.legend()
fig.tight_layout()

# %%
# With 48 events the intervals are about 0.15 wide, so differences of a few hundredths between models are
# within noise; the paired test above says whether this one is. The LASSO on 70 genes with 115 training
# patients often keeps nothing, which is what limits late fusion here; ``experiments/real_data_fusion``
# repeats the comparison with repeated CV and bootstrap optimism. Report the paired comparison, not the
# best-looking number.
