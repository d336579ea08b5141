"""
Scoring a new cohort with a saved model
=======================================

A published model is used long after it was fitted: at another hospital, on patients recruited later, by
someone who never saw the development data. multisurv saves a fitted model as a folder (``multisurv fit``,
:func:`multisurv.persistence.save_model`) that records its config, the package versions and the SHA-256 of the
training data, and loads it back only when the file is intact and the versions are compatible
(:func:`multisurv.persistence.load_model`). This tutorial fits a model, scores a new centre with it, and shows
what loading refuses.
"""

# %%
# Fit and save a model
# --------------------
# The development data: a synthetic GIST-like cohort (clinical variables and a radiomics feature table, as in
# :doc:`tutorial_01_study_from_manifest`).
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from multisurv.cli import main
from multisurv.cohort.synthetic import make_synthetic_table

work = Path(tempfile.mkdtemp(prefix="multisurv_saved_model_"))
rng = np.random.default_rng(0)


def write_centre(name, n, seed):
    """Manifest and radiomics table of one centre (features simulated from the hidden CT driver)."""
    manifest, truth = make_synthetic_table(n_development=n, n_external=0, random_state=seed)
    manifest["patient_id"] = [f"{name}-{i:03d}" for i in range(n)]
    manifest = manifest.drop(columns=["ct_image", "ct_mask", "wsi"])  # features come as a table: no image column
    manifest.to_csv(work / f"{name}.csv", index=False)
    features = {"ct__signal_0": truth["z_size"] + rng.normal(0, 0.6, n),
                "ct__signal_1": truth["u_ct"] + rng.normal(0, 0.6, n)}
    features.update({f"ct__noise_{i:02d}": rng.normal(0, 1, n) for i in range(18)})
    pd.DataFrame(features).set_index(manifest["patient_id"]).to_csv(work / f"{name}_radiomics.csv")
    return manifest, truth


write_centre("development", 160, seed=3)
(work / "study.yaml").write_text("""
schema: study_config.v1
name: saved_model
out: run
cohort: {manifest: development.csv}
modalities:
  radiomics: {kind: table, path: development_radiomics.csv, prefix: "ct__", score: radscore,
              selector: [{lasso: {cv: 5, n_alphas: 20}}]}
  clinical: {selector: [{lasso: {cv: 5, n_alphas: 20}}]}
fusion: {strategies: [late], cv: 3}
seed: 0
""")
assert main(["fit", str(work / "study.yaml"), "--out", str(work / "fitted"), "--no-progress"]) == 0
model_dir = work / "fitted" / "model"

# %%
# What the model folder records
# -----------------------------
# ``manifest.json`` holds the study config (paths made absolute), the Python and package versions, the SHA-256 of
# the model file and of the development features it was fitted on, and facts such as the apparent C-index.
import json

record = json.loads((model_dir / "manifest.json").read_text())
print(sorted(p.name for p in model_dir.iterdir()))
print({k: record[k] for k in record if k not in ("config", "data", "versions", "feature_columns")})
print(len(record["feature_columns"]), "feature columns, e.g.", record["feature_columns"][:3])
print("versions:", record.get("versions"))

# %%
# Score a new centre
# ------------------
# Patients from another hospital, seen after the model was published. ``multisurv predict`` applies the saved
# model unchanged (the clinical imputation and encoding learned on development included) and writes one row per
# patient: the fused risk and each modality's score.
new_manifest, new_truth = write_centre("new_centre", 90, seed=11)
assert main(["predict", str(model_dir), str(work / "new_centre.csv"), "--features",
             str(work / "new_centre_radiomics.csv"), "--out", str(work / "new_centre_scores.csv")]) == 0
scores = pd.read_csv(work / "new_centre_scores.csv", dtype={"patient_id": str}).set_index("patient_id")
scores.head()

# %%
# The same in Python, with the model object in hand:
from multisurv.persistence import load_model

model, manifest = load_model(model_dir)
X_new = model.features(new_manifest.set_index("patient_id"),
                       [pd.read_csv(work / "new_centre_radiomics.csv", dtype={"patient_id": str})
                        .set_index("patient_id")])
print(type(model.estimator).__name__, "on", X_new.shape[1], "columns")
print(np.allclose(model.predict_frame(X_new)["risk"].to_numpy(), scores["risk"].to_numpy()))

# %%
# How well does it transfer?
# --------------------------
# The external C-index with its bootstrap interval, and the Kaplan-Meier curves of the risk groups cut at the
# development median (the cut-off is part of the published model: never refit it on the new centre).
import matplotlib.pyplot as plt

from multisurv._validation import make_y
from multisurv.evaluation.concordance import concordance
from multisurv.evaluation.cutoffs import RiskCutoff
from multisurv.plotting.km import plot_risk_groups

y_new = make_y(new_manifest["time"], new_manifest["event"].astype(bool))
c = concordance(y_new, scores["risk"].to_numpy(), n_bootstrap=500, random_state=0)
print(f"new centre: C = {c.cindex:.3f} (95% CI {c.lower:.3f}-{c.upper:.3f}), {c.n} patients, {c.n_events} events")

dev_scores = model.predict_frame(model.features(pd.read_csv(work / "development.csv", dtype={"patient_id": str})
                                                .set_index("patient_id"),
                                                [pd.read_csv(work / "development_radiomics.csv",
                                                             dtype={"patient_id": str}).set_index("patient_id")]))
cutoff = RiskCutoff(method="median").fit(None, dev_scores["risk"].to_numpy())   # fitted on development
ax = plot_risk_groups(y_new, scores["risk"].to_numpy(), cutoff, title="New centre, development median cut-off")
ax.figure.set_size_inches(6.5, 4.8)

# %%
# What loading refuses
# --------------------
# A model file changed after saving is not read (its SHA-256 no longer matches the record); a model saved with
# another major.minor version of Python or of a package the scores depend on (numpy, scikit-learn,
# scikit-survival...) is refused unless ``allow_version_mismatch=True`` (``--allow-version-mismatch``), because
# the scores could differ.
from multisurv.persistence import ModelLoadError

model_file = next(p for p in model_dir.iterdir() if p.name != "manifest.json")
model_file.write_bytes(model_file.read_bytes() + b"\0")
try:
    load_model(model_dir)
except ModelLoadError as error:
    print(error)
