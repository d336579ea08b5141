"""Save and load a fitted study model: the pickled model, plus a JSON manifest that makes it checkable.

A model folder holds ``model.joblib`` and ``manifest.json`` (format ``multisurv-model.v1``): the config it was
fitted from, the versions of Python and of every package that shapes a pickled estimator, the SHA-256 of each
training table, the feature columns the model needs, and the SHA-256 of ``model.joblib``. :func:`load_model`
checks the hash *before* unpickling and refuses a changed file or a version mismatch with a message that says
which and what to do.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import joblib
import numpy as np
import pandas as pd

from multisurv import __version__
from multisurv._atomic import write_json_atomic
from multisurv._hashing import sha256_file
from multisurv.exceptions import MultisurvError

__all__ = ["StudyModel", "ModelLoadError", "save_model", "load_model", "sha256_file", "sha256_frame",
           "MODEL_FORMAT", "VERSIONED_PACKAGES"]

MODEL_FORMAT = "multisurv-model.v1"
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
#: Packages whose classes end up inside the pickle; a different major.minor version may not unpickle the same.
VERSIONED_PACKAGES = ("multisurv", "numpy", "pandas", "scipy", "scikit-learn", "scikit-survival", "joblib")


class ModelLoadError(MultisurvError, ValueError):
    """A saved model cannot be loaded safely: missing files, changed files or incompatible versions."""


@dataclass
class StudyModel:
    """A fitted study model: clinical preprocessing, the fusion (or single-score) estimator, and its columns.

    Attributes
    ----------
    estimator : fitted estimator
        ``predict(X) -> risk``; for late fusion also ``transform_scores(X)``.
    feature_columns : list of str
        Feature columns of ``X`` at fit time (after clinical encoding).
    clinical : fitted ClinicalPreprocessor or None
        Encodes the manifest's clinical columns into ``clin__*`` features.
    config : dict
        The config the model was fitted from.
    """

    estimator: Any
    feature_columns: list[str]
    clinical: Any = None
    config: dict = field(default_factory=dict)

    def features(self, manifest: pd.DataFrame, tables: list[pd.DataFrame]) -> pd.DataFrame:
        """Build the model's feature matrix for the patients of ``manifest`` (index patient_id)."""
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
        """Scores per modality (when the estimator has them) and the fused ``risk`` (higher = worse)."""
        out = pd.DataFrame(index=X.index)
        inner = getattr(self.estimator, "model_", self.estimator)
        if hasattr(inner, "transform_scores"):
            out = inner.transform_scores(X)
        out["risk"] = self.estimator.predict(X)
        return out


def sha256_frame(frame: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's content: column names, index and values (independent of file format).

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


def save_model(model: StudyModel, directory: str | Path, *, data: Mapping[str, Any] | None = None,
               extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``model.joblib`` and ``manifest.json`` into ``directory``; return the manifest path.

    Parameters
    ----------
    model : StudyModel
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
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (MODEL_FILE + ".tmp")
    joblib.dump(model, tmp)
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


def load_model(directory: str | Path, *, allow_version_mismatch: bool = False) -> tuple[StudyModel, dict]:
    """Load a model saved by :func:`save_model`, after checking that it is intact and compatible.

    Parameters
    ----------
    directory : str or Path
    allow_version_mismatch : bool, default=False
        Load even when Python or a package in :data:`VERSIONED_PACKAGES` differs in major.minor version from
        the one that saved the model (the scores may then differ or the load may fail). The file hash is
        always checked.

    Returns
    -------
    model : StudyModel
    manifest : dict

    Raises
    ------
    ModelLoadError
        When a file is missing, ``model.joblib`` does not have the SHA-256 recorded in ``manifest.json`` (it
        was changed after saving; it is not unpickled), the format is unknown, or versions differ.

    Notes
    -----
    Unpickling runs code, so load only models you trust. The hash check catches accidental or casual
    changes of ``model.joblib``; it does not authenticate a folder whose manifest was rewritten too: keep
    the manifest's ``model_sha256`` somewhere safe (for example in the paper's supplement) and compare.
    """
    directory = Path(directory)
    manifest_path, model_path = directory / MANIFEST_FILE, directory / MODEL_FILE
    for path in (manifest_path, model_path):
        if not path.is_file():
            raise ModelLoadError(f"{path} not found: {directory} is not a saved multisurv model (it needs "
                                 f"{MANIFEST_FILE} and {MODEL_FILE}, as written by 'multisurv fit').")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{manifest_path} is not valid JSON ({exc}); the model folder is damaged. "
                             "Refit with 'multisurv fit'.") from None
    if manifest.get("format") != MODEL_FORMAT:
        raise ModelLoadError(f"{manifest_path}: unknown model format {manifest.get('format')!r}; this multisurv "
                             f"({__version__}) reads {MODEL_FORMAT!r}. Refit with this version.")
    found = sha256_file(model_path)
    if found != manifest.get("model_sha256"):
        raise ModelLoadError(
            f"{model_path} has SHA-256 {found}, but {manifest_path} records {manifest.get('model_sha256')}: the "
            "model file was changed after it was saved, so it was not loaded. Restore the original file or refit "
            "with 'multisurv fit'."
        )
    saved, here = manifest.get("versions", {}), _versions()
    differ = [f"{name} {saved.get(name)} (saved) vs {here.get(name)} (here)" for name in ("python", *VERSIONED_PACKAGES)
              if _minor(saved.get(name)) != _minor(here.get(name))]
    if differ and not allow_version_mismatch:
        pins = " ".join(f"{n}=={saved[n]}" for n in VERSIONED_PACKAGES if saved.get(n) and n != "multisurv"
                        and _minor(saved.get(n)) != _minor(here.get(n)))
        raise ModelLoadError(
            f"{model_path} was saved with other versions: {'; '.join(differ)}. Pickled models are not portable "
            f"across major.minor versions. Install the saved versions ({pins or 'see manifest.json'}) or refit "
            "with 'multisurv fit' (or pass allow_version_mismatch=True at your own risk)."
        )
    model = joblib.load(model_path)
    if not isinstance(model, StudyModel):
        raise ModelLoadError(f"{model_path} holds a {type(model).__name__}, not a multisurv StudyModel.")
    return model, manifest
