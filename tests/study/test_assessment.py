"""assess_study(): the results behind the evaluation figures, fitted on development only (no drawing here)."""

import numpy as np
import pandas as pd
import pytest

from multisurv._validation import make_y
from multisurv.evaluation.baseline import BreslowBaseline
from multisurv.evaluation.cutoffs import RiskCutoff
from multisurv.study.assessment import assess_study
from multisurv.study.evaluate import POOLED_EXTERNAL

METHODS = ("median", "tertiles", "maxstat")


@pytest.fixture(scope="module")
def study():
    """Late fusion = 0.8 radscore + 0.5 clinscore on 100 development patients and two external centres of 40."""
    rng = np.random.default_rng(11)
    n = 180
    rad, clin = rng.normal(size=n), rng.normal(size=n)
    lp = 0.8 * rad + 0.5 * clin
    time = rng.exponential(30 * np.exp(-lp)) + 0.5
    censor = rng.uniform(5, 120, n)
    pred = pd.DataFrame({"cohort": ["development"] * 100 + ["centre_A"] * 40 + ["centre_B"] * 40,
                         "time": np.minimum(time, censor), "event": time <= censor, "radiomics": rad,
                         "clinical": clin, "late_fusion": lp}, index=[f"P{i:03d}" for i in range(n)])
    fusion_scores = pd.DataFrame({"radscore": rad, "clinscore": clin}, index=pred.index).iloc[:100].join(
        pred[["time", "event"]])
    options = dict(development="development", models=["radiomics", "clinical", "late_fusion"],
                   complete_ids=list(pred.index), fusion_scores=fusion_scores,
                   fusion_formula=pd.DataFrame({"term": ["radscore", "clinscore"], "coef": [0.8, 0.5]}),
                   cutoff_methods=METHODS, fixed_cutoff=0.5, roc_times=(10.0, 20.0), labels={"late_fusion": "Late"})
    return pred, options


def _poison(pred):
    """Every external outcome and risk replaced by nonsense."""
    ext = pred.index[pred.cohort != "development"]
    poisoned = pred.copy()
    poisoned.loc[ext, "time"] = 1.0
    poisoned.loc[ext, "event"] = ~poisoned.loc[ext, "event"]
    poisoned.loc[ext, ["radiomics", "clinical", "late_fusion"]] *= 100
    return poisoned


def test_every_result_is_computed(study):
    pred, options = study
    res = assess_study(pred, **options)
    assert res.primary == "late_fusion" and res.roc_times == (10.0, 20.0)
    assert sorted(res.survival.baselines) == ["clinical", "late_fusion", "radiomics"]
    # each centre on its own and both pooled, as in metrics.csv
    assert [c.cohorts for c in res.calibration] == [("development", "centre_A", "centre_B", POOLED_EXTERNAL)] * 3
    assert [d.cohort for d in res.decision_curves] == ["centre_A", "centre_B", POOLED_EXTERNAL]
    assert set(res.tables()["decision_curve"]["model"]) == {"radiomics", "clinical", "Late"}  # display names
    assert [r.method for r in res.cutoff_rules] == [*METHODS, "fixed"]
    assert [g.cohort for g in res.cutoff_rules[0].groups] == ["development", "centre_A", "centre_B", POOLED_EXTERNAL]
    assert [c.cohort for c in res.roc] == ["development", "centre_A", "centre_B", POOLED_EXTERNAL]
    pooled = next(g for g in res.cutoff_rules[0].groups if g.cohort == POOLED_EXTERNAL)
    assert len(pooled.y) == 80  # the 40 + 40 external patients
    assert list(res.hazard_ratios.table["term"]) == ["radscore", "clinscore"]
    assert [p.cohort for p in res.importance.permutation] == ["centre_A", "centre_B", POOLED_EXTERNAL]
    assert res.nomogram.times == tuple(sorted({10.0, 20.0, res.t0}))  # ROC times and t0, inside the follow-up
    assert list(res.tables()) == ["calibration", "decision_curve", "late_fusion_hazard_ratios", "risk_group_cutoffs",
                                  "td_roc_auc", "late_fusion_importance", "nomogram_late_fusion"]
    assert res.skipped == []


def test_baselines_and_cutoffs_are_the_development_fits(study):
    """Each baseline is BreslowBaseline on the development patients; each rule is RiskCutoff fitted on them."""
    pred, options = study
    res = assess_study(pred, **options)
    dev = pred[pred.cohort == "development"]
    y_dev = make_y(dev.time, dev.event)
    base = BreslowBaseline().fit(y_dev, dev.late_fusion)
    np.testing.assert_allclose(res.survival.surv["late_fusion"], base.predict_survival(pred.late_fusion, res.t0),
                               rtol=1e-12)
    for rule in res.cutoff_rules:
        want = RiskCutoff(method=rule.method, value=0.5).fit(y_dev, dev.late_fusion)
        np.testing.assert_array_equal(rule.cutoff.cutoffs_, want.cutoffs_)
        for part in rule.groups:  # applied unchanged on every cohort
            np.testing.assert_array_equal(part.groups, want.transform(part.risk))
    maxstat = next(r for r in res.cutoff_rules if r.method == "maxstat")
    assert maxstat.cutoff.maxstat_ is not None and maxstat.row["corrected_p"] == maxstat.cutoff.maxstat_.p_value


