"""Several slides per patient: a manifest lists them with ';', the vector pools the tiles of all of them, each
slide has its own patch file, and the cache follows the list (issue 16, item 6)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("openslide")
pytest.importorskip("h5py")

from multisurv.cohort.manifest import load_manifest  # noqa: E402
from multisurv.features.wsi.encoders import Encoder  # noqa: E402
from multisurv.features.wsi.patch_store import read_patches  # noqa: E402
from multisurv.features.wsi.pathomics import extract_pathomics  # noqa: E402

pytestmark = pytest.mark.wsi

FAST = dict(tile_size=224, max_tiles=6, batch_size=4, loader_workers=0, progress=False)


class CountingMeans(torch.nn.Module):
    """Mean of each colour channel (dim 3); counts the tiles it encodes."""

    def __init__(self):
        super().__init__()
        self.n_tiles = 0

    def forward(self, x):
        self.n_tiles += x.shape[0]
        return x.mean(dim=(2, 3))


def encoder() -> Encoder:
    return Encoder(name="rgbmean", model=CountingMeans().eval(), dim=3, device="cpu", weights="none")


def manifest(folder, slides_of: dict[str, str]):
    lines = ["patient_id,cohort,time,event,ct_image,ct_mask,wsi"]
    lines += [f"{pid},development,{i + 1},1,,,{cell}" for i, (pid, cell) in enumerate(slides_of.items())]
    path = folder / "cohort.csv"
    path.write_text("\n".join(lines) + "\n")
    return load_manifest(path, clinical_spec={})


def run(cohort, out_dir):
    """extract_pathomics on the cohort; its result and the counting model."""
    enc = encoder()
    return extract_pathomics(cohort, out_dir=out_dir, encoder=enc, **FAST), enc.model


@pytest.fixture
def two_slides(slides, synthetic_slide, tmp_path):
    """Two different slides beside the manifest: A (a real Aperio SVS) and B (a synthetic tiled TIFF)."""
    (tmp_path / "A.svs").write_bytes((slides / "cmu_small_region.svs").read_bytes())
    (tmp_path / "B.tiff").write_bytes(synthetic_slide.read_bytes())
    return tmp_path


def kept_features(patch_file) -> np.ndarray:
    table = read_patches(patch_file)
    return table.features[table.keep].astype(np.float64)


def test_patient_features_pool_the_tiles_of_every_slide(two_slides):
    cohort = manifest(two_slides, {"one": "B.tiff", "two": "A.svs;B.tiff"})
    res, model = run(cohort, two_slides / "features")

    info = res.info.loc["two"]
    assert info["n_slides"] == 2 and info["n_slides_reused"] == 0
    files = str(info["patch_file"]).split(";")
    assert [f.rsplit("/", 1)[-1] for f in files] == ["two.h5", "two__2.h5"]
    assert read_patches(files[0]).attrs["slide"] == str(two_slides / "A.svs")
    tiles = np.concatenate([kept_features(f) for f in files])  # every tumour tile of both slides
    assert info["n_kept"] == len(tiles) == 12 and model.n_tiles == 18  # 6 of 'one', 6 + 6 of 'two'
    np.testing.assert_allclose(res.features.loc["two"].to_numpy(), tiles.mean(axis=0), rtol=1e-12)
    assert not np.allclose(res.features.loc["two"], res.features.loc["one"])

    again, model = run(cohort, two_slides / "features")  # same slides: everything cached, nothing encoded
    assert again.n_cached == 2 and model.n_tiles == 0
    assert again.features.to_csv() == res.features.to_csv()


def test_changing_a_patients_slides_recomputes_that_patient_only(two_slides):
    out = two_slides / "features"
    first, _ = run(manifest(two_slides, {"one": "B.tiff", "two": "A.svs;B.tiff"}), out)

    # slide A removed: only 'two' is recomputed, from B's patch file (moved to two.h5), with no tile encoded
    fewer, model = run(manifest(two_slides, {"one": "B.tiff", "two": "B.tiff"}), out)
    assert fewer.n_cached == 1 and model.n_tiles == 0
    patches = fewer.store_dir / "patches"
    assert sorted(p.name for p in patches.glob("two*")) == ["two.h5", "two.qc.png"]  # QC thumbnail moved with it
    assert read_patches(fewer.info.loc["two", "patch_file"]).attrs["slide"] == str(two_slides / "B.tiff")
    np.testing.assert_allclose(fewer.features.loc["two"], fewer.features.loc["one"], rtol=1e-12)

    # slide A added back, second this time: only its 6 tiles are encoded, and the mean is that of the first run
    more, model = run(manifest(two_slides, {"one": "B.tiff", "two": "B.tiff;A.svs"}), out)
    assert more.n_cached == 1 and model.n_tiles == 6
    assert more.info.loc["two", "n_slides"] == 2 and more.info.loc["two", "n_slides_reused"] == 1
    np.testing.assert_allclose(more.features.loc["two"], first.features.loc["two"], rtol=1e-12)


def test_batch_manifest_of_multisurv_extract_lists_several_slides(tmp_path):
    """`multisurv extract pathomics` reads cases with load_cases: a ';' cell is one patient's list of slides."""
    from multisurv.features.cases import load_cases

    (tmp_path / "m.csv").write_text("patient_id,wsi\nP1,a.svs; sub/b.svs\nP2,c.svs\n")
    cases, _ = load_cases(tmp_path / "m.csv", roles=("wsi",), several=("wsi",))
    assert cases == [("P1", {"wsi": [str(tmp_path / "a.svs"), str(tmp_path / "sub" / "b.svs")]}),
                     ("P2", {"wsi": str(tmp_path / "c.svs")})]
