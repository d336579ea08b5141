"""The synthetic cohort's optional second reader: off by default (outputs unchanged), realistic when on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sitk = pytest.importorskip("SimpleITK")

from multisurv.cohort.synthetic import make_synthetic_cohort

# SHA-256 (first 16 hex digits) of the files make_synthetic_cohort(n_development=2, n_external=0, random_state=0)
# wrote before the second reader existed (the package at commit fa60bdc, run from `git archive`), with numpy 2.4.6,
# scipy 1.17.1 and SimpleITK 2.5.7.
# The CSVs depend only on numpy's generator; the NRRD files also on scipy and SimpleITK, hence the version gate.
BEFORE = {
    "manifest.csv": "4106129f87f137e2",
    "truth.csv": "67bae70b159f29e5",
    "ct/SYN-D0001_image.nrrd": "f62ecf3c32b7a2df",
    "ct/SYN-D0001_mask.nrrd": "ace0ba5a598488e6",
    "ct/SYN-D0002_image.nrrd": "d7d60938aa380f56",
    "ct/SYN-D0002_mask.nrrd": "4c9b323f13b2fe43",
}
VERSIONS = ("2.4.6", "1.17.1", "2.5.7")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    plain = tmp_path_factory.mktemp("plain")
    with_reader = tmp_path_factory.mktemp("reader")
    make_synthetic_cohort(plain, n_development=2, n_external=0, random_state=0)
    make_synthetic_cohort(with_reader, n_development=2, n_external=0, random_state=0, second_reader=True)
    return plain, with_reader


def test_default_output_is_unchanged(cohorts):
    plain, _ = cohorts
    got = _hashes(plain)
    assert got["manifest.csv"] == BEFORE["manifest.csv"] and got["truth.csv"] == BEFORE["truth.csv"]
    assert "ct_mask_reader2" not in pd.read_csv(plain / "manifest.csv").columns
    assert "second_reader" not in json.loads((plain / "truth.json").read_text())
    import numpy
    import scipy

    if (numpy.__version__, scipy.__version__, sitk.Version_VersionString()) != VERSIONS:
        pytest.skip("the NRRD hashes were recorded with other numpy / scipy / SimpleITK versions")
    assert {k: got[k] for k in BEFORE} == BEFORE


def test_second_reader_adds_files_and_a_column_only(cohorts):
    plain, with_reader = cohorts
    a, b = _hashes(plain), _hashes(with_reader)
    added = sorted(set(b) - set(a))
    manifest = pd.read_csv(with_reader / "manifest.csv")
    has_ct = manifest["ct_mask"].notna()
    assert added == sorted(manifest.loc[has_ct, "ct_mask_reader2"]) and not set(a) - set(b)
    same = {k for k in a if k not in ("manifest.csv", "truth.json")}
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    pd.testing.assert_frame_equal(manifest.drop(columns="ct_mask_reader2"), pd.read_csv(plain / "manifest.csv"))
    assert manifest.columns[-1] == "ct_mask_reader2" and manifest.loc[~has_ct, "ct_mask_reader2"].isna().all()
    truth_a = json.loads((plain / "truth.json").read_text())
    truth_b = json.loads((with_reader / "truth.json").read_text())
    assert truth_b.pop("second_reader").startswith("ct_mask_reader2") and truth_a == truth_b


def test_second_reader_mask_is_a_realistic_redraw(cohorts):
    _, root = cohorts
    manifest = pd.read_csv(root / "manifest.csv").dropna(subset=["ct_mask"])
    overlaps = []
    for _, row in manifest.iterrows():
        first = sitk.ReadImage(str(root / row["ct_mask"]))
        second = sitk.ReadImage(str(root / row["ct_mask_reader2"]))
        assert second.GetSpacing() == first.GetSpacing() and second.GetOrigin() == first.GetOrigin()
        a, b = sitk.GetArrayFromImage(first) == 1, sitk.GetArrayFromImage(second) == 1
        overlaps.append(2 * (a & b).sum() / (a.sum() + b.sum()))
    # inter-observer Dice of well-defined solid tumours on CT is typically 0.8-0.95; the redraw is not a copy
    assert all(0.75 < d < 0.99 for d in overlaps), overlaps
    assert np.std(overlaps) > 0


def test_two_readers_end_to_end_through_reader_agreement_and_the_filter(cohorts, tmp_path):
    """The demo's path: synthetic second reader -> reader_agreement -> RobustnessFilter on the features."""
    pytest.importorskip("radiomics")
    from multisurv.features.robustness import reader_agreement
    from multisurv.selection.robustness import RobustnessFilter

    _, root = cohorts
    manifest = pd.read_csv(root / "manifest.csv").set_index("patient_id").dropna(subset=["ct_mask"])
    for column in ("ct_image", "ct_mask", "ct_mask_reader2"):
        manifest[column] = [str(root / p) for p in manifest[column]]
    params = {"imageType": {"Original": {}}, "featureClass": {"firstorder": [], "shape": []},
              "setting": {"label": 1, "binWidth": 25}}
    res = reader_agreement(manifest, mask_columns=["ct_mask", "ct_mask_reader2"], out_dir=tmp_path, params=params,
                           progress=False)
    assert res.failures.empty and (res.icc["n_subjects"] == len(manifest)).all()
    X = res.features["ct_mask"]
    f = RobustnessFilter(icc=res).fit(X)
    assert f.n_candidates_ == X.shape[1] and 0 < f.n_kept_ <= X.shape[1]
    assert f.selected_features_ == [c for c in X.columns if res.icc.loc[c, "icc2_1"] >= 0.75]
