"""On the synthetic cohort: selections find the true signal and late fusion tracks the true linear predictor.

Runs ``experiments/selection_recovery.py`` (cohort of 200 + 100 patients, radiomics and random-ResNet50
pathomics extraction, LASSO-Cox scores, stacked late fusion); about 40 minutes on 2 busy cores, nearly all
of it the slides, so ``slow``. Set ``MULTISURV_RECOVERY_DIR`` to a folder the script already filled (for
example ``runs/selection_recovery``) to reuse its cohort and cached features: the same files give the same
features, so only the models are refitted.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "selection_recovery.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("selection_recovery", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_selections_recover_signal_and_late_fusion_tracks_the_true_linear_predictor(tmp_path):
    """Radiomics and pathomics LASSO selections (lambda-min) pick features that carry more of their modality's
    share of the true linear predictor than the other features do (one-sided Mann-Whitney on |Spearman rho|,
    p < 0.05), and no selected feature is outside the signal set; the clinical selection keeps every signal
    column; the late-fusion score correlates with ``true_lp`` on the external patients, never used in fitting
    (Spearman > 0, p < 0.001).

    Measured (seed 0, 200 development + 100 external patients; definitions in the script's docstring):

    ============  ========  ======  ========  ====  =========  ==========  ============  =========  ========
    score         features  signal  selected  hits  precision  base rate   p (hypergeo)  |rho| sel  p (rank)
    ============  ========  ======  ========  ====  =========  ==========  ============  =========  ========
    radscore           106      70         3     3      1.000       0.660          0.28      0.743    0.0012
    patscore          2006    1358         7     7      1.000       0.677         0.065      0.641    0.0023
    clinscore            9       7         9     7      0.778       0.778          1          0.252    1
    ============  ========  ======  ========  ====  =========  ==========  ============  =========  ========

    (|rho| over all features: 0.401 radiomics, 0.437 pathomics.) The set test (hypergeometric) was the first
    planned; it cannot reach 0.05 here even at perfect precision, because tumour size moves two thirds of
    the features (base rate 0.66-0.68) and LASSO keeps 3-7 of them (smallest possible p: 0.66^3 = 0.29,
    0.68^7 = 0.065), so the rank test carries the claim. The clinical LASSO keeps all 9 columns (both noise
    columns, sex and Ki-67, too), so on this cohort it shows no better-than-chance selection; the 1-SE rule
    keeps 4 with 3 signal (rank p 0.14), also not better than chance. Late fusion vs true_lp: Spearman 0.812
    (development, in-sample) and 0.769 (external, p = 9e-21).
    """
    res = _load_script().measure(os.environ.get("MULTISURV_RECOVERY_DIR", tmp_path), seed=0)
    for name in ("radscore", "patscore"):
        r = res["modalities"][name]
        assert r["n_selected"] > 0, name
        assert r["precision"] > r["base_rate"], name
        assert r["p_rank"] < 0.05, name
    clin = res["modalities"]["clinscore"]
    assert clin["n_selected_signal"] == clin["n_signal"]  # recall 1; precision is the base rate (see above)
    assert res["late_fusion_spearman_external"] > 0
    assert res["late_fusion_spearman_p_external"] < 1e-3
