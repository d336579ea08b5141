"""Feature-level generator: radiomics, pathomics and clinical feature tables drawn directly, without images.

:func:`simulate_cohort` draws the patients of :mod:`multisurv.cohort.synthetic` (the same latent terms, the same
true log-hazard ratios, Weibull baseline, censoring, case mix and missingness) and, instead of rendering CT crops
and slides and extracting features from them, draws the feature tables from a factor model of those features:

==============  ==================================================================================
table           each feature is ...
==============  ==================================================================================
``ct__``        ``z_size`` and ``u_ct`` (the CT's signal) + nuisance factors shared by clusters of
                features (acquisition, texture families) + its own noise; unit variance
``wsi__``       ``u_path`` and ``z_mitotic`` (the slide's signal) + nuisance factors + own noise
``clin__``      the manifest's clinical variables, already encoded as numbers (one-hot with the first
                level as reference, as :class:`~multisurv.features.clinical.ClinicalPreprocessor`
                does), plus ``n_null_clinical`` variables unrelated to the outcome
==============  ==================================================================================

The external centre's imaging features pass through a centre effect: a per-feature offset and scale (the
affine part, which ComBat can remove) and extra measurement noise (the part it cannot). Every knob the
simulation runner varies is a field of :class:`Mechanism`; its defaults reproduce the image-level generator's
outcome model and the feature structure measured on its extracted features (see
``experiments/fusion_simulation/README.md``, "Check against the image-level generator").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from multisurv._validation import make_y
from multisurv.cohort.synthetic import BASELINE, CASE_MIX, CENSORING, COEFFICIENTS, INTERACTION_THRESHOLD, \
    MISSINGNESS, SITES, STANDARDISATION

__all__ = ["Mechanism", "SimulatedCohort", "simulate_cohort", "simulate_study", "censoring_factor",
           "MECHANISM_VERSION", "CLINICAL_COLUMNS"]

#: Version of the feature-level mechanism; part of every cache key (bump it when a seed would give other tables).
MECHANISM_VERSION = "feature_level.v1"

#: Encoded clinical columns of the 7 generated variables (reference levels: female, stomach, no TKI).
CLINICAL_COLUMNS = ("clin__age", "clin__sex_male", "clin__site_small_intestine", "clin__site_colorectum",
                    "clin__site_other", "clin__tumour_size_cm", "clin__mitotic_count", "clin__ki67_percent",
                    "clin__tki_therapy_yes")

_CLINICAL_TERMS = ("z_size", "z_mitotic", "z_age", "tki", "site_small_intestine", "site_colorectum", "site_other")
_CENTRES = ("development", "external", "truth")
#: Mechanism fields added after feature_level.v1; they enter Mechanism.key() only when not at their default.
_LATER_FIELDS = ("heavy_share_ct", "heavy_ratio_ct")


@dataclass(frozen=True)
class Mechanism:
    """The data-generating mechanism of one simulation scenario (every field is a factor a config may vary).

    Parameters
    ----------
    n_development, n_external : int
        Patients in the development and the external centre.
    signal_ct, signal_path, signal_clinical : float
        Multipliers of the true log-hazard ratios of ``u_ct`` (0.85), ``u_path`` (0.85) and of the clinical
        terms (size, mitotic count, age, TKI, site); 1 is the image-level generator, 0 removes the signal.
    interaction : float
        Cross-modal interaction, as ``make_synthetic_table(interaction=...)``: ``interaction * u_path *
        1[z_size > INTERACTION_THRESHOLD]`` is added to the true linear predictor (the slide's signal acts only
        in large tumours, which CT sees); 0 (the image-level generator's default) adds nothing.
    event_rate : float or None
        Target share of events; None keeps the image-level censoring (about 45 % events), a number rescales
        every censoring time by one factor found on a large sample (:func:`censoring_factor`).
    missing_ct, missing_wsi, missing_clinical : float
        Probability that a patient lacks CT, lacks a slide, or that a clinical value is empty.
    n_ct_features, n_wsi_features : int
        Imaging features per modality that follow the factor model.
    n_noise_features : int
        Extra features per imaging modality that are pure noise (no latent factor).
    n_null_clinical : int
        Extra clinical variables unrelated to everything (laboratory values and present/absent findings).
    shift_ct, shift_wsi : float
        Affine centre effect of the external centre, in development SDs: per-feature offsets ~ N(0, shift^2)
        and log-scales ~ N(0, (shift / 2)^2). 0 switches it off.
    noise_ct, noise_wsi : float
        SD of the extra measurement noise of the external centre, relative to a feature's SD (0: none).
    n_factors_ct, n_factors_wsi : int
        Nuisance factors (clusters of correlated features) per imaging modality.
    communality_ct, communality_wsi : (float, float)
        Range of the share of each feature's variance explained by factors (uniform per feature).
    signal_share_ct, signal_share_wsi : float
        Typical share of that explained variance that comes from the modality's signal latents.
    case_mix_shift : bool
        The external centre's slightly older, more small-bowel case mix (True as in the image-level generator).
    structure_seed : int
        Seeds the feature definitions (loadings, centre offsets), which stay fixed across replicates, as an
        extractor's features do.
    heavy_share_ct : float
        Share of the CT features whose external spread is several times their development spread (scanner noise
        inside the feature), as in the image-level generator's 2,246 radiomics features (1.5 % above 2-fold,
        up to 11.7-fold). 0 (default) switches it off.
    heavy_ratio_ct : (float, float)
        Range of those features' external / development SD ratio (log-uniform).

    Notes
    -----
    Fields added after ``feature_level.v1`` (``heavy_share_ct``, ``heavy_ratio_ct``) enter :meth:`key` only when
    they differ from their defaults, so the caches of existing studies stay valid.

    Examples
    --------
    >>> mech = Mechanism(n_external=200, shift_ct=1.0)
    >>> mech.n_development, mech.n_external, mech.replace(shift_ct=0.0).shift_ct
    (200, 200, 0.0)
    """

    n_development: int = 200
    n_external: int = 100
    signal_ct: float = 1.0
    signal_path: float = 1.0
    signal_clinical: float = 1.0
    interaction: float = 0.0
    event_rate: float | None = None
    missing_ct: float = MISSINGNESS["ct"]
    missing_wsi: float = MISSINGNESS["wsi"]
    missing_clinical: float = MISSINGNESS["clinical"]
    n_ct_features: int = 100
    n_wsi_features: int = 100
    n_noise_features: int = 0
    n_null_clinical: int = 0
    # defaults calibrated on the image-level generator's features (experiments/fusion_simulation/README.md)
    shift_ct: float = 0.5
    shift_wsi: float = 1.0
    noise_ct: float = 0.0
    noise_wsi: float = 0.0
    n_factors_ct: int = 4
    n_factors_wsi: int = 3
    communality_ct: tuple[float, float] = (0.85, 0.99)
    communality_wsi: tuple[float, float] = (0.85, 0.99)
    signal_share_ct: float = 0.5
    signal_share_wsi: float = 0.45
    case_mix_shift: bool = True
    structure_seed: int = 0
    heavy_share_ct: float = 0.0
    heavy_ratio_ct: tuple[float, float] = (2.0, 12.0)

    # ----------------------------------------------------------------------------------------- helpers
    def replace(self, **changes: Any) -> Mechanism:
        """A copy with some fields changed (tuples may be given as lists).

        Parameters
        ----------
        **changes
            Field -> new value.

        Returns
        -------
        Mechanism

        Raises
        ------
        TypeError
            When a name is not a field.

        Examples
        --------
        >>> Mechanism().replace(n_external=200, communality_ct=[0.5, 0.9]).communality_ct
        (0.5, 0.9)
        """
        changes = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (tuples as lists).

        Returns
        -------
        dict
            Field -> value, in declaration order.

        Examples
        --------
        >>> list(Mechanism().to_dict())[:3]
        ['n_development', 'n_external', 'signal_ct']
        """
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def key(self) -> str:
        """A 12-character hash of the mechanism (and :data:`MECHANISM_VERSION`): its cache and seed key.

        Fields added in later versions enter the hash only when they differ from their default, so the keys
        (and caches) of earlier mechanisms stay valid.

        Returns
        -------
        str
            Twelve lowercase hex digits.

        Examples
        --------
        >>> Mechanism().key() == Mechanism().key(), Mechanism().key() == Mechanism(signal_ct=2.0).key()
        (True, False)
        """
        values = self.to_dict()
        default = Mechanism().to_dict()
        for name in _LATER_FIELDS:  # added later: in the key only when set, so existing caches stay valid
            if values[name] == default[name]:
                del values[name]
        text = json.dumps({"version": MECHANISM_VERSION, **values}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def coefficients(self) -> dict[str, float]:
        """True log-hazard ratios of this mechanism (the image-level ones times the signal multipliers).

        Returns
        -------
        dict of str to float
            Term -> log-hazard ratio: the clinical terms, ``u_ct``, ``u_path`` and the interaction ``u_path:large``.

        Examples
        --------
        >>> coef = Mechanism(interaction=0.5).coefficients()
        >>> coef["u_path:large"], coef["u_ct"] == 2 * Mechanism(signal_ct=0.5).coefficients()["u_ct"]
        (0.5, True)
        """
        coef = {k: v * self.signal_clinical for k, v in COEFFICIENTS.items() if k in _CLINICAL_TERMS}
        coef["u_ct"] = COEFFICIENTS["u_ct"] * self.signal_ct
        coef["u_path"] = COEFFICIENTS["u_path"] * self.signal_path
        coef["u_path:large"] = float(self.interaction)
        return coef


@dataclass(frozen=True)
class SimulatedCohort:
    """One simulated centre (made by :func:`simulate_cohort`).

    Parameters
    ----------
    X : pandas.DataFrame
        Index ``patient_id``; ``ct__``, ``wsi__`` and ``clin__`` columns (NaN rows where a modality is missing).
    y : structured array
        Fields ``event`` (bool) and ``time`` (months).
    true_lp : ndarray
        True linear predictor (higher = worse).
    latent : pandas.DataFrame
        The latent terms per patient (``z_size``, ``z_mitotic``, ``z_age``, ``u_ct``, ``u_path``, ...).

    Examples
    --------
    >>> cohort = simulate_cohort(Mechanism(), 20, "development", np.random.default_rng(0))
    >>> cohort.X.shape[0], cohort.y.dtype.names, cohort.true_lp.shape
    (20, ('event', 'time'), (20,))
    """

    X: pd.DataFrame
    y: np.ndarray
    true_lp: np.ndarray
    latent: pd.DataFrame


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _draw_latent(rng: np.random.Generator, n: int, centre: str, mech: Mechanism) -> pd.DataFrame:
    """The patient table of :func:`multisurv.cohort.synthetic._draw_patient`, vectorised (same equations)."""
    mix = CASE_MIX["external" if centre != "development" and mech.case_mix_shift else "development"]
    std = STANDARDISATION
    age = np.round(np.clip(rng.normal(mix["age_mean"], mix["age_sd"], n), 25.0, 90.0), 1)
    male = (rng.random(n) >= mix["p_female"]).astype(float)
    site = rng.choice(len(SITES), p=mix["site_p"], size=n)
    z_size = rng.standard_normal(n)
    v_mitotic = rng.standard_normal(n)
    u_ct = rng.standard_normal(n)
    u_path = 0.3 * v_mitotic + np.sqrt(1.0 - 0.3**2) * rng.standard_normal(n)
    true_size = np.exp(std["z_size"]["centre"] + std["z_size"]["scale"] * z_size)
    mitotic = rng.poisson(rng.gamma(4.0, np.exp(np.log(3.0) + v_mitotic) / 4.0)).astype(float)
    z_mitotic = (np.log1p(mitotic) - std["z_mitotic"]["centre"]) / std["z_mitotic"]["scale"]
    z_age = (age - std["z_age"]["centre"]) / std["z_age"]["scale"]
    measured_size = np.round(np.maximum(0.5, true_size * np.exp(rng.normal(0.0, 0.1, n))), 1)
    ki67 = np.round(100.0 * _sigmoid(-2.0 + 0.5 * v_mitotic + 0.4 * u_path + rng.normal(0.0, 0.5, n)), 1)
    tki = (rng.random(n) < _sigmoid(-0.5 + 1.0 * z_size + 0.8 * z_mitotic)).astype(float)
    return pd.DataFrame({
        "z_size": z_size, "z_mitotic": z_mitotic, "z_age": z_age, "u_ct": u_ct, "u_path": u_path, "tki": tki,
        "site_small_intestine": (site == 1).astype(float), "site_colorectum": (site == 2).astype(float),
        "site_other": (site == 3).astype(float), "v_mitotic": v_mitotic, "age": age, "male": male,
        "measured_size": measured_size, "mitotic": mitotic, "ki67": ki67,
    })


def _true_lp(latent: pd.DataFrame, mech: Mechanism) -> np.ndarray:
    coef = mech.coefficients()
    lp = sum(coef[k] * latent[k].to_numpy() for k in coef if k != "u_path:large")
    large = latent["z_size"].to_numpy() > INTERACTION_THRESHOLD
    return lp + coef["u_path:large"] * latent["u_path"].to_numpy() * large


def _draw_outcome(rng: np.random.Generator, lp: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    n = lp.size
    event_time = BASELINE["scale_months"] * (rng.standard_exponential(n) * np.exp(-lp)) ** (1.0 / BASELINE["shape"])
    accrual = rng.uniform(0.0, CENSORING["accrual_months"], n)
    loss = rng.exponential(1.0 / CENSORING["loss_rate_per_month"], n)
    censor_time = factor * np.minimum(CENSORING["study_months"] - accrual, loss)
    event = event_time <= censor_time
    time = np.maximum(np.round(np.minimum(event_time, censor_time), 2), 0.01)
    return event, time


@lru_cache(maxsize=64)
def censoring_factor(mech: Mechanism) -> float:
    """The factor on every censoring time that gives ``mech.event_rate`` events (1.0 when it is None).

    Found by bisection on 40,000 development patients drawn with a fixed seed, so it is a property of the
    mechanism (the same in every replicate).

    Parameters
    ----------
    mech : Mechanism
        The scenario; its ``event_rate`` is the target share of events.

    Returns
    -------
    float
        Multiplier of every censoring time (> 1 gives more events, < 1 fewer).

    Examples
    --------
    >>> censoring_factor(Mechanism())
    1.0
    >>> round(censoring_factor(Mechanism(event_rate=0.3)), 2) < 1.0
    True
    """
    if mech.event_rate is None:
        return 1.0
    rng = np.random.default_rng(np.random.SeedSequence(20261204))
    lp = _true_lp(_draw_latent(rng, 40_000, "development", mech), mech)
    event_time = BASELINE["scale_months"] * (rng.standard_exponential(lp.size) * np.exp(-lp)) ** (
        1.0 / BASELINE["shape"])
    base = np.minimum(CENSORING["study_months"] - rng.uniform(0.0, CENSORING["accrual_months"], lp.size),
                      rng.exponential(1.0 / CENSORING["loss_rate_per_month"], lp.size))
    lo, hi = 1e-3, 1e3
    for _ in range(60):  # geometric bisection: the event share rises with the factor
        mid = float(np.sqrt(lo * hi))
        if np.mean(event_time <= mid * base) < mech.event_rate:
            lo = mid
        else:
            hi = mid
    return float(np.sqrt(lo * hi))


@dataclass(frozen=True)
class _Structure:
    loadings: np.ndarray  # (p, n_signal + n_factors)
    unique_sd: np.ndarray  # (p,)
    offset: np.ndarray  # (p,) external centre offset (development SDs)
    log_scale: np.ndarray  # (p,) external centre log-scale


@lru_cache(maxsize=32)
def _structure(modality: str, p: int, n_factors: int, communality: tuple[float, float], signal_share: float,
               shift: float, seed: int) -> _Structure:
    """Feature definitions of one imaging modality: loadings on [signal latents, nuisance factors], centre effect."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0 if modality == "ct" else 1]))
    n_signal = 2
    h = rng.uniform(communality[0], communality[1], p)
    cluster = rng.integers(0, max(n_factors, 1), p)
    nuisance = rng.normal(0.0, 0.35, (p, n_factors))
    if n_factors:
        nuisance[np.arange(p), cluster] = rng.choice([-1.0, 1.0], p) * rng.uniform(0.7, 1.3, p)
    # signal share per feature: Beta with mean signal_share (some features are mostly signal, most mostly nuisance)
    share = rng.beta(2.0 * signal_share / (1 - signal_share + 1e-9) + 1e-3, 2.0, p) if 0 < signal_share < 1 else \
        np.full(p, float(signal_share))
    signal_dir = rng.normal(0.0, 1.0, (p, n_signal))
    signal_dir /= np.linalg.norm(signal_dir, axis=1, keepdims=True)
    if n_factors:
        nuisance /= np.linalg.norm(nuisance, axis=1, keepdims=True)
        loadings = np.hstack([signal_dir * np.sqrt(share)[:, None], nuisance * np.sqrt(1 - share)[:, None]])
    else:
        loadings = signal_dir
    loadings *= np.sqrt(h)[:, None]
    unique_sd = np.sqrt(np.maximum(1.0 - (loadings**2).sum(axis=1), 1e-6))
    offset = rng.normal(0.0, 1.0, p) * shift
    log_scale = rng.normal(0.0, 1.0, p) * shift / 2.0
    return _Structure(loadings, unique_sd, offset, log_scale)


@lru_cache(maxsize=32)
def _heavy_noise(p: int, share: float, ratio: tuple[float, float], seed: int) -> np.ndarray:
    """Extra external noise SD per feature: 0, or sqrt(r^2 - 1) for a share of features (SD ratio r, log-uniform)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, 2]))  # its own stream: other draws unchanged
    heavy = rng.random(p) < share
    r = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1]), p))
    return np.where(heavy, np.sqrt(np.maximum(r**2 - 1.0, 0.0)), 0.0)


