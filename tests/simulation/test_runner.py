"""The simulation runner, on scenarios whose answer is known, and its cache (a rerun recomputes nothing)."""

from __future__ import annotations

import numpy as np
import pytest

from multisurv.simulation.config import SimulationConfig
from multisurv.simulation.runner import run_replicate, run_simulation

ALL_MODELS = ["radscore", "patscore", "clinscore", "early", "late", "truth"]


def _config(tmp_path, *, replicates, models, base, n_bootstrap=0, n_truth=2000, factors=None, seed=0, fusion=None):
    raw = {"schema": "simulation_config.v1", "name": "t", "out": str(tmp_path / "run"), "seed": seed,
           "replicates": replicates, "n_bootstrap": n_bootstrap, "n_truth": n_truth, "models": models,
           # a fixed penalty on a 4-point path: the cheapest selector setting (no cross-validation)
           "selector": {"alpha": 0.05, "n_alphas": 4}, "fusion": {"late_cv": 2, **(fusion or {})},
           "base": {"n_ct_features": 4, "n_wsi_features": 4, **base}}
    if factors:
        raw["factors"] = factors
    return SimulationConfig.from_dict(raw)


NO_SIGNAL = {"signal_ct": 0.0, "signal_path": 0.0, "signal_clinical": 0.0, "n_development": 80, "n_external": 60}


def _check_no_signal(result, models):
    perf = result.performance.set_index("model")
    for model in models:
        mean, mcse = perf.at[model, "mean_c"], perf.at[model, "mcse_c"]
        # no signal: the risk is independent of the outcome, so E[C] = 0.5 exactly; 3 MC SEs (the truth
        # model's risk is constant: C = 0.5 in every replicate and its MC SE is 0)
        assert abs(mean - 0.5) <= 3 * mcse + 1e-12, (model, mean, mcse)
        assert perf.at[model, "n_replicates"] == result.records["replicate"].nunique()


def test_no_signal_every_mean_c_is_one_half_within_its_mc_se(tmp_path):
    models = ["clinscore", "late", "truth"]
    result = run_simulation(_config(tmp_path, replicates=10, models=models, base=NO_SIGNAL), write=False)
    _check_no_signal(result, models)


@pytest.mark.slow
def test_no_signal_every_model_over_many_replicates(tmp_path):
    result = run_simulation(_config(tmp_path, replicates=60, models=ALL_MODELS, base=NO_SIGNAL), write=False)
    _check_no_signal(result, ALL_MODELS)


@pytest.mark.parametrize("replicates,n_bootstrap,n_truth", [(60, 100, 2000),
                                                            pytest.param(600, 200, 5000, marks=pytest.mark.slow)])
def test_true_lp_interval_covers_its_true_c_about_95_percent(tmp_path, replicates, n_bootstrap, n_truth):
    base = {"n_development": 20, "n_external": 150, "n_ct_features": 1, "n_wsi_features": 1}
    config = _config(tmp_path, replicates=replicates, models=["truth"], base=base, n_bootstrap=n_bootstrap,
                     n_truth=n_truth)
    result = run_simulation(config, write=False)
    coverage = result.performance.set_index("model").at["truth", "coverage"]
    # nominal 95 %; the MC SE of a coverage over R replicates is sqrt(0.95 * 0.05 / R) (0.028 at R = 60,
    # 0.009 at R = 600); 3 MC SEs, plus 0.01 for the percentile bootstrap's small-sample undercoverage and the
    # estimand's own sampling error (2,000-5,000 patients: SD of its C 0.005-0.008)
    assert abs(coverage - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / replicates) + 0.01, coverage


def test_rerun_recomputes_nothing_and_writes_identical_tables(tmp_path):
    base = {"n_development": 60, "n_external": 40}
    config = _config(tmp_path, replicates=2, models=["clinscore", "early", "truth"], base=base, n_bootstrap=20)
    first = run_simulation(config)
    out = first.out
    names = ("replicates.csv", "performance.csv", "win_probabilities.csv", "report.md")
    tables = {name: (out / name).read_text() for name in names}
    assert first.n_computed == 2 and first.n_cached == 0
    assert {p.name for p in (out / "figures").iterdir()} >= {"cindex_by_scenario.png", "cindex_by_scenario.pdf",
                                                             "win_probability_external.png"}
    second = run_simulation(config)
    assert second.n_computed == 0 and second.n_cached == 2
    for name in names:
        assert (out / name).read_text() == tables[name], name
    # a lost replicate is recomputed alone, with the same seed, hence the same numbers
    next((out / "replicates").rglob("rep_0001.json")).unlink()
    third = run_simulation(config, write=False)
    assert third.n_computed == 1
    assert third.records.drop(columns="seconds").equals(first.records.drop(columns="seconds"))  # timings differ


