"""The synthetic cohort's cross-modal interaction knob (make_synthetic_table(interaction=...)) and the feature
stand-in drawn from the latent truth (multisurv.cohort.synthetic_features)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv.cohort.synthetic import make_synthetic_cohort, make_synthetic_table
from multisurv.cohort.synthetic_features import synthetic_feature_table

# SHA-256 of the manifest of make_synthetic_table(40, 20, random_state=0) written with to_csv(index=False,
# lineterminator="\n"), computed at commit 84b307c (before the interaction knob existed). Its truth table (latent
# risks, floats) is tests/data/synthetic_truth_40_20_seed0.csv, written by that commit's code: compared to
# rtol 1e-12, because the last bits of numpy's exp/log differ between numpy builds (a fresh install on
# 2026-12-04 changed the truth table's SHA-256 for 84b307c's own code, not its values beyond 1e-12).
# If these change, regenerate them from a checkout of 84b307c, never from the current code.
MANIFEST_SHA = "7283fad9640e175bda1348fc3a17c4c129eb6855d9381b1f9ec1a076cba77495"
TRUTH_CSV = Path(__file__).parents[1] / "data" / "synthetic_truth_40_20_seed0.csv"


def _sha(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def test_default_cohort_is_unchanged_bit_for_bit():
    manifest, truth = make_synthetic_table(40, 20, random_state=0)
    assert _sha(manifest) == MANIFEST_SHA
    expected = pd.read_csv(TRUTH_CSV, keep_default_na=False, na_values=[""])
    observed = pd.read_csv(io.StringIO(truth.to_csv(index=False)), keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(observed, expected, check_exact=False, rtol=1e-12, atol=0)
    m0, t0 = make_synthetic_table(40, 20, random_state=0, interaction=0.0)
    pd.testing.assert_frame_equal(m0, manifest)
    pd.testing.assert_frame_equal(t0, truth)


@pytest.mark.slow  # renders CT and slides (~30 s on a busy 2-core machine)
def test_default_files_are_identical_with_interaction_zero(tmp_path):
    a = make_synthetic_cohort(tmp_path / "a", n_development=2, n_external=1)
    b = make_synthetic_cohort(tmp_path / "b", n_development=2, n_external=1, interaction=0.0)
    files = sorted(p.relative_to(a.parent) for p in a.parent.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b.parent) for p in b.parent.rglob("*") if p.is_file())
    for rel in files:
        assert (a.parent / rel).read_bytes() == (b.parent / rel).read_bytes(), rel


def test_interaction_adds_its_term_and_changes_only_the_outcome():
    m0, t0 = make_synthetic_table(60, 20, random_state=1)
    m1, t1 = make_synthetic_table(60, 20, random_state=1, interaction=2.0)
    expected = 2.0 * t0["u_path"] * (t0["z_size"] > 0)
    np.testing.assert_allclose(t1["term_interaction"], expected, rtol=0, atol=0)
    np.testing.assert_allclose(t1["true_lp"], t0["true_lp"] + expected, rtol=1e-12)  # float sum order
    same = [c for c in m0.columns if c not in ("time", "event")]
    pd.testing.assert_frame_equal(m1[same], m0[same])
    assert "term_interaction" not in t0.columns
    with pytest.raises(ValueError, match="The 'interaction' parameter of make_synthetic_table must be a float"):
        make_synthetic_table(2, 1, interaction="strong")


def test_feature_stand_in_follows_the_truth_and_missingness():
    manifest, truth = make_synthetic_table(200, 0, random_state=2)
    X, y = synthetic_feature_table(manifest, truth, noise=0.5, random_state=0)
    assert list(X.index) == list(manifest["patient_id"]) and len(y) == 200
    no_wsi = truth["has_wsi"].to_numpy() == 0
    assert X.loc[no_wsi, [c for c in X if c.startswith("wsi__")]].isna().all().all()
    assert X.loc[~no_wsi, "wsi__histology"].notna().all()
    # u_path + N(0, 0.5): correlation 1 / sqrt(1.25) = 0.89 in expectation; 0.8 leaves room for n = 150
    r = np.corrcoef(X.loc[~no_wsi, "wsi__histology"], truth.loc[~no_wsi, "u_path"])[0, 1]
    assert r > 0.8
