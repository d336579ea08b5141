"""extract_radiomics reproduces PyRadiomics' own baseline for every case and settings column available.

Reference values: PyRadiomics' baseline CSVs (``data/baseline/baseline_<class>.csv`` of AIM-Harvard/pyradiomics,
BSD-3-Clause), vendored unchanged in ``tests/data/pyradiomics_baseline/`` (a copy of the shared sample data's
``radiomics-samples/baseline``). Each column (``lung1``, ``lung1_2d``, ``lung1_FBN``, ``lung1_combined``,
``lung1_flatRegion``, ``lung1_normalization``, ``lung1_resampling``, ``lung1_resegmentation``, the same for
``brain1`` and ``breast1``, and ``<case>_shape2D``) records in its ``diagnostics_Configuration_Settings`` and
``..._EnabledImageTypes`` rows the settings that produced it. Each test turns those rows into a multisurv params
dict, runs :func:`extract_radiomics` (the project's extractor, with its cache and batch loop) and compares every
feature of the column.

Tolerance: relative 1e-6. PyRadiomics' own suite accepts 3 % because its baseline was made by older releases;
with pyradiomics-bhklab 3.1.4 the largest relative difference we measured over all 3 cases x 9 columns
(2 022 values) is 3.8e-12, except four mesh-based shape features of ``brain1`` (plain column, whose shape baseline
was made by PyRadiomics 2.0.1b1; they differ by up to 9.1e-4 and are checked at PyRadiomics' 3 % and, strictly,
in an xfail test). A settings value that does not reach PyRadiomics moves features by far more than 1e-6 (a crop
that shifts the 2 mm resampling grid moved them by up to 0.77; one keeping 5 slices above the ROI, by 2.1e-4).

Data: ``breast1`` is vendored whole (79 kB) and the ``lung1`` slab by ``tests/data/make_lung1_crop.py``; they run
by default. The crop cannot reproduce ``lung1_normalization`` (normalisation uses whole-image statistics), so
that column, ``brain1`` and the full ``lung1`` come from the shared sample data (skipped when it is absent).
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

radiomics = pytest.importorskip("radiomics")
sitk = pytest.importorskip("SimpleITK")

from multisurv.features.radiomics import PREFIX, extract_radiomics  # noqa: E402

pytestmark = pytest.mark.radiomics

DATA = Path(__file__).resolve().parents[1] / "data"
BASELINE = DATA / "pyradiomics_baseline"
RTOL = 1e-6  # see module docstring
PYRADIOMICS_RTOL = 0.03  # PyRadiomics' own tests/testUtils.py::checkResult, for the documented exceptions only
KINDS = ("", "2d", "FBN", "combined", "flatRegion", "normalization", "resampling", "resegmentation", "shape2D")
#: (case, kind) -> features whose baseline was made by an older PyRadiomics with another mesh algorithm.
OLD_MESH = {("brain1", ""): ("original_shape_MeshVolume", "original_shape_SurfaceArea",
                             "original_shape_SurfaceVolumeRatio", "original_shape_Sphericity")}
#: The single slice PyRadiomics' ``<case>_2D`` test masks keep (checked against the baseline's mask hash).
SLICE_2D = {"lung1": 33, "brain1": 16, "breast1": 9}


def _tables() -> dict[str, pd.DataFrame]:
    return {p.stem.removeprefix("baseline_"): pd.read_csv(p, index_col=0) for p in sorted(BASELINE.glob("*.csv"))}


TABLES = _tables()


def column_name(case: str, kind: str) -> str:
    return f"{case}_{kind}" if kind else case


def baseline_column(case: str, kind: str) -> tuple[dict, pd.Series, dict]:
    """(multisurv params, expected values named ct__<feature>, diagnostics rows) of one baseline column.

    Every feature class file holding the column must record the same settings (asserted), so one extraction
    with those classes enabled reproduces the whole column.
    """
    col = column_name(case, kind)
    settings = collections.defaultdict(list)
    for cls, table in TABLES.items():
        if col in table:
            settings[(table.loc["diagnostics_Configuration_Settings", col],
                      table.loc["diagnostics_Configuration_EnabledImageTypes", col])].append(cls)
    assert len(settings) == 1, f"column {col} was made with different settings per class: {dict(settings)}"
    (setting, image_types), classes = next(iter(settings.items()))
    params = {"setting": ast.literal_eval(setting), "imageType": ast.literal_eval(image_types),
              "featureClass": {cls: None for cls in classes}}
    values, diagnostics = [], {}
    for cls in classes:
        column = TABLES[cls][col].dropna()
        is_diag = column.index.str.startswith("diagnostics_")
        diagnostics.update(column[is_diag].to_dict())
        values.append(column[~is_diag].astype(float))
    expected = pd.concat(values)
    expected.index = PREFIX + expected.index
    return params, expected, diagnostics


def relative_difference(got: pd.Series, expected: pd.Series) -> pd.Series:
    missing = sorted(set(expected.index) - set(got.index))
    assert not missing, f"features missing from the extraction: {missing[:5]}"
    got = got[expected.index]
    return (got - expected).abs() / expected.abs().where(expected != 0, 1.0)


def write_2d_mask(label_path: Path, z: int, dst: Path) -> Path:
    """PyRadiomics' ``<case>_2D`` mask: one slice of the 3D label, as a 1-slice volume (physical origin kept)."""
    label = sitk.ReadImage(str(label_path))
    size = list(label.GetSize())
    one = sitk.RegionOfInterest(label, [size[0], size[1], 1], [0, 0, z])
    sitk.WriteImage(one, str(dst))
    return dst


