"""Run a simulation study: every scenario x replicate, cached per replicate, resumable, on processes or Dask.

For each replicate, :func:`run_replicate` draws a development cohort, an external cohort and a large independent
external sample (``n_truth`` patients) from the scenario's :class:`~multisurv.simulation.generator.Mechanism`,
fits every model on the development cohort, and records for each model:

- ``c_development``: apparent Harrell's C on the development cohort;
- ``c_external``, ``lower``, ``upper``: Harrell's C on the external cohort with its percentile-bootstrap interval
  (``n_bootstrap`` resamples), as :func:`multisurv.evaluation.concordance.concordance` computes it;
- ``c_true``: **the estimand**, the fitted model's C on the large independent external sample drawn from the
  same mechanism (same centre effect, case mix and censoring). It is the C the model would have on the external
  population, conditional on this replicate's development data; with ``n_truth = 10,000`` its own sampling SD
  is about 0.004, small against the intervals it is compared with.

Single-modality scores are evaluated on the patients who have the modality (their score is NaN otherwise), as
``run_study`` does; fusions and the true linear predictor on every patient.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from multisurv._atomic import write_csv_atomic, write_json_atomic, write_text_atomic
from multisurv.evaluation.concordance import concordance
from multisurv.registry import FUSION_STRATEGIES, load_object
from multisurv.scores.modality_score import DEFAULT_SCORES, ModalityScore
from multisurv.selection.lasso_cox import LassoCoxSelector
from multisurv.simulation.config import Scenario, SelectorSettings, SimulationConfig
from multisurv.simulation.generator import MECHANISM_VERSION, Mechanism, simulate_study
from multisurv.simulation.performance import performance_table, win_table

__all__ = ["run_simulation", "run_replicate", "build_models", "replicate_seed", "load_replicates",
           "SimulationResult", "RECORD_COLUMNS"]

logger = logging.getLogger(__name__)

#: Columns of one model's record in a replicate (and of ``replicates.csv``, after scenario, replicate, model).
RECORD_COLUMNS = ("c_development", "c_external", "lower", "upper", "n_external", "events_external", "c_true",
                  "n_true", "seconds", "n_warnings", "error")


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`run_simulation` returns.

    Parameters
    ----------
    out : Path
        The run folder.
    records : pandas.DataFrame
        One row per scenario, replicate and model (``replicates.csv``).
    performance : pandas.DataFrame
        :func:`~multisurv.simulation.performance.performance_table` (``performance.csv``).
    wins : pandas.DataFrame
        :func:`~multisurv.simulation.performance.win_table` (``win_probabilities.csv``).
    n_computed, n_cached : int
        Replicates computed now and read from the cache.
    seconds : float
        Wall-clock time of the run.
    replicate_seconds : float
        Sum of the computed replicates' own times (the CPU work, whatever the number of workers).

    Examples
    --------
    >>> import tempfile
    >>> from multisurv.simulation.config import SimulationConfig
    >>> folder = tempfile.mkdtemp()
    >>> cfg = SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "tiny", "out": folder,
    ...                                   "replicates": 2, "n_bootstrap": 0, "n_truth": 0,
    ...                                   "models": ["clinscore", "truth"], "selector": {"alpha": 0.05},
    ...                                   "base": {"n_development": 60, "n_external": 40}})
    >>> res = run_simulation(cfg, write=False)
    >>> res.n_computed, res.n_cached, res.records.shape
    (2, 0, (4, 14))
    """

    out: Path
    records: pd.DataFrame
    performance: pd.DataFrame
    wins: pd.DataFrame
    n_computed: int
    n_cached: int
    seconds: float
    replicate_seconds: float


