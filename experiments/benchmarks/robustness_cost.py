"""Benchmark: what reproducibility costs: ICC over thousands of features, perturbation robustness per case.

1. ICC(2,1) and ICC(3,1) with intervals for ``--features`` features (default 2,246, the GIST params' count) of 200
   patients x 6 raters: the vectorised :func:`multisurv.features.reproducibility.intraclass_correlation` against
   the same function called once per feature (what a loop over psych::ICC or pingouin does); prints both times and
   the ratio (target: >= 10x; measured 10x on 2 cores at load 15, 0.6 s for the vectorised call).
2. Perturbation robustness on ``--patients`` synthetic CT cases (multisurv's synthetic cohort, CT only used) with
   the default plan (4 chained rotation/translation/noise/contour perturbations + erosion + dilation, so 7 images
   per patient) and the library's default params (106 features: SumAverage left out): seconds per case for making
   the perturbed copies and for extracting them, then a fully cached rerun (target: rerun < 5 % of the first run).

Timings depend on the machine's load: run it on idle cores.

Run: .venv/bin/python experiments/benchmarks/robustness_cost.py [--features 2246] [--patients 6] [--workers 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def icc_speed(n_features: int) -> None:
    from multisurv.features.reproducibility import intraclass_correlation

    rng = np.random.default_rng(0)
    ratings = rng.normal(size=(200, 1, n_features)) + 0.4 * rng.normal(size=(200, 6, n_features))
    start = time.perf_counter()
    fast = intraclass_correlation(ratings)
    t_fast = time.perf_counter() - start
    start = time.perf_counter()
    loop = pd.concat([intraclass_correlation(ratings[:, :, j]) for j in range(n_features)])
    t_loop = time.perf_counter() - start
    assert np.allclose(fast["icc2_1"].to_numpy(), loop["icc2_1"].to_numpy())
    print(f"ICC, {n_features} features x 200 patients x 6 raters: vectorised {t_fast:.3f} s, per-feature loop "
          f"{t_loop:.2f} s, ratio (loop / vectorised) {t_loop / t_fast:.0f}x")


def perturbation_cost(n_patients: int, workers: int) -> None:
    from multisurv.cohort.synthetic import make_synthetic_cohort
    from multisurv.features.robustness import perturbation_robustness

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = pd.read_csv(make_synthetic_cohort(root / "cohort", n_development=n_patients + 3, n_external=0))
        manifest = manifest.dropna(subset=["ct_image"]).head(n_patients).set_index("patient_id")
        for column in ("ct_image", "ct_mask"):
            manifest[column] = [str(root / "cohort" / p) for p in manifest[column]]
        start = time.perf_counter()
        res = perturbation_robustness(manifest, out_dir=root / "features", n_workers=workers, progress=False)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = perturbation_robustness(manifest, out_dir=root / "features", n_workers=workers, progress=False)
        rerun = time.perf_counter() - start
        cost = res.cost
        print(f"Perturbation robustness, {len(manifest)} synthetic CT cases, {int(cost['n_images'].iloc[0])} images "
              f"per case, {res.icc.shape[0]} features, {workers} worker(s):")
        print(f"  per case (median): perturb {cost['perturb_seconds'].median():.2f} s, extract "
              f"{cost['extract_seconds'].median():.2f} s, total {cost['total_seconds'].median():.2f} s")
        print(f"  whole run {first:.1f} s; cached rerun {rerun:.2f} s ({again.n_cached} images from the cache), "
              f"ratio (rerun / first) {rerun / first:.3f}")
        print(f"  features with ICC(2,1) >= 0.75: {(res.icc['icc2_1'] >= 0.75).sum()} of {res.icc.shape[0]}; "
              f"median Dice of perturbed masks {np.nanmedian(res.overlap.drop(columns='original').to_numpy()):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=2246)
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    icc_speed(args.features)
    perturbation_cost(args.patients, args.workers)


if __name__ == "__main__":
    main()
