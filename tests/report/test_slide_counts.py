"""The report counts the slides per patient of each pathomics modality (several slides listed with ';')."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from multisurv.report.report import write_report


def test_report_counts_slides_per_patient(tmp_path):
    table = pd.DataFrame({"cohort": ["development"] * 3 + ["external"], "time": [5.0, 8, 13, 4],
                          "event": [1, 0, 1, 1], "ct_image": [np.nan] * 4,
                          "wsi": ["/s/a1.svs;/s/a2.svs;/s/a3.svs", "/s/b.svs", np.nan, "/s/d1.svs;/s/d2.svs"]},
                         index=pd.Index(["A", "B", "C", "D"], name="patient_id"))
    metrics = pd.DataFrame([{"model": "pathomics", "cohort": c, "n": 3, "events": 2, "cindex": 0.7, "ci_lower": 0.6,
                             "ci_upper": 0.8, "logrank_p": 0.04} for c in ("development", "external")])
    write_report(tmp_path, cohort=SimpleNamespace(table=table, source=None), metrics=metrics,
                 failures=pd.DataFrame(columns=["patient_id", "stage", "message"]), formulas={},
                 fusion_formula=pd.DataFrame({"term": [], "coef": []}), elapsed=1.0)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert ("- Pathomics (patscore): slides per patient ('wsi'): median 2 (1-3); 2 of 3 patients with more than "
            "one.") in text