def run_column(tmp_path, make_cohort, case: str, kind: str, image: Path, label: Path, *, z_offset: int = 0):
    params, expected, diagnostics = baseline_column(case, kind)
    if kind == "shape2D":
        label = write_2d_mask(label, SLICE_2D[case] - z_offset, tmp_path / "mask_2d.nrrd")
        # The slice is exactly the mask PyRadiomics used: same SimpleITK pixel hash (as UInt32, like its loader).
        one = sitk.Cast(sitk.ReadImage(str(label)), sitk.sitkUInt32)
        assert sitk.Hash(one) == diagnostics["diagnostics_Mask-original_Hash"]
    res = extract_radiomics(make_cohort(**{case: {"ct_image": image, "ct_mask": label}}), out_dir=tmp_path,
                            params=params, progress=False)
    assert res.failures.empty, res.failures.to_dict("records")
    got = res.features.loc[case]
    # The settings reached PyRadiomics exactly as the baseline recorded them.
    used = ast.literal_eval(res.info.loc[case, "diagnostics_Configuration_Settings"])
    for key, value in params["setting"].items():
        assert used[key] == value, key
    return got, expected


def check(got: pd.Series, expected: pd.Series, case: str, kind: str) -> None:
    diff = relative_difference(got, expected)
    exceptions = list(OLD_MESH.get((case, kind), ()))
    exceptions = [PREFIX + name for name in exceptions]
    strict = diff.drop(exceptions)
    assert strict.max() <= RTOL, strict.sort_values().tail(3).to_dict()
    if exceptions:
        assert diff[exceptions].max() < PYRADIOMICS_RTOL


VENDORED = [("breast1", kind) for kind in KINDS] + [("lung1", kind) for kind in KINDS if kind != "normalization"]


@pytest.mark.parametrize(("case", "kind"), VENDORED, ids=[column_name(c, k) for c, k in VENDORED])
def test_vendored_case_matches_baseline(tmp_path, make_cohort, case, kind):
    if case == "breast1":
        image, label, z_offset = DATA / "breast1_image.nrrd", DATA / "breast1_label.nrrd", 0
    else:
        image, label, z_offset = DATA / "lung1_crop_image.nrrd", DATA / "lung1_crop_label.nrrd", 24
    got, expected = run_column(tmp_path, make_cohort, case, kind, image, label, z_offset=z_offset)
    check(got, expected, case, kind)


SHARED = [(case, kind) for case in ("brain1", "breast1", "lung1") for kind in KINDS]


@pytest.mark.parametrize(("case", "kind"), [
    pytest.param(c, k, marks=[pytest.mark.slow] if c == "lung1" and k != "normalization" else [],
                 id=column_name(c, k)) for c, k in SHARED])
def test_shared_full_volume_matches_baseline(tmp_path, make_cohort, request, case, kind):
    """Full-size volumes; lung1 (12.5 MB, ~1 s per column) is slow except its normalization column. brain1 and
    breast1 are vendored in tests/data (never skipped); the full lung1 comes from the shared sample data."""
    samples = DATA if case in ("brain1", "breast1") else request.getfixturevalue("shared_data") / "radiomics-samples"
    got, expected = run_column(tmp_path, make_cohort, case, kind, samples / f"{case}_image.nrrd",
                               samples / f"{case}_label.nrrd")
    check(got, expected, case, kind)


@pytest.mark.xfail(strict=True, reason="brain1's shape baseline was made by PyRadiomics 2.0.1b1, whose mesh "
                                       "differs from 3.x by up to 9.1e-4 (relative) in 4 mesh-based features")
def test_brain1_mesh_features_at_strict_tolerance(tmp_path, make_cohort):
    samples = DATA
    got, expected = run_column(tmp_path, make_cohort, "brain1", "", samples / "brain1_image.nrrd",
                               samples / "brain1_label.nrrd")
    names = [PREFIX + n for n in OLD_MESH[("brain1", "")]]
    np.testing.assert_allclose(got[names], expected[names], rtol=RTOL)


def test_every_baseline_column_is_covered():
    columns = {c for table in TABLES.values() for c in table.columns}
    assert columns == {column_name(case, kind) for case, kind in SHARED}
    assert sum(len(baseline_column(c, k)[1]) for c, k in SHARED) == 2022
