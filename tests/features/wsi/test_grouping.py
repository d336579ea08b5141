"""Unsupervised slide clusters and Kaplan-Meier across them (multisurv.features.wsi.grouping)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y
from multisurv.evaluation.groups import logrank
from multisurv.features.wsi.grouping import cluster_slides


def _cohort(n=(40, 20), shift=3.0, seed=0):
    """Two slide phenotypes (feature means differ by ``shift`` SD in 5 of 20 features); the second dies sooner."""
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1], n)
    X = rng.standard_normal((sum(n), 20))
    X[:, :5] += shift * truth[:, None]
    X[:, 5] *= 1000.0  # a large-scale noise feature: without standardising it would dominate the distances
    time = rng.exponential(np.where(truth == 1, 10.0, 40.0))
    censor = rng.exponential(60.0, sum(n))
    y = make_y(np.minimum(time, censor), time <= censor)
    ids = [f"P{i:03d}" for i in range(sum(n))]
    return pd.DataFrame(X, index=pd.Index(ids, name="patient_id")).add_prefix("wsi__f"), y, truth


def test_recovers_two_phenotypes_and_km_differs():
    X, y, truth = _cohort()
    groups = cluster_slides(X)
    assert groups.name == "wsi_cluster" and list(groups.index) == list(X.index)
    assert (groups.to_numpy() == truth).all()  # numbered by size: the 40-slide cluster is 0
    result = logrank(y, groups.to_numpy())
    assert result.n_per_group == {0: 40, 1: 20}
    assert result.p_value < 0.01  # the simulated hazard ratio is 4


def test_km_plot_across_clusters():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from multisurv.plotting.km import plot_km

    X, y, _ = _cohort()
    groups = cluster_slides(X)
    ax = plot_km(y, groups.map({0: "cluster 0", 1: "cluster 1"}).to_numpy(), at_risk=False)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("cluster 0") for t in labels) and any(t.startswith("cluster 1") for t in labels)
    plt.close(ax.figure)


def test_deterministic_and_k_clusters():
    X, _, _ = _cohort()
    a, b = cluster_slides(X, n_clusters=3, random_state=1), cluster_slides(X, n_clusters=3, random_state=1)
    assert a.equals(b) and set(a) == {0, 1, 2}
    sizes = a.value_counts().sort_index().to_numpy()
    assert (np.diff(sizes) <= 0).all()  # numbered by decreasing size


@pytest.mark.parametrize("make, kwargs, error, match", [
    (lambda X: X.assign(wsi__f0=[np.nan] + [0.0] * (len(X) - 1)), {}, ValueError,
     r"Slide features are missing for 1 patient\(s\): 'P000'\. Drop them or re-extract"),
    (lambda X: X.head(1), {}, ValueError, r"'features' has 1 patients but n_clusters=2"),
    (lambda X: X, {"n_clusters": 1}, ValueError, r"The 'n_clusters' parameter of cluster_slides must be an int"),
    (lambda X: X.to_numpy(), {}, TypeError, r"'features' must be a pandas DataFrame"),
], ids=["missing-values", "too-few", "one-cluster", "not-a-frame"])
def test_errors(make, kwargs, error, match):
    X, _, _ = _cohort()
    with pytest.raises(error, match=match):
        cluster_slides(make(X), **kwargs)