def _imaging(rng: np.random.Generator, signal: np.ndarray, *, modality: str, centre: str, mech: Mechanism,
             present: np.ndarray) -> pd.DataFrame:
    p = mech.n_ct_features if modality == "ct" else mech.n_wsi_features
    n_factors = mech.n_factors_ct if modality == "ct" else mech.n_factors_wsi
    communality = mech.communality_ct if modality == "ct" else mech.communality_wsi
    share = mech.signal_share_ct if modality == "ct" else mech.signal_share_wsi
    shift = mech.shift_ct if modality == "ct" else mech.shift_wsi
    noise = mech.noise_ct if modality == "ct" else mech.noise_wsi
    prefix = "ct__" if modality == "ct" else "wsi__"
    s = _structure(modality, p, n_factors, tuple(communality), float(share), float(shift), mech.structure_seed)
    n = signal.shape[0]
    factors = np.hstack([signal, rng.standard_normal((n, n_factors))])
    values = factors @ s.loadings.T + rng.standard_normal((n, p)) * s.unique_sd
    noise_features = rng.standard_normal((n, mech.n_noise_features))
    if centre != "development":
        values = s.offset + np.exp(s.log_scale) * (values + noise * rng.standard_normal((n, p)))
        if modality == "ct" and mech.heavy_share_ct > 0:
            heavy_sd = _heavy_noise(p, mech.heavy_share_ct, tuple(mech.heavy_ratio_ct), mech.structure_seed)
            values = values + np.exp(s.log_scale) * heavy_sd * rng.standard_normal((n, p))
    names = [f"{prefix}f{j:04d}" for j in range(p)] + [f"{prefix}noise{j:04d}" for j in range(mech.n_noise_features)]
    table = np.hstack([values, noise_features])
    table[~present] = np.nan
    return pd.DataFrame(table, columns=names)


