"""FeatureStore: a resumable, settings-named cache of per-patient feature vectors.

One folder per (modality, extraction settings): ``<root>/<modality>/<name>_<hash8>/``, where ``hash8`` is
the first 8 hex digits of the SHA-256 of the settings as canonical JSON. Changing any setting therefore
gives a new folder and never mixes features computed two different ways. The folder holds

- ``config.json``: the settings, their hash and the multisurv version (written once);
- ``<patient_id>.json``: one file per patient with the feature vector, the input fingerprint (path, size,
  ``mtime_ns`` and SHA-256 of the content of every input file or DICOM folder) and optional side information
  (e.g. PyRadiomics diagnostics);
- ``failures.csv`` and ``info.csv``: tables written by :func:`multisurv.features.batch.run_batch`.

A stored result is valid while the *content* of its inputs is unchanged (:meth:`FeatureStore.fingerprint`):
a file that was touched, copied or moved but holds the same bytes keeps its features, and a file whose bytes
changed is recomputed even if its size and time stamp look the same. Files whose path, size and ``mtime_ns``
match the record are not read again (their recorded hash is reused), so a fully cached rerun costs one
``stat`` per input.

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
from multisurv._hashing import sampled_sha256_file, sha256_file
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


def input_fingerprint(inputs: Mapping[str, str | os.PathLike | None], *, content: bool | str = False,
                      known: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Fingerprint the input files of one case: absolute path, size, ``mtime_ns`` and optionally content hash.

    A missing file is recorded as ``{"path": ..., "missing": True}`` rather than raising, so that the
    extraction itself reports the problem (in the failures table) with its own message. A folder (e.g. a
    DICOM series) counts as the set of files under it: total size, newest ``mtime_ns``, number of files and a
    hash over their relative names and contents.

    Parameters
    ----------
    inputs : mapping of str to path or list of paths
        Role of each input (e.g. ``"ct_image"``) to its file path; ``None`` values are recorded as missing. A
        list (the several slides of one patient) is fingerprinted file by file, in order: adding, removing,
        reordering or changing one of them changes the fingerprint.
    content : bool or "sampled", default=False
        True: add ``"sha256"``, the SHA-256 of the content (see :class:`FeatureStore` for how stores compare
        them). ``"sampled"``: add ``"sampled_sha256"`` instead, the SHA-256 of the size and 16 evenly spaced 1 MiB
        chunks (:func:`multisurv._hashing.sampled_sha256_file`; files only, folders are hashed in full): a
        multi-GB slide is fingerprinted without reading it whole. A full ``sha256`` already known for an
        unchanged file (same path, size, ``mtime_ns``) is kept alongside.
    known : mapping, optional
        A previous fingerprint of the same inputs: where path, size and ``mtime_ns`` of a role are unchanged its
        ``sha256`` is reused instead of reading the file again.

    Returns
    -------
    dict
        Role -> ``{"path", "size", "mtime_ns"[, "n_files"][, "sha256"]}`` (or ``{"path", "missing"}``), or a list
        of them for a list of paths.

    Examples
    --------
    >>> input_fingerprint({"wsi": "/no/such/slide.svs"})
    {'wsi': {'path': '/no/such/slide.svs', 'missing': True}}
    >>> [entry["path"] for entry in input_fingerprint({"wsi": ["/no/a.svs", "/no/b.svs"]})["wsi"]]
    ['/no/a.svs', '/no/b.svs']
    """
    out: dict[str, Any] = {}
    for role, path in inputs.items():
        previous = (known or {}).get(role)
        if isinstance(path, (list, tuple)):  # several files in one role (the slides of one patient)
            before = previous if isinstance(previous, list) else []
            out[role] = [_file_entry(p, content, before[k] if k < len(before) else None) for k, p in enumerate(path)]
        else:
            out[role] = _file_entry(path, content, previous if isinstance(previous, Mapping) else None)
    return out


def _file_entry(path: str | os.PathLike | None, content: bool | str, previous: Mapping[str, Any] | None
                ) -> dict[str, Any]:
    """The fingerprint of one file or folder (see :func:`input_fingerprint`)."""
    if path is None:
        return {"path": None, "missing": True}
    abs_path = os.path.abspath(os.fspath(path))
    entry = _stat_entry(abs_path)
    if content and not entry.get("missing"):
        previous = dict(previous or {})
        hashes = {k: previous.pop(k) for k in _HASH_KEYS if k in previous}
        unchanged = previous == entry
        if content == "sampled" and not os.path.isdir(abs_path):
            digest = hashes.get("sampled_sha256") if unchanged else None
            entry["sampled_sha256"] = digest or _sampled_hash(abs_path)
            if unchanged and "sha256" in hashes:
                entry["sha256"] = hashes["sha256"]
        else:
            digest = hashes.get("sha256") if unchanged else None
            entry["sha256"] = digest or _content_hash(abs_path)
    return entry


