"""simulation_config.v1: designs, and every problem listed at once with its key path and fix."""

from __future__ import annotations

import pytest

from multisurv.simulation.config import MODELS, SimulationConfig, SimulationConfigError

BASE = {"schema": "simulation_config.v1", "name": "s", "out": "runs/s"}


def test_crossed_design_gives_every_combination():
    cfg = SimulationConfig.from_dict({**BASE, "base": {"n_external": 42},
                                      "factors": {"shift_ct": [0.0, 1.0], "n_external": [42, 200]}})
    assert [s.name for s in cfg.scenarios] == ["shift_ct=0.0, n_external=42", "shift_ct=0.0, n_external=200",
                                               "shift_ct=1.0, n_external=42", "shift_ct=1.0, n_external=200"]
    assert cfg.scenarios[3].mechanism.n_external == 200 and cfg.scenarios[3].mechanism.shift_ct == 1.0
    assert len({s.mechanism.key() for s in cfg.scenarios}) == 4


def test_listed_design_keeps_names_and_overrides():
    cfg = SimulationConfig.from_dict({**BASE, "base": {"n_development": 254}, "scenarios": [
        {"name": "gist"}, {"name": "no_shift", "shift_ct": 0.0, "event_rate": 0.3, "communality_ct": [0.5, 0.9]}]})
    assert [s.name for s in cfg.scenarios] == ["gist", "no_shift"]
    mech = cfg.scenarios[1].mechanism
    assert (mech.n_development, mech.shift_ct, mech.event_rate, mech.communality_ct) == (254, 0.0, 0.3, (0.5, 0.9))


def test_out_is_read_from_the_config_folder(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("schema: simulation_config.v1\nname: s\nout: runs/s\nfactors: {shift_ct: [0.0]}\n")
    assert SimulationConfig.from_yaml(path).out == (tmp_path / "runs" / "s").resolve()


@pytest.mark.parametrize("raw,message", [
    ({**BASE, "replicates": 1}, "key 'replicates': must be a whole number >= 2; got 1."),
    ({**BASE, "factors": {"shfit_ct": [0]}}, "key 'factors.shfit_ct': must be a field of the mechanism; got "
                                            "'shfit_ct'. Did you mean 'shift_ct'?"),
    ({**BASE, "factors": {"missing_ct": [0.1, 2]}}, "key 'factors.missing_ct[1]': must be a number in [0, 0.95]"),
    ({**BASE, "models": ["early", "lasso"]}, "key 'models[1]': must be a known model; got 'lasso'."),
    ({**BASE, "selector": {"alpha": "auto"}}, "key 'selector.alpha': must be 'cv' or a penalty > 0; got 'auto'."),
    ({**BASE, "design": "listed"}, "key 'scenarios': must be a non-empty list of mappings"),
    ({**BASE, "scenarios": [{"name": "a"}, {"name": "a"}]}, "key 'scenarios[1].name': must be a name not used"),
    ({**BASE, "base": {"event_rate": 1.5}}, "key 'base.event_rate': must be null (the image-level censoring) or"),
    ({**BASE, "schema": "study_config.v1"}, "key 'schema': must be exactly 'simulation_config.v1'"),
    ({**BASE, "factors": {"shift_ct": [0]}, "scenarios": [{"name": "a"}]}, "key 'scenarios': must be absent when"),
], ids=["replicates", "unknown-factor", "factor-level", "model", "alpha", "listed-empty", "duplicate-name",
        "event-rate", "schema", "both-designs"])
def test_each_problem_is_named_with_its_key_and_fix(raw, message):
    with pytest.raises(SimulationConfigError) as info:
        SimulationConfig.from_dict(raw)
    assert message in str(info.value)


def test_every_problem_is_listed_at_once():
    raw = {**BASE, "replicates": 0, "n_bootstrap": -1, "models": ["x"], "typo": 1, "base": {"shift_ct": -1}}
    with pytest.raises(SimulationConfigError, match=r"^5 problem\(s\) found") as info:
        SimulationConfig.from_dict(raw)
    keys = ["'typo'", "'replicates'", "'n_bootstrap'", "'models[0]'", "'base.shift_ct'"]
    assert all(k in str(info.value) for k in keys)
    assert isinstance(info.value, ValueError)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SimulationConfig.from_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SimulationConfigError, match="not valid YAML"):
        SimulationConfig.from_yaml(bad)


def test_every_registered_fusion_is_a_model_and_intermediate_takes_its_settings():
    from multisurv.registry import FUSION_STRATEGIES

    cfg = SimulationConfig.from_dict({**BASE, "models": ["late", "intermediate", "truth"],
                                      "fusion": {"intermediate": {"fusion": "kronecker", "epochs": 5,
                                                                  "learning_rate": 1}}})
    assert set(FUSION_STRATEGIES) <= set(MODELS)
    assert cfg.intermediate == {"fusion": "kronecker", "epochs": 5, "learning_rate": 1.0}
    assert cfg.to_dict()["fusion"]["intermediate"] == cfg.intermediate
    with pytest.raises(SimulationConfigError) as info:
        SimulationConfig.from_dict({**BASE, "fusion": {"intermediate": {"epochs": "many", "hiden": 8}}})
    text = str(info.value)
    assert "key 'fusion.intermediate.epochs': must be a value of type int; got 'many'." in text
    assert "fusion.intermediate" in text and "hiden" in text
