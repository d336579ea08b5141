"""QC thumbnails: tiles coloured by predicted class over the slide thumbnail (multisurv.features.wsi.qc)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("openslide")
pytest.importorskip("h5py")

from PIL import Image  # noqa: E402

from multisurv.features.wsi.patch_store import PatchWriter  # noqa: E402
from multisurv.features.wsi.qc import TISSUE_COLOUR, class_colours, qc_path, write_qc_thumbnail  # noqa: E402
from multisurv.features.wsi.reader import open_slide  # noqa: E402

CLASSES = ["stroma", "tumour", "background"]
COORDS = np.array([[0, 0], [224, 0], [448, 224], [672, 448]])


def _patch_file(path, slide, *, classes=True):
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]], dtype=np.float32)
    attrs = {"slide": str(slide), "footprint": 224.0, "read_size": 224, "tumour_class": "tumour"}
    with PatchWriter(path, 4, 2, coords=COORDS, tissue=np.ones(4), classes=CLASSES if classes else None,
                     attrs=attrs) as w:
        w.write(np.arange(4), np.zeros((4, 2)), keep=probs[:, 1] >= 0.5, probabilities=probs if classes else None)
    return path


def _centre_pixels(png, slide):
    with open_slide(slide) as handle:
        width, height = handle.dimensions
        thumb = np.asarray(handle.get_thumbnail((1024, 1024)).convert("RGB"), dtype=float)
    image = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    sx, sy = thumb.shape[1] / width, thumb.shape[0] / height
    centres = [(int((y + 112) * sy), int((x + 112) * sx)) for x, y in COORDS]
    return image, thumb, centres, (sx, sy)


def test_tiles_are_coloured_by_predicted_class(synthetic_slide, tmp_path):
    patch = _patch_file(tmp_path / "p1.h5", synthetic_slide)
    png = write_qc_thumbnail(patch, alpha=0.5)
    assert png == qc_path(patch) == tmp_path / "p1.qc.png"
    image, thumb, centres, (sx, sy) = _centre_pixels(png, synthetic_slide)
    assert image.shape[1] == thumb.shape[1] and image.shape[0] > thumb.shape[0]  # thumbnail + legend strip
    colours = class_colours(CLASSES, "tumour")
    assert colours["tumour"] == (228, 26, 28)
    for (r, c), name in zip(centres, ["stroma", "tumour", "background", "tumour"]):
        expected = 0.5 * thumb[r, c] + 0.5 * np.asarray(colours[name])  # alpha blend of the class colour
        np.testing.assert_allclose(image[r, c], expected, atol=2.0)
    # pooled tiles (P(tumour) >= 0.5: tiles 1 and 3) are outlined in black, the others not
    for (x, y), kept in zip(COORDS, [False, True, False, True]):
        corner = image[round(y * sy), round(x * sx)]
        assert (corner.max() < 1.0) == kept


def test_without_classifier_one_colour(synthetic_slide, tmp_path):
    patch = _patch_file(tmp_path / "p2.h5", synthetic_slide, classes=False)
    png = write_qc_thumbnail(patch, tmp_path / "elsewhere" / "qc.png", alpha=1.0)
    image, _, centres, _ = _centre_pixels(png, synthetic_slide)
    for r, c in centres:
        np.testing.assert_allclose(image[r, c], TISSUE_COLOUR, atol=1.0)


def test_moved_slide_names_patch_file_and_fix(synthetic_slide, tmp_path):
    patch = _patch_file(tmp_path / "p3.h5", tmp_path / "moved.tiff")
    with pytest.raises(FileNotFoundError, match=r"slide of patch file .*p3\.h5.*moved\.tiff.*pass slide="):
        write_qc_thumbnail(patch)
    assert write_qc_thumbnail(patch, slide=synthetic_slide).is_file()
