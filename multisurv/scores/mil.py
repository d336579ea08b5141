"""Attention-MIL slide score: gated attention pooling over a slide's tile features, trained with a survival loss.

The pathomics branch writes one HDF5 patch file per slide (:mod:`multisurv.features.wsi.patch_store`: tile
coordinates, encoder features and keep flags). :class:`AttentionMILScore` takes the study's feature table
(index ``patient_id``), finds each patient's patch file through the lookup given at construction, and learns a
per-slide risk (and embedding) from the bag of tiles, so it fits where a
:class:`~multisurv.scores.modality_score.ModalityScore` fits for the pathomics modality (``pooling: abmil``
instead of the mean of the tiles). torch and h5py are imported when it is fitted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from sksurv.metrics import concordance_index_censored

from multisurv._optional import require
from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.scores.losses import LOSSES, TIES, make_time_bins, time_to_bin

__all__ = ["AttentionMILScore", "patch_file_for", "patch_files_for"]

logger = logging.getLogger(__name__)

_OWNER = "AttentionMILScore"


def patch_file_for(patches: Mapping | str | os.PathLike, patient_id) -> Path | None:
    """The patch file of ``patient_id``: from a mapping, or ``<folder>/<patient_id>.h5`` as extraction names it.

    Returns None when the mapping has no entry (the patient has no slide).

    Parameters
    ----------
    patches : mapping or str or Path
        ``patient_id -> path``, or the folder of patch files.
    patient_id : object
        The patient; in a folder, its ``str`` is percent-encoded into the file name as extraction does.

    Returns
    -------
    Path or None
        The mapped path (None when the mapping has no entry or NaN), or ``<folder>/<encoded id>.h5`` (which need not
        exist).

    Examples
    --------
    >>> patch_file_for({"P1": "a/P1.h5"}, "P1").as_posix(), patch_file_for({"P1": "a/P1.h5"}, "P2")
    ('a/P1.h5', None)
    >>> patch_file_for("patches", "SYN D/1").as_posix()
    'patches/SYN%20D%2F1.h5'
    """
    if isinstance(patches, Mapping):
        path = patches.get(patient_id)
        return None if path is None or (isinstance(path, float) and np.isnan(path)) else Path(path)
    from urllib.parse import quote

    stem = quote(str(patient_id), safe="-_.+")  # as multisurv.features.wsi.pathomics names patch files
    if stem.startswith("."):
        stem = "%2E" + stem[1:]
    return Path(patches) / f"{stem}.h5"


def patch_files_for(patches: Mapping | str | os.PathLike, patient_id) -> list[Path]:
    """Every existing patch file of ``patient_id``: ``<id>.h5`` then, for a patient with several slides,
    ``<id>__2.h5``, ``<id>__3.h5``... as extraction names them (a mapping gives one file, or several joined by ';').

    Parameters
    ----------
    patches : mapping or str or Path
        ``patient_id -> path`` (several paths joined by ``;``), or the folder of patch files.
    patient_id : object
        The patient.

    Returns
    -------
    list of Path
        The files that exist, in slide order; empty for a patient without a slide.

    Examples
    --------
    >>> patch_files_for({"P1": "a/P1.h5"}, "P2"), patch_files_for("no-such-folder", "P1")  # no file: no slide
    ([], [])
    """
    first = patch_file_for(patches, patient_id)
    if first is None:
        return []
    if isinstance(patches, Mapping):
        return [Path(p) for p in str(first).split(";") if p and Path(p).exists()]
    found = []
    k = 1
    path = first
    while path.exists():
        found.append(path)
        k += 1
        path = first.with_name(f"{first.stem}__{k}.h5")
    return found


class AttentionMILScore(BaseEstimator):
    """Per-slide risk learnt from tile features by gated attention pooling (ABMIL), trained with a survival loss.

    Parameters
    ----------
    patches : mapping or str or Path
        Where each patient's patch file is: a mapping ``patient_id -> path`` (e.g. the manifest's patch-file
        column), or the folder extraction wrote (``<folder>/<patient_id>.h5``). A patient without an entry or
        file has no slide: left out of fitting, NaN from :meth:`predict`, like a missing modality in
        :class:`~multisurv.scores.modality_score.ModalityScore`.
    name : str, default="patscore"
        Score name (the column name fusion models give it).
    prefix : str, default="wsi__"
        Prefix of the embedding columns written by :meth:`transform` (``<prefix>abmil_000`` ...).
    tiles : {"keep", "all"}, default="keep"
        Use the tiles extraction pooled (``keep``: tumour tiles with a classifier) or every encoded tile.
    hidden : int, default=64
        Width of the tile embedding (and of the slide embedding).
    attention_dim : int, default=32
        Width of the gated attention network.
    dropout : float, default=0.25
    loss : {"cox", "discrete"}, default="cox"
    ties : {"efron", "breslow"}, default="efron"
    n_bins : int, default=4
        ``loss="discrete"``: number of time bins (quantiles of the training event times).
    epochs : int, default=60
    patience : int, default=10
        Early stopping on the inner validation loss.
    learning_rate, weight_decay : float, default 1e-3 and 1e-4
    max_tiles : int or None, default=128
        Training reads at most this many tiles per slide (a fixed random subset) and uses a new random half of
        them in every epoch (augmentation); prediction uses every tile. Training holds the padded bags in memory:
        ``n_patients x max_tiles x dim x 4`` bytes (300 x 128 x 2048: 315 MB).
    validation_fraction : float, default=0.2
        Share of the training slides held out for early stopping (0: no early stopping).
    refit : bool, default=True
        Refit on all training slides for the chosen number of epochs.
    device : str or None, default=None
        None: CUDA when available, else CPU.
    n_threads : int or None, default=1
        CPU threads torch uses.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    network_ : torch.nn.Module
        Gated-attention MIL network (on the CPU).
    tile_mean_, tile_scale_ : ndarray, shape (dim,)
        Mean and SD of the training slides' tile features (standardisation).
    offset_ : float
        Mean training risk, subtracted so that the score is centred at 0 over the training slides.
    n_train_ : int
        Training patients with a slide.
    best_epoch_ : int
    history_ : pandas.DataFrame
    time_bins_ : ndarray or None
    selected_features_ : list
        Always empty (the score uses tiles, not table columns); kept for the ModalityScore interface.

    Notes
    -----
    Gated attention (Ilse et al. 2018): each tile feature ``x_k`` is embedded (``h_k = ReLU(W x_k)``), scored
    ``a_k = w' (tanh(V h_k) * sigmoid(U h_k))``, the scores are soft-maxed over the slide's tiles, and the slide
    embedding ``sum_k a_k h_k`` feeds a linear survival head. Whole training set per step: each slide is a bag,
    the Cox loss compares all training slides (a batch without events cannot arise). Tile standardisation, time
    bins and early stopping use the training slides only. Risk is higher = worse.

    References
    ----------
    .. [1] Ilse, M., Tomczak, J. and Welling, M. "Attention-based deep multiple instance learning", ICML 2018.
    .. [2] Chen, R. J. et al. "Pan-cancer integrative histology-genomic analysis via multimodal deep
       learning", Cancer Cell 40(8), 865-878, 2022 (PORPOISE).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from multisurv._validation import make_y
    >>> from multisurv.features.wsi.patch_store import PatchWriter
    >>> rng, folder = np.random.default_rng(0), pathlib.Path(tempfile.mkdtemp())
    >>> ids = [f"P{i}" for i in range(40)]
    >>> for i, pid in enumerate(ids):
    ...     with PatchWriter(folder / f"{pid}.h5", 6, 3, coords=np.zeros((6, 2)), tissue=np.ones(6)) as w:
    ...         w.write(np.arange(6), rng.normal(size=(6, 3)) + i % 2, keep=np.ones(6, bool))
    >>> y = make_y([1.0 + (i % 2 == 0) + rng.random() for i in range(40)], np.ones(40, bool))
    >>> X = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
    >>> score = AttentionMILScore(patches=folder, epochs=10, random_state=0).fit(X, y)
    >>> score.predict(X).shape
    (40,)
    """

    def __init__(self, *, patches: Mapping | str | os.PathLike | None = None, name: str = "patscore",
                 prefix: str = "wsi__", tiles: str = "keep", hidden: int = 64, attention_dim: int = 32,
                 dropout: float = 0.25, loss: str = "cox", ties: str = "efron", n_bins: int = 4, epochs: int = 60,
                 patience: int = 10, learning_rate: float = 1e-3, weight_decay: float = 1e-4,
                 max_tiles: int | None = 128, validation_fraction: float = 0.2, refit: bool = True,
                 device: str | None = None, n_threads: int | None = 1, random_state=None):
        self.patches = patches
        self.name = name
        self.prefix = prefix
        self.tiles = tiles
        self.hidden = hidden
        self.attention_dim = attention_dim
        self.dropout = dropout
        self.loss = loss
        self.ties = ties
        self.n_bins = n_bins
        self.epochs = epochs
        self.patience = patience
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.max_tiles = max_tiles
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------------------------------------------ data
    def _bag(self, patient_id, *, max_tiles: int | None = None, rng=None):
        """(features, coords, slide) of the tiles of all the patient's slides, or None without a patch file.

        ``slide`` is each tile's slide position (0: ``<id>.h5``, 1: ``<id>__2.h5``...; several blocks of one
        patient are one bag, as extraction pools them into one vector).
        """
        paths = patch_files_for(self.patches, patient_id)
        if not paths:
            return None
        from multisurv.features.wsi.patch_store import read_patches

        tables = [read_patches(path) for path in paths]
        keep = np.concatenate([t.keep for t in tables])
        use = keep if self.tiles == "keep" and keep.any() else np.ones(keep.size, bool)
        rows = np.flatnonzero(use)
        if rows.size == 0:
            return None
        if max_tiles is not None and rows.size > max_tiles:
            rows = np.sort(rng.choice(rows, size=max_tiles, replace=False))
        features = np.concatenate([t.features for t in tables]) if len(tables) > 1 else tables[0].features
        coords = np.concatenate([t.coords for t in tables])
        slide = np.concatenate([np.full(len(t.coords), k) for k, t in enumerate(tables)])
        return features[rows].astype(np.float32), coords[rows], slide[rows]

    # ------------------------------------------------------------------------------------------------- fit
    def fit(self, X: pd.DataFrame, y: np.ndarray) -> AttentionMILScore:
        """Learn the attention pooling and the slide risk on the training patients who have a slide.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
            The study's feature table; only its index (``patient_id``) is used.
        y : structured array, shape (n_samples,)

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``patches`` is missing, a parameter is out of range, or too few training patients have a slide.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from multisurv._validation import make_y
        >>> from multisurv.features.wsi.patch_store import PatchWriter
        >>> tmp = tempfile.TemporaryDirectory()
        >>> rng, folder = np.random.default_rng(0), pathlib.Path(tmp.name)
        >>> ids = [f"P{i}" for i in range(20)]
        >>> corners = np.array([[0, 0], [224, 0], [0, 224], [224, 224]])
        >>> for i, pid in enumerate(ids[:18]):  # P18 and P19 have no slide
        ...     with PatchWriter(folder / f"{pid}.h5", 4, 3, coords=corners, tissue=np.ones(4)) as w:
        ...         w.write(np.arange(4), rng.normal(size=(4, 3)) + i % 2, keep=np.ones(4, bool))
        >>> y = make_y([1.0 + (i % 2 == 0) + rng.random() for i in range(20)], np.ones(20, bool))
        >>> X = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
        >>> score = AttentionMILScore(patches=folder, hidden=8, epochs=5, random_state=0).fit(X, y)
        >>> score.n_train_, len(score.history_)  # 18 patients with a slide, 5 epochs
        (18, 5)
        >>> tmp.cleanup()
        """
        self._check_params()
        X = _check_frame(X)
        y = np.asarray(y)
        check_consistent_length(X=X, y=y)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        tile_rng = np.random.default_rng(int(rng.randint(np.iinfo(np.int32).max)))
        split_seed = int(rng.randint(np.iinfo(np.int32).max))
        bags, rows = [], []
        for i, pid in enumerate(X.index):
            bag = self._bag(pid, max_tiles=self.max_tiles, rng=tile_rng)
            if bag is not None:
                bags.append(bag[0])
                rows.append(i)
        rows = np.asarray(rows, dtype=int)
        where = f"the {rows.size} training patients with a patch file ({_OWNER} {self.name!r})"
        if rows.size < 4:
            raise ValueError(f"{_OWNER} {self.name!r} found patch files for {rows.size} of {len(X)} training "
                             f"patients (at least 4 needed); check 'patches' ({_describe(self.patches)}).")
        y_m = check_survival_y(y[rows], where=where)
        all_tiles = np.concatenate(bags, axis=0)
        self.tile_mean_ = all_tiles.mean(axis=0)
        scale = all_tiles.std(axis=0)
        self.tile_scale_ = np.where(scale > 0, scale, 1.0).astype(np.float32)
        bags = [(b - self.tile_mean_) / self.tile_scale_ for b in bags]

        _deep = _load_deep()
        device = _deep.resolve_device(self.device)
        self.time_bins_ = make_time_bins(y_m, self.n_bins) if self.loss == "discrete" else None
        with _deep.deterministic(seed, self.n_threads, device):
            if self.validation_fraction > 0:
                inner, val = train_test_split(np.arange(rows.size), test_size=self.validation_fraction,
                                              stratify=y_m["event"], random_state=split_seed)
                if int(y_m["event"][val].sum()) < 2:
                    raise ValueError(
                        f"{_OWNER} {self.name!r}: the inner validation split holds {int(y_m['event'][val].sum())} "
                        "event(s); early stopping needs at least 2. Raise 'validation_fraction' or set it to 0.")
                net, result = self._train([bags[k] for k in inner], y_m[inner], device, self.epochs,
                                          val=([bags[k] for k in val], y_m[val]))
                best = max(result.best_epoch, 1)
                history = pd.DataFrame({"epoch": np.arange(1, len(result.train_loss) + 1),
                                        "train_loss": result.train_loss, "val_loss": result.val_loss})
                if self.refit:
                    net, _ = self._train(bags, y_m, device, best, val=None)
            else:
                net, result = self._train(bags, y_m, device, self.epochs, val=None)
                best = self.epochs
                history = pd.DataFrame({"epoch": np.arange(1, self.epochs + 1), "train_loss": result.train_loss,
                                        "val_loss": np.nan})
        self.network_ = net.cpu()
        self.best_epoch_ = int(best)
        self.history_ = history
        self.n_train_ = int(rows.size)
        self.selected_features_ = []
        self.offset_ = 0.0
        self.offset_ = float(np.mean(self.predict(X.iloc[rows])))  # centred as predict scores (every tile)
        return self

    def _train(self, bags, y, device, epochs, *, val):
        _deep = _load_deep()
        torch = require("torch", extra="wsi")
        out_dim = 1 if self.loss == "cox" else len(self.time_bins_) + 1
        net = _deep.GatedAttentionMIL(bags[0].shape[1], hidden=self.hidden, attention_dim=self.attention_dim,
                                      dropout=self.dropout, out_dim=out_dim).to(device)
        tiles, mask = _deep.pad_bags(bags, device)
        generator = torch.Generator(device="cpu").manual_seed(int(torch.randint(0, 2**31 - 1, (1,)).item()))
        bins = None if self.time_bins_ is None else time_to_bin(y["time"], self.time_bins_)

        def step(train):
            # a random half of each bag's tiles per epoch: augmentation against memorising bags
            out, _, _ = net(tiles, _deep.subsample_mask(mask, 0.5, generator) if train else mask)
            return _deep.survival_loss(out, y["time"], y["event"], bins, loss=self.loss, ties=self.ties)

        validate = None
        if val is not None:
            val_tiles, val_mask = _deep.pad_bags(val[0], device)
            yv = val[1]
            bins_v = None if bins is None else time_to_bin(yv["time"], self.time_bins_)

            def validate():
                out, _, _ = net(val_tiles, val_mask)
                return _deep.survival_loss(out, yv["time"], yv["event"], bins_v, loss=self.loss,
                                           ties=self.ties).item()

        result = _deep.train_network(net, step, epochs=epochs, learning_rate=self.learning_rate,
                                     weight_decay=self.weight_decay, validate=validate, patience=self.patience)
        return net, result

    # --------------------------------------------------------------------------------------------- predict
    def _run(self, features: np.ndarray, *, standardised: bool = False):
        """(risk, attention, embedding) of one bag, in eval mode."""
        torch = require("torch", extra="wsi")
        from multisurv.scores.losses import discrete_risk

        if not standardised:
            features = (features - self.tile_mean_) / self.tile_scale_
        old = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)
        try:
            net = self.network_.eval()
            tiles = torch.as_tensor(np.asarray(features, dtype=np.float32)).unsqueeze(0)
            with torch.no_grad():
                out, attention, embedding = net(tiles, torch.ones(tiles.shape[:2], dtype=torch.bool))
                risk = out[0, 0] if self.loss == "cox" else discrete_risk(out)[0]
        finally:
            torch.set_num_threads(old)
        return float(risk), attention[0].double().numpy(), embedding[0].double().numpy()

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Slide risk (higher = worse, centred on the training slides) per row; NaN for patients without a slide.

        Parameters
        ----------
        X : pandas.DataFrame
            Index ``patient_id``.

        Returns
        -------
        ndarray, shape (n_samples,)

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from multisurv._validation import make_y
        >>> from multisurv.features.wsi.patch_store import PatchWriter
        >>> tmp = tempfile.TemporaryDirectory()
        >>> rng, folder = np.random.default_rng(0), pathlib.Path(tmp.name)
        >>> ids = [f"P{i}" for i in range(20)]
        >>> corners = np.array([[0, 0], [224, 0], [0, 224], [224, 224]])
        >>> for i, pid in enumerate(ids[:18]):  # P18 and P19 have no slide
        ...     with PatchWriter(folder / f"{pid}.h5", 4, 3, coords=corners, tissue=np.ones(4)) as w:
        ...         w.write(np.arange(4), rng.normal(size=(4, 3)) + i % 2, keep=np.ones(4, bool))
        >>> y = make_y([1.0 + (i % 2 == 0) + rng.random() for i in range(20)], np.ones(20, bool))
        >>> X = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
        >>> score = AttentionMILScore(patches=folder, hidden=8, epochs=5, random_state=0).fit(X, y)
        >>> risk = score.predict(X)
        >>> risk.shape, int(np.isnan(risk).sum())  # NaN for the 2 patients without a slide
        ((20,), 2)
        >>> tmp.cleanup()
        """
        check_is_fitted(self, "network_")
        X = _check_frame(X)
        risk = np.full(len(X), np.nan)
        for i, pid in enumerate(X.index):
            bag = self._bag(pid)
            if bag is not None:
                risk[i] = self._run(bag[0])[0] - self.offset_
        return risk

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Attention-pooled slide embedding per row (``<prefix>abmil_000`` ...), NaN rows without a slide.

        The embedding can replace the mean-pooled ``wsi__`` columns as the pathomics input of early or
        intermediate fusion; it was trained with the outcome, so fit it on training rows only (inside each
        resample).

        Parameters
        ----------
        X : pandas.DataFrame
            Index ``patient_id``; the columns are not used.

        Returns
        -------
        pandas.DataFrame, shape (n_samples, hidden)
            Index of ``X``; columns ``<prefix>abmil_000`` ...; NaN rows for patients without a slide.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from multisurv._validation import make_y
        >>> from multisurv.features.wsi.patch_store import PatchWriter
        >>> tmp = tempfile.TemporaryDirectory()
        >>> rng, folder = np.random.default_rng(0), pathlib.Path(tmp.name)
        >>> ids = [f"P{i}" for i in range(20)]
        >>> corners = np.array([[0, 0], [224, 0], [0, 224], [224, 224]])
        >>> for i, pid in enumerate(ids[:18]):  # P18 and P19 have no slide
        ...     with PatchWriter(folder / f"{pid}.h5", 4, 3, coords=corners, tissue=np.ones(4)) as w:
        ...         w.write(np.arange(4), rng.normal(size=(4, 3)) + i % 2, keep=np.ones(4, bool))
        >>> y = make_y([1.0 + (i % 2 == 0) + rng.random() for i in range(20)], np.ones(20, bool))
        >>> X = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
        >>> score = AttentionMILScore(patches=folder, hidden=8, epochs=5, random_state=0).fit(X, y)
        >>> emb = score.transform(X)
        >>> emb.shape, list(emb.columns[:2]), int(emb.isna().all(axis=1).sum())
        ((20, 8), ['wsi__abmil_000', 'wsi__abmil_001'], 2)
        >>> tmp.cleanup()
        """
        check_is_fitted(self, "network_")
        X = _check_frame(X)
        columns = [f"{self.prefix}abmil_{k:03d}" for k in range(self.hidden)]
        out = np.full((len(X), self.hidden), np.nan)
        for i, pid in enumerate(X.index):
            bag = self._bag(pid)
            if bag is not None:
                out[i] = self._run(bag[0])[2]
        return pd.DataFrame(out, index=X.index, columns=columns)

    def tile_attention(self, patient_id) -> pd.DataFrame:
        """Attention weight of each tile of a patient's slide (they sum to 1).

        Parameters
        ----------
        patient_id : object
            A patient with a patch file.

        Returns
        -------
        pandas.DataFrame
            Columns ``x``, ``y`` (level-0 top-left corner) and ``attention``, one row per tile used, in the
            patch file's order; for a patient with several slides (one bag) also ``slide`` (1, 2...: the slide
            of ``<id>.h5``, ``<id>__2.h5``...), the weights summing to 1 over all of them.

        Raises
        ------
        ValueError
            If the patient has no patch file.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from multisurv._validation import make_y
        >>> from multisurv.features.wsi.patch_store import PatchWriter
        >>> tmp = tempfile.TemporaryDirectory()
        >>> rng, folder = np.random.default_rng(0), pathlib.Path(tmp.name)
        >>> ids = [f"P{i}" for i in range(20)]
        >>> corners = np.array([[0, 0], [224, 0], [0, 224], [224, 224]])
        >>> for i, pid in enumerate(ids[:18]):  # P18 and P19 have no slide
        ...     with PatchWriter(folder / f"{pid}.h5", 4, 3, coords=corners, tissue=np.ones(4)) as w:
        ...         w.write(np.arange(4), rng.normal(size=(4, 3)) + i % 2, keep=np.ones(4, bool))
        >>> y = make_y([1.0 + (i % 2 == 0) + rng.random() for i in range(20)], np.ones(20, bool))
        >>> X = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
        >>> score = AttentionMILScore(patches=folder, hidden=8, epochs=5, random_state=0).fit(X, y)
        >>> att = score.tile_attention("P0")
        >>> att[["x", "y"]].values.tolist(), round(float(att["attention"].sum()), 6)
        ([[0, 0], [224, 0], [0, 224], [224, 224]], 1.0)
        >>> tmp.cleanup()
        """
        check_is_fitted(self, "network_")
        bag = self._bag(patient_id)
        if bag is None:
            raise ValueError(f"{_OWNER} {self.name!r}: patient {patient_id!r} has no patch file "
                             f"({_describe(self.patches)}).")
        _, attention, _ = self._run(bag[0])
        table = pd.DataFrame({"x": bag[1][:, 0], "y": bag[1][:, 1], "attention": attention})
        if bag[2].max() > 0:  # several slides: which slide each tile is on (1: <id>.h5, 2: <id>__2.h5...)
            table["slide"] = bag[2] + 1
        return table

    def score(self, X: pd.DataFrame, y: np.ndarray) -> float:
        """Harrell's C of the slide risk on the patients who have a slide.

        Parameters
        ----------
        X : pandas.DataFrame
            Index ``patient_id``.
        y : structured array, shape (n_samples,)
            Fields ``event`` (bool) and ``time`` (float).

        Returns
        -------
        float
            scikit-survival's ``concordance_index_censored`` of :meth:`predict` over the patients with a slide.

        Raises
        ------
        ValueError
            If the sizes differ or ``y`` of the patients with a slide is not a valid survival outcome.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from multisurv._validation import make_y
        >>> from multisurv.features.wsi.patch_store import PatchWriter
        >>> tmp = tempfile.TemporaryDirectory()
        >>> rng, folder = np.random.default_rng(0), pathlib.Path(tmp.name)
        >>> ids = [f"P{i}" for i in range(20)]
        >>> corners = np.array([[0, 0], [224, 0], [0, 224], [224, 224]])
        >>> for i, pid in enumerate(ids[:18]):  # P18 and P19 have no slide
        ...     with PatchWriter(folder / f"{pid}.h5", 4, 3, coords=corners, tissue=np.ones(4)) as w:
        ...         w.write(np.arange(4), rng.normal(size=(4, 3)) + i % 2, keep=np.ones(4, bool))
        >>> y = make_y([1.0 + (i % 2 == 0) + rng.random() for i in range(20)], np.ones(20, bool))
        >>> X = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
        >>> score = AttentionMILScore(patches=folder, hidden=8, epochs=5, random_state=0).fit(X, y)
        >>> 0.0 <= score.score(X, y) <= 1.0
        True
        >>> tmp.cleanup()
        """
        risk = self.predict(X)
        y = np.asarray(y)
        check_consistent_length(X=X, y=y)
        keep = ~np.isnan(risk)
        y_m = check_survival_y(y[keep], where="the patients with a patch file")
        return float(concordance_index_censored(y_m["event"], y_m["time"], risk[keep])[0])

    def _check_params(self) -> None:
        if self.patches is None or not isinstance(self.patches, (Mapping, str, os.PathLike)):
            raise ValueError(f"The 'patches' parameter of {_OWNER} must be a mapping patient_id -> patch file or "
                             f"the folder of patch files. Got {self.patches!r} instead.")
        for param in ("name", "prefix"):
            value = getattr(self, param)
            if not isinstance(value, str) or not value:
                raise ValueError(f"The '{param}' parameter of {_OWNER} must be a non-empty str. Got {value!r} instead.")
        check_param(_OWNER, "tiles", self.tiles, kind="option", options=("keep", "all"))
        check_param(_OWNER, "loss", self.loss, kind="option", options=LOSSES)
        check_param(_OWNER, "ties", self.ties, kind="option", options=TIES)
        for param in ("hidden", "attention_dim", "epochs", "patience"):
            check_param(_OWNER, param, getattr(self, param), kind="int", low=1)
        check_param(_OWNER, "n_bins", self.n_bins, kind="int", low=2)
        check_param(_OWNER, "dropout", self.dropout, kind="float", low=0, high=1, high_open=True)
        check_param(_OWNER, "learning_rate", self.learning_rate, kind="float", low=0, low_open=True)
        check_param(_OWNER, "weight_decay", self.weight_decay, kind="float", low=0)
        check_param(_OWNER, "validation_fraction", self.validation_fraction, kind="float", low=0, high=0.5,
                    high_open=True)
        check_param(_OWNER, "refit", self.refit, kind="option", options=(True, False))
        if self.max_tiles is not None:
            check_param(_OWNER, "max_tiles", self.max_tiles, kind="int", low=1)
        if self.n_threads is not None:
            check_param(_OWNER, "n_threads", self.n_threads, kind="int", low=1)


def _describe(patches) -> str:
    if isinstance(patches, Mapping):
        return f"a mapping of {len(patches)} patient(s)"
    return f"folder {os.fspath(patches)!r}"


def _load_deep():
    require("torch", extra="wsi")
    from multisurv.scores import _deep

    return _deep


def _check_frame(X) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{_OWNER} needs 'X' as a pandas DataFrame indexed by patient_id; got {type(X).__name__}.")
    return X
