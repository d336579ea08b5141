"""The encoder registry: each architecture (full size on the meta device, small and random for real), its
preprocessing constants, local weight files (safetensors, state_dict, folders, Hugging Face DINOv2) and their errors.

Nothing is downloaded: full-size networks are only laid out on torch's meta device (no memory, no weights), and
every forward pass on real numbers uses a test-size build (2 blocks of width 48) with random weights.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from multisurv.exceptions import MultisurvWarning

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
pytest.importorskip("timm")
safetensors_torch = pytest.importorskip("safetensors.torch")

from multisurv._hashing import sha256_file  # noqa: E402
from multisurv.features.wsi import encoders as enc_mod  # noqa: E402
from multisurv.features.wsi.encoders import (  # noqa: E402
    HOPTIMUS_MEAN,
    HOPTIMUS_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    encoder_spec,
    get_encoder,
    weights_digest,
)

pytestmark = pytest.mark.wsi

SMALL = {"depth": 2, "embed_dim": 48, "num_heads": 2}
VITS = ("uni", "uni2_h", "virchow2", "h_optimus_0", "gigapath", "phikon_v2")

#: Published facts per model: (feature dim, parameters in millions (model cards / papers), patch size, registers,
#: mean, std). UNI ViT-L/16 303M; UNI2-h ViT-H/14 681M; Virchow2 ViT-H/14 632M (2,560-d = class + mean token);
#: H-optimus-0 ViT-g/14 1.1B; Prov-GigaPath tile encoder ViT-g/16 1.13B; Phikon-v2 ViT-L/16 0.3B.
PUBLISHED = {
    "uni": (1024, 303, 16, 0, IMAGENET_MEAN, IMAGENET_STD),
    "uni2_h": (1536, 681, 14, 8, IMAGENET_MEAN, IMAGENET_STD),
    "virchow2": (2560, 631, 14, 4, IMAGENET_MEAN, IMAGENET_STD),
    "h_optimus_0": (1536, 1135, 14, 4, HOPTIMUS_MEAN, HOPTIMUS_STD),
    "gigapath": (1536, 1135, 16, 0, IMAGENET_MEAN, IMAGENET_STD),
    "phikon_v2": (1024, 303, 16, 0, IMAGENET_MEAN, IMAGENET_STD),
}


def small(name: str, **kwargs):
    with pytest.warns(MultisurvWarning, match=rf"Encoder '{name}' is randomly initialised"):
        return get_encoder(name, device="cpu", _arch=SMALL, **kwargs)


@pytest.mark.parametrize("name", VITS)
def test_full_size_architecture_on_the_meta_device(name):
    """The published hyper-parameters give the published size and feature length (no memory used)."""
    dim, millions, patch, registers, mean, std = PUBLISHED[name]
    spec = encoder_spec(name)
    with torch.device("meta"):
        target, model = enc_mod._build_architecture(spec, init=False)
        out = model(torch.empty(2, 3, spec.input_size, spec.input_size))
    assert tuple(out.shape) == (2, dim) == (2, spec.dim)
    # parameter count within 0.5 % of the published figure (rounded to millions)
    assert sum(p.numel() for p in target.parameters()) / 1e6 == pytest.approx(millions, rel=5e-3)
    assert target.patch_embed.patch_size == (patch, patch) and target.num_reg_tokens == registers
    assert (spec.mean, spec.std, spec.input_size, spec.mpp) == (mean, std, 224, 0.5)


@pytest.mark.parametrize("name", VITS)
def test_small_random_build_encodes_tiles(name):
    encoder = small(name)
    tiles = np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    feats = encoder.encode(tiles)
    width = 2 * 48 if name == "virchow2" else 48  # Virchow2: class token and mean patch token side by side
    assert feats.shape == (3, width) and encoder.dim == width and np.isfinite(feats).all()
    assert not np.allclose(feats[0], feats[1])
    assert encoder.weights == "random" and encoder.mpp == 0.5 and encoder.input_size == 224 and encoder.resize
    np.testing.assert_array_equal(small(name).encode(tiles), feats)  # seeded: the same on every build


@pytest.mark.parametrize("name, dim, constructor", [("resnet50", 2048, "resnet50"), ("resnet50_trunc", 1024, "resnet50"),
                                                    ("resnet18", 512, "resnet18")])
def test_torchvision_specs(name, dim, constructor):
    spec = encoder_spec(name)
    assert (spec.dim, spec.arch["constructor"], spec.mean, spec.std, spec.mpp, spec.resize) == \
        (dim, constructor, IMAGENET_MEAN, IMAGENET_STD, None, False)


def test_resnet50_trunc_is_resnet50_to_layer3_then_average_pooled(tmp_path):
    """A full torchvision ResNet-50 checkpoint loads (layer4 and fc ignored); the output is CLAM's 1,024-d vector."""
    torch.manual_seed(3)
    full = torchvision.models.resnet50(weights=None).eval()
    path = tmp_path / "resnet50.pth"
    torch.save(full.state_dict(), path)
    encoder = get_encoder("resnet50_trunc", weights=path, device="cpu")
    x = torch.rand(2, 3, 224, 224)
    with torch.inference_mode():
        h = full.maxpool(full.relu(full.bn1(full.conv1(x))))
        expected = full.layer3(full.layer2(full.layer1(h))).mean(dim=(2, 3))
        got = encoder.model(x)
    assert got.shape == (2, 1024)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert encoder.weights == "sha256:" + sha256_file(path)