def test_external_patients_change_no_fitted_quantity(study):
    """Poisoning external outcomes and risks moves no baseline, cut-off, hazard ratio, coefficient or nomogram."""
    pred, options = study
    res, bad = assess_study(pred, **options), assess_study(_poison(pred), **options)
    dev = pred.index[pred.cohort == "development"]
    pd.testing.assert_frame_equal(res.survival.surv.loc[dev], bad.survival.surv.loc[dev])
    for name, base in res.survival.baselines.items():
        for t in (5.0, 10.0, 20.0):
            np.testing.assert_array_equal(base.predict_survival([-1.0, 0.0, 1.0], t),
                                          bad.survival.baselines[name].predict_survival([-1.0, 0.0, 1.0], t))
    assert [r.row for r in res.cutoff_rules] == [r.row for r in bad.cutoff_rules]
    pd.testing.assert_frame_equal(res.hazard_ratios.table, bad.hazard_ratios.table)
    pd.testing.assert_frame_equal(res.importance.coefficients, bad.importance.coefficients)
    pd.testing.assert_frame_equal(res.nomogram.table, bad.nomogram.table)
    calibration = res.tables()["calibration"]
    poisoned = bad.tables()["calibration"]
    pd.testing.assert_frame_equal(calibration[calibration.cohort == "development"].reset_index(drop=True),
                                  poisoned[poisoned.cohort == "development"].reset_index(drop=True))


def test_what_cannot_be_computed_is_skipped_with_a_reason(study):
    pred, options = study
    pred = pred.assign(no_events=pred.late_fusion)
    pred.loc[pred.cohort == "development", "event"] = pred.loc[pred.cohort == "development", "time"] < 0
    res = assess_study(pred, **{**options, "models": ["no_events"], "fusion_scores": None, "primary": "no_events",
                                "cutoff_methods": ("maxstat",), "fixed_cutoff": None, "roc_times": ()})
    assert res.survival.baselines == {} and res.calibration == [] and res.cutoff_rules == []
    assert "no_events: too few development patients with events for a baseline hazard." in res.skipped
    assert any(s.startswith("maxstat cut-off of no_events:") for s in res.skipped)


def test_reclassification_is_nri_at_and_idi_at_on_the_development_baselines(study):
    """Each row of the reclassification table is nri_at / idi_at called on the same event probabilities by t0
    (1 - the development baselines' survival), on each external centre and on the pooled externals."""
    from multisurv.evaluation.reclassification import idi_at, nri_at
    from multisurv.study.evaluate import evaluation_groups

    pred, options = study
    res = assess_study(pred, **{**options, "cutoff_methods": (), "fixed_cutoff": None, "roc_times": ()},
                       reference="clinical", nri_cutoffs=(0.2, 0.5), n_bootstrap=40, random_state=3)
    table = res.reclassification.table
    assert res.reclassification.reference == "clinical" and res.reclassification.t0 == res.t0
    assert list(dict.fromkeys(table["cohort"])) == ["centre_A", "centre_B", POOLED_EXTERNAL]
    assert set(table["model"]) == {"radiomics", "late_fusion"} and set(table["reference"]) == {"clinical"}
    assert len(table) == 3 * 2 * 2  # cohorts x models x (continuous, categorical)
    groups = evaluation_groups(pred["cohort"], "development")
    risk = 1.0 - res.survival.surv
    for _, row in table.iterrows():
        part = pred.loc[groups[row["cohort"]]]
        y = make_y(part.time, part.event)
        cutoffs = (0.2, 0.5) if row["kind"] == "categorical" else None
        want = nri_at(y, risk.loc[part.index, "clinical"], risk.loc[part.index, row["model"]], res.t0,
                      cutoffs=cutoffs, n_bootstrap=40, random_state=3)
        gain = idi_at(y, risk.loc[part.index, "clinical"], risk.loc[part.index, row["model"]], res.t0,
                      n_bootstrap=40, random_state=3)
        assert res.reclassification.nri[(row["model"], row["cohort"], row["kind"])] == want
        assert res.reclassification.idi[(row["model"], row["cohort"])] == gain
        assert (row["nri"], row["lower"], row["upper"], row["nri_events"], row["nri_non_events"]) == \
            (want.nri, want.lower, want.upper, want.nri_events, want.nri_non_events)
        assert (row["idi"], row["idi_lower"], row["idi_upper"]) == (gain.idi, gain.lower, gain.upper)
        assert (row["n"], row["n_events"], row["t0"]) == (40 if row["cohort"] != POOLED_EXTERNAL else 80,
                                                          want.n_events, res.t0)
    assert res.tables()["reclassification"] is table
    # no reference: no reclassification
    assert assess_study(pred, **{**options, "cutoff_methods": (), "roc_times": ()}).reclassification is None
