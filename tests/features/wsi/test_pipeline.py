"""The run pipeline: cache before models, sampled slide keys, one decoding pool per run, overlapped writes,
precision, torch.compile and machine defaults -- and the same features as the old one-batch-at-a-time loop."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("openslide")
pytest.importorskip("h5py")

from multisurv.exceptions import ExtractionError  # noqa: E402
from multisurv.features import store as store_module  # noqa: E402
from multisurv.features.wsi import inference, loader, pathomics  # noqa: E402
from multisurv.features.wsi.encoders import Encoder  # noqa: E402
from multisurv.features.wsi.loader import DecodePool, iter_tile_batches  # noqa: E402
from multisurv.features.wsi.patch_store import read_patches  # noqa: E402
from multisurv.features.wsi.pathomics import extract_pathomics_cases  # noqa: E402
from multisurv.features.wsi.pooling import RunningPool  # noqa: E402
from multisurv.features.wsi.reader import open_slide, plan_tiles  # noqa: E402
from multisurv.features.wsi.tissue import tile_grid  # noqa: E402

pytestmark = pytest.mark.wsi


def small_cnn() -> Encoder:
    """A small seeded CNN with 8 features (real convolutions, so float summation order would show)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5, stride=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten()).eval()
    return Encoder(name="cnn", model=model, dim=8, device="cpu", weights="none")


@pytest.fixture(scope="module")
def cohort_slides(tmp_path_factory):
    """Three synthetic H&E slides of the cohort generator (different patients, one of them the external stain)."""
    from multisurv.cohort.synthetic_wsi import STAINS, render_slide, write_slide

    folder = tmp_path_factory.mktemp("cohort")
    paths = []
    for i, stain in enumerate(("development", "external", "development")):
        path = folder / f"s{i}.tiff"
        write_slide(render_slide(np.random.default_rng(i), u_path=i - 1.0, mitotic_count=4.0, stain=STAINS[stain]),
                    path)
        paths.append(path)
    return paths


def cases_of(paths):
    return [(f"p{i}", {"wsi": str(p)}) for i, p in enumerate(paths)]


def old_loop(path, encoder, *, tile_size=224, min_tissue=0.5, batch_size=5):
    """The per-slide loop of multisurv b11148f: a DataLoader per slide, forward, .cpu(), pool, in one thread."""
    with open_slide(path) as slide:
        plan = plan_tiles(slide, tile_size, level=0)
        coords = tile_grid(slide, tile_size=plan.read_size, level=plan.level, min_tissue=min_tissue)
    pool = RunningPool(encoder.dim)
    rows = []
    for index, tiles in iter_tile_batches(str(path), coords, plan, batch_size=batch_size, num_workers=1):
        with torch.inference_mode():
            feats = encoder.model(encoder.transform(tiles)).reshape(len(index), -1).float().cpu().numpy()
        pool.update(feats)
        rows.append(feats)
    return pool.result("mean"), np.concatenate(rows)


