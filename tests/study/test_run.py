"""End-to-end: the whole study on a tiny synthetic cohort, through the same code path as `multisurv demo`."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from multisurv.cli import main
from multisurv.cohort.manifest import load_manifest
from multisurv.cohort.synthetic import make_synthetic_cohort
from multisurv.study.run import MODEL_LABELS, run_study

from ..conftest import FAST_PATHOMICS

pytestmark = [pytest.mark.wsi, pytest.mark.radiomics]


@pytest.fixture(scope="module")
def tiny(small_synthetic_cohort):
    root, manifest, truth = small_synthetic_cohort
    cohort = load_manifest(manifest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random-init encoder and small-sample convergence warnings are expected
        result = run_study(cohort, root / "run", feature_dir=root / "features", n_workers=2, cv=3,
                           n_bootstrap=100, random_state=0, truth=truth, progress=False,
                           pathomics_options=FAST_PATHOMICS)
    return root, cohort, truth, result


def test_outputs_written(tiny):
    root, cohort, _, result = tiny
    run = root / "run"
    for name in ("metrics.csv", "predictions.csv", "failures.csv", "report.md", "versions.json",
                 "tables/summary.csv", "tables/late_fusion_formula.csv"):
        assert (run / name).is_file(), name
    metrics = pd.read_csv(run / "metrics.csv")
    assert set(metrics["subset"]) == {"available", "complete"}
    assert set(metrics["model"]) == set(MODEL_LABELS) | {"true_lp"}
    assert set(metrics["cohort"]) == {"development", "external"}
    evaluated = metrics.dropna(subset=["cindex"])
    assert ((evaluated["cindex"] >= 0) & (evaluated["cindex"] <= 1)).all()
    assert (evaluated["ci_lower"] <= evaluated["cindex"]).all() and (evaluated["cindex"] <= evaluated["ci_upper"]).all()
    for cohort_label in ("development", "external"):
        for ext in ("png", "pdf"):
            assert (run / "figures" / f"km_late_fusion_{cohort_label}.{ext}").is_file()
    report = (run / "report.md").read_text()
    assert "Late fusion" in report and "True linear predictor" in report


def test_single_modality_models_score_only_patients_with_that_modality(tiny):
    _, cohort, _, result = tiny
    p = result.predictions
    assert p.loc[~cohort.has_ct.to_numpy(), "radiomics"].isna().all()
    assert p.loc[~cohort.has_wsi.to_numpy(), "pathomics"].isna().all()
    assert p[["late_fusion", "early_fusion", "clinical"]].notna().all().all()
    metrics = result.metrics[result.metrics["subset"] == "available"].set_index(["model", "cohort"])
    dev = cohort.split()[0]
    assert metrics.loc[("radiomics", "development"), "n"] == int(dev.has_ct.sum())


def test_cutoff_is_the_development_median(tiny):
    _, cohort, _, result = tiny
    dev, ext = cohort.split()
    m = result.metrics[result.metrics["subset"] == "available"].set_index(["model", "cohort"])
    for model in MODEL_LABELS:
        dev_median = float(np.nanmedian(result.predictions.loc[dev.ids, model]))
        assert m.loc[(model, "external"), "cutoff"] == pytest.approx(dev_median)
        assert m.loc[(model, "development"), "cutoff"] == pytest.approx(dev_median)


def test_complete_case_rows_compare_models_on_the_same_patients(tiny):
    _, cohort, _, result = tiny
    complete = result.metrics[result.metrics["subset"] == "complete"]
    for label, part in complete.groupby("cohort"):
        assert part["n"].nunique() == 1, f"complete-case rows of {label} differ in size: {part['n'].tolist()}"
        ids = cohort.table.index[(cohort.table["cohort"] == label) & cohort.has_ct & cohort.has_wsi]
        assert part["n"].iloc[0] == len(ids)
    cut = result.metrics.set_index(["model", "cohort", "subset"])["cutoff"]
    for model in MODEL_LABELS:
        assert cut[(model, "external", "complete")] == cut[(model, "external", "available")]


@pytest.mark.slow  # a second whole study (~1 min on 2 cores); the default run fits one study per fixture
def test_external_cohort_never_influences_fitting(tiny):
    """Poison every external patient's clinical values and outcome: development predictions must not move."""
    root, cohort, truth, result = tiny
    table = cohort.table.copy()
    ext = table["cohort"] != "development"
    table.loc[ext, "age"] = 119.0
    table.loc[ext, "time"] = table.loc[ext, "time"] * 100
    table.loc[ext, "event"] = ~table.loc[ext, "event"].astype(bool)
    poisoned = type(cohort)(table, cohort.clinical_columns, cohort.clinical_spec, cohort.source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = run_study(poisoned, root / "run_poisoned", feature_dir=root / "features", n_workers=1, cv=3,
                          n_bootstrap=20, random_state=0, progress=False, pathomics_options=FAST_PATHOMICS)
    dev_ids = cohort.split()[0].ids
    pd.testing.assert_frame_equal(result.predictions.loc[dev_ids, list(MODEL_LABELS)],
                                  again.predictions.loc[dev_ids, list(MODEL_LABELS)])


def test_cli_validate_reports_a_bad_manifest(tiny, tmp_path, capsys):
    root = tiny[0]
    frame = pd.read_csv(root / "cohort" / "manifest.csv", dtype=str, keep_default_na=False)
    frame.loc[0, "time"] = "-3"
    frame.loc[1, "event"] = "2"
    for col in ("ct_image", "ct_mask", "wsi"):
        frame[col] = [str((root / "cohort" / v).resolve()) if v else "" for v in frame[col]]
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "'time'" in out and "'event'" in out and frame.loc[0, "patient_id"] in out
    assert main(["validate", str(root / "cohort" / "manifest.csv")]) == 0


def test_report_counts_selected_features_without_the_centring_constant(tiny):
    root, _, _, _ = tiny
    report = (root / "run" / "report.md").read_text()
    for name in ("radiomics", "pathomics", "clinical"):
        formula = pd.read_csv(root / "run" / "tables" / f"{name}_formula.csv")
        n_features = int((formula["feature"] != "(intercept)").sum())
        assert (formula["feature"] == "(intercept)").sum() == 1
        assert f"| {name} | {n_features} |" in report.replace("  ", " ")


def test_reclassification_over_the_clinical_model_is_tabled_and_reported(tiny):
    """Default reference: the clinical model. Each table row is nri_at / idi_at on the event probabilities by the
    figures' t0 from Breslow baselines fitted on development, with the run's resamples and seed."""
    from multisurv._validation import make_y
    from multisurv.evaluation.baseline import BreslowBaseline
    from multisurv.evaluation.reclassification import idi_at, nri_at
    from multisurv.study.assessment import default_horizon

    root, cohort, _, result = tiny
    table = pd.read_csv(root / "run" / "tables" / "reclassification.csv", keep_default_na=False, na_values=[""])
    assert result.reclassification.reference == "clinical" and set(table["reference"]) == {"clinical"}
    assert set(table["model"]) <= {"radiomics", "pathomics", "early_fusion", "late_fusion"}
    assert "late_fusion" in set(table["model"]) and set(table["cohort"]) == {"external"}
    assert set(table["kind"]) == {"continuous"}  # no cut-offs configured: the continuous NRI(>0) only
    p = result.predictions
    dev = p[p["cohort"] == "development"]
    t0 = default_horizon(dev["time"])
    assert (table["t0"] == t0).all()

    def risk(model, part):
        scored = dev[dev[model].notna()]
        base = BreslowBaseline().fit(make_y(scored["time"], scored["event"]), scored[model])
        return 1.0 - base.predict_survival(part[model], t0)

    for _, row in table.iterrows():
        part = p[(p["cohort"] == "external") & p[row["model"]].notna()]
        y = make_y(part["time"].to_numpy(float), part["event"].to_numpy(bool))
        old, new = risk("clinical", part), risk(row["model"], part)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 14 external patients: some resamples have no event by t0 (as in the run)
            want = nri_at(y, old, new, t0, n_bootstrap=100, random_state=0)
            gain = idi_at(y, old, new, t0, n_bootstrap=100, random_state=0)
        assert (row["n"], row["n_events"]) == (want.n, want.n_events)
        np.testing.assert_allclose(row[["nri", "lower", "upper", "nri_events", "nri_non_events"]].to_numpy(float),
                                   [want.nri, want.lower, want.upper, want.nri_events, want.nri_non_events],
                                   rtol=1e-5)
        np.testing.assert_allclose(row[["idi", "idi_lower", "idi_upper"]].to_numpy(float),
                                   [gain.idi, gain.lower, gain.upper], rtol=1e-5, atol=1e-9)
    report = (root / "run" / "report.md").read_text()
    assert "## Reclassification" in report and "compared with the reference model Clinical" in report
    assert "`tables/reclassification.csv`" in report
    assert "<h2>Reclassification</h2>" in (root / "run" / "report.html").read_text()


@pytest.mark.slow  # a second whole study (~1 min on 2 cores); the default run fits one study per fixture
def test_config_compares_fusion_strategies_validates_internally_and_sets_figure_options(tiny, tmp_path, capsys):
    import yaml

    root = tiny[0]
    out = tmp_path / "run"
    out.mkdir()
    (out / "features").symlink_to(root / "features", target_is_directory=True)  # reuse the fixture's features
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump({
        "schema": "study_config.v1", "name": "options", "out": "run",
        "cohort": {"manifest": str(root / "cohort" / "manifest.csv")}, "radiomics": {"workers": 1},
        "pathomics": FAST_PATHOMICS,
        "selection": {"cv": 3}, "fusion": {"strategies": ["early", "late", "late_insample", "late_pattern"], "cv": 3},
        "validation": {"n_bootstrap": 20, "internal": "cv", "n_splits": 3},
        "figures": {"primary": "early_fusion", "roc_times": [12, 24], "cutoff_methods": ["median", "fixed"],
                    "fixed_cutoff": 0.0}}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["run", str(config), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Internal validation (development cohort)" in printed and "Late fusion (in-sample scores)" in printed
    models = ["radiomics", "pathomics", "clinical", "early_fusion", "late_fusion", "late_fusion_insample",
              "late_fusion_pattern"]
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["model"]) == set(models)
    predictions = pd.read_csv(out / "predictions.csv", index_col=0)
    assert not np.allclose(predictions["late_fusion"], predictions["late_fusion_insample"])  # different fits
    # late fusion itself is the default model, fitted with the same settings: the same predictions as the fixture
    np.testing.assert_allclose(predictions["late_fusion"].to_numpy(),
                               tiny[3].predictions["late_fusion"].to_numpy(), rtol=1e-7)  # CSV: 8 digits
    internal = pd.read_csv(out / "tables" / "internal_validation.csv")
    n_dev = int((tiny[1].table["cohort"] == "development").sum())
    assert list(internal["model"]) == models
    assert (internal["n"] == n_dev).all() and (internal["n_resamples"] == 3).all()
    assert internal["corrected"].between(0, 1).all()
    cutoffs = pd.read_csv(out / "tables" / "risk_group_cutoffs.csv")
    assert list(cutoffs["model"].unique()) == ["early_fusion"] and list(cutoffs["method"]) == ["median", "fixed"]
    assert float(cutoffs.set_index("method").loc["fixed", "cutoffs"]) == 0.0
    assert (out / "figures" / "riskgroups_early_fusion_median_development.png").is_file()
    assert not list((out / "figures").glob("riskgroups_*_tertiles_*"))
    roc = pd.read_csv(out / "tables" / "td_roc_auc.csv")
    assert set(roc["model"]) == {"early_fusion"} and set(roc["t"]) <= {12.0, 24.0} and len(roc)
    report = (out / "report.md").read_text()
    assert "## Internal validation" in report and "| 10b | Internal validation" in report
    for name in ("late_fusion_insample", "late_fusion_pattern"):
        assert (out / "tables" / f"{name}_formula.csv").is_file()


@pytest.mark.slow  # a second whole study (~1 min on 2 cores); the default run fits one study per fixture
def test_combat_harmonisation_runs_in_front_of_every_model(tiny, tmp_path):
    root, cohort, truth, result = tiny
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = run_study(cohort, tmp_path / "run", feature_dir=root / "features", n_workers=1, cv=3, n_bootstrap=20,
                          random_state=0, progress=False, harmonisation={"empirical_bayes": True},
                          pathomics_options=FAST_PATHOMICS)
    assert set(again.metrics["model"]) == set(MODEL_LABELS)
    ext = cohort.table.index[cohort.table["cohort"] == "external"]
    scored = again.predictions.loc[ext, "radiomics"].notna()
    assert scored.sum() >= 2
    # the external centre's imaging features are moved onto the development centre's, so its scores change
    assert not np.allclose(again.predictions.loc[ext[scored], "radiomics"],
                           result.predictions.loc[ext[scored], "radiomics"])
    report = (tmp_path / "run" / "report.md").read_text()
    assert "**Harmonisation**: ComBat on the radiomics and pathomics features" in report
    for name in ("radiomics", "pathomics", "clinical", "late_fusion"):
        assert (tmp_path / "run" / "tables" / f"{name}_formula.csv").is_file()