class TestWeightFiles:
    @pytest.mark.parametrize("fmt", ["safetensors", "bin", "folder"])
    def test_round_trip(self, tmp_path, fmt):
        source = small("uni2_h")
        state = {k: v.contiguous() for k, v in source.model.state_dict().items()}
        if fmt == "safetensors":
            path = tmp_path / "uni2.safetensors"
            safetensors_torch.save_file(state, path)
            given = path
        elif fmt == "bin":
            path = tmp_path / "pytorch_model.bin"
            torch.save({"module." + k: v for k, v in state.items()}, path)  # as saved from DataParallel
            given = path
        else:
            folder = tmp_path / "UNI2-h"
            folder.mkdir()
            path = folder / "model.safetensors"
            safetensors_torch.save_file(state, path)
            (folder / "config.json").write_text("{}")
            given = folder
        loaded = get_encoder("uni2_h", weights=given, device="cpu", _arch=SMALL)
        tiles = np.random.default_rng(1).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
        np.testing.assert_array_equal(loaded.encode(tiles), source.encode(tiles))
        assert loaded.weights == "sha256:" + sha256_file(path)
        assert weights_digest("uni2_h", given) == loaded.weights

    def test_virchow2_weights_load_into_the_vit_inside_the_pooling(self, tmp_path):
        source = small("virchow2")
        path = tmp_path / "virchow2.bin"
        torch.save(source.model.inner.state_dict(), path)  # published checkpoints hold the bare ViT
        loaded = get_encoder("virchow2", weights=path, device="cpu", _arch=SMALL)
        tiles = np.full((1, 224, 224, 3), 128, dtype=np.uint8)
        np.testing.assert_array_equal(loaded.encode(tiles), source.encode(tiles))

    def test_hugging_face_dinov2_checkpoint_is_converted(self, tmp_path):
        """Phikon-v2 ships as a transformers Dinov2Model: q, k, v are split and named differently."""
        source = small("phikon_v2")
        path = tmp_path / "model.safetensors"
        safetensors_torch.save_file(_timm_to_hf_dinov2(source.model.state_dict()), path)
        loaded = get_encoder("phikon_v2", weights=path, device="cpu", _arch=SMALL)
        tiles = np.random.default_rng(2).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
        np.testing.assert_allclose(loaded.encode(tiles), source.encode(tiles), rtol=1e-6, atol=1e-6)

    def test_dinov2_conversion_matches_transformers(self, tmp_path):
        """Against the real transformers implementation, when it is installed (it is not a dependency)."""
        transformers = pytest.importorskip("transformers")
        config = transformers.Dinov2Config(hidden_size=48, num_hidden_layers=2, num_attention_heads=2, patch_size=16,
                                           image_size=224, layerscale_value=1e-5, layer_norm_eps=1e-6)
        torch.manual_seed(1)
        hf = transformers.Dinov2Model(config).eval()
        for p in hf.parameters():
            p.data.normal_(0, 0.05)
        path = tmp_path / "model.safetensors"
        safetensors_torch.save_file({k: v.contiguous() for k, v in hf.state_dict().items()}, path)
        loaded = get_encoder("phikon_v2", weights=path, device="cpu", _arch=SMALL)
        x = torch.rand(2, 3, 224, 224)
        with torch.inference_mode():
            torch.testing.assert_close(loaded.model(x), hf(pixel_values=x).last_hidden_state[:, 0],
                                       rtol=1e-5, atol=1e-6)

    def test_other_architecture_names_file_keys_and_fix(self, tmp_path):
        path = tmp_path / "uni.bin"
        torch.save(small("uni").model.state_dict(), path)
        message = (rf"The weights in '{re.escape(str(path))}' do not fit the uni2_h ViT \(timm VisionTransformer, "
                   r"24 blocks of 1536\): 1 missing key\(s\) \(e\.g\. \['reg_token'\]\) and \d+ key\(s\) of another "
                   r"shape \(e\.g\. .*file .* model .*\)\. Pass the uni2_h checkpoint as published "
                   r"\(https://huggingface\.co/MahmoodLab/UNI2-h \(pytorch_model\.bin\)\), or name the encoder it "
                   r"belongs to \(one of: 'gigapath', .*\)\.")
        with pytest.raises(ValueError, match=message):
            get_encoder("uni2_h", weights=path, device="cpu", _arch=SMALL)

    def test_unexpected_keys_are_listed(self, tmp_path):
        state = dict(small("uni").model.state_dict())
        state["extra.bias"] = torch.zeros(2)
        state["decoder.weight"] = torch.zeros(2)
        path = tmp_path / "uni.safetensors"
        safetensors_torch.save_file({k: v.contiguous() for k, v in state.items()}, path)
        with pytest.raises(ValueError, match=r"do not fit the uni ViT .*: 2 unexpected key\(s\) \(e\.g\. "
                                             r"\['decoder\.weight', 'extra\.bias'\]\)"):
            get_encoder("uni", weights=path, device="cpu", _arch=SMALL)

    def test_pickled_code_is_never_run(self, tmp_path):
        path = tmp_path / "evil.pth"
        torch.save({"state_dict": _Payload()}, path)
        with pytest.raises(ValueError, match=r"Cannot read encoder weights from '.*evil\.pth' \(UnpicklingError"):
            get_encoder("uni", weights=path, device="cpu", _arch=SMALL)
        assert not _Payload.ran

    def test_not_a_safetensors_file(self, tmp_path):
        path = tmp_path / "model.safetensors"
        path.write_bytes(b"not a checkpoint")
        with pytest.raises(ValueError, match=r"Cannot read encoder weights from '.*model\.safetensors'"):
            get_encoder("uni", weights=path, device="cpu", _arch=SMALL)

    def test_folder_with_several_checkpoints(self, tmp_path):
        for name in ("a.bin", "b.safetensors"):
            (tmp_path / name).write_bytes(b"")
        with pytest.raises(FileNotFoundError, match=r"The encoder weights folder '.*' holds 2 checkpoints \(a\.bin, "
                                                    r"b\.safetensors\)\. Pass the path of the uni weights file itself"):
            get_encoder("uni", weights=tmp_path)

    def test_missing_file_names_where_to_get_it(self, tmp_path):
        with pytest.raises(FileNotFoundError, match=r"The encoder weights file '.*nope\.bin' does not exist\. Pass "
                                                    r"weights=None \(random, for tests\), the path of a virchow2 "
                                                    r"checkpoint \(https://huggingface\.co/paige-ai/Virchow2"):
            get_encoder("virchow2", weights=tmp_path / "nope.bin")

    @pytest.mark.parametrize("name, weights, message", [
        ("uni", "imagenet", r"Encoder 'uni' has no torchvision ImageNet weights; pass a local weights file"),
        ("phikon_v2", "hub", r"Encoder 'phikon_v2' has no timm hub name; pass a local weights file"),
    ])
    def test_wrong_source(self, name, weights, message):
        with pytest.raises(ValueError, match=message):
            get_encoder(name, weights=weights, device="cpu")


