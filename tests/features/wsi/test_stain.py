"""Stain normalisation: CIE Lab, Reinhard (Lab statistics transferred), Macenko (stain vectors recovered from a
synthetic two-stain image; a colour-shifted image mapped back), per batch on the device, in the cache key."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from multisurv.cohort.synthetic_wsi import STAINS, render_slide  # noqa: E402
from multisurv.features.wsi.stain import (  # noqa: E402
    MacenkoNormalizer,
    ReinhardNormalizer,
    lab_to_rgb,
    load_stain_normalizer,
    rgb_to_lab,
)

pytestmark = pytest.mark.wsi


def as_batch(*images) -> "torch.Tensor":
    return torch.stack([torch.from_numpy(np.ascontiguousarray(i)).permute(2, 0, 1) for i in images]).float() / 255


def two_stain_image(profile, concentrations) -> np.ndarray:
    """Beer-Lambert image of haematoxylin and eosin amounts (H, W, 2) with a lab's stain vectors and strengths."""
    h = np.asarray(profile.haematoxylin) * profile.haematoxylin_strength
    e = np.asarray(profile.eosin) * profile.eosin_strength
    od = concentrations[..., :1] * h + concentrations[..., 1:] * e
    return np.clip(np.rint(256 * np.exp(-od) - 1), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def concentrations():
    rng = np.random.default_rng(0)
    c = np.stack([rng.gamma(2.0, 0.3, (128, 128)), rng.gamma(2.0, 0.25, (128, 128))], axis=-1)
    c[:24] = 0.0  # a strip of glass
    return c


@pytest.fixture(scope="module")
def he_tiles():
    """224 px tiles of the cohort's synthetic H&E: the development lab's stain and the external lab's."""
    out = {}
    for lab in ("development", "external"):
        rgb = render_slide(np.random.default_rng(3), u_path=0.0, mitotic_count=3.0, stain=STAINS[lab])
        out[lab] = [rgb[336:560, 448:672], rgb[336:560, 224:448]]
    return out


class TestLab:
    def test_known_values(self):
        """sRGB white, black and pure red (reference values of the CIE formulas, D65)."""
        rgb = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).view(1, 3, 1, 3)
        lab = rgb_to_lab(rgb.double())[0, :, 0].T
        np.testing.assert_allclose(lab[0], [100, 0, 0], atol=1e-3)
        np.testing.assert_allclose(lab[1], [0, 0, 0], atol=1e-6)
        np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.02)

    def test_round_trip(self):
        x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
        torch.testing.assert_close(lab_to_rgb(rgb_to_lab(x)), x, rtol=0, atol=1e-9)


class TestReinhard:
    def test_source_lab_statistics_become_the_references(self, he_tiles):
        reference = he_tiles["development"][0]
        norm = ReinhardNormalizer().fit(reference)
        ref_lab = rgb_to_lab(as_batch(reference).double())[0].flatten(1)
        out = norm(as_batch(*he_tiles["external"]))
        for tile in out:
            lab = rgb_to_lab(tile[None].double())[0].flatten(1)
            # 0.5 Lab units and 3 % of the spread: what sRGB clipping and the float32 round trip leave
            np.testing.assert_allclose(lab.mean(dim=1), ref_lab.mean(dim=1), atol=0.5)
            np.testing.assert_allclose(lab.std(dim=1), ref_lab.std(dim=1), rtol=0.03)

    def test_tiles_of_a_batch_are_normalised_independently(self, he_tiles):
        norm = ReinhardNormalizer().fit(he_tiles["development"][0])
        both = norm(as_batch(*he_tiles["external"]))
        one = norm(as_batch(he_tiles["external"][1]))
        torch.testing.assert_close(both[1:], one)


