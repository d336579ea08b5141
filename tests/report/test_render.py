"""report.html renders in headless Chromium: every embedded image decodes and the page is not blank.

Needs Debian's ``chromium``; skipped without it. Runs experiments/check_report_render.py on a small report.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from multisurv.report.figures import write_evaluation_figures  # noqa: E402
from multisurv.report.report import write_html_report  # noqa: E402
from multisurv.study.assessment import assess_study  # noqa: E402

SCRIPT = Path(__file__).parents[2] / "experiments" / "check_report_render.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("check_report_render", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # starts Chromium twice (~10-30 s)
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium package")
def test_report_html_renders_in_chromium(tmp_path):
    rng = np.random.default_rng(2)
    n = 120
    lp = rng.normal(size=n)
    time = rng.exponential(30 * np.exp(-lp)) + 0.5
    censor = rng.uniform(5, 120, n)
    pred = pd.DataFrame({"cohort": ["development"] * 80 + ["external"] * 40, "time": np.minimum(time, censor),
                         "event": time <= censor, "late_fusion": lp + rng.normal(0, 0.5, n)},
                        index=[f"P{i:03d}" for i in range(n)])
    metrics = pd.DataFrame({"model": ["late_fusion"] * 2, "cohort": ["development", "external"],
                            "subset": "available", "cindex": [0.7, 0.7], "ci_lower": [0.6, 0.6], "ci_upper": [0.8, 0.8]})
    assessment = assess_study(pred, development="development", models=["late_fusion"],
                              complete_ids=list(pred.index), cutoff_methods=("median",), roc_times=(10.0, 20.0))
    out = write_evaluation_figures(tmp_path, assessment, labels={}, metrics=metrics)
    (tmp_path / "report.md").write_text("# Report\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                                        + "\n".join(f"![{s}]({p[0]})" for s, p in out.figures.items()) + "\n")
    write_html_report(tmp_path)
    summary = _load_script().check_report_render(tmp_path, tmp_path / "shot", height=3000)
    assert summary["img_tags"] == summary["images_in_dom"] == len(out.figures) >= 5
    assert summary["broken"] == []
    assert summary["ok"] and summary["non_white_fraction"] > 0.01

    # A corrupted image is caught.
    html = (tmp_path / "report.html").read_text()
    (tmp_path / "report.html").write_text(html.replace("base64,iVBOR", "base64,AAAA", 1))
    bad = _load_script().check_report_render(tmp_path, tmp_path / "shot2", height=1000)
    assert len(bad["broken"]) == 1 and not bad["ok"]
