"""The synthetic GIST-like cohort: files, types, determinism, centre shifts and the written truth."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from multisurv.cohort.synthetic import (
    COEFFICIENTS,
    MANIFEST_COLUMNS,
    MISSINGNESS,
    make_synthetic_cohort,
    make_synthetic_table,
)
from multisurv.cohort.synthetic_ct import MAX_SHAPE, SCANNERS, render_ct
from multisurv.cohort.synthetic_wsi import STAINS, render_slide

N_DEV, N_EXT = 6, 4


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "cohort"
    make_synthetic_cohort(root, n_development=N_DEV, n_external=N_EXT, random_state=0)
    return root


@pytest.fixture(scope="module")
def manifest(tiny) -> pd.DataFrame:
    return pd.read_csv(tiny / "manifest.csv", dtype={"patient_id": str}, keep_default_na=False, na_values=[""])


def test_returns_the_manifest_path(tmp_path):
    assert make_synthetic_cohort(tmp_path / "c", n_development=1, n_external=0) == tmp_path / "c" / "manifest.csv"


def test_manifest_columns_and_types(manifest):
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    assert len(manifest) == N_DEV + N_EXT
    expected_ids = [f"SYN-D{i:04d}" for i in range(1, N_DEV + 1)] + [f"SYN-E{i:04d}" for i in range(1, N_EXT + 1)]
    assert list(manifest["patient_id"]) == expected_ids
    assert list(manifest["cohort"]) == ["development"] * N_DEV + ["external"] * N_EXT
    assert manifest["time"].dtype == float and (manifest["time"] > 0).all()
    assert np.allclose(manifest["time"], manifest["time"].round(2))
    assert set(manifest["event"]) <= {0, 1} and manifest["event"].dtype == np.int64

    age = manifest["age"].dropna()
    assert age.between(25, 90).all() and np.allclose(age, age.round(1))
    assert set(manifest["sex"]) <= {"female", "male"}
    assert set(manifest["site"]) <= {"stomach", "small_intestine", "colorectum", "other"}
    assert (manifest["tumour_size_cm"].dropna() > 0).all()
    mitoses = manifest["mitotic_count"].dropna()
    assert (mitoses >= 0).all() and np.array_equal(mitoses, mitoses.round())
    assert manifest["ki67_percent"].dropna().between(0, 100).all()
    assert set(manifest["tki_therapy"].dropna()) <= {"yes", "no"}
    for column in ("patient_id", "cohort", "time", "event", "sex", "site"):
        assert manifest[column].notna().all(), column


def test_paths_are_relative_and_exist_exactly_when_given(tiny, manifest):
    for column, pattern in (("ct_image", r"ct/{}_image\.nrrd"), ("ct_mask", r"ct/{}_mask\.nrrd"),
                            ("wsi", r"wsi/{}\.tiff")):
        for pid, value in zip(manifest["patient_id"], manifest[column]):
            if pd.isna(value):
                continue
            assert re.fullmatch(pattern.format(pid), value), value
            assert (tiny / value).is_file(), value
    assert manifest["ct_image"].isna().equals(manifest["ct_mask"].isna())
    written = {str(p.relative_to(tiny)) for p in (tiny / "ct").iterdir()} | {
        str(p.relative_to(tiny)) for p in (tiny / "wsi").iterdir()}
    listed = set(manifest[["ct_image", "ct_mask", "wsi"]].stack().dropna())
    assert written == listed


def test_missing_modalities_and_clinical_values_at_the_stated_rates():
    manifest, _ = make_synthetic_table(2000, 1000, random_state=1)
    no_ct, no_wsi = manifest["ct_image"].isna(), manifest["wsi"].isna()
    # 3000 Bernoulli draws: the standard error of a rate near 0.2 is about 0.007; allow ~4 of them.
    assert no_ct.mean() == pytest.approx(MISSINGNESS["ct"], abs=0.03)
    assert no_wsi.mean() == pytest.approx(MISSINGNESS["wsi"], abs=0.03)
    assert (no_ct & no_wsi).mean() == pytest.approx(MISSINGNESS["ct"] * MISSINGNESS["wsi"], abs=0.015)
    for column in MISSINGNESS["clinical_columns"]:
        assert manifest[column].isna().mean() == pytest.approx(MISSINGNESS["clinical"], abs=0.015), column
    assert manifest[["patient_id", "cohort", "time", "event", "sex", "site"]].notna().all().all()


def test_event_rate_is_moderate():
    manifest, _ = make_synthetic_table(1000, 0, random_state=2)
    assert 0.35 <= manifest["event"].mean() <= 0.55
    assert manifest["time"].max() <= 120.0


def test_a_patient_does_not_depend_on_the_cohort_sizes():
    small, small_truth = make_synthetic_table(3, 2, random_state=5)
    big, big_truth = make_synthetic_table(30, 20, random_state=5)
    rows = ["SYN-D0001", "SYN-D0002", "SYN-D0003", "SYN-E0001", "SYN-E0002"]
    pd.testing.assert_frame_equal(small.set_index("patient_id"), big.set_index("patient_id").loc[rows])
    pd.testing.assert_frame_equal(small_truth.set_index("patient_id"), big_truth.set_index("patient_id").loc[rows])


def test_ct_image_and_mask_share_their_geometry(tiny, manifest):
    sitk = pytest.importorskip("SimpleITK")
    cases = manifest.dropna(subset=["ct_image"])
    assert len(cases) > 0
    for row in cases.itertuples():
        image = sitk.ReadImage(str(tiny / row.ct_image))
        mask = sitk.ReadImage(str(tiny / row.ct_mask))
        assert image.GetSize() == mask.GetSize()
        assert image.GetSpacing() == mask.GetSpacing()
        assert image.GetOrigin() == mask.GetOrigin()
        assert image.GetDirection() == mask.GetDirection() == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
        assert image.GetPixelID() == sitk.sitkInt16 and mask.GetPixelID() == sitk.sitkUInt8
        labels = sitk.GetArrayFromImage(mask)
        assert set(np.unique(labels)) == {0, 1}
        assert all(n <= m for n, m in zip(labels.shape, MAX_SHAPE))
        assert 0 < labels.sum() <= 15000
        scanner = SCANNERS[row.cohort]
        sx, sy, sz = image.GetSpacing()
        assert sx == sy and scanner.inplane_spacing_mm[0] <= sx <= scanner.inplane_spacing_mm[1]
        assert sz == scanner.slice_thickness_mm


def test_slides_open_in_openslide_with_a_pyramid_and_mpp(tiny, manifest):
    openslide = pytest.importorskip("openslide")
    slides = manifest["wsi"].dropna()
    assert len(slides) > 0
    for path in slides:
        with openslide.OpenSlide(str(tiny / path)) as slide:
            assert slide.level_count >= 2
            assert slide.dimensions == (1120, 896)
            assert slide.level_downsamples[1] == pytest.approx(4.0)
            assert float(slide.properties["openslide.mpp-x"]) == pytest.approx(0.5)
            assert float(slide.properties["openslide.mpp-y"]) == pytest.approx(0.5)
            region = np.asarray(slide.read_region((448, 336), 0, (224, 224)).convert("RGB"))
            assert region.shape == (224, 224, 3)
            corner = np.asarray(slide.read_region((0, 0), 1, (8, 8)).convert("RGB"))
            assert corner.mean() > 200  # glass at the corner


def test_same_seed_gives_byte_identical_files(tiny, tmp_path):
    again = tmp_path / "again"
    make_synthetic_cohort(again, n_development=N_DEV, n_external=N_EXT, random_state=0)
    first = _hashes(tiny)
    assert first == _hashes(again)
    assert {"manifest.csv", "truth.csv", "truth.json"} <= set(first)


def test_rerun_in_place_replaces_files_identically(tmp_path):
    root = tmp_path / "c"
    make_synthetic_cohort(root, n_development=2, n_external=1, random_state=4)
    before = _hashes(root)
    make_synthetic_cohort(root, n_development=2, n_external=1, random_state=4)
    assert _hashes(root) == before  # and no temporary file is left behind


def test_different_seed_gives_different_files(tiny, tmp_path):
    other = tmp_path / "other"
    make_synthetic_cohort(other, n_development=2, n_external=1, random_state=1)
    first, second = _hashes(tiny), _hashes(other)
    common = set(first) & set(second)
    assert common
    assert all(first[name] != second[name] for name in common)


def test_truth_lp_is_the_coefficients_applied_to_the_covariates(tiny, manifest):
    truth = pd.read_csv(tiny / "truth.csv", dtype={"patient_id": str})
    meta = json.loads((tiny / "truth.json").read_text())
    assert meta["coefficients"] == COEFFICIENTS
    assert meta["random_state"] == 0
    lp = sum(coef * truth[name] for name, coef in meta["coefficients"].items())
    np.testing.assert_allclose(truth["true_lp"], lp, rtol=0, atol=1e-12)  # float round-trip through CSV
    for name, coef in meta["coefficients"].items():
        np.testing.assert_allclose(truth[f"term_{name}"], coef * truth[name], rtol=0, atol=1e-12)
    assert list(truth["patient_id"]) == list(manifest["patient_id"])
    assert meta["counts"]["development"]["n"] == N_DEV and meta["counts"]["external"]["n"] == N_EXT
    assert meta["counts"]["development"]["events"] == int(manifest.loc[:N_DEV - 1, "event"].sum())
    # The recorded outcome follows the recorded event and censoring times.
    follow_up = np.maximum(np.minimum(truth["event_time"], truth["censoring_time"]).round(2), 0.01)
    np.testing.assert_allclose(manifest["time"], follow_up)
    np.testing.assert_array_equal(manifest["event"], (truth["event_time"] <= truth["censoring_time"]).astype(int))


def test_external_stain_is_bluer_haematoxylin_and_weaker_eosin():
    """Same slide (same random stream), stained by each lab: the external tissue is less red and less pink."""
    dev = render_slide(np.random.default_rng(3), u_path=0.0, mitotic_count=3, stain=STAINS["development"])
    ext = render_slide(np.random.default_rng(3), u_path=0.0, mitotic_count=3, stain=STAINS["external"])
    tissue = (dev.max(axis=2).astype(int) - dev.min(axis=2)) > 20
    dev_mean, ext_mean = dev[tissue].mean(axis=0), ext[tissue].mean(axis=0)
    assert ext_mean[0] < dev_mean[0] - 3  # red: stronger haematoxylin absorbs more red
    assert ext_mean[1] > dev_mean[1] + 3  # green: weaker eosin absorbs less green
    glass = ~ndimage.binary_dilation(tissue, iterations=10)
    assert abs(dev[glass].mean() - ext[glass].mean()) < 0.5  # the glass is the same


def test_external_scanner_adds_its_hu_offset():
    """Same case drawn with the development scanner with and without the external HU offset."""
    dev = SCANNERS["development"]
    shifted = replace(dev, hu_offset=SCANNERS["external"].hu_offset)
    a = render_ct(np.random.default_rng(7), u_ct=0.5, size_cm=6.0, scanner=dev)
    b = render_ct(np.random.default_rng(7), u_ct=0.5, size_cm=6.0, scanner=shifted)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(b.image.astype(int) - a.image, SCANNERS["external"].hu_offset)
    ext = SCANNERS["external"]
    assert ext.hu_offset > 0 and ext.noise_hu > dev.noise_hu and ext.slice_thickness_mm != dev.slice_thickness_mm


def test_ct_tumour_grows_with_size_and_roughens_with_u_ct():
    def volume_and_texture(seed, u_ct, size_cm):
        case = render_ct(np.random.default_rng(seed), u_ct=u_ct, size_cm=size_cm, scanner=SCANNERS["development"])
        voxel = np.prod(case.spacing)
        return case.mask.sum() * voxel, case.image[case.mask.astype(bool)].std()

    small = np.mean([volume_and_texture(s, 0.0, 2.0)[0] for s in range(5)])
    large = np.mean([volume_and_texture(s, 0.0, 12.0)[0] for s in range(5)])
    smooth = np.mean([volume_and_texture(s, -2.0, 5.0)[1] for s in range(5)])
    rough = np.mean([volume_and_texture(s, 2.0, 5.0)[1] for s in range(5)])
    assert large > 2 * small
    assert rough > smooth + 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_development": 0}, r"The 'n_development' parameter of make_synthetic_cohort must be an int in the "
                                r"range \[1, 9999\]\. Got 0 instead\."),
        ({"n_external": 2.5}, r"The 'n_external' parameter of make_synthetic_cohort must be an int"),
        ({"random_state": -1}, r"The 'random_state' parameter of make_synthetic_cohort must be an int"),
    ],
    ids=["no_development_patient", "float_count", "negative_seed"],
)
def test_bad_parameters_are_rejected_before_writing(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_cohort(tmp_path / "never", **kwargs)
    assert not (tmp_path / "never").exists()
