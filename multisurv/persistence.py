"""Save and load a fitted study model in a format that cannot run code when it is loaded.

A model folder holds ``model.skops`` and ``manifest.json`` (format ``multisurv-model.v2``). ``model.skops`` is
written with :mod:`skops.io`: a zip of JSON and ``.npy`` arrays, rebuilt on load from an explicit list of
trusted types (:data:`TRUSTED_TYPES`) without ever unpickling. pandas objects inside the fitted estimators are
stored as plain arrays and rebuilt (skops cannot store them). ``manifest.json`` records the config the model was
fitted from, the versions of Python and of every package whose classes are in the file, the SHA-256 of each
training table, the feature columns the model needs, and the SHA-256 of ``model.skops``.

:func:`load_model` checks, in order: both files exist; the manifest's format; the SHA-256 of ``model.skops``
(*before* reading it); that every type named in the file is in :data:`TRUSTED_TYPES` (a file naming any other
type, such as ``os.system``, is refused without constructing anything); the package versions. What is *not*
verified: who wrote the folder. The hash sits next to the file, so whoever can replace the model can rewrite
the manifest too; a rehashed file can still only hold trusted types (so it cannot run code), but its
coefficients may be anything. Keep the manifest's ``model_sha256`` somewhere safe (for example in the paper's
supplement) and compare it.

Folders of format ``multisurv-model.v1`` (a pickle, ``model.joblib``) are refused: unpickling runs code.
"""

from __future__ import annotations

import copy
import hashlib
import json
import platform
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from multisurv import __version__
from multisurv._atomic import write_json_atomic
from multisurv._hashing import sha256_file
from multisurv.exceptions import MultisurvError

__all__ = ["StudyModel", "ModelLoadError", "save_model", "load_model", "sha256_file", "sha256_frame",
           "model_types", "MODEL_FORMAT", "VERSIONED_PACKAGES", "TRUSTED_TYPES"]

MODEL_FORMAT = "multisurv-model.v2"
MODEL_FILE = "model.skops"
MANIFEST_FILE = "manifest.json"
_PICKLE_FORMAT = "multisurv-model.v1"
#: Packages whose classes end up inside the model file; a different major.minor version may not rebuild the same.
VERSIONED_PACKAGES = ("multisurv", "numpy", "pandas", "scipy", "scikit-learn", "scikit-survival", "skops")

#: Every type a saved model may name. Only the classes that
#: ``multisurv fit`` actually builds (found by saving every selector x model x fusion combination; see
#: tests/test_persistence.py::test_every_fit_config_saves_with_trusted_types_only). Nothing here runs code when
#: rebuilt: estimators are created with ``__new__`` and get their attributes set; numpy arrays are read with
#: ``allow_pickle=False``.
TRUSTED_TYPES: tuple[str, ...] = (
    # JSON primitives and containers
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int", "builtins.float",
    "builtins.bool", "builtins.NoneType", "builtins.slice",
    # numpy: arrays (read with allow_pickle=False), dtypes, scalars, the legacy random state of forests
    "numpy.ndarray", "numpy.dtype", "numpy.float64", "numpy.int64", "numpy.bool_", "numpy.random.RandomState",
    "numpy.random.mtrand.RandomState",
    # multisurv
    "multisurv.persistence.StudyModel", "multisurv.persistence._PandasParts",
    "multisurv.fusion.strategies.FusionCox", "multisurv.fusion.late.LateFusionCox",
    "multisurv.fusion.early.EarlyFusionCox", "multisurv.scores.nonlinear.NonlinearScore",
    "multisurv.scores.modality_score.ModalityScore", "multisurv.features.clinical.ClinicalPreprocessor",
    "multisurv.selection.filters.VarianceFilter", "multisurv.selection.filters.CorrelationFilter",
    "multisurv.selection.univariate_cox.UnivariateCoxSelector", "multisurv.selection.lasso_cox.LassoCoxSelector",
    "multisurv.selection.rsf.RSFPermutationSelector", "multisurv.selection.stepwise.StepwiseCoxSelector",
    "multisurv.selection.robustness.RobustnessFilter",  # saved by run_study with its fitted ICC table only
    # binary endpoints (LASSO-logistic branches and their fusions)
    "multisurv.fusion.logistic_late.LateFusionLogistic", "multisurv.fusion.logistic_early.EarlyFusionLogistic",
    "multisurv.fusion.logistic_early.BranchSelection", "multisurv.scores.logistic_score.LogisticModalityScore",
    "multisurv.scores.logistic.LogisticModel", "multisurv.selection.lasso_logistic.LassoLogisticSelector",
    # scikit-learn (Tree: node arrays are bounds-checked after loading, see _check_trees)
    "sklearn.pipeline.Pipeline", "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.impute._base.SimpleImputer", "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.tree._tree.Tree", "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn._loss.link.IdentityLink", "sklearn._loss.link.Interval",
    # scikit-survival
    "sksurv.linear_model.coxph.CoxPHSurvivalAnalysis", "sksurv.linear_model.coxph.BreslowEstimator",
    "sksurv.functions.StepFunction", "sksurv.ensemble.forest.RandomSurvivalForest", "sksurv.tree.tree.SurvivalTree",
    "sksurv.ensemble.boosting.GradientBoostingSurvivalAnalysis", "sksurv.ensemble.survival_loss.CoxPH",
)


