"""Do the per-modality selections find the true signal, and does late fusion track the true linear predictor?

Run: .venv/bin/python experiments/selection_recovery.py [--out runs/selection_recovery] [--seed 0]

On the synthetic cohort (200 development + 100 external patients; cohort and features are cached in --out; a
first run took 55 min on 2 cores shared with other jobs, nearly all of it the 217 slides through a random
ResNet50; a rerun on the cache takes about 3 min) this fits the demo study's scores (LASSO-Cox, 5-fold CV, on the
development patients only) and reports:

1. **Recovery.** The generator knows which hidden drivers each modality sees (``truth.csv``): CT sees tumour
   size and radiological aggressiveness (``z_size``, ``u_ct``); slides see histological aggressiveness and
   mitoses (``u_path``, ``z_mitotic``); the clinical table holds age, size, mitotic count, TKI and site (in
   the true model) besides sex and Ki-67 (not in it). A radiomics or pathomics feature is a *true signal
   feature* when it carries its modality's share of the true linear predictor: its Spearman correlation with
   that share, over the development patients who have the modality, is significant after Bonferroni
   correction (alpha 0.05). This definition uses the truth and never the outcome; the selection uses the
   outcome and never the truth. A clinical column is a signal column when its variable is in the true model.
   Better than chance, two ways: (a) precision against the base rate, and the overlap between selected and
   signal features against the hypergeometric distribution of a random selection of the same size
   (one-sided p); (b) a rank test that needs no threshold: |rho| of the selected features against the
   others' (one-sided Mann-Whitney U; also their mean percentile, 0.5 by chance). Each score is fitted with
   the lambda-min and the 1-SE rule.
2. **Late fusion against the truth.** Spearman correlation of the late-fusion score (out-of-fold stacking)
   with ``true_lp``, on the development patients and on the external patients (never used in fitting).

The slow test ``tests/fusion/test_recovery.py`` runs :func:`measure` and asserts the two claims.
"""

from __future__ import annotations

import argparse
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from multisurv import load_manifest, make_synthetic_cohort
from multisurv.cohort.synthetic import COEFFICIENTS
from multisurv.features.clinical import ClinicalPreprocessor
from multisurv.fusion.late import LateFusionCox
from multisurv.study.run import extract_features
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.lasso_cox import LassoCoxSelector

#: The hidden drivers each imaging modality sees (synthetic.py module docstring).
MODALITY_DRIVERS = {"ct__": ("z_size", "u_ct"), "wsi__": ("u_path", "z_mitotic")}
#: Clinical variables in the true model (their encoded columns start with these names after ``clin__``).
CLINICAL_SIGNAL = ("age", "tumour_size_cm", "mitotic_count", "tki_therapy", "site")
SCORES = {"radscore": "ct__", "patscore": "wsi__", "clinscore": "clin__"}


