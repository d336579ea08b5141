"""The study's evaluation figures and tables (report/figures.py) and the self-contained HTML report."""

import re

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from multisurv._validation import make_y  # noqa: E402
from multisurv.evaluation.baseline import BreslowBaseline  # noqa: E402
from multisurv.evaluation.calibration import calibration_at  # noqa: E402
from multisurv.evaluation.cutoffs import RiskCutoff  # noqa: E402
from multisurv.evaluation.td_auc import time_dependent_auc  # noqa: E402
from multisurv.report.figures import write_evaluation_figures  # noqa: E402
from multisurv.report.report import tripod_checklist, write_html_report  # noqa: E402
from multisurv.report.tables import cohort_summary, reverse_km_follow_up  # noqa: E402
from multisurv.study.assessment import assess_study, default_horizon  # noqa: E402

# The risk-group, ROC, nomogram and importance figures are tested once below; the other tests skip them (drawing
# a dozen Kaplan-Meier figures at 300 dpi takes tens of seconds on a shared machine).
FAST = {"cutoff_methods": (), "roc_times": ()}


def _draw(run_dir, pred, *, labels, metrics, **options):
    """The run's two steps: the evaluation stage computes (assess_study), the report draws what it computed."""
    assessment = assess_study(pred, labels=labels, **options)
    return write_evaluation_figures(run_dir, assessment, labels=labels, metrics=metrics)


@pytest.fixture(scope="module")
def study():
    """Predictions of three models on 80 development and 40 external patients with a known signal."""
    rng = np.random.default_rng(1)
    n = 120
    lp = rng.normal(size=n)
    time = rng.exponential(30 * np.exp(-lp)) + 0.5
    censor = rng.uniform(5, 120, n)
    pred = pd.DataFrame({"cohort": ["development"] * 80 + ["external"] * 40, "time": np.minimum(time, censor),
                         "event": time <= censor, "radiomics": lp + rng.normal(0, 1, n), "clinical": np.zeros(n),
                         "late_fusion": lp + rng.normal(0, 0.5, n)}, index=[f"P{i:03d}" for i in range(n)])
    pred.loc["P100", "radiomics"] = np.nan  # an external patient without CT
    metrics = pd.DataFrame({"model": ["radiomics", "late_fusion"] * 2, "cohort": ["development"] * 2 + ["external"] * 2,
                            "subset": "available", "cindex": [0.7, 0.8, 0.65, 0.75], "ci_lower": [0.6, 0.7, 0.5, 0.6],
                            "ci_upper": [0.8, 0.9, 0.8, 0.9]})
    scores = pd.DataFrame({"radscore": pred["radiomics"], "clinscore": lp + rng.normal(0, 2, n)})
    fusion_scores = scores.iloc[:80].join(pred[["time", "event"]])
    return pred, metrics, fusion_scores


def test_figures_and_tables_are_written(study, tmp_path):
    pred, metrics, fusion_scores = study
    out = _draw(tmp_path, pred, development="development",
                                   models=["radiomics", "clinical", "late_fusion"], labels={"late_fusion": "Late"},
                                   metrics=metrics, complete_ids=list(pred.index), fusion_scores=fusion_scores,
                                   **FAST)
    assert out.t0 == default_horizon(pred.loc[pred.cohort == "development", "time"])
    for stem in ("calibration_radiomics", "calibration_late_fusion", "decision_curve_external",
                 "cindex_comparison", "forest_late_fusion"):
        assert [p.rsplit(".", 1)[1] for p in out.figures[stem]] == ["png", "pdf"]
        assert (tmp_path / out.figures[stem][0]).stat().st_size > 5000
    # The decision curve compares models on the same patients: radiomics lacks P100, so it is left out.
    curves = pd.read_csv(tmp_path / out.tables["decision_curve"])
    assert set(curves["model"]) == {"clinical", "Late"}


