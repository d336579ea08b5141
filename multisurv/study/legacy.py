"""The retired model config (``model_config.v1``), read as a study config.

``model_config.v1`` was a second config format for ``multisurv fit`` on precomputed feature tables: per-modality
selector pipelines and score models, and a fusion strategy. The study config (``study_config.v1``) now says all of
it (a ``table`` modality reads a feature table; ``selector``, ``model`` and ``model_params`` set a modality's
selection and score model; ``figures.primary`` is the model that ``fit`` saves), so there is one format and one study
core. :func:`study_config_from_model_config` writes the study config that fits the same model; ``multisurv fit``
calls it when given an old file and says where the new file is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from multisurv.registry import BUILTIN_MODALITIES, FUSION_STRATEGIES, SCORE_MODELS, SELECTORS

__all__ = ["ConfigError", "load_model_config", "study_config_from_model_config", "CONFIG_SCHEMA"]

#: The retired format's ``schema`` word.
CONFIG_SCHEMA = "model_config.v1"
_MODELS = tuple(SCORE_MODELS)
_STRATEGIES = ("early", "late", "late_insample", "none")  # the words of multisurv.registry.FUSION_STRATEGIES


class ConfigError(ValueError):
    """A model config has problems; the message lists every one.

    Parameters
    ----------
    problems : list of str
        Every problem found, one sentence each (kept as ``problems``).
    source : str
        Where the config came from (its file name), for the first line of the message.

    Examples
    --------
    >>> err = ConfigError(["key 'selector': unknown.", "key 'alpha': must be > 0."], "model.yaml")
    >>> print(err)
    2 problem(s) in model.yaml:
      - key 'selector': unknown.
      - key 'alpha': must be > 0.
    """

    def __init__(self, problems: list[str], source: str):
        self.problems = problems
        super().__init__("\n".join([f"{len(problems)} problem(s) in {source}:", *("  - " + p for p in problems)]))


def load_model_config(path: str | Path) -> dict:
    """Read and check a ``model_config.v1`` YAML file; paths become absolute (relative to the file).

    Parameters
    ----------
    path : str or Path
        The config file (``data_schemas/model_config.v1.yaml`` is the commented template).

    Returns
    -------
    dict
        The checked config: ``manifest`` and ``features`` as absolute paths, ``modalities``, ``fusion``,
        ``clinical``, ``development`` and ``seed`` as written.

    Raises
    ------
    ConfigError
        Listing every problem found (missing keys, unknown selector or model names, bad types).
    FileNotFoundError
        When the config file does not exist.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = Path(d) / "model.yaml"
    ...     _ = path.write_text("schema: model_config.v1\\nmanifest: cohort.csv\\n")
    ...     try:
    ...         load_model_config(path)
    ...     except ConfigError as exc:
    ...         print(exc.problems[1])
    'modalities' must be a non-empty list of {name, prefix, model, selector}.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Model config {path} not found.")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    problems: list[str] = []
    if not isinstance(config, dict):
        raise ConfigError(["the file must hold a mapping of keys (schema, manifest, modalities, ...)"], str(path))
    if config.get("schema") != CONFIG_SCHEMA:
        problems.append(f"'schema' must be {CONFIG_SCHEMA!r}; got {config.get('schema')!r}.")
    base = path.parent
    if not isinstance(config.get("manifest"), str):
        problems.append("'manifest' must be the path of the outcome CSV (patient_id, time, event).")
    else:
        config["manifest"] = str((base / config["manifest"]).resolve())
        if not Path(config["manifest"]).is_file():
            problems.append(f"'manifest': {config['manifest']} not found.")
    features = config.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        problems.append("'features' must be a list of feature-table paths (CSV or Parquet).")
        features = []
    config["features"] = [str((base / f).resolve()) for f in features]
    problems += [f"'features': {f} not found." for f in config["features"] if not Path(f).is_file()]
    clinical = config.get("clinical")
    if clinical is not None and not (isinstance(clinical, dict) and set(clinical) <= {"numeric", "categorical"}):
        problems.append("'clinical' must be a mapping with 'numeric' and/or 'categorical' lists of manifest columns.")
    modalities = config.get("modalities")
    if not isinstance(modalities, list) or not modalities:
        problems.append("'modalities' must be a non-empty list of {name, prefix, model, selector}.")
        modalities = []
    for i, m in enumerate(modalities):
        where = f"modalities[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not isinstance(m.get("prefix"), str):
            problems.append(f"{where} needs a 'name' (e.g. radscore) and a 'prefix' (e.g. 'ct__').")
            continue
        if m.get("model", "linear") not in _MODELS:
            problems.append(f"{where} ({m['name']}): unknown model {m.get('model')!r}. Choose one of: "
                            f"{', '.join(repr(x) for x in _MODELS)}.")
        steps = m.get("selector", [{"lasso": {}}])
        if not isinstance(steps, list):
            problems.append(f"{where} ({m['name']}): 'selector' must be a list of steps like '- lasso: {{cv: 5}}'.")
            continue
        names = [next(iter(s)) for s in steps if isinstance(s, dict) and len(s) == 1]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"{where} ({m['name']}): selector step {name!r} is listed {names.count(name)} times; each "
                            "step may appear once (merge their parameters or drop one).")
        for step in steps:
            if not (isinstance(step, dict) and len(step) == 1):
                problems.append(f"{where} ({m['name']}): each selector step is one 'name: {{params}}' mapping; "
                                f"got {step!r}.")
                continue
            (name, params), = step.items()
            if name not in SELECTORS:
                problems.append(f"{where} ({m['name']}): unknown selector {name!r}. Choose one of: "
                                f"{', '.join(repr(s) for s in SELECTORS)}.")
            elif params is not None and not isinstance(params, dict):
                problems.append(f"{where} ({m['name']}): the parameters of {name!r} must be a mapping.")
    fusion = config.setdefault("fusion", {"strategy": "late"})
    if isinstance(fusion, dict) and fusion.get("strategy") == "stacked":
        problems.append("'fusion.strategy: stacked' was renamed: out-of-fold late fusion is now 'late' and in-sample "
                        "late fusion 'late_insample' (the words of the study config). Write 'strategy: late'.")
    elif not isinstance(fusion, dict) or fusion.get("strategy", "late") not in _STRATEGIES:
        problems.append(f"'fusion.strategy' must be one of {', '.join(repr(s) for s in _STRATEGIES)}.")
    elif fusion.get("strategy") == "none" and len(modalities) != 1:
        problems.append("'fusion.strategy: none' fits a single modality; list exactly one under 'modalities'.")
    if not isinstance(config.setdefault("seed", 0), int):
        problems.append("'seed' must be an integer.")
    if problems:
        raise ConfigError(problems, str(path))
    return config