class ModelLoadError(MultisurvError, ValueError):
    """A saved model cannot be loaded safely: missing, changed, untrusted or incompatible files.

    Raised by :func:`load_model`, and by :func:`save_model` for a model it could not load again; a
    ``ValueError`` subclass. Takes the message, like any exception.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     try:
    ...         load_model(d)
    ...     except ModelLoadError as exc:
    ...         print(type(exc).__name__, isinstance(exc, ValueError))
    ModelLoadError True
    """


@dataclass
class StudyModel:
    """A fitted study model: clinical preprocessing, the fusion (or single-score) estimator, and its columns.

    Parameters
    ----------
    estimator : fitted estimator
        ``predict(X) -> risk``; for late fusion also ``transform_scores(X)``.
    feature_columns : list of str
        Feature columns of ``X`` at fit time (after clinical encoding).
    clinical : fitted ClinicalPreprocessor or None, default=None
        Encodes the manifest's clinical columns into ``clin__*`` features.
    config : dict, default={}
        The config the model was fitted from.

    See Also
    --------
    save_model, load_model

    Examples
    --------
    >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
    >>> from multisurv._validation import make_y
    >>> X = pd.DataFrame({"ct__a": [0.1, 0.5, 0.9, 1.3, 0.2, 1.1], "wsi__b": [1.0, 0.0, 1.0, 0.0, 0.5, 0.2]},
    ...                  index=[f"p{i}" for i in range(6)])
    >>> y = make_y([5.0, 4.0, 2.0, 1.0, 6.0, 3.0], [True, True, False, True, True, True])
    >>> model = StudyModel(estimator=CoxPHSurvivalAnalysis(alpha=1.0).fit(X, y), feature_columns=list(X.columns))
    >>> model.predict_frame(model.features(pd.DataFrame(index=X.index), [X])).columns.tolist()
    ['risk']
    """

    estimator: Any
    feature_columns: list[str]
    clinical: Any = None
    config: dict = field(default_factory=dict)

    def features(self, manifest: pd.DataFrame, tables: list[pd.DataFrame]) -> pd.DataFrame:
        """Build the model's feature matrix for the patients of ``manifest`` (index patient_id).

        Parameters
        ----------
        manifest : pandas.DataFrame
            The cohort, indexed by ``patient_id``: the clinical columns the model encodes (with the encoding
            fitted on development) and any prefixed feature columns (``ct__*``...).
        tables : list of pandas.DataFrame
            Feature tables indexed by ``patient_id``; a patient missing from a table lacks that modality.

        Returns
        -------
        pandas.DataFrame
            One row per patient of ``manifest``, the columns the model was fitted on, in its order.

        Raises
        ------
        ValueError
            When the tables lack a column the model was fitted with (extract it with the training settings).

        Examples
        --------
        >>> model = StudyModel(estimator=None, feature_columns=["ct__a", "wsi__b"])
        >>> manifest = pd.DataFrame({"wsi__b": [0.3, 0.4]}, index=["p1", "p2"])
        >>> model.features(manifest, [pd.DataFrame({"ct__a": [1.0]}, index=["p2"])])
            ct__a  wsi__b
        p1    NaN     0.3
        p2    1.0     0.4
        """
        parts = [t.reindex(manifest.index) for t in tables]
        own = manifest.loc[:, [c for c in manifest.columns if "__" in str(c)]]
        if own.shape[1]:
            parts.append(own)
        if self.clinical is not None:
            parts.append(self.clinical.transform(manifest.loc[:, list(self.clinical.feature_names_in_)]))
        X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=manifest.index)
        X = X.loc[:, ~X.columns.duplicated()]
        missing = [c for c in self.feature_columns if c not in X.columns]
        if missing:
            raise ValueError(f"The feature tables lack {len(missing)} column(s) the model was fitted with: "
                             f"{', '.join(repr(c) for c in missing[:5])}{', ...' if len(missing) > 5 else ''}. "
                             "Extract them with the same settings as the training cohort.")
        return X.loc[:, self.feature_columns]

    def predict_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """Scores per modality (when the estimator has them) and the fused ``risk`` (higher = worse); for a
        binary-endpoint model (a classifier), each modality's log-odds and the event ``probability``.

        Parameters
        ----------
        X : pandas.DataFrame
            A feature matrix from :meth:`features`.

        Returns
        -------
        pandas.DataFrame
            Index of ``X``; one column per modality score (fusion models) and ``risk`` (survival) or
            ``probability`` (binary endpoint).

        Examples
        --------
        >>> from sksurv.linear_model import CoxPHSurvivalAnalysis
        >>> from multisurv._validation import make_y
        >>> X = pd.DataFrame({"ct__a": [0.1, 0.5, 0.9, 1.3, 0.2, 1.1], "wsi__b": [1.0, 0.0, 1.0, 0.0, 0.5, 0.2]},
        ...                  index=[f"p{i}" for i in range(6)])
        >>> y = make_y([5.0, 4.0, 2.0, 1.0, 6.0, 3.0], [True, True, False, True, True, True])
        >>> model = StudyModel(estimator=CoxPHSurvivalAnalysis(alpha=1.0).fit(X, y), feature_columns=list(X.columns))
        >>> scores = model.predict_frame(X)
        >>> scores.columns.tolist(), bool(scores["risk"].idxmax() == "p3")
        (['risk'], True)
        """
        out = pd.DataFrame(index=X.index)
        inner = getattr(self.estimator, "model_", self.estimator)
        if hasattr(self.estimator, "predict_proba"):  # binary endpoint: log-odds per modality, event probability
            if hasattr(inner, "scores"):
                out = inner.scores(X)
            out["probability"] = self.estimator.predict_proba(X)[:, 1]
            return out
        if hasattr(inner, "transform_scores"):
            out = inner.transform_scores(X)
        out["risk"] = self.estimator.predict(X)
        return out