def load_study(out: Path, seed: int = 0, n_development: int = 200, n_external: int = 100):
    """Cohort, features (cached in ``out``) and truth; the clinical encoding is fitted on development only."""
    manifest = out / "cohort" / "manifest.csv"
    if not manifest.exists():
        make_synthetic_cohort(out / "cohort", n_development=n_development, n_external=n_external,
                              random_state=seed)
    cohort = load_manifest(manifest)
    truth = pd.read_csv(out / "cohort" / "truth.csv", dtype={"patient_id": str}).set_index("patient_id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "ResNet50 not pretrained": expected for the demo
        imaging, _ = extract_features(cohort, out / "features", n_workers=2, progress=False)
    dev, ext = cohort.split("development")
    clinical = ClinicalPreprocessor.from_spec(cohort.clinical_spec).fit(dev.clinical)
    X = pd.concat([imaging, clinical.transform(cohort.clinical)], axis=1).loc[cohort.ids]
    return cohort, dev, ext, X, truth.loc[cohort.ids]


def modality_share(truth: pd.DataFrame, prefix: str) -> pd.Series:
    """The part of the true linear predictor a modality can see (clinical: every term but u_ct and u_path)."""
    drivers = MODALITY_DRIVERS.get(prefix, tuple(k for k in COEFFICIENTS if k not in ("u_ct", "u_path")))
    return sum(COEFFICIENTS[d] * truth[d] for d in drivers)


def signal_strength(X_dev: pd.DataFrame, truth_dev: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Per usable feature of one modality: |Spearman| with the modality's share of true_lp, and its p-value."""
    columns = [c for c in X_dev if c.startswith(prefix) and X_dev[c].nunique() > 1]
    share = modality_share(truth_dev, prefix)
    present = X_dev[columns].notna().any(axis=1)
    rows = []
    for c in columns:
        r = stats.spearmanr(X_dev.loc[present, c], share[present], nan_policy="omit")
        rows.append((c, abs(float(r.statistic)), float(r.pvalue)))
    return pd.DataFrame(rows, columns=["feature", "abs_rho", "p"]).set_index("feature")


def signal_features(strength: pd.DataFrame, prefix: str, alpha: float = 0.05) -> list[str]:
    """The true signal features of one modality (see module docstring)."""
    if prefix == "clin__":
        return [c for c in strength.index if c[len(prefix):].startswith(CLINICAL_SIGNAL)]
    return list(strength.index[strength["p"] * len(strength) < alpha])


def recovery(selected: list[str], signal: list[str], strength: pd.DataFrame) -> dict:
    """Overlap of a selection with the signal set, against a random selection of the same size; and a rank
    test: are the selected features' |rho| with the true share larger than the others'? (one-sided
    Mann-Whitney U; mean percentile of the selected features, 0.5 expected by chance)."""
    n_features = len(strength)
    k, K, n = len(set(selected) & set(signal)), len(signal), len(selected)
    pct = strength["abs_rho"].rank(pct=True)
    inside = strength.index.isin(selected)
    rank_p = (float(stats.mannwhitneyu(strength.loc[inside, "abs_rho"], strength.loc[~inside, "abs_rho"],
                                       alternative="greater").pvalue) if 0 < n < n_features else 1.0)
    return {"n_features": n_features, "n_signal": K, "n_selected": n, "n_selected_signal": k,
            "precision": k / n if n else float("nan"), "base_rate": K / n_features,
            "p_hypergeom": float(stats.hypergeom.sf(k - 1, n_features, K, n)) if n else 1.0,
            "mean_percentile_selected": float(pct[inside].mean()) if n else float("nan"),
            "mean_abs_rho_selected": float(strength.loc[inside, "abs_rho"].mean()) if n else float("nan"),
            "mean_abs_rho_all": float(strength["abs_rho"].mean()), "p_rank": rank_p}


def measure(out: str | Path = "runs/selection_recovery", seed: int = 0) -> dict:
    """Fit the scores and late fusion on the development patients; return the recovery and correlation figures."""
    cohort, dev, ext, X, truth = load_study(Path(out), seed)
    X_dev = X.loc[dev.ids]
    result: dict = {"seed": seed, "n_development": len(dev), "n_external": len(ext), "modalities": {}}
    scores = [ModalityScore(name=name, prefix=prefix, selector=LassoCoxSelector(cv=5, random_state=seed),
                            random_state=seed) for name, prefix in SCORES.items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for score in scores:
            strength = signal_strength(X_dev, truth.loc[dev.ids], score.prefix)  # constant features excluded
            signal = signal_features(strength, score.prefix)
            for rule in ("min", "1se"):
                fitted = clone(score).set_params(selector__rule=rule).fit(X_dev, dev.y)
                key = score.name if rule == "min" else f"{score.name} (1-SE)"
                result["modalities"][key] = {**recovery(fitted.selected_features_, signal, strength),
                                             "selected": list(fitted.selected_features_)}
        late = LateFusionCox(scores=scores, cv=5, random_state=seed).fit(X_dev, dev.y)
    risk = pd.Series(late.predict(X), index=X.index)
    for part, name in ((dev, "development"), (ext, "external")):
        rho = stats.spearmanr(risk.loc[part.ids], truth.loc[part.ids, "true_lp"])
        result[f"late_fusion_spearman_{name}"] = float(rho.statistic)
        result[f"late_fusion_spearman_p_{name}"] = float(rho.pvalue)
    result["late_fusion_coef"] = late.coef_.round(4).to_dict()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/selection_recovery")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    res = measure(args.out, args.seed)
    print(f"{'score':17s} {'features':>8s} {'signal':>6s} {'selected':>8s} {'hits':>4s} {'precision':>9s} "
          f"{'base rate':>9s} {'p (hypergeom)':>13s} {'|rho| sel':>9s} {'|rho| all':>9s} {'pctile':>6s} "
          f"{'p (rank)':>8s}")
    for name, r in res["modalities"].items():
        print(f"{name:17s} {r['n_features']:8d} {r['n_signal']:6d} {r['n_selected']:8d} {r['n_selected_signal']:4d} "
              f"{r['precision']:9.3f} {r['base_rate']:9.3f} {r['p_hypergeom']:13.2g} "
              f"{r['mean_abs_rho_selected']:9.3f} {r['mean_abs_rho_all']:9.3f} "
              f"{r['mean_percentile_selected']:6.3f} {r['p_rank']:8.2g}")
    for name in ("development", "external"):
        print(f"late fusion vs true_lp, {name}: Spearman {res[f'late_fusion_spearman_{name}']:.3f} "
              f"(p = {res[f'late_fusion_spearman_p_{name}']:.2g})")
    print(json.dumps(res["late_fusion_coef"]))


if __name__ == "__main__":
    main()
