"""The Cohort: patients, their outcome, their files and clinical variables, after validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from multisurv._validation import make_y

__all__ = ["Cohort", "CORE_COLUMNS", "OUTCOME_COLUMNS", "PATH_COLUMNS", "DEFAULT_PATH_COLUMNS", "SLIDE_SEPARATOR",
           "slide_paths", "count_slides", "SlideCounts"]

#: Columns every manifest starts with, in this order; the study's path columns, then clinical columns follow.
OUTCOME_COLUMNS = ("patient_id", "cohort", "time", "event")
#: Path column -> manifest-schema template of the built-in modalities (CT image and mask, slide); a study with
#: other modalities declares its own (see ``multisurv.registry.path_columns``).
DEFAULT_PATH_COLUMNS = {"ct_image": "ct_image", "ct_mask": "ct_mask", "wsi": "wsi"}
#: Columns that hold file paths in the reference design (empty = modality missing for that patient).
PATH_COLUMNS = tuple(DEFAULT_PATH_COLUMNS)
#: The core columns of the reference design's manifest, in order.
CORE_COLUMNS = (*OUTCOME_COLUMNS, *PATH_COLUMNS)
#: Separates the several slides of one patient in a slide column (``wsi``): ``block_A.svs;block_B.svs``.
SLIDE_SEPARATOR = ";"


def slide_paths(value) -> list[str]:
    """The slides of one cell of a slide column: ``[]`` when empty, one path, or the ``;``-separated paths.

    Parameters
    ----------
    value : str, list, tuple, float or None
        A cell of a slide column: None or NaN (no slide), a path, ``;``-separated paths, or a list of paths.

    Returns
    -------
    list of str
        The paths, stripped, empty parts dropped.

    Examples
    --------
    >>> slide_paths("/data/a.svs;/data/b.svs"), slide_paths("/data/a.svs"), slide_paths(None)
    (['/data/a.svs', '/data/b.svs'], ['/data/a.svs'], [])
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [part.strip() for part in str(value).split(SLIDE_SEPARATOR) if part.strip()]


def count_slides(table: pd.DataFrame, column: str = "wsi") -> SlideCounts:
    """The slides per patient of ``column`` of a cohort table (see :meth:`Cohort.slide_counts`).

    Parameters
    ----------
    table : pandas.DataFrame
        A cohort table indexed by patient_id.
    column : str, default="wsi"
        The slide column; when absent, no patient has a slide.

    Returns
    -------
    SlideCounts
        The counts of the patients with at least one slide.

    Examples
    --------
    >>> t = pd.DataFrame({"wsi": ["a.svs;b.svs", None, "c.svs"]}, index=pd.Index(["p1", "p2", "p3"], name="patient_id"))
    >>> count_slides(t).counts.to_dict(), count_slides(t, "he").n_patients
    ({'p1': 2, 'p3': 1}, 0)
    """
    if column not in table:
        return SlideCounts(column, pd.Series([], dtype=int, index=pd.Index([], name="patient_id")))
    counts = table[column].map(lambda v: len(slide_paths(v))).astype(int)
    return SlideCounts(column, counts[counts > 0])


@dataclass(frozen=True)
class SlideCounts:
    """Slides per patient of one slide column (:meth:`Cohort.slide_counts`).

    Parameters
    ----------
    column : str
        The slide column.
    counts : pandas.Series
        Slides per patient (int, index ``patient_id``), patients with at least one slide only.

    Examples
    --------
    >>> counts = SlideCounts("wsi", pd.Series([1, 2, 4], index=["a", "b", "c"]))
    >>> counts.sentence()
    "slides per patient ('wsi'): median 2 (1-4); 2 of 3 patients with more than one"
    """

    column: str
    counts: pd.Series

    @property
    def n_patients(self) -> int:
        """Patients with at least one slide.

        Examples
        --------
        >>> counts = SlideCounts("wsi", pd.Series([1, 2, 4], index=["a", "b", "c"]))
        >>> counts.n_patients
        3
        """
        return int(len(self.counts))

    @property
    def n_slides(self) -> int:
        """Slides in all.

        Examples
        --------
        >>> counts = SlideCounts("wsi", pd.Series([1, 2, 4], index=["a", "b", "c"]))
        >>> counts.n_slides
        7
        """
        return int(self.counts.sum())

    @property
    def n_multiple(self) -> int:
        """Patients with more than one slide.

        Examples
        --------
        >>> counts = SlideCounts("wsi", pd.Series([1, 2, 4], index=["a", "b", "c"]))
        >>> counts.n_multiple
        2
        """
        return int((self.counts > 1).sum())

    def sentence(self) -> str:
        """One line for reports: median (range) and how many patients have more than one slide.

        Returns
        -------
        str
            The sentence (or that no patient has a slide).

        Examples
        --------
        >>> SlideCounts("wsi", pd.Series([], dtype=int)).sentence()
        "slides per patient ('wsi'): no patient has a slide"
        """
        if not self.n_patients:
            return f"slides per patient ({self.column!r}): no patient has a slide"
        median = float(self.counts.median())
        return (f"slides per patient ({self.column!r}): median {median:g} ({int(self.counts.min())}-"
                f"{int(self.counts.max())}); {self.n_multiple} of {self.n_patients} patients with more than one")


