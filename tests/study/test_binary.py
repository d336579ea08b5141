"""Binary endpoints through ``multisurv run CONFIG.yaml``: the endpoint section, the models it builds, a whole
binary study on feature tables (fast), its leakage check, and the same study on the synthetic cohort's CT and
slides (slow)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from multisurv.cli import main
from multisurv.fusion.logistic_early import EarlyFusionLogistic
from multisurv.fusion.logistic_late import LateFusionLogistic
from multisurv.scores.logistic_score import LogisticModalityScore
from multisurv.study.binary import build_binary_models, binary_endpoint
from multisurv.study.config import StudyConfig, StudyConfigError
from multisurv.study.models import build_models

BASE = {"schema": "study_config.v1", "name": "b", "out": "runs/b", "cohort": {"synthetic": {}}}


def _config(**sections) -> StudyConfig:
    return StudyConfig.from_dict({**BASE, **sections})


# ------------------------------------------------------------------------------------------------ config
def test_default_endpoint_is_survival_and_round_trips():
    cfg = _config()
    assert cfg.endpoint.type == "survival"
    assert StudyConfig.from_dict(cfg.to_dict()) == cfg
    assert list(build_models(cfg))[-1] == "late_fusion"
    assert type(build_models(cfg)["late_fusion"]).__name__ != "LateFusionLogistic"


def test_binary_endpoint_round_trips():
    cfg = _config(endpoint={"type": "binary", "horizon": 24, "comparators": ["svm", "random_forest"]})
    assert (cfg.endpoint.horizon, cfg.endpoint.censored_before, cfg.endpoint.comparators) == (
        24.0, "exclude", ("svm", "random_forest"))
    assert StudyConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("endpoint,match", [
    ({"type": "binary"}, "key 'endpoint': must be given exactly one of 'horizon'"),
    ({"type": "binary", "horizon": 24, "column": "response"}, "key 'endpoint': must be given exactly one"),
    ({"type": "binary", "horizon": -3}, r"key 'endpoint.horizon': must be a number in \(0.0, inf\)"),
    ({"type": "binary", "horizon": 24, "censored_before": "ipcw"}, "inverse-probability weighting is not available"),
    ({"type": "binary", "column": "event"}, "key 'endpoint.column': must be a manifest column other than the core"),
    ({"type": "binary", "horizon": 24, "comparators": ["xgboost"]}, "key 'endpoint.comparators'"),
    ({"type": "binary", "horizon": 24, "comparator_features": "some"}, "key 'endpoint.comparator_features'"),
    ({"type": "logistic"}, "key 'endpoint.type': must be one of 'survival', 'binary'"),
    ({"type": "survival", "horizon": 24}, "key 'endpoint.horizon': must be absent .* Add 'type: binary'"),
    ({"type": "binary", "horizon": 24, "n_boot": 5}, "key 'endpoint.n_boot'"),
], ids=["neither", "both", "negative-horizon", "ipcw", "core-column", "unknown-comparator", "features",
        "unknown-type", "survival-horizon", "unknown-key"])
def test_endpoint_problems_are_reported_with_key_and_fix(endpoint, match):
    with pytest.raises(StudyConfigError, match=match):
        _config(endpoint=endpoint)


def test_binary_endpoint_refuses_survival_only_options():
    with pytest.raises(StudyConfigError) as info:
        _config(endpoint={"type": "binary", "horizon": 24}, fusion={"strategies": ["late", "intermediate"]},
                harmonisation={"method": "combat"}, validation={"internal": "cv"})
    text = str(info.value)
    for key in ("fusion.strategies", "harmonisation.method", "validation.internal"):
        assert f"key '{key}'" in text


def test_binary_models_are_logistic_with_the_study_settings():
    cfg = _config(endpoint={"type": "binary", "horizon": 24, "comparators": ["adaboost"]},
                  selection={"cv": 3, "rule": "1se"}, seed=4)
    models = build_binary_models(cfg)
    assert list(models) == ["radiomics", "pathomics", "clinical", "early_fusion", "late_fusion", "ml_adaboost"]
    assert isinstance(models["radiomics"], LogisticModalityScore) and models["radiomics"].prefix == "ct__"
    assert (models["clinical"].cv, models["clinical"].rule, models["clinical"].random_state) == (3, "1se", 4)
    assert isinstance(models["early_fusion"], EarlyFusionLogistic)
    late = models["late_fusion"]
    assert isinstance(late, LateFusionLogistic) and [b[0] for b in late.branches] == ["radscore", "patscore",
                                                                                      "clinscore"]
    assert models["ml_adaboost"].steps[0][0] == "select"  # comparators see the LASSO-selected features


def test_binary_endpoint_counts_patients_censored_before_the_horizon():
    from multisurv.cohort.cohort import Cohort

    table = pd.DataFrame({"patient_id": list("abcdef"), "cohort": ["development"] * 4 + ["external"] * 2,
                          "time": [5.0, 10.0, 30.0, 12.0, 8.0, 40.0], "event": [True, False, True, True, False, False],
                          "ct_image": None, "ct_mask": None, "wsi": None}).set_index("patient_id")
    cfg = _config(endpoint={"type": "binary", "horizon": 24})
    end = binary_endpoint(Cohort(table), cfg.endpoint)
    assert end.outcome.isna().tolist() == [False, True, False, False, True, False]
    assert end.outcome.dropna().tolist() == [1.0, 0.0, 1.0, 0.0]
    rows = end.table.set_index("cohort")
    assert rows.loc["development", "censored_before"] == 1 and rows.loc["external", "censored_before"] == 1
    assert "2 patients censored before 24 months excluded" in end.note
    refuse = _config(endpoint={"type": "binary", "horizon": 24, "censored_before": "refuse"}).endpoint
    with pytest.raises(ValueError, match="2 patient\\(s\\) are censored before the horizon"):
        binary_endpoint(Cohort(table), refuse)


# ------------------------------------------------------------------------------------------------ a fast study
N_DEV, N_EXT = 90, 40
SPEC = """schema: clinical_variables.v1
description: Two clinical variables of a test cohort.
variables:
  - name: age
    type: numeric
    description: Age.
  - name: size_cm
    type: numeric
    description: Tumour size.
