"""LASSO-logistic selection before and after issue 19, side by side in one process.

"Before" is the solver as it was (frozen in ``lasso_logistic_before.py``: NumPy proximal Newton steps that rebuild
the full ``p x p`` Gram matrix at every step, numba only for the coordinate-descent loop, no screening); "now" is
:mod:`multisurv.selection.lasso_logistic` (the whole path compiled, sequential strong rule with KKT checks, the
Gram matrix of the screened features only, one BLAS thread in ``fit``). Two measurements on feature tables drawn
by the feature-level generator (:mod:`multisurv.simulation.generator`; the demo's shape: 200 development patients,
106 radiomics, 2,048 pathomics and 9 encoded clinical features, modalities missing as in the demo cohort; outcome
"event by 24 months", patients censored before excluded):

1. The penalty path (``logistic_path``) of one modality, as a selector fits it: 50 penalties down to 1% of
   alpha_max, tol 1e-7 (``STUDY_TOL``): before, now without screening (``screen=False``) and now; the ratio and the
   largest coefficient difference from before.
2. One whole-pipeline bootstrap resample of the binary study (what ``validate_binary`` refits B times): each
   modality's ``LogisticModalityScore``, early and late fusion as ``build_binary_models`` builds them, fitted on a
   bootstrap resample and scored on all patients; the old selector methods are swapped in for "before". Late fusion
   counts twice in the per-resample total (``calibrate_binary`` refits it on the same resamples). Prints the seconds,
   the ratio and whether every prediction is identical.

Timings are the median of ``--repeats`` interleaved runs (before, now, before, now, ...), so both sides see the same
load on a shared machine; compilation is done before timing. BLAS runs with the environment's thread count (set
OPENBLAS_NUM_THREADS=1 to compare the arithmetic alone: "before" loses much more to busy BLAS threads).

Run: .venv/bin/python experiments/benchmarks/lasso_logistic_speed.py [--pathomics] [--repeats 3] [--seed 0]
(``--pathomics`` adds the 2,048-feature modality to part 2: minutes, "before" refits it 18 times per resample).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

import multisurv.selection.lasso_logistic as now
from multisurv.scores.logistic_score import STUDY_TOL
from multisurv.simulation.generator import Mechanism, simulate_cohort

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lasso_logistic_before as before  # noqa: E402

N_DEVELOPMENT, P_CT, P_WSI, HORIZON = 200, 106, 2048, 24.0
SWAPPED = ("fit", "_path", "_cross_validate")  # the selector methods that differ between before and now


def cohort(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Development features and the binary outcome "event by 24 months" (censored before 24 months excluded)."""
    sim = simulate_cohort(Mechanism(n_ct_features=P_CT, n_wsi_features=P_WSI), N_DEVELOPMENT, "development",
                          np.random.default_rng(seed))
    time_, event = sim.y["time"], sim.y["event"]
    known = event & (time_ <= HORIZON) | (time_ > HORIZON)
    return sim.X[known], (event & (time_ <= HORIZON))[known].astype(float)


