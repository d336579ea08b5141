"""multisurv: multimodal survival modelling for oncology (CT radiomics, H&E pathomics, clinical data).

The public names below load lazily, so ``import multisurv`` stays fast and never imports torch,
openslide or radiomics (those come with the ``wsi`` and ``radiomics`` extras).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "Cohort": "multisurv.cohort.cohort",
    "load_manifest": "multisurv.cohort.manifest",
    "validate_manifest": "multisurv.cohort.manifest",
    "make_synthetic_cohort": "multisurv.cohort.synthetic",
    "make_y": "multisurv._validation",
    "extract_radiomics": "multisurv.features.radiomics",
    "extract_pathomics": "multisurv.features.wsi.pathomics",
    "ClinicalPreprocessor": "multisurv.features.clinical",
    "LassoCoxSelector": "multisurv.selection.lasso_cox",
    "ModalityScore": "multisurv.scores.modality_score",
    "EarlyFusionCox": "multisurv.fusion.early",
    "LateFusionCox": "multisurv.fusion.late",
    "concordance": "multisurv.evaluation.concordance",
    "risk_groups": "multisurv.evaluation.groups",
    "logrank": "multisurv.evaluation.groups",
    "plot_km": "multisurv.plotting.km",
    "save_figure": "multisurv.plotting.export",
    "run_study": "multisurv.study.run",
    "fit_study": "multisurv.study.run",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'multisurv' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
