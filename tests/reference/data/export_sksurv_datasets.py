"""Export the scikit-survival datasets used by make_discrimination_reference.R to CSV (run from the repo root).

    .venv/bin/python tests/reference/data/export_sksurv_datasets.py

R then reads exactly the numbers the Python tests load with scikit-survival's offline loaders:

- ``veteran.csv``: ``load_veterans_lung_cancer()`` (= R's ``survival::veteran``, n = 137), times in days;
- ``gbsg2.csv``: ``load_gbsg2()`` (German Breast Cancer Study Group 2, n = 686), recurrence-free survival in days;
- ``whas500.csv``: ``load_whas500()`` (Worcester Heart Attack Study, n = 500), follow-up in days.

Columns: ``time``, ``status`` (1 = event, 0 = censored), then the covariates, categoricals as their labels.
Floats are written with 17 significant digits so the CSV round-trips exactly.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sksurv.datasets import load_gbsg2, load_veterans_lung_cancer, load_whas500

OUT = Path(__file__).resolve().parent

#: dataset name -> (loader, event field, time field)
DATASETS = {
    "veteran": (load_veterans_lung_cancer, "Status", "Survival_in_days"),
    "gbsg2": (load_gbsg2, "cens", "time"),
    "whas500": (load_whas500, "fstat", "lenfol"),
}


def load(name: str) -> pd.DataFrame:
    """The dataset as one DataFrame: ``time``, ``status`` (0/1), then the covariates."""
    loader, event, time = DATASETS[name]
    X, y = loader()
    frame = pd.DataFrame({"time": y[time], "status": y[event].astype(int)})
    for col in X.columns:
        values = X[col]
        frame[col] = values.astype(str) if isinstance(values.dtype, pd.CategoricalDtype) else values.to_numpy()
    return frame


def main() -> None:
    for name in DATASETS:
        load(name).to_csv(OUT / f"{name}.csv", index=False, float_format="%.17g")
        print(f"wrote {OUT / f'{name}.csv'}")


if __name__ == "__main__":
    main()
