"""Tests for multisurv.plotting.attention (attention heatmaps of AttentionMILScore)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from multisurv.plotting.attention import plot_attention_heatmap, plot_slide_attention, top_tiles
from multisurv.plotting.export import save_figure


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


@pytest.mark.wsi
@pytest.mark.slow  # renders a synthetic slide and fits a small MIL score
def test_mil_attention_figure_from_a_fitted_score(tmp_path):
    pytest.importorskip("openslide")
    pytest.importorskip("torch")
    from multisurv._validation import make_y
    from multisurv.cohort.synthetic_wsi import STAINS, render_slide, write_slide
    from multisurv.features.wsi.patch_store import PatchWriter
    from multisurv.plotting.attention import plot_mil_attention
    from multisurv.scores.mil import AttentionMILScore

    slide = tmp_path / "slide.tiff"
    write_slide(render_slide(np.random.default_rng(0), u_path=0.0, mitotic_count=5.0,
                             stain=STAINS["development"]), slide)
    rng = np.random.default_rng(0)
    ids = [f"P{i}" for i in range(12)]
    coords = np.column_stack([np.arange(8) % 4 * 224, np.arange(8) // 4 * 224])
    for i, pid in enumerate(ids):
        with PatchWriter(tmp_path / f"{pid}.h5", 8, 4, coords=coords, tissue=np.ones(8),
                         attrs={"slide": str(slide), "footprint": 224}) as w:
            w.write(np.arange(8), rng.normal(size=(8, 4)) + i % 2, keep=np.ones(8, bool))
    y = make_y(1.0 + np.arange(12) % 2 + rng.random(12), np.ones(12, bool))
    score = AttentionMILScore(patches=tmp_path, epochs=3, validation_fraction=0.0, random_state=0)
    score.fit(pd.DataFrame(index=pd.Index(ids, name="patient_id")), y)
    fig = plot_mil_attention(score, "P3", top_k=3)
    assert fig._suptitle.get_text().startswith("P3: patscore")
    assert len(fig.axes) == 2 + 3
    plt.close(fig)
    with pytest.raises(FileNotFoundError, match="pass slide=<its current path>"):
        plot_mil_attention(score, "P3", slide=tmp_path / "moved.tiff")