def sha256_frame(frame: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's content: column names, index and values (independent of file format).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to hash.

    Returns
    -------
    str
        The hex digest (64 characters).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1.0, 2.0]}, index=["p1", "p2"])
    >>> sha256_frame(a) == sha256_frame(a.copy()), sha256_frame(a) == sha256_frame(a * 2)
    (True, False)
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in VERSIONED_PACKAGES:
        if dist == "multisurv":
            out[dist] = __version__
            continue
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


class _PandasParts:
    """A pandas Series, DataFrame or Index (or a dict with tuple keys) as plain arrays, lists and tuples.

    skops stores neither pandas objects nor dict keys other than str and int; these parts it can store.
    """

    def __init__(self, kind: str, parts: dict):
        self.kind = kind
        self.parts = parts


def _values_parts(values) -> dict:
    if isinstance(values.dtype, pd.CategoricalDtype):
        cat = pd.Categorical(values)
        return {"codes": np.asarray(cat.codes), "categories": _index_parts(cat.categories),
                "ordered": bool(cat.ordered)}
    array = np.asarray(values)
    if array.dtype.kind in "biufcmM":
        return {"array": array.copy()}
    if array.dtype.kind in "OUS":
        items = array.tolist()
        bad = {type(v).__name__ for v in items if not isinstance(v, (str, int, float, bool, type(None)))}
        if not bad:
            return {"list": items, "dtype": str(array.dtype)}
        raise TypeError(f"cannot store values of type {', '.join(sorted(bad))} in a model file")
    raise TypeError(f"cannot store a pandas column of dtype {values.dtype} in a model file")


