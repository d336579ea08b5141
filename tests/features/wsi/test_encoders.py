"""Tile encoders: registry, deterministic random init, local weights, features on real tiles."""

from __future__ import annotations

import numpy as np
import pytest

from multisurv.exceptions import MultisurvWarning
from multisurv.features.wsi.encoders import Encoder, available_encoders, get_encoder, resolve_device

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
pytestmark = pytest.mark.wsi

RANDOM_WARNING = r"Encoder 'resnet50' is randomly initialised \(weights=None\): its features are not pretrained"


def random_resnet50(**kwargs) -> Encoder:
    with pytest.warns(MultisurvWarning, match=RANDOM_WARNING):
        return get_encoder("resnet50", weights=None, device="cpu", **kwargs)


@pytest.fixture(scope="module")
def tiles(slides) -> np.ndarray:
    pytest.importorskip("openslide")
    from multisurv.features.wsi.reader import iter_tiles, open_slide

    with open_slide(slides / "cmu_small_region.svs") as slide:
        return np.stack(list(iter_tiles(slide, [(896, 224), (1120, 448), (0, 2240)], 224)))


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    with pytest.warns(MultisurvWarning):
        return get_encoder("resnet50", device="cpu")


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown encoder 'resnet'\. Choose one of: 'gigapath', 'h_optimus_0', "
                                         r"'phikon_v2', 'resnet18', 'resnet34', 'resnet50', 'resnet50_trunc', 'uni', "
                                         r"'uni2_h', 'virchow2'\."):
        get_encoder("resnet")
    assert available_encoders() == ("gigapath", "h_optimus_0", "phikon_v2", "resnet18", "resnet34", "resnet50",
                                    "resnet50_trunc", "uni", "uni2_h", "virchow2")


def test_random_init_warns_at_the_callers_line():
    with pytest.warns(MultisurvWarning, match=RANDOM_WARNING + r".*weights='path/to/resnet50\.pth'") as record:
        get_encoder("resnet50", device="cpu")
    assert record[0].filename == __file__


def test_random_init_is_deterministic_and_leaves_the_rng_alone(encoder, tiles):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    twin = random_resnet50()
    assert torch.equal(torch.rand(3), expected_next)  # the caller's RNG stream is untouched
    for (name, a), b in zip(encoder.model.state_dict().items(), twin.model.state_dict().values()):
        assert torch.equal(a, b), name
    np.testing.assert_array_equal(twin.encode(tiles), encoder.encode(tiles))


def test_features_of_real_tiles(encoder, tiles):
    feats = encoder.encode(tiles)
    assert feats.shape == (3, 2048) and feats.dtype == np.float32
    assert np.isfinite(feats).all()
    assert not np.allclose(feats[0], feats[2])  # tissue and glass differ
    assert encoder.dim == 2048 and encoder.name == "resnet50" and encoder.weights == "random"
    assert not encoder.model.training
    assert isinstance(encoder.model.fc, torch.nn.Identity)
    assert not any(p.requires_grad for p in encoder.model.parameters())


def test_transform_normalises_with_imagenet_statistics(encoder):
    batch = encoder.transform(np.full((2, 4, 4, 3), 255, dtype=np.uint8))
    assert batch.shape == (2, 3, 4, 4) and batch.is_contiguous(memory_format=torch.channels_last)
    expected = (1 - torch.tensor(encoder.mean)) / torch.tensor(encoder.std)
    torch.testing.assert_close(batch[0, :, 0, 0], expected)
    with pytest.raises(ValueError, match=r"Tiles must be an array of shape \(N, H, W, 3\); got shape \(4, 4, 3\)"):
        encoder.transform(np.zeros((4, 4, 3), dtype=np.uint8))


def test_local_weights_round_trip(tmp_path, tiles):
    torch.manual_seed(7)
    source = torchvision.models.resnet50(weights=None)  # a full checkpoint, classification head included
    path = tmp_path / "resnet50.pth"
    torch.save({"module." + k: v for k, v in source.state_dict().items()}, path)  # as saved from DataParallel
    loaded = get_encoder("resnet50", weights=path, device="cpu")
    for name, value in loaded.model.state_dict().items():
        assert torch.equal(value, source.state_dict()[name]), name
    assert loaded.weights.startswith("sha256:") and len(loaded.weights) == 7 + 64
    source.fc = torch.nn.Identity()
    with torch.inference_mode():
        expected = source.eval()(loaded.transform(tiles[:1])).numpy()
    np.testing.assert_allclose(loaded.encode(tiles[:1]), expected, rtol=1e-5, atol=1e-5)  # same net, same output


class TestWeightErrors:
    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match=r"The encoder weights file '.*nope\.pth' does not exist\. Pass "
                                                    r"weights=None \(random, for tests\), 'imagenet' or the path"):
            get_encoder("resnet50", weights=tmp_path / "nope.pth")

    def test_not_a_checkpoint(self, tmp_path):
        path = tmp_path / "notes.pth"
        path.write_text("not a checkpoint")
        with pytest.raises(ValueError, match=r"Cannot read encoder weights from '.*notes\.pth'"):
            get_encoder("resnet50", weights=path)

    def test_other_architecture(self, tmp_path):
        path = tmp_path / "resnet18.pth"
        torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
        with pytest.raises(ValueError, match=r"The weights in '.*resnet18\.pth' do not fit torchvision's resnet50: "
                                             r"\d+ missing key\(s\)"):
            get_encoder("resnet50", weights=path)


def test_device_defaults_to_cuda_when_available(monkeypatch):
    assert resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(None) == "cpu"


def test_imagenet_asks_torchvision_for_its_weights_without_downloading_here(monkeypatch):
    requested = []

    def fake_resnet50(weights=None):
        requested.append(weights)
        return torchvision.models.resnet18(weights=None)  # stands in; nothing is downloaded

    monkeypatch.setattr(torchvision.models, "resnet50", fake_resnet50)
    encoder = get_encoder("resnet50", weights="imagenet", device="cpu")
    assert requested == [torchvision.models.ResNet50_Weights.IMAGENET1K_V1]
    assert encoder.weights == "imagenet"