"""


def _table_study(folder: Path, *, poison: bool = False, comparators=(), n_bootstrap: int = 2) -> Path:
    """Two feature tables and two clinical variables; the outcome is a 0/1 'response' column. With ``poison``,
    the external patients' features are extreme and their outcomes flipped (nothing fitted may change)."""
    rng = np.random.default_rng(0)
    n = N_DEV + N_EXT
    ids = [f"P{i:03d}" for i in range(n)]
    a, b = rng.normal(size=(n, 6)), rng.normal(size=(n, 5))
    age, size = rng.normal(60, 10, n), rng.gamma(3, 2, n)
    lp = 1.2 * a[:, 0] - 0.8 * b[:, 1] + 0.05 * (age - 60) - 0.3
    response = (rng.uniform(size=n) < 1 / (1 + np.exp(-lp))).astype(int)
    external = np.arange(n) >= N_DEV
    if poison:
        a[external] = 1e6
        b[external] = -1e6
        response[external] = 1 - response[external]
    folder.mkdir(parents=True, exist_ok=True)
    manifest = pd.DataFrame({"patient_id": ids, "cohort": np.where(external, "external", "development"),
                             "time": 10.0, "event": 0,
                             "age": age.round(1), "size_cm": size.round(2), "response": response})
    manifest.to_csv(folder / "manifest.csv", index=False)
    for name, values in (("genes_a", a), ("genes_b", b)):
        frame = pd.DataFrame(values, columns=[f"g{j}" for j in range(values.shape[1])])
        frame.insert(0, "patient_id", ids)
        frame.iloc[:-2 if name == "genes_b" else None].to_csv(folder / f"{name}.csv", index=False)
    (folder / "clinical.yaml").write_text(SPEC)
    config = {"schema": "study_config.v1", "name": "binary tables", "out": str(folder / "run"), "seed": 0,
              "cohort": {"manifest": "manifest.csv", "clinical_spec": "clinical.yaml"},
              "modalities": {"genes_a": {"kind": "table", "path": "genes_a.csv"},
                             "genes_b": {"kind": "table", "path": "genes_b.csv"}, "clinical": {}},
              "selection": {"cv": 3}, "fusion": {"cv": 3},
              "validation": {"n_bootstrap": n_bootstrap, "reclassification": {"cutoffs": [0.2, 0.5]}},
              "endpoint": {"type": "binary", "column": "response", "comparators": list(comparators), "inner_cv": 2}}
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _run(config: Path) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample convergence warnings are expected (and reported)
        return main(["run", str(config), "--no-progress"])


