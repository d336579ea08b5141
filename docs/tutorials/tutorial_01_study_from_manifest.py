"""
A complete study from a manifest
================================

The five steps of a study (**manifest -> validate -> config -> fit -> report**) on a small synthetic cohort of
the demo's kind: 150 development and 75 external GIST-like patients with a CT, a slide and seven clinical
variables, whose true risk model is known.

To keep the build to seconds this tutorial starts from **feature tables** instead of images: the radiomics and
pathomics features are simulated as noisy readouts of the cohort's hidden imaging drivers (what extraction of
the CT and slides would measure). With images, step 3 is ``multisurv extract radiomics`` and
``multisurv extract pathomics`` (or a study config run by ``multisurv run``, which extracts for you); everything
after it is the same.
"""

# %%
# 1. The manifest
# ---------------
# One row per patient: ``patient_id``, ``cohort``, ``time``, ``event``, then each modality's image paths and the
# clinical variables of the spec. The features are given as tables here, so the manifest has no image column.
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from multisurv.cohort.synthetic import make_synthetic_table

work = Path(tempfile.mkdtemp(prefix="multisurv_tutorial_"))
manifest, truth = make_synthetic_table(n_development=150, n_external=75, random_state=1)
has_ct, has_wsi = manifest["ct_image"].notna().to_numpy(), manifest["wsi"].notna().to_numpy()
manifest = manifest.drop(columns=["ct_image", "ct_mask", "wsi"])
manifest.to_csv(work / "manifest.csv", index=False)
manifest.head()

# %%
# 2. Validate it
# --------------
# :func:`~multisurv.cohort.manifest.validate_manifest` returns every problem at once (an empty list when the
# manifest is clean). The default clinical spec is the demo's (``data_schemas/clinical_gist.v1.yaml``);
# ``path_columns={}``: this study reads no image (``multisurv validate --config study.yaml`` and
# ``multisurv run`` ask the study's modalities which columns they read).
from multisurv.cohort.manifest import validate_manifest

print(validate_manifest(work / "manifest.csv", path_columns={}))

# %%
# A manifest with mistakes gets one sentence per problem: where, what was expected, what was found, the fix.
broken = manifest.astype({"event": object}).copy()
broken.loc[3, "time"] = -3
broken.loc[5, "event"] = "yes"
broken.loc[8, "sex"] = "M"
broken.to_csv(work / "broken.csv", index=False)
for problem in validate_manifest(work / "broken.csv", path_columns={}):
    print("-", problem)

# %%
# 3. Feature tables
# -----------------
# Simulated here (see the introduction): 40 radiomics features, three of which carry tumour size and the
# radiological driver ``u_ct``, and 60 pathomics features, three of which carry the mitotic count and the
# histological driver ``u_path``. The rest are noise, as most radiomics and deep features are for a given
# outcome. A patient without a CT (or slide) is absent from that table.
rng = np.random.default_rng(0)


def feature_table(prefix, signals, n_noise, keep):
    columns = {f"{prefix}signal_{i}": truth[s].to_numpy() + rng.normal(0, 0.6, len(truth))
               for i, s in enumerate(signals)}
    columns.update({f"{prefix}noise_{i:02d}": rng.normal(0, 1, len(truth)) for i in range(n_noise)})
    table = pd.DataFrame(columns, index=pd.Index(manifest["patient_id"], name="patient_id"))
    return table[keep]


feature_table("ct__", ["z_size", "u_ct", "u_ct"], 37, has_ct).to_csv(work / "radiomics.csv")
feature_table("wsi__", ["z_mitotic", "u_path", "u_path"], 57, has_wsi).to_csv(work / "pathomics.csv")
print(f"{has_ct.sum()} patients with CT features, {has_wsi.sum()} with slide features, {len(manifest)} in all")

