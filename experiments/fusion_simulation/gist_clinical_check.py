"""Is the GIST replica's external clinical C (0.564) and true-LP C (0.864) chance? An exact check, no images needed.

The clinical score and the true linear predictor use no image, so the image-level generator's own patient
table (:func:`multisurv.cohort.synthetic.make_synthetic_table`, the same draws as ``make_synthetic_cohort``)
reproduces them exactly. This script

1. rebuilds the GIST design's clinical arm (seed 7: 254 development / 42 external patients, 23 null clinical
   variables; clinical encoding and LASSO-Cox clinscore with 10-fold CV, as ``experiments/gist_fusion/study.yaml``)
   and reports its development and external C and the true linear predictor's external C;
2. draws a large independent external sample (``N_LARGE`` patients, another seed) from the same generator and
   computes the estimand: the fitted clinscore's true external C, and the true LP's population C;
3. draws ``N_DRAWS`` external cohorts of 42 patients from that sample and reports how often the clinscore's C is at
   most the observed one, how often the true LP's C is at least the observed one, both at once, and how often the
   gap between them (true LP minus clinscore) is at least the observed 0.300.

    .venv/bin/python experiments/fusion_simulation/gist_clinical_check.py
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np

from multisurv._validation import make_y
from multisurv.cohort.schema import load_clinical_spec
from multisurv.cohort.synthetic import make_synthetic_table
from multisurv.cohort.synthetic_clinical import add_null_clinical_variables
from multisurv.evaluation.concordance import concordance, harrell_counts
from multisurv.features.clinical import ClinicalPreprocessor
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.lasso_cox import LassoCoxSelector

SEED, N_DEV, N_EXT, N_NULL = 7, 254, 42, 23
N_LARGE, LARGE_SEED, N_DRAWS = 8000, 1007, 20_000
OBSERVED = {"clinscore": 0.564, "truth": 0.864}  # experiments/gist_fusion/README.md, full design


def _table(n_dev: int, n_ext: int, seed: int):
    manifest, truth = make_synthetic_table(n_dev, n_ext, random_state=seed)
    wide, extra = add_null_clinical_variables(manifest, N_NULL, random_state=seed)
    spec = dict(load_clinical_spec())
    spec.update({v["name"]: v for v in extra})
    return wide, truth, spec


def _c(y, risk) -> float:
    conc, _, tied, comparable = harrell_counts(y["time"], y["event"], risk)
    return (conc + 0.5 * tied) / comparable if comparable else float("nan")


def main() -> dict:
    started = time.perf_counter()
    wide, truth, spec = _table(N_DEV, N_EXT, SEED)
    columns = list(spec)
    dev = wide["cohort"].eq("development").to_numpy()
    y = make_y(wide["time"].to_numpy(float), wide["event"].to_numpy(bool))
    prep = ClinicalPreprocessor.from_spec(spec).fit(wide.loc[dev, columns])
    X = prep.transform(wide[columns])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = ModalityScore(name="clinscore", prefix="clin__", selector=LassoCoxSelector(cv=10),
                              random_state=0).fit(X[dev], y[dev])
    risk = score.predict(X)
    out = {"selected": score.selected_features_,
           "c_development": concordance(y[dev], risk[dev], n_bootstrap=0).cindex,
           "c_external": concordance(y[~dev], risk[~dev], n_bootstrap=0).cindex,
           "truth_c_external": concordance(y[~dev], truth["true_lp"].to_numpy()[~dev], n_bootstrap=0).cindex,
           "external_events": int(y["event"][~dev].sum())}

    big, big_truth, _ = _table(1, N_LARGE, LARGE_SEED)
    big, big_truth = big.iloc[1:], big_truth.iloc[1:]  # drop the one development patient
    yb = make_y(big["time"].to_numpy(float), big["event"].to_numpy(bool))
    rb = score.predict(prep.transform(big[columns]))
    lb = big_truth["true_lp"].to_numpy()
    out["clinscore_true_c"] = _c(yb, rb)
    out["truth_population_c"] = _c(yb, lb)

    rng = np.random.default_rng(20261204)
    c_clin, c_lp = np.empty(N_DRAWS), np.empty(N_DRAWS)
    for k in range(N_DRAWS):
        idx = rng.choice(len(yb), N_EXT, replace=False)
        c_clin[k], c_lp[k] = _c(yb[idx], rb[idx]), _c(yb[idx], lb[idx])
    low_clin = c_clin <= OBSERVED["clinscore"]
    high_lp = c_lp >= OBSERVED["truth"]
    p = {"P(clinscore C <= 0.564)": low_clin.mean(), "P(true LP C >= 0.864)": high_lp.mean(),
         "P(both)": (low_clin & high_lp).mean(),
         "P(clinscore C <= 0.564 | true LP C >= 0.864)": (low_clin & high_lp).sum() / max(high_lp.sum(), 1),
         "P(true LP C - clinscore C >= 0.300)": (c_lp - c_clin >= OBSERVED["truth"] - OBSERVED["clinscore"]).mean()}
    out["draws_of_42"] = {k: {"p": float(v), "mcse": float(np.sqrt(v * (1 - v) / (high_lp.sum() if "|" in k else
                                                                               N_DRAWS)))} for k, v in p.items()}
    out["sd_clinscore_c_42"] = float(np.std(c_clin))
    out["sd_truth_c_42"] = float(np.std(c_lp))
    out["mean_gap_truth_minus_clinscore_42"] = float(np.mean(c_lp - c_clin))
    out["sd_gap_truth_minus_clinscore_42"] = float(np.std(c_lp - c_clin))
    out["corr_clinscore_truth_c_42"] = float(np.corrcoef(c_clin, c_lp)[0, 1])
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, default=float))