def _clinical(rng: np.random.Generator, latent: pd.DataFrame, mech: Mechanism) -> pd.DataFrame:
    table = pd.DataFrame({
        "clin__age": latent["age"], "clin__sex_male": latent["male"],
        "clin__site_small_intestine": latent["site_small_intestine"],
        "clin__site_colorectum": latent["site_colorectum"], "clin__site_other": latent["site_other"],
        "clin__tumour_size_cm": latent["measured_size"], "clin__mitotic_count": latent["mitotic"],
        "clin__ki67_percent": latent["ki67"], "clin__tki_therapy_yes": latent["tki"],
    })
    n = len(table)
    for column in ("clin__age", "clin__tumour_size_cm", "clin__mitotic_count", "clin__ki67_percent",
                   "clin__tki_therapy_yes"):  # the image-level generator's clinical_columns
        table.loc[rng.random(n) < mech.missing_clinical, column] = np.nan
    for k in range(1, mech.n_null_clinical + 1):  # as multisurv.cohort.synthetic_clinical, 5 % empty
        if k % 3 == 0:
            values = (rng.random(n) < 0.3).astype(float)
            name = f"clin__finding_{k:02d}_present"
        else:
            values = np.round(np.maximum(0.0, rng.normal(100.0, 15.0, n)), 1)
            name = f"clin__lab_{k:02d}"
        values[rng.random(n) < 0.05] = np.nan
        table[name] = values
    return table