# %%
# 4. The study config
# -------------------
# One ``study_config.v1`` file (``data_schemas/study_config.v1.yaml`` is the commented reference) says the whole
# study: the manifest, the modalities (here two ``table`` modalities reading the feature tables, and the clinical
# variables of the spec), each modality's selection pipeline (``selector``; without it, the ``selection``
# section's LASSO), the fusions and ``figures.primary``, the model that is saved. ``late`` is late fusion fitted
# on out-of-fold scores.
config = """
schema: study_config.v1
name: tutorial
out: run
cohort: {manifest: manifest.csv, development: development}
modalities:
  radiomics: {kind: table, path: radiomics.csv, prefix: "ct__", score: radscore,
              selector: [{variance: {}}, {lasso: {cv: 5, n_alphas: 30}}]}
  pathomics: {kind: table, path: pathomics.csv, prefix: "wsi__", score: patscore,
              selector: [{variance: {}}, {lasso: {cv: 5, n_alphas: 30}}]}
  clinical: {selector: [{lasso: {cv: 5, n_alphas: 30}}]}
fusion: {strategies: [late], missing: mean, cv: 5}
figures: {primary: late_fusion}
seed: 0
"""
(work / "study.yaml").write_text(config)

# %%
# 5. Fit on the development centre, score everyone
# ------------------------------------------------
# ``multisurv fit`` checks the config (every problem listed), fits the primary model on the development patients
# only and saves it in ``model/``; ``multisurv predict`` scores any cohort with it. (``multisurv run`` on the same
# file also evaluates every model and writes the report.) The same in Python:
# :func:`multisurv.study.run.fit_study` and :func:`multisurv.persistence.load_model`.
from multisurv.cli import main

code = main(["fit", str(work / "study.yaml"), "--out", str(work / "fitted"), "--no-progress"])
code += main(["predict", str(work / "fitted" / "model"), str(work / "manifest.csv"), "--features",
              str(work / "radiomics.csv"), str(work / "pathomics.csv"), "--out", str(work / "scores.csv")])
assert code == 0, "fit or predict failed; its message is printed above"
scores = pd.read_csv(work / "scores.csv", dtype={"patient_id": str}).set_index("patient_id")
scores.head()

# %%
# 6. The report: discrimination with intervals
# --------------------------------------------
# Harrell's C-index with a 95% bootstrap interval for each score and the fusion, on the development cohort
# (apparent: optimistic) and on the external centre (nothing was fitted there). A single-modality score is
# evaluated on the patients who have that modality; the fusion scores everyone.
from multisurv._validation import make_y
from multisurv.evaluation.concordance import concordance

data = manifest.set_index("patient_id").join(scores)
data["true_lp"] = truth.set_index("patient_id")["true_lp"]
rows = []
for model in ["radscore", "patscore", "clinscore", "risk", "true_lp"]:
    for cohort in ["development", "external"]:
        part = data[(data["cohort"] == cohort) & data[model].notna()]
        c = concordance(make_y(part["time"], part["event"].astype(bool)), part[model], n_bootstrap=300,
                        random_state=0)
        rows.append({"model": "late fusion" if model == "risk" else model, "cohort": cohort, "n": len(part),
                     "events": int(part["event"].sum()), "C": round(c.cindex, 3),
                     "95% CI": f"{c.lower:.3f}-{c.upper:.3f}"})
pd.DataFrame(rows)

# %%
# The true linear predictor is the ceiling no model can beat on average. Fusing the three scores should beat each
# one alone, as each modality sees a different hidden driver of recurrence.
#
# 7. Risk groups and Kaplan-Meier curves
# --------------------------------------
# The cut-off is the development median of the fusion risk, fitted on development and applied unchanged to
# the external centre (cutting the external cohort at its own median would be optimistic).
import matplotlib.pyplot as plt

from multisurv.evaluation.cutoffs import RiskCutoff
from multisurv.plotting.km import plot_risk_groups

dev, ext = data[data["cohort"] == "development"], data[data["cohort"] == "external"]
cutoff = RiskCutoff(method="median").fit(None, dev["risk"].to_numpy())
fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
for ax, part, name in [(axes[0], dev, "Development"), (axes[1], ext, "External")]:
    plot_risk_groups(make_y(part["time"], part["event"].astype(bool)), part["risk"].to_numpy(), cutoff, ax=ax,
                     title=f"{name}: late fusion", time_unit="months")
fig.tight_layout()

# %%
# In a full study (``multisurv run study.yaml``) these tables and figures, with calibration, decision curves,
# time-dependent ROC, the nomogram and a TRIPOD-style checklist, are written to ``report.html``; see
# :doc:`/getting_started` for how to read it and :doc:`/your_study` for the config.
