"""Write the real data sets of this experiment as multisurv inputs: a manifest, a clinical spec, a gene table.

For each data set (``breast``: scikit-survival's ``load_breast_cancer``; ``nki70``: SurvSet's ``nki70``, needs the
``experiments`` extra) this writes ``<out>/<name>/manifest.csv`` (patient_id, cohort = development, time in years,
event, the raw clinical variables), ``clinical_spec.yaml`` (their types and categories) and ``expression.csv``
(patient_id and one column per gene). ``breast.yaml`` and ``nki70.yaml`` then run the study with
``multisurv run``: a clinical modality and a ``genes`` table modality, early and late fusion, internal validation
by repeated cross-validation with every step refitted in each fold.

Run: ``.venv/bin/python experiments/real_data_fusion/prepare.py`` (``--out``, default ``runs/real_data_fusion/data``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml


def breast() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Manifest rows and gene table of scikit-survival's breast cancer set (Desmedt et al. 2007)."""
    from sksurv.datasets import load_breast_cancer

    X, y = load_breast_cancer()
    ids = [f"P{i:03d}" for i in range(len(X))]
    manifest = pd.DataFrame({"patient_id": ids, "cohort": "development", "time": y["t.tdm"] / 365.25,
                             "event": y["e.tdm"].astype(int), "age": X["age"].to_numpy(),
                             "size": X["size"].to_numpy(), "er": X["er"].astype(str).to_numpy(),
                             "grade": X["grade"].astype(str).to_numpy()})
    genes = X.iloc[:, :76].copy()
    genes.insert(0, "patient_id", ids)
    return manifest, genes


def nki70() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Manifest rows and gene table of SurvSet's nki70 (van de Vijver et al. 2002, from R's penalized)."""
    from SurvSet.data import SurvLoader

    df = SurvLoader().load_dataset("nki70")["df"]
    ids = [f"N{i:03d}" for i in range(len(df))]
    manifest = pd.DataFrame({"patient_id": ids, "cohort": "development", "time": df["time"].astype(float).to_numpy(),
                             "event": df["event"].astype(int).to_numpy(), "age": df["num_Age"].astype(float).to_numpy(),
                             "diameter": df["fac_Diam"].astype(str).to_numpy(), "nodes": df["fac_N"].astype(str).to_numpy(),
                             "er": df["fac_ER"].astype(str).to_numpy(), "grade": df["fac_Grade"].astype(str).to_numpy()})
    genes = df.filter(regex="^num_").drop(columns="num_Age")
    genes.columns = [c[4:] for c in genes.columns]
    genes.insert(0, "patient_id", ids)
    return manifest, genes.reset_index(drop=True)


DATASETS = {"breast": breast, "nki70": nki70}


def spec_of(manifest: pd.DataFrame) -> dict:
    """clinical_variables.v1 spec of the manifest's clinical columns (numbers numeric, text categorical)."""
    variables = []
    for column in manifest.columns[4:]:
        if pd.api.types.is_numeric_dtype(manifest[column]):
            variables.append({"name": column, "type": "numeric"})
        else:
            variables.append({"name": column, "type": "categorical",
                              "categories": sorted(manifest[column].dropna().unique().tolist())})
    return {"schema": "clinical_variables.v1", "description": "Clinical variables of a real public data set.",
            "variables": variables}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/real_data_fusion/data"))
    args = parser.parse_args(argv)
    for name, load in DATASETS.items():
        try:
            manifest, genes = load()
        except ImportError as exc:
            print(f"{name}: skipped ({exc}); install the 'experiments' extra.")
            continue
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        manifest.to_csv(folder / "manifest.csv", index=False)
        genes.to_csv(folder / "expression.csv", index=False)
        (folder / "clinical_spec.yaml").write_text(yaml.safe_dump(spec_of(manifest), sort_keys=False))
        print(f"{name}: {len(manifest)} patients, {int(manifest['event'].sum())} events, "
              f"{manifest.shape[1] - 4} clinical variables, {genes.shape[1] - 1} genes -> {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