def _values_from(parts: dict):
    if "codes" in parts:
        return pd.Categorical.from_codes(parts["codes"], categories=_index_from(parts["categories"]),
                                         ordered=parts["ordered"])
    if "array" in parts:
        return parts["array"]
    return np.array(parts["list"], dtype=parts["dtype"]) if parts["dtype"] != "object" else \
        np.array(parts["list"] + [None], dtype=object)[:-1]


def _index_parts(index: pd.Index) -> dict:
    if isinstance(index, pd.MultiIndex):
        return {"levels": [_index_parts(level) for level in index.levels],
                "codes": [np.asarray(c) for c in index.codes],
                "names": list(index.names)}
    if isinstance(index, pd.RangeIndex):
        return {"range": [index.start, index.stop, index.step], "name": index.name}
    return {"values": _values_parts(index), "name": index.name, "dtype": str(index.dtype)}


def _index_from(parts: dict) -> pd.Index:
    if "levels" in parts:
        return pd.MultiIndex(levels=[_index_from(p) for p in parts["levels"]], codes=parts["codes"],
                             names=parts["names"])
    if "range" in parts:
        return pd.RangeIndex(*parts["range"], name=parts["name"])
    return pd.Index(_values_from(parts["values"]), name=parts["name"], dtype=parts["dtype"])


def _pandas_parts(obj) -> _PandasParts:
    if isinstance(obj, pd.DataFrame):
        return _PandasParts("frame", {"columns": _index_parts(obj.columns), "index": _index_parts(obj.index),
                                      "values": [_values_parts(obj.iloc[:, i]) for i in range(obj.shape[1])]})
    if isinstance(obj, pd.Series):
        return _PandasParts("series", {"values": _values_parts(obj), "index": _index_parts(obj.index),
                                       "name": obj.name, "dtype": str(obj.dtype)})
    return _PandasParts("index", {"index": _index_parts(obj)})


def _pandas_from(parts: _PandasParts):
    p = parts.parts
    if parts.kind == "dict":
        return dict(p["items"])
    if parts.kind == "frame":
        frame = pd.DataFrame({i: _values_from(v) for i, v in enumerate(p["values"])}, index=_index_from(p["index"]))
        frame.columns = _index_from(p["columns"])
        return frame
    if parts.kind == "series":
        return pd.Series(_values_from(p["values"]), index=_index_from(p["index"]), name=p["name"])
    return _index_from(p["index"])


def _convert(obj, to_parts: bool, memo: dict):
    """Replace pandas objects by :class:`_PandasParts` (or back) everywhere in an object graph, in place."""
    key = id(obj)
    if key in memo:
        return memo[key]
    if to_parts and isinstance(obj, (pd.DataFrame, pd.Series, pd.Index)):
        memo[key] = _pandas_parts(obj)
        return memo[key]
    if not to_parts and isinstance(obj, _PandasParts):
        if obj.kind == "dict":
            obj.parts["items"] = [(k, _convert(v, to_parts, memo)) for k, v in obj.parts["items"]]
        memo[key] = _pandas_from(obj)
        return memo[key]
    if to_parts and isinstance(obj, dict) and not all(isinstance(k, (str, int)) for k in obj):
        memo[key] = parts = _PandasParts("dict", {"items": []})
        parts.parts["items"] = [(k, _convert(v, to_parts, memo)) for k, v in obj.items()]
        return parts
    memo[key] = obj
    if isinstance(obj, dict):
        for k in list(obj):
            obj[k] = _convert(obj[k], to_parts, memo)
    elif isinstance(obj, list):
        obj[:] = [_convert(v, to_parts, memo) for v in obj]
    elif isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        memo[key] = new = tuple(_convert(v, to_parts, memo) for v in obj)
        return new
    elif hasattr(obj, "__dict__") and not isinstance(obj, type) and type(obj).__module__.split(".")[0] in (
            "multisurv", "sklearn", "sksurv"):
        for k, v in list(vars(obj).items()):
            setattr(obj, k, _convert(v, to_parts, memo))
    return obj