def test_new_pipeline_gives_the_old_loops_features(cohort_slides, tmp_path):
    encoder = small_cnn()
    res = extract_pathomics_cases(cases_of(cohort_slides), out_dir=tmp_path, encoder=encoder, batch_size=5,
                                  loader_workers=2, progress=False)
    assert list(res.features.index) == ["p0", "p1", "p2"] and res.failures.empty
    for i, path in enumerate(cohort_slides):
        expected, rows = old_loop(path, encoder)
        # same model, tiles and summation order: equal to float64 rounding of the mean (1e-12 relative)
        np.testing.assert_allclose(res.features.loc[f"p{i}"].to_numpy(), expected, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(read_patches(res.info.loc[f"p{i}", "patch_file"]).features, rows)
        assert res.info.loc[f"p{i}", "precision"] == "fp32"


def test_one_decoding_pool_serves_every_slide(cohort_slides, tmp_path, monkeypatch):
    started = []
    original = DecodePool.__init__

    def counting(self, *args, **kwargs):
        started.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(DecodePool, "__init__", counting)
    res = extract_pathomics_cases(cases_of(cohort_slides), out_dir=tmp_path, encoder=small_cnn(), batch_size=4,
                                  loader_workers=2, progress=False)
    assert len(res.features) == 3 and started == [(2,)]


def test_a_fully_cached_rerun_builds_no_model_and_reads_no_slide(cohort_slides, tmp_path, monkeypatch):
    slides = []
    for i, p in enumerate(cohort_slides):
        shutil.copy(p, tmp_path / f"c{i}.tiff")
        slides.append(tmp_path / f"c{i}.tiff")
    weights = tmp_path / "resnet18.pth"
    torch.save(__import__("torchvision").models.resnet18(weights=None).state_dict(), weights)
    kwargs = dict(out_dir=tmp_path / "out", encoder="resnet18", weights=weights, batch_size=8, loader_workers=1,
                  max_tiles=3, progress=False)
    first = extract_pathomics_cases(cases_of(slides), **kwargs)
    assert first.n_cached == 0 and len(first.features) == 3

    def refuse(*args, **kwargs):
        raise AssertionError("built or started on a fully cached run")

    monkeypatch.setattr(pathomics, "_build_models_uncached", refuse)
    monkeypatch.setattr(pathomics, "get_encoder", refuse)
    monkeypatch.setattr(loader.DecodePool, "__init__", refuse)
    monkeypatch.setattr(store_module, "_file_hash", refuse)  # no full SHA-256 of a slide...
    monkeypatch.setattr(store_module, "_sampled_hash", refuse)  # ...nor a sample of an unchanged one
    again = extract_pathomics_cases(cases_of(slides), **kwargs)
    assert again.n_cached == 3
    pd.testing.assert_frame_equal(again.features, first.features, rtol=0, atol=0)


def test_slide_keys_are_sampled_unless_a_full_hash_is_asked(cohort_slides, tmp_path, monkeypatch):
    """Size + a 16 MiB sample (these slides are smaller: read whole, but never by the full-file hash)."""
    path = tmp_path / "s.tiff"
    shutil.copy(cohort_slides[0], path)
    kwargs = dict(out_dir=tmp_path / "out", encoder=small_cnn(), batch_size=8, loader_workers=0, max_tiles=2,
                  progress=False)
    monkeypatch.setattr(store_module, "_file_hash", lambda p: pytest.fail("read the whole slide"))
    first = extract_pathomics_cases([("p", {"wsi": str(path)})], **kwargs)
    record = first.store_dir / "p.json"
    fingerprint = __import__("json").loads(record.read_text())["fingerprint"]["wsi"]
    assert set(fingerprint) == {"path", "size", "mtime_ns", "sampled_sha256"}
    # touched (new mtime, same bytes): still cached; the sample is read again, the slide is not
    path.touch()
    assert extract_pathomics_cases([("p", {"wsi": str(path)})], **kwargs).n_cached == 1
    # another slide under the same name: recomputed
    shutil.copy(cohort_slides[1], path)
    assert extract_pathomics_cases([("p", {"wsi": str(path)})], **kwargs).n_cached == 0
    # a full hash when asked
    monkeypatch.setattr(store_module, "_file_hash", store_module.sha256_file)
    full = extract_pathomics_cases([("p", {"wsi": str(path)})], full_hash=True, **kwargs)
    assert "sha256" in __import__("json").loads((full.store_dir / "p.json").read_text())["fingerprint"]["wsi"]


def test_precision_compile_and_info(cohort_slides, tmp_path, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda model: compiled.append(model) or model)
    fp32 = extract_pathomics_cases(cases_of(cohort_slides[:1]), out_dir=tmp_path / "a", encoder=small_cnn(),
                                   batch_size=8, loader_workers=0, progress=False)
    bf16 = extract_pathomics_cases(cases_of(cohort_slides[:1]), out_dir=tmp_path / "b", encoder=small_cnn(),
                                   batch_size=8, loader_workers=0, precision="bf16", compile=True, progress=False)
    assert len(compiled) == 1
    assert (fp32.info.loc["p0", "precision"], bf16.info.loc["p0", "precision"]) == ("fp32", "bf16")
    # bf16 keeps 8 bits of mantissa: the mean over tiles agrees to about 1 %
    np.testing.assert_allclose(bf16.features.to_numpy(), fp32.features.to_numpy(), rtol=3e-2, atol=3e-3)
    with pytest.raises(ValueError, match=r"Unknown precision 'fp8'\. Choose one of: 'auto', 'bf16', 'fp16', 'fp32'"):
        extract_pathomics_cases(cases_of(cohort_slides[:1]), out_dir=tmp_path / "c", encoder=small_cnn(),
                                precision="fp8")


class TestDecodePool:
    def test_batches_in_order_across_slides_and_after_an_abandoned_one(self, cohort_slides):
        plans = []
        for path in cohort_slides:
            with open_slide(path) as slide:
                plan = plan_tiles(slide, 56, mpp=2.0)
                coords = tile_grid(slide, plan.read_size, plan.level, 0.25)
            expected = np.concatenate([t.numpy() for _, t in iter_tile_batches(str(path), coords, plan,
                                                                                batch_size=3, num_workers=0)])
            plans.append((path, coords, plan, expected))
        with DecodePool(2) as pool:
            it = pool.batches(str(plans[0][0]), plans[0][1], plans[0][2], batch_size=2)
            next(it)
            it.close()  # abandoned half-way: its late batches must not leak into the next slide
            for path, coords, plan, expected in plans:
                got = list(pool.batches(str(path), coords, plan, batch_size=3))
                np.testing.assert_array_equal(np.concatenate([i for i, _ in got]), np.arange(len(coords)))
                np.testing.assert_array_equal(np.concatenate([t.numpy() for _, t in got]), expected)

    def test_unreadable_tile_names_the_slide(self, slides):
        path = slides / "invalid" / "unreadable.svs"
        with open_slide(path) as slide:
            plan = plan_tiles(slide, 16)
        with DecodePool(1) as pool:
            with pytest.raises(ExtractionError, match=r"OpenSlide cannot read the 16 px tile at x=0, y=0 .*"
                                                      r"unreadable\.svs") as info:
                list(pool.batches(str(path), np.array([[0, 0]]), plan, batch_size=2))
            assert info.value.path == str(path)
            good = slides / "small.svs"
            with open_slide(good) as slide:
                plan = plan_tiles(slide, 8)
            assert len(list(pool.batches(str(good), np.array([[0, 0], [8, 8]]), plan, batch_size=1))) == 2


def test_a_writer_failure_stops_the_slide_with_its_error(cohort_slides):
    with open_slide(cohort_slides[0]) as slide:
        plan = plan_tiles(slide, 224)
        coords = tile_grid(slide, 224, 0, 0.5)

    def fail(index, feats, keep, probs):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        inference.encode_batches(iter_tile_batches(str(cohort_slides[0]), coords, plan, batch_size=2, num_workers=0),
                                 small_cnn(), n_tiles=len(coords), on_features=fail)


class TestMachineDefaults:
    def test_cpu_keeps_the_earlier_defaults(self):
        d = inference.machine_defaults("cpu")
        assert d["batch_size"] == 32 and d["precision"] == "fp32" and d["loader_workers"] in (0, 1)
        assert "decoding worker" in d["why"]

    @pytest.mark.parametrize("gib, params, batch", [(139, 25.6, 512), (139, 1135, 128), (16, 25.6, 256),
                                                    (8, 303, 64)])
    def test_gpu_batch_from_memory_and_model_size(self, monkeypatch, gib, params, batch):
        class Props:
            name = "Fake GPU"
            total_memory = gib * 2**30

        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: Props())
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
        monkeypatch.setattr(inference.os, "sched_getaffinity", lambda pid: set(range(16)))
        d = inference.machine_defaults("cuda", encoder_params_m=params)
        assert (d["batch_size"], d["loader_workers"], d["precision"]) == (batch, 15, "bf16")
        assert "Fake GPU" in d["why"]