@dataclass(frozen=True)
class Cohort:
    """A validated cohort.

    Parameters
    ----------
    table : pandas.DataFrame
        Index ``patient_id`` (str). Columns ``cohort`` (str), ``time`` (float > 0), ``event`` (bool),
        the path columns (absolute path as str, or None when that modality is missing; by default ``ct_image``,
        ``ct_mask``, ``wsi``; a slide column holds the patient's several slides joined by ``;``, see
        :func:`slide_paths`), then the clinical columns.
    clinical_columns : tuple of str, default=()
        Names of the clinical columns, in manifest order.
    clinical_spec : dict, default={}
        The clinical variable spec the manifest was validated against (name -> spec dict).
    source : Path, optional
        The manifest file this cohort was read from.
    path_columns : tuple of str, default=PATH_COLUMNS
        The columns of ``table`` that hold file paths (the study's modalities' manifest columns).

    Raises
    ------
    ValueError
        When ``table`` is not indexed by ``patient_id``.

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
        """Patient ids, in manifest order.

        Examples
        --------
        >>> t = pd.DataFrame({"patient_id": ["a", "b", "c"], "cohort": ["development", "development", "external"],
        ...                   "time": [3.0, 4.0, 5.0], "event": [True, False, True], "age": [61, None, 70],
        ...                   "ct_image": ["/ct/a.nii.gz", None, "/ct/c.nii.gz"],
        ...                   "ct_mask": ["/ct/a_m.nii.gz", None, None],
        ...                   "wsi": [None, "/s/b.svs", "/s/c1.svs;/s/c2.svs"]}).set_index("patient_id")
        >>> cohort = Cohort(t, clinical_columns=("age",))
        >>> cohort.ids
        ['a', 'b', 'c']
        """
        return list(self.table.index)

    @property
    def y(self) -> np.ndarray:
        """Structured survival array with fields ``event`` (bool) and ``time`` (float).

        Examples
        --------
        >>> t = pd.DataFrame({"patient_id": ["a", "b", "c"], "cohort": ["development", "development", "external"],
        ...                   "time": [3.0, 4.0, 5.0], "event": [True, False, True], "age": [61, None, 70],
        ...                   "ct_image": ["/ct/a.nii.gz", None, "/ct/c.nii.gz"],
        ...                   "ct_mask": ["/ct/a_m.nii.gz", None, None],
        ...                   "wsi": [None, "/s/b.svs", "/s/c1.svs;/s/c2.svs"]}).set_index("patient_id")
        >>> cohort = Cohort(t, clinical_columns=("age",))
        >>> cohort.y["time"].tolist(), cohort.y["event"].tolist()
        ([3.0, 4.0, 5.0], [True, False, True])
        """
        return make_y(self.table["time"].to_numpy(float), self.table["event"].to_numpy(bool))

    def has(self, columns: Sequence[str]) -> pd.Series:
        """Boolean Series: the patient has every one of these path columns filled in (False if a column is absent).

        Parameters
        ----------
        columns : sequence of str
            Path columns of the table.

        Returns
        -------
        pandas.Series of bool
            Indexed by patient_id.

        Examples
        --------
        >>> t = pd.DataFrame({"patient_id": ["a", "b", "c"], "cohort": ["development", "development", "external"],
        ...                   "time": [3.0, 4.0, 5.0], "event": [True, False, True], "age": [61, None, 70],
        ...                   "ct_image": ["/ct/a.nii.gz", None, "/ct/c.nii.gz"],
        ...                   "ct_mask": ["/ct/a_m.nii.gz", None, None],
        ...                   "wsi": [None, "/s/b.svs", "/s/c1.svs;/s/c2.svs"]}).set_index("patient_id")
        >>> cohort = Cohort(t, clinical_columns=("age",))
        >>> cohort.has(["ct_image", "wsi"]).tolist(), cohort.has(["pet"]).tolist()
        ([False, False, True], [False, False, False])
        """
        out = pd.Series(True, index=self.table.index)
        for column in columns:
            out &= self.table[column].notna() if column in self.table else False
        return out

    @property
    def has_ct(self) -> pd.Series:
        """Boolean Series: the patient has a CT image and mask.

        Examples
        --------
        >>> t = pd.DataFrame({"patient_id": ["a", "b", "c"], "cohort": ["development", "development", "external"],
        ...                   "time": [3.0, 4.0, 5.0], "event": [True, False, True], "age": [61, None, 70],
        ...                   "ct_image": ["/ct/a.nii.gz", None, "/ct/c.nii.gz"],
        ...                   "ct_mask": ["/ct/a_m.nii.gz", None, None],
        ...                   "wsi": [None, "/s/b.svs", "/s/c1.svs;/s/c2.svs"]}).set_index("patient_id")
        >>> cohort = Cohort(t, clinical_columns=("age",))
        >>> cohort.has_ct.tolist()
        [True, False, False]
        """
        return self.has(("ct_image", "ct_mask"))

    @property
    def has_wsi(self) -> pd.Series:
        """Boolean Series: the patient has a whole-slide image.

        Examples
        --------
        >>> t = pd.DataFrame({"patient_id": ["a", "b", "c"], "cohort": ["development", "development", "external"],
        ...                   "time": [3.0, 4.0, 5.0], "event": [True, False, True], "age": [61, None, 70],
        ...                   "ct_image": ["/ct/a.nii.gz", None, "/ct/c.nii.gz"],
        ...                   "ct_mask": ["/ct/a_m.nii.gz", None, None],
        ...                   "wsi": [None, "/s/b.svs", "/s/c1.svs;/s/c2.svs"]}).set_index("patient_id")
        >>> cohort = Cohort(t, clinical_columns=("age",))
        >>> cohort.has_wsi.tolist()
        [False, True, True]
        """
        return self.has(("wsi",))

    def slide_counts(self, column: str = "wsi") -> SlideCounts:
        """How many slides each patient with a slide has in ``column`` (several are ``;``-separated).

        Parameters
        ----------
        column : str, default="wsi"
            The slide column.

        Returns
        -------
        SlideCounts
            Slides per patient with at least one slide.

        Examples
        --------
        >>> t = pd.DataFrame({"patient_id": ["a", "b", "c"], "wsi": ["/s/a1.svs;/s/a2.svs", "/s/b.svs", None]}
        ...                  ).set_index("patient_id")
        >>> Cohort(t, path_columns=("wsi",)).slide_counts().counts.to_dict()
        {'a': 2, 'b': 1}
        """
        return count_slides(self.table, column)

    @property
    def clinical(self) -> pd.DataFrame:
        """The clinical columns (raw values, missing values kept as NaN).

        Examples
        --------
        >>> t = pd.DataFrame({"patient_id": ["a", "b", "c"], "cohort": ["development", "development", "external"],
        ...                   "time": [3.0, 4.0, 5.0], "event": [True, False, True], "age": [61, None, 70],
        ...                   "ct_image": ["/ct/a.nii.gz", None, "/ct/c.nii.gz"],
        ...                   "ct_mask": ["/ct/a_m.nii.gz", None, None],
        ...                   "wsi": [None, "/s/b.svs", "/s/c1.svs;/s/c2.svs"]}).set_index("patient_id")
        >>> cohort = Cohort(t, clinical_columns=("age",))
        >>> cohort.clinical.columns.tolist(), int(cohort.clinical["age"].isna().sum())
        (['age'], 1)
        """
        return self.table.loc[:, list(self.clinical_columns)]

    def subset(self, ids: Sequence[str]) -> "Cohort":
        """A new Cohort with only the given patients, in the given order.

        Parameters
        ----------
        ids : sequence of str
            Patient ids of this cohort.

        Returns
        -------
        Cohort
            The same columns, spec, source and path columns.

        Raises
        ------
        KeyError
            When an id is not in the cohort.

        Examples
        --------
        >>> t = pd.DataFrame({"patient_id": ["a", "b", "c"], "cohort": ["development", "development", "external"],
        ...                   "time": [3.0, 4.0, 5.0], "event": [True, False, True], "age": [61, None, 70],
        ...                   "ct_image": ["/ct/a.nii.gz", None, "/ct/c.nii.gz"],
        ...                   "ct_mask": ["/ct/a_m.nii.gz", None, None],
        ...                   "wsi": [None, "/s/b.svs", "/s/c1.svs;/s/c2.svs"]}).set_index("patient_id")
        >>> cohort = Cohort(t, clinical_columns=("age",))
        >>> cohort.subset(["c", "a"]).ids
        ['c', 'a']
        """
        return Cohort(self.table.loc[list(ids)], self.clinical_columns, self.clinical_spec, self.source,
                      self.path_columns)

    def split(self, development: str | Sequence[str] = "development") -> tuple["Cohort", "Cohort"]:
        """Split into (development, external): ``development`` names the cohort label(s) used for fitting.

        Parameters
        ----------
        development : str or sequence of str, default="development"
            The cohort label(s) whose patients form the development cohort.

        Returns
        -------
        development, external : Cohort
            The patients with those labels, and every other patient, each in manifest order.

        Raises
        ------
        ValueError
            When no patient has one of the labels; the message lists the labels of the manifest.

        Examples
        --------
        >>> t = pd.DataFrame({"patient_id": ["a", "b", "c"], "cohort": ["development", "development", "external"],
        ...                   "time": [3.0, 4.0, 5.0], "event": [True, False, True], "age": [61, None, 70],
        ...                   "ct_image": ["/ct/a.nii.gz", None, "/ct/c.nii.gz"],
        ...                   "ct_mask": ["/ct/a_m.nii.gz", None, None],
        ...                   "wsi": [None, "/s/b.svs", "/s/c1.svs;/s/c2.svs"]}).set_index("patient_id")
        >>> cohort = Cohort(t, clinical_columns=("age",))
        >>> dev, ext = cohort.split("development")
        >>> dev.ids, ext.ids
        (['a', 'b'], ['c'])
        """
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
