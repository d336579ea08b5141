"""Tests for multisurv.plotting.export."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from multisurv.plotting.export import save_figure  # noqa: E402


@pytest.fixture
def fig():
    figure, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [1.0, 0.6, 0.3])
    ax.set_title("km")
    yield figure
    plt.close(figure)


def test_png_at_300_dpi_and_pdf(tmp_path, fig):
    paths = save_figure(fig, tmp_path / "new" / "dir" / "km", bbox_inches=None)
    assert paths == [tmp_path / "new" / "dir" / "km.png", tmp_path / "new" / "dir" / "km.pdf"]
    with Image.open(paths[0]) as im:
        dpi = im.info["dpi"]
        size = im.size
    assert dpi == pytest.approx((300, 300), abs=0.01)  # PNG stores pixels per metre: 11811 -> 299.9994
    assert size == (600, 450)
    assert paths[1].read_bytes().startswith(b"%PDF")
    assert not [p.name for p in paths[0].parent.iterdir() if p.name.endswith(".tmp")]


def test_stem_with_dots_keeps_its_name(tmp_path, fig):
    (path,) = save_figure(fig, tmp_path / "km.v1.2", formats=("png",), dpi=50)
    assert path.name == "km.v1.2.png"


def test_repeated_saves_are_byte_identical(tmp_path, fig):
    first = [p.read_bytes() for p in save_figure(fig, tmp_path / "a", formats=("png", "pdf", "svg"))]
    second = [p.read_bytes() for p in save_figure(fig, tmp_path / "b", formats=("png", "pdf", "svg"))]
    assert first == second
    assert b"CreationDate" not in first[1]


def test_figure_is_left_open(tmp_path, fig):
    save_figure(fig, tmp_path / "km", formats=("png",), dpi=72)
    assert plt.fignum_exists(fig.number)


def test_unknown_format(tmp_path, fig):
    msg = r"^Unknown figure format\(s\) 'docx'\. Choose from: .*'pdf', .*'png', "
    with pytest.raises(ValueError, match=msg) as info:
        save_figure(fig, tmp_path / "km", formats=("png", "docx"))
    assert str(info.value).endswith(".")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("dpi", [0, 300.0], ids=["zero", "float"])
def test_dpi_error(tmp_path, fig, dpi):
    with pytest.raises(ValueError) as info:
        save_figure(fig, tmp_path / "km", dpi=dpi)
    expected = f"The 'dpi' parameter of save_figure must be an int in the range [1, inf). Got {dpi!r} instead."
    assert str(info.value) == expected


def test_tight_bbox_keeps_artists_outside_the_axes(tmp_path):
    figure, ax = plt.subplots(figsize=(2, 2))
    ax.text(0.5, -1.0, "below the figure", transform=ax.transAxes)
    (tight,) = save_figure(figure, tmp_path / "tight", formats=("png",), dpi=100)
    (exact,) = save_figure(figure, tmp_path / "exact", formats=("png",), dpi=100, bbox_inches=None)
    plt.close(figure)
    with Image.open(tight) as a, Image.open(exact) as b:
        assert b.size == (200, 200)
        assert a.size[1] > 200


def test_bbox_inches_error(tmp_path, fig):
    with pytest.raises(ValueError) as info:
        save_figure(fig, tmp_path / "km", bbox_inches="loose")
    expected = "The 'bbox_inches' parameter of save_figure must be one of 'tight', None. Got 'loose' instead."
    assert str(info.value) == expected
