"""Does the external scanner take signal out of the GIST design's 2,246 radiomics features? (image-level check)

Extracts ``radiomics_gist_2266`` (original + wavelet + LoG images, as ``experiments/gist_fusion/study.yaml``) for
the first ``N_DEV`` development and ``N_EXT`` external patients with a CT of the cohort that
``extract_image_level.py`` wrote, then describes the features as ``check_generator.py`` does: how much of each
feature the CT's latents (z_size, u_ct) explain in each centre, and the external per-feature shift and SD ratio.

    .venv/bin/python experiments/fusion_simulation/check_radiomics_2266.py [FOLDER] [N_DEV] [N_EXT]
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import pandas as pd

from multisurv.features.radiomics import extract_radiomics_cases

HERE = Path(__file__).resolve().parent


def main(folder: Path, n_dev: int, n_ext: int) -> dict:
    spec = importlib.util.spec_from_file_location("check_generator", HERE / "check_generator.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    started = time.perf_counter()
    manifest = pd.read_csv(folder / "cohort" / "manifest.csv").dropna(subset=["ct_image"])
    chosen = pd.concat([manifest[manifest["cohort"] == "development"].head(n_dev),
                        manifest[manifest["cohort"] == "external"].head(n_ext)])
    cases = [(row.patient_id, {"ct_image": str(folder / "cohort" / row.ct_image),
                               "ct_mask": str(folder / "cohort" / row.ct_mask)}) for row in chosen.itertuples()]
    result = extract_radiomics_cases(cases, out_dir=folder / "features_2266", params="radiomics_gist_2266",
                                     n_workers=1, progress=False)
    truth = pd.read_csv(folder / "truth.csv").set_index("patient_id")
    features = result.features
    features.to_csv(folder / "features_ct_2266.csv")
    out = check._describe(features, truth, truth["cohort"], "ct")
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


if __name__ == "__main__":
    a = sys.argv[1:]
    print(json.dumps(main(Path(a[0]) if a else Path("runs/fusion_simulation_check"), int(a[1]) if len(a) > 1 else 70,
                          int(a[2]) if len(a) > 2 else 50), indent=2))
