"""Tests for multisurv.features.deep_radiomics: 2.5D tumour crops through a registry encoder, cached per patient."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
sitk = pytest.importorskip("SimpleITK")

from multisurv.exceptions import MultisurvWarning
from multisurv.features.deep_radiomics import extract_deep_radiomics, tumour_crops

DATA = Path(__file__).resolve().parents[1] / "data"
FAST = {"encoder": "resnet18", "crop_size": 32, "n_slices": 2, "device": "cpu", "progress": False}


@pytest.fixture(scope="module")
def cases():
    return pd.DataFrame({"ct_image": [str(DATA / "breast1_image.nrrd"), str(DATA / "lung1_crop_image.nrrd")],
                         "ct_mask": [str(DATA / "breast1_label.nrrd"), str(DATA / "lung1_crop_label.nrrd")]},
                        index=pd.Index(["breast1", "lung1"], name="patient_id"))


def test_random_weights_warn_cache_and_are_reproducible(cases, tmp_path):
    with pytest.warns(MultisurvWarning, match="randomly initialised, not pretrained"):
        res = extract_deep_radiomics(cases, out_dir=tmp_path, **FAST)
    assert res.failures.empty and res.n_cached == 0
    assert res.features.shape == (2, 512) and res.features.columns[0] == "ctdeep__resnet18_0000"
    assert np.isfinite(res.features.to_numpy()).all() and res.features.std(axis=0).gt(0).any()
    assert res.store_dir.name.startswith("deep_resnet18_random_")
    assert res.info.loc["lung1", "slices"] is not None
    with pytest.warns(MultisurvWarning):
        again = extract_deep_radiomics(cases, out_dir=tmp_path, **FAST)
    assert again.n_cached == 2
    pd.testing.assert_frame_equal(again.features, res.features)


def test_local_weights_file_is_used_and_names_its_own_cache(cases, tmp_path):
    """The seed-0 random ResNet-18 saved to a file gives the same features as weights=None, in another folder."""
    from multisurv.features.wsi.encoders import build_backbone

    with pytest.warns(MultisurvWarning):
        model, _ = build_backbone("resnet18", None)
    with pytest.warns(MultisurvWarning):
        random = extract_deep_radiomics(cases.iloc[:1], out_dir=tmp_path, **FAST)
    path = tmp_path / "resnet18.pth"
    torch.save(model.state_dict(), path)
    local = extract_deep_radiomics(cases.iloc[:1], out_dir=tmp_path, weights=path, **FAST)
    assert local.store_dir != random.store_dir and "random" not in local.store_dir.name
    # same network and input; float32 convolutions on the CPU give the same numbers
    np.testing.assert_allclose(local.features.to_numpy(), random.features.to_numpy(), rtol=1e-5, atol=1e-6)


def test_crops_take_the_largest_slices_and_window_hu():
    img = np.full((8, 30, 30), -1000.0)
    roi = np.zeros(img.shape, bool)
    roi[2, 10:14, 10:14] = True   # 16 px
    roi[3, 8:20, 8:20] = True     # 144 px
    roi[4, 9:18, 9:18] = True     # 81 px
    img[roi] = 40.0
    img[3, 14, 14] = 500.0        # above the window: clipped to 255
    crops, used = tumour_crops(img, roi, (5.0, 0.8, 0.8), n_slices=2, crop_size=24, margin_mm=2.0,
                               window=(-160.0, 240.0))
    assert used == [3, 4]
    assert crops.shape == (2, 24, 24, 3)
    assert crops[0, :, :, 1].max() == 255  # 500 HU, above the window, clipped
    assert (crops[0, :, :, 1] == np.rint((40 + 160) / 400 * 255)).sum() > 50  # the tumour's 40 HU inside the crop
    assert crops.min() == 0  # air outside the tumour is below the window
    # the channels are the neighbouring slices: slice 4's crop has slice 5 (all air) as its last channel
    assert crops[1, :, :, 2].max() == 0 and crops[1, :, :, 0].max() > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"weights": "imagenet"}, "uses local weights only; got weights='imagenet'"),
    ({"window": (240, -160)}, "'window' parameter of extract_deep_radiomics must be"),
    ({"n_slices": 0}, "'n_slices' parameter"),
    ({"encoder": "resnet"}, "Unknown encoder 'resnet'"),
])
def test_errors(cases, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        extract_deep_radiomics(cases, out_dir=tmp_path, **{**FAST, **kwargs})