def _columns(path: str) -> list[str]:
    """Column names of a CSV/TSV/Parquet table (the header only, for CSV)."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return [str(c) for c in pq.read_schema(p).names]
    return [str(c) for c in pd.read_csv(p, nrows=0, sep=None if p.suffix.lower() == ".tsv" else ",",
                                        engine="python" if p.suffix.lower() == ".tsv" else "c").columns]


def _name(text: str, taken: set[str]) -> str:
    """A modality name (lowercase letters, digits, '_') from a score name, unique among ``taken``."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "modality"
    name = name if name[0].isalpha() else f"m_{name}"
    base, i = name, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def study_config_from_model_config(path: str | Path, out: str | Path) -> Path:
    """Write the study config (``study_config.v1``) that fits the model an old ``model_config.v1`` file describes.

    Each modality becomes a ``table`` modality reading the feature table (or the manifest) that holds its prefixed
    columns, with its ``selector`` steps, ``model`` and ``model_params`` (the old ``params``) and its score name; a
    ``clin__`` modality with the old ``clinical`` section becomes the ``clinical`` modality with a clinical spec
    written beside the config (a categorical variable's categories are those its manifest column holds). The
    fusion strategy becomes ``figures.primary`` (the model ``multisurv fit`` saves; ``late`` is always among the
    study's strategies). The study reads a copy of the manifest with its core and clinical columns (``cohort`` is
    ``development`` in every row when the old file had no ``development``: every row was fitted on).

    Parameters
    ----------
    path : str or Path
        The ``model_config.v1`` file (checked by :func:`load_model_config`).
    out : str or Path
        Folder for the new files (``study_config.yaml``, ``manifest.csv`` and, with a clinical section,
        ``clinical_spec.yaml``); also the study's ``out``.

    Returns
    -------
    Path
        The written ``out/study_config.yaml``.

    Raises
    ------
    ConfigError
        When the old file has problems, or describes what a study config cannot say (one modality alone, a
        modality whose columns are in no table or in several).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"patient_id": ["a", "b"], "cohort": ["development"] * 2, "time": [3.0, 5.0],
    ...               "event": [1, 0], "clin__age": [60.0, 70.0]}).to_csv(d / "manifest.csv", index=False)
    >>> pd.DataFrame({"patient_id": ["a", "b"], "ct__f1": [0.1, 0.2]}).to_csv(d / "ct.csv", index=False)
    >>> _ = (d / "model.yaml").write_text(
    ...     "schema: model_config.v1\\nmanifest: manifest.csv\\ndevelopment: development\\nfeatures: [ct.csv]\\n"
    ...     "modalities:\\n  - {name: radscore, prefix: ct__, selector: [{variance: {}}, {lasso: {cv: 3}}]}\\n"
    ...     "  - {name: clinscore, prefix: clin__}\\nfusion: {strategy: early}\\n")
    >>> study = yaml.safe_load(study_config_from_model_config(d / "model.yaml", d / "fitted").read_text())
    >>> study["modalities"]["radscore"]["kind"], study["modalities"]["radscore"]["selector"]
    ('table', [{'variance': {}}, {'lasso': {'cv': 3}}])
    >>> study["modalities"]["clinscore"]["path"] == str(d / "manifest.csv"), study["figures"]["primary"]
    (True, 'early_fusion')
    """
    config = load_model_config(path)
    out = Path(out).resolve()
    source = Path(path).name
    problems: list[str] = []
    manifest_columns = _columns(config["manifest"])
    sources = {f: _columns(f) for f in config["features"]}
    sources[config["manifest"]] = manifest_columns
    from multisurv.cohort.outcomes import read_outcome_table

    read_outcome_table(config["manifest"], outcome=True)  # its errors name the user's file, before anything is written
    modalities: dict[str, dict] = {}
    spec_file = spec_doc = None

    def levels(column: str) -> list[str]:  # the categories the manifest holds (the old format listed none)
        values = pd.read_csv(config["manifest"], dtype=str, keep_default_na=False, usecols=[column])[column]
        return sorted({v.strip() for v in values if v.strip()})

    for m in config["modalities"]:
        name = _name(m["name"], set(modalities))
        entry: dict[str, Any] = {}
        if m["prefix"] == BUILTIN_MODALITIES["clinical"].prefix and config.get("clinical"):
            entry["kind"] = "clinical"
            spec = config["clinical"]
            spec_file = out / "clinical_spec.yaml"
            spec_doc = {"schema": "clinical_variables.v1", "description": f"From {source}.",
                        "variables": [{"name": c, "type": "numeric"} for c in spec.get("numeric", [])]
                        + [{"name": c, "type": "categorical", "categories": levels(c)}
                           for c in spec.get("categorical", [])]}
        else:
            holders = {f: [c for c in cols if c.startswith(m["prefix"])] for f, cols in sources.items()}
            holders = {f: cols for f, cols in holders.items() if cols}
            if len(holders) != 1:
                problems.append(f"modality {m['name']!r}: its {m['prefix']!r} columns are in "
                                + ("no table" if not holders else "several tables (" + ", ".join(
                                    Path(f).name for f in holders) + ")")
                                + "; a study reads each modality from one table. "
                                + ("Add the table under 'features'." if not holders else "Merge them into one."))
                continue
            (table, columns), = holders.items()
            entry.update({"kind": "table", "path": table, "columns": columns})
        entry.update({"prefix": m["prefix"], "score": m["name"],
                      "selector": [dict(step) if step else step for step in m.get("selector", [{"lasso": {}}])],
                      "model": m.get("model", "linear")})
        entry["selector"] = [{k: dict(v or {}) for k, v in step.items()} for step in entry["selector"]]
        if m.get("params"):
            entry["model_params"] = dict(m["params"])
        modalities[name] = entry
    fusion = dict(config.get("fusion") or {})
    strategy = fusion.pop("strategy", "late")
    names = list(modalities)
    if strategy == "none" or len(config["modalities"]) < 2:
        problems.append("'fusion.strategy: none' (one modality alone): a study config has at least two modalities. "
                        "Write a study config with this modality and a second one (e.g. 'clinical: {}') and set "
                        f"'figures.primary: {names[0] if names else 'NAME'}': 'multisurv fit' fits and saves that "
                        "model alone.")
    if problems:
        raise ConfigError(problems, source)
    # the study reads a copy with the core and clinical columns only (a study manifest refuses other columns; the
    # old format ignored them and read prefixed feature columns from it, which the table modalities now read)
    out.mkdir(parents=True, exist_ok=True)
    if spec_doc is not None:
        spec_file.write_text(yaml.safe_dump(spec_doc, sort_keys=False), encoding="utf-8")
    table = pd.read_csv(config["manifest"], dtype=str, keep_default_na=False)
    if config.get("development") is None:  # every row was a development patient
        table["cohort"] = "development"
    clinical = [c for part in ("numeric", "categorical") for c in (config.get("clinical") or {}).get(part, [])
                if spec_file is not None]
    manifest = str(out / "manifest.csv")
    table.loc[:, [c for c in ("patient_id", "cohort", "time", "event") if c in table.columns] + clinical].to_csv(
        manifest, index=False)
    study = {"schema": "study_config.v1", "name": Path(path).stem,
             "description": f"Written from the model config {source} (model_config.v1, retired).",
             "out": str(out), "seed": int(config.get("seed", 0)),
             "cohort": {"manifest": manifest, "development": str(config.get("development") or "development"),
                        **({"clinical_spec": str(spec_file)} if spec_file else {})},
             "modalities": modalities,
             "fusion": {"strategies": list(dict.fromkeys([strategy, "late"])), **fusion},
             "figures": {"primary": FUSION_STRATEGIES[strategy].model}}
    target = out / "study_config.yaml"
    target.write_text(f"# Written by multisurv from {Path(path).resolve()} (model_config.v1, now retired):\n"
                      "# the same model as a study config. Use this file from now on: 'multisurv fit' fits and "
                      "saves\n# figures.primary; 'multisurv run' also evaluates every model and writes the report.\n"
                      + yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    return target
