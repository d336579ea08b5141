"""FeatureStore: a resumable, settings-named cache of per-patient feature vectors.

One folder per (modality, extraction settings): ``<root>/<modality>/<name>_<hash8>/``, where ``hash8`` is
the first 8 hex digits of the SHA-256 of the settings as canonical JSON. Changing any setting therefore
gives a new folder and never mixes features computed two different ways. The folder holds

- ``config.json``: the settings, their hash and the multisurv version (written once);
- ``<patient_id>.json``: one file per patient with the feature vector, the input fingerprint (path,
  size and ``mtime_ns`` of every input file) and optional side information (e.g. PyRadiomics diagnostics);
- ``failures.csv`` and ``info.csv``: tables written by :func:`multisurv.features.batch.run_batch`.

Every file is written to a temporary file and moved into place with ``os.replace``, so a crash never
leaves a half-written file behind. Floats are stored as JSON numbers (Python writes the shortest string
that reads back to the same double), so a cached value is bit-identical to the computed one; NaN and
infinities use Python's ``NaN`` / ``Infinity`` JSON extension.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

import numpy as np
import pandas as pd

from multisurv import __version__
from multisurv._atomic import write_json_atomic
from multisurv.exceptions import MultisurvError

__all__ = ["FeatureStore", "input_fingerprint", "settings_hash"]

logger = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_RECORD_FORMAT = 1


def settings_hash(settings: Mapping[str, Any]) -> str:
    """First 8 hex digits of the SHA-256 of ``settings`` as canonical (key-sorted, compact) JSON.

    Parameters
    ----------
    settings : mapping
        JSON-serialisable settings; values JSON cannot hold (e.g. ``Path``) are written with ``str``.

    Returns
    -------
    str
        Eight lowercase hex digits.

    Examples
    --------
    >>> settings_hash({"binWidth": 25}) == settings_hash({"binWidth": 25})
    True
    >>> len(settings_hash({}))
    8
    """
    return hashlib.sha256(_canonical_json(settings).encode("utf-8")).hexdigest()[:8]


def input_fingerprint(inputs: Mapping[str, str | os.PathLike | None]) -> dict[str, dict[str, Any]]:
    """Fingerprint the input files of one case: absolute path, size in bytes and ``mtime_ns`` of each.

    A missing file is recorded as ``{"path": ..., "missing": True}`` rather than raising, so that the
    extraction itself reports the problem (in the failures table) with its own message.

    Parameters
    ----------
    inputs : mapping of str to path
        Role of each input (e.g. ``"ct_image"``) to its file path; ``None`` values are recorded as missing.

    Returns
    -------
    dict
        Role -> ``{"path", "size", "mtime_ns"}`` (or ``{"path", "missing"}``).

    Examples
    --------
    >>> input_fingerprint({"wsi": "/no/such/slide.svs"})
    {'wsi': {'path': '/no/such/slide.svs', 'missing': True}}
    """
    out: dict[str, dict[str, Any]] = {}
    for role, path in inputs.items():
        if path is None:
            out[role] = {"path": None, "missing": True}
            continue
        abs_path = os.path.abspath(os.fspath(path))
        try:
            st = os.stat(abs_path)
        except OSError:
            out[role] = {"path": abs_path, "missing": True}
        else:
            out[role] = {"path": abs_path, "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}
    return out


class FeatureStore:
    """A folder of per-patient feature vectors named after the settings that produced them.

    Parameters
    ----------
    root : str or Path
        Top folder of all feature stores, e.g. ``runs/study1/features``.
    modality : str
        Sub-folder for the modality, e.g. ``"ct"`` or ``"wsi"``.
    name : str
        Readable prefix of the store folder, e.g. ``"radiomics"`` or ``"224px_lvl0_resnet50_random"``.
        Letters, digits and ``._+-`` only.
    settings : mapping
        Every setting that changes the features (JSON-serialisable). Its hash completes the folder name.

    Attributes
    ----------
    directory : Path
        ``<root>/<modality>/<name>_<hash8>``.
    config_path, failures_path, info_path : Path
        ``config.json``, ``failures.csv`` and ``info.csv`` inside ``directory``.

    Raises
    ------
    ValueError
        If ``modality`` or ``name`` is not a safe folder name.
    MultisurvError
        If ``directory/config.json`` exists but records different settings (a hash collision or a hand edit).

    See Also
    --------
    multisurv.features.batch.run_batch : fills a store, skipping cached cases.

    Examples
    --------
    >>> import tempfile
    >>> store = FeatureStore(tempfile.mkdtemp(), modality="ct", name="radiomics", settings={"binWidth": 25})
    >>> store.directory.name == "radiomics_" + settings_hash({"binWidth": 25})
    True
    >>> fp = {"ct_image": {"path": "/a.nrrd", "size": 1, "mtime_ns": 2}}
    >>> _ = store.put("P1", pd.Series({"ct__a": 0.1}), fp)
    >>> store.get("P1", fp).to_dict()
    {'ct__a': 0.1}
    >>> store.get("P1", {"ct_image": {"path": "/a.nrrd", "size": 1, "mtime_ns": 3}}) is None  # stale
    True
    """

    def __init__(self, root: str | os.PathLike, *, modality: str, name: str, settings: Mapping[str, Any]):
        for what, value in (("modality", modality), ("name", name)):
            if not isinstance(value, str) or not _SAFE_NAME.match(value):
                raise ValueError(
                    f"The '{what}' of a FeatureStore must be a folder name made of letters, digits and '._+-' "
                    f"(starting with a letter or digit). Got {value!r} instead."
                )
        self.root = Path(root)
        self.modality = modality
        self.name = name
        self.settings = json.loads(_canonical_json(settings))
        self.hash = settings_hash(self.settings)
        self.directory = self.root / modality / f"{name}_{self.hash}"
        self.config_path = self.directory / "config.json"
        self.failures_path = self.directory / "failures.csv"
        self.info_path = self.directory / "info.csv"
        self._write_config()

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.directory)!r})"

    def _write_config(self) -> None:
        config = {
            "modality": self.modality,
            "name": self.name,
            "settings": self.settings,
            "settings_hash": self.hash,
            "multisurv_version": __version__,
        }
        if self.config_path.exists():
            try:
                existing = json.loads(self.config_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise MultisurvError(
                    f"The feature store config {self.config_path} cannot be read ({exc}). "
                    "Delete the folder to recompute its features."
                ) from exc
            if existing.get("settings") != self.settings:
                raise MultisurvError(
                    f"The feature store {self.directory} holds features for different settings than requested "
                    "(its config.json differs). Delete the folder or use another output directory."
                )
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.config_path, config)

    def path_for(self, patient_id: str) -> Path:
        """The file holding ``patient_id``'s record (characters unsafe in file names are %-escaped)."""
        stem = quote(str(patient_id), safe="-_.+")
        if stem.startswith("."):
            stem = "%2E" + stem[1:]
        return self.directory / f"{stem}.json"

    def _read(self, patient_id: str) -> dict[str, Any] | None:
        path = self.path_for(patient_id)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("Ignoring unreadable cached features %s (%s); they will be recomputed.", path, exc)
            return None
        if not isinstance(record, dict) or record.get("patient_id") != str(patient_id):
            logger.warning("Ignoring cached features %s: they belong to another patient; recomputing.", path)
            return None
        return record

    def get(self, patient_id: str, fingerprint: Mapping[str, Any]) -> pd.Series | None:
        """The cached feature vector of ``patient_id``, or None when missing or stale.

        Parameters
        ----------
        patient_id : str
        fingerprint : mapping
            The current input fingerprint (see :func:`input_fingerprint`); a record made from inputs with
            another fingerprint is stale.

        Returns
        -------
        pandas.Series or None
            Float values indexed by feature name, named ``patient_id``.
        """
        record = self._read(patient_id)
        if record is None or record.get("fingerprint") != json.loads(_canonical_json(fingerprint)):
            return None
        features = record["features"]
        return pd.Series(
            np.asarray(features["values"], dtype=float), index=pd.Index(features["names"], dtype=object),
            name=str(patient_id), dtype=float,
        )

    def get_info(self, patient_id: str) -> dict[str, Any]:
        """The side information stored with ``patient_id``'s features (empty dict when there is none)."""
        record = self._read(patient_id)
        return dict(record.get("info") or {}) if record else {}

    def put(self, patient_id: str, features: pd.Series, fingerprint: Mapping[str, Any], *,
            info: Mapping[str, Any] | None = None) -> Path:
        """Store ``patient_id``'s feature vector atomically (temporary file + ``os.replace``).

        Parameters
        ----------
        patient_id : str
        features : pandas.Series
            Values convertible to float, indexed by unique feature names.
        fingerprint : mapping
            Input fingerprint (see :func:`input_fingerprint`).
        info : mapping, optional
            JSON-serialisable side information kept with the features (not part of the feature table).

        Returns
        -------
        Path
            The file written.

        Raises
        ------
        ValueError
            If the feature names are not unique or a value is not a number.
        """
        names = [str(n) for n in features.index]
        if len(set(names)) != len(names):
            dup = pd.Index(names)[pd.Index(names).duplicated()][0]
            raise ValueError(f"Features of patient {patient_id!r} have duplicated name {dup!r}; names must be unique.")
        try:
            values = np.asarray(features.to_numpy(), dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Features of patient {patient_id!r} must all be numbers; {exc}. "
                "Return non-numeric values as side information instead."
            ) from exc
        record = {
            "format": _RECORD_FORMAT,
            "patient_id": str(patient_id),
            "fingerprint": json.loads(_canonical_json(fingerprint)),
            "features": {"names": names, "values": values.tolist()},
            "info": json.loads(_canonical_json(info or {})),
        }
        return write_json_atomic(self.path_for(patient_id), record)


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
