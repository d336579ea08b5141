"""Real-data fusion benchmark rerun with the deep intermediate-fusion arm (issue 17): clinical + gene expression.

Same data loaders, splits and pipelines as ``run.py`` (imported from it); adds ``IntermediateFusionCox`` (concat
fusion, defaults otherwise) on the same two scores' selected features and compares it with late fusion on the
same repeated stratified 5-fold CV splits (paired per fold). Every model is refitted in every fold, the network's
early stopping uses an inner split of the fold's training rows only.

Run: ``python experiments/real_data_fusion/intermediate.py [--repeats 2] [--datasets breast nki70]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from multisurv.evaluation.resampling import validate
from multisurv.fusion.intermediate import IntermediateFusionCox

_spec = importlib.util.spec_from_file_location("real_data_fusion_run", Path(__file__).with_name("run.py"))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=["breast", "nki70"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = []
    for name in args.datasets:
        try:
            X, y, _ = base.DATASETS[name]()
        except ImportError as exc:  # nki70 needs survset (pip install "multisurv[experiments]")
            print(f"{name}: skipped ({exc})")
            continue
        splits = base.stratified_splits(y, 5, args.repeats, args.seed)
        models = base.build_models(args.seed)
        scores = [models["clinical"], models["genes"]]
        arms = {"late": models["late"], "early": models["early"],
                "intermediate": IntermediateFusionCox(scores=scores, fusion="concat", random_state=args.seed)}
        folds = {}
        for arm, model in arms.items():
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = validate(model, X, y, method="repeated_cv", resamples=splits, random_state=args.seed)
            folds[arm] = res.resamples["c_test"].to_numpy()
            rows.append({"dataset": name, "model": arm, "n": len(y), "events": int(y["event"].sum()),
                         "cv_mean": round(float(np.nanmean(folds[arm])), 3),
                         "cv_sd_folds": round(float(np.nanstd(folds[arm])), 3), "failed": res.n_failed,
                         "seconds": round(time.perf_counter() - started)})
            print(rows[-1], flush=True)
        diff = folds["intermediate"] - folds["late"]
        print(f"{name}: intermediate - late per fold (paired, {len(diff)} folds): mean {np.nanmean(diff):+.3f}, "
              f"SD {np.nanstd(diff):.3f}, intermediate higher in {int(np.sum(diff > 0))} of "
              f"{int(np.sum(np.isfinite(diff)))}", flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
