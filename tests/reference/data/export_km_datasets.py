"""Export the datasets of make_km_cox_reference.R to CSV (run from the repository root).

    .venv/bin/python tests/reference/data/export_km_datasets.py

R then reads exactly the numbers that scikit-survival's offline loaders give the Python tests
(``tests/evaluation/test_kaplan_meier.py::test_csv_is_the_sksurv_dataset`` checks it on every run):

- ``km_veteran.csv``: ``load_veterans_lung_cancer()`` = R's ``survival::veteran`` (n = 137), days. Coded as
  in R so that the R script can check the two copies agree: ``trt`` 1 = standard, 2 = test; ``prior`` 0 = no,
  10 = yes; ``diagtime`` in months.
- ``km_gbsg2.csv``: ``load_gbsg2()`` (German Breast Cancer Study Group 2, n = 686), recurrence-free survival in
  days.
- ``km_whas500.csv``: ``load_whas500()`` (Worcester Heart Attack Study, n = 500), follow-up in days; the 0/1
  factors as integers.
- ``km_aids.csv``: ``load_aids()`` (ACTG 320 AIDS trial, n = 1151, 96 events), time to AIDS or death in days;
  ``tx`` 1 = indinavir arm, ``strat2`` 1 = CD4 > 50 at entry.

Columns: ``time``, ``status`` (1 = event, 0 = censored), then the covariates the reference uses. Floats are
written with 17 significant digits so the CSV round-trips exactly.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sksurv.datasets import load_aids, load_gbsg2, load_veterans_lung_cancer, load_whas500

OUT = Path(__file__).resolve().parent


def _veteran() -> pd.DataFrame:
    X, y = load_veterans_lung_cancer()
    return pd.DataFrame({
        "time": y["Survival_in_days"], "status": y["Status"].astype(int),
        "trt": X["Treatment"].map({"standard": 1, "test": 2}).astype(int),
        "celltype": X["Celltype"].astype(str), "karno": X["Karnofsky_score"],
        "diagtime": X["Months_from_Diagnosis"], "age": X["Age_in_years"],
        "prior": X["Prior_therapy"].map({"no": 0, "yes": 10}).astype(int),
    })


def _gbsg2() -> pd.DataFrame:
    X, y = load_gbsg2()
    frame = pd.DataFrame({"time": y["time"], "status": y["cens"].astype(int)})
    for col in ("horTh", "age", "menostat", "tsize", "tgrade", "pnodes", "progrec", "estrec"):
        values = X[col]
        frame[col] = values.astype(str) if isinstance(values.dtype, pd.CategoricalDtype) else values.to_numpy()
    return frame


def _whas500() -> pd.DataFrame:
    X, y = load_whas500()
    frame = pd.DataFrame({"time": y["lenfol"], "status": y["fstat"].astype(int)})
    for col in ("age", "gender", "hr", "bmi", "chf", "sysbp", "afb"):
        values = X[col]
        frame[col] = values.astype(int) if isinstance(values.dtype, pd.CategoricalDtype) else values.to_numpy()
    return frame


def _aids() -> pd.DataFrame:
    X, y = load_aids()
    frame = pd.DataFrame({"time": y["time"], "status": y["censor"].astype(int)})
    for col in ("tx", "strat2", "age", "cd4", "karnof", "ivdrug"):
        values = X[col]
        frame[col] = values.astype(int) if isinstance(values.dtype, pd.CategoricalDtype) else values.to_numpy()
    return frame


#: file stem -> builder
DATASETS = {"km_veteran": _veteran, "km_gbsg2": _gbsg2, "km_whas500": _whas500, "km_aids": _aids}


def load(name: str) -> pd.DataFrame:
    """The dataset ``name`` (a key of :data:`DATASETS`) as written to ``<name>.csv``."""
    return DATASETS[name]()


def main() -> None:
    for name in DATASETS:
        load(name).to_csv(OUT / f"{name}.csv", index=False, float_format="%.17g")
        print(f"wrote {OUT / f'{name}.csv'}")


if __name__ == "__main__":
    main()
