"""Tests for multisurv.features.perturbation and .robustness: perturbed copies, reader agreement, ICC tables."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sitk = pytest.importorskip("SimpleITK")
pytest.importorskip("radiomics")

from multisurv.features.perturbation import (
    Perturbation,
    estimate_noise_sd,
    perturb_volume,
    perturbation_plan,
    randomise_contour,
)
from multisurv.features.reproducibility import icc_table
from multisurv.features.robustness import perturb_case, perturbation_robustness, reader_agreement

DATA = Path(__file__).resolve().parents[1] / "data"
# first order + GLCM on the original image: enough features to compute ICCs, fast enough for the default run
PARAMS = {"imageType": {"Original": {}}, "featureClass": {"firstorder": [], "glcm": []},
          "setting": {"label": 1, "binWidth": 25}}


@pytest.fixture(scope="module")
def real_cases(tmp_path_factory):
    """breast1 (MR, whole) and lung1 (CT slab cut to 80 x 80 pixels around the ROI): two real tumours."""
    folder = tmp_path_factory.mktemp("real")
    image = sitk.ReadImage(str(DATA / "lung1_crop_image.nrrd"))
    mask = sitk.ReadImage(str(DATA / "lung1_crop_label.nrrd"))
    where = np.argwhere(sitk.GetArrayViewFromImage(mask) == 1)
    (_, y0, x0), (_, y1, x1) = where.min(0), where.max(0)
    index, size = [int(x0) - 25, int(y0) - 25, 0], [int(x1 - x0) + 51, int(y1 - y0) + 51, image.GetSize()[2]]
    sitk.WriteImage(sitk.RegionOfInterest(image, size, index), str(folder / "lung_image.nrrd"), True)
    sitk.WriteImage(sitk.RegionOfInterest(mask, size, index), str(folder / "lung_mask.nrrd"), True)
    table = pd.DataFrame({"ct_image": [str(DATA / "breast1_image.nrrd"), str(folder / "lung_image.nrrd")],
                          "ct_mask": [str(DATA / "breast1_label.nrrd"), str(folder / "lung_mask.nrrd")]},
                         index=pd.Index(["breast1", "lung1"], name="patient_id"))
    # a second reader: the contour randomised once (seeded), written beside the first reader's masks
    for pid in table.index:
        m = sitk.ReadImage(table.loc[pid, "ct_mask"])
        roi = sitk.GetArrayFromImage(m) == 1
        new = randomise_contour(roi, m.GetSpacing()[::-1], np.random.default_rng(7))
        out = sitk.GetImageFromArray(new.astype(np.uint8))
        out.CopyInformation(m)
        sitk.WriteImage(out, str(folder / f"{pid}_reader2.nrrd"), True)
        table.loc[pid, "ct_mask_reader2"] = str(folder / f"{pid}_reader2.nrrd")
    return table


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.nrrd"))}


def test_perturbation_robustness_is_deterministic_cached_and_reports_cost(real_cases, tmp_path):
    plan = [*perturbation_plan(1, volume=False), Perturbation("erode", growth=-1)]
    res = perturbation_robustness(real_cases, out_dir=tmp_path / "a", plan=plan, params=PARAMS, progress=False)
    assert list(res.features) == ["original", "rtnc1", "erode"]
    assert res.failures.empty and res.n_cached == 0
    assert list(res.icc.index) == list(res.features["original"].columns)
    assert res.icc["icc2_1"].between(-1, 1).all() and (res.icc["n_raters"] == 3).all()
    assert (res.cost["n_images"] == 3).all() and (res.cost["total_seconds"] > 0).all()
    np.testing.assert_allclose(res.cost["total_seconds"], res.cost["extract_seconds"] + res.cost["perturb_seconds"])
    assert (res.overlap["original"] == 1).all() and res.overlap[["rtnc1", "erode"]].lt(1).all().all()
    # the ICC is exactly the one of the per-rater tables
    pd.testing.assert_frame_equal(res.icc, icc_table(res.features))
    # same seed in another folder: byte-identical perturbed files (so their cached features stay valid)
    images_a = next((tmp_path / "a" / "ct").glob("perturbations_*")) / "images"
    row = real_cases.loc["breast1"]
    out = perturb_case("breast1", {"ct_image": row.ct_image, "ct_mask": row.ct_mask}, plan=plan,
                       folder=str(tmp_path / "b"), label=1, random_state=0, noise_sd=None)
    assert _digest(tmp_path / "b") == {k: v for k, v in _digest(images_a).items() if k.startswith("breast1")}
    assert len(_digest(tmp_path / "b")) == 2 * 3
    np.testing.assert_allclose(out[0].to_numpy(), res.overlap.loc["breast1"].to_numpy()[1:])
    cached = perturbation_robustness(real_cases, out_dir=tmp_path / "a", plan=plan, params=PARAMS, progress=False)
    assert cached.n_cached == 6
    pd.testing.assert_frame_equal(cached.icc, res.icc)


def test_a_bad_patient_is_a_recorded_failure_and_others_go_on(real_cases, tmp_path):
    empty = sitk.Image(8, 8, 3, sitk.sitkUInt8)
    sitk.WriteImage(empty, str(tmp_path / "empty.nrrd"))
    sitk.WriteImage(sitk.Image(8, 8, 3, sitk.sitkInt16), str(tmp_path / "img.nrrd"))
    table = pd.concat([real_cases, pd.DataFrame({"ct_image": [str(tmp_path / "img.nrrd")],
                                                 "ct_mask": [str(tmp_path / "empty.nrrd")]},
                                                index=pd.Index(["bad"], name="patient_id"))])
    res = perturbation_robustness(table, out_dir=tmp_path, plan=[Perturbation("erode", growth=-1)], params=PARAMS,
                                  progress=False)
    assert list(res.failures["patient_id"]) == ["bad"] and "mask is empty" in res.failures["message"][0]
    assert list(res.cost.index) == ["breast1", "lung1"]


def test_reader_agreement_extracts_every_mask(real_cases, tmp_path):
    res = reader_agreement(real_cases, mask_columns=["ct_mask", "ct_mask_reader2"], out_dir=tmp_path, params=PARAMS,
                           progress=False)
    assert list(res.features) == ["ct_mask", "ct_mask_reader2"] and res.failures.empty
    assert (res.icc["n_subjects"] == 2).all() and res.icc.index[0].startswith("ct__")
    assert (res.overlap["ct_mask"] == 1).all() and res.overlap["ct_mask_reader2"].between(0.6, 0.999).all()
    assert (res.cost["n_images"] == 2).all() and (res.cost["perturb_seconds"] == 0).all()
    written = res.write(tmp_path / "tables", stem="readers")
    assert sorted(p.name for p in written) == sorted(f"readers_{n}.csv" for n in
                                                     ("icc", "summary", "cost", "overlap", "failures"))
    back = pd.read_csv(tmp_path / "tables" / "readers_icc.csv", index_col="feature")
    np.testing.assert_allclose(back["icc2_1"].to_numpy(), res.icc["icc2_1"].to_numpy(), rtol=1e-15)
    # the first reader's features are those of the ordinary extraction
    from multisurv.features.radiomics import extract_radiomics_cases

    plain = extract_radiomics_cases([(pid, {"ct_image": r.ct_image, "ct_mask": r.ct_mask})
                                     for pid, r in real_cases.iterrows()], out_dir=tmp_path / "plain",
                                    params=PARAMS, progress=False)
    pd.testing.assert_frame_equal(res.features["ct_mask"], plain.features, check_names=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"mask_columns": ["ct_mask"]}, "at least two distinct mask columns"),
    ({"mask_columns": ["ct_mask", "ct_mask"]}, "at least two distinct mask columns"),
    ({"mask_columns": ["ct_mask", "ct_mask_reader3"]}, "lacks column.*'ct_mask_reader3'"),
])
def test_reader_agreement_errors(real_cases, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        reader_agreement(real_cases, out_dir=tmp_path, params=PARAMS, progress=False, **kwargs)


def test_perturbation_plan_errors():
    with pytest.raises(ValueError, match="the plan is empty"):
        perturbation_plan(0, volume=False)
    with pytest.raises(ValueError, match="have no component"):
        perturbation_plan(2, max_rotation_deg=0, translation=False, noise=False, contour=False)
    with pytest.raises(ValueError, match="unique names other than 'original'"):
        perturbation_robustness([], out_dir=".", plan=[Perturbation("original")])


def test_perturb_volume_components():
    rng = np.random.default_rng(0)
    arr = (rng.normal(0, 5, size=(6, 40, 40)) + 40).astype(np.float32)
    roi = np.zeros(arr.shape, np.uint8)
    roi[2:5, 10:30, 12:28] = 1
    image, mask = sitk.GetImageFromArray(arr), sitk.GetImageFromArray(roi)
    for im in (image, mask):
        im.SetSpacing((0.8, 0.8, 3.0))
    assert estimate_noise_sd(arr) == pytest.approx(5, rel=0.1)  # Immerkaer's estimate of a known sd
    same, same_mask, info = perturb_volume(image, mask, Perturbation("none"), rng=rng)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(same), arr)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(same_mask), roi)
    _, _, info = perturb_volume(image, mask, Perturbation("e", growth=-1), rng=rng)
    assert info["roi_voxels"] == 3 * 18 * 14  # one voxel off each in-plane side, no slice removed
    _, _, info = perturb_volume(image, mask, Perturbation("d", growth=1), rng=rng)
    assert info["roi_voxels"] == 3 * (20 * 16 + 2 * 20 + 2 * 16)  # face-connected growth in-plane
    _, turned_mask, _ = perturb_volume(image, mask, Perturbation("r", rotation_deg=90.0), rng=rng)
    turned_roi = sitk.GetArrayFromImage(turned_mask)
    assert turned_roi.sum() == pytest.approx(roi.sum(), rel=0.05)
    assert np.ptp(np.argwhere(turned_roi)[:, 1]) == pytest.approx(np.ptp(np.argwhere(roi)[:, 2]), abs=1)
    noisy, _, info = perturb_volume(image, mask, Perturbation("n", noise=True), rng=rng)
    assert info["noise_sd"] == pytest.approx(5, rel=0.1)
    assert np.std(sitk.GetArrayFromImage(noisy) - arr) == pytest.approx(info["noise_sd"], rel=0.05)
