"""Tests for multisurv.evaluation.logistic_nomogram (R: rms::nomogram of an lrm, make_logistic_reference.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multisurv.evaluation.logistic_nomogram import logistic_nomogram
from multisurv.scores.logistic import LogisticModel

REF = json.loads((Path(__file__).parents[1] / "reference" / "logistic_reference.json").read_text())
NOM = REF["nomogram"]
NAMES = ["age", "tsize", "pnodes", "progrec", "horTh"]


@pytest.fixture(scope="module")
def nomogram():
    coef = dict(zip(NAMES, NOM["coef"][1:]))
    return logistic_nomogram(coef, NOM["coef"][0], {k: NOM["axes"][k]["value"] for k in NAMES},
                             probability_at=NOM["prob"]["value"])


def test_axes_match_rms(nomogram):
    """R: ``nomogram(lrm(y ~ age + tsize + pnodes + progrec + horTh), fun = plogis, fun.at = 0.05 .. 0.7,
    age = c(20, 40, 60, 80), ...)`` (rms 6.5.0). Variable points: closed form, 1e-9 (measured 6e-14). Probability
    axis: rms interpolates fun.at on a grid of the linear predictor, the inversion here is exact: 1e-3 points
    (measured 7e-5)."""
    for name in NAMES:
        np.testing.assert_allclose(nomogram.axes[name]["points"], NOM["axes"][name]["points"], atol=1e-9)
    np.testing.assert_allclose(nomogram.probability_axis["points"], NOM["prob"]["points"], atol=1e-3)
    assert nomogram.points_scale.scale == pytest.approx(NOM["points_per_unit"], rel=1e-9)


def test_points_round_trip_to_the_model_probability(nomogram):
    X = pd.DataFrame(np.asarray(REF["x"]).T, columns=REF["columns"])[NAMES]
    model = LogisticModel().fit(X, REF["y"])
    np.testing.assert_allclose(model.intercept_, NOM["coef"][0], atol=1e-6)  # the same lrm fit (Newton on both)
    prob = nomogram.probability_from_points(nomogram.points(X))
    np.testing.assert_allclose(prob, model.predict_proba(X)[:, 1], atol=1e-6)
    np.testing.assert_allclose(nomogram.points_from_probability(prob), nomogram.points(X), atol=1e-6)
    table = nomogram.to_frame()
    assert set(table["axis"]) == {*NAMES, "probability"}


def test_bad_probabilities():
    with pytest.raises(ValueError, match=r"^'probability_at' must be probabilities strictly between 0 and 1"):
        logistic_nomogram({"a": 1.0}, 0.0, {"a": [0, 1]}, probability_at=[0.5, 1.0])