def _schema_types(path: Path) -> set[str]:
    """Every ``module.class`` a skops file names (read from its JSON schema; nothing is constructed)."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__module__" in node or "__class__" in node:
                found.add(f"{node.get('__module__')}.{node.get('__class__')}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def model_types(path: str | Path) -> set[str]:
    """Every ``module.class`` a saved ``model.skops`` names, read from its schema without constructing anything.

    Parameters
    ----------
    path : str or Path
        A ``model.skops`` file written by :func:`save_model`.

    Returns
    -------
    set of str
        The dotted type names the file would construct (checked against the trusted types before loading).

    Examples
    --------
    >>> import tempfile
    >>> model = StudyModel(estimator=None, feature_columns=["ct__a"])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_model(model, d)
    ...     sorted(model_types(Path(d) / "model.skops"))[-1]
    'multisurv.persistence.StudyModel'
    """
    return _schema_types(Path(path))


def save_model(model: StudyModel, directory: str | Path, *, data: Mapping[str, Any] | None = None,
               extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``model.skops`` and ``manifest.json`` into ``directory``; return the manifest path.

    Parameters
    ----------
    model : StudyModel
        The fitted model to save.
    directory : str or Path
        Created if needed; an existing model there is replaced.
    data : mapping, optional
        Name -> DataFrame or file path of the training data; each is recorded with its SHA-256 (and rows
        and columns for a DataFrame).
    extra : mapping, optional
        More JSON-serialisable facts to record (for example development C-index).

    Returns
    -------
    Path
        ``directory / "manifest.json"``.

    Raises
    ------
    ModelLoadError
        When ``directory`` is a file, or the model holds a type outside :data:`TRUSTED_TYPES` (nothing is
        written then), so that every saved model can be loaded again.

    Examples
    --------
    >>> import tempfile
    >>> model = StudyModel(estimator=None, feature_columns=["ct__a"], config={"model": "late_fusion"})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     manifest = save_model(model, d, extra={"development_cindex": 0.71})
    ...     sorted(p.name for p in Path(d).iterdir())
    ['manifest.json', 'model.skops']
    """
    import skops.io as sio

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ModelLoadError(f"Model folder {directory} is a file, not a folder. Choose another '--out' path.")
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (MODEL_FILE + ".tmp")
    plain = _convert(copy.deepcopy(model), True, {})
    sio.dump(plain, tmp)
    untrusted = sorted(model_types(tmp) - set(TRUSTED_TYPES))
    if untrusted:
        tmp.unlink()
        raise ModelLoadError(
            f"The model holds type(s) that a saved model may not contain: {', '.join(untrusted)}. It was not "
            f"saved to {directory}. Use estimators that 'multisurv fit' builds, or add the type to "
            "multisurv.persistence.TRUSTED_TYPES after checking that rebuilding it cannot run code."
        )
    tmp.replace(directory / MODEL_FILE)
    hashes = {}
    for name, item in (data or {}).items():
        if isinstance(item, pd.DataFrame):
            hashes[name] = {"sha256": sha256_frame(item), "rows": int(item.shape[0]), "columns": int(item.shape[1])}
        else:
            hashes[name] = {"sha256": sha256_file(item), "path": str(item)}
    manifest = {
        "format": MODEL_FORMAT,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_file": MODEL_FILE,
        "model_sha256": sha256_file(directory / MODEL_FILE),
        "model_class": f"{type(model.estimator).__module__}.{type(model.estimator).__name__}",
        "versions": _versions(),
        "feature_columns": list(model.feature_columns),
        "config": json.loads(json.dumps(model.config, default=str)),
        "data": hashes,
        "extra": json.loads(json.dumps(dict(extra or {}), default=_json_default)),
    }
    return Path(write_json_atomic(directory / MANIFEST_FILE, manifest))


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


