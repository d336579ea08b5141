"""Fit time of IntermediateFusionCox (each fusion layer) on 300 patients, side by side with late fusion.

Target (issue 17): a study of ~300 patients fits in under a minute on 2 CPU cores. Prints seconds per fit and
the ratio to LateFusionCox measured in the same run (torch import time is reported separately, once).
Run: ``python experiments/benchmarks/intermediate_fusion_speed.py``.
"""

from __future__ import annotations

import time

from multisurv.cohort.synthetic import make_synthetic_table
from multisurv.cohort.synthetic_features import synthetic_feature_table
from multisurv.fusion.intermediate import IntermediateFusionCox
from multisurv.fusion.late import LateFusionCox


def main() -> None:
    manifest, truth = make_synthetic_table(300, 0, random_state=0)
    X, y = synthetic_feature_table(manifest, truth, random_state=0)
    started = time.perf_counter()
    import torch  # noqa: F401  (imported once by the first fit; timed apart)

    print(f"torch import: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    LateFusionCox(random_state=0).fit(X, y)
    late = time.perf_counter() - started
    print(f"{'late (LASSO scores, stacking)':34s} {late:6.1f} s   ratio 1.00")
    for fusion in ("concat", "kronecker", "attention"):
        started = time.perf_counter()
        model = IntermediateFusionCox(fusion=fusion, random_state=0).fit(X, y)
        seconds = time.perf_counter() - started
        print(f"{'intermediate ' + fusion:34s} {seconds:6.1f} s   ratio {seconds / late:4.2f}   "
              f"({len(model.history_)} inner epochs, refit {model.best_epoch_})")


if __name__ == "__main__":
    main()
