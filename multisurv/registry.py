"""Registries: the one place that names modalities, modality kinds, fusion strategies and model labels.

Everything else (cohort, study config, models, evaluation, report, CLI) asks these tables for names instead of
writing them out. A **modality kind** says how features are made (``radiomics``, ``pathomics``, ``clinical``,
``table``) and which manifest roles it reads; a **modality** is one instance of a kind in a study, with its own
manifest columns, feature prefix, score name and label. The built-in modalities are ``radiomics`` (CT),
``pathomics`` (H&E slide) and ``clinical``; a study config may declare any number of others, e.g.::

    modalities:
      clinical: {}
      genes: {kind: table, path: expression.csv}
      ct_arterial: {kind: radiomics, image: ct_art_image, mask: ct_art_mask}

Adding a modality of an existing kind needs only config. Adding a new kind needs one module with an
``extract(modality, cohort, *, feature_dir, ...)`` function and one line in :data:`MODALITY_KINDS`.
A **fusion strategy** maps a config word to the model it fits; its word is the same everywhere (config,
``metrics.csv``, figures, report): ``late`` is out-of-fold stacking, ``late_insample`` the in-sample recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

__all__ = ["ModalityKind", "Modality", "FusionStrategy", "MODALITY_KINDS", "BUILTIN_MODALITIES",
           "FUSION_STRATEGIES", "DEFAULT_MODALITIES", "make_modality", "model_labels", "path_columns",
           "image_mask_pairs", "with_options", "load_object", "TRUE_LP", "TRUE_LP_LABEL", "PATHOMICS_POOLINGS",
           "SelectorStep", "SELECTORS", "SCORE_MODELS", "SCORE_MODEL_LABELS", "MODEL_OPTIONS"]


@dataclass(frozen=True)
class ModalityKind:
    """How one kind of modality is extracted.

    Parameters
    ----------
    name : str
        The kind's name in configs (``kind: radiomics``).
    extractor : str or None
        ``"module:function"`` of the extraction function (imported only when a study extracts this kind); None
        for ``clinical``, whose raw columns are encoded inside every model (refitted per resample).
    roles : mapping
        Manifest roles the kind reads (e.g. ``image``, ``mask``) and the manifest-schema template each column
        is checked against (``ct_image``, ``ct_mask``, ``wsi``: a file or folder that must exist). Default: none.
    options : tuple of str, default=()
        Keys a modality of this kind may set in the config besides its roles.

    Examples
    --------
    >>> kind = MODALITY_KINDS["radiomics"]
    >>> kind.extractor, dict(kind.roles)
    ('multisurv.features.modalities:extract_radiomics_modality', {'image': 'ct_image', 'mask': 'ct_mask'})
    >>> MODALITY_KINDS["clinical"].extractor is None
    True
    """

    name: str
    extractor: str | None
    roles: Mapping[str, str] = field(default_factory=dict)
    options: tuple[str, ...] = ()


#: Every modality kind. ``clinical`` reads the clinical-spec columns; ``table`` a feature file keyed by patient_id.
MODALITY_KINDS: dict[str, ModalityKind] = {
    "radiomics": ModalityKind("radiomics", "multisurv.features.modalities:extract_radiomics_modality",
                              {"image": "ct_image", "mask": "ct_mask"}, ("params", "workers", "readers", "robustness")),
    "pet": ModalityKind("pet", "multisurv.features.radiology:extract_pet_modality",
                        {"image": "ct_image", "mask": "ct_mask"}, ("params", "workers")),
    "deep_radiology": ModalityKind("deep_radiology", "multisurv.features.radiology:extract_deep_radiology_modality",
                                   {"image": "ct_image", "mask": "ct_mask"},
                                   ("encoder", "weights", "window", "n_slices", "crop_size", "margin_mm", "device",
                                    "workers")),
    "pathomics": ModalityKind("pathomics", "multisurv.features.modalities:extract_pathomics_modality",
                              {"slide": "wsi"}, ("encoder", "weights", "tile_size", "max_tiles", "mpp",
                                                 "slide_mpp", "precision", "stain", "stain_reference", "device",
                                                 "pooling", "abmil")),
    "clinical": ModalityKind("clinical", None),
    "table": ModalityKind("table", "multisurv.features.table:extract_table_modality", {},
                          ("path", "id_column", "columns")),
}

#: How a pathomics modality's slide becomes its score (modality option ``pooling``): ``mean``, the LASSO-Cox score
#: of the mean-pooled tile features; ``abmil``, an attention-MIL network trained on the tiles of the patch files.
PATHOMICS_POOLINGS = ("mean", "abmil")


# Fields stay under "Attributes": docs/_ext/msdocs.py reads the meaning of the config keys
# ``modalities.<name>.*`` from that section for the study-config reference page.
@dataclass(frozen=True)
class Modality:
    """One modality of a study; build one with :func:`make_modality`, which fills the defaults.

    Attributes
    ----------
    name : str
        Model name of its single-modality score in metrics, figures and the report (``radiomics``, ``genes``).
    kind : str
        A key of :data:`MODALITY_KINDS`.
    columns : mapping, default={}
        Role -> manifest column (``{"image": "ct_image", "mask": "ct_mask"}``); empty for clinical and table.
    prefix : str, default=""
        Prefix of its feature columns (``ct__``); unique within a study.
    score : str, default=""
        Name of its score (``radscore``), a late-fusion term.
    label : str, default=""
        Display name in tables and figures.
    options : mapping, default={}
        Kind-specific settings (``params`` of radiomics, ``encoder`` of pathomics, ``path`` of a table...).

    Examples
    --------
    >>> genes = make_modality("genes", {"kind": "table", "path": "expression.csv"})
    >>> genes.prefix, genes.score, genes.label
    ('genes__', 'genes_score', 'Genes (genes_score)')
    """

    name: str
    kind: str
    columns: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""
    score: str = ""
    label: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def store_name(self) -> str:
        """Sub-folder of the feature cache for this modality ('' for the built-ins, so their cache is shared
        with ``multisurv extract``).

        A built-in name whose manifest columns were changed gets its own folder (its name).

        Examples
        --------
        >>> make_modality("radiomics").store_name, make_modality("genes", {"kind": "table"}).store_name
        ('', 'genes')
        >>> make_modality("radiomics", {"image": "ct_late_image"}).store_name
        'radiomics'
        """
        return "" if BUILTIN_MODALITIES.get(self.name, None) is not None and \
            BUILTIN_MODALITIES[self.name].columns == self.columns else self.name


#: The modalities of the reference design (and of every study that declares none).
BUILTIN_MODALITIES: dict[str, Modality] = {
    "radiomics": Modality("radiomics", "radiomics", {"image": "ct_image", "mask": "ct_mask"}, "ct__", "radscore",
                          "Radiomics (radscore)"),
    "pathomics": Modality("pathomics", "pathomics", {"slide": "wsi"}, "wsi__", "patscore", "Pathomics (patscore)"),
    "clinical": Modality("clinical", "clinical", {}, "clin__", "clinscore", "Clinical (clinscore)"),
}
DEFAULT_MODALITIES = tuple(BUILTIN_MODALITIES)


def make_modality(name: str, spec: Mapping[str, Any] | None = None) -> Modality:
    """A :class:`Modality` from its config entry (a built-in name with overrides, or a new one with ``kind``).

    Unknown keys are not checked here (the study config checks them and lists every problem); defaults:
    prefix ``<name>__``, score ``<name>_score``, label ``<Name> (<score>)``, role columns from the kind's roles
    prefixed by the name (``<name>_image``).

    Parameters
    ----------
    name : str
        The modality's name; a built-in name (``radiomics``, ``pathomics``, ``clinical``) starts from the
        built-in modality.
    spec : mapping, optional
        The config entry: ``kind`` (required for a name that is not built in), role columns, ``prefix``,
        ``score``, ``label``; every other key becomes an option.

    Returns
    -------
    Modality

    Raises
    ------
    KeyError
        When the kind is missing (for a new name) or not in :data:`MODALITY_KINDS`.

    Examples
    --------
    >>> make_modality("radiomics").prefix
    'ct__'
    >>> make_modality("ct_arterial", {"kind": "radiomics", "image": "ct_art_image", "mask": "ct_art_mask"}).columns
    {'image': 'ct_art_image', 'mask': 'ct_art_mask'}
    """
    spec = dict(spec or {})
    base = BUILTIN_MODALITIES.get(name)
    kind_name = spec.pop("kind", base.kind if base else None)
    kind = MODALITY_KINDS[kind_name]
    if base is not None and base.kind == kind_name:
        columns = {role: spec.pop(role, base.columns[role]) for role in kind.roles}
        prefix, score, label = base.prefix, base.score, base.label
    else:
        columns = {role: spec.pop(role, f"{name}_{role}") for role in kind.roles}
        prefix, score = f"{name}__", f"{name}_score"
        label = f"{name.replace('_', ' ').capitalize()} ({spec.get('score', score)})"
    prefix = spec.pop("prefix", prefix)
    score = spec.pop("score", score)
    label = spec.pop("label", label)
    return Modality(name, kind_name, columns, prefix, score, label, spec)


@dataclass(frozen=True)
class FusionStrategy:
    """A fusion strategy: the config word, the model name it gets, its label and how it is built.

    Parameters
    ----------
    name : str
        The config word (``fusion.strategies``), e.g. ``"late"``.
    model : str
        The model name in metrics, figures and the report, e.g. ``"late_fusion"``.
    label : str
        Display name.
    builder : str
        ``"module:function"`` called as ``function(scores, options, seed)`` to build the unfitted estimator.
    description : str, default=""
        One line for the report.
    inputs : {"scores", "features"}, default="scores"
        What the strategy fuses: each modality's risk score, or each modality's selected feature columns.

    Examples
    --------
    >>> late = FUSION_STRATEGIES["late"]
    >>> late.model, late.inputs, FUSION_STRATEGIES["early"].inputs
    ('late_fusion', 'scores', 'features')
    """

    name: str
    model: str
    label: str
    builder: str  # "module:function(scores, options, seed) -> estimator"
    description: str = ""
    #: What the strategy fuses: "scores" (each modality's risk score, whatever model makes it, e.g. an
    #: attention-MIL slide score) or "features" (each modality's selected table columns: early, intermediate).
    inputs: str = "scores"


FUSION_STRATEGIES: dict[str, FusionStrategy] = {s.name: s for s in (
    FusionStrategy("early", "early_fusion", "Early fusion", "multisurv.fusion.builders:early",
                   "one ridge Cox model on the features every score selected", inputs="features"),
    FusionStrategy("late", "late_fusion", "Late fusion", "multisurv.fusion.builders:late",
                   "Cox on out-of-fold scores (stacking); missing scores by fusion.missing"),
    FusionStrategy("late_insample", "late_fusion_insample", "Late fusion (in-sample scores)",
                   "multisurv.fusion.builders:late_insample", "Cox on in-sample scores (the usual published recipe)"),
    FusionStrategy("late_pattern", "late_fusion_pattern", "Late fusion (per missing pattern)",
                   "multisurv.fusion.builders:late_pattern", "out-of-fold, one sub-model per missing-modality pattern"),
    FusionStrategy("intermediate", "intermediate_fusion", "Intermediate fusion (deep)",
                   "multisurv.fusion.builders:intermediate",
                   "a network: one encoder per modality, a fusion layer, a Cox head (inner-split early stopping)",
                   inputs="features"),
)}

@dataclass(frozen=True)
class SelectorStep:
    """A feature-selection step a modality's ``selector`` list may name (``modalities.<name>.selector``).

    Parameters
    ----------
    name : str
        The word in the config (``- correlation: {threshold: 0.9}``).
    target : str
        ``"module:Class"`` of the scikit-learn-style selector (imported only when a study builds it).
    defaults : mapping, default={}
        Parameters set unless the config gives them (``elastic_net`` is the LASSO class with ``l1_ratio=0.5``).
    description : str, default=""
        One line for the docs.

    Examples
    --------
    >>> SELECTORS["elastic_net"].target, dict(SELECTORS["elastic_net"].defaults)
    ('multisurv.selection.lasso_cox:LassoCoxSelector', {'l1_ratio': 0.5})
    """

    name: str
    target: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


#: Selection steps of a modality's ``selector`` list, run in order inside every fit (each refitted per resample).
SELECTORS: dict[str, SelectorStep] = {s.name: s for s in (
    SelectorStep("variance", "multisurv.selection.filters:VarianceFilter", {}, "drop near-constant features"),
    SelectorStep("correlation", "multisurv.selection.filters:CorrelationFilter", {},
                 "drop one of each pair correlated above a threshold"),
    SelectorStep("univariate_cox", "multisurv.selection.univariate_cox:UnivariateCoxSelector", {},
                 "keep features whose univariate Cox p-value passes a threshold"),
    SelectorStep("lasso", "multisurv.selection.lasso_cox:LassoCoxSelector", {}, "LASSO-Cox, penalty by CV"),
    SelectorStep("elastic_net", "multisurv.selection.lasso_cox:LassoCoxSelector", {"l1_ratio": 0.5},
                 "elastic-net Cox (l1_ratio 0.5 unless given)"),
    SelectorStep("rsf", "multisurv.selection.rsf:RSFPermutationSelector", {},
                 "random-survival-forest permutation importance"),
    SelectorStep("stepwise", "multisurv.selection.stepwise:StepwiseCoxSelector", {}, "stepwise Cox by AIC, BIC or p"),
)}

#: The model of a modality's score (``modalities.<name>.model``) -> ``"module:Class"``: ``linear`` is a Cox model on
#: the selected features (its linear predictor is the score); ``rsf`` and ``gbm`` are a random survival forest and a
#: gradient-boosted Cox model (``model_params``: their settings).
SCORE_MODELS: dict[str, str] = {"linear": "multisurv.scores.modality_score:ModalityScore",
                                "rsf": "multisurv.scores.nonlinear:NonlinearScore",
                                "gbm": "multisurv.scores.nonlinear:NonlinearScore"}
#: What each score model is, in words (the report's model table).
SCORE_MODEL_LABELS: dict[str, str] = {"linear": "a Cox model on the selected features", "rsf": "a random survival forest",
                                      "gbm": "a gradient-boosted Cox model"}

#: Keys of a modality's config entry that choose its score's selection and model, for every kind: ``selector``
#: (a list of :data:`SELECTORS` steps; default the study's ``selection`` LASSO), ``model`` (a key of
#: :data:`SCORE_MODELS`; default ``linear``) and ``model_params`` (settings of an ``rsf`` or ``gbm`` model).
MODEL_OPTIONS = ("selector", "model", "model_params")


#: The true linear predictor of a synthetic cohort, evaluated as the ceiling.
TRUE_LP = "true_lp"
TRUE_LP_LABEL = "True linear predictor (ceiling)"


def model_labels(modalities=None, strategies=None) -> dict[str, str]:
    """Display label of every model a study fits (modality scores, then fusions, then the ceiling), in order.

    Parameters
    ----------
    modalities : sequence of str or Modality, optional
        The study's modalities (names of built-ins, or Modality objects); default the built-in ones.
    strategies : sequence of str, optional
        Keys of :data:`FUSION_STRATEGIES`; default every strategy.

    Returns
    -------
    dict of str to str
        Model name -> label, ending with :data:`TRUE_LP`.

    Examples
    --------
    >>> list(model_labels())[:4]
    ['radiomics', 'pathomics', 'clinical', 'early_fusion']
    """
    mods = [BUILTIN_MODALITIES[m] if isinstance(m, str) else m
            for m in (modalities if modalities is not None else DEFAULT_MODALITIES)]
    fusions = [FUSION_STRATEGIES[s] for s in (strategies if strategies is not None else FUSION_STRATEGIES)]
    return {**{m.name: m.label for m in mods}, **{f.model: f.label for f in fusions}, TRUE_LP: TRUE_LP_LABEL}


def path_columns(modalities) -> dict[str, str]:
    """Manifest path column -> schema template, for the modalities of a study, in declaration order.

    Other readers' mask columns (a radiomics modality's ``readers`` option) are checked as masks.

    Parameters
    ----------
    modalities : iterable of Modality
        The study's modalities.

    Returns
    -------
    dict of str to str
        Manifest column -> manifest-schema template (``ct_image``, ``ct_mask``, ``wsi``).

    Examples
    --------
    >>> path_columns([BUILTIN_MODALITIES["radiomics"], BUILTIN_MODALITIES["pathomics"]])
    {'ct_image': 'ct_image', 'ct_mask': 'ct_mask', 'wsi': 'wsi'}
    """
    out: dict[str, str] = {}
    for m in modalities:
        for role, column in m.columns.items():
            out[column] = MODALITY_KINDS[m.kind].roles[role]
        for column in m.options.get("readers") or ():  # other readers' masks of the same image
            out.setdefault(column, "ct_mask")
    return out


def image_mask_pairs(modalities) -> list[tuple[str, str]]:
    """(image column, mask column) of every modality that reads an image and its mask.

    Parameters
    ----------
    modalities : iterable of Modality
        The study's modalities.

    Returns
    -------
    list of (str, str)
        One pair per modality with both an ``image`` and a ``mask`` role, in order.

    Examples
    --------
    >>> image_mask_pairs([make_modality("radiomics"), make_modality("pathomics")])
    [('ct_image', 'ct_mask')]
    """
    return [(m.columns["image"], m.columns["mask"]) for m in modalities if {"image", "mask"} <= set(m.columns)]


def with_options(modality: Modality, **options: Any) -> Modality:
    """A copy of ``modality`` whose options are completed by ``options`` (its own settings win).

    Parameters
    ----------
    modality : Modality
        The modality (unchanged).
    **options
        Default options to add.

    Returns
    -------
    Modality

    Examples
    --------
    >>> m = make_modality("radiomics", {"params": "radiomics_gist_2266"})
    >>> dict(with_options(m, params="radiomics_ct", workers=4).options)
    {'params': 'radiomics_gist_2266', 'workers': 4}
    """
    return replace(modality, options={**options, **dict(modality.options)})


def load_object(target: str):
    """The object a ``"module:name"`` reference names (registries keep references so importing stays light).

    Parameters
    ----------
    target : str
        ``"module:name"``; the module is imported now.

    Returns
    -------
    object
        The module's attribute ``name``.

    Raises
    ------
    ImportError
        When the module cannot be imported.
    AttributeError
        When the module has no such attribute.

    Examples
    --------
    >>> load_object("multisurv.registry:make_modality").__name__
    'make_modality'
    """
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
