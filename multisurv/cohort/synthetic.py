"""The synthetic GIST-like multi-centre cohort: the demo data of multisurv, with a known truth.

:func:`make_synthetic_cohort` writes a manifest, CT crops with tumour masks, H&E slides and the true model
(``truth.csv``, ``truth.json``) for a development centre and an external centre. Every patient has three
hidden drivers of recurrence besides the clinical ones, and each imaging modality sees its own:

==============  ==========================================================  =============================
latent term     meaning                                                     seen in
==============  ==========================================================  =============================
``z_size``      standardised log tumour size                                CT (volume), clinical (size)
``z_mitotic``   standardised log(1 + mitotic count)                         clinical, slides (mitoses)
``u_ct``        radiological aggressiveness (outline, texture, necrosis)    CT only
``u_path``      histological aggressiveness (nuclei, disorder, necrosis)    slides; Ki-67 (weakly)
==============  ==========================================================  =============================

The true linear predictor is ``sum(COEFFICIENTS[k] * x[k])`` over the columns of ``truth.csv``; survival
follows a proportional-hazards model with a Weibull baseline. Fusing the three modalities therefore beats
each one alone, and the true linear predictor gives the ceiling of the C-index.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from multisurv import __version__
from multisurv._atomic import write_csv_atomic, write_json_atomic
from multisurv._validation import check_param
from multisurv.cohort.synthetic_ct import SCANNERS, draw_second_reader, render_ct, write_ct, write_mask
from multisurv.cohort.synthetic_wsi import MPP, SLIDE_SHAPE, STAINS, render_slide, write_slide

__all__ = ["make_synthetic_cohort", "make_synthetic_table", "COEFFICIENTS", "MANIFEST_COLUMNS",
           "GENERATOR_VERSION"]

logger = logging.getLogger(__name__)

#: Version of the generator; bump it whenever the same seed would give different files.
GENERATOR_VERSION = "synthetic_gist.v1"

#: Columns of the written manifest, in order.
MANIFEST_COLUMNS = ("patient_id", "cohort", "time", "event", "ct_image", "ct_mask", "wsi", "age", "sex", "site",
                    "tumour_size_cm", "mitotic_count", "ki67_percent", "tki_therapy")

#: True log-hazard ratios; each key is a column of truth.csv (0/1 indicators for tki and site).
COEFFICIENTS = {
    "z_size": 0.50,
    "z_mitotic": 0.50,
    "z_age": 0.12,
    "u_ct": 0.85,
    "u_path": 0.85,
    "tki": -0.50,
    "site_small_intestine": 0.35,
    "site_colorectum": 0.45,
    "site_other": 0.50,
}

#: Centring and scaling of the standardised terms: z = (value - centre) / scale.
STANDARDISATION = {
    "z_size": {"of": "log(true tumour size in cm)", "centre": float(np.log(5.0)), "scale": 0.6},
    "z_mitotic": {"of": "log(1 + mitotic count per 5 mm^2)", "centre": 1.4, "scale": 0.8},
    "z_age": {"of": "age in years", "centre": 62.0, "scale": 12.0},
}

_WEIBULL_SHAPE = 1.2
_MEDIAN_AT_LP0 = 60.0  # months
#: Weibull baseline: S0(t) = exp(-(t / scale) ** shape), so the median at lp = 0 is _MEDIAN_AT_LP0.
BASELINE = {
    "distribution": "weibull",
    "shape": _WEIBULL_SHAPE,
    "scale_months": _MEDIAN_AT_LP0 / float(np.log(2.0)) ** (1.0 / _WEIBULL_SHAPE),
    "median_months_at_lp0": _MEDIAN_AT_LP0,
    "survival": "S(t | lp) = exp(-(t / scale_months) ** shape * exp(lp))",
}

#: Censoring: uniform accrual over the first months of a fixed study window, plus random loss to follow-up.
CENSORING = {"accrual_months": 84.0, "study_months": 120.0, "loss_rate_per_month": 0.008,
             "rule": "censor at min(study_months - accrual, loss); accrual ~ U(0, accrual_months), "
                     "loss ~ Exponential(loss_rate_per_month)"}

SITES = ("stomach", "small_intestine", "colorectum", "other")
#: Case mix per centre (the external centre sees slightly older patients and more small-bowel tumours).
CASE_MIX = {
    "development": {"age_mean": 62.0, "age_sd": 12.0, "p_female": 0.48, "site_p": [0.60, 0.27, 0.05, 0.08]},
    "external": {"age_mean": 64.0, "age_sd": 12.0, "p_female": 0.48, "site_p": [0.55, 0.31, 0.06, 0.08]},
}

#: Probability that a value or a modality is missing, independently per patient.
MISSINGNESS = {"ct": 0.15, "wsi": 0.25, "clinical": 0.03,
               "clinical_columns": ["age", "tumour_size_cm", "mitotic_count", "ki67_percent", "tki_therapy"]}

_COHORTS = ("development", "external")
#: ``z_size`` above which the interaction term of ``make_synthetic_table(interaction=...)`` acts.
INTERACTION_THRESHOLD = 0.0
_PREFIX = {"development": "SYN-D", "external": "SYN-E"}


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _streams(random_state: int, cohort: str, index: int) -> list[np.random.Generator]:
    """The patient's three random streams (table, CT, slide); they depend on the seed and the patient only."""
    seq = np.random.SeedSequence(random_state, spawn_key=(_COHORTS.index(cohort), index))
    return [np.random.default_rng(child) for child in seq.spawn(3)]


