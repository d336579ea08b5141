"""Export a fitted score as researchers publish it: ``radscore = 0.41 * x1 - 0.12 * x2 + ... - c``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from multisurv._atomic import write_csv_atomic, write_json_atomic

__all__ = ["format_formula", "formula_table", "formula_text", "write_formula", "evaluate_formula_text"]


def _fmt(value: float, digits: int) -> str:
    return f"{abs(value):.{digits}g}"


def format_formula(coef: Mapping[str, float] | pd.Series, *, name: str = "score", constant: float = 0.0,
                   digits: int = 4) -> str:
    """One line ``name = c1 * x1 + c2 * x2 ... + constant`` with ``digits`` significant digits.

    Parameters
    ----------
    coef : mapping or Series
        Term name -> coefficient, in the order to print.
    name : str
        Left-hand side.
    constant : float
        Added last (omitted when 0).
    digits : int
        Significant digits of every number.

    Returns
    -------
    str

    Examples
    --------
    >>> format_formula({"radscore": 0.408, "patscore": 0.714, "clinscore": 0.0085}, name="risk")
    'risk = 0.408 * radscore + 0.714 * patscore + 0.0085 * clinscore'
    >>> format_formula({"ct__a": 0.41, "ct__b": -0.123456}, name="radscore", constant=-1.5, digits=3)
    'radscore = 0.41 * ct__a - 0.123 * ct__b - 1.5'
    """
    items = list(pd.Series(coef, dtype=float).items())
    parts: list[str] = []
    for i, (term, value) in enumerate(items):
        sign = ("-" if value < 0 else "") if i == 0 else ("- " if value < 0 else "+ ")
        parts.append(f"{sign}{_fmt(value, digits)} * {term}")
    if constant != 0 or not parts:
        sign = ("-" if constant < 0 else "") if not parts else ("- " if constant < 0 else "+ ")
        parts.append(f"{sign}{_fmt(constant, digits)}")
    return f"{name} = " + " ".join(parts)


def formula_table(score) -> pd.DataFrame:
    """A fitted :class:`~multisurv.scores.modality_score.ModalityScore` as a publication table.

    Parameters
    ----------
    score : fitted ModalityScore
        Any fitted score with ``coef_``, ``intercept_``, ``centring_``, ``scaling_`` and ``impute_values_``.

    Returns
    -------
    pandas.DataFrame
        One row per selected feature: ``feature``, ``coef`` (per unit of the raw feature), ``coef_per_sd``
        (per training standard deviation), ``mean`` and ``sd`` (training centring and scaling),
        ``impute_value`` (training median used for a missing value); then a row ``(intercept)`` whose
        ``coef`` is the constant that centres the score at 0 over the training patients.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``score`` is not fitted.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> from multisurv.selection.lasso_cox import LassoCoxSelector
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__age"])
    >>> X.iloc[:10, :2] = np.nan  # 10 patients without CT
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"].fillna(0))), np.ones(100, bool))
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> score = ModalityScore(selector=LassoCoxSelector(alpha=0.1)).fit(X, y)
    >>> formula_table(score).round(3)
           feature   coef  coef_per_sd   mean     sd  impute_value
    0        ct__a  0.724        0.784 -0.102  1.082        -0.202
    1  (intercept)  0.074          NaN    NaN    NaN           NaN
    """
    check_is_fitted(score, "coef_")
    feats = list(score.coef_.index)
    mean = score.centring_.reindex(feats).to_numpy(dtype=float)
    sd = score.scaling_.reindex(feats).to_numpy(dtype=float)
    coef = score.coef_.to_numpy(dtype=float)
    table = pd.DataFrame({"feature": feats, "coef": coef, "coef_per_sd": coef * sd, "mean": mean, "sd": sd,
                          "impute_value": score.impute_values_.reindex(feats).to_numpy(dtype=float)})
    last = pd.DataFrame({"feature": ["(intercept)"], "coef": [score.intercept_], "coef_per_sd": [np.nan],
                         "mean": [np.nan], "sd": [np.nan], "impute_value": [np.nan]})
    return pd.concat([table, last], ignore_index=True)


def formula_text(score, *, digits: int = 4, standardised: bool = False) -> str:
    """The score's formula as one line of text.

    Parameters
    ----------
    score : fitted ModalityScore
    digits : int
        Significant digits.
    standardised : bool
        False: ``name = sum(coef * x) + intercept`` on the raw features. True:
        ``name = sum(coef_per_sd * (x - mean) / sd)`` (no constant: centring is inside each term).

    Returns
    -------
    str

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> from multisurv.selection.lasso_cox import LassoCoxSelector
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__age"])
    >>> X.iloc[:10, :2] = np.nan  # 10 patients without CT
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"].fillna(0))), np.ones(100, bool))
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> score = ModalityScore(selector=LassoCoxSelector(alpha=0.1)).fit(X, y)
    >>> formula_text(score, digits=3)
    'radscore = 0.724 * ct__a + 0.0742'
    """
    check_is_fitted(score, "coef_")
    if not standardised:
        return format_formula(score.coef_, name=score.name, constant=float(score.intercept_), digits=digits)
    table = formula_table(score).iloc[:-1]
    terms = {f"(({f} - {m:.{digits}g}) / {s:.{digits}g})": c
             for f, c, m, s in zip(table["feature"], table["coef_per_sd"], table["mean"], table["sd"])}
    return format_formula(terms, name=score.name, digits=digits)


def write_formula(score, path: str | Path, *, digits: int = 6) -> list[Path]:
    """Write ``<path>.csv`` (the table), ``<path>.txt`` (both one-line forms) and ``<path>.json``.

    Parameters
    ----------
    score : fitted ModalityScore
    path : str or Path
        File stem; its suffix, if any, is replaced.
    digits : int
        Significant digits in the text forms (the CSV and JSON keep full precision).

    Returns
    -------
    list of Path

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> from multisurv.selection.lasso_cox import LassoCoxSelector
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["ct__a", "ct__b", "clin__age"])
    >>> X.iloc[:10, :2] = np.nan  # 10 patients without CT
    >>> y = make_y(rng.exponential(np.exp(-X["ct__a"].fillna(0))), np.ones(100, bool))
    >>> from multisurv.scores.modality_score import ModalityScore
    >>> score = ModalityScore(selector=LassoCoxSelector(alpha=0.1)).fit(X, y)
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_formula(score, Path(tmp) / "radscore.csv")
    ...     [p.name for p in paths], (Path(tmp) / "radscore.txt").read_text().splitlines()[0]
    (['radscore.csv', 'radscore.txt', 'radscore.json'], 'radscore = 0.72442 * ct__a + 0.0741577')
    """
    stem = Path(path).with_suffix("")
    table = formula_table(score)
    csv = write_csv_atomic(stem.with_suffix(".csv"), table, index=False, float_format="%.17g")
    txt = stem.with_suffix(".txt")
    txt.parent.mkdir(parents=True, exist_ok=True)
    txt.write_text(formula_text(score, digits=digits) + "\n" + formula_text(score, digits=digits, standardised=True)
                   + "\n", encoding="utf-8")
    record = {"name": score.name, "prefix": score.prefix, "intercept": float(score.intercept_),
              "n_train": int(score.n_train_), "risk": "higher = worse; NaN when every prefix column is missing",
              "terms": json.loads(table.iloc[:-1].to_json(orient="records", double_precision=15))}
    js = write_json_atomic(stem.with_suffix(".json"), record)
    return [Path(csv), txt, Path(js)]


def evaluate_formula_text(text: str, X: pd.DataFrame) -> np.ndarray:
    """Evaluate a line written by :func:`format_formula` on ``X`` (for tests and for readers who re-score).

    Parameters
    ----------
    text : str
        ``name = c1 * feature1 + c2 * feature2 ... + constant``, as :func:`format_formula` writes it.
    X : pandas.DataFrame
        Holds every feature named in ``text``.

    Returns
    -------
    ndarray, shape (n_samples,)
        The right-hand side evaluated on each row.

    Raises
    ------
    ValueError
        If a value is not finite (a feature with NaN).
    KeyError
        If ``X`` lacks a feature named in ``text``.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0]})
    >>> evaluate_formula_text("s = 0.5 * a - 2 * b + 1", X).tolist()
    [1.5, 0.0]
    """
    rhs = text.split("=", 1)[1].replace("- ", "+ -").split("+ ")
    out = np.zeros(len(X))
    for part in (p.strip() for p in rhs):
        if not part:
            continue
        if "*" in part:
            c, f = (s.strip() for s in part.split("*", 1))
            out = out + float(c) * X[f].to_numpy(dtype=float)
        else:
            out = out + float(part)
    if not all(math.isfinite(v) for v in out):
        raise ValueError("The formula gave non-finite values; does 'X' hold every feature without NaN?")
    return out
