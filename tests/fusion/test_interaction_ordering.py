"""When each fusion family should win (slow): additive truth vs a cross-modal interaction in the true hazard.

Cohort: make_synthetic_table(600, 600, interaction=...) with features drawn from the latent truth
(multisurv.cohort.synthetic_features); fitted on the development centre, C-index on the external centre.
The full experiment (3 seeds, early fusion and the Kronecker arm too) is experiments/fusion_interaction/run.py;
its output is in experiments/README.md.
"""

from __future__ import annotations

import pytest
from sksurv.metrics import concordance_index_censored

from multisurv.cohort.synthetic import make_synthetic_table
from multisurv.cohort.synthetic_features import synthetic_feature_table
from multisurv.fusion.intermediate import IntermediateFusionCox
from multisurv.fusion.late import LateFusionCox

pytest.importorskip("torch")


def _external_c(interaction: float, seed: int = 0) -> dict:
    manifest, truth = make_synthetic_table(600, 600, random_state=seed, interaction=interaction)
    X, y = synthetic_feature_table(manifest, truth, random_state=seed)
    dev = (manifest["cohort"] == "development").to_numpy()
    out = {}
    for name, model in {"late": LateFusionCox(random_state=seed),
                        "intermediate": IntermediateFusionCox(fusion="concat", random_state=seed)}.items():
        risk = model.fit(X[dev], y[dev]).predict(X[~dev])
        out[name] = concordance_index_censored(y["event"][~dev], y["time"][~dev], risk)[0]
    return out


@pytest.mark.slow
def test_additive_truth_late_at_least_as_good_as_intermediate():
    c = _external_c(0.0)
    # Late fusion is the right model for an additive truth; the network may match it but should not beat it
    # by more than sampling noise. 0.01 is about half the SD of an external C-index at n = 600 (~0.015).
    assert c["late"] >= c["intermediate"] - 0.01, c


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "Expected ordering not observed: at interaction=3.0, seed 0, external C late 0.783 vs intermediate (concat) "
    "0.775; over 3 seeds at interaction 2.0 the arms are within 0.002 (experiments/README.md). Kept as the "
    "expectation, not tuned to pass."))
def test_strong_interaction_intermediate_beats_late_on_external():
    c = _external_c(3.0)
    assert c["intermediate"] > c["late"], c
