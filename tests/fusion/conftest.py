"""Synthetic multimodal cohorts for the fusion tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.lasso_cox import LassoCoxSelector


def make_multimodal(n: int, *, seed: int = 0, p: int = 8, weights=(0.8, 0.8, 0.8), missing=(0.1, 0.15, 0.0)):
    """ct__, wsi__ and clin__ blocks of ``p`` standard-normal features; feature 0 of each is informative.

    Independent signals: log-hazard = sum of weights * feature 0. ``missing`` is the fraction of patients
    without each modality (all its columns NaN).
    """
    rng = np.random.default_rng(seed)
    blocks, eta = [], np.zeros(n)
    for prefix, w in zip(("ct__", "wsi__", "clin__"), weights):
        values = rng.normal(size=(n, p))
        eta += w * values[:, 0] - 0.5 * w * values[:, 1]
        blocks.append(pd.DataFrame(values, columns=[f"{prefix}f{i}" for i in range(p)]))
    X = pd.concat(blocks, axis=1)
    X.index = pd.Index([f"P{i:04d}" for i in range(n)], name="patient_id")
    for prefix, frac in zip(("ct__", "wsi__", "clin__"), missing):
        rows = rng.random(n) < frac
        X.loc[X.index[rows], [c for c in X if c.startswith(prefix)]] = np.nan
    t = rng.exponential(np.exp(-eta))
    c = rng.exponential(3.0, n)
    return X, make_y(np.minimum(t, c), t <= c)


def fast_scores(names=("radscore", "patscore", "clinscore"), random_state=0):
    """The default scores with a cheaper selector (3-fold CV, 20 penalties)."""
    prefixes = {"radscore": "ct__", "patscore": "wsi__", "clinscore": "clin__"}
    return [ModalityScore(name=n, prefix=prefixes[n], selector=LassoCoxSelector(cv=3, n_alphas=20),
                          random_state=random_state) for n in names]


@pytest.fixture(scope="session")
def cohort():
    """240 patients, 8 features per modality, some missing CT or WSI."""
    return make_multimodal(240, seed=0)


@pytest.fixture(name="make_multimodal", scope="session")
def make_multimodal_fixture():
    """The :func:`make_multimodal` factory."""
    return make_multimodal


@pytest.fixture(name="fast_scores", scope="session")
def fast_scores_fixture():
    """The :func:`fast_scores` factory."""
    return fast_scores