def test_hub_weights_go_through_timm_with_the_published_arguments(monkeypatch):
    """weights='hub' asks timm for the hf-hub name with the model's kwargs; nothing is downloaded here."""
    timm = pytest.importorskip("timm")
    calls = []

    def fake_create_model(name, pretrained=False, **kwargs):
        calls.append((name, pretrained, kwargs))
        from timm.models.vision_transformer import VisionTransformer

        return VisionTransformer(**{**kwargs, **SMALL})

    monkeypatch.setattr(timm, "create_model", fake_create_model)
    encoder = get_encoder("uni2_h", weights="hub", device="cpu")
    (name, pretrained, kwargs), = calls
    assert (name, pretrained, encoder.weights) == ("hf-hub:MahmoodLab/UNI2-h", True, "hub")
    assert kwargs["reg_tokens"] == 8 and kwargs["no_embed_class"] and kwargs["mlp_layer"] is timm.layers.SwiGLUPacked


class TestPreprocessing:
    def test_tiles_of_another_size_are_resized_for_vits(self):
        encoder = small("uni")
        batch = encoder.transform(np.full((2, 256, 256, 3), 255, dtype=np.uint8))
        assert batch.shape == (2, 3, 224, 224)
        expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
        torch.testing.assert_close(batch[0, :, 100, 100], expected)

    def test_gigapath_keeps_the_central_224_of_256(self):
        encoder = small("gigapath")
        assert encoder.crop == pytest.approx(224 / 256)
        tiles = np.zeros((1, 256, 256, 3), dtype=np.uint8)
        tiles[:, 16:240, 16:240] = 255  # the centre 224 px white, a black 16 px border
        batch = encoder.transform(tiles)
        assert batch.shape == (1, 3, 224, 224)
        white = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
        torch.testing.assert_close(batch[0, :, 0, 0], white)  # the border was cropped away

    def test_h_optimus_normalisation(self):
        encoder = small("h_optimus_0")
        batch = encoder.transform(np.zeros((1, 224, 224, 3), dtype=np.uint8))
        torch.testing.assert_close(batch[0, :, 0, 0], -torch.tensor(HOPTIMUS_MEAN) / torch.tensor(HOPTIMUS_STD))

    def test_cnn_tiles_keep_their_size(self):
        with pytest.warns(MultisurvWarning):
            encoder = get_encoder("resnet18", device="cpu")
        assert encoder.transform(np.zeros((1, 64, 64, 3), dtype=np.uint8)).shape == (1, 3, 64, 64)