def build_models(names: Sequence[str], *, selector: SelectorSettings = SelectorSettings(), late_cv: int = 3,
                 early_penalizer: float = 0.1, intermediate: dict | None = None,
                 random_state: int | None = None) -> dict[str, Any]:
    """The estimators behind the model names (``"truth"`` maps to None: its risk is the true linear predictor).

    Fusions are built by the builders of :data:`multisurv.registry.FUSION_STRATEGIES`, as in a study, with the
    options ``cv`` = ``late_cv``, ``penalizer`` = ``early_penalizer`` and ``intermediate``.

    Parameters
    ----------
    names : sequence of str
        Model names (:data:`multisurv.simulation.config.MODELS`).
    selector : SelectorSettings, default=SelectorSettings()
        Settings of every LASSO-Cox selector.
    late_cv : int, default=3
        Folds of the fusions' out-of-fold scores.
    early_penalizer : float, default=0.1
        Ridge penalty of the fusion Cox models.
    intermediate : dict, optional
        Settings of the ``intermediate`` model.
    random_state : int, optional
        Seed of every estimator.

    Returns
    -------
    dict of str to estimator or None
        Unfitted estimators by name, in the order of ``names``; None for ``"truth"``.

    Raises
    ------
    ValueError
        When a name is unknown; the message lists the valid ones.

    Examples
    --------
    >>> sorted(build_models(["clinscore", "late", "truth"], random_state=0))
    ['clinscore', 'late', 'truth']
    >>> type(build_models(["intermediate"], intermediate={"fusion": "kronecker"})["intermediate"]).__name__
    'IntermediateFusionCox'
    """
    def lasso() -> LassoCoxSelector:
        return LassoCoxSelector(alpha=selector.alpha, cv=selector.cv, n_alphas=selector.n_alphas,
                                alpha_min_ratio=selector.alpha_min_ratio, rule=selector.rule,
                                max_features=selector.max_features, random_state=random_state)

    def scores() -> list[ModalityScore]:
        return [ModalityScore(name=n, prefix=p, selector=lasso(), random_state=random_state) for n, p in DEFAULT_SCORES]

    out: dict[str, Any] = {}
    by_name = dict(DEFAULT_SCORES)
    for name in names:
        if name in by_name:
            out[name] = ModalityScore(name=name, prefix=by_name[name], selector=lasso(), random_state=random_state)
        elif name in FUSION_STRATEGIES:
            options = {"cv": late_cv, "penalizer": early_penalizer, "intermediate": dict(intermediate or {})}
            out[name] = load_object(FUSION_STRATEGIES[name].builder)(scores(), options, random_state)
        elif name == "truth":
            out[name] = None
        else:
            known = ", ".join(repr(m) for m in (*by_name, *FUSION_STRATEGIES, "truth"))
            raise ValueError(f"Unknown model {name!r}. Choose one of: {known}.")
    return out


def replicate_seed(seed: int, mechanism: Mechanism, replicate: int) -> np.random.SeedSequence:
    """The seed of one replicate: a function of the study seed, the scenario's mechanism and the replicate alone.

    So a replicate's data do not depend on which other scenarios or replicates the config holds, or on the
    order they run in.

    Parameters
    ----------
    seed : int
        The study seed (``config.seed``).
    mechanism : Mechanism
        The scenario's mechanism (its :meth:`~multisurv.simulation.generator.Mechanism.key`).
    replicate : int
        The replicate's number.

    Returns
    -------
    numpy.random.SeedSequence

    Examples
    --------
    >>> a = replicate_seed(1, Mechanism(), 3).generate_state(1)[0]
    >>> bool(a == replicate_seed(1, Mechanism(), 3).generate_state(1)[0])
    True
    """
    return np.random.SeedSequence(seed, spawn_key=(int(mechanism.key(), 16), replicate))


def _cindex(y: np.ndarray, risk: np.ndarray, *, n_bootstrap: int, confidence: float, random_state) -> dict:
    keep = np.isfinite(risk)
    result = concordance(y[keep], risk[keep], n_bootstrap=n_bootstrap, confidence=confidence,
                         random_state=random_state)
    return {"c": result.cindex, "lower": result.lower, "upper": result.upper, "n": result.n,
            "events": result.n_events}


