"""The demo study through the Python API (the same as `multisurv demo --out runs/demo_api`).

Run: .venv/bin/python experiments/synthetic_demo.py
"""

import logging
from pathlib import Path

import pandas as pd

from multisurv import load_manifest, make_synthetic_cohort, run_study

logging.basicConfig(level=logging.INFO)
out = Path("runs/demo_api")
manifest = make_synthetic_cohort(out / "cohort", n_development=200, n_external=100, random_state=0)
truth = pd.read_csv(out / "cohort" / "truth.csv", dtype={"patient_id": str}).set_index("patient_id")
result = run_study(load_manifest(manifest), out, truth=truth, random_state=0)
print(result.metrics.to_string(index=False))