def simulate_cohort(mech: Mechanism, n: int, centre: str, rng: np.random.Generator, *,
                    prefix: str | None = None) -> SimulatedCohort:
    """Draw ``n`` patients of one centre with their feature tables, outcome and true linear predictor.

    Parameters
    ----------
    mech : Mechanism
    n : int
        Number of patients.
    centre : {"development", "external", "truth"}
        ``"external"`` and ``"truth"`` (a large external sample for the estimand) get the external case mix
        and centre effect.
    rng : numpy.random.Generator
    prefix : str, optional
        Patient id prefix (default ``SIM-D``, ``SIM-E`` or ``SIM-T``).

    Returns
    -------
    SimulatedCohort

    Examples
    --------
    >>> c = simulate_cohort(Mechanism(n_ct_features=3, n_wsi_features=2), 5, "development",
    ...                     np.random.default_rng(0))
    >>> c.X.shape, [col for col in c.X.columns if col.startswith("ct__")]
    ((5, 14), ['ct__f0000', 'ct__f0001', 'ct__f0002'])
    """
    if centre not in _CENTRES:
        raise ValueError(f"Unknown centre {centre!r}. Choose one of: {', '.join(repr(c) for c in _CENTRES)}.")
    latent = _draw_latent(rng, n, centre, mech)
    lp = _true_lp(latent, mech)
    event, time = _draw_outcome(rng, lp, censoring_factor(mech))
    has_ct = rng.random(n) >= mech.missing_ct
    has_wsi = rng.random(n) >= mech.missing_wsi
    ct = _imaging(rng, latent[["z_size", "u_ct"]].to_numpy(), modality="ct", centre=centre, mech=mech,
                  present=has_ct)
    wsi = _imaging(rng, latent[["u_path", "z_mitotic"]].to_numpy(), modality="wsi", centre=centre, mech=mech,
                   present=has_wsi)
    clin = _clinical(rng, latent, mech)
    head = prefix or {"development": "SIM-D", "external": "SIM-E", "truth": "SIM-T"}[centre]
    index = pd.Index([f"{head}{i + 1:05d}" for i in range(n)], name="patient_id")
    X = pd.concat([ct, wsi, clin], axis=1)
    X.index = index
    latent.index = index
    latent["has_ct"] = has_ct
    latent["has_wsi"] = has_wsi
    return SimulatedCohort(X=X, y=make_y(time, event), true_lp=np.asarray(lp, dtype=float), latent=latent)


