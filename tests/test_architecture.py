"""Architecture rules: data flows one way through the package, and heavy optional imports stay lazy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "multisurv"

# Layers in data-flow order; a module may import from its own layer or layers above (smaller index).
LAYERS = ["exceptions", "_validation", "_optional", "_atomic", "_hashing", "_faults", "registry", "cohort", "features", "selection", "scores",
          "fusion", "evaluation", "plotting", "report", "simulation", "persistence", "study", "cli"]
BASE = {"exceptions", "_validation", "_optional", "_atomic", "_hashing", "_faults"}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "multisurv":
        return -1
    head = parts[1]
    if head.startswith("cli_"):  # command families (multisurv/cli_<family>.py) belong to the cli layer
        head = "cli"
    if head in BASE or head == "__init__":
        return 0
    return LAYERS.index(head) if head in LAYERS else -1


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("multisurv"):
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("multisurv"):
                    yield node.lineno, alias.name


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        yield path, ".".join(rel.parts)


@pytest.mark.parametrize("path,module", list(_modules()), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_imports_flow_downwards(path, module):
    if module in ("multisurv.__init__", "multisurv"):
        return
    own = _layer(module)
    assert own >= 0, f"{module} is not in a known layer; add it to LAYERS in {__file__}."
    bad = [(line, imp) for line, imp in _imports(path) if imp != "multisurv" and _layer(imp) > own]
    assert not bad, f"{module} imports from a later stage: {bad}"


def test_import_multisurv_stays_light():
    code = ("import sys, multisurv, multisurv.cohort.cohort, multisurv.cli; "
            "print(sorted(m for m in ('torch', 'openslide', 'radiomics', 'SimpleITK') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"importing multisurv pulled in heavy optional modules: {out}"


def test_public_names_resolve():
    import multisurv

    missing = [name for name in multisurv.__all__ if name != "__version__" and not hasattr(multisurv, name)]
    assert not missing, f"public names that do not resolve: {missing}"


def test_every_subpackage_is_packaged():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, f"subpackages missing from [tool.setuptools] packages in pyproject.toml: {found - listed}"


def test_evaluation_exports_its_public_functions():
    import multisurv.evaluation as evaluation

    assert {"concordance", "cox_ph", "kaplan_meier", "uno_concordance", "validate"} <= set(evaluation.__all__)
    missing = [name for name in evaluation.__all__ if not hasattr(evaluation, name)]
    assert not missing, f"multisurv.evaluation names that do not resolve: {missing}"


# Evaluation computes, the report draws (issue 15, item 4): every baseline, cut-off, Cox model and importance is
# fitted in multisurv/study/ (evaluate.py, assessment.py) and handed to multisurv/report/ as a result object.
REPORT_MODULES = sorted((PACKAGE / "report").glob("*.py"))
FITTING_CALLS = {"fit", "fit_transform", "fit_predict", "partial_fit"}
FITTING_LIBRARIES = ("lifelines", "sklearn", "sksurv", "statsmodels", "scipy.optimize")
# Functions that compute a result the report used to compute while drawing.
COMPUTING_NAMES = {"BreslowBaseline", "RiskCutoff", "CoxPHFitter", "LinearRisk", "permutation_importance_cindex",
                   "standardised_coefficients", "calibration_at", "decision_curve", "time_dependent_roc",
                   "time_dependent_auc", "cox_nomogram", "nomogram_values", "maxstat_cutoff", "logrank",
                   "concordance", "compare_concordance", "cox_ph", "nri", "idi", "nri_at", "idi_at",
                   "reclassify_models"}


def _report_violations(source: str) -> list[str]:
    """Fits and fitting imports in a report module's source: ``.fit(...)`` calls, estimator libraries, and the
    evaluation functions whose results the evaluation stage hands over."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FITTING_CALLS:
            found.append(f"line {node.lineno}: calls .{node.func.attr}()")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(FITTING_LIBRARIES):
                found.append(f"line {node.lineno}: imports from {node.module}")
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if a.name in COMPUTING_NAMES]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names
                      if a.name.startswith(FITTING_LIBRARIES)]
    return found


@pytest.mark.parametrize("path", REPORT_MODULES, ids=lambda p: p.name)
def test_report_fits_nothing(path):
    bad = _report_violations(path.read_text(encoding="utf-8"))
    assert not bad, (f"multisurv/report/{path.name} fits or computes a result while drawing: {bad}. Compute it in "
                     "multisurv/study/assessment.py (or evaluate.py) and hand the result to the report.")


@pytest.mark.parametrize("source,expected", [
    ("from multisurv.evaluation.baseline import BreslowBaseline\n", "imports BreslowBaseline"),
    ("def f(y, r):\n    from multisurv.evaluation.cutoffs import RiskCutoff\n    return RiskCutoff().fit(y, r)\n",
     "calls .fit()"),
    ("from lifelines import CoxPHFitter\n", "imports from lifelines"),
    ("import sklearn.inspection\n", "imports sklearn.inspection"),
    ("from multisurv.evaluation.importance import permutation_importance_cindex\n",
     "imports permutation_importance_cindex"),
], ids=["baseline", "cutoff-fit", "lifelines", "sklearn", "importance"])
def test_report_rule_catches_fitting(source, expected):
    """The rule above is not vacuous: each way the report once fitted something is caught."""
    assert any(expected in v for v in _report_violations(source))
