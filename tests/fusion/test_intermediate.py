"""Tests for multisurv.fusion.intermediate.IntermediateFusionCox (deep intermediate fusion)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from multisurv._validation import make_y
from multisurv.fusion.intermediate import FUSION_LAYERS, IntermediateFusionCox
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.filters import VarianceFilter

pytest.importorskip("torch")

PREFIXES = {"radscore": "ct__", "patscore": "wsi__", "clinscore": "clin__"}


def keep_all_scores():
    """Scores whose selector keeps every non-constant column (no outcome used: cheap and deterministic)."""
    return [ModalityScore(name=n, prefix=p, selector=VarianceFilter()) for n, p in PREFIXES.items()]


def quick(**kwargs):
    """A small, quick configuration (few epochs) for contract tests."""
    params = {"scores": keep_all_scores(), "epochs": 15, "patience": 5, "hidden": 8, "n_threads": 1,
              "random_state": 0}
    params.update(kwargs)
    return IntermediateFusionCox(**params)


@pytest.fixture(scope="module")
def small(make_multimodal):
    return make_multimodal(120, seed=3, p=4)


# ------------------------------------------------------------------------------------------- conformance
def test_estimator_contract(small):
    """clone/params round-trip, fit returns self, NotFittedError before fit, pickle, one risk per row."""
    X, y = small
    model = quick()
    cloned = clone(model)
    assert repr(cloned.get_params()) == repr(model.get_params())  # nested scores are cloned (equal, not identical)
    assert cloned.set_params(hidden=4).hidden == 4 and model.hidden == 8
    with pytest.raises(NotFittedError):
        clone(model).predict(X)
    assert model.fit(X, y) is model
    risk = model.predict(X)
    assert risk.shape == (len(X),) and np.isfinite(risk).all()
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), risk)
    assert 0.0 <= model.score(X, y) <= 1.0
    assert set(model.history_.columns) == {"epoch", "train_loss", "val_loss"}
    assert 1 <= model.best_epoch_ <= 15


def test_deterministic_given_random_state(small):
    X, y = small
    a = quick(random_state=4).fit(X, y).predict(X)
    b = quick(random_state=4).fit(X, y).predict(X)
    c = quick(random_state=5).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_torch_settings_are_restored(small):
    import torch

    X, y = small
    threads = torch.get_num_threads()
    quick(n_threads=1).fit(X, y)
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("fusion", FUSION_LAYERS)
def test_every_fusion_layer_scores_every_patient(small, fusion):
    """Missing modalities (and a patient with none) are scored; a row's risk does not depend on the others."""
    X, y = small
    X = X.copy()
    X.iloc[0] = np.nan  # a patient without any modality
    model = quick(fusion=fusion, epochs=10).fit(X, y)
    risk = model.predict(X)
    assert risk.shape == (len(X),) and np.isfinite(risk).all()
    np.testing.assert_allclose(model.predict(X.iloc[:7]), risk[:7], rtol=1e-6)  # float32 network
    if fusion == "attention":
        w = model.modality_attention(X)
        assert list(w.columns) == list(PREFIXES)
        np.testing.assert_allclose(w.iloc[1:].sum(axis=1), 1.0, rtol=1e-6)
        assert (w.iloc[0] == 0).all()
        no_wsi = X["wsi__f0"].isna().to_numpy()
        assert (w.loc[no_wsi, "patscore"] == 0).all()


def test_learns_a_signal_on_held_out_patients(make_multimodal):
    """Concat fusion ranks unseen patients better than chance on a strong additive signal (quick version)."""
    X, y = make_multimodal(200, seed=7, p=4)
    Xt, yt = make_multimodal(200, seed=8, p=4)
    model = quick(epochs=60, patience=15, hidden=16).fit(X, y)
    # the true log-hazard gives C ~ 0.75 here; 0.62 is far above chance (null SD of C ~ 0.025 at n = 200)
    assert model.score(Xt, yt) > 0.62


@pytest.mark.slow
@pytest.mark.parametrize("fusion", FUSION_LAYERS)
def test_every_fusion_layer_learns_a_signal(make_multimodal, fusion):
    X, y = make_multimodal(300, seed=7, p=4)
    Xt, yt = make_multimodal(200, seed=8, p=4)
    model = quick(fusion=fusion, epochs=300, patience=30, hidden=16).fit(X, y)
    assert model.score(Xt, yt) > 0.65  # as above, with more data and epochs


def test_discrete_time_loss(small):
    X, y = small
    model = quick(loss="discrete", n_bins=3).fit(X, y)
    assert model.time_bins_.shape == (2,)
    risk = model.predict(X)
    assert np.isfinite(risk).all() and (risk <= 0).all()  # minus summed survival probabilities


def test_no_early_stopping_trains_all_epochs(small):
    X, y = small
    model = quick(validation_fraction=0.0, epochs=7).fit(X, y)
    assert model.best_epoch_ == 7 and model.history_["val_loss"].isna().all()


def test_selection_uses_the_scores_selector(small, fast_scores):
    X, y = small
    model = quick(scores=fast_scores()).fit(X, y)
    assert set(model.features_) == set(PREFIXES)
    for s in model.scores_:
        assert model.features_[s.name] == s.selected_features_


# ------------------------------------------------------------------------------------------- failures
@pytest.mark.parametrize("params,match", [
    ({"fusion": "bilinear"}, ("The 'fusion' parameter of IntermediateFusionCox must be one of 'concat', "
                              "'kronecker', 'attention'. Got 'bilinear' instead.")),
    ({"loss": "rank"}, "The 'loss' parameter of IntermediateFusionCox must be one of 'cox', 'discrete'"),
    ({"validation_fraction": 0.6}, (r"The 'validation_fraction' parameter of IntermediateFusionCox must be a "
                                    r"float in the range \[0, 0.5\)")),
    ({"epochs": 0}, r"The 'epochs' parameter of IntermediateFusionCox must be an int in the range \[1, inf\)"),
    ({"fusion": "kronecker", "kron_dim": 40}, "builds a product of 68921 entries .* Lower 'kron_dim'"),
])
def test_bad_parameters(small, params, match):
    X, y = small
    with pytest.raises(ValueError, match=match):
        quick(**params).fit(X, y)


def test_too_few_validation_events():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(30, 2)), columns=["ct__a", "wsi__a"])
    event = np.zeros(30, bool)
    event[:3] = True
    with pytest.raises(ValueError, match=r"inner validation split .* holds 1 event\(s\); early stopping needs at "
                                         "least 2. Raise 'validation_fraction'"):
        quick(scores=[ModalityScore(name="r", prefix="ct__", selector=VarianceFilter())]).fit(
            X, make_y(rng.exponential(size=30), event))


def test_bad_inputs(small):
    X, y = small
    with pytest.raises(TypeError, match="needs 'X' as a pandas DataFrame"):
        quick().fit(X.to_numpy(), y)
    model = quick(epochs=3).fit(X, y)
    with pytest.raises(ValueError, match="'X' lacks 1 column"):
        model.predict(X.drop(columns="ct__f1"))
    with pytest.raises(ValueError, match="modality_attention needs fusion='attention'"):
        model.modality_attention(X)