def _stat_entry(abs_path: str) -> dict[str, Any]:
    try:
        st = os.stat(abs_path)
    except OSError:
        return {"path": abs_path, "missing": True}
    if not os.path.isdir(abs_path):
        return {"path": abs_path, "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}
    files = _folder_files(abs_path)
    stats = [os.stat(f) for f in files]
    return {"path": abs_path, "size": int(sum(x.st_size for x in stats)),
            "mtime_ns": int(max((x.st_mtime_ns for x in stats), default=st.st_mtime_ns)), "n_files": len(files)}


def _folder_files(folder: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        found.extend(os.path.join(dirpath, name) for name in sorted(filenames))
    return found


#: File hashes the fingerprints use, looked up at call time (a test swaps them to prove no re-read).
_file_hash = sha256_file
_sampled_hash = sampled_sha256_file
#: Content keys a fingerprint entry may carry.
_HASH_KEYS = ("sha256", "sampled_sha256")


def _content_hash(abs_path: str) -> str:
    digest = hashlib.sha256()
    if os.path.isdir(abs_path):
        for name in _folder_files(abs_path):
            digest.update(os.path.relpath(name, abs_path).encode("utf-8") + b"\0")
            digest.update(_file_hash(name).encode("ascii"))
        return digest.hexdigest()
    return _file_hash(abs_path)


def _same_inputs(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether every input is unchanged: on content (full hash, else sampled hash, with the size) when both
    fingerprints hold the same kind of hash, else on path, size and ``mtime_ns`` (and file count)."""
    if set(recorded) != set(current):
        return False
    return all(_same_input(recorded[r], current[r]) for r in current)


def _same_input(recorded: Any, current: Any) -> bool:
    if isinstance(recorded, list) and isinstance(current, list):  # several files in one role: same files, same order
        return len(recorded) == len(current) and all(_same_input(r, c) for r, c in zip(recorded, current))
    if not (isinstance(recorded, Mapping) and isinstance(current, Mapping)):
        return recorded == current
    for key in _HASH_KEYS:
        if key in recorded and key in current:
            return (recorded[key], recorded.get("size")) == (current[key], current.get("size"))
    strip = (lambda f: {k: v for k, v in f.items() if k not in _HASH_KEYS})
    return strip(recorded) == strip(current)


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
    content : True or "sampled", default=True
        How inputs are fingerprinted (:func:`input_fingerprint`): the full SHA-256 of every input file, or, for
        multi-GB inputs such as whole-slide images, a sampled one (size + 16 MiB read). Either way a file whose
        path, size and ``mtime_ns`` are unchanged since its record is not read again.

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

    def __init__(self, root: str | os.PathLike, *, modality: str, name: str, settings: Mapping[str, Any],
                 content: bool | str = True):
        for what, value in (("modality", modality), ("name", name)):
            if not isinstance(value, str) or not _SAFE_NAME.match(value):
                raise ValueError(
                    f"The '{what}' of a FeatureStore must be a folder name made of letters, digits and '._+-' "
                    f"(starting with a letter or digit). Got {value!r} instead."
                )
        if content not in (True, "sampled"):
            raise ValueError(f"The 'content' of a FeatureStore must be True (full SHA-256 of every input) or "
                             f"'sampled'. Got {content!r} instead.")
        self.content = content
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
        """The file holding ``patient_id``'s record (characters unsafe in file names are %-escaped).

        Parameters
        ----------
        patient_id : str
            The patient; a leading ``.`` is escaped too, so no record is a hidden file.

        Returns
        -------
        Path
            ``directory / "<escaped id>.json"`` (it need not exist).

        Examples
        --------
        >>> import tempfile
        >>> store = FeatureStore(tempfile.mkdtemp(), modality="ct", name="radiomics", settings={"binWidth": 25})
        >>> store.path_for("GIST 042/b").name
        'GIST%20042%2Fb.json'
        """
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
            The patient.
        fingerprint : mapping
            The current input fingerprint (see :func:`input_fingerprint` and :meth:`fingerprint`). When both it
            and the record hold content hashes, a record is stale only if some input's content (hash or size)
            changed; otherwise any difference makes it stale.

        Returns
        -------
        pandas.Series or None
            Float values indexed by feature name, named ``patient_id``.

        Examples
        --------
        >>> import tempfile
        >>> store = FeatureStore(tempfile.mkdtemp(), modality="ct", name="radiomics", settings={"binWidth": 25})
        >>> fp = {"ct_image": {"path": "/a.nrrd", "size": 1, "mtime_ns": 2}}
        >>> store.get("P1", fp) is None  # nothing stored yet
        True
        >>> _ = store.put("P1", pd.Series({"ct__a": 0.5}), fp)
        >>> store.get("P1", fp)
        ct__a    0.5
        Name: P1, dtype: float64
        """
        record = self._read(patient_id)
        current = json.loads(_canonical_json(fingerprint))
        if record is None or not _same_inputs(record.get("fingerprint") or {}, current):
            return None
        features = record["features"]
        return pd.Series(
            np.asarray(features["values"], dtype=float), index=pd.Index(features["names"], dtype=object),
            name=str(patient_id), dtype=float,
        )

    def fingerprint(self, patient_id: str, inputs: Mapping[str, str | os.PathLike | None]) -> dict[str, Any]:
        """The content fingerprint of ``inputs``, reusing the hashes recorded for ``patient_id`` where still valid.

        Only files whose path, size or ``mtime_ns`` differ from the record are read (hashed) again.

        Parameters
        ----------
        patient_id : str
            The patient whose recorded hashes may be reused.
        inputs : mapping of str to path
            Role -> input file or folder (or list of files), as for :func:`input_fingerprint`.

        Returns
        -------
        dict
            See :func:`input_fingerprint` (with ``content=True``, or ``"sampled"`` for a store made with
            ``content="sampled"``).

        Examples
        --------
        >>> import tempfile
        >>> store = FeatureStore(tempfile.mkdtemp(), modality="ct", name="radiomics", settings={"binWidth": 25})
        >>> image = store.directory / "image.bin"
        >>> _ = image.write_bytes(b"voxels")
        >>> fp = store.fingerprint("P1", {"ct_image": image})
        >>> fp["ct_image"]["size"], len(fp["ct_image"]["sha256"])
        (6, 64)
        """
        record = self._read(patient_id)
        return input_fingerprint(inputs, content=self.content, known=(record or {}).get("fingerprint"))

    def recorded_fingerprint(self, patient_id: str) -> dict[str, Any] | None:
        """The fingerprint stored with ``patient_id``'s record (None when there is no readable record).

        Parameters
        ----------
        patient_id : str
            The patient.

        Returns
        -------
        dict or None
            The fingerprint given to :meth:`put`.

        Examples
        --------
        >>> import tempfile
        >>> store = FeatureStore(tempfile.mkdtemp(), modality="ct", name="radiomics", settings={"binWidth": 25})
        >>> fp = {"ct_image": {"path": "/a.nrrd", "size": 1, "mtime_ns": 2}}
        >>> _ = store.put("P1", pd.Series({"ct__a": 0.5}), fp)
        >>> store.recorded_fingerprint("P1") == fp, store.recorded_fingerprint("P2")
        (True, None)
        """
        record = self._read(patient_id)
        return None if record is None else dict(record.get("fingerprint") or {})

    def get_info(self, patient_id: str) -> dict[str, Any]:
        """The side information stored with ``patient_id``'s features (empty dict when there is none).

        Parameters
        ----------
        patient_id : str
            The patient.

        Returns
        -------
        dict
            The ``info`` given to :meth:`put` (e.g. PyRadiomics diagnostics).

        Examples
        --------
        >>> import tempfile
        >>> store = FeatureStore(tempfile.mkdtemp(), modality="ct", name="radiomics", settings={"binWidth": 25})
        >>> _ = store.put("P1", pd.Series({"ct__a": 0.5}), {}, info={"voxels": 1200})
        >>> store.get_info("P1"), store.get_info("P2")
        ({'voxels': 1200}, {})
        """
        record = self._read(patient_id)
        return dict(record.get("info") or {}) if record else {}

    def put(self, patient_id: str, features: pd.Series, fingerprint: Mapping[str, Any], *,
            info: Mapping[str, Any] | None = None) -> Path:
        """Store ``patient_id``'s feature vector atomically (temporary file + ``os.replace``).

        Parameters
        ----------
        patient_id : str
            The patient.
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

        Examples
        --------
        >>> import tempfile
        >>> store = FeatureStore(tempfile.mkdtemp(), modality="ct", name="radiomics", settings={"binWidth": 25})
        >>> store.put("P1", pd.Series({"ct__a": 0.5, "ct__b": float("nan")}), {}).name
        'P1.json'
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
