"""Image-level reference features for the feature-level generator check (step 1 of ``check_generator.py``).

Writes an image-level synthetic cohort (``multisurv.cohort.synthetic.make_synthetic_cohort``), extracts the
default radiomics (``radiomics_ct``: original image) and pathomics (randomly initialised ResNet18, mean-pooled
tiles; no download) with one worker, and saves ``features_ct.csv``, ``features_wsi.csv`` and ``truth.csv``
under ``OUT`` (default ``runs/fusion_simulation_check``).

    .venv/bin/python experiments/fusion_simulation/extract_image_level.py [OUT] [N_DEV] [N_EXT]
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from multisurv.cohort.manifest import load_manifest
from multisurv.cohort.synthetic import make_synthetic_cohort
from multisurv.features.radiomics import extract_radiomics
from multisurv.features.wsi.pathomics import extract_pathomics


def main(out: Path, n_dev: int, n_ext: int) -> None:
    started = time.perf_counter()
    manifest = make_synthetic_cohort(out / "cohort", n_development=n_dev, n_external=n_ext, random_state=11)
    t_cohort = time.perf_counter() - started
    cohort = load_manifest(manifest)
    rad = extract_radiomics(cohort, out_dir=out / "features", n_workers=1, progress=False)
    t_rad = time.perf_counter() - started - t_cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random-weights warning: intended here
        path = extract_pathomics(cohort, out_dir=out / "features", encoder="resnet18", progress=False)
    t_wsi = time.perf_counter() - started - t_cohort - t_rad
    rad.features.to_csv(out / "features_ct.csv")
    path.features.to_csv(out / "features_wsi.csv")
    pd.read_csv(out / "cohort" / "truth.csv").to_csv(out / "truth.csv", index=False)
    print(f"cohort {t_cohort:.0f} s, radiomics {t_rad:.0f} s ({len(rad.features)} cases, "
          f"{rad.features.shape[1]} features), pathomics {t_wsi:.0f} s ({len(path.features)} cases, "
          f"{path.features.shape[1]} features)")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]) if args else Path("runs/fusion_simulation_check"),
         int(args[1]) if len(args) > 1 else 160, int(args[2]) if len(args) > 2 else 80)
