"""Extra clinical variables for the synthetic cohort that carry no information on the outcome.

Published studies record many more clinical variables (laboratory values, history, findings) than the handful
that predict the outcome; the GIST reference study had about 30. :func:`add_null_clinical_variables` widens a
synthetic manifest to that shape with variables drawn independently of everything else, so that clinical
selection has to find the 7 generated variables among them. Each patient's values depend only on the seed and
the patient id (not on the cohort size), and about 5 % of the cells are left empty for the imputation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from multisurv._atomic import write_text_atomic
from multisurv._validation import check_param

__all__ = ["add_null_clinical_variables", "write_clinical_spec"]

#: Share of empty cells in every extra variable.
MISSING_SHARE = 0.05


def _variables(n: int) -> list[dict[str, Any]]:
    """Every third variable is a present/absent finding; the others are laboratory values (mean 100, SD 15)."""
    out = []
    for k in range(1, n + 1):
        if k % 3 == 0:
            out.append({"name": f"finding_{k:02d}", "type": "categorical", "categories": ["absent", "present"],
                        "description": "Synthetic finding with no effect on the outcome (null variable)."})
        else:
            out.append({"name": f"lab_{k:02d}", "type": "numeric", "unit": "a.u.", "minimum": 0,
                        "description": "Synthetic laboratory value with no effect on the outcome (null variable)."})
    return out


def _patient_rng(random_state: int, patient_id: str) -> np.random.Generator:
    key = int.from_bytes(hashlib.sha256(patient_id.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([random_state, 0x6E756C6C, key]))


def add_null_clinical_variables(table: pd.DataFrame, n: int, *, random_state: int = 0
                                ) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Append ``n`` clinical variables unrelated to the outcome to a manifest table.

    Parameters
    ----------
    table : pandas.DataFrame
        A manifest with a ``patient_id`` column.
    n : int
        Number of variables (0 returns the table unchanged).
    random_state : int
        Seed; with the patient id it fixes every value.

    Returns
    -------
    table : pandas.DataFrame
        A copy with the new columns at the end.
    variables : list of dict
        Their clinical spec entries (format ``clinical_variables.v1``).

    Examples
    --------
    >>> t = pd.DataFrame({"patient_id": ["A", "B"]})
    >>> wide, spec = add_null_clinical_variables(t, 3, random_state=0)
    >>> list(wide.columns), [v["type"] for v in spec]
    (['patient_id', 'lab_01', 'lab_02', 'finding_03'], ['numeric', 'numeric', 'categorical'])
    """
    check_param("add_null_clinical_variables", "n", n, kind="int", low=0, high=500)
    variables = _variables(n)
    rows = []
    for pid in table["patient_id"].astype(str):
        rng = _patient_rng(random_state, pid)
        row = {}
        for var in variables:
            if var["type"] == "numeric":
                value: Any = round(float(max(0.0, rng.normal(100.0, 15.0))), 1)
            else:
                value = "present" if rng.random() < 0.3 else "absent"
            row[var["name"]] = None if rng.random() < MISSING_SHARE else value
        rows.append(row)
    extra = pd.DataFrame(rows, index=table.index, columns=[v["name"] for v in variables])
    return pd.concat([table, extra], axis=1), variables


def write_clinical_spec(path: str | Path, spec: dict[str, dict[str, Any]], extra: list[dict[str, Any]], *,
                        description: str) -> Path:
    """Write ``spec`` (as returned by ``load_clinical_spec``) plus ``extra`` variables as a clinical spec YAML.

    Keys whose value is None, and ``required: false``, are left out of each variable (they are the defaults).

    Parameters
    ----------
    path : str or Path
        Output YAML file (written atomically).
    spec : dict of str to dict
        Variable name -> its entry (``name``, ``type``, ``unit``, bounds, ``categories``, ``required``...).
    extra : list of dict
        More variables, written after those of ``spec``.
    description : str
        The document's ``description``.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = write_clinical_spec(Path(d) / "spec.yaml",
    ...                               {"age": {"name": "age", "type": "number", "unit": "years", "required": False}},
    ...                               [{"name": "stage", "type": "category", "categories": None}], description="Demo.")
    ...     print(out.read_text())
    schema: clinical_variables.v1
    description: Demo.
    variables:
    - name: age
      type: number
      unit: years
    - name: stage
      type: category
    <BLANKLINE>
    """
    variables = []
    for entry in [*spec.values(), *extra]:
        clean = {k: v for k, v in entry.items() if v is not None and not (k == "required" and v is False)}
        variables.append(clean)
    document = {"schema": "clinical_variables.v1", "description": description, "variables": variables}
    return write_text_atomic(Path(path), yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