def _reader_stream(random_state: int, cohort: str, index: int) -> np.random.Generator:
    """The patient's second-reader stream: a fourth child of the patient's seed, beside the three of _streams."""
    return np.random.default_rng(np.random.SeedSequence(random_state, spawn_key=(_COHORTS.index(cohort), index, 3)))


def _reader_path(patient_id: str) -> str:
    return f"ct/{patient_id}_mask_reader2.nrrd"


def _draw_patient(rng: np.random.Generator, cohort: str, patient_id: str,
                  interaction: float = 0.0) -> tuple[dict, dict]:
    """One patient's manifest row (without paths) and truth row, from the patient's table stream."""
    mix = CASE_MIX[cohort]
    std = STANDARDISATION
    age = round(float(np.clip(rng.normal(mix["age_mean"], mix["age_sd"]), 25.0, 90.0)), 1)
    sex = "female" if rng.random() < mix["p_female"] else "male"
    site = SITES[int(rng.choice(len(SITES), p=mix["site_p"]))]

    z_size = float(rng.standard_normal())
    v_mitotic = float(rng.standard_normal())  # latent proliferation
    u_ct = float(rng.standard_normal())
    u_path = float(0.3 * v_mitotic + np.sqrt(1.0 - 0.3**2) * rng.standard_normal())
    true_size = float(np.exp(std["z_size"]["centre"] + std["z_size"]["scale"] * z_size))
    mitotic = int(rng.poisson(rng.gamma(4.0, np.exp(np.log(3.0) + v_mitotic) / 4.0)))
    z_mitotic = (np.log1p(mitotic) - std["z_mitotic"]["centre"]) / std["z_mitotic"]["scale"]
    z_age = (age - std["z_age"]["centre"]) / std["z_age"]["scale"]
    measured_size = round(max(0.5, true_size * float(np.exp(rng.normal(0.0, 0.1)))), 1)
    ki67 = round(100.0 * _sigmoid(-2.0 + 0.5 * v_mitotic + 0.4 * u_path + rng.normal(0.0, 0.5)), 1)
    tki = int(rng.random() < _sigmoid(-0.5 + 1.0 * z_size + 0.8 * z_mitotic))

    x = {"z_size": z_size, "z_mitotic": float(z_mitotic), "z_age": float(z_age), "u_ct": u_ct, "u_path": u_path,
         "tki": tki, "site_small_intestine": int(site == "small_intestine"),
         "site_colorectum": int(site == "colorectum"), "site_other": int(site == "other")}
    terms = {f"term_{k}": COEFFICIENTS[k] * x[k] for k in COEFFICIENTS}
    if interaction:  # only when asked: the default draws, sums and columns stay exactly as before
        terms["term_interaction"] = interaction * u_path * float(z_size > INTERACTION_THRESHOLD)
    lp = float(sum(terms.values()))

    event_time = BASELINE["scale_months"] * (rng.standard_exponential() * np.exp(-lp)) ** (1.0 / BASELINE["shape"])
    accrual = rng.uniform(0.0, CENSORING["accrual_months"])
    loss = rng.exponential(1.0 / CENSORING["loss_rate_per_month"])
    censor_time = min(CENSORING["study_months"] - accrual, loss)
    event = int(event_time <= censor_time)
    follow_up = max(round(float(min(event_time, censor_time)), 2), 0.01)

    has_ct = bool(rng.random() >= MISSINGNESS["ct"])
    has_wsi = bool(rng.random() >= MISSINGNESS["wsi"])
    row = {"patient_id": patient_id, "cohort": cohort, "time": follow_up, "event": event,
           "age": age, "sex": sex, "site": site, "tumour_size_cm": measured_size, "mitotic_count": mitotic,
           "ki67_percent": ki67, "tki_therapy": "yes" if tki else "no"}
    for column in MISSINGNESS["clinical_columns"]:
        if rng.random() < MISSINGNESS["clinical"]:
            row[column] = None
    truth = {"patient_id": patient_id, "cohort": cohort, "true_lp": lp, **x, **terms,
             "v_mitotic": v_mitotic, "true_size_cm": true_size, "true_mitotic_count": mitotic,
             "event_time": float(event_time), "censoring_time": float(censor_time),
             "has_ct": int(has_ct), "has_wsi": int(has_wsi)}
    return row, truth