def test_weights_digest_is_remembered_by_size_and_mtime(tmp_path, monkeypatch):
    path = tmp_path / "w.bin"
    torch.save({"a": torch.zeros(3)}, path)
    cache = tmp_path / "cache.json"
    first = weights_digest("uni", path, cache=cache)
    assert first == "sha256:" + sha256_file(path)
    monkeypatch.setattr(enc_mod, "sha256_file", lambda p: pytest.fail("re-hashed an unchanged file"))
    assert weights_digest("uni", path, cache=cache) == first
    assert weights_digest("uni", None) == "random" and weights_digest("uni", "hub") == "hub"


class _Payload:
    ran = False

    def __reduce__(self):
        return (_mark_ran, ())


def _mark_ran():
    _Payload.ran = True
    return {}


def _timm_to_hf_dinov2(state):
    """The inverse of the loader's conversion: timm ViT names -> Hugging Face Dinov2Model names."""
    out = {"embeddings.mask_token": torch.zeros(1, state["cls_token"].shape[-1])}
    fixed = {"cls_token": "embeddings.cls_token", "pos_embed": "embeddings.position_embeddings",
             "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
             "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias",
             "norm.weight": "layernorm.weight", "norm.bias": "layernorm.bias"}
    parts = {"norm1": "norm1", "norm2": "norm2", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2",
             "attn.proj": "attention.output.dense", "ls1": "layer_scale1", "ls2": "layer_scale2"}
    for key, value in state.items():
        if key in fixed:
            out[fixed[key]] = value
            continue
        m = re.match(r"blocks\.(\d+)\.(.+)\.(weight|bias|gamma)$", key)
        i, part, kind = m.group(1), m.group(2), m.group(3)
        if part == "attn.qkv":
            for name, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0)):
                out[f"encoder.layer.{i}.attention.attention.{name}.{kind}"] = chunk
        else:
            out[f"encoder.layer.{i}.{parts[part]}.{'lambda1' if kind == 'gamma' else kind}"] = value
    return {k: v.contiguous() for k, v in out.items()}
