"""Check the feature-level generator against the image-level one (step 2; step 1 is ``extract_image_level.py``).

Compares, on the same patient counts:

- the true linear predictor's C (development and external) over replicates of both generators (the image-level
  generator's patient table needs no images for it), with Monte-Carlo SEs;
- the correlation spectrum of each imaging modality's features (share of the total variance carried by the
  first k eigenvalues of the development correlation matrix);
- how much of each feature the modality's signal latents explain (R^2 on z_size, u_ct for CT; u_path, z_mitotic
  for the slides), in the development and the external centre;
- the external centre effect: per-feature mean shift (development SDs) and SD ratio.

    .venv/bin/python experiments/fusion_simulation/check_generator.py [FEATURE_DIR] [true_c|features|all]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from multisurv._validation import make_y
from multisurv.cohort.synthetic import make_synthetic_table
from multisurv.evaluation.concordance import harrell_counts
from multisurv.simulation.generator import Mechanism, simulate_cohort, simulate_study

LATENTS = {"ct": ["z_size", "u_ct"], "wsi": ["u_path", "z_mitotic"]}


def _c(y, risk) -> float:
    conc, _, tied, comparable = harrell_counts(y["time"], y["event"], risk)
    return (conc + 0.5 * tied) / comparable


def _spectrum(values: np.ndarray, k: int = 10) -> list[float]:
    values = values[:, np.nanstd(values, axis=0) > 0]
    corr = np.corrcoef(values, rowvar=False)
    eig = np.sort(np.linalg.eigvalsh(corr))[::-1]
    return [round(float(v), 3) for v in np.cumsum(eig)[:k] / eig.sum()]


def _r2(values: np.ndarray, latent: np.ndarray) -> list[float]:
    """Quantiles (10, 50, 90 %) over features of the R^2 of a feature on the latents (least squares)."""
    A = np.column_stack([np.ones(len(latent)), latent])
    coef, *_ = np.linalg.lstsq(A, values, rcond=None)
    resid = values - A @ coef
    r2 = 1 - resid.var(axis=0) / np.maximum(values.var(axis=0), 1e-12)
    return [round(float(q), 3) for q in np.quantile(r2, [0.1, 0.5, 0.9])]


def _centre(dev: np.ndarray, ext: np.ndarray) -> dict:
    sd = dev.std(axis=0)
    keep = sd > 0
    shift = np.abs(ext.mean(axis=0) - dev.mean(axis=0))[keep] / sd[keep]
    ratio = ext.std(axis=0)[keep] / sd[keep]
    return {"abs_mean_shift_sd_q10_50_90": [round(float(q), 3) for q in np.quantile(shift, [0.1, 0.5, 0.9])],
            "sd_ratio_q10_50_90": [round(float(q), 3) for q in np.quantile(ratio, [0.1, 0.5, 0.9])]}


def _describe(features: pd.DataFrame, latent: pd.DataFrame, cohort: pd.Series, modality: str) -> dict:
    rows = features.dropna(how="all").index
    X = features.loc[rows].to_numpy(float)
    X = X[:, np.nanstd(X, axis=0) > 0]
    lat = latent.loc[rows, LATENTS[modality]].to_numpy(float)
    dev = cohort.loc[rows].eq("development").to_numpy()
    return {"n_features": int(X.shape[1]), "n_dev": int(dev.sum()), "n_ext": int((~dev).sum()),
            "cum_variance_top10_pearson": _spectrum(X[dev]),
            "cum_variance_top10_spearman": _spectrum(pd.DataFrame(X[dev]).rank().to_numpy()),
            "r2_on_signal_dev_q10_50_90": _r2(X[dev], lat[dev]),
            "r2_on_signal_ext_q10_50_90": _r2(X[~dev], lat[~dev]),
            "centre": _centre(X[dev], X[~dev])}


def true_c(n_rep_image: int = 60, n_rep_feature: int = 300) -> dict:
    out = {}
    img = {"development": [], "external": []}
    for s in range(n_rep_image):
        manifest, truth = make_synthetic_table(254, 42, random_state=1000 + s)
        y = make_y(manifest["time"].to_numpy(float), manifest["event"].to_numpy(bool))
        for centre in img:
            m = manifest["cohort"].eq(centre).to_numpy()
            img[centre].append(_c(y[m], truth["true_lp"].to_numpy()[m]))
    feat = {"development": [], "external": []}
    mech = Mechanism(n_development=254, n_external=42, n_ct_features=2, n_wsi_features=2)
    for s in range(n_rep_feature):
        study = simulate_study(mech, 5000 + s)
        for centre in feat:
            feat[centre].append(_c(study[centre].y, study[centre].true_lp))
    for name, res, r in (("image_level", img, n_rep_image), ("feature_level", feat, n_rep_feature)):
        out[name] = {c: {"mean": round(float(np.mean(v)), 4), "mcse": round(float(np.std(v, ddof=1) / np.sqrt(r)), 4),
                         "sd": round(float(np.std(v, ddof=1)), 4), "replicates": r} for c, v in res.items()}
    return out


def main(folder: Path, part: str = "all") -> dict:
    started = time.perf_counter()
    result = {"true_c_254_42": true_c()} if part in ("all", "true_c") else {}
    if part == "true_c":
        return result
    truth = pd.read_csv(folder / "truth.csv").set_index("patient_id")
    cohort = truth["cohort"]
    for modality in ("ct", "wsi"):
        path = folder / f"features_{modality}.csv"
        if not path.is_file():
            continue
        features = pd.read_csv(path, index_col=0)
        n_dev = int(cohort.loc[features.index].eq("development").sum())
        n_ext = len(features) - n_dev
        result[f"image_level_{modality}"] = _describe(features, truth, cohort, modality)
        # the feature-level twin: same patient counts and feature count, everyone with the modality
        p = features.shape[1]
        mech = Mechanism(n_ct_features=p, n_wsi_features=p, missing_ct=0.0, missing_wsi=0.0)
        rng = np.random.default_rng(3)
        dev = simulate_cohort(mech, n_dev, "development", rng)
        ext = simulate_cohort(mech, n_ext, "external", rng)
        X = pd.concat([dev.X, ext.X]).filter(like=f"{modality}__")
        lat = pd.concat([dev.latent, ext.latent])
        lat.index = X.index
        centre = pd.Series(["development"] * n_dev + ["external"] * n_ext, index=X.index)
        result[f"feature_level_{modality}"] = _describe(X, lat, centre, modality)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/fusion_simulation_check")
    print(json.dumps(main(folder, sys.argv[2] if len(sys.argv) > 2 else "all"), indent=2))
