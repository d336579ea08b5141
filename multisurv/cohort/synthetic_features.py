"""Feature tables drawn from the synthetic cohort's latent truth, without rendering images (fast experiments).

:func:`synthetic_feature_table` turns :func:`~multisurv.cohort.synthetic.make_synthetic_table`'s manifest and
truth into the wide, prefixed table the fusion models take: each modality sees its own latent drivers with
measurement noise (as extraction would, only cheaper), plus pure-noise columns, and a patient without CT or a
slide has NaN in all of that modality's columns. It is the stand-in used to compare fusion families on many
patients in seconds (``tests/fusion/test_interaction_ordering.py``, ``experiments/fusion_interaction``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multisurv._validation import check_param, make_y

__all__ = ["synthetic_feature_table"]


def synthetic_feature_table(manifest: pd.DataFrame, truth: pd.DataFrame, *, noise: float = 0.5,
                            n_noise: int = 3, random_state: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Prefixed features (``ct__``, ``wsi__``, ``clin__``) and ``y`` for the patients of a synthetic table.

    Parameters
    ----------
    manifest, truth : pandas.DataFrame
        From :func:`~multisurv.cohort.synthetic.make_synthetic_table`.
    noise : float, default=0.5
        SD of the measurement noise added to each latent driver (the latents have SD 1).
    n_noise : int, default=3
        Pure-noise columns per imaging modality.
    random_state : int, default=0

    Returns
    -------
    X : pandas.DataFrame
        Index ``patient_id``. ``ct__size`` (z_size), ``ct__aggressiveness`` (u_ct), ``wsi__histology``
        (u_path), ``wsi__mitoses`` (z_mitotic), each plus N(0, noise), ``ct__noise_*`` / ``wsi__noise_*``, and
        the clinical table: ``clin__age``, ``clin__log_size``, ``clin__log_mitoses``, ``clin__ki67``,
        ``clin__tki``, ``clin__site_*`` (NaN where the manifest has no value).
    y : structured array
        The manifest's ``event`` and ``time``.

    Examples
    --------
    >>> from multisurv.cohort.synthetic import make_synthetic_table
    >>> X, y = synthetic_feature_table(*make_synthetic_table(30, 10))
    >>> X.shape[0], sorted({c.split("__")[0] for c in X.columns})
    (40, ['clin', 'ct', 'wsi'])
    """
    check_param("synthetic_feature_table", "noise", noise, kind="float", low=0)
    check_param("synthetic_feature_table", "n_noise", n_noise, kind="int", low=0)
    rng = np.random.default_rng(random_state)
    n = len(manifest)
    t = truth.set_index("patient_id").loc[manifest["patient_id"]]
    X = pd.DataFrame(index=pd.Index(manifest["patient_id"].to_numpy(), name="patient_id"))
    X["ct__size"] = t["z_size"].to_numpy() + rng.normal(0, noise, n)
    X["ct__aggressiveness"] = t["u_ct"].to_numpy() + rng.normal(0, noise, n)
    for k in range(n_noise):
        X[f"ct__noise_{k}"] = rng.normal(size=n)
    X["wsi__histology"] = t["u_path"].to_numpy() + rng.normal(0, noise, n)
    X["wsi__mitoses"] = t["z_mitotic"].to_numpy() + rng.normal(0, noise, n)
    for k in range(n_noise):
        X[f"wsi__noise_{k}"] = rng.normal(size=n)
    X.loc[~t["has_ct"].astype(bool).to_numpy(), [c for c in X if c.startswith("ct__")]] = np.nan
    X.loc[~t["has_wsi"].astype(bool).to_numpy(), [c for c in X if c.startswith("wsi__")]] = np.nan
    m = manifest.set_index("patient_id")
    X["clin__age"] = pd.to_numeric(m["age"], errors="coerce").to_numpy()
    X["clin__log_size"] = np.log(pd.to_numeric(m["tumour_size_cm"], errors="coerce").to_numpy())
    X["clin__log_mitoses"] = np.log1p(pd.to_numeric(m["mitotic_count"], errors="coerce").to_numpy(dtype=float))
    X["clin__ki67"] = pd.to_numeric(m["ki67_percent"], errors="coerce").to_numpy()
    X["clin__tki"] = m["tki_therapy"].map({"yes": 1.0, "no": 0.0}).to_numpy(dtype=float)
    for site in ("small_intestine", "colorectum", "other"):
        X[f"clin__site_{site}"] = (m["site"] == site).to_numpy(dtype=float)
    return X, make_y(manifest["time"].to_numpy(), manifest["event"].to_numpy())
