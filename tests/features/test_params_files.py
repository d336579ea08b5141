"""The PyRadiomics params files shipped in data_schemas/: valid, found by name, and giving the documented sets."""

from __future__ import annotations

import ast
import collections
from pathlib import Path

import pytest
import yaml

pytest.importorskip("radiomics")

from multisurv.features.radiomics import extract_radiomics, load_radiomics_params, shipped_params  # noqa: E402

pytestmark = pytest.mark.radiomics

DATA = Path(__file__).resolve().parents[1] / "data"
LUNG = {"ct_image": DATA / "lung1_crop_image.nrrd", "ct_mask": DATA / "lung1_crop_label.nrrd"}


@pytest.mark.parametrize("name", ["radiomics_ct", "radiomics_ct_ibsi", "radiomics_gist_2246"])
def test_shipped_file_is_valid_and_found_by_name(name):
    params = load_radiomics_params(name)
    assert params == yaml.safe_load(shipped_params()[name].read_text())
    assert params["setting"]["label"] == 1 and params["setting"]["binWidth"] == 25


def test_unknown_name_lists_the_shipped_ones():
    with pytest.raises(FileNotFoundError, match=r"Unknown radiomics params 'radiomics_ibsi': neither a file nor a "
                                                r"shipped params name\. Choose one of: 'radiomics_ct', "
                                                r"'radiomics_ct_ibsi', 'radiomics_gist_2246', or pass the path"):
        load_radiomics_params("radiomics_ibsi")


def test_old_gist_name_is_a_deprecated_alias_of_the_same_settings():
    """Configs written with 'radiomics_gist_2266' keep working (same settings, same feature cache) but warn."""
    with pytest.warns(FutureWarning, match=r"'radiomics_gist_2266' is deprecated: the file gives 2,246 features, not "
                                           r"2,266, and is now named 'radiomics_gist_2246'"):
        old = load_radiomics_params("radiomics_gist_2266")
    assert old == load_radiomics_params("radiomics_gist_2246")
    assert shipped_params()["radiomics_gist_2266"] == shipped_params()["radiomics_gist_2246"]


def test_ibsi_params_resample_to_1mm_with_bspline(tmp_path, make_cohort):
    res = extract_radiomics(make_cohort(lung1=LUNG), out_dir=tmp_path, params="radiomics_ct_ibsi", progress=False)
    assert res.failures.empty
    assert res.features.shape == (1, 107)
    info = res.info.loc["lung1"]
    assert ast.literal_eval(info["diagnostics_Image-interpolated_Spacing"]) == (1.0, 1.0, 1.0)
    used = ast.literal_eval(info["diagnostics_Configuration_Settings"])
    assert (used["interpolator"], used["binWidth"], used["resampledPixelSpacing"]) == ("sitkBSpline", 25, [1, 1, 1])


def test_gist_params_give_the_documented_2246_features(tmp_path, make_cohort):
    """107 (original, with shape) + 8 wavelet x 93 + 15 LoG x 93 = 2 246, as documented in the file."""
    res = extract_radiomics(make_cohort(lung1=LUNG), out_dir=tmp_path, params="radiomics_gist_2246",
                            progress=False)
    assert res.failures.empty
    columns = res.features.columns
    assert len(columns) == 2246
    image_types = collections.Counter(c.removeprefix("ct__").split("_")[0] for c in columns)
    assert image_types["original"] == 107
    assert sorted(t for t in image_types if t.startswith("wavelet")) == [
        f"wavelet-{d}" for d in ("HHH", "HHL", "HLH", "HLL", "LHH", "LHL", "LLH", "LLL")]
    assert len([t for t in image_types if t.startswith("log-sigma")]) == 15
    assert all(n == 93 for t, n in image_types.items() if t != "original")
    assert res.features.notna().all().all()