def test_calibration_table_uses_a_development_baseline(study, tmp_path):
    """External calibration = calibration_at on S(t0) from a Breslow baseline fitted on development only."""
    pred, metrics, _ = study
    out = _draw(tmp_path, pred, development="development", models=["late_fusion"], labels={},
                                   metrics=metrics, complete_ids=list(pred.index), t0=20.0, **FAST)
    table = pd.read_csv(tmp_path / out.tables["calibration"])
    dev, ext = pred[pred.cohort == "development"], pred[pred.cohort == "external"]
    base = BreslowBaseline().fit(make_y(dev.time, dev.event), dev.late_fusion)
    want = calibration_at(make_y(ext.time, ext.event), base.predict_survival(ext.late_fusion, 20.0), 20.0,
                          n_groups=4).table
    got = table[table.cohort == "external"].reset_index(drop=True)
    np.testing.assert_allclose(got["predicted"], want["predicted"], rtol=1e-5)
    np.testing.assert_allclose(got["observed"], want["observed"], rtol=1e-5)
    # Changing external outcomes leaves the development baseline, hence every prediction, unchanged.
    shuffled = pred.copy()
    shuffled.loc[ext.index, "time"] = shuffled.loc[ext.index, "time"].to_numpy()[::-1]
    again = _draw(tmp_path / "b", shuffled, development="development", models=["late_fusion"],
                                     labels={}, metrics=metrics, complete_ids=list(pred.index), t0=20.0, **FAST)
    table_b = pd.read_csv(tmp_path / "b" / again.tables["calibration"])
    np.testing.assert_allclose(table_b.loc[table_b.cohort == "external", "predicted"], want["predicted"], rtol=1e-5)


def test_html_report_embeds_every_figure(study, tmp_path):
    pred, metrics, fusion_scores = study
    out = _draw(tmp_path, pred, development="development", models=["late_fusion"], labels={},
                                   metrics=metrics, complete_ids=list(pred.index), fusion_scores=fusion_scores,
                                   cutoff_methods=("median",), roc_times=(20.0,))
    stems = sorted(out.figures)
    (tmp_path / "report.md").write_text("# Report\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                                        + "\n".join(f"![{s}]({out.figures[s][0]})" for s in stems) + "\n")
    html = write_html_report(tmp_path).read_text()
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) == len(stems)
    assert "<table>" in html and "figures/" not in html  # self-contained: no link to a local file


@pytest.fixture(scope="module")
def fusion_study():
    """Late fusion = 0.8 radscore + 0.5 clinscore exactly, as run_study's predictions and formula table give it."""
    rng = np.random.default_rng(7)
    n = 150
    rad, clin = rng.normal(size=n), rng.normal(size=n)
    lp = 0.8 * rad + 0.5 * clin
    time = rng.exponential(30 * np.exp(-lp)) + 0.5
    censor = rng.uniform(5, 120, n)
    pred = pd.DataFrame({"cohort": ["development"] * 100 + ["external"] * 50, "time": np.minimum(time, censor),
                         "event": time <= censor, "radiomics": rad, "clinical": clin, "late_fusion": lp},
                        index=[f"P{i:03d}" for i in range(n)])
    metrics = pd.DataFrame({"model": ["late_fusion"] * 2, "cohort": ["development", "external"],
                            "subset": "available", "cindex": [0.7, 0.7], "ci_lower": [0.6, 0.6],
                            "ci_upper": [0.8, 0.8]})
    fusion_scores = pd.DataFrame({"radscore": rad, "clinscore": clin}, index=pred.index).iloc[:100].join(
        pred[["time", "event"]])
    formula = pd.DataFrame({"term": ["radscore", "clinscore"], "coef": [0.8, 0.5]})
    labels = {"radiomics": "Radiomics (radscore)", "clinical": "Clinical (clinscore)", "late_fusion": "Late fusion"}
    return pred, metrics, fusion_scores, formula, labels


def _kwargs(fusion_study, **over):
    pred, metrics, fusion_scores, formula, labels = fusion_study
    return {**dict(development="development", models=["late_fusion"], labels=labels, metrics=metrics,
                   complete_ids=list(pred.index), fusion_scores=fusion_scores, fusion_formula=formula,
                   cutoff_methods=(), roc_times=(10.0, 20.0)), **over}


def _poison(pred):
    """External outcomes and scores replaced by nonsense."""
    ext = pred.index[pred.cohort == "external"]
    poisoned = pred.copy()
    poisoned.loc[ext, "time"] = 1.0
    poisoned.loc[ext, ["radiomics", "clinical", "late_fusion"]] *= 100
    return poisoned


