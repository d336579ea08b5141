"""The Cohort: patients, their outcome, their files and clinical variables, after validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from multisurv._validation import make_y

__all__ = ["Cohort", "CORE_COLUMNS", "OUTCOME_COLUMNS", "PATH_COLUMNS", "DEFAULT_PATH_COLUMNS"]

#: Columns every manifest starts with, in this order; the study's path columns, then clinical columns follow.
OUTCOME_COLUMNS = ("patient_id", "cohort", "time", "event")
#: Path column -> manifest-schema template of the built-in modalities (CT image and mask, slide); a study with
#: other modalities declares its own (see ``multisurv.registry.path_columns``).
DEFAULT_PATH_COLUMNS = {"ct_image": "ct_image", "ct_mask": "ct_mask", "wsi": "wsi"}
#: Columns that hold file paths in the reference design (empty = modality missing for that patient).
PATH_COLUMNS = tuple(DEFAULT_PATH_COLUMNS)
#: The core columns of the reference design's manifest, in order.
CORE_COLUMNS = (*OUTCOME_COLUMNS, *PATH_COLUMNS)


@dataclass(frozen=True)
class Cohort:
    """A validated cohort.

    Parameters
    ----------
    table : pandas.DataFrame
        Index ``patient_id`` (str). Columns ``cohort`` (str), ``time`` (float > 0), ``event`` (bool),
        the path columns (absolute path as str, or None when that modality is missing; by default ``ct_image``,
        ``ct_mask``, ``wsi``), then the clinical columns.
    clinical_columns : tuple of str
        Names of the clinical columns, in manifest order.
    clinical_spec : dict
        The clinical variable spec the manifest was validated against (name -> spec dict).
    source : Path, optional
        The manifest file this cohort was read from.
    path_columns : tuple of str
        The columns of ``table`` that hold file paths (the study's modalities' manifest columns).

    Examples
    --------
    >>> t = pd.DataFrame({"patient_id": ["a", "b"], "cohort": ["development", "external"], "time": [3.0, 4.0],
    ...                   "event": [True, False], "ct_image": [None, None], "ct_mask": [None, None],
    ...                   "wsi": [None, None]}).set_index("patient_id")
    >>> dev, ext = Cohort(t).split()
    >>> dev.ids, ext.ids
    (['a'], ['b'])
    """

    table: pd.DataFrame
    clinical_columns: tuple = ()
    clinical_spec: dict = field(default_factory=dict)
    source: Path | None = None
    path_columns: tuple = PATH_COLUMNS

    def __post_init__(self):
        if self.table.index.name != "patient_id":
            raise ValueError("Cohort.table must be indexed by 'patient_id'.")

    def __len__(self) -> int:
        return len(self.table)

    @property
    def ids(self) -> list[str]:
        """Patient ids, in manifest order."""
        return list(self.table.index)

    @property
    def y(self) -> np.ndarray:
        """Structured survival array with fields ``event`` (bool) and ``time`` (float)."""
        return make_y(self.table["time"].to_numpy(float), self.table["event"].to_numpy(bool))

    def has(self, columns: Sequence[str]) -> pd.Series:
        """Boolean Series: the patient has every one of these path columns filled in (False if a column is absent)."""
        out = pd.Series(True, index=self.table.index)
        for column in columns:
            out &= self.table[column].notna() if column in self.table else False
        return out

    @property
    def has_ct(self) -> pd.Series:
        """Boolean Series: the patient has a CT image and mask."""
        return self.has(("ct_image", "ct_mask"))

    @property
    def has_wsi(self) -> pd.Series:
        """Boolean Series: the patient has a whole-slide image."""
        return self.has(("wsi",))

    @property
    def clinical(self) -> pd.DataFrame:
        """The clinical columns (raw values, missing values kept as NaN)."""
        return self.table.loc[:, list(self.clinical_columns)]

    def subset(self, ids: Sequence[str]) -> "Cohort":
        """A new Cohort with only the given patients, in the given order."""
        return Cohort(self.table.loc[list(ids)], self.clinical_columns, self.clinical_spec, self.source,
                      self.path_columns)

    def split(self, development: str | Sequence[str] = "development") -> tuple["Cohort", "Cohort"]:
        """Split into (development, external): ``development`` names the cohort label(s) used for fitting."""
        labels = [development] if isinstance(development, str) else list(development)
        known = sorted(self.table["cohort"].unique())
        missing = [lab for lab in labels if lab not in known]
        if missing:
            raise ValueError(
                f"No patient has cohort label {missing[0]!r}. Cohort labels in this manifest: "
                + ", ".join(repr(k) for k in known) + "."
            )
        is_dev = self.table["cohort"].isin(labels)
        return self.subset(self.table.index[is_dev]), self.subset(self.table.index[~is_dev])
