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
from multisurv.report.figures import default_horizon, write_evaluation_figures  # noqa: E402
from multisurv.report.report import write_html_report  # noqa: E402


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
    out = write_evaluation_figures(tmp_path, pred, development="development",
                                   models=["radiomics", "clinical", "late_fusion"], labels={"late_fusion": "Late"},
                                   metrics=metrics, complete_ids=list(pred.index), fusion_scores=fusion_scores)
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
    out = write_evaluation_figures(tmp_path, pred, development="development", models=["late_fusion"], labels={},
                                   metrics=metrics, complete_ids=list(pred.index), t0=20.0)
    table = pd.read_csv(tmp_path / out.tables["calibration"])
    dev, ext = pred[pred.cohort == "development"], pred[pred.cohort == "external"]
    base = BreslowBaseline().fit(make_y(dev.event, dev.time), dev.late_fusion)
    want = calibration_at(make_y(ext.event, ext.time), base.predict_survival(ext.late_fusion, 20.0), 20.0,
                          n_groups=4).table
    got = table[table.cohort == "external"].reset_index(drop=True)
    np.testing.assert_allclose(got["predicted"], want["predicted"], rtol=1e-5)
    np.testing.assert_allclose(got["observed"], want["observed"], rtol=1e-5)
    # Changing external outcomes leaves the development baseline, hence every prediction, unchanged.
    shuffled = pred.copy()
    shuffled.loc[ext.index, "time"] = shuffled.loc[ext.index, "time"].to_numpy()[::-1]
    again = write_evaluation_figures(tmp_path / "b", shuffled, development="development", models=["late_fusion"],
                                     labels={}, metrics=metrics, complete_ids=list(pred.index), t0=20.0)
    table_b = pd.read_csv(tmp_path / "b" / again.tables["calibration"])
    np.testing.assert_allclose(table_b.loc[table_b.cohort == "external", "predicted"], want["predicted"], rtol=1e-5)


def test_html_report_embeds_every_figure(study, tmp_path):
    pred, metrics, fusion_scores = study
    out = write_evaluation_figures(tmp_path, pred, development="development", models=["late_fusion"], labels={},
                                   metrics=metrics, complete_ids=list(pred.index), fusion_scores=fusion_scores)
    stems = sorted(out.figures)
    (tmp_path / "report.md").write_text("# Report\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                                        + "\n".join(f"![{s}]({out.figures[s][0]})" for s in stems) + "\n")
    html = write_html_report(tmp_path).read_text()
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) == len(stems)
    assert "<table>" in html and "figures/" not in html  # self-contained: no link to a local file