def run_replicate(mechanism: Mechanism, models: Sequence[str], *, seed: np.random.SeedSequence,
                  selector: SelectorSettings = SelectorSettings(), late_cv: int = 3, early_penalizer: float = 0.1,
                  intermediate: dict | None = None, n_bootstrap: int = 500, confidence: float = 0.95,
                  n_truth: int = 10_000) -> list[dict]:
    """Draw one replicate, fit every model, return one record per model (see the module docstring).

    A model that fails (for example too few events for its cross-validation) gets NaN values and its error
    message in ``error``; warnings raised while fitting are counted in ``n_warnings`` and logged, not raised.

    Parameters
    ----------
    mechanism : Mechanism
        The data-generating mechanism.
    models : sequence of str
        Model names (see :func:`build_models`).
    seed : numpy.random.SeedSequence
        The replicate's seed (:func:`replicate_seed`): spawns the data, model and bootstrap seeds.
    selector, late_cv, early_penalizer, intermediate
        As in :func:`build_models`.
    n_bootstrap : int, default=500
        Bootstrap resamples of the external C-index interval.
    confidence : float, default=0.95
        Level of that interval.
    n_truth : int, default=10000
        Size of the large external sample giving the true C (0: none).

    Returns
    -------
    list of dict
        One record per model: ``model``, :data:`RECORD_COLUMNS` and ``error``.

    Examples
    --------
    >>> mech = Mechanism(n_development=60, n_external=40, n_ct_features=5, n_wsi_features=5)
    >>> recs = run_replicate(mech, ["truth"], seed=np.random.SeedSequence(0), n_bootstrap=0, n_truth=500)
    >>> recs[0]["model"], 0.5 < recs[0]["c_true"] < 1
    ('truth', True)
    """
    data_seq, model_seq, boot_seq = seed.spawn(3)
    study = simulate_study(mechanism, data_seq, n_truth=n_truth)
    dev, ext = study["development"], study["external"]
    truth = study.get("truth")
    random_state = int(model_seq.generate_state(1)[0])
    boot_state = int(boot_seq.generate_state(1)[0])
    estimators = build_models(models, selector=selector, late_cv=late_cv, early_penalizer=early_penalizer,
                              intermediate=intermediate, random_state=random_state)
    records = []
    for name, estimator in estimators.items():
        started = time.perf_counter()
        record: dict[str, Any] = {"model": name, **{k: float("nan") for k in RECORD_COLUMNS}, "error": ""}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if estimator is None:
                    risks = {"dev": dev.true_lp, "ext": ext.true_lp, "truth": truth.true_lp if truth else None}
                else:
                    estimator.fit(dev.X, dev.y)
                    risks = {"dev": estimator.predict(dev.X), "ext": estimator.predict(ext.X),
                             "truth": estimator.predict(truth.X) if truth else None}
                record["c_development"] = _cindex(dev.y, risks["dev"], n_bootstrap=0, confidence=confidence,
                                                  random_state=None)["c"]
                c_ext = _cindex(ext.y, risks["ext"], n_bootstrap=n_bootstrap, confidence=confidence,
                                random_state=boot_state)
                record.update(c_external=c_ext["c"], lower=c_ext["lower"], upper=c_ext["upper"],
                              n_external=c_ext["n"], events_external=c_ext["events"])
                if truth is not None:
                    c_true = _cindex(truth.y, risks["truth"], n_bootstrap=0, confidence=confidence,
                                     random_state=None)
                    record.update(c_true=c_true["c"], n_true=c_true["n"])
            except ValueError as exc:  # too few events, no comparable pair: recorded, the study goes on
                record["error"] = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        record["n_warnings"] = len(caught)
        for w in caught[:3]:
            logger.debug("Model %s: %s", name, w.message)
        record["seconds"] = round(time.perf_counter() - started, 3)
        records.append(record)
    return records


def _settings(config: SimulationConfig) -> dict[str, Any]:
    """Everything besides the mechanism that changes a replicate's results (part of its cache key)."""
    return {"version": MECHANISM_VERSION, "seed": config.seed, "models": list(config.models),
            "selector": dataclasses.asdict(config.selector), "late_cv": config.late_cv,
            "early_penalizer": config.early_penalizer, "n_bootstrap": config.n_bootstrap,
            "confidence": config.confidence, "n_truth": config.n_truth,
            # a new field enters the key only when set, so earlier caches stay valid
            **({"intermediate": dict(config.intermediate)} if config.intermediate else {})}


def _cache_dir(out: Path, config: SimulationConfig, scenario: Scenario) -> Path:
    settings = hashlib.sha256(json.dumps(_settings(config), sort_keys=True).encode()).hexdigest()[:8]
    return out / "replicates" / f"{scenario.mechanism.key()}_{settings}"


