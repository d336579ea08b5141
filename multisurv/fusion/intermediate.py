"""Deep intermediate fusion: one encoder per modality, a fusion layer, a Cox head (torch, fitted without leakage)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from sksurv.metrics import concordance_index_censored

from multisurv._optional import require
from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.scores.losses import LOSSES, TIES, make_time_bins, time_to_bin
from multisurv.scores.modality_score import ModalityScore, check_scores, default_scores, modality_present

__all__ = ["FUSION_LAYERS", "IntermediateFusionCox"]

logger = logging.getLogger(__name__)

_OWNER = "IntermediateFusionCox"
#: Fusion layers of :class:`IntermediateFusionCox`.
FUSION_LAYERS = ("concat", "kronecker", "attention")


class IntermediateFusionCox(BaseEstimator):
    """Deep intermediate fusion: an MLP encoder per modality, a fusion layer and a Cox (or discrete-time) head.

    Parameters
    ----------
    scores : sequence of ModalityScore or None, default=None
        One per modality, as for :class:`~multisurv.fusion.early.EarlyFusionCox`: each is cloned and fitted on
        the training rows to choose its modality's features (its ``prefix`` names the modality's columns).
        None means radscore (``ct__``), patscore (``wsi__``) and clinscore (``clin__``).
    fusion : {"concat", "kronecker", "attention"}, default="concat"
        ``"concat"``: the embeddings and the availability mask side by side. ``"kronecker"``: each embedding
        gated by a sigmoid of all of them, a 1 appended, and their outer product (Pathomic Fusion), so every
        cross-modal product is a feature. ``"attention"``: gated attention over the modality embeddings.
    hidden : int, default=16
        Width of each modality embedding and of the head.
    kron_dim : int, default=8
        ``fusion="kronecker"``: width of each gated vector; the product has ``(kron_dim + 1) ** n_modalities``
        entries.
    dropout : float, default=0.2
        Dropout in encoders and head.
    modality_dropout : float, default=0.2
        In training, each available modality of a patient is hidden with this probability in every epoch
        (at least one is always kept), so the model learns to score patients with missing modalities.
    loss : {"cox", "discrete"}, default="cox"
        Cox negative partial log-likelihood, or the discrete-time NLL over ``n_bins`` bins of the training
        event times (:mod:`multisurv.scores.losses`).
    ties : {"efron", "breslow"}, default="efron"
        Tie handling of the Cox loss.
    n_bins : int, default=4
        ``loss="discrete"``: number of time bins.
    epochs : int, default=300
        Maximum number of full-batch epochs.
    patience : int, default=30
        Early stopping: stop when the inner-validation loss has not improved for this many epochs.
    learning_rate, weight_decay : float, default 3e-3 and 1e-3
        Adam settings.
    validation_fraction : float, default=0.2
        Share of the **training** rows held out (stratified by event) for early stopping; 0 trains ``epochs``
        epochs on all rows without early stopping.
    refit : bool, default=True
        After early stopping, refit selection, scaling and network on all training rows for the chosen number
        of epochs. False keeps the network trained on the inner-training rows.
    device : str or None, default=None
        torch device; None uses CUDA when available, else the CPU.
    n_threads : int or None, default=1
        CPU threads torch uses while fitting and predicting (None: torch's current setting). One is the fastest
        for networks this small (measured 17 ms per epoch on 1 thread, 170 ms on 2 on a loaded 2-core machine)
        and makes the result independent of the machine's core count.
    random_state : int, RandomState instance or None, default=None
        Seeds the inner split, torch's initialisation and dropout, and the selection of every score whose own
        ``random_state`` is None (so that an int gives the same model at every fit).

    Attributes
    ----------
    scores_ : list of ModalityScore
        Fitted clones (their ``selected_features_`` are the encoders' inputs).
    modalities_ : list of str
        Score names, in the order of the encoders.
    features_ : dict
        Score name -> selected columns.
    impute_values_, mean_, scale_ : dict of pandas.Series
        Per modality: training medians (for a NaN in a row that has the modality), means and standard
        deviations of the imputed training features.
    network_ : torch.nn.Module
        The fitted network (on the CPU; moved to ``device`` to predict).
    best_epoch_ : int
        Epochs chosen by early stopping (or ``epochs``).
    history_ : pandas.DataFrame
        Inner training: ``epoch``, ``train_loss``, ``val_loss``.
    time_bins_ : ndarray or None
        ``loss="discrete"``: inner cut points of the time bins.
    fit_seconds_ : float

    See Also
    --------
    multisurv.fusion.early.EarlyFusionCox, multisurv.fusion.late.LateFusionCox

    Notes
    -----
    No leakage by construction: feature selection, imputation values, scaling, the time bins and the network
    are fitted on training rows only, and early stopping (the one choice made from data) uses an inner
    validation split of the training rows. Given to :func:`~multisurv.evaluation.resampling.validate`, the
    whole procedure is refitted in every resample; rows passed to :meth:`predict` never change anything.

    Missing modality: rows without any of a score's ``prefix`` columns get a zero embedding and a 0 in the
    availability mask (concat: the mask is an input; Kronecker: the gated vector is 0, leaving its appended 1,
    so the product reduces to the other modalities; attention: the modality gets no weight). Every patient
    is scored, also one without any modality. Risk is higher = worse (the Cox head's log-hazard, or minus the
    summed survival over the bins of the discrete head).

    Deterministic given an int ``random_state`` on a given device, torch version and thread count (torch's
    deterministic algorithms are switched on while fitting and restored afterwards).

    References
    ----------
    .. [1] Chen, R. J. et al. "Pathomic Fusion: an integrated framework for fusing histopathology and genomic
       features for cancer diagnosis and prognosis", IEEE Transactions on Medical Imaging 41(4), 757-770, 2022
       (arXiv 2019).
    .. [2] Ilse, M., Tomczak, J. and Welling, M. "Attention-based deep multiple instance learning", ICML 2018.
    .. [3] Vale-Silva, L. A. and Rohr, K. "Long-term cancer survival prediction using multimodal deep
       learning", Scientific Reports 11, 13505, 2021 (MultiSurv).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from multisurv._validation import make_y
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> from multisurv.selection.filters import VarianceFilter
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(120, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
    >>> X.iloc[:30, 2:] = np.nan  # 30 patients without a slide
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"])), np.ones(120, bool))
    >>> scores = [ModalityScore(name="radscore", prefix="ct__", selector=VarianceFilter()),
    ...           ModalityScore(name="patscore", prefix="wsi__", selector=VarianceFilter())]
    >>> model = IntermediateFusionCox(scores=scores, epochs=20, random_state=0).fit(X, y)
    >>> model.predict(X).shape, bool(np.isfinite(model.predict(X)).all())
    ((120,), True)
    """

    def __init__(self, *, scores: Sequence[ModalityScore] | None = None, fusion: str = "concat", hidden: int = 16,
                 kron_dim: int = 8, dropout: float = 0.2, modality_dropout: float = 0.2, loss: str = "cox",
                 ties: str = "efron", n_bins: int = 4, epochs: int = 300, patience: int = 30,
                 learning_rate: float = 3e-3, weight_decay: float = 1e-3, validation_fraction: float = 0.2,
                 refit: bool = True, device: str | None = None, n_threads: int | None = 1, random_state=None):
        self.scores = scores
        self.fusion = fusion
        self.hidden = hidden
        self.kron_dim = kron_dim
        self.dropout = dropout
        self.modality_dropout = modality_dropout
        self.loss = loss
        self.ties = ties
        self.n_bins = n_bins
        self.epochs = epochs
        self.patience = patience
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame, y: np.ndarray) -> IntermediateFusionCox:
        """Select features per modality, then train the network with early stopping on an inner split.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
            Wide feature table with prefixed columns; a patient lacking a modality has NaN in all its columns.
        y : structured array, shape (n_samples,)
            Fields ``event`` (bool) and ``time`` (float).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If a parameter is out of range, sizes differ, or the inner validation split has fewer than 2 events.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.scores.modality_score import ModalityScore
        >>> from multisurv.selection.filters import VarianceFilter
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(60, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
        >>> X.iloc[:10, 2:] = np.nan  # 10 patients without a slide
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"])), np.ones(60, bool))
        >>> scores = [ModalityScore(name="radscore", prefix="ct__", selector=VarianceFilter()),
        ...           ModalityScore(name="patscore", prefix="wsi__", selector=VarianceFilter())]
        >>> model = IntermediateFusionCox(scores=scores, epochs=5, random_state=0).fit(X, y)
        >>> model.features_
        {'radscore': ['ct__a', 'ct__b'], 'patscore': ['wsi__a', 'wsi__b']}
        """
        self._check_params()
        scores = default_scores(self.random_state) if self.scores is None else check_scores(self.scores, _OWNER)
        X = _check_frame(X)
        y = check_survival_y(y, where=f"{_OWNER}.fit")
        n = check_consistent_length(X=X, y=y)
        started = time.perf_counter()
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        split_seed = int(rng.randint(np.iinfo(np.int32).max))
        if self.random_state is not None:  # unseeded scores would choose different CV folds at every fit
            score_seed = int(rng.randint(np.iinfo(np.int32).max))
            scores = [clone(s).set_params(random_state=score_seed)
                      if "random_state" in s.get_params(deep=False) and s.get_params(deep=False)["random_state"] is None
                      else s for s in scores]
        _deep = _load_deep()
        device = _deep.resolve_device(self.device)

        with _deep.deterministic(seed, self.n_threads, device):
            if self.validation_fraction > 0:
                inner, val = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                              stratify=y["event"], random_state=split_seed)
                n_val_events = int(y["event"][val].sum())
                if n_val_events < 2:
                    raise ValueError(
                        f"{_OWNER}: the inner validation split (validation_fraction={self.validation_fraction} of "
                        f"{n} training patients) holds {n_val_events} event(s); early stopping needs at least 2. "
                        "Raise 'validation_fraction' or set it to 0 (no early stopping)."
                    )
                state = self._fit_once(X.iloc[inner], y[inner], scores, device, epochs=self.epochs,
                                       val=(X.iloc[val], y[val]))
                best_epoch = max(state["result"].best_epoch, 1)
                history = pd.DataFrame({"epoch": np.arange(1, len(state["result"].train_loss) + 1),
                                        "train_loss": state["result"].train_loss,
                                        "val_loss": state["result"].val_loss})
                if self.refit:
                    state = self._fit_once(X, y, scores, device, epochs=best_epoch, val=None)
            else:
                state = self._fit_once(X, y, scores, device, epochs=self.epochs, val=None)
                best_epoch = self.epochs
                history = pd.DataFrame({"epoch": np.arange(1, self.epochs + 1),
                                        "train_loss": state["result"].train_loss, "val_loss": np.nan})
        for key in ("scores_", "modalities_", "features_", "modality_columns_", "impute_values_", "mean_", "scale_",
                    "time_bins_"):
            setattr(self, key, state[key])
        self.network_ = state["network"].cpu()
        self.best_epoch_ = int(best_epoch)
        self.history_ = history
        self.n_features_in_ = X.shape[1]
        self.fit_seconds_ = time.perf_counter() - started
        logger.info("%s (%s) fitted on %d patients in %.1f s; %d epochs.", _OWNER, self.fusion, n,
                    self.fit_seconds_, self.best_epoch_)
        return self

    def _fit_once(self, X: pd.DataFrame, y: np.ndarray, scores, device, *, epochs: int, val) -> dict:
        """Selection, scaling and network fitted on (X, y); early stopping on ``val`` when given."""
        _deep = _load_deep()
        torch = require("torch", extra="wsi")
        fitted = [clone(s).fit(X, y) for s in scores]
        state: dict = {"scores_": fitted, "modalities_": [s.name for s in fitted],
                       "features_": {}, "modality_columns_": {}, "impute_values_": {}, "mean_": {}, "scale_": {}}
        for s in fitted:
            feats = list(s.selected_features_)
            present = modality_present(X, s.modality_columns_)
            values = X.loc[present, feats].to_numpy(dtype=float)
            medians = np.nanmedian(values, axis=0) if feats else np.zeros(0)
            medians = np.where(np.isnan(medians), 0.0, medians)
            imputed = np.where(np.isnan(values), medians, values)
            mean = imputed.mean(axis=0) if feats else np.zeros(0)
            scale = imputed.std(axis=0) if feats else np.ones(0)
            scale = np.where(scale > 0, scale, 1.0)
            index = pd.Index(feats, name="feature")
            state["features_"][s.name] = feats
            state["modality_columns_"][s.name] = list(s.modality_columns_)
            state["impute_values_"][s.name] = pd.Series(medians, index=index, dtype=float)
            state["mean_"][s.name] = pd.Series(mean, index=index, dtype=float)
            state["scale_"][s.name] = pd.Series(scale, index=index, dtype=float)
            if not feats:
                logger.info("%s: score %r selected no feature; its encoder sees only whether the modality is "
                            "present.", _OWNER, s.name)
        bins = None
        state["time_bins_"] = None
        if self.loss == "discrete":
            state["time_bins_"] = make_time_bins(y, self.n_bins)
            bins = time_to_bin(y["time"], state["time_bins_"])
        out_dim = 1 if self.loss == "cox" else len(state["time_bins_"]) + 1
        dims = [max(len(state["features_"][name]), 1) for name in state["modalities_"]]
        net = _deep.FusionNet(dims, hidden=self.hidden, fusion=self.fusion, dropout=self.dropout, out_dim=out_dim,
                              kron_dim=self.kron_dim).to(device)
        xs, masks = _to_tensors(_design(X, state), device)
        generator = torch.Generator(device="cpu").manual_seed(int(torch.randint(0, 2**31 - 1, (1,)).item()))

        def step(train: bool):
            m = masks
            if train and self.modality_dropout > 0:
                keep = (torch.rand(masks.shape, generator=generator) >= self.modality_dropout).to(device, masks.dtype)
                dropped = masks * keep
                none_left = (dropped.sum(dim=1, keepdim=True) == 0) & (masks.sum(dim=1, keepdim=True) > 0)
                m = torch.where(none_left, masks, dropped)
            out, _ = net(xs, m)
            return _deep.survival_loss(out, y["time"], y["event"], bins, loss=self.loss, ties=self.ties)

        validate = None
        if val is not None:
            xv, mv = _to_tensors(_design(val[0], state), device)
            yv = val[1]
            bins_v = None if bins is None else time_to_bin(yv["time"], state["time_bins_"])

            def validate():
                out, _ = net(xv, mv)
                return _deep.survival_loss(out, yv["time"], yv["event"], bins_v, loss=self.loss,
                                           ties=self.ties).item()

        state["result"] = _deep.train_network(net, step, epochs=epochs, learning_rate=self.learning_rate,
                                              weight_decay=self.weight_decay, validate=validate,
                                              patience=self.patience)
        state["network"] = net
        return state

    # ----------------------------------------------------------------------------------------- predict
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Risk (higher = worse) for every row of ``X``, also rows missing some or all modalities.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
            Must hold every prefixed column seen in fit.

        Returns
        -------
        ndarray, shape (n_samples,)

        Raises
        ------
        ValueError
            If ``X`` lacks a column seen in fit.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.scores.modality_score import ModalityScore
        >>> from multisurv.selection.filters import VarianceFilter
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(60, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
        >>> X.iloc[:10, 2:] = np.nan  # 10 patients without a slide
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"])), np.ones(60, bool))
        >>> scores = [ModalityScore(name="radscore", prefix="ct__", selector=VarianceFilter()),
        ...           ModalityScore(name="patscore", prefix="wsi__", selector=VarianceFilter())]
        >>> model = IntermediateFusionCox(scores=scores, epochs=5, random_state=0).fit(X, y)
        >>> risk = model.predict(X)  # also for the 10 patients without a slide
        >>> risk.shape, bool(np.isfinite(risk).all())
        ((60,), True)
        """
        out, _ = self._forward(X)
        if self.loss == "cox":
            return out[:, 0]
        from multisurv.scores.losses import discrete_risk

        torch = require("torch", extra="wsi")
        return discrete_risk(torch.as_tensor(out)).numpy()

    def modality_attention(self, X: pd.DataFrame) -> pd.DataFrame:
        """``fusion="attention"``: the attention weight of each modality for each row (0 for a missing one).

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
            Must hold every prefixed column seen in fit.

        Returns
        -------
        pandas.DataFrame
            Index of ``X``, one column per score name; rows sum to 1 (0 for a patient without any modality).

        Raises
        ------
        ValueError
            If the model was not fitted with ``fusion="attention"``, or ``X`` lacks a column seen in fit.

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.scores.modality_score import ModalityScore
        >>> from multisurv.selection.filters import VarianceFilter
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(60, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
        >>> X.iloc[:10, 2:] = np.nan  # 10 patients without a slide
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"])), np.ones(60, bool))
        >>> scores = [ModalityScore(name="radscore", prefix="ct__", selector=VarianceFilter()),
        ...           ModalityScore(name="patscore", prefix="wsi__", selector=VarianceFilter())]
        >>> model = IntermediateFusionCox(scores=scores, fusion="attention", epochs=5, random_state=0).fit(X, y)
        >>> weights = model.modality_attention(X)
        >>> list(weights.columns), bool(np.allclose(weights.sum(axis=1), 1.0))
        (['radscore', 'patscore'], True)
        >>> weights["patscore"].iloc[:10].tolist() == [0.0] * 10  # no slide, no weight
        True
        """
        if self.fusion != "attention":
            raise ValueError(f"{_OWNER}.modality_attention needs fusion='attention'; this model has "
                             f"fusion={self.fusion!r}.")
        _, weights = self._forward(X)
        return pd.DataFrame(weights, index=X.index, columns=self.modalities_)

    def _forward(self, X: pd.DataFrame):
        check_is_fitted(self, "network_")
        X = _check_frame(X)
        missing = [c for cols in self.modality_columns_.values() for c in cols if c not in X.columns]
        if missing:
            raise ValueError(
                f"'X' lacks {len(missing)} column(s) that {_OWNER} was fitted with: "
                f"{', '.join(repr(c) for c in missing[:5])}{', ...' if len(missing) > 5 else ''}. "
                "Pass the same feature table columns as in fit."
            )
        _deep = _load_deep()
        torch = require("torch", extra="wsi")
        device = _deep.resolve_device(self.device)
        state = {k: getattr(self, k) for k in ("modalities_", "features_", "modality_columns_", "impute_values_",
                                               "mean_", "scale_")}
        xs, masks = _to_tensors(_design(X, state), device)
        old = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(self.n_threads)
        try:
            net = self.network_.to(device).eval()
            with torch.no_grad():
                out, weights = net(xs, masks)
            self.network_.cpu()
        finally:
            torch.set_num_threads(old)
        return out.cpu().double().numpy(), None if weights is None else weights.cpu().double().numpy()

    def score(self, X: pd.DataFrame, y: np.ndarray) -> float:
        """Harrell's C of the predicted risk.

        Parameters
        ----------
        X : pandas.DataFrame, shape (n_samples, n_features)
            Must hold every prefixed column seen in fit.
        y : structured array, shape (n_samples,)
            Fields ``event`` (bool) and ``time`` (float).

        Returns
        -------
        float
            scikit-survival's ``concordance_index_censored`` of :meth:`predict` (in [0, 1]; 0.5 is chance).

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> from multisurv.scores.modality_score import ModalityScore
        >>> from multisurv.selection.filters import VarianceFilter
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(60, 4)), columns=["ct__a", "ct__b", "wsi__a", "wsi__b"])
        >>> X.iloc[:10, 2:] = np.nan  # 10 patients without a slide
        >>> y = make_y(rng.exponential(np.exp(-X["ct__a"])), np.ones(60, bool))
        >>> scores = [ModalityScore(name="radscore", prefix="ct__", selector=VarianceFilter()),
        ...           ModalityScore(name="patscore", prefix="wsi__", selector=VarianceFilter())]
        >>> model = IntermediateFusionCox(scores=scores, epochs=5, random_state=0).fit(X, y)
        >>> 0.0 <= model.score(X, y) <= 1.0
        True
        """
        y = check_survival_y(y)
        risk = self.predict(X)
        check_consistent_length(X=X, y=y)
        return float(concordance_index_censored(y["event"], y["time"], risk)[0])

    def _check_params(self) -> None:
        check_param(_OWNER, "fusion", self.fusion, kind="option", options=FUSION_LAYERS)
        check_param(_OWNER, "loss", self.loss, kind="option", options=LOSSES)
        check_param(_OWNER, "ties", self.ties, kind="option", options=TIES)
        check_param(_OWNER, "hidden", self.hidden, kind="int", low=1)
        check_param(_OWNER, "kron_dim", self.kron_dim, kind="int", low=1)
        check_param(_OWNER, "n_bins", self.n_bins, kind="int", low=2)
        check_param(_OWNER, "epochs", self.epochs, kind="int", low=1)
        check_param(_OWNER, "patience", self.patience, kind="int", low=1)
        check_param(_OWNER, "dropout", self.dropout, kind="float", low=0, high=1, high_open=True)
        check_param(_OWNER, "modality_dropout", self.modality_dropout, kind="float", low=0, high=1, high_open=True)
        check_param(_OWNER, "learning_rate", self.learning_rate, kind="float", low=0, low_open=True)
        check_param(_OWNER, "weight_decay", self.weight_decay, kind="float", low=0)
        check_param(_OWNER, "validation_fraction", self.validation_fraction, kind="float", low=0, high=0.5,
                    high_open=True)
        check_param(_OWNER, "refit", self.refit, kind="option", options=(True, False))
        if self.n_threads is not None:
            check_param(_OWNER, "n_threads", self.n_threads, kind="int", low=1)
        n_modalities = 3 if self.scores is None else len(list(self.scores))
        if self.fusion == "kronecker" and (self.kron_dim + 1) ** n_modalities > 20_000:
            raise ValueError(
                f"{_OWNER}: fusion='kronecker' with kron_dim={self.kron_dim} and {n_modalities} modalities builds "
                f"a product of {(self.kron_dim + 1) ** n_modalities} entries (at most 20000). Lower 'kron_dim'."
            )


def _load_deep():
    require("torch", extra="wsi")
    from multisurv.scores import _deep

    return _deep


def _check_frame(X) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{_OWNER} needs 'X' as a pandas DataFrame with prefixed columns; got {type(X).__name__}.")
    return X


def _design(X: pd.DataFrame, state: dict) -> tuple[list[np.ndarray], np.ndarray]:
    """Per modality: standardised selected features (0 where missing) and the availability mask."""
    xs, masks = [], []
    for name in state["modalities_"]:
        feats = state["features_"][name]
        present = modality_present(X, state["modality_columns_"][name])
        if feats:
            values = X.loc[:, feats].to_numpy(dtype=float)
            values = np.where(np.isnan(values), state["impute_values_"][name].to_numpy(), values)
            values = (values - state["mean_"][name].to_numpy()) / state["scale_"][name].to_numpy()
            values[~present] = 0.0
        else:
            values = np.zeros((X.shape[0], 1))
        xs.append(values)
        masks.append(present.astype(float))
    return xs, np.column_stack(masks) if masks else np.zeros((X.shape[0], 0))


def _to_tensors(design, device):
    torch = require("torch", extra="wsi")
    xs, masks = design
    return ([torch.as_tensor(x, dtype=torch.float32, device=device) for x in xs],
            torch.as_tensor(masks, dtype=torch.float32, device=device))
