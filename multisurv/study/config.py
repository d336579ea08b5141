"""StudyConfig: one YAML file that describes a whole study for ``multisurv run CONFIG.yaml``.

The format is ``study_config.v1`` (``data_schemas/study_config.v1.yaml`` is the commented reference). Loading
checks the whole file and raises one :class:`StudyConfigError` that lists **every** problem, each with its key
path and the fix. Relative paths are read from the folder that holds the config file.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

from multisurv.exceptions import MultisurvError
from multisurv.registry import (BUILTIN_MODALITIES, DEFAULT_MODALITIES, FUSION_STRATEGIES as _FUSIONS,
                                MODALITY_KINDS, MODEL_OPTIONS, PATHOMICS_POOLINGS, SCORE_MODELS, SELECTORS, TRUE_LP,
                                Modality, load_object, make_modality)

__all__ = ["StudyConfig", "CohortConfig", "SyntheticCohortConfig", "RadiomicsConfig", "PathomicsConfig",
           "SelectionConfig", "FusionConfig", "ValidationConfig", "FiguresConfig", "HarmonisationConfig",
           "StudyConfigError", "SCHEMA", "EndpointConfig", "ENDPOINT_TYPES",
           "FUSION_STRATEGIES", "INTERNAL_METHODS", "model_names"]

SCHEMA = "study_config.v1"

#: Fusion strategies a study can compare, and the model name each gets in metrics.csv, figures and the report
#: (from the registry, :data:`multisurv.registry.FUSION_STRATEGIES`).
FUSION_STRATEGIES = {name: s.model for name, s in _FUSIONS.items()}
#: Internal validation on the development cohort (``validation.internal``); "none" skips it.
INTERNAL_METHODS = ("none", "bootstrap", "cv", "repeated_cv")
_CUTOFF_METHODS = ("median", "tertiles", "maxstat", "fixed")


def model_names(strategies, modalities=DEFAULT_MODALITIES) -> tuple[str, ...]:
    """Names of the models a study fits: one score per modality, then one per fusion strategy.

    Parameters
    ----------
    strategies : sequence of str
        Fusion strategies, keys of :data:`FUSION_STRATEGIES` (``"early"``, ``"late"``, ...).
    modalities : sequence of str or Modality, default=DEFAULT_MODALITIES
        The study's modalities (names or :class:`~multisurv.registry.Modality` objects), in order.

    Returns
    -------
    tuple of str
        The modality names, then the model name of each strategy (e.g. ``"late_fusion"``).

    Raises
    ------
    KeyError
        When a strategy is not in :data:`FUSION_STRATEGIES`.

    Examples
    --------
    >>> model_names(["early", "late"])
    ('radiomics', 'pathomics', 'clinical', 'early_fusion', 'late_fusion')
    """
    names = [m if isinstance(m, str) else m.name for m in modalities]
    return (*names, *(FUSION_STRATEGIES[s] for s in strategies))


class StudyConfigError(MultisurvError, ValueError):
    """A study config does not satisfy ``study_config.v1``; ``.problems`` lists every problem.

    Parameters
    ----------
    problems : iterable of str
        Every problem found, each with its key path and the fix; kept as the list ``.problems``.
    source : str, optional
        The config file (kept as ``.source``), named in the message.

    Examples
    --------
    >>> try:
    ...     StudyConfig.from_dict({"schema": "study_config.v1", "name": "demo", "out": "runs/demo",
    ...                            "cohort": {"synthetic": {}}, "seed": -1})
    ... except StudyConfigError as exc:
    ...     print(exc.problems)
    ["key 'seed': must be a whole number >= 0; got -1. Write a whole number such as 0."]
    """

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        head = f"{len(self.problems)} problem(s) found{where} (format {SCHEMA}, see data_schemas/study_config.v1.yaml):"
        super().__init__("\n".join([head, *("  - " + p for p in self.problems)]))


@dataclass(frozen=True)
class SyntheticCohortConfig:
    """Write the synthetic GIST-like cohort first (``make_synthetic_cohort``) and study it.

    ``n_ct`` / ``n_wsi``: if set, exactly this many development patients keep their CT / slide (chosen at
    random with ``seed`` among those that have one); the others' paths are cleared in the manifest.
    ``n_null_clinical``: that many extra clinical variables with no effect on the outcome are added to the
    manifest and its clinical spec (``multisurv.cohort.synthetic_clinical``), e.g. 23 for ~30 in all.

    Parameters
    ----------
    n_development : int, default=200
        Development patients (at least 2).
    n_external : int, default=100
        External-validation patients.
    seed : int, default=0
        Seed of the synthetic cohort, and of the choice of who keeps a CT or slide.
    n_ct, n_wsi : int, optional
        Development patients who keep their CT (slide); None keeps every one. At most ``n_development``.
    n_null_clinical : int, default=0
        Extra clinical variables with no effect on the outcome.
    second_reader : bool, default=False
        Also write a second reader's tumour mask (``ct_mask_reader2``) for reproducibility studies.

    Examples
    --------
    >>> SyntheticCohortConfig(n_development=40, n_external=20, n_ct=30)
    SyntheticCohortConfig(n_development=40, n_external=20, seed=0, n_ct=30, n_wsi=None, n_null_clinical=0, \
second_reader=False)
    """

    n_development: int = 200
    n_external: int = 100
    seed: int = 0
    n_ct: int | None = None
    n_wsi: int | None = None
    n_null_clinical: int = 0
    second_reader: bool = False


@dataclass(frozen=True)
class CohortConfig:
    """Where the study's patients come from (``cohort`` section): a manifest, or a synthetic cohort.

    Parameters
    ----------
    manifest : Path, optional
        The cohort manifest CSV (resolved against the config's folder); required unless ``synthetic`` is given,
        and absent when it is.
    clinical_spec : Path, optional
        A clinical spec YAML (``clinical_variables.v1``); None uses the shipped GIST spec.
    development : str, default="development"
        The manifest ``cohort`` label whose patients every model is fitted on; every other label is external.
    synthetic : SyntheticCohortConfig, optional
        Write and study the synthetic cohort instead of reading a manifest.

    Examples
    --------
    >>> CohortConfig(synthetic=SyntheticCohortConfig(n_development=40)).development
    'development'
    """

    manifest: Path | None = None
    clinical_spec: Path | None = None
    development: str = "development"
    synthetic: SyntheticCohortConfig | None = None


@dataclass(frozen=True)
class RadiomicsConfig:
    """Defaults of every radiomics modality (``radiomics`` section); a modality's own options win.

    Parameters
    ----------
    params : str, default="radiomics_ct"
        A shipped PyRadiomics params name (:func:`multisurv.features.radiomics.shipped_params`) or the path of a
        params YAML (resolved against the config's folder).
    workers : int, default=2
        Processes for radiomics extraction (at least 1).

    Examples
    --------
    >>> RadiomicsConfig(workers=4)
    RadiomicsConfig(params='radiomics_ct', workers=4)
    """

    params: str = "radiomics_ct"  # a shipped params name or a path (resolved against the config's folder)
    workers: int = 2


@dataclass(frozen=True)
class PathomicsConfig:
    """Defaults of every pathomics modality (``pathomics`` section); a modality's own options win.

    Parameters
    ----------
    encoder : str, default="resnet50"
        A registered tile encoder (:func:`multisurv.features.wsi.encoders.available_encoders`).
    weights : Path, optional
        Local encoder weights (a torch ``state_dict`` .pth); None: the encoder's default.
    tile_size : int, default=224
        Tile side in pixels (at least 16).
    max_tiles : int, optional
        At most this many tissue tiles per slide; None keeps every one.

    Examples
    --------
    >>> PathomicsConfig(max_tiles=500)
    PathomicsConfig(encoder='resnet50', weights=None, tile_size=224, max_tiles=500)
    """

    encoder: str = "resnet50"
    weights: Path | None = None
    tile_size: int = 224
    max_tiles: int | None = None


@dataclass(frozen=True)
class SelectionConfig:
    """LASSO (or elastic-net) Cox selection inside every modality score (``selection`` section).

    Parameters
    ----------
    l1_ratio : float, default=1.0
        Elastic-net mixing in (0, 1]; 1 is the LASSO.
    cv : int, default=5
        Cross-validation folds that choose the penalty (at least 2).
    rule : {"min", "1se"}, default="min"
        The penalty with the best cross-validated fit, or the largest within one standard error of it.
    max_features : int, optional
        Keep at most this many features; None: as many as the penalty selects.

    Examples
    --------
    >>> SelectionConfig(rule="1se")
    SelectionConfig(l1_ratio=1.0, cv=5, rule='1se', max_features=None)
    """

    l1_ratio: float = 1.0
    cv: int = 5
    rule: str = "min"
    max_features: int | None = None


@dataclass(frozen=True)
class FusionConfig:
    """Which fusion models the study compares, and their settings (``fusion`` section).

    Parameters
    ----------
    strategies : tuple of str, default=("early", "late")
        Keys of :data:`FUSION_STRATEGIES`, distinct; ``"late"`` is required (the report's fusion formula,
        forest plot and nomogram are those of late fusion).
    cv : int, default=5
        Folds of the out-of-fold modality scores that late fusion is fitted on (at least 2).
    missing : {"mean", "pattern"}, default="mean"
        How fusion treats a patient's missing modality.
    penalizer : float, default=0.1
        Ridge penalty (>= 0) of the fusion Cox models.
    intermediate : dict, default={}
        Settings of the deep intermediate fusion (``multisurv.fusion.builders.INTERMEDIATE_OPTIONS``).

    Examples
    --------
    >>> FusionConfig(strategies=("late",), missing="pattern")
    FusionConfig(strategies=('late',), cv=5, missing='pattern', penalizer=0.1, intermediate={})
    """

    strategies: tuple[str, ...] = ("early", "late")
    cv: int = 5
    missing: str = "mean"
    penalizer: float = 0.1
    intermediate: dict = field(default_factory=dict)  # IntermediateFusionCox settings (fusion, hidden, epochs...)


@dataclass(frozen=True)
class ValidationConfig:
    """C-index intervals (``n_bootstrap``) and the internal validation of every model on the development cohort.

    ``internal``: "none", "bootstrap" (Harrell's optimism correction, ``n_resamples`` samples), "cv"
    (``n_splits`` folds) or "repeated_cv" (``n_repeats`` x ``n_splits``); the whole pipeline, clinical
    imputation and encoding included, is refitted in every resample.

    ``reclassification``: the net reclassification improvement (NRI) and integrated discrimination improvement
    (IDI) of every other model over a ``reference`` model (the "old" one) on each external cohort, with intervals
    from ``n_bootstrap`` resamples: ``reference`` is "auto" (the clinical modality's model when the study has
    one, else none), "none" (no reclassification) or a model name; ``cutoffs`` are optional risk categories
    (event probabilities, increasing, in (0, 1)) for the categorical NRI besides the continuous NRI(>0).

    Parameters
    ----------
    n_bootstrap : int, default=1000
        Bootstrap resamples of the C-index confidence intervals (0 or more), and of the NRI and IDI intervals.
    internal : {"none", "bootstrap", "cv", "repeated_cv"}, default="none"
        The internal validation method.
    n_resamples : int, default=200
        Bootstrap samples of ``internal="bootstrap"``.
    n_splits : int, default=5
        Folds of ``"cv"`` and ``"repeated_cv"`` (at least 2).
    n_repeats : int, default=5
        Repeats of ``"repeated_cv"``.
    reclassification : dict, default={"reference": "auto", "cutoffs": ()}
        ``reference`` (str) and ``cutoffs`` (tuple of float) of the reclassification.

    Examples
    --------
    >>> ValidationConfig(internal="cv", n_splits=10).n_splits
    10
    >>> ValidationConfig().reclassification
    {'reference': 'auto', 'cutoffs': ()}
    """

    n_bootstrap: int = 1000
    internal: str = "none"
    n_resamples: int = 200
    n_splits: int = 5
    n_repeats: int = 5
    reclassification: dict = field(default_factory=lambda: {"reference": "auto", "cutoffs": ()})


@dataclass(frozen=True)
class HarmonisationConfig:
    """Centre harmonisation of the imaging features before every model (``method``: "none" or "combat").

    ComBat (:class:`~multisurv.features.harmonisation.ComBatHarmoniser`) is fitted on the development cohort
    with each model; an external centre's location and scale are estimated from its own imaging features
    (never its outcomes) when it is scored. ``empirical_bayes``: shrink per-feature centre effects (ComBat's
    priors) or not.

    Parameters
    ----------
    method : {"none", "combat"}, default="none"
        No harmonisation, or ComBat on the radiomics and pathomics features.
    empirical_bayes : bool, default=True
        Shrink the per-feature centre effects towards their common priors.

    Examples
    --------
    >>> HarmonisationConfig(method="combat")
    HarmonisationConfig(method='combat', empirical_bayes=True)
    """

    method: str = "none"
    empirical_bayes: bool = True


@dataclass(frozen=True)
class FiguresConfig:
    """Options of the evaluation figures (computed by ``multisurv.study.assessment.assess_study``, drawn by
    ``multisurv.report.figures``).

    ``primary``: the model whose risk groups, time-dependent ROC curves are drawn; ``horizon``: time point of
    calibration and decision curves (null: development median follow-up); ``roc_times`` (null: 1, 3, 5 years
    inside follow-up); ``cutoff_methods`` and ``fixed_cutoff`` (a published threshold, needed by "fixed").

    Parameters
    ----------
    primary : str, default="late_fusion"
        One of the study's model names (:func:`model_names`).
    horizon : float, optional
        Time point (> 0, the manifest's time unit) of the calibration and decision curves.
    roc_times : tuple of float, optional
        Positive times of the time-dependent ROC curves.
    cutoff_methods : tuple of str, default=("median", "tertiles", "maxstat")
        Distinct risk-group cut-off rules from ``"median"``, ``"tertiles"``, ``"maxstat"`` and ``"fixed"``.
    fixed_cutoff : float, optional
        The threshold of the primary model's score that ``"fixed"`` uses (required by it).

    Examples
    --------
    >>> FiguresConfig(horizon=36.0).cutoff_methods
    ('median', 'tertiles', 'maxstat')
    """

    primary: str = "late_fusion"
    horizon: float | None = None
    roc_times: tuple[float, ...] | None = None
    cutoff_methods: tuple[str, ...] = ("median", "tertiles", "maxstat")
    fixed_cutoff: float | None = None


#: Endpoint types (``endpoint.type``): time-to-event, or a binary outcome (event by a horizon, or a 0/1 column).
ENDPOINT_TYPES = ("survival", "binary")


@dataclass(frozen=True)
class EndpointConfig:
    """What the models predict (``endpoint`` section; see ``multisurv.study.binary`` for the binary study).

    ``type``: "survival" (time-to-event, the default) or "binary". A binary endpoint is either "event by
    ``horizon``" (survival data turned into 0/1; ``censored_before``: what happens to patients censored before the
    horizon, "exclude" or "refuse") or the 0/1 manifest ``column``. ``unit``: time unit of the horizon in the
    report. ``comparators``: machine-learning comparators (``multisurv.evaluation.comparators``) fitted on the
    LASSO-selected features (``comparator_features: selected``) or on all features ("all"), tuned by ``inner_cv``
    folds, bootstrap-validated like the logistic models unless ``validate_comparators`` is false, explained by
    SHAP when ``shap`` is true. The bootstrap has ``validation.n_bootstrap`` resamples (rms's B).

    Parameters
    ----------
    type : {"survival", "binary"}, default="survival"
        Time-to-event or binary endpoint.
    horizon : float, optional
        Binary "event by horizon" endpoint: the horizon, in the manifest's time unit.
    column : str, optional
        Binary endpoint read from this 0/1 manifest column (instead of ``horizon``).
    censored_before : {"exclude", "refuse"}, default="exclude"
        Patients censored before the horizon: left out, or an error.
    unit : str, default="months"
        Time unit of the horizon in the report.
    comparators : tuple of str, default=("random_forest", "adaboost", "gradient_boosting", "svm")
        Machine-learning comparators of a binary study.
    comparator_features : {"selected", "all"}, default="selected"
        The features the comparators are fitted on.
    validate_comparators : bool, default=True
        Bootstrap-validate the comparators like the logistic models.
    shap : bool, default=True
        Explain the comparators with SHAP values.
    inner_cv : int, default=5
        Folds that tune the comparators.

    Examples
    --------
    >>> EndpointConfig(type="binary", horizon=36.0).censored_before
    'exclude'
    """

    type: str = "survival"
    horizon: float | None = None
    column: str | None = None
    censored_before: str = "exclude"
    unit: str = "months"
    comparators: tuple[str, ...] = ("random_forest", "adaboost", "gradient_boosting", "svm")
    comparator_features: str = "selected"
    validate_comparators: bool = True
    shap: bool = True
    inner_cv: int = 5


@dataclass(frozen=True)
class StudyConfig:
    """A whole study, as read from a ``study_config.v1`` YAML file (see :meth:`from_yaml`).

    Build one with :meth:`from_yaml` or :meth:`from_dict`, which check every key; the constructor checks nothing.

    Parameters
    ----------
    name : str
        The study's name, shown in the report.
    out : Path
        Output folder of :func:`~multisurv.study.run.run_study` (resolved against the config's folder).
    seed : int, default=0
        Seed of every random step.
    feature_cache : Path, optional
        Feature cache shared between studies; None: ``<out>/features``.
    cohort : CohortConfig
        The manifest or synthetic cohort, and the development label.
    radiomics, pathomics : RadiomicsConfig, PathomicsConfig
        Defaults of the radiomics and pathomics modalities.
    selection : SelectionConfig
        Feature selection inside every modality score.
    fusion : FusionConfig
        The fusion models compared.
    validation : ValidationConfig
        Bootstrap intervals and internal validation.
    figures : FiguresConfig
        Options of the evaluation figures.
    harmonisation : HarmonisationConfig
        Centre harmonisation of the imaging features.
    endpoint : EndpointConfig
        Survival or binary endpoint.
    modalities : tuple of Modality, default=the built-in radiomics, pathomics and clinical
        The study's modalities, in order.
    description : str, optional
        Free text shown in the report.
    source : Path, optional
        The YAML file the config was read from (None when built in memory).

    Examples
    --------
    >>> cfg = StudyConfig.from_dict({"schema": "study_config.v1", "name": "demo", "out": "runs/demo",
    ...                              "cohort": {"synthetic": {"n_development": 40, "n_external": 20}}})
    >>> cfg.cohort.synthetic.n_development, cfg.fusion.cv
    (40, 5)
    """

    name: str
    out: Path
    seed: int = 0
    feature_cache: Path | None = None  # None: <out>/features
    cohort: CohortConfig = field(default_factory=CohortConfig)
    radiomics: RadiomicsConfig = field(default_factory=RadiomicsConfig)
    pathomics: PathomicsConfig = field(default_factory=PathomicsConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    figures: FiguresConfig = field(default_factory=FiguresConfig)
    harmonisation: HarmonisationConfig = field(default_factory=HarmonisationConfig)
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    modalities: tuple[Modality, ...] = tuple(BUILTIN_MODALITIES.values())
    description: str | None = None
    source: Path | None = None

    @classmethod
    def from_yaml(cls, path: str | Path) -> StudyConfig:
        """Read and check a config file; raise :class:`StudyConfigError` listing every problem.

        Parameters
        ----------
        path : str or Path
            A ``study_config.v1`` YAML file; relative paths inside it are read from its folder.

        Returns
        -------
        StudyConfig
            The checked config, with ``source`` set to the file's absolute path.

        Raises
        ------
        FileNotFoundError
            When the file does not exist.
        StudyConfigError
            When the file is not YAML or does not satisfy ``study_config.v1``.

        Examples
        --------
        >>> cfg = StudyConfig.from_yaml("experiments/gist_fusion/study.yaml")  # doctest: +SKIP
        >>> cfg.name  # doctest: +SKIP
        'gist_fusion'
        """
        path = Path(path).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"Study config {str(path)!r} does not exist. Give the path of a YAML file "
                                    "(see data_schemas/study_config.v1.yaml).")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise StudyConfigError([f"not valid YAML: {exc}. Fix the syntax (indent with spaces, quote "
                                    "texts that contain ':')."], source=str(path)) from None
        return cls.from_dict(raw, base=path.parent, source=path)

    @classmethod
    def from_dict(cls, raw: Any, *, base: str | Path | None = None, source: str | Path | None = None) -> StudyConfig:
        """Build from a parsed mapping, checking it as :meth:`from_yaml` does.

        Parameters
        ----------
        raw : mapping
            The parsed ``study_config.v1`` document (anything else is reported as a problem).
        base : str or Path, optional
            The folder relative paths are read from; default the current directory.
        source : str or Path, optional
            The file the mapping came from, named in problems and kept as ``source``.

        Returns
        -------
        StudyConfig

        Raises
        ------
        StudyConfigError
            Listing every problem of the mapping.

        Examples
        --------
        >>> cfg = StudyConfig.from_dict({"schema": "study_config.v1", "name": "demo", "out": "runs/demo",
        ...                              "cohort": {"synthetic": {}}, "fusion": {"strategies": ["late"]}})
        >>> cfg.fusion.strategies, [m.name for m in cfg.modalities]
        (('late',), ['radiomics', 'pathomics', 'clinical'])
        """
        checker = _Checker(Path(base) if base is not None else Path.cwd())
        config = checker.study(raw, source)
        if checker.problems:
            raise StudyConfigError(checker.problems, source=str(source) if source is not None else None)
        return config

    def to_dict(self) -> dict:
        """Plain mapping (paths as absolute strings) that :meth:`from_dict` reads back to an equal config.

        Returns
        -------
        dict
            ``schema`` first, then every field but ``source`` (``description`` only when set); modalities as a
            list of entries. This is what ``config.resolved.yaml`` holds.

        Examples
        --------
        >>> cfg = StudyConfig.from_dict({"schema": "study_config.v1", "name": "demo", "out": "runs/demo",
        ...                              "cohort": {"synthetic": {}}})
        >>> StudyConfig.from_dict(cfg.to_dict()) == cfg
        True
        """
        out = _plain(asdict(self))
        out.pop("source", None)
        out["modalities"] = [_modality_entry(m) for m in self.modalities]  # a list keeps the order through sorting
        if out.get("description") is None:
            out.pop("description", None)
        return {"schema": SCHEMA, **out}

    def modality(self, name: str) -> Modality:
        """The study's modality called ``name``.

        Parameters
        ----------
        name : str
            A modality name of the config.

        Returns
        -------
        Modality

        Raises
        ------
        KeyError
            When the study has no such modality; the message lists its modalities.

        Examples
        --------
        >>> cfg = StudyConfig.from_dict({"schema": "study_config.v1", "name": "demo", "out": "runs/demo",
        ...                              "cohort": {"synthetic": {}}})
        >>> cfg.modality("radiomics").prefix
        'ct__'
        """
        for m in self.modalities:
            if m.name == name:
                return m
        raise KeyError(f"The study has no modality {name!r}; its modalities are "
                       + ", ".join(repr(m.name) for m in self.modalities) + ".")


def _modality_entry(m: Modality) -> dict:
    """The config entry that :func:`multisurv.registry.make_modality` reads back to ``m``."""
    return {"name": m.name, "kind": m.kind, **dict(m.columns), "prefix": m.prefix, "score": m.score, "label": m.label,
            **_plain(dict(m.options))}


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


# --------------------------------------------------------------------------------------------- checking
_SECTIONS = {
    "cohort": CohortConfig, "radiomics": RadiomicsConfig, "pathomics": PathomicsConfig,
    "selection": SelectionConfig, "fusion": FusionConfig, "validation": ValidationConfig,
    "figures": FiguresConfig, "harmonisation": HarmonisationConfig, "endpoint": EndpointConfig,
}


class _Checker:
    """Collects every problem as 'key path: what it must be; got X. Fix.' instead of stopping at the first."""

    def __init__(self, base: Path):
        self.base = base
        self.problems: list[str] = []

    def add(self, key: str, must: str, got: Any, fix: str) -> None:
        self.problems.append(f"key '{key}': must be {must}; got {got!r}. {fix}")

    def mapping(self, raw: Any, key: str, allowed: set[str]) -> dict:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.add(key, "a mapping (indented 'name: value' lines)", raw, "Write it as a YAML mapping.")
            return {}
        for k in raw:
            if k not in allowed:
                close = difflib.get_close_matches(str(k), sorted(allowed), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                where = f"{key}.{k}" if key else str(k)
                self.add(where, f"one of the known keys ({', '.join(sorted(allowed))})", k,
                         f"Remove or rename it.{hint}")
        return dict(raw)

    def integer(self, raw: dict, key: str, path: str, default, low: int, optional: bool = False):
        value = raw.get(key, default)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.add(path, f"a whole number >= {low}" + (" or null" if optional else ""), value,
                     f"Write a whole number such as {max(low, 1 if default is None else default)}.")
            return default
        return value

    def number(self, raw: dict, key: str, path: str, default: float, low: float, high: float | None = None,
               low_open: bool = False):
        value = raw.get(key, default)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and (value > low if low_open else value >= low) and (high is None or value <= high)
        if not ok:
            rng = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'}{']' if high else ')'}"
            self.add(path, f"a number in {rng}", value, f"Write a number such as {default}.")
            return default
        return float(value)

    def flag(self, raw: dict, key: str, path: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.add(path, "true or false", value, f"Write true or false (default {str(default).lower()}).")
            return default
        return value

    def option(self, raw: dict, key: str, path: str, default: str, options: tuple[str, ...]):
        value = raw.get(key, default)
        if value not in options:
            self.add(path, "one of " + ", ".join(repr(o) for o in options), value,
                     f"Use one of them (default {default!r}).")
            return default
        return value

    def text(self, raw: dict, key: str, path: str, default: str | None):
        value = raw.get(key, default)
        if not isinstance(value, str) or not value.strip():
            self.add(path, "a non-empty text", value, "Write a text such as 'development'." if default else
                     "Write a text (quote it if it contains ':').")
            return default or "?"
        return value

    def file(self, raw: dict, key: str, path: str, *, required: bool, what: str):
        value = raw.get(key)
        if value is None:
            if required:
                self.add(path, f"the path of {what}", None, "Add it (relative paths are read from the config's "
                         "folder).")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"the path of {what} (a text)", value, "Write the path as a text.")
            return None
        resolved = (self.base / Path(value).expanduser()).resolve()
        if not resolved.exists():
            self.add(path, f"an existing file ({what})", f"{value} (resolved to {resolved})",
                     "Correct the path; relative paths are read from the folder that holds the config.")
            return None
        return resolved

    # ---------------------------------------------------------------------------------------- sections
    def study(self, raw: Any, source) -> StudyConfig:
        top = {"schema", "name", "description", "seed", "out", "feature_cache", "modalities", *_SECTIONS}
        if not isinstance(raw, Mapping):
            self.add("(top level)", "a mapping with at least 'schema', 'name', 'out' and 'cohort'", raw,
                     "Start from data_schemas/study_config.v1.yaml.")
            return StudyConfig(name="?", out=Path("?"))
        raw = self.mapping(raw, "", top)
        if raw.get("schema") != SCHEMA:
            self.add("schema", f"exactly '{SCHEMA}'", raw.get("schema"), f"Add the line 'schema: {SCHEMA}'.")
        name = self.text(raw, "name", "name", None)
        out_raw = raw.get("out")
        if not isinstance(out_raw, str) or not out_raw.strip():
            self.add("out", "the output folder (a path)", out_raw, "Add e.g. 'out: runs/my_study' (relative to "
                     "the config's folder).")
            out = Path("?")
        else:
            out = (self.base / Path(out_raw).expanduser()).resolve()
        seed = self.integer(raw, "seed", "seed", 0, 0)
        cache_raw = raw.get("feature_cache")
        cache = None
        if cache_raw is not None:
            if not isinstance(cache_raw, str) or not cache_raw.strip():
                self.add("feature_cache", "null or a folder (a path)", cache_raw, "Write a path such as "
                         "'../runs/other_study/features', or remove the key to use <out>/features.")
            else:
                cache = (self.base / Path(cache_raw).expanduser()).resolve()
        sections = {k: self.mapping(raw.get(k), k, {f.name for f in fields(cls)})
                    for k, cls in _SECTIONS.items()}
        if "cohort" not in raw:
            self.add("cohort", "a mapping with 'manifest' or 'synthetic'", None, "Add a 'cohort' section.")
        fusion = self.fusion(sections["fusion"])
        radiomics, pathomics = self.radiomics(sections["radiomics"]), self.pathomics(sections["pathomics"])
        modalities = self.modalities(raw.get("modalities"), radiomics, pathomics)
        endpoint = raw.get("endpoint") if isinstance(raw.get("endpoint"), Mapping) else {}
        for m in modalities:
            if m.options.get("pooling") == "abmil" and endpoint.get("type") == "binary":
                self.add(f"modalities.{m.name}.pooling", "'mean' with a binary endpoint (the attention-MIL score is "
                         "trained with a survival loss)", "abmil", "Use 'pooling: mean', or a survival endpoint.")
            own = [k for k in MODEL_OPTIONS if k in m.options]
            if own and endpoint.get("type") == "binary":
                self.add(f"modalities.{m.name}", "no " + ", ".join(repr(k) for k in MODEL_OPTIONS) + " with a binary "
                         "endpoint (each modality's model is a LASSO-logistic model; 'selection' sets its LASSO)", own,
                         "Remove them, or use a survival endpoint.")
        description = raw.get("description")
        if description is not None and not isinstance(description, str):
            self.add("description", "a text", description, "Write the description as a text.")
            description = None
        return StudyConfig(
            name=name, out=out, seed=seed, feature_cache=cache, cohort=self.cohort(sections["cohort"]),
            radiomics=radiomics, pathomics=pathomics,
            selection=self.selection(sections["selection"]), fusion=fusion,
            validation=self.validation(sections["validation"]),
            figures=self.figures(sections["figures"], model_names(fusion.strategies, modalities)),
            harmonisation=self.harmonisation(sections["harmonisation"]), modalities=modalities,
            endpoint=self.endpoint(sections["endpoint"], raw),
            description=description, source=Path(source) if source is not None else None)

    def modalities(self, raw: Any, radiomics: RadiomicsConfig, pathomics: PathomicsConfig) -> tuple[Modality, ...]:
        """The study's modalities: the built-ins when the key is absent, else exactly those listed."""
        kind_defaults = {"radiomics": {"params": radiomics.params, "workers": radiomics.workers},
                         "pathomics": {"encoder": pathomics.encoder, "weights": pathomics.weights,
                                       "tile_size": pathomics.tile_size, "max_tiles": pathomics.max_tiles}}
        if raw is None:
            return tuple(Modality(m.name, m.kind, m.columns, m.prefix, m.score, m.label,
                                  dict(kind_defaults.get(m.kind, {})))
                         for m in BUILTIN_MODALITIES.values())
        if isinstance(raw, list) and all(isinstance(e, Mapping) and isinstance(e.get("name"), str) for e in raw):
            raw = {e["name"]: {k: v for k, v in e.items() if k != "name"} for e in raw}  # the list form of to_dict
        if not isinstance(raw, Mapping) or not raw:
            self.add("modalities", "a mapping of modality name -> settings (e.g. 'clinical: {}' and 'genes: {kind: "
                     "table, path: expression.csv}')", raw, "Write one indented entry per modality.")
            return tuple(BUILTIN_MODALITIES.values())
        out: list[Modality] = []
        for name, entry in raw.items():
            key = f"modalities.{name}"
            if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                self.add(key, "a name of lowercase letters, digits and '_' starting with a letter", name,
                         "Rename the modality, e.g. 'ct_arterial'.")
                continue
            if entry is None:
                entry = {}
            if not isinstance(entry, Mapping):
                self.add(key, "a mapping of settings (or {} for a built-in modality)", entry,
                         "Write e.g. '{kind: table, path: genes.csv}'.")
                continue
            kind = entry.get("kind", BUILTIN_MODALITIES[name].kind if name in BUILTIN_MODALITIES else None)
            if kind not in MODALITY_KINDS:
                self.add(f"{key}.kind", "one of " + ", ".join(repr(k) for k in MODALITY_KINDS)
                         + (" (a modality that is not built in needs a kind)" if kind is None else ""), kind,
                         "Add e.g. 'kind: table' or 'kind: radiomics'.")
                continue
            spec = MODALITY_KINDS[kind]
            allowed = {"kind", "prefix", "score", "label", *spec.roles, *spec.options, *MODEL_OPTIONS,
                       "pooling", "abmil"}  # checked by self.pooling (it says why only pathomics has them)
            entry = self.mapping(entry, key, allowed)
            for text_key in ("prefix", "score", "label", *spec.roles):
                if text_key in entry and (not isinstance(entry[text_key], str) or not entry[text_key].strip()):
                    self.add(f"{key}.{text_key}", "a non-empty text", entry[text_key], "Write it as a text.")
                    entry.pop(text_key)
            entry = {**kind_defaults.get(kind, {}), **entry}
            if kind == "radiomics" and "params" in entry:
                entry["params"] = self.radiomics({"params": entry["params"]}).params
            if kind == "pathomics" and "encoder" in entry:
                entry["encoder"] = self.pathomics({"encoder": entry["encoder"]}).encoder
            if kind == "pathomics" and isinstance(entry.get("weights"), str) and entry["weights"] != "hub":
                entry["weights"] = self.file(entry, "weights", f"{key}.weights", required=False,
                                             what="encoder weights")
            if kind == "pathomics" and (entry.get("stain") is None) != (entry.get("stain_reference") is None):
                self.add(f"{key}.stain", "given together with 'stain_reference' (a method: macenko or reinhard)",
                         entry.get("stain"), "Give both 'stain' and 'stain_reference', or neither.")
                entry.pop("stain", None)
                entry.pop("stain_reference", None)
            if kind == "pathomics" and entry.get("stain") not in (None, "macenko", "reinhard"):
                self.add(f"{key}.stain", "one of 'macenko', 'reinhard'", entry["stain"], "Use one of them.")
                entry.pop("stain")
            if kind == "pathomics" and isinstance(entry.get("stain_reference"), str):
                entry["stain_reference"] = self.file(entry, "stain_reference", f"{key}.stain_reference",
                                                     required=True, what="a reference H&E image")
            self.pooling(entry, key, kind)
            self.score_model(entry, key)
            if kind == "table":
                entry["path"] = self.file(entry, "path", f"{key}.path", required=True,
                                          what="a feature table (CSV/TSV/Parquet, or a folder of <patient_id>.csv)")
            if "readers" in entry:
                readers = entry["readers"]
                if not (isinstance(readers, list) and len(readers) >= 2 and all(isinstance(r, str) for r in readers)):
                    self.add(f"{key}.readers", "a list of two or more manifest mask columns (the first usually the "
                             "modality's own mask)", readers, "Write e.g. [ct_mask, ct_mask_reader2].")
                    entry.pop("readers")
            if "robustness" in entry:
                entry["robustness"] = self.robustness(entry["robustness"], f"{key}.robustness")
            out.append(make_modality(name, entry))
        self._check_unique(out)
        return tuple(out)

    def score_model(self, entry: dict, key: str) -> None:
        """A modality's own ``selector`` steps, ``model`` and ``model_params`` (names and parameters checked now)."""
        import inspect

        def accepted(target: str) -> set[str]:
            return set(inspect.signature(load_object(target)).parameters) - {"self"}

        if "selector" in entry:
            steps, clean = entry["selector"], []
            if not isinstance(steps, list) or not steps:
                self.add(f"{key}.selector", "a non-empty list of steps, each 'name: {parameters}'", steps,
                         "Write e.g. [{variance: {}}, {correlation: {threshold: 0.9}}, {lasso: {cv: 5}}].")
                steps = []
            for i, step in enumerate(steps):
                where = f"{key}.selector[{i}]"
                if not (isinstance(step, Mapping) and len(step) == 1):
                    self.add(where, "one 'name: {parameters}' mapping", step, "Write e.g. '- lasso: {cv: 5}'.")
                    continue
                (name, params), = step.items()
                if name not in SELECTORS:
                    close = difflib.get_close_matches(str(name), SELECTORS, n=1)
                    self.add(where, "a selector step from " + ", ".join(repr(n) for n in SELECTORS), name,
                             f"Did you mean {close[0]!r}?" if close else "Use one of them.")
                    continue
                params = {} if params is None else params
                if not isinstance(params, Mapping):
                    self.add(f"{where}.{name}", "a mapping of the step's parameters", params,
                             "Write e.g. '{threshold: 0.9}', or '{}' for the defaults.")
                    continue
                unknown = sorted(set(map(str, params)) - accepted(SELECTORS[name].target))
                if unknown:
                    self.add(f"{where}.{name}", "parameters of " + SELECTORS[name].target.split(":")[1] + ": "
                             + ", ".join(sorted(accepted(SELECTORS[name].target))), unknown,
                             "Remove or correct " + ", ".join(repr(u) for u in unknown) + ".")
                    continue
                clean.append({name: dict(params)})
            names = [next(iter(step)) for step in clean]
            for name in sorted({n for n in names if names.count(n) > 1}):
                self.add(f"{key}.selector", "a list with each step at most once", names,
                         f"Merge the parameters of the {names.count(name)} {name!r} steps into one.")
            entry["selector"] = clean
        model = entry.get("model", "linear")
        if model not in SCORE_MODELS:
            self.add(f"{key}.model", "one of " + ", ".join(repr(m) for m in SCORE_MODELS), model, "Use one of them.")
            entry.pop("model")
            model = "linear"
        if "model_params" in entry:
            params = entry["model_params"]
            allowed = accepted(SCORE_MODELS[model]) - {"name", "prefix", "model", "selector", "random_state"}
            if model == "linear":
                self.add(f"{key}.model_params", "absent with 'model: linear' (settings of an 'rsf' or 'gbm' model)",
                         params, "Remove 'model_params', or set 'model: rsf' or 'model: gbm'.")
                entry.pop("model_params")
            elif not isinstance(params, Mapping) or set(map(str, params)) - allowed:
                self.add(f"{key}.model_params", f"a mapping of {model} settings from " + ", ".join(sorted(allowed)),
                         params, "Correct or remove the unknown settings.")
                entry.pop("model_params")
        if entry.get("pooling") == "abmil" and any(k in entry for k in MODEL_OPTIONS):
            self.add(key, "no 'selector', 'model' or 'model_params' with 'pooling: abmil' (the attention-MIL network "
                     "is the score)", [k for k in MODEL_OPTIONS if k in entry], "Remove them, or use 'pooling: mean'.")

    def robustness(self, raw: Any, path: str) -> dict:
        """A radiomics modality's robustness filter: ICC from readers' masks, or from perturbations."""
        raw = self.mapping(raw, path, {"perturbations", "icc_min", "method", "criterion", "seed"})
        return {"perturbations": self.integer(raw, "perturbations", f"{path}.perturbations", 4, 1),
                "icc_min": self.number(raw, "icc_min", f"{path}.icc_min", 0.75, 0.0, 1.0),
                "method": self.option(raw, "method", f"{path}.method", "icc2_1", ("icc2_1", "icc3_1")),
                "criterion": self.option(raw, "criterion", f"{path}.criterion", "estimate", ("estimate", "lower")),
                "seed": self.integer(raw, "seed", f"{path}.seed", 0, 0)}

    def _check_unique(self, modalities: list[Modality]) -> None:
        reserved = {*FUSION_STRATEGIES.values(), TRUE_LP}
        for m in modalities:
            if m.name in reserved:
                self.add(f"modalities.{m.name}", "a name that no fusion model uses", m.name, "Rename the modality.")
        for attr, what in (("prefix", "feature prefix"), ("score", "score name")):
            seen: dict[str, str] = {}
            for m in modalities:
                value = getattr(m, attr)
                if value in seen:
                    self.add(f"modalities.{m.name}.{attr}", f"a {what} no other modality uses", value,
                             f"Set a different '{attr}' ('{seen[value]}' already uses it).")
                seen[value] = m.name
        columns: dict[str, str] = {}
        for m in modalities:
            for role, column in m.columns.items():
                if column in ("patient_id", "cohort", "time", "event") or column in columns:
                    self.add(f"modalities.{m.name}.{role}", "a manifest column no other modality reads", column,
                             "Name the column this modality reads in the manifest.")
                columns[column] = m.name
        if sum(m.kind == "clinical" for m in modalities) > 1:
            self.add("modalities", "at most one modality of kind 'clinical' (the clinical spec is one)",
                     [m.name for m in modalities if m.kind == "clinical"], "Keep one clinical modality.")
        if len(modalities) < 2:
            self.add("modalities", "at least two modalities (fusion needs two)", [m.name for m in modalities],
                     "Add another modality.")

    def cohort(self, raw: dict) -> CohortConfig:
        synthetic = None
        if raw.get("synthetic") is not None:
            s = self.mapping(raw["synthetic"], "cohort.synthetic",
                             {f.name for f in fields(SyntheticCohortConfig)})
            n_dev = self.integer(s, "n_development", "cohort.synthetic.n_development", 200, 2)
            synthetic = SyntheticCohortConfig(
                n_development=n_dev,
                n_external=self.integer(s, "n_external", "cohort.synthetic.n_external", 100, 0),
                seed=self.integer(s, "seed", "cohort.synthetic.seed", 0, 0),
                n_ct=self.integer(s, "n_ct", "cohort.synthetic.n_ct", None, 0, optional=True),
                n_wsi=self.integer(s, "n_wsi", "cohort.synthetic.n_wsi", None, 0, optional=True),
                n_null_clinical=self.integer(s, "n_null_clinical", "cohort.synthetic.n_null_clinical", 0, 0),
                second_reader=self.flag(s, "second_reader", "cohort.synthetic.second_reader", False))
            if synthetic.n_null_clinical and raw.get("clinical_spec") is not None:
                self.add("cohort.clinical_spec", "absent when 'cohort.synthetic.n_null_clinical' adds variables (the "
                         "run writes the cohort's spec itself)", raw.get("clinical_spec"),
                         "Remove 'clinical_spec' or set n_null_clinical to 0.")
            for key in ("n_ct", "n_wsi"):
                value = getattr(synthetic, key)
                if value is not None and value > n_dev:
                    self.add(f"cohort.synthetic.{key}", f"at most n_development ({n_dev})", value,
                             "Lower it or raise n_development.")
            if raw.get("manifest") is not None:
                self.add("cohort.manifest", "absent when 'cohort.synthetic' is given (the synthetic cohort writes "
                         "its own manifest)", raw.get("manifest"), "Keep one of 'manifest' and 'synthetic'.")
        manifest = self.file(raw, "manifest", "cohort.manifest", required=synthetic is None,
                             what="the cohort manifest CSV (or give 'cohort.synthetic')")
        spec = self.file(raw, "clinical_spec", "cohort.clinical_spec", required=False,
                         what="a clinical spec YAML (clinical_variables.v1)")
        development = self.text(raw, "development", "cohort.development", "development")
        return CohortConfig(manifest=manifest if synthetic is None else None, clinical_spec=spec,
                            development=development, synthetic=synthetic)

    def radiomics(self, raw: dict) -> RadiomicsConfig:
        from multisurv.features.radiomics import shipped_params  # light: PyRadiomics is imported only to extract

        params = raw.get("params", "radiomics_ct")
        names = shipped_params()
        if not isinstance(params, str) or not params.strip():
            self.add("radiomics.params", "a shipped params name or the path of a PyRadiomics params YAML", params,
                     "Write e.g. 'radiomics_gist_2266'.")
            params = "radiomics_ct"
        elif params not in names and not ("/" in params or params.endswith((".yaml", ".yml"))):
            self.add("radiomics.params", "a shipped params name (" + ", ".join(sorted(names)) + ") or a path", params,
                     "Use one of the names or give a path ending in .yaml.")
            params = "radiomics_ct"
        elif params not in names:
            resolved = self.file(raw, "params", "radiomics.params", required=True, what="a PyRadiomics params YAML")
            params = str(resolved) if resolved is not None else "radiomics_ct"
        return RadiomicsConfig(params=params, workers=self.integer(raw, "workers", "radiomics.workers", 2, 1))

    def pathomics(self, raw: dict) -> PathomicsConfig:
        from multisurv.features.wsi.encoders import available_encoders  # light: torch is imported only to build

        encoder = self.text(raw, "encoder", "pathomics.encoder", "resnet50")
        if encoder not in available_encoders():
            self.add("pathomics.encoder", "one of " + ", ".join(repr(e) for e in available_encoders()), encoder,
                     "Use one of the registered encoders.")
            encoder = "resnet50"
        return PathomicsConfig(
            encoder=encoder,
            weights=self.file(raw, "weights", "pathomics.weights", required=False,
                              what="encoder weights (a torch state_dict .pth)"),
            tile_size=self.integer(raw, "tile_size", "pathomics.tile_size", 224, 16),
            max_tiles=self.integer(raw, "max_tiles", "pathomics.max_tiles", None, 1, optional=True))

    def selection(self, raw: dict) -> SelectionConfig:
        return SelectionConfig(
            l1_ratio=self.number(raw, "l1_ratio", "selection.l1_ratio", 1.0, 0.0, 1.0, low_open=True),
            cv=self.integer(raw, "cv", "selection.cv", 5, 2),
            rule=self.option(raw, "rule", "selection.rule", "min", ("min", "1se")),
            max_features=self.integer(raw, "max_features", "selection.max_features", None, 1, optional=True))

    def options(self, raw: dict, key: str, path: str, default: tuple[str, ...], options) -> tuple[str, ...]:
        value = raw.get(key, list(default))
        if isinstance(value, str):
            value = [value]
        ok = isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(v, str) for v in value)
        if not ok or any(v not in options for v in value) or len(set(value)) < len(value):
            self.add(path, "a list of distinct names from " + ", ".join(repr(o) for o in options), value,
                     f"Write e.g. [{', '.join(default)}].")
            return default
        return tuple(value)

    def fusion(self, raw: dict) -> FusionConfig:
        strategies = self.options(raw, "strategies", "fusion.strategies", ("early", "late"), tuple(FUSION_STRATEGIES))
        if "late" not in strategies:
            self.add("fusion.strategies", "a list that includes 'late' (the report's fusion formula, forest plot and "
                     "nomogram are those of late fusion)", list(strategies), "Add 'late' to the list.")
            strategies = ("late", *strategies)
        return FusionConfig(strategies=strategies, cv=self.integer(raw, "cv", "fusion.cv", 5, 2),
                            missing=self.option(raw, "missing", "fusion.missing", "mean", ("mean", "pattern")),
                            penalizer=self.number(raw, "penalizer", "fusion.penalizer", 0.1, 0.0),
                            intermediate=self.intermediate(raw.get("intermediate")))

    def intermediate(self, raw: Any) -> dict:
        """``fusion.intermediate``: settings of the deep intermediate fusion, each of its known type."""
        from multisurv.fusion.builders import INTERMEDIATE_OPTIONS

        return self.typed(raw, "fusion.intermediate", INTERMEDIATE_OPTIONS)

    def typed(self, raw: Any, path: str, options: Mapping[str, type]) -> dict:
        """A mapping of settings whose keys come from ``options`` (name -> type), each value of its type."""
        raw = self.mapping(raw, path, set(options))
        out = {}
        for key, value in raw.items():
            if key not in options:
                continue
            kind = options[key]
            ok = (isinstance(value, str) if kind is str else isinstance(value, bool) if kind is bool else
                  isinstance(value, int) and not isinstance(value, bool) if kind is int else
                  isinstance(value, (int, float)) and not isinstance(value, bool))
            if not ok:
                self.add(f"{path}.{key}", f"a {kind.__name__}", value, "Correct the value.")
                continue
            out[key] = kind(value)
        return out

    def pooling(self, entry: dict, key: str, kind: str) -> None:
        """A pathomics modality's ``pooling`` (mean or abmil) and its ``abmil`` settings, checked in place."""
        from multisurv.study.models import ABMIL_OPTIONS

        if kind != "pathomics":
            for option in ("pooling", "abmil"):
                if option in entry:
                    self.add(f"{key}.{option}", "set on a pathomics modality only (attention-MIL pooling trains on "
                             "the per-slide tile stores that pathomics extraction writes; a "
                             f"{kind!r} modality has none)", entry.pop(option),
                             "Remove it, or declare the slides as a modality of kind 'pathomics'.")
            return
        pooling = entry.get("pooling", "mean")
        if pooling not in PATHOMICS_POOLINGS:
            self.add(f"{key}.pooling", "one of " + ", ".join(repr(p) for p in PATHOMICS_POOLINGS), pooling,
                     "Use 'mean' (LASSO-Cox on the mean of the tile features, the default) or 'abmil' (attention-MIL "
                     "over the tiles).")
            entry.pop("pooling")
            pooling = "mean"
        if pooling == "abmil":
            import importlib.util

            missing = [m for m in ("torch", "h5py") if importlib.util.find_spec(m) is None]
            if missing:
                self.add(f"{key}.pooling", "a pooling whose packages are installed (abmil trains a torch network on "
                         "the HDF5 tile stores)", pooling, f"Install {' and '.join(missing)}: "
                         "pip install \"multisurv[wsi]\", or use 'pooling: mean'.")
        if "abmil" not in entry:
            return
        if pooling != "abmil":
            self.add(f"{key}.abmil", "given only with 'pooling: abmil'", entry.pop("abmil"),
                     "Add 'pooling: abmil' to the modality, or remove its 'abmil' settings.")
            return
        settings = self.typed(entry["abmil"], f"{key}.abmil", ABMIL_OPTIONS)
        try:  # the estimator's own parameter checks (ranges and choices), at load time rather than mid-run
            from multisurv.scores.mil import AttentionMILScore

            AttentionMILScore(patches=".", **settings)._check_params()
        except ValueError as exc:
            self.add(f"{key}.abmil", "valid attention-MIL settings (AttentionMILScore)", entry["abmil"], str(exc))
            settings = {}
        entry["abmil"] = settings

    def endpoint(self, raw: dict, study: Mapping) -> EndpointConfig:
        """The ``endpoint`` section, and what a binary endpoint asks of the other sections."""
        from multisurv.study.binary import check_endpoint

        return check_endpoint(self, raw, study)

    def harmonisation(self, raw: dict) -> HarmonisationConfig:
        eb = raw.get("empirical_bayes", True)
        if not isinstance(eb, bool):
            self.add("harmonisation.empirical_bayes", "true or false", eb, "Write true (ComBat's shrinkage) or false.")
            eb = True
        return HarmonisationConfig(
            method=self.option(raw, "method", "harmonisation.method", "none", ("none", "combat")), empirical_bayes=eb)

    def validation(self, raw: dict) -> ValidationConfig:
        # reclassification: the reference model ("auto", "none" or a name; whether a name is one of the study's
        # models is checked when the run starts) and the categorical NRI's cut-offs
        path = "validation.reclassification"
        reclass = self.mapping(raw.get("reclassification"), path, {"reference", "cutoffs"})
        reference = reclass.get("reference", "auto")
        if reference is None:
            reference = "none"
        if not isinstance(reference, str) or not reference.strip():
            self.add(f"{path}.reference", "'auto', 'none' or the name of a model of the study (the 'old' model "
                     "every other model is compared with)", reference,
                     "Write e.g. 'reference: clinical', or 'auto' (the clinical modality's model when there is one).")
            reference = "auto"
        cutoffs = reclass.get("cutoffs")
        cutoffs = () if cutoffs is None else cutoffs
        if not (isinstance(cutoffs, (list, tuple)) and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and 0 < c < 1 for c in cutoffs)
                and all(a < b for a, b in zip(cutoffs, cutoffs[1:]))):
            self.add(f"{path}.cutoffs", "null or a list of increasing event probabilities strictly between 0 and 1 "
                     "(the risk categories of the categorical NRI)", cutoffs,
                     "Write e.g. [0.1, 0.3], or remove the key for the continuous NRI only.")
            cutoffs = ()
        return ValidationConfig(
            n_bootstrap=self.integer(raw, "n_bootstrap", "validation.n_bootstrap", 1000, 0),
            internal=self.option(raw, "internal", "validation.internal", "none", INTERNAL_METHODS),
            n_resamples=self.integer(raw, "n_resamples", "validation.n_resamples", 200, 1),
            n_splits=self.integer(raw, "n_splits", "validation.n_splits", 5, 2),
            n_repeats=self.integer(raw, "n_repeats", "validation.n_repeats", 5, 1),
            reclassification={"reference": reference, "cutoffs": tuple(float(c) for c in cutoffs)})

    def figures(self, raw: dict, models: tuple[str, ...]) -> FiguresConfig:
        primary = self.option(raw, "primary", "figures.primary", "late_fusion", models)
        horizon = raw.get("horizon")
        if horizon is not None:
            horizon = self.number(raw, "horizon", "figures.horizon", 36.0, 0.0, low_open=True)
        roc_times = raw.get("roc_times")
        if roc_times is not None:
            ok = isinstance(roc_times, (list, tuple)) and roc_times and all(
                isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0 for t in roc_times)
            if not ok:
                self.add("figures.roc_times", "null or a list of positive times (in the manifest's time unit)",
                         roc_times, "Write e.g. [12, 36, 60], or null for 1, 3 and 5 years inside the follow-up.")
                roc_times = None
            else:
                roc_times = tuple(float(t) for t in roc_times)
        methods = self.options(raw, "cutoff_methods", "figures.cutoff_methods", ("median", "tertiles", "maxstat"),
                               _CUTOFF_METHODS)
        fixed = raw.get("fixed_cutoff")
        if fixed is not None:
            if isinstance(fixed, bool) or not isinstance(fixed, (int, float)):
                self.add("figures.fixed_cutoff", "null or a number (a threshold of the primary model's score)", fixed,
                         "Write the threshold as a number.")
                fixed = None
            else:
                fixed = float(fixed)
        if "fixed" in methods and fixed is None:
            self.add("figures.fixed_cutoff", "a number when figures.cutoff_methods lists 'fixed'", fixed,
                     "Give the published threshold, or remove 'fixed' from figures.cutoff_methods.")
        return FiguresConfig(primary=primary, horizon=horizon, roc_times=roc_times, cutoff_methods=methods,
                             fixed_cutoff=fixed)
