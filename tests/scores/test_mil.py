"""Tests for multisurv.scores.mil.AttentionMILScore (gated attention MIL over per-slide patch files)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from multisurv._validation import make_y
from multisurv.fusion.late import LateFusionCox
from multisurv.scores.mil import AttentionMILScore, patch_file_for
from multisurv.scores.modality_score import ModalityScore
from multisurv.selection.filters import VarianceFilter

pytest.importorskip("torch")
pytest.importorskip("h5py")


def write_bags(folder, n, *, seed, dim=6, start=0):
    """Patch files whose share of "tumour-like" tiles (feature 0 shifted by +3) drives the hazard.

    Returns the ids, y, the share per patient and the signal-tile flags per patient.
    """
    from multisurv.features.wsi.patch_store import PatchWriter

    rng = np.random.default_rng(seed)
    ids, share, flags = [f"P{start + i:04d}" for i in range(n)], rng.uniform(0, 0.5, n), {}
    for pid, s in zip(ids, share):
        k = int(rng.integers(12, 30))
        signal = rng.random(k) < s
        feats = rng.normal(size=(k, dim))
        feats[signal, 0] += 3.0
        coords = np.column_stack([np.arange(k) % 6 * 224, np.arange(k) // 6 * 224])
        keep = np.ones(k, bool)
        keep[-1] = False  # one tile not pooled by extraction: left out with tiles="keep"
        with PatchWriter(folder / f"{pid}.h5", k, dim, coords=coords, tissue=np.ones(k)) as w:
            w.write(np.arange(k), feats, keep=keep)
        flags[pid] = signal[keep]
    t = rng.exponential(np.exp(-6.0 * share))
    c = rng.exponential(3.0, n)
    return ids, make_y(np.minimum(t, c), t <= c), share, flags


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    folder = tmp_path_factory.mktemp("patches")
    train = write_bags(folder, 100, seed=0)
    test = write_bags(folder, 80, seed=1, start=100)
    return folder, train, test


def _frame(ids):
    return pd.DataFrame({"clin__age": np.arange(len(ids), dtype=float)}, index=pd.Index(ids, name="patient_id"))


def quick(folder, **kwargs):
    params = {"patches": folder, "epochs": 40, "patience": 10, "hidden": 16, "attention_dim": 8,
              "learning_rate": 5e-3, "random_state": 0}
    params.update(kwargs)
    return AttentionMILScore(**params)


@pytest.fixture(scope="module")
def fitted(bags):
    folder, (ids, y, _, _), _ = bags
    return quick(folder).fit(_frame(ids), y)


def test_learns_slide_risk_and_attends_to_the_signal_tiles(bags, fitted):
    _, _, (ids, y, _, flags) = bags
    X = _frame(ids)
    # the true log-hazard (6 x share) gives C ~ 0.7 on these 80 patients; 0.6 is well above chance (null SD ~0.04)
    assert fitted.score(X, y) > 0.6
    ratios = []
    for pid in ids:
        att = fitted.tile_attention(pid)
        assert att["attention"].sum() == pytest.approx(1.0, abs=1e-6)  # softmax, float32
        if flags[pid].any() and not flags[pid].all():
            ratios.append(att["attention"][flags[pid]].mean() / att["attention"][~flags[pid]].mean())
    assert np.median(ratios) > 1.0  # signal tiles get more attention than the others


def test_missing_slides_are_nan_and_not_used(bags, fitted):
    _, (ids, _, _, _), _ = bags
    X = _frame([*ids[:5], "NO-SLIDE"])
    risk = fitted.predict(X)
    assert np.isnan(risk[-1]) and np.isfinite(risk[:5]).all()
    emb = fitted.transform(X)
    assert list(emb.columns[:2]) == ["wsi__abmil_000", "wsi__abmil_001"] and emb.shape == (6, 16)
    assert emb.iloc[-1].isna().all()
    with pytest.raises(ValueError, match="patient 'NO-SLIDE' has no patch file"):
        fitted.tile_attention("NO-SLIDE")


def test_centred_on_training_slides_and_keep_flags(bags, fitted):
    folder, (ids, _, _, _), _ = bags
    assert np.mean(fitted.predict(_frame(ids))) == pytest.approx(0.0, abs=1e-6)
    table_keep = fitted.tile_attention(ids[0])
    from multisurv.features.wsi.patch_store import read_patches

    stored = read_patches(patch_file_for(folder, ids[0]), features=False)
    assert len(table_keep) == int(stored.keep.sum())  # tiles="keep": only the pooled tiles


def test_contract_determinism_and_pickle(bags):
    folder, (ids, y, _, _), _ = bags
    X = _frame(ids[:30])
    model = quick(folder, epochs=3)
    assert repr(clone(model).get_params()) == repr(model.get_params())
    with pytest.raises(NotFittedError):
        model.predict(X)
    assert model.fit(X, y[:30]) is model
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    np.testing.assert_array_equal(quick(folder, epochs=3).fit(X, y[:30]).predict(X), model.predict(X))


def test_mapping_lookup_and_discrete_loss(bags):
    folder, (ids, y, _, _), _ = bags
    mapping = {pid: str(folder / f"{pid}.h5") for pid in ids[:50]}  # the rest have no slide
    model = quick(mapping, loss="discrete", n_bins=3, epochs=5).fit(_frame(ids), y)
    assert model.n_train_ == 50
    risk = model.predict(_frame(ids))
    assert np.isfinite(risk[:50]).all() and np.isnan(risk[50:]).all()


def test_fits_in_place_of_a_modality_score_in_late_fusion(bags):
    folder, (ids, y, _, _), _ = bags
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"clin__a": rng.normal(size=40), "clin__b": rng.normal(size=40)},
                     index=pd.Index(ids[:40], name="patient_id"))
    scores = [quick(folder, epochs=3, validation_fraction=0.0),
              ModalityScore(name="clinscore", prefix="clin__", selector=VarianceFilter())]
    model = LateFusionCox(scores=scores, cv=2, random_state=0).fit(X, y[:40])
    assert list(model.coef_.index) == ["patscore", "clinscore"]
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("params,match", [
    ({"patches": None}, "The 'patches' parameter of AttentionMILScore must be a mapping"),
    ({"tiles": "tumour"}, "The 'tiles' parameter of AttentionMILScore must be one of 'keep', 'all'"),
    ({"max_tiles": 0}, r"The 'max_tiles' parameter of AttentionMILScore must be an int in the range \[1, inf\)"),
])
def test_bad_parameters(bags, params, match):
    folder, (ids, y, _, _), _ = bags
    with pytest.raises(ValueError, match=match):
        quick(folder, **params).fit(_frame(ids), y)


def test_no_patch_files_found(tmp_path):
    y = make_y([1.0, 2.0, 3.0, 4.0, 5.0], [True, False, True, True, True])
    with pytest.raises(ValueError, match=r"found patch files for 0 of 5 training patients .* check 'patches' "
                                         r"\(folder"):
        quick(tmp_path).fit(_frame(list("abcde")), y)


def test_a_patient_with_several_slides_is_one_bag(bags, fitted, tmp_path):
    """Extraction writes <id>.h5, <id>__2.h5... for several slides; the bag holds the tiles of all of them."""
    import shutil

    folder, (ids, _, _, _), _ = bags
    for name in (f"{ids[0]}.h5", f"{ids[1]}.h5"):
        shutil.copy(folder / name, tmp_path / name)
    shutil.copy(folder / f"{ids[1]}.h5", tmp_path / f"{ids[0]}__2.h5")  # a second slide of the first patient
    two = fitted.set_params(patches=tmp_path)  # the fitted network, reading the copied folder
    try:
        att = two.tile_attention(ids[0])
        single = two.tile_attention(ids[1])
    finally:
        fitted.set_params(patches=folder)
    n0, n1 = len(fitted.tile_attention(ids[0])), len(single)
    assert len(att) == n0 + n1 and att["slide"].tolist() == [1] * n0 + [2] * n1
    assert "slide" not in single and np.isclose(att["attention"].sum(), 1.0)