class TestMacenko:
    def test_stain_vectors_are_recovered(self, concentrations):
        profile = STAINS["development"]
        norm = MacenkoNormalizer().fit(two_stain_image(profile, concentrations))
        stains = norm._params["stains"].numpy()
        for k, truth in enumerate((profile.haematoxylin, profile.eosin)):
            truth = np.asarray(truth) / np.linalg.norm(truth)
            assert stains[:, k] @ truth > 0.995  # cosine: within ~5 degrees of the true stain vector

    def test_a_colour_shifted_image_is_mapped_back(self, concentrations):
        reference = two_stain_image(STAINS["development"], concentrations)
        shifted = two_stain_image(STAINS["external"], concentrations)  # other stain hues and strengths
        norm = load_stain_normalizer("macenko", reference)
        out = (norm(as_batch(shifted))[0].permute(1, 2, 0).numpy() * 255).astype(float)
        before = np.abs(shifted.astype(float) - reference).mean()
        after = np.abs(out - reference).mean()
        assert after < 2.0 and after < before / 4

    def test_glass_tiles_pass_unchanged_and_batches_run_per_tile(self, concentrations, he_tiles):
        norm = MacenkoNormalizer().fit(two_stain_image(STAINS["development"], concentrations))
        glass = np.full((64, 64, 3), 236, dtype=np.uint8)
        tissue = he_tiles["external"][0][:64, :64]
        out = norm(as_batch(glass, tissue))
        torch.testing.assert_close(out[0], as_batch(glass)[0])
        torch.testing.assert_close(out[1:], norm(as_batch(tissue)), rtol=1e-5, atol=1e-5)

    def test_a_glass_reference_is_refused(self):
        with pytest.raises(ValueError, match=r"The stain reference has fewer than 64 stained pixels"):
            MacenkoNormalizer().fit(np.full((32, 32, 3), 240, dtype=np.uint8))


class TestErrors:
    def test_unfitted(self):
        with pytest.raises(ValueError, match=r"This ReinhardNormalizer is not fitted; call fit\(reference_image\)"):
            ReinhardNormalizer()(torch.zeros(1, 3, 4, 4))

    def test_reference_errors(self, tmp_path):
        with pytest.raises(ValueError, match=r"The stain reference image '.*nope\.png' does not exist"):
            load_stain_normalizer("reinhard", tmp_path / "nope.png")
        (tmp_path / "bad.png").write_text("not an image")
        with pytest.raises(ValueError, match=r"Cannot read the stain reference image '.*bad\.png'"):
            load_stain_normalizer("reinhard", tmp_path / "bad.png")
        with pytest.raises(ValueError, match=r"must be a uint8 RGB image of shape \(H, W, 3\); got float64"):
            load_stain_normalizer("macenko", np.zeros((4, 4, 3)))

    def test_reference_read_from_a_file(self, tmp_path, he_tiles):
        from PIL import Image

        Image.fromarray(he_tiles["development"][0]).save(tmp_path / "ref.png")
        from_file = load_stain_normalizer("reinhard", tmp_path / "ref.png")
        assert from_file.settings() == load_stain_normalizer("reinhard", he_tiles["development"][0]).settings()


def test_extraction_normalises_on_the_device_and_keys_the_cache(synthetic_slide, he_tiles, tmp_path):
    pytest.importorskip("openslide")
    from multisurv.features.wsi.patch_store import read_patches
    from multisurv.features.wsi.pathomics import extract_pathomics_cases
    from tests.features.wsi.test_pipeline import small_cnn

    cases = [("p", {"wsi": str(synthetic_slide)})]
    kwargs = dict(out_dir=tmp_path, encoder=small_cnn(), loader_workers=0, min_tissue=0.25, progress=False)
    plain = extract_pathomics_cases(cases, **kwargs)
    reinhard = extract_pathomics_cases(cases, stain=load_stain_normalizer("reinhard", he_tiles["external"][0]),
                                       **kwargs)
    other_ref = extract_pathomics_cases(cases, stain=load_stain_normalizer("reinhard", he_tiles["development"][1]),
                                        **kwargs)
    macenko = extract_pathomics_cases(cases, stain=load_stain_normalizer("macenko", he_tiles["external"][0]),
                                      **kwargs)
    names = {r.store_dir.name for r in (plain, reinhard, other_ref, macenko)}
    assert len(names) == 4 and reinhard.store_dir.name.startswith("224px_lvl0_cnn_none_reinhard_")
    import json

    settings = json.loads((macenko.store_dir / "config.json").read_text())["settings"]["stain"]
    assert settings["method"] == "macenko" and len(settings["reference_sha256"]) == 64
    assert np.asarray(settings["stains"]).shape == (3, 2)
    assert not np.allclose(plain.features.to_numpy(), reinhard.features.to_numpy())
    assert read_patches(macenko.info.loc["p", "patch_file"]).attrs["stain"] == "macenko"


def test_cli_needs_both_stain_options(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    pytest.importorskip("h5py")
    from multisurv.cli import main

    manifest = tmp_path / "m.csv"
    manifest.write_text("patient_id,wsi\np1,a.svs\n")
    assert main(["extract", "pathomics", str(manifest), "--out", str(tmp_path / "out"), "--stain", "macenko"]) == 2
    assert "--stain and --stain-reference go together" in capsys.readouterr().err