@pytest.fixture(scope="module")
def tables_run(tmp_path_factory):
    """The logistic models only (comparators, tuned by inner CV, take ~20 s more: see the slow tests)."""
    folder = tmp_path_factory.mktemp("binary_tables")
    assert _run(_table_study(folder)) == 0
    return folder / "run"


def _check_outputs(run: Path, models: list[str], comparators: list[str] = (),
                   cohorts: tuple[str, ...] = ("development", "external")) -> None:
    """Metrics, validation, tables and every figure (PNG, PDF, SVG) exist and the report shows each figure."""
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(dict.fromkeys(metrics["model"])) == models
    assert set(metrics["cohort"]) == set(cohorts)
    scored = metrics.dropna(subset=["auc"])
    assert scored["auc"].between(0, 1).all() and (scored["auc_lower"] <= scored["auc"]).all()
    validation = pd.read_csv(run / "tables" / "internal_validation.csv")
    assert set(validation["index"]) >= {"auc", "slope", "intercept", "brier"}
    tables = ["endpoint", "auc_comparison", "calibration_curve_late_fusion", "decision_curve_development", "roc",
              "late_fusion_odds_ratios", "nomogram_late_fusion"]
    tables += [f"shap_{c}" for c in comparators] + (["comparator_tuning"] if comparators else [])
    for table in tables:
        assert (run / "tables" / f"{table}.csv").is_file(), table
    html = (run / "report.html").read_text()
    report = (run / "report.md").read_text()
    stems = [f"{kind}_{c}" for kind in ("roc", "calibration") for c in cohorts]
    for c in cohorts:  # decision curves need both outcomes among the patients every model scores; else a warning
        if not (run / "figures" / f"decision_curve_{c}.png").is_file():
            assert f"decision curves and paired DeLong tests, {c}: " in report, c
        else:
            stems.append(f"decision_curve_{c}")
    assert (run / "figures" / "decision_curve_development.png").is_file()
    stems += ["nomogram_late_fusion", *(f"shap_{c}" for c in comparators)]
    for stem in stems:
        for ext in ("png", "pdf", "svg"):
            assert (run / "figures" / f"{stem}.{ext}").is_file(), f"{stem}.{ext}"
        assert f'alt="{stem}"' in html, stem
    for section in ("## Endpoint", "## Internal validation (bootstrap)", "## Model comparison (paired DeLong)",
                    "## ROC curves", "## Calibration curves", "## Decision curves", "## Nomogram",
                    *(["## Comparators: SHAP"] if comparators else [])):
        assert section in report, section


def test_table_study_writes_every_binary_output(tables_run):
    models = ["genes_a", "genes_b", "clinical", "early_fusion", "late_fusion"]
    _check_outputs(tables_run, models)
    validation = pd.read_csv(tables_run / "tables" / "internal_validation.csv")
    assert set(validation["model"]) == set(models)
    predictions = pd.read_csv(tables_run / "predictions.csv", index_col=0)
    assert predictions["genes_b"].isna().sum() == 2  # the two patients without a row get no genes_b probability
    assert predictions[["late_fusion", "early_fusion"]].notna().all().all()
    report = (tables_run / "report.md").read_text()  # the TRIPOD checklist points at the binary report's sections
    for row in ("| 6a | Outcome: the binary endpoint, its horizon and the patients censored before it | yes | Endpoint |",
                "| 10b | Internal validation, every step refitted in each resample | yes | Internal validation |",
                "| 10d | Added value of a model over the reference (NRI, IDI) | yes | Reclassification |",
                "| 15b | How to use the model (nomogram) | yes | Nomogram |"):
        assert row in report, row
    dev = pd.read_csv(tables_run / "metrics.csv").query("cohort == 'development'").set_index("model")
    assert dev.loc["late_fusion", "auc"] > 0.7 and dev.loc["early_fusion", "auc"] > 0.7  # genes_a carries the signal


