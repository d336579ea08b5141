"""report.html shows user data as text: hostile strings in every manifest-derived field never become markup."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from multisurv.report.report import write_report

HOSTILE = ['<script>alert("id")</script>', '"><img src=x onerror=alert(1)>', "<svg/onload=alert(2)>",
           "[click](javascript:alert(3))", "<a href='javascript:alert(4)'>x</a>", "<iframe src=//evil>",
           "![x](javascript:alert(5))", "<style>body{display:none}</style>", "&lt;script&gt;alert(6)&lt;/script&gt;"]


def _hostile_run(tmp_path, text: str):
    ids = [f"{text}-{i}" for i in range(6)]
    table = pd.DataFrame({"cohort": [f"dev{text}"] * 3 + [f"ext{text}"] * 3, "time": [5.0, 8, 13, 4, 9, 11],
                          "event": [1, 0, 1, 1, 0, 1], "ct_image": [f"/data/{text}.nrrd"] * 6,
                          "wsi": [np.nan, f"/slides/{text}.svs", np.nan, "s.svs", np.nan, "s.svs"]},
                         index=pd.Index(ids, name="patient_id"))
    cohort = SimpleNamespace(table=table, source=f"/manifests/{text}.csv")
    metrics = pd.DataFrame([{"model": f"model{text}", "cohort": c, "n": 3, "events": 2, "cindex": 0.7,
                             "ci_lower": 0.6, "ci_upper": 0.8, "logrank_p": 0.04} for c in (f"dev{text}", "external")])
    failures = pd.DataFrame({"patient_id": [ids[0]], "stage": [f"radiomics{text}"],
                             "message": [f"Mask of patient {ids[0]!r} is empty {text}"]})
    formulas = {f"radiomics{text}": pd.DataFrame({"feature": [f"ct__{text}", "(intercept)"], "coef": [0.5, -1.0]})}
    fusion = pd.DataFrame({"term": [f"radscore{text}"], "coef": [0.9]})
    write_report(tmp_path, cohort=cohort, metrics=metrics, failures=failures, formulas=formulas,
                 fusion_formula=fusion, elapsed=1.0, extra={f"Study{text}": f"name {text}"},
                 notes=[f"warning about {text}"], labels={f"radiomics{text}": f"label{text}"})
    return (tmp_path / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("text", HOSTILE, ids=[f"h{i}" for i in range(len(HOSTILE))])
def test_hostile_strings_in_every_field_are_shown_as_text(tmp_path, text):
    page = _hostile_run(tmp_path, text)
    body = page.split("<body>", 1)[1]
    tags = set(re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", body))
    assert tags <= {"h1", "h2", "h3", "p", "ul", "ol", "li", "strong", "em", "code", "pre", "table", "thead",
                    "tbody", "tr", "th", "td", "a", "img", "br", "hr"}, tags
    for attr in re.findall(r'<[^>]*>', body):  # every tag that exists is ours: no event handler, no script URL
        assert not re.search(r"\son[a-z]+=", attr) and "javascript:" not in attr.lower(), attr
    assert any(word in body for word in ("alert", "evil", "display"))  # the text is still shown, not dropped


def test_every_field_of_the_report_carries_the_text(tmp_path):
    """The hostile marker reaches the page from each field (so the escaping test above covers them all)."""
    page = _hostile_run(tmp_path, "<b>MARK</b>")
    escaped = "&lt;b&gt;MARK&lt;/b&gt;"
    for field in ("Study", "name ", "/manifests/", "dev", "model", "radiomics", "ct__", "radscore", "label",
                  "warning about "):
        assert f"{field}{escaped}" in page or f"{field}" + "&lt;b&gt;MARK" in page, field
    assert "<b>MARK</b>" not in page and page.count("MARK") >= 10