def load_replicates(config: SimulationConfig, *, out: str | Path | None = None) -> pd.DataFrame:
    """The replicate records already cached for ``config`` (nothing is computed): a partial run's table.

    Parameters
    ----------
    config : SimulationConfig
        The simulation.
    out : str or Path, optional
        Run folder; default ``config.out``.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, ``replicate``, ``model`` and :data:`RECORD_COLUMNS`, as ``replicates.csv``.

    Examples
    --------
    >>> import tempfile
    >>> from multisurv.simulation.config import SimulationConfig
    >>> folder = tempfile.mkdtemp()
    >>> cfg = SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "tiny", "out": folder,
    ...                                   "replicates": 2, "n_bootstrap": 0, "n_truth": 0,
    ...                                   "models": ["clinscore", "truth"], "selector": {"alpha": 0.05},
    ...                                   "base": {"n_development": 60, "n_external": 40}})
    >>> len(load_replicates(cfg))  # nothing run yet
    0
    >>> _ = run_simulation(cfg, write=False)
    >>> load_replicates(cfg)["model"].tolist()
    ['clinscore', 'truth', 'clinscore', 'truth']
    """
    out = Path(config.out if out is None else out)
    rows = []
    for scenario in config.scenarios:
        folder = _cache_dir(out, config, scenario)
        for r in range(config.replicates):
            path = folder / f"rep_{r:04d}.json"
            if path.is_file():
                for rec in json.loads(path.read_text(encoding="utf-8"))["records"]:
                    rows.append({"scenario": scenario.name, "replicate": r, **rec})
    return pd.DataFrame(rows, columns=["scenario", "replicate", "model", *RECORD_COLUMNS])


def _task(args: tuple) -> tuple[int, int, list[dict], float]:
    """One replicate in a worker: compute, write its cache file atomically, return the records."""
    index, replicate, mechanism, config, path = args
    started = time.perf_counter()
    records = run_replicate(mechanism, config.models, seed=replicate_seed(config.seed, mechanism, replicate),
                            selector=config.selector, late_cv=config.late_cv,
                            early_penalizer=config.early_penalizer, intermediate=dict(config.intermediate),
                            n_bootstrap=config.n_bootstrap,
                            confidence=config.confidence, n_truth=config.n_truth)
    seconds = time.perf_counter() - started
    write_json_atomic(path, {"replicate": replicate, "mechanism": mechanism.to_dict(), "seconds": round(seconds, 3),
                             "settings": _settings(config), "records": records})
    return index, replicate, records, seconds


