"""The feature-level generator: shapes, determinism, and the same outcome model as the image-level generator."""

from __future__ import annotations

import numpy as np
import pytest

from multisurv.cohort.synthetic import make_synthetic_table
from multisurv.evaluation.concordance import concordance
from multisurv.simulation.generator import Mechanism, censoring_factor, simulate_cohort, simulate_study


def _small(**kw) -> Mechanism:
    return Mechanism(n_development=50, n_external=30, n_ct_features=6, n_wsi_features=4).replace(**kw)


def test_tables_have_prefixed_columns_and_missing_modalities():
    c = simulate_cohort(_small(n_noise_features=2, n_null_clinical=3), 400, "development", np.random.default_rng(1))
    cols = list(c.X.columns)
    assert sum(x.startswith("ct__") for x in cols) == 8 and sum(x.startswith("wsi__") for x in cols) == 6
    assert "clin__lab_01" in cols and "clin__finding_03_present" in cols
    no_ct = c.X.filter(like="ct__").isna().all(axis=1)
    # missing_ct = 0.15: 400 patients give a share within 0.15 +- 4 binomial SEs (0.018)
    assert abs(no_ct.mean() - 0.15) < 4 * np.sqrt(0.15 * 0.85 / 400)
    assert np.array_equal(no_ct.to_numpy(), ~c.latent["has_ct"].to_numpy())


def test_same_seed_same_tables_and_development_independent_of_external_size():
    a = simulate_study(_small(), 3)
    b = simulate_study(_small(n_external=80), 3)
    assert a["development"].X.equals(b["development"].X)
    assert not a["external"].X.iloc[:30].equals(simulate_study(_small(), 4)["external"].X)


def test_no_signal_gives_a_constant_linear_predictor():
    c = simulate_cohort(_small(signal_ct=0, signal_path=0, signal_clinical=0), 50, "external", np.random.default_rng(0))
    assert np.all(c.true_lp == 0)


def test_event_rate_is_reached():
    mech = _small(event_rate=0.3)
    c = simulate_cohort(mech, 4000, "development", np.random.default_rng(5))
    # the factor is fitted on 40,000 patients; 4,000 others give the share within 4 binomial SEs (0.029)
    assert censoring_factor(mech) < 1.0
    assert abs(c.y["event"].mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 4000)


def test_external_centre_effect_moves_imaging_features_only():
    mech = _small(shift_ct=2.0, noise_ct=0.0, shift_wsi=0.0, noise_wsi=0.0, case_mix_shift=False)
    dev = simulate_cohort(mech, 3000, "development", np.random.default_rng(0)).X
    ext = simulate_cohort(mech, 3000, "external", np.random.default_rng(0)).X
    ct_shift = (ext.filter(like="ct__").mean() - dev.filter(like="ct__").mean()).abs().max()
    wsi_shift = (ext.filter(like="wsi__").mean() - dev.filter(like="wsi__").mean()).abs().max()
    assert ct_shift > 0.5  # offsets ~ N(0, 2^2): the largest of 6 is far above sampling noise
    # no wsi shift: unit-variance features, two samples of 3,000 (up to 15 % missing): 4 SEs of a mean
    # difference are 4 * sqrt(2 / 2550) = 0.11
    assert wsi_shift < 0.11


@pytest.mark.parametrize("n,interaction", [(400, 0.0), (400, 2.0), pytest.param(4000, 0.0, marks=pytest.mark.slow),
                                           pytest.param(4000, 2.0, marks=pytest.mark.slow)])
def test_outcome_model_matches_the_image_level_generator(n, interaction):
    """Same true-LP C and event share as cohort.synthetic.make_synthetic_table (same equations, other streams)."""
    from multisurv._validation import make_y

    manifest, truth = make_synthetic_table(n, 0, random_state=2, interaction=interaction)
    y_img = make_y(manifest["time"].to_numpy(float), manifest["event"].to_numpy(bool))
    c_img = concordance(y_img, truth["true_lp"].to_numpy(), n_bootstrap=0).cindex
    mech = Mechanism(n_ct_features=1, n_wsi_features=1, interaction=interaction)
    sim = simulate_cohort(mech, n, "development", np.random.default_rng(9))
    c_sim = concordance(sim.y, sim.true_lp, n_bootstrap=0).cindex
    # two independent samples of n: the SE of each C is about 0.32 / sqrt(n) and of an event share
    # 0.5 / sqrt(n); 4 SEs of the difference (sqrt(2) SE each) keep a false alarm below 1e-4
    assert abs(c_img - c_sim) < 4 * np.sqrt(2) * 0.32 / np.sqrt(n)
    assert abs(y_img["event"].mean() - sim.y["event"].mean()) < 4 * np.sqrt(2) * 0.5 / np.sqrt(n)


def test_unknown_centre_is_refused():
    with pytest.raises(ValueError, match="Unknown centre 'elsewhere'. Choose one of: 'development'"):
        simulate_cohort(_small(), 5, "elsewhere", np.random.default_rng(0))


def test_heavy_tailed_external_spread_and_stable_keys():
    base = Mechanism(n_ct_features=400, n_wsi_features=2, missing_ct=0.0, shift_ct=0.0)
    heavy = base.replace(heavy_share_ct=0.05)
    # a field added after feature_level.v1 enters the key only when set, so existing caches stay valid
    assert base.key() == Mechanism(n_ct_features=400, n_wsi_features=2, missing_ct=0.0, shift_ct=0.0).key()
    assert heavy.key() != base.key()
    dev = simulate_cohort(heavy, 2000, "development", np.random.default_rng(0)).X.filter(like="ct__")
    ext = simulate_cohort(heavy, 2000, "external", np.random.default_rng(1)).X.filter(like="ct__")
    ratio = (ext.std() / dev.std()).to_numpy()
    # about 5 % of 400 features get an SD ratio in [2, 12]; the others 1 up to sampling error
    # (SD of a ratio of two SDs from 2,000 patients: about 0.02), so 1.15 separates them
    assert 0.02 < np.mean(ratio > 1.15) < 0.09
    assert ratio.max() > 2.0