def test_changed_settings_do_not_reuse_the_cache(tmp_path):
    base = {"n_development": 40, "n_external": 30}
    run_simulation(_config(tmp_path, replicates=2, models=["truth"], base=base), write=False)
    again = run_simulation(_config(tmp_path, replicates=2, models=["truth"], base=base, seed=1), write=False)
    assert again.n_computed == 2


@pytest.mark.slow
def test_workers_give_the_same_results_as_one_process(tmp_path):
    base = {"n_development": 60, "n_external": 40}
    one = run_simulation(_config(tmp_path / "a", replicates=3, models=["clinscore", "truth"], base=base),
                         write=False)
    two = run_simulation(_config(tmp_path / "b", replicates=3, models=["clinscore", "truth"], base=base), workers=2,
                         write=False)
    cols = ["scenario", "replicate", "model", "c_external", "c_true"]
    assert one.records[cols].equals(two.records[cols])


def test_a_failing_model_is_recorded_not_raised():
    from multisurv.simulation.config import SelectorSettings
    from multisurv.simulation.generator import Mechanism

    # 5-fold CV of the penalty with about 3 development events: the selector refuses, the runner records it
    mech = Mechanism(n_development=12, n_external=30, n_ct_features=2, n_wsi_features=2, event_rate=0.2)
    recs = run_replicate(mech, ["clinscore", "truth"], seed=np.random.SeedSequence(0),
                         selector=SelectorSettings(cv=5), n_bootstrap=0, n_truth=0)
    clin = recs[0]
    assert "cannot run cv=5 folds" in clin["error"] and np.isnan(clin["c_external"])
    assert recs[1]["error"] == "" and np.isfinite(recs[1]["c_external"])


def test_intermediate_arm_runs_in_the_simulation_and_sits_at_chance_without_signal(tmp_path):
    pytest.importorskip("torch")
    cfg = _config(tmp_path, replicates=4, models=["late", "intermediate"], base=NO_SIGNAL,
                  fusion={"intermediate": {"epochs": 15, "hidden": 8, "n_threads": 1}})
    result = run_simulation(cfg, write=False)
    assert (result.records["error"] == "").all(), result.records["error"].tolist()
    _check_no_signal(result, ["late", "intermediate"])


def test_a_dask_cluster_gives_the_results_of_one_process(tmp_path):
    distributed = pytest.importorskip("distributed")
    base = {"n_development": 40, "n_external": 30}
    one = run_simulation(_config(tmp_path / "a", replicates=3, models=["clinscore", "truth"], base=base), write=False)
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=2,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        dask = run_simulation(_config(tmp_path / "b", replicates=3, models=["clinscore", "truth"], base=base),
                              client=client, write=False)
    cols = ["scenario", "replicate", "model", "c_external", "c_true"]
    assert dask.n_computed == 3
    assert one.records[cols].equals(dask.records[cols])
    again = run_simulation(_config(tmp_path / "b", replicates=3, models=["clinscore", "truth"], base=base),
                           write=False)
    assert again.n_computed == 0  # the Dask run's cache serves an in-process rerun


@pytest.mark.slow  # 2 scenarios x 10 replicates at 1,000 development patients: about 2 minutes on 2 cores
def test_intermediate_beats_late_under_a_strong_interaction_and_not_under_additive_truth():
    """The ordering issue 17 expects, on experiments/fusion_simulation/interaction.yaml's 1,000-patient scenarios
    (its README has R = 50): interaction 4 -> intermediate above late by > 3 MC SEs; additive -> not above."""
    from pathlib import Path

    from multisurv.simulation.runner import replicate_seed

    config = SimulationConfig.from_yaml(Path(__file__).parents[2] / "experiments" / "fusion_simulation"
                                        / "interaction.yaml")
    scenarios = {s.levels["interaction"]: s for s in config.scenarios if s.levels["n_development"] == 1000}
    differences = {}
    for level, scenario in scenarios.items():
        diffs = []
        for r in range(10):
            recs = run_replicate(scenario.mechanism, ["late", "intermediate"],
                                 seed=replicate_seed(config.seed, scenario.mechanism, r), selector=config.selector,
                                 late_cv=config.late_cv, intermediate=dict(config.intermediate), n_bootstrap=0,
                                 n_truth=0)
            c = {rec["model"]: rec["c_external"] for rec in recs}
            diffs.append(c["intermediate"] - c["late"])
        differences[level] = (np.mean(diffs), np.std(diffs, ddof=1) / np.sqrt(len(diffs)))
    mean, se = differences[4.0]
    assert mean > 3 * se, differences
    mean, se = differences[0.0]
    assert mean < 2 * se, differences