@pytest.mark.slow
def test_comparators_are_tuned_validated_and_explained(tmp_path):
    assert _run(_table_study(tmp_path, comparators=("svm", "adaboost"))) == 0
    run = tmp_path / "run"
    comparators = ["ml_svm", "ml_adaboost"]
    _check_outputs(run, ["genes_a", "genes_b", "clinical", "early_fusion", "late_fusion", *comparators], comparators)
    assert set(pd.read_csv(run / "tables" / "internal_validation.csv")["model"]) >= set(comparators)
    shap = pd.read_csv(run / "tables" / "shap_ml_svm.csv")
    assert shap["feature"].str.contains("__").all() and (shap["mean_abs_shap"] >= 0).all()


def test_reclassification_over_the_clinical_model_is_nri_and_idi_of_the_probabilities(tables_run):
    """Default reference: the clinical model; each row is nri / idi on the predicted probabilities of the external
    patients both models score, with the run's resamples and seed (validation.n_bootstrap = 2 here)."""
    from multisurv.evaluation.reclassification import idi, nri

    table = pd.read_csv(tables_run / "tables" / "reclassification.csv")
    assert set(table["reference"]) == {"clinical"} and set(table["cohort"]) == {"external"}
    assert set(table["model"]) == {"genes_a", "genes_b", "early_fusion", "late_fusion"}
    assert sorted(set(table["kind"])) == ["categorical", "continuous"]
    predictions = pd.read_csv(tables_run / "predictions.csv", index_col=0)
    for _, row in table.iterrows():
        part = predictions[(predictions["cohort"] == "external") & predictions[row["model"]].notna()]
        y, old, new = part["outcome"], part["clinical"], part[row["model"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 2 resamples: the interval is clamped to them, with a warning
            want = nri(y, old, new, cutoffs=[0.2, 0.5] if row["kind"] == "categorical" else None, n_bootstrap=2,
                       random_state=0)
            gain = idi(y, old, new, n_bootstrap=2, random_state=0)
        assert (row["n"], row["n_events"]) == (want.n, want.n_events) == (len(part), int(y.sum()))
        np.testing.assert_allclose(row[["nri", "lower", "upper", "nri_events", "nri_non_events", "p_value"]]
                                   .to_numpy(float), [want.nri, want.lower, want.upper, want.nri_events,
                                                      want.nri_non_events, want.p_value], rtol=1e-5)
        np.testing.assert_allclose(row[["idi", "idi_lower", "idi_upper", "idi_p_value"]].to_numpy(float),
                                   [gain.idi, gain.lower, gain.upper, gain.p_value], rtol=1e-5)
    assert table.query("model == 'genes_b'")["n"].eq(N_EXT - 2).all()  # two external patients have no genes_b
    report = (tables_run / "report.md").read_text()
    assert "## Reclassification" in report and "compared with the reference model Clinical" in report
    assert "<h2>Reclassification</h2>" in (tables_run / "report.html").read_text()


def test_the_outcome_column_is_not_a_predictor(tables_run):
    clinical = pd.read_csv(tables_run / "tables" / "clinical_odds_ratios.csv")
    assert not clinical["term"].str.contains("response").any()
    early = pd.read_csv(tables_run / "tables" / "early_fusion_odds_ratios.csv")
    assert not early["term"].str.contains("response").any()


def test_poisoned_external_patients_change_nothing_fitted(tables_run, tmp_path):
    """Extreme external features and flipped external outcomes: every development number stays the same."""
    assert _run(_table_study(tmp_path / "poisoned", poison=True)) == 0
    run = tmp_path / "poisoned" / "run"
    for table in ("late_fusion_odds_ratios", "genes_a_odds_ratios", "early_fusion_odds_ratios", "internal_validation",
                  "nomogram_late_fusion", "calibration_curve_late_fusion"):
        pd.testing.assert_frame_equal(pd.read_csv(run / "tables" / f"{table}.csv"),
                                      pd.read_csv(tables_run / "tables" / f"{table}.csv"), obj=table)
    clean, poisoned = (pd.read_csv(r / "metrics.csv").query("cohort == 'development'") for r in (tables_run, run))
    pd.testing.assert_frame_equal(clean.reset_index(drop=True), poisoned.reset_index(drop=True))


# ------------------------------------------------------------------------------------------------ images (slow)
@pytest.mark.slow
@pytest.mark.wsi
@pytest.mark.radiomics
def test_synthetic_cohort_binary_study(small_synthetic_cohort, tmp_path):
    """CT radiomics, slide pathomics and clinical data of the synthetic cohort, "event by 24 months"."""
    from ..conftest import FAST_PATHOMICS

    root, manifest, _ = small_synthetic_cohort
    config = {"schema": "study_config.v1", "name": "binary synthetic", "out": str(tmp_path / "run"), "seed": 0,
              "feature_cache": str(root / "features"), "cohort": {"manifest": str(manifest)},
              "modalities": {"radiomics": {}, "pathomics": FAST_PATHOMICS, "clinical": {}},
              "selection": {"cv": 3}, "fusion": {"cv": 3}, "validation": {"n_bootstrap": 3},
              "endpoint": {"type": "binary", "horizon": 24, "comparators": ["random_forest", "adaboost"],
                           "inner_cv": 2, "validate_comparators": False}}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert _run(path) == 0
    run = tmp_path / "run"
    comparators = ["ml_random_forest", "ml_adaboost"]
    _check_outputs(run, ["radiomics", "pathomics", "clinical", "early_fusion", "late_fusion", *comparators],
                   comparators)
    endpoint = pd.read_csv(run / "tables" / "endpoint.csv")
    assert endpoint["censored_before"].sum() > 0  # the synthetic cohort has patients censored before 24 months
    assert "censored before 24 months excluded (complete-case)" in (run / "report.md").read_text()


def test_the_primary_model_is_saved_and_fit_and_predict_reproduce_its_probabilities(tables_run, tmp_path, capsys):
    """run saves late fusion (a logistic model) in model/; predict reads the table modalities with the study's
    settings and gives the run's probabilities; 'multisurv fit' on the same config saves the same model."""
    from multisurv.persistence import load_model

    folder = tables_run.parent
    model, manifest = load_model(tables_run / "model")
    assert manifest["extra"]["model"] == "late_fusion" and manifest["extra"]["endpoint"] == "binary"
    assert manifest["extra"]["n_patients"] == N_DEV and 0.5 < manifest["extra"]["apparent_auc"] <= 1
    tables = ["--table", f"genes_a={folder / 'genes_a.csv'}", "--table", f"genes_b={folder / 'genes_b.csv'}"]
    out = tmp_path / "scores.csv"
    assert main(["predict", str(tables_run / "model"), str(folder / "manifest.csv"), *tables, "--out", str(out)]) == 0
    assert f"Scored {N_DEV + N_EXT} patients" in capsys.readouterr().out
    scores = pd.read_csv(out, index_col=0, float_precision="round_trip")
    assert scores.columns[-1] == "probability" and scores.shape[1] == 4  # three modality log-odds, the probability
    predictions = pd.read_csv(tables_run / "predictions.csv", index_col=0, float_precision="round_trip")
    # predictions.csv keeps 8 significant digits (the scores file 17): equal to that rounding
    np.testing.assert_allclose(scores["probability"], predictions.loc[scores.index, "late_fusion"], rtol=1e-7)
    # fit alone: the same development data, seed and model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample convergence warnings, as in _run
        assert main(["fit", str(folder / "study.yaml"), "--out", str(tmp_path / "fit"), "--no-progress"]) == 0
    assert "apparent AUC" in capsys.readouterr().out
    assert load_model(tmp_path / "fit" / "model")[1]["extra"] == manifest["extra"]
    assert main(["predict", str(tmp_path / "fit" / "model"), str(folder / "manifest.csv"), *tables, "--out",
                 str(tmp_path / "refit.csv")]) == 0
    again = pd.read_csv(tmp_path / "refit.csv", index_col=0, float_precision="round_trip")
    np.testing.assert_array_equal(again["probability"].to_numpy(), scores["probability"].to_numpy())
    # a table name the study does not have is refused with the names it has
    capsys.readouterr()
    assert main(["predict", str(tables_run / "model"), str(folder / "manifest.csv"), "--table", "genes=x.csv",
                 "--out", str(tmp_path / "x.csv")]) == 2
    assert "the model's study has no table modality 'genes' (its table modalities: genes_a, genes_b)" in \
        capsys.readouterr().err
