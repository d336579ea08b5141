"""The ``simulation_config.v1`` file behind ``multisurv simulate CONFIG.yaml``: scenarios, replicates, models.

A config names a base :class:`~multisurv.simulation.generator.Mechanism` (``base``), the factors that vary
(``factors``: every combination of their levels, ``design: crossed``; or ``scenarios``: a list of named
overrides, ``design: listed``), the number of replicates, the models and their (cheap) selector settings::

    schema: simulation_config.v1
    name: fusion_simulation
    out: ../../runs/fusion_simulation        # relative to the config's folder
    seed: 2026
    replicates: 200
    n_bootstrap: 500                         # bootstrap resamples per external C interval
    n_truth: 10000                           # large external sample for the estimand (true C)
    models: [radscore, patscore, clinscore, early, late, truth]
    selector: {alpha: cv, cv: 3, n_alphas: 20}
    fusion: {late_cv: 3, early_penalizer: 0.1}
    base: {n_development: 254, n_external: 42}
    design: crossed
    factors: {shift_ct: [0.0, 1.0], n_external: [42, 200]}

Every problem is collected and raised once, as :class:`SimulationConfigError`, each with its key path and
its fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from multisurv.exceptions import MultisurvError
from multisurv.fusion.builders import INTERMEDIATE_OPTIONS
from multisurv.registry import FUSION_STRATEGIES
from multisurv.simulation.generator import Mechanism

__all__ = ["SimulationConfig", "SimulationConfigError", "Scenario", "SelectorSettings", "MODELS", "SCHEMA"]

SCHEMA = "simulation_config.v1"

#: Models the runner knows: single-modality scores, every fusion strategy of the registry (early, late,
#: late_insample, late_pattern, intermediate), and the true linear predictor.
MODELS = ("radscore", "patscore", "clinscore", *FUSION_STRATEGIES, "truth")

#: (low, high, kind) of each Mechanism field a config may set; high None = unbounded.
_FIELDS: dict[str, tuple[float | None, float | None, str]] = {
    "n_development": (10, 100_000, "int"), "n_external": (10, 100_000, "int"),
    "signal_ct": (0, None, "float"), "signal_path": (0, None, "float"), "signal_clinical": (0, None, "float"),
    "interaction": (None, None, "float"), "event_rate": (0, 1, "rate"),
    "missing_ct": (0, 0.95, "float"), "missing_wsi": (0, 0.95, "float"), "missing_clinical": (0, 0.5, "float"),
    "n_ct_features": (1, 20_000, "int"), "n_wsi_features": (1, 20_000, "int"),
    "n_noise_features": (0, 20_000, "int"), "n_null_clinical": (0, 500, "int"),
    "shift_ct": (0, None, "float"), "shift_wsi": (0, None, "float"),
    "noise_ct": (0, None, "float"), "noise_wsi": (0, None, "float"),
    "n_factors_ct": (0, 100, "int"), "n_factors_wsi": (0, 100, "int"),
    "communality_ct": (0, 1, "range"), "communality_wsi": (0, 1, "range"),
    "signal_share_ct": (0, 1, "float"), "signal_share_wsi": (0, 1, "float"),
    "case_mix_shift": (None, None, "bool"), "structure_seed": (0, None, "int"),
    "heavy_share_ct": (0, 1, "float"), "heavy_ratio_ct": (1, None, "ratio"),
}


class SimulationConfigError(MultisurvError, ValueError):
    """A simulation config does not satisfy ``simulation_config.v1``; ``.problems`` lists every problem.

    Parameters
    ----------
    problems : iterable of str
        Every problem found, each with its key path and the fix; kept as the list ``.problems``.
    source : str, optional
        The config file (kept as ``.source``), named in the message.

    Examples
    --------
    >>> try:
    ...     SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "s", "out": "o", "seed": -1})
    ... except SimulationConfigError as exc:
    ...     print(exc.problems)
    ["key 'seed': must be a whole number >= 0; got -1. Write a whole number such as 0."]
    """

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        head = f"{len(self.problems)} problem(s) found{where} (format {SCHEMA}):"
        super().__init__("\n".join([head, *("  - " + p for p in self.problems)]))


@dataclass(frozen=True)
class SelectorSettings:
    """Settings of every LassoCoxSelector in the models (cheaper than the study defaults when wanted).

    Parameters
    ----------
    alpha : "cv" or float, default="cv"
        Penalty chosen by cross-validation, or a fixed penalty > 0 (the cheapest setting).
    cv : int, default=3
        Folds of the cross-validation (at least 2).
    n_alphas : int, default=20
        Penalties on the path (at least 2).
    alpha_min_ratio : float, default=0.01
        Smallest penalty of the path relative to the largest, in (0, 1).
    rule : {"min", "1se"}, default="min"
        The penalty with the best cross-validated fit, or the largest within one standard error of it.
    max_features : int, optional
        At most this many selected features; None: no cap.

    Examples
    --------
    >>> SelectorSettings(alpha=0.05)
    SelectorSettings(alpha=0.05, cv=3, n_alphas=20, alpha_min_ratio=0.01, rule='min', max_features=None)
    """

    alpha: float | str = "cv"
    cv: int = 3
    n_alphas: int = 20
    alpha_min_ratio: float = 0.01
    rule: str = "min"
    max_features: int | None = None


@dataclass(frozen=True)
class Scenario:
    """One data-generating mechanism of the study, with its name and the factor levels that define it.

    Parameters
    ----------
    name : str
        E.g. ``"shift_ct=1.0, n_external=200"`` for a crossed design, or the name given in a listed one.
    mechanism : Mechanism
        The base mechanism with the scenario's levels applied.
    levels : mapping, default={}
        Mechanism field -> the value this scenario sets.

    Examples
    --------
    >>> cfg = SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "s", "out": "runs/s",
    ...                                   "factors": {"shift_ct": [0.0, 1.0]}})
    >>> s = cfg.scenarios[1]
    >>> s.name, dict(s.levels), s.mechanism.shift_ct
    ('shift_ct=1.0', {'shift_ct': 1.0}, 1.0)
    """

    name: str
    mechanism: Mechanism
    levels: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SimulationConfig:
    """A checked ``simulation_config.v1`` file (see the module docstring for the keys).

    Build one with :meth:`from_yaml` or :meth:`from_dict`, which check every key; the constructor checks nothing.

    Parameters
    ----------
    name : str
        The simulation's name.
    out : Path
        Output folder (resolved against the config's folder).
    scenarios : tuple of Scenario
        The data-generating mechanisms compared.
    seed : int, default=0
        Seed of the whole study (each replicate's seed derives from it, see
        :func:`multisurv.simulation.runner.replicate_seed`).
    replicates : int, default=100
        Simulated studies per scenario (at least 2).
    n_bootstrap : int, default=500
        Bootstrap resamples per external C-index interval.
    confidence : float, default=0.95
        Level of the intervals, in (0, 1).
    n_truth : int, default=10000
        Size of the large external sample that gives the estimand (the true C).
    models : tuple of str, default=("radscore", "patscore", "clinscore", "early", "late", "truth")
        Models fitted in every replicate (names of :data:`MODELS`).
    selector : SelectorSettings
        Settings of every LASSO-Cox selector.
    late_cv : int, default=3
        Folds of late fusion's out-of-fold scores.
    early_penalizer : float, default=0.1
        Ridge penalty of early fusion's Cox model.
    intermediate : mapping, default={}
        Settings of the ``intermediate`` model.
    description : str, default=""
        Free text for the report.
    source : Path, optional
        The YAML file the config was read from.

    Examples
    --------
    >>> cfg = SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "s", "out": "runs/s",
    ...                                   "replicates": 50, "factors": {"n_external": [42, 200]}})
    >>> cfg.replicates, len(cfg.scenarios), cfg.selector.cv
    (50, 2, 3)
    """

    name: str
    out: Path
    scenarios: tuple[Scenario, ...]
    seed: int = 0
    replicates: int = 100
    n_bootstrap: int = 500
    confidence: float = 0.95
    n_truth: int = 10_000
    models: tuple[str, ...] = ("radscore", "patscore", "clinscore", "early", "late", "truth")
    selector: SelectorSettings = field(default_factory=SelectorSettings)
    late_cv: int = 3
    early_penalizer: float = 0.1
    #: Settings of the ``intermediate`` model (``fusion.intermediate``; keys of INTERMEDIATE_OPTIONS).
    intermediate: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    source: Path | None = None

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimulationConfig:
        """Read and check a config file; raise :class:`SimulationConfigError` listing every problem.

        Parameters
        ----------
        path : str or Path
            A ``simulation_config.v1`` YAML file; ``out`` is read from its folder.

        Returns
        -------
        SimulationConfig
            With ``source`` set to the file's absolute path.

        Raises
        ------
        FileNotFoundError
            When the file does not exist.
        SimulationConfigError
            When it is not YAML or does not satisfy ``simulation_config.v1``.

        Examples
        --------
        >>> cfg = SimulationConfig.from_yaml("experiments/fusion_simulation/simulation.yaml")  # doctest: +SKIP
        >>> cfg.name  # doctest: +SKIP
        'fusion_simulation'
        """
        path = Path(path).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"Simulation config {str(path)!r} does not exist. Give the path of a YAML file "
                                    "(see experiments/fusion_simulation/simulation.yaml).")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise SimulationConfigError([f"not valid YAML: {exc}. Fix the syntax (indent with spaces)."],
                                        source=str(path)) from None
        return cls.from_dict(raw, base=path.parent, source=path)

    @classmethod
    def from_dict(cls, raw: Any, *, base: str | Path | None = None,
                  source: str | Path | None = None) -> SimulationConfig:
        """Build from a parsed mapping (``base``: the folder ``out`` is read from; default the working folder).

        Parameters
        ----------
        raw : mapping
            The parsed ``simulation_config.v1`` document (anything else is reported as a problem).
        base : str or Path, optional
            The folder ``out`` is read from.
        source : str or Path, optional
            The file the mapping came from, named in problems and kept as ``source``.

        Returns
        -------
        SimulationConfig

        Raises
        ------
        SimulationConfigError
            Listing every problem of the mapping.

        Examples
        --------
        >>> cfg = SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "s", "out": "runs/s",
        ...                                   "factors": {"shift_ct": [0.0, 1.0]}})
        >>> [s.name for s in cfg.scenarios]
        ['shift_ct=0.0', 'shift_ct=1.0']
        >>> SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "s", "out": "o",
        ...                             "replicates": 1, "factors": {"shfit_ct": [0]}})
        Traceback (most recent call last):
        ...
        multisurv.simulation.config.SimulationConfigError: 2 problem(s) found (format simulation_config.v1):
          - key 'replicates': must be a whole number >= 2; got 1. Write a whole number such as 100.
          - key 'factors.shfit_ct': must be a field of the mechanism; got 'shfit_ct'. Did you mean 'shift_ct'?
        """
        checker = _Checker(Path(base) if base is not None else Path.cwd())
        config = checker.config(raw, source)
        if checker.problems:
            raise SimulationConfigError(checker.problems, source=str(source) if source is not None else None)
        return config

    def to_dict(self) -> dict[str, Any]:
        """The resolved config (every scenario's full mechanism), JSON- and YAML-ready.

        Returns
        -------
        dict
            ``schema``, the settings, ``selector``, ``fusion`` and one entry per scenario (``name``, ``levels``,
            ``key`` and the full ``mechanism``).

        Examples
        --------
        >>> cfg = SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "s", "out": "runs/s",
        ...                                   "factors": {"shift_ct": [0.0, 1.0]}})
        >>> resolved = cfg.to_dict()
        >>> resolved["schema"], [s["name"] for s in resolved["scenarios"]]
        ('simulation_config.v1', ['shift_ct=0.0', 'shift_ct=1.0'])
        """
        return {
            "schema": SCHEMA, "name": self.name, "description": self.description, "out": str(self.out),
            "seed": self.seed, "replicates": self.replicates, "n_bootstrap": self.n_bootstrap,
            "confidence": self.confidence, "n_truth": self.n_truth, "models": list(self.models),
            "selector": dataclasses.asdict(self.selector),
            "fusion": {"late_cv": self.late_cv, "early_penalizer": self.early_penalizer,
                       **({"intermediate": dict(self.intermediate)} if self.intermediate else {})},
            "scenarios": [{"name": s.name, "levels": dict(s.levels), "key": s.mechanism.key(),
                           "mechanism": s.mechanism.to_dict()} for s in self.scenarios],
        }


class _Checker:
    """Collects every problem as "key 'path': must be ...; got X. Fix." instead of stopping at the first."""

    def __init__(self, base: Path):
        self.base = base
        self.problems: list[str] = []

    def add(self, key: str, must: str, got: Any, fix: str) -> None:
        self.problems.append(f"key '{key}': must be {must}; got {got!r}. {fix}")

    def mapping(self, raw: Any, key: str, allowed: set[str] | None) -> dict:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.add(key, "a mapping (indented 'name: value' lines)", raw, "Write it as a YAML mapping.")
            return {}
        if allowed is not None:
            for k in raw:
                if k not in allowed:
                    self.unknown(f"{key}.{k}" if key else str(k), k, allowed, "one of the known keys")
        return dict(raw)

    def unknown(self, path: str, name: Any, allowed, must: str) -> None:
        close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
        hint = f"Did you mean '{close[0]}'?" if close else f"Use one of: {', '.join(sorted(allowed))}."
        self.add(path, must, name, hint)

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
               low_open: bool = False, high_open: bool = False) -> float:
        value = raw.get(key, default)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and (value > low if low_open else value >= low)
        ok = ok and (high is None or (value < high if high_open else value <= high))
        if not ok:
            left = "(" if low_open else "["
            right = ")" if high_open or high is None else "]"
            rng = f"{left}{low}, {high if high is not None else 'inf'}{right}"
            self.add(path, f"a number in {rng}", value, f"Write a number such as {default}.")
            return default
        return float(value)

    # --------------------------------------------------------------------------------- mechanism values
    def level(self, name: str, value: Any, path: str) -> Any:
        """Check one value of a Mechanism field; return it (or None after adding a problem)."""
        low, high, kind = _FIELDS[name]
        if kind == "bool":
            if isinstance(value, bool):
                return value
            self.add(path, "true or false", value, "Write true or false.")
            return None
        if kind == "range":
            ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in value)
            if ok and value[0] <= value[1]:
                return (float(value[0]), float(value[1]))
            self.add(path, "a pair [low, high] with 0 <= low <= high <= 1", value, "Write e.g. [0.6, 0.95].")
            return None
        if kind == "ratio":
            ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 1 for v in value)
            if ok and value[0] <= value[1]:
                return (float(value[0]), float(value[1]))
            self.add(path, "a pair [low, high] with 1 <= low <= high", value, "Write e.g. [2, 12].")
            return None
        if kind == "rate":
            if value is None:
                return None
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
            if ok:
                return float(value)
            self.add(path, "null (the image-level censoring) or a share of events in (0, 1)", value,
                     "Write e.g. 0.3, or null.")
            return None
        is_int = isinstance(value, int) and not isinstance(value, bool)
        ok = is_int if kind == "int" else isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and (low is None or value >= low) and (high is None or value <= high)
        if ok:
            return int(value) if kind == "int" else float(value)
        what = "a whole number" if kind == "int" else "a number"
        bounds = f" in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        self.add(path, what + bounds, value, f"Write {what} such as {getattr(Mechanism(), name)}.")
        return None

    def overrides(self, raw: Any, path: str, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        raw = self.mapping(raw, path, None)
        out = {}
        for k, v in raw.items():
            if k in skip:
                continue
            if k not in _FIELDS:
                self.unknown(f"{path}.{k}", k, _FIELDS, "a field of the mechanism")
                continue
            value = self.level(k, v, f"{path}.{k}")
            if value is not None or _FIELDS[k][2] == "rate" and v is None:
                out[k] = value
        return out

    # --------------------------------------------------------------------------------------- sections
    def config(self, raw: Any, source) -> SimulationConfig:
        top = {"schema", "name", "description", "out", "seed", "replicates", "n_bootstrap", "confidence", "n_truth",
               "models", "selector", "fusion", "base", "design", "factors", "scenarios"}
        if not isinstance(raw, Mapping):
            self.add("(top level)", "a mapping with at least 'schema', 'name' and 'out'", raw,
                     "Start from experiments/fusion_simulation/simulation.yaml.")
            return SimulationConfig(name="?", out=Path("?"), scenarios=())
        raw = self.mapping(raw, "", top)
        if raw.get("schema") != SCHEMA:
            self.add("schema", f"exactly '{SCHEMA}'", raw.get("schema"), f"Add the line 'schema: {SCHEMA}'.")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            self.add("name", "a non-empty text", name, "Write a name such as 'fusion_simulation'.")
            name = "?"
        out_raw = raw.get("out")
        if not isinstance(out_raw, str) or not out_raw.strip():
            self.add("out", "the output folder (a path)", out_raw, "Add e.g. 'out: runs/my_simulation' (relative to "
                     "the config's folder), or pass --out.")
            out = Path("?")
        else:
            out = (self.base / Path(out_raw).expanduser()).resolve()
        seed = self.integer(raw, "seed", "seed", 0, 0)
        replicates = self.integer(raw, "replicates", "replicates", 100, 2)
        n_bootstrap = self.integer(raw, "n_bootstrap", "n_bootstrap", 500, 0)
        confidence = self.number(raw, "confidence", "confidence", 0.95, 0, 1, low_open=True, high_open=True)
        n_truth = self.integer(raw, "n_truth", "n_truth", 10_000, 0)
        models = self.models(raw.get("models", list(SimulationConfig.models)))
        selector = self.selector(self.mapping(raw.get("selector"), "selector",
                                              {f.name for f in dataclasses.fields(SelectorSettings)}))
        fusion = self.mapping(raw.get("fusion"), "fusion", {"late_cv", "early_penalizer", "intermediate"})
        late_cv = self.integer(fusion, "late_cv", "fusion.late_cv", 3, 2)
        penalizer = self.number(fusion, "early_penalizer", "fusion.early_penalizer", 0.1, 0)
        intermediate = self.intermediate(self.mapping(fusion.get("intermediate"), "fusion.intermediate",
                                                      set(INTERMEDIATE_OPTIONS)))
        base = Mechanism().replace(**self.overrides(raw.get("base"), "base"))
        scenarios = self.scenarios(raw, base)
        description = raw.get("description") or ""
        return SimulationConfig(name=name, out=out, scenarios=scenarios, seed=seed, replicates=replicates,
                                n_bootstrap=n_bootstrap, confidence=confidence, n_truth=n_truth, models=models,
                                selector=selector, late_cv=late_cv, early_penalizer=penalizer,
                                intermediate=intermediate, description=str(description), source=Path(source) if source is not None else None)

    def intermediate(self, raw: dict) -> dict[str, Any]:
        out = {}
        for key, value in raw.items():
            kind = INTERMEDIATE_OPTIONS.get(key)
            if kind is None:
                continue  # reported by mapping()
            ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                ok, value = True, float(value)
            if not ok:
                self.add(f"fusion.intermediate.{key}", f"a value of type {kind.__name__}", value,
                         "See fusion.intermediate in data_schemas/study_config.v1.yaml.")
            else:
                out[key] = value
        return out

    def models(self, raw: Any) -> tuple[str, ...]:
        if isinstance(raw, str) or not isinstance(raw, (list, tuple)) or not raw:
            self.add("models", f"a non-empty list of model names ({', '.join(MODELS)})", raw,
                     "Write e.g. 'models: [clinscore, early, late, truth]'.")
            return SimulationConfig.models
        out = []
        for i, m in enumerate(raw):
            if m not in MODELS:
                self.unknown(f"models[{i}]", m, MODELS, "a known model")
            elif m in out:
                self.add(f"models[{i}]", "listed once", m, "Remove the repeated name.")
            else:
                out.append(m)
        return tuple(out)

    def selector(self, raw: dict) -> SelectorSettings:
        alpha = raw.get("alpha", "cv")
        if alpha != "cv" and (isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0):
            self.add("selector.alpha", "'cv' or a penalty > 0", alpha, "Write 'cv' (penalty by cross-validation) or "
                     "a fixed penalty such as 0.05 (the cheapest setting).")
            alpha = "cv"
        rule = raw.get("rule", "min")
        if rule not in ("min", "1se"):
            self.add("selector.rule", "one of 'min', '1se'", rule, "Use one of them (default 'min').")
            rule = "min"
        return SelectorSettings(
            alpha=alpha if alpha == "cv" else float(alpha), cv=self.integer(raw, "cv", "selector.cv", 3, 2),
            n_alphas=self.integer(raw, "n_alphas", "selector.n_alphas", 20, 2),
            alpha_min_ratio=self.number(raw, "alpha_min_ratio", "selector.alpha_min_ratio", 0.01, 0, 1,
                                        low_open=True, high_open=True),
            rule=rule, max_features=self.integer(raw, "max_features", "selector.max_features", None, 1,
                                                 optional=True))

    def scenarios(self, raw: dict, base: Mechanism) -> tuple[Scenario, ...]:
        design = raw.get("design", "listed" if "scenarios" in raw and "factors" not in raw else "crossed")
        if design not in ("crossed", "listed"):
            self.add("design", "one of 'crossed', 'listed'", design, "Use 'crossed' with 'factors' (every "
                     "combination) or 'listed' with 'scenarios' (named overrides).")
            return ()
        if design == "crossed":
            if "scenarios" in raw:
                self.add("scenarios", "absent when design is 'crossed'", "(a list)", "Remove it, or set "
                         "'design: listed' and drop 'factors'.")
            factors = self.mapping(raw.get("factors"), "factors", None)
            levels: dict[str, list] = {}
            for k, values in factors.items():
                if k not in _FIELDS:
                    self.unknown(f"factors.{k}", k, _FIELDS, "a field of the mechanism")
                    continue
                if not isinstance(values, list) or not values:
                    self.add(f"factors.{k}", "a non-empty list of levels", values, f"Write e.g. '{k}: [0.0, 1.0]'.")
                    continue
                checked = [self.level(k, v, f"factors.{k}[{i}]") for i, v in enumerate(values)]
                if all(c is not None or _FIELDS[k][2] == "rate" for c in checked):
                    levels[k] = checked
            out = []
            for combo in itertools.product(*levels.values()):
                chosen = dict(zip(levels, combo))
                name = ", ".join(f"{k}={_fmt(v)}" for k, v in chosen.items()) or "base"
                out.append(Scenario(name=name, mechanism=base.replace(**chosen), levels=chosen))
            return tuple(out)
        if "factors" in raw:
            self.add("factors", "absent when design is 'listed'", "(a mapping)", "Remove it, or set 'design: crossed' "
                     "and drop 'scenarios'.")
        items = raw.get("scenarios")
        if not isinstance(items, list) or not items:
            self.add("scenarios", "a non-empty list of mappings, each with a 'name' and mechanism fields", items,
                     "Write e.g. '- {name: gist, n_external: 42}'.")
            return ()
        out, names = [], set()
        for i, item in enumerate(items):
            path = f"scenarios[{i}]"
            if not isinstance(item, Mapping):
                self.add(path, "a mapping with a 'name' and mechanism fields", item, "Write e.g. '{name: a, ...}'.")
                continue
            name = item.get("name")
            if not isinstance(name, str) or not name.strip():
                self.add(f"{path}.name", "a non-empty text", name, "Give every scenario a name.")
                continue
            if name in names:
                self.add(f"{path}.name", "a name not used by another scenario", name, "Rename it.")
            names.add(name)
            chosen = self.overrides(item, path, skip=("name",))
            out.append(Scenario(name=name, mechanism=base.replace(**chosen), levels=chosen))
        return tuple(out)


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return "null" if value is None else str(value)