def _check_counts(owner: str, n_development, n_external, random_state) -> None:
    check_param(owner, "n_development", n_development, kind="int", low=1, high=9999)
    check_param(owner, "n_external", n_external, kind="int", low=0, high=9999)
    check_param(owner, "random_state", random_state, kind="int", low=0)


def make_synthetic_table(n_development: int = 200, n_external: int = 100, *,
                         random_state: int = 0, interaction: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw the patients of the synthetic cohort, without writing any image.

    Parameters
    ----------
    n_development, n_external : int
        Number of patients in each centre.
    random_state : int
        Seed. A patient's values depend on the seed and the patient alone, not on the cohort sizes.
    interaction : float, default 0.0
        Cross-modal interaction in the true hazard: ``interaction * u_path * 1[z_size > 0]`` is added to the
        linear predictor (a histological effect that exists only in tumours larger than the median, which the
        slides see through ``u_path`` and the clinical table and CT through the size), and ``truth`` gets a
        column ``term_interaction``. 0 (the default) leaves every value and column exactly as without it.

    Returns
    -------
    manifest : pandas.DataFrame
        The columns of :data:`MANIFEST_COLUMNS`; the path columns hold the relative paths the images get
        (None when that modality is missing).
    truth : pandas.DataFrame
        One row per patient: ``true_lp``, the covariates of :data:`COEFFICIENTS`, their terms
        (``term_<name>`` = coefficient x covariate) and the other latent values.

    Examples
    --------
    >>> manifest, truth = make_synthetic_table(3, 2, random_state=0)
    >>> list(manifest["patient_id"])
    ['SYN-D0001', 'SYN-D0002', 'SYN-D0003', 'SYN-E0001', 'SYN-E0002']
    """
    _check_counts("make_synthetic_table", n_development, n_external, random_state)
    check_param("make_synthetic_table", "interaction", interaction, kind="float")
    rows, truths = [], []
    for cohort, n in zip(_COHORTS, (n_development, n_external)):
        for i in range(n):
            pid = f"{_PREFIX[cohort]}{i + 1:04d}"
            row, truth = _draw_patient(_streams(random_state, cohort, i)[0], cohort, pid, interaction)
            row["ct_image"] = f"ct/{pid}_image.nrrd" if truth["has_ct"] else None
            row["ct_mask"] = f"ct/{pid}_mask.nrrd" if truth["has_ct"] else None
            row["wsi"] = f"wsi/{pid}.tiff" if truth["has_wsi"] else None
            rows.append(row)
            truths.append(truth)
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    manifest["mitotic_count"] = manifest["mitotic_count"].astype("Int64")
    return manifest, pd.DataFrame(truths)


def _truth_summary(manifest: pd.DataFrame, random_state: int) -> dict:
    counts = {}
    for cohort in _COHORTS:
        part = manifest[manifest["cohort"] == cohort]
        counts[cohort] = {"n": int(len(part)), "events": int(part["event"].sum()),
                          "event_rate": round(float(part["event"].mean()), 4) if len(part) else None,
                          "with_ct": int(part["ct_image"].notna().sum()), "with_wsi": int(part["wsi"].notna().sum())}
    return {
        "generator": GENERATOR_VERSION,
        "multisurv_version": __version__,
        "random_state": random_state,
        "time_unit": "months",
        "outcome": "recurrence-free survival",
        "counts": counts,
        "linear_predictor": "true_lp = sum(coefficients[k] * truth.csv[k]); higher = worse",
        "coefficients": COEFFICIENTS,
        "standardisation": STANDARDISATION,
        "baseline_hazard": BASELINE,
        "censoring": CENSORING,
        "case_mix": CASE_MIX,
        "missingness": MISSINGNESS,
        "latent_structure": {
            "z_size": "N(0, 1); true size = exp(centre + scale * z_size) cm; clinical size = true size x "
                      "lognormal(0, 0.1) error; CT tumour radius = 7 + 4.5 log(true size) mm, clipped to 6-22",
            "v_mitotic": "N(0, 1) latent proliferation; mitotic count ~ Poisson(Gamma(4, exp(log 3 + v_mitotic) / 4))",
            "u_ct": "N(0, 1), independent; drives CT outline lobulation, texture amplitude and coarseness, "
                    "enhancement and necrotic core",
            "u_path": "0.3 v_mitotic + sqrt(0.91) N(0, 1); drives nuclear density, size, pleomorphism, "
                      "hyperchromasia, fascicle disorder and necrosis on the slides",
            "ki67_percent": "100 sigmoid(-2 + 0.5 v_mitotic + 0.4 u_path + N(0, 0.5))",
            "tki": "yes with probability sigmoid(-0.5 + z_size + 0.8 z_mitotic)",
        },
        "ct_scanners": {k: v.to_dict() for k, v in SCANNERS.items()},
        "wsi_stains": {k: v.to_dict() for k, v in STAINS.items()},
        "wsi_geometry": {"level0_height_px": SLIDE_SHAPE[0], "level0_width_px": SLIDE_SHAPE[1], "mpp": MPP},
    }


def make_synthetic_cohort(out: str | Path, *, n_development: int = 200, n_external: int = 100,
                          random_state: int = 0, progress: bool = False, second_reader: bool = False,
                          interaction: float = 0.0) -> Path:
    """Write a synthetic GIST-like multi-centre cohort into ``out``; return the path of ``out/manifest.csv``.

    Parameters
    ----------
    out : str or Path
        Output folder (created if needed). Existing files of the same names are replaced atomically.
    n_development, n_external : int, default 200 and 100
        Patients in the development centre (ids ``SYN-D0001``...) and the external centre (``SYN-E0001``...).
    random_state : int, default 0
        Seed. The same seed gives byte-identical files; a patient's files do not depend on the cohort sizes.
    progress : bool, default False
        Show a progress bar.
    second_reader : bool, default False
        Also write a second reader's tumour mask for every CT (``ct/<id>_mask_reader2.nrrd``, manifest column
        ``ct_mask_reader2``, appended last): the first mask's outline redrawn with a smooth local displacement of
        about a voxel and a per-patient systematic offset (:func:`~multisurv.cohort.synthetic_ct.draw_second_reader`),
        from a random stream of its own, so every other file is the same as without it.
    interaction : float, default 0.0
        Cross-modal interaction in the true hazard (see :func:`make_synthetic_table`); recorded in
        ``truth.json`` when not 0. The default writes the same files as without it.

    Returns
    -------
    Path
        ``out/manifest.csv``.

    Notes
    -----
    Written files: ``manifest.csv`` (columns :data:`MANIFEST_COLUMNS`; time in months; relative paths, empty when
    the modality is missing: about 15 % of patients lack CT and 25 % lack a slide; about 3 % of some clinical
    values are empty), ``ct/<id>_image.nrrd`` and ``ct/<id>_mask.nrrd`` (int16 HU-like crop and uint8 label 1),
    ``wsi/<id>.tiff`` (two-level tiled TIFF at 0.5 um/px), ``truth.csv`` (true linear predictor, higher = worse,
    and every latent term) and ``truth.json`` (coefficients, baseline hazard, censoring, centre settings).

    The external centre differs by its CT scanner (spacing, noise, a +6 HU offset), its H&E staining
    (hue and strength) and slightly by case mix; the hazard model is the same in both centres.

    Each patient draws from three random streams of its own (table, CT, slide), children of
    ``SeedSequence(random_state)`` keyed by centre and patient number, so the same seed gives byte-identical
    files (on the same platform and numpy, scipy, SimpleITK and tifffile versions). The default cohort of 300
    patients takes about 50 s on one core and about 340 MB, nearly all of it slides.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = make_synthetic_cohort(d, n_development=2, n_external=1)
    ...     pd.read_csv(path)["patient_id"].tolist()
    ['SYN-D0001', 'SYN-D0002', 'SYN-E0001']
    """
    _check_counts("make_synthetic_cohort", n_development, n_external, random_state)
    started = time.perf_counter()
    out = Path(out)
    (out / "ct").mkdir(parents=True, exist_ok=True)
    (out / "wsi").mkdir(parents=True, exist_ok=True)
    manifest, truth = make_synthetic_table(n_development, n_external, random_state=random_state,
                                           interaction=interaction)
    logger.info("Writing a synthetic cohort of %d development and %d external patients to %s.",
                n_development, n_external, out)

    index_in_cohort = manifest.groupby("cohort", sort=False).cumcount().to_numpy()
    records = zip(index_in_cohort, manifest.to_dict("records"), truth.to_dict("records"))
    for i, row, facts in tqdm(records, total=len(manifest), desc="synthetic cohort", unit="patient",
                              disable=not progress):
        cohort = row["cohort"]
        _, ct_rng, wsi_rng = _streams(random_state, cohort, int(i))
        if facts["has_ct"]:
            case = render_ct(ct_rng, u_ct=facts["u_ct"], size_cm=facts["true_size_cm"], scanner=SCANNERS[cohort])
            write_ct(case, out / row["ct_image"], out / row["ct_mask"])
            if second_reader:
                write_mask(draw_second_reader(_reader_stream(random_state, cohort, int(i)), case),
                           case, out / _reader_path(row["patient_id"]))
        if facts["has_wsi"]:
            slide = render_slide(wsi_rng, u_path=facts["u_path"], mitotic_count=facts["true_mitotic_count"],
                                 stain=STAINS[cohort])
            write_slide(slide, out / row["wsi"])

    write_csv_atomic(out / "truth.csv", truth, index=False, lineterminator="\n")
    summary = _truth_summary(manifest, random_state)
    if interaction:
        summary["interaction"] = {"coefficient": interaction, "term": "interaction * u_path * 1[z_size > 0]",
                                  "meaning": "histological effect present only above the median tumour size"}
    if second_reader:
        manifest["ct_mask_reader2"] = [_reader_path(pid) if has else None
                                       for pid, has in zip(manifest["patient_id"], truth["has_ct"])]
        summary["second_reader"] = ("ct_mask_reader2: the ct_mask outline redrawn by draw_second_reader (signed "
                                    "distance + N(0, 0.5 mm) offset + 1.2 mm x smooth field over 4 mm, largest part)")
    write_json_atomic(out / "truth.json", summary)
    path = write_csv_atomic(out / "manifest.csv", manifest, index=False, lineterminator="\n")
    logger.info("Synthetic cohort written in %.1f s: %s.", time.perf_counter() - started, path)
    return path
