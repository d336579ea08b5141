"""multisurv.evaluation: survival metrics and their intervals, each checked against R (see tests/reference).

Every public function and result type of the submodules is importable from here, loaded lazily (so importing the
package stays light): ``from multisurv.evaluation import concordance, cox_ph, kaplan_meier, uno_concordance``.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "BreslowBaseline": "baseline",
    "METHODS": "bootstrap",
    "BootstrapResult": "bootstrap",
    "bootstrap_ci": "bootstrap",
    "bootstrap_indices": "bootstrap",
    "bootstrap_interval": "bootstrap",
    "indices_to_counts": "bootstrap",
    "BrierResult": "brier",
    "brier_score": "brier",
    "CalibrationResult": "calibration",
    "calibration_at": "calibration",
    "km_at": "calibration",
    "ConcordanceComparisonResult": "comparison",
    "compare_concordance": "comparison",
    "concordance_se": "comparison",
    "concordance_jackknife": "comparison",
    "CIndexResult": "concordance",
    "concordance": "concordance",
    "harrell_counts": "concordance",
    "ChiSquareTest": "cox",
    "CoxResult": "cox",
    "ProportionalHazardsResult": "cox",
    "cox_ph": "cox",
    "group_hazard_ratios": "cox",
    "proportional_hazards_test": "cox",
    "ZPH_TRANSFORMS": "cox",
    "MaxstatResult": "cutoffs",
    "RiskCutoff": "cutoffs",
    "logrank_scores": "cutoffs",
    "maxstat_cutoff": "cutoffs",
    "DecisionCurveResult": "decision_curve",
    "decision_curve": "decision_curve",
    "LogRankResult": "groups",
    "risk_groups": "groups",
    "logrank": "groups",
    "LinearRisk": "importance",
    "cindex_scorer": "importance",
    "permutation_importance_cindex": "importance",
    "shap_importance": "importance",
    "standardised_coefficients": "importance",
    "KaplanMeierResult": "kaplan_meier",
    "kaplan_meier": "kaplan_meier",
    "CONF_TYPES": "kaplan_meier",
    "Nomogram": "nomogram",
    "cox_nomogram": "nomogram",
    "nomogram_values": "nomogram",
    "ValidationResult": "resampling",
    "validate": "resampling",
    "validate_external": "resampling",
    "nested_cv": "resampling",
    "harrell_c": "resampling",
    "COLUMNS": "summary",
    "default_times": "summary",
    "evaluate_predictions": "summary",
    "TimeDependentAUCResult": "td_auc",
    "TimeDependentROC": "td_auc",
    "time_dependent_auc": "td_auc",
    "time_dependent_roc": "td_auc",
    "UnoCResult": "uno",
    "uno_concordance": "uno",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(f"multisurv.evaluation.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'multisurv.evaluation' has no attribute {name!r}")


def __dir__():
    return list(__all__)
