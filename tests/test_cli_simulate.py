"""``multisurv simulate``: runs a config end to end, resumes from the cache, and lists config problems."""

from __future__ import annotations

from multisurv.cli import main

CONFIG = """schema: simulation_config.v1
name: cli
out: runs/cli
seed: 3
replicates: 2
n_bootstrap: 10
n_truth: 500
models: [clinscore, late, truth]
selector: {alpha: 0.05, n_alphas: 4}
fusion: {late_cv: 2}
base: {n_development: 50, n_external: 30, n_ct_features: 3, n_wsi_features: 3}
"""


def test_simulate_runs_and_resumes(tmp_path, capsys):
    path = tmp_path / "sim.yaml"
    path.write_text(CONFIG)
    out = tmp_path / "elsewhere"
    assert main(["simulate", str(path), "--out", str(out), "--workers", "1"]) == 0
    first = capsys.readouterr().out
    assert "| Scenario | Late fusion: mean C | P(late > clinscore) |" in first
    assert "2 replicate(s) computed, 0 read from the cache" in first
    assert (out / "report.md").is_file() and (out / "performance.csv").is_file()
    assert main(["simulate", str(path), "--out", str(out)]) == 0
    assert "0 replicate(s) computed, 2 read from the cache" in capsys.readouterr().out


def test_simulate_lists_every_config_problem(tmp_path, capsys):
    path = tmp_path / "sim.yaml"
    path.write_text(CONFIG.replace("replicates: 2", "replicates: 1").replace("clinscore", "clinscor"))
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "SimulationConfigError: 2 problem(s) found" in err
    assert "key 'replicates'" in err and "key 'models[0]': must be a known model; got 'clinscor'. Did you mean " \
                                        "'clinscore'?" in err