def _limit_threads() -> None:
    """Process-pool initializer: one BLAS thread per worker, so N workers use N cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def run_simulation(config: SimulationConfig, *, out: str | Path | None = None, workers: int = 1, client=None,
                   write: bool = True) -> SimulationResult:
    """Run (or resume) every scenario x replicate of ``config``; write the tables, figures and report section.

    Parameters
    ----------
    config : SimulationConfig
        The simulation (:meth:`SimulationConfig.from_yaml`).
    out : str or Path, optional
        Run folder; default ``config.out``.
    workers : int, default 1
        Processes (``concurrent.futures.ProcessPoolExecutor``); 1 runs in this process.
    client : dask.distributed.Client, optional
        Run the replicates on this Dask client instead (``workers`` is then ignored).
    write : bool, default True
        Write ``replicates.csv``, ``performance.csv``, ``win_probabilities.csv``, ``figures/`` and ``report.md``
        (the per-replicate cache is always written).

    Returns
    -------
    SimulationResult
        The records, performance and win tables, and how many replicates were computed or read from the cache.

    Notes
    -----
    Each replicate is cached as ``<out>/replicates/<mechanism key>_<settings hash>/rep_<r>.json``, written
    atomically, so an interrupted run resumes where it stopped and a finished one recomputes nothing; changing a
    scenario's mechanism or any model setting gives new keys (nothing stale is reused). Replicate ``r`` of a
    scenario is seeded from (``seed``, mechanism, ``r``) alone (:func:`replicate_seed`), so results do not depend
    on the number of workers or on the order of scenarios.

    Examples
    --------
    >>> import tempfile
    >>> from multisurv.simulation.config import SimulationConfig
    >>> folder = tempfile.mkdtemp()
    >>> cfg = SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "tiny", "out": folder,
    ...                                   "replicates": 2, "n_bootstrap": 0, "n_truth": 0,
    ...                                   "models": ["clinscore", "truth"], "selector": {"alpha": 0.05},
    ...                                   "base": {"n_development": 60, "n_external": 40}})
    >>> first = run_simulation(cfg, write=False)
    >>> again = run_simulation(cfg, write=False)  # every replicate is read from the cache
    >>> (first.n_computed, first.n_cached), (again.n_computed, again.n_cached)
    ((2, 0), (0, 2))
    """
    from multisurv._validation import check_param

    check_param("run_simulation", "workers", workers, kind="int", low=1)
    started = time.perf_counter()
    out = Path(config.out if out is None else out)
    out.mkdir(parents=True, exist_ok=True)
    done: dict[tuple[int, int], list[dict]] = {}
    todo = []
    # replicate-major order: an interrupted run leaves every scenario with about the same number of replicates
    for r in range(config.replicates):
        for i, scenario in enumerate(config.scenarios):
            path = _cache_dir(out, config, scenario) / f"rep_{r:04d}.json"
            if path.is_file():
                done[(i, r)] = json.loads(path.read_text(encoding="utf-8"))["records"]
            else:
                todo.append((i, r, scenario.mechanism, config, path))
    n_cached = len(done)
    logger.info("Simulation %r: %d scenario(s) x %d replicate(s); %d cached, %d to compute on %s.", config.name,
                len(config.scenarios), config.replicates, n_cached, len(todo),
                "Dask" if client is not None else f"{workers} process(es)")
    work_seconds = 0.0
    if todo:
        if client is not None:
            results = client.gather(client.map(_task, todo, pure=False))
        elif workers == 1:
            results = map(_task, todo)
        else:
            pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, initializer=_limit_threads)
            with pool:
                futures = [pool.submit(_task, t) for t in todo]
                results = [f.result() for f in concurrent.futures.as_completed(futures)]
        for i, r, records, seconds in results:
            done[(i, r)] = records
            work_seconds += seconds
    rows = []
    for (i, r) in sorted(done):
        for rec in done[(i, r)]:
            rows.append({"scenario": config.scenarios[i].name, "replicate": r, **rec})
    records = pd.DataFrame(rows, columns=["scenario", "replicate", "model", *RECORD_COLUMNS])
    performance = performance_table(records)
    wins = win_table(records)
    seconds = time.perf_counter() - started
    result = SimulationResult(out=out, records=records, performance=performance, wins=wins,
                              n_computed=len(todo), n_cached=n_cached, seconds=seconds,
                              replicate_seconds=work_seconds)
    if write:
        _write_outputs(result, config)
    logger.info("Simulation %r finished in %.1f s (%d computed, %d cached).", config.name, seconds, len(todo),
                n_cached)
    return result


def _write_outputs(result: SimulationResult, config: SimulationConfig) -> None:
    from multisurv.simulation.report import simulation_report, write_figures

    out = result.out
    figure_dir = out / "figures"
    previous = (out / "performance.csv").read_bytes() if (out / "performance.csv").is_file() else None
    write_json_atomic(out / "config.resolved.json", config.to_dict())
    write_csv_atomic(out / "replicates.csv", result.records, index=False, lineterminator="\n", float_format="%.6g")
    write_csv_atomic(out / "performance.csv", result.performance, index=False, lineterminator="\n",
                     float_format="%.6g")
    write_csv_atomic(out / "win_probabilities.csv", result.wins, index=False, lineterminator="\n",
                     float_format="%.6g")
    figures = sorted(figure_dir.glob("*.p*")) if figure_dir.is_dir() else []
    if not figures or previous != (out / "performance.csv").read_bytes():  # same numbers: the same figures
        figures = write_figures(result.performance, result.wins, figure_dir)
    write_text_atomic(out / "report.md", simulation_report(config, result.performance, result.wins,
                                                           figures=[p.relative_to(out) for p in figures]))