def _minor(version: str | None) -> tuple[str, ...] | None:
    return None if version is None else tuple(version.split(".")[:2])


def _read_manifest(directory: Path) -> tuple[dict, Path]:
    manifest_path = directory / MANIFEST_FILE
    if directory.is_file():
        raise ModelLoadError(f"{directory} is a file; a saved multisurv model is a folder with {MANIFEST_FILE} "
                             f"and {MODEL_FILE}, as written by 'multisurv fit'. Pass the folder.")
    if not manifest_path.is_file():
        raise ModelLoadError(f"{manifest_path} not found: {directory} is not a saved multisurv model (it needs "
                             f"{MANIFEST_FILE} and {MODEL_FILE}, as written by 'multisurv fit').")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{manifest_path} is not valid JSON ({exc}); the model folder is damaged. "
                             "Refit with 'multisurv fit'.") from None
    if not isinstance(manifest, dict):
        raise ModelLoadError(f"{manifest_path} holds a JSON {type(manifest).__name__}, not the model manifest; "
                             "the model folder is damaged. Refit with 'multisurv fit'.")
    if manifest.get("format") == _PICKLE_FORMAT:
        raise ModelLoadError(
            f"{manifest_path}: format {_PICKLE_FORMAT!r} is a pickle (model.joblib), which can run code when "
            f"loaded, so this multisurv ({__version__}) does not load it. Refit with 'multisurv fit' to write "
            f"the {MODEL_FORMAT!r} format.")
    if manifest.get("format") != MODEL_FORMAT:
        raise ModelLoadError(f"{manifest_path}: unknown model format {manifest.get('format')!r}; this multisurv "
                             f"({__version__}) reads {MODEL_FORMAT!r}. Refit with this version.")
    missing = [k for k in ("model_sha256", "versions", "feature_columns") if k not in manifest]
    if missing:
        raise ModelLoadError(f"{manifest_path} lacks the key(s) {', '.join(repr(k) for k in missing)}; the model "
                             "folder is damaged. Refit with 'multisurv fit'.")
    return manifest, manifest_path