def test_roc_nomogram_importance(fusion_study, tmp_path):
    """ROC AUCs equal time_dependent_auc; the nomogram and coefficients are fitted on development only."""
    pred = fusion_study[0]
    out = _draw(tmp_path, pred, **_kwargs(fusion_study))
    for stem in ("td_roc_late_fusion_external", "td_roc_late_fusion_development", "nomogram_late_fusion",
                 "importance_late_fusion_coefficients", "importance_late_fusion_permutation_external"):
        assert [p.rsplit(".", 1)[1] for p in out.figures[stem]] == ["png", "pdf"], stem
    ext = pred[pred.cohort == "external"]
    roc = pd.read_csv(tmp_path / out.tables["td_roc_auc"])
    np.testing.assert_allclose(roc[roc.cohort == "external"]["auc"],
                               time_dependent_auc(make_y(ext.time, ext.event), ext.late_fusion, [10.0, 20.0],
                                                  n_bootstrap=0).auc, rtol=1e-5)  # CSV keeps 6 digits
    nomogram = pd.read_csv(tmp_path / out.tables["nomogram_late_fusion"])
    assert nomogram.loc[nomogram.axis == "radscore", "points"].max() == pytest.approx(100.0)  # 0.8 > 0.5, SDs ~1
    importance = pd.read_csv(tmp_path / out.tables["late_fusion_importance"])
    assert set(importance["kind"]) == {"standardised coefficient (development)", "permutation, external"}
    # The nomogram's baseline is fitted on development: nonsense external rows leave its table unchanged.
    kwargs = {k: v for k, v in _kwargs(fusion_study).items() if k != "metrics"}
    again = assess_study(_poison(pred), **kwargs)  # computing is enough: the report only draws what it is handed
    pd.testing.assert_frame_equal(assess_study(pred, **kwargs).nomogram.table, again.nomogram.table)


@pytest.mark.slow  # a dozen Kaplan-Meier figures with at-risk tables: ~30-60 s on a shared machine
def test_risk_group_figures(fusion_study, tmp_path):
    """Cut-offs in the table equal RiskCutoff fitted on development; poisoning the external cohort moves none."""
    pred = fusion_study[0]
    kwargs = _kwargs(fusion_study, cutoff_methods=("tertiles", "maxstat"), roc_times=())
    out = _draw(tmp_path, pred, **kwargs)
    for stem in ("riskgroups_late_fusion_tertiles_external", "riskgroups_late_fusion_maxstat_development",
                 "maxstat_scan_late_fusion"):
        assert [p.rsplit(".", 1)[1] for p in out.figures[stem]] == ["png", "pdf"], stem
    dev = pred[pred.cohort == "development"]
    cuts = pd.read_csv(tmp_path / out.tables["risk_group_cutoffs"], dtype={"cutoffs": str}).set_index("method")
    maxstat = RiskCutoff(method="maxstat").fit(make_y(dev.time, dev.event), dev.late_fusion)
    assert float(cuts.loc["maxstat", "cutoffs"]) == pytest.approx(maxstat.cutoffs_[0], rel=1e-5)
    assert cuts.loc["maxstat", "corrected_p"] == pytest.approx(maxstat.maxstat_.p_value, rel=1e-5)
    kwargs.pop("metrics")
    again = assess_study(_poison(pred), **kwargs)  # computing is enough: the report only draws what it is handed
    assert [r.row["cutoffs"] for r in again.cutoff_rules] == cuts["cutoffs"].tolist()


def test_reverse_km_follow_up_matches_r():
    """R: survfit(Surv(time, 1 - status) ~ 1, data = gbsg2) printed median 1645, 0.95LCL 1570, 0.95UCL 1717."""
    from pathlib import Path

    d = pd.read_csv(Path(__file__).parents[1] / "reference" / "data" / "gbsg2.csv")
    assert reverse_km_follow_up(d["time"], d["status"]) == (1645.0, 1570.0, 1717.0)
    table = pd.DataFrame({"cohort": "a", "time": d["time"], "event": d["status"].astype(bool),
                          "ct_image": ["x"] * 600 + [None] * 86, "wsi": "y"})
    row = cohort_summary(table).iloc[0]
    assert (row["follow_up_median"], row["missing_ct"], row["missing_wsi"], row["with_all"]) == (1645.0, 86, 0, 600)


def test_tripod_checklist_points_to_sections():
    lines = tripod_checklist(["Cohorts", "Models", "Nomogram (late fusion)", "Risk groups by cut-off rule (Late)"])
    table = "\n".join(lines)
    assert "| 15b | How to use the model (nomogram) | yes | Nomogram (late fusion) |" in table
    assert "| 11 | Risk groups: how they were created | yes | Risk groups by cut-off rule |" in table
    assert "| 10d | Performance measures: calibration | no | not in this report |" in table
