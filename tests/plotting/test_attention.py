"""Tests for multisurv.plotting.attention (attention heatmaps of AttentionMILScore)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from multisurv.plotting.attention import plot_attention_heatmap, plot_slide_attention, top_tiles  # noqa: E402
from multisurv.plotting.export import save_figure  # noqa: E402


def _attention(n=12, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(n))
    return pd.DataFrame({"x": np.arange(n) % 4 * 224, "y": np.arange(n) // 4 * 224, "attention": w})


def test_heatmap_draws_every_tile_and_outlines_the_top_ones():
    a = _attention()
    ax = plot_attention_heatmap(np.full((70, 90, 3), 230, np.uint8), a, slide_size=(900, 700), footprint=224,
                                top_k=3)
    assert len(ax.patches) == 12 + 3
    outlined = [p for p in ax.patches if not p.get_fill()]
    # the outlines sit on the three highest-attention tiles (thumbnail scale 0.1)
    expected = sorted(tuple(np.round(v * 0.1, 6)) for v in top_tiles(a, 3)[["x", "y"]].to_numpy())
    assert sorted(tuple(np.round(p.get_xy(), 6)) for p in outlined) == expected
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3"]
    plt.close(ax.figure)


def test_heatmap_rejects_a_bad_table():
    with pytest.raises(ValueError, match="needs 'attention' as a DataFrame with columns 'x', 'y', 'attention'"):
        plot_attention_heatmap(np.zeros((4, 4, 3)), pd.DataFrame({"x": [0]}), slide_size=(4, 4), footprint=1)


@pytest.mark.wsi
@pytest.mark.slow  # renders a synthetic slide (~9 s on a busy 2-core machine)
def test_slide_figure_with_top_tiles_saved(tmp_path):
    pytest.importorskip("openslide")
    from multisurv.cohort.synthetic_wsi import STAINS, render_slide, write_slide

    slide = tmp_path / "slide.tiff"
    write_slide(render_slide(np.random.default_rng(0), u_path=0.0, mitotic_count=5.0,
                             stain=STAINS["development"]), slide)
    fig = plot_slide_attention(slide, _attention(8), footprint=224, top_k=4, title="P1: risk 0.4")
    assert len(fig.axes) == 1 + 1 + 4  # heatmap, its colour bar, four tiles
    assert fig.axes[2].images[0].get_array().shape == (224, 224, 3)
    paths = save_figure(fig, tmp_path / "attention", formats=("png",), dpi=60)
    assert paths[0].stat().st_size > 0
    plt.close(fig)