def design(X: pd.DataFrame, y: np.ndarray, prefix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A modality's standardised design (patients who have it) and the selector's penalties."""
    values = X[[c for c in X.columns if c.startswith(prefix)]]
    rows = values.notna().any(axis=1).to_numpy()
    values, yy = values[rows].to_numpy(float), y[rows]
    Z = (values - values.mean(0)) / values.std(0)
    alpha_max = np.abs(Z.T @ (yy - yy.mean())).max() / yy.size
    return Z, yy, np.geomspace(alpha_max, alpha_max / 100, 50)


def interleaved(runs: dict, repeats: int) -> dict:
    """Median seconds of each callable, run in turn ``repeats`` times; and each one's last result."""
    times = {name: [] for name in runs}
    results = {}
    for r in range(repeats):
        for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            started = time.perf_counter()
            results[name] = runs[name]()
            times[name].append(time.perf_counter() - started)
    return {name: (statistics.median(t), results[name]) for name, t in times.items()}


def use_before(flag: bool) -> None:
    """Swap the frozen selector methods in (or back out) of LassoLogisticSelector."""
    for name in SWAPPED:
        setattr(now.LassoLogisticSelector, name, getattr(before.LassoLogisticSelector if flag else _NOW, name))


class _NOW:  # the current methods, kept for use_before(False)
    pass


for _name in SWAPPED:
    setattr(_NOW, _name, getattr(now.LassoLogisticSelector, _name))


def part_path(X: pd.DataFrame, y: np.ndarray, repeats: int) -> None:
    print(f"1. penalty path, 50 penalties, tol {STUDY_TOL:g} (median of {repeats})")
    print("| modality | n | p | before (s) | now, no screening (s) | now (s) | before / now | max abs coef diff |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, prefix in (("radiomics", "ct__"), ("pathomics", "wsi__")):
        Z, yy, alphas = design(X, y, prefix)
        out = interleaved({
            "before": lambda: before.logistic_path(Z, yy, alphas, tol=STUDY_TOL),
            "unscreened": lambda: now.logistic_path(Z, yy, alphas, tol=STUDY_TOL, screen=False),
            "now": lambda: now.logistic_path(Z, yy, alphas, tol=STUDY_TOL),
        }, repeats)
        diff = np.abs(out["now"][1][1] - out["before"][1][1]).max()
        print(f"| {label} | {Z.shape[0]} | {Z.shape[1]} | {out['before'][0]:.3f} | {out['unscreened'][0]:.3f} | "
              f"{out['now'][0]:.3f} | {out['before'][0] / out['now'][0]:.1f}x | {diff:.1e} |")


def part_resample(X: pd.DataFrame, y: np.ndarray, repeats: int, pathomics: bool, seed: int) -> None:
    from multisurv.study.binary import build_binary_models
    from multisurv.study.config import StudyConfig

    modalities = {"radiomics": {}, "clinical": {}} | ({"pathomics": {}} if pathomics else {})
    config = StudyConfig.from_dict({
        "schema": "study_config.v1", "name": "bench", "out": "runs/bench", "seed": 0,
        "cohort": {"synthetic": {}}, "modalities": modalities,
        "selection": {"l1_ratio": 1.0, "cv": 5, "rule": "min"}, "fusion": {"strategies": ["early", "late"], "cv": 5},
        "endpoint": {"type": "binary", "horizon": HORIZON, "comparators": []}})
    models = build_binary_models(config)
    if not pathomics:
        X = X[[c for c in X.columns if not c.startswith("wsi__")]]
    print(f"\n2. one whole-pipeline bootstrap resample, {len(y)} development patients ({int(y.sum())} events), "
          f"modalities {', '.join(modalities)} (median of {repeats})")
    print("| model | before (s) | now (s) | before / now | predictions identical |")
    print("| --- | ---: | ---: | ---: | --- |")
    total = {"before": 0.0, "now": 0.0}
    for name, model in models.items():
        prefix = next((m.prefix for m in config.modalities if m.name == name), None)
        keep = (X[[c for c in X.columns if c.startswith(prefix)]].notna().any(axis=1).to_numpy() if prefix
                else np.ones(len(y), dtype=bool))
        Xm, ym = X[keep], y[keep]  # a modality's model is validated on the patients who have the modality
        boot = np.random.default_rng(seed).integers(0, len(ym), len(ym))  # one bootstrap resample

        def fit(flag, model=model, Xm=Xm, ym=ym, boot=boot):
            use_before(flag)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return clone(model).fit(Xm.iloc[boot], ym[boot]).predict_proba(Xm)[:, 1]
            finally:
                use_before(False)

        out = interleaved({"before": lambda: fit(True), "now": lambda: fit(False)}, repeats)
        same = np.array_equal(out["before"][1], out["now"][1], equal_nan=True)
        weight = 2 if name == "late_fusion" else 1
        for side in total:
            total[side] += weight * out[side][0]
        print(f"| {name} | {out['before'][0]:.2f} | {out['now'][0]:.2f} | {out['before'][0] / out['now'][0]:.1f}x "
              f"| {'yes' if same else 'no: max abs diff %.1e' % np.nanmax(np.abs(out['before'][1] - out['now'][1]))} |")
    print(f"| per resample (late fusion twice) | {total['before']:.2f} | {total['now']:.2f} | "
          f"{total['before'] / total['now']:.1f}x | |")
    print(f"B = 1,000 resamples: about {total['before'] * 1000 / 60:.0f} min before, "
          f"{total['now'] * 1000 / 60:.0f} min now (the resamples alone; the study adds its fixed costs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pathomics", action="store_true", help="add the 2,048-feature modality to part 2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{i['internal_api']} {i['num_threads']} thread(s)" for i in threadpool_info()
                         if i["user_api"] == "blas")
    except ImportError:
        blas = "unknown"
    print(f"numba: {'yes' if now._path_kernel is not now._path_numpy else 'no'}; BLAS: {blas}")
    X, y = cohort(args.seed)
    warm_Z, warm_y = np.random.default_rng(0).normal(size=(20, 3)), np.array([0.0, 1.0] * 10)
    for solver in (before, now):  # compile outside the timings
        solver.logistic_path(warm_Z, warm_y, np.array([0.1, 0.01]))
    part_path(X, y, args.repeats)
    part_resample(X, y, args.repeats, args.pathomics, args.seed)


if __name__ == "__main__":
    main()
