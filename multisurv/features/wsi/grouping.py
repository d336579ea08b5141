"""Unsupervised grouping of slides by their pathomics features (the reference study's two pathomics clusters).

:func:`cluster_slides` standardises the slide-feature table and runs k-means (scikit-learn), returning one
cluster label per patient; compare the clusters' survival with
:func:`multisurv.evaluation.groups.logrank` and :func:`multisurv.plotting.km.plot_km` (later stages of the
package, so they are not called from here).
"""

from __future__ import annotations

import pandas as pd

from multisurv._validation import check_param

__all__ = ["cluster_slides"]


def cluster_slides(features: pd.DataFrame, *, n_clusters: int = 2, n_init: int = 10,
                   random_state: int | None = 0) -> pd.Series:
    """Cluster slides with k-means on standardised slide features.

    Parameters
    ----------
    features : pandas.DataFrame, shape (n_patients, n_features)
        Slide vectors (e.g. ``extract_pathomics(...).features``), index ``patient_id``.
    n_clusters : int, default=2
    n_init : int, default=10
        k-means restarts (the best inertia is kept).
    random_state : int or None, default=0

    Returns
    -------
    pandas.Series of int, named ``"wsi_cluster"``
        Cluster per patient, numbered by decreasing size (0 = largest; ties by first appearance).

    Raises
    ------
    ValueError
        If a feature is missing (the message names the patients) or there are fewer patients than clusters.

    Notes
    -----
    Each feature is centred and scaled to unit variance first (constant features are left at 0), so that
    no single feature dominates the Euclidean distances. Fitting clusters on the whole cohort uses no outcome,
    but a cluster-survival association found this way is exploratory: validate it on an external cohort with
    the centres and scaling fitted here.

    Examples
    --------
    >>> import numpy as np
    >>> X = pd.DataFrame(np.r_[np.zeros((3, 2)), np.ones((2, 2))], index=list("abcde"))
    >>> cluster_slides(X).tolist()
    [0, 0, 0, 1, 1]
    """
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    check_param("cluster_slides", "n_clusters", n_clusters, kind="int", low=2)
    check_param("cluster_slides", "n_init", n_init, kind="int", low=1)
    if not isinstance(features, pd.DataFrame):
        raise TypeError(f"'features' must be a pandas DataFrame of slide vectors; got {type(features).__name__}.")
    missing = features.index[features.isna().any(axis=1)]
    if len(missing):
        shown = ", ".join(repr(str(p)) for p in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise ValueError(f"Slide features are missing for {len(missing)} patient(s): {shown}. Drop them or "
                         "re-extract their slides (see failures.csv) before clustering.")
    if len(features) < n_clusters:
        raise ValueError(f"'features' has {len(features)} patients but n_clusters={n_clusters}; need at least as "
                         "many patients as clusters.")
    X = StandardScaler().fit_transform(features.to_numpy(dtype=float))
    raw = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state).fit_predict(X)
    order = pd.Series(raw).value_counts(sort=False)  # first-appearance order, then stable sort by size
    ranks = {c: i for i, c in enumerate(order.sort_values(ascending=False, kind="stable").index)}
    return pd.Series([ranks[c] for c in raw], index=features.index, name="wsi_cluster", dtype=int)