def load_model(directory: str | Path, *, allow_version_mismatch: bool = False) -> tuple[StudyModel, dict]:
    """Load a model saved by :func:`save_model`, after checking that it is intact, safe and compatible.

    Parameters
    ----------
    directory : str or Path
        A folder written by :func:`save_model`.
    allow_version_mismatch : bool, default=False
        Load even when Python or a package in :data:`VERSIONED_PACKAGES` differs in major.minor version from
        the one that saved the model (the scores may then differ or the load may fail). The file hash and
        the trusted-type check are always done.

    Returns
    -------
    model : StudyModel
        The model, ready to predict.
    manifest : dict
        The contents of ``manifest.json`` (versions, data hashes, config, extra facts).

    Raises
    ------
    ModelLoadError
        When a file is missing, the format is unknown or the old pickle format, ``model.skops`` does not have
        the SHA-256 recorded in ``manifest.json`` (it was changed after saving; it is not read), it names a
        type outside :data:`TRUSTED_TYPES` (nothing in it is constructed), or versions differ.

    Notes
    -----
    Loading never unpickles and never calls a constructor named in the file other than those of
    :data:`TRUSTED_TYPES`, so a hostile file cannot run code. The hash check catches changed files; it does
    not authenticate a folder whose manifest was rewritten too (its model can then hold any coefficients):
    keep the manifest's ``model_sha256`` somewhere safe and compare.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_model(StudyModel(estimator=None, feature_columns=["ct__a"]), d)
    ...     model, manifest = load_model(d)
    >>> model.feature_columns, manifest["format"]
    (['ct__a'], 'multisurv-model.v2')
    """
    import skops.io as sio

    directory = Path(directory)
    manifest, manifest_path = _read_manifest(directory)
    model_path = directory / MODEL_FILE
    if not model_path.is_file():
        raise ModelLoadError(f"{model_path} not found: {directory} is not a complete multisurv model (it needs "
                             f"{MANIFEST_FILE} and {MODEL_FILE}, as written by 'multisurv fit').")
    found = sha256_file(model_path)
    if found != manifest.get("model_sha256"):
        raise ModelLoadError(
            f"{model_path} has SHA-256 {found}, but {manifest_path} records {manifest.get('model_sha256')}: the "
            "model file was changed after it was saved, so it was not loaded. Restore the original file or refit "
            "with 'multisurv fit'."
        )
    try:
        untrusted = sorted(model_types(model_path) - set(TRUSTED_TYPES))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{model_path} is not a skops model file ({type(exc).__name__}: {exc}); it was not "
                             "loaded. Refit with 'multisurv fit'.") from None
    if untrusted:
        raise ModelLoadError(
            f"{model_path} names type(s) that a multisurv model never contains: {', '.join(untrusted)}. It was "
            "not loaded (nothing in it was constructed). Do not use this file; refit with 'multisurv fit'."
        )
    saved, here = manifest.get("versions") or {}, _versions()
    differ = [f"{name} {saved.get(name)} (saved) vs {here.get(name)} (here)" for name in ("python", *VERSIONED_PACKAGES)
              if _minor(saved.get(name)) != _minor(here.get(name))]
    if differ and not allow_version_mismatch:
        pins = " ".join(f"{n}=={saved[n]}" for n in VERSIONED_PACKAGES if saved.get(n) and n != "multisurv"
                        and _minor(saved.get(n)) != _minor(here.get(n)))
        raise ModelLoadError(
            f"{model_path} was saved with other versions: {'; '.join(differ)}. Saved estimators are not portable "
            f"across major.minor versions. Install the saved versions ({pins or 'see manifest.json'}) or refit "
            "with 'multisurv fit' (or pass allow_version_mismatch=True at your own risk)."
        )
    try:
        plain = sio.load(model_path, trusted=list(TRUSTED_TYPES))
    except Exception as exc:  # the types are trusted; skops raises many kinds for a damaged file: all mean this
        raise ModelLoadError(f"{model_path} could not be read ({type(exc).__name__}: {exc}); it was not loaded. "
                             "Refit with 'multisurv fit'.") from None
    if not isinstance(plain, StudyModel):
        raise ModelLoadError(f"{model_path} holds a {type(plain).__name__}, not a multisurv StudyModel.")
    _check_trees(plain, model_path)
    return _convert(plain, False, {}), manifest


def _check_trees(obj, model_path: Path) -> None:
    """Refuse decision trees whose node arrays point outside the tree.

    scikit-learn follows a tree's child and feature indices without bounds checks, so a crafted tree would read
    outside its arrays (a crash at best) the first time it predicts; the reason skops does not trust ``Tree``
    by default. A tree scikit-learn built numbers every child after its parent and splits on existing features.
    """
    from sklearn.tree._tree import Tree

    seen: set[int] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Tree):
            n, idx = item.node_count, np.arange(item.node_count)
            left, right, feature = item.children_left, item.children_right, item.feature
            leaf = left == -1
            ok = (len(left) == n and len(right) == n and len(feature) == n and np.array_equal(leaf, right == -1)
                  and bool(np.all(leaf | ((left > idx) & (left < n) & (right > idx) & (right < n))))
                  and bool(np.all(leaf | ((feature >= 0) & (feature < item.n_features)))))
            if not ok:
                raise ModelLoadError(f"{model_path} holds a decision tree whose nodes point outside the tree; the "
                                     "file was crafted or damaged and was not loaded. Refit with 'multisurv fit'.")
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, np.ndarray) and item.dtype == object:
            stack.extend(item.ravel().tolist())
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            stack.extend(vars(item).values())