def simulate_study(mech: Mechanism, random_state: int | np.random.SeedSequence, *,
                   n_truth: int = 0) -> dict[str, SimulatedCohort]:
    """Draw the development and external centres of one replicate (and, if ``n_truth``, a large external sample).

    Each centre draws from its own child of ``SeedSequence(random_state)``, so the development cohort does not
    change when ``n_external`` or ``n_truth`` does.

    Parameters
    ----------
    mech : Mechanism
    random_state : int or numpy.random.SeedSequence
    n_truth : int, default 0
        Size of the independent external sample on which the estimand (a fitted model's true C) is computed;
        0 skips it.

    Returns
    -------
    dict
        ``"development"``, ``"external"`` and, if ``n_truth``, ``"truth"`` -> :class:`SimulatedCohort`.

    Examples
    --------
    >>> study = simulate_study(Mechanism(n_development=30, n_external=10), 0)
    >>> sorted(study), study["external"].X.shape[0]
    (['development', 'external'], 10)
    """
    seq = random_state if isinstance(random_state, np.random.SeedSequence) else np.random.SeedSequence(random_state)
    dev_seq, ext_seq, truth_seq = seq.spawn(3)
    out = {"development": simulate_cohort(mech, mech.n_development, "development", np.random.default_rng(dev_seq)),
           "external": simulate_cohort(mech, mech.n_external, "external", np.random.default_rng(ext_seq))}
    if n_truth:
        out["truth"] = simulate_cohort(mech, n_truth, "truth", np.random.default_rng(truth_seq))
    return out
