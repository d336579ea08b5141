"""Figures and the markdown report section of a simulation study (they draw; the numbers come from performance.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from multisurv.plotting.export import save_figure
from multisurv.registry import FUSION_STRATEGIES
from multisurv.simulation.performance import FUSIONS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from multisurv.simulation.config import SimulationConfig

__all__ = ["plot_cindex_by_scenario", "plot_win_heatmap", "write_figures", "simulation_report", "headline_table"]

#: Display labels of the models: the fusions' from the fusion registry.
LABELS = {"radscore": "Radiomics", "patscore": "Pathomics", "clinscore": "Clinical",
          **{name: strategy.label for name, strategy in FUSION_STRATEGIES.items()}, "truth": "True LP"}


def plot_cindex_by_scenario(performance: pd.DataFrame, *, ax: Axes | None = None, z: float = 1.96) -> Axes:
    """Mean external C per scenario and model with +-z Monte-Carlo SE bars; open markers: mean true C.

    Parameters
    ----------
    performance : pandas.DataFrame
        :func:`~multisurv.simulation.performance.performance_table`.
    ax : matplotlib Axes, optional
    z : float, default 1.96
        Half-width of the bars in MC SEs (the bars are intervals for the mean C, not for one study's C).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> perf = pd.DataFrame({"scenario": ["s", "s"], "model": ["late", "truth"], "mean_c": [0.6, 0.8],
    ...                      "mcse_c": [0.01, 0.01], "mean_true_c": [0.62, 0.8]})
    >>> plot_cindex_by_scenario(perf).get_xlabel()
    'C-index (external)'
    """
    import matplotlib.pyplot as plt

    scenarios = list(dict.fromkeys(performance["scenario"]))
    models = list(dict.fromkeys(performance["model"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.5 + 0.45 * len(scenarios) * max(1.0, len(models) / 4)))
    colours = plt.get_cmap("tab10")
    step = 0.8 / max(len(models), 1)
    for k, model in enumerate(models):
        part = performance[performance["model"] == model].set_index("scenario").reindex(scenarios)
        pos = np.arange(len(scenarios)) - 0.4 + step * (k + 0.5)
        ax.errorbar(part["mean_c"], pos, xerr=z * part["mcse_c"], fmt="o", ms=4, capsize=2, color=colours(k % 10),
                    label=LABELS.get(model, model))
        if "mean_true_c" in part:
            ax.plot(part["mean_true_c"], pos, "o", ms=6, mfc="none", color=colours(k % 10))
    ax.axvline(0.5, color="0.6", lw=0.8, ls="--")
    ax.set_yticks(np.arange(len(scenarios)), scenarios)
    ax.invert_yaxis()
    ax.set_xlabel("C-index (external)")
    ax.set_title(f"Mean external C (filled, +-{z:g} MC SE) and mean true C (open)", fontsize=9)
    ax.legend(fontsize=7, loc="best", frameon=False)
    return ax


def plot_win_heatmap(wins: pd.DataFrame, *, ax: Axes | None = None, column: str = "p_win") -> Axes:
    """Heatmap of win probabilities (scenario x comparison), each cell labelled ``p (MC SE)``.

    Parameters
    ----------
    wins : pandas.DataFrame
        :func:`~multisurv.simulation.performance.win_table`.
    ax : matplotlib Axes, optional
    column : {"p_win", "p_win_true"}
        Observed external C or the true C.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> w = pd.DataFrame({"scenario": ["s"], "comparison": ["late > early"], "p_win": [0.6], "mcse_p_win": [0.03]})
    >>> plot_win_heatmap(w).get_title()
    'P(a beats b), external C'
    """
    import matplotlib.pyplot as plt

    scenarios = list(dict.fromkeys(wins["scenario"]))
    comps = list(dict.fromkeys(wins["comparison"]))
    value = wins.pivot(index="scenario", columns="comparison", values=column).reindex(index=scenarios, columns=comps)
    se = wins.pivot(index="scenario", columns="comparison", values=f"mcse_{column}").reindex(index=scenarios,
                                                                                             columns=comps)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 + 1.05 * len(comps), 0.8 + 0.45 * len(scenarios)))
    image = ax.imshow(value.to_numpy(dtype=float), cmap="RdBu_r", vmin=0, vmax=1, aspect="auto")
    for i in range(len(scenarios)):
        for j in range(len(comps)):
            v, s = value.iat[i, j], se.iat[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}\n({s:.2f})", ha="center", va="center", fontsize=7,
                        color="white" if abs(v - 0.5) > 0.3 else "black")
    ax.set_xticks(np.arange(len(comps)), comps, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(scenarios)), scenarios, fontsize=8)
    ax.figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    ax.set_title("P(a beats b), " + ("external C" if column == "p_win" else "true C"))
    return ax


def write_figures(performance: pd.DataFrame, wins: pd.DataFrame, folder: str | Path) -> list[Path]:
    """Write ``cindex_by_scenario`` and the win heatmaps (external and true C) as PNG (300 dpi) and PDF.

    Parameters
    ----------
    performance : pandas.DataFrame
        :func:`~multisurv.simulation.performance.performance_table`.
    wins : pandas.DataFrame
        :func:`~multisurv.simulation.performance.win_table` (may be empty).
    folder : str or Path
        Output folder.

    Returns
    -------
    list of Path
        The written files: ``cindex_by_scenario``, then (when ``wins`` has rows) ``win_probability_external`` and
        ``win_probability_true``, each as ``.png`` and ``.pdf``.

    Examples
    --------
    >>> paths = write_figures(perf, wins, "runs/sim/figures")  # doctest: +SKIP
    >>> [p.name for p in paths][:2]  # doctest: +SKIP
    ['cindex_by_scenario.png', 'cindex_by_scenario.pdf']
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    paths: list[Path] = []
    ax = plot_cindex_by_scenario(performance)
    paths += save_figure(ax.figure, folder / "cindex_by_scenario", formats=("png", "pdf"), dpi=300)
    plt.close(ax.figure)
    if len(wins):
        for column, stem in (("p_win", "win_probability_external"), ("p_win_true", "win_probability_true")):
            ax = plot_win_heatmap(wins, column=column)
            paths += save_figure(ax.figure, folder / stem, formats=("png", "pdf"), dpi=300)
            plt.close(ax.figure)
    return paths


def _pm(value: float, se: float, digits: int = 3) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f} ({se:.{digits}f})" if np.isfinite(se) else f"{value:.{digits}f}"


def headline_table(performance: pd.DataFrame, wins: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: each fusion's mean external C and the win probabilities, each as ``value (MC SE)``.

    Parameters
    ----------
    performance : pandas.DataFrame
        :func:`~multisurv.simulation.performance.performance_table`.
    wins : pandas.DataFrame
        :func:`~multisurv.simulation.performance.win_table` (may be empty).

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``Scenario``, ``<fusion label>: mean C`` for each fusion model present (early, late,
        late in-sample, late pattern, intermediate) and ``P(a > b)`` per comparison, as text.

    Examples
    --------
    >>> perf = pd.DataFrame({"scenario": ["s", "s"], "model": ["early", "late"], "mean_c": [0.6, 0.62],
    ...                      "mcse_c": [0.01, 0.01]})
    >>> w = pd.DataFrame({"scenario": ["s"], "comparison": ["late > early"], "p_win": [0.55], "mcse_p_win": [0.04]})
    >>> headline_table(perf, w).iloc[0].tolist()
    ['s', '0.600 (0.010)', '0.620 (0.010)', '0.55 (0.04)']
    """
    rows = []
    for scenario in dict.fromkeys(performance["scenario"]):
        perf = performance[performance["scenario"] == scenario].set_index("model")
        row = {"Scenario": scenario}
        for model in FUSIONS:
            if model in perf.index:
                row[f"{LABELS[model]}: mean C"] = _pm(perf.at[model, "mean_c"], perf.at[model, "mcse_c"])
        for _, w in wins[wins["scenario"] == scenario].iterrows():
            row[f"P({w['comparison']})"] = _pm(w["p_win"], w["mcse_p_win"], 2)
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def simulation_report(config: SimulationConfig, performance: pd.DataFrame, wins: pd.DataFrame, *,
                      figures: Sequence[Path] = ()) -> str:
    """The markdown report section: aims, mechanisms, estimand, methods, performance measures, tables.

    Parameters
    ----------
    config : SimulationConfig
        The study's config (name, description, scenarios, replicates, seed, methods' settings).
    performance : pandas.DataFrame
        :func:`~multisurv.simulation.performance.performance_table`.
    wins : pandas.DataFrame
        :func:`~multisurv.simulation.performance.win_table` (may be empty).
    figures : sequence of Path, default=()
        Written figures; the PNGs are listed under "Figures".

    Returns
    -------
    str
        Markdown: the ADEMP plan (Morris, White and Crowther 2019), the headline fusion comparisons, performance per
        scenario and model, the win probabilities and the figures.

    Examples
    --------
    >>> from multisurv.simulation.config import SimulationConfig
    >>> from multisurv.simulation.performance import performance_table, win_table
    >>> cfg = SimulationConfig.from_dict({"schema": "simulation_config.v1", "name": "s", "out": "runs/s",
    ...                                   "replicates": 2})
    >>> rec = pd.DataFrame({"scenario": "s", "replicate": [0, 1, 0, 1], "model": ["early", "early", "late", "late"],
    ...                     "c_external": [0.6, 0.7, 0.65, 0.7], "lower": [0.5, 0.6, 0.55, 0.6],
    ...                     "upper": [0.7, 0.8, 0.75, 0.8], "c_true": [0.6, 0.6, 0.7, 0.7], "c_development": 0.75})
    >>> text = simulation_report(cfg, performance_table(rec), win_table(rec))
    >>> for line in text.splitlines():
    ...     if line.startswith("#"):
    ...         print(line)
    # Simulation study: s
    ## Headline: fusion comparisons
    ## Performance per scenario and model
    ## Win probabilities
    """
    lines = [f"# Simulation study: {config.name}", ""]
    if config.description:
        lines += [config.description.strip(), ""]
    lines += [
        "Planned as in Morris, White and Crowther (Stat Med 2019):",
        "",
        "- **Aims**: compare early and late fusion with each single-modality score on external data.",
        f"- **Data-generating mechanisms**: {len(config.scenarios)} scenario(s) of the feature-level generator "
        "(`multisurv.simulation.generator.Mechanism`), the synthetic cohort's latent structure and outcome model; "
        f"{config.replicates} replicates each, seed {config.seed} (replicate seeds from seed, mechanism and "
        "replicate number).",
        "- **Estimand**: a fitted model's true C = its Harrell's C on a large independent external sample "
        f"({config.n_truth:,} patients) from the same mechanism, computed per replicate.",
        f"- **Methods**: {', '.join(LABELS.get(m, m) for m in config.models)}; LASSO-Cox selector "
        f"alpha={config.selector.alpha!r}, cv={config.selector.cv}, n_alphas={config.selector.n_alphas}, "
        f"rule={config.selector.rule!r}; late fusion on {config.late_cv}-fold out-of-fold scores; early fusion "
        f"ridge {config.early_penalizer}.",
        f"- **Performance measures** (MC SE in brackets): mean external C; bias = mean(external C - true C); gap "
        f"to the true linear predictor's C on the same external cohort; coverage of the {config.confidence:.0%} "
        f"percentile-bootstrap interval ({config.n_bootstrap} resamples) for the true C; P(a beats b) on the "
        "external C and on the true C.",
        "",
        "## Headline: fusion comparisons",
        "",
        _markdown(headline_table(performance, wins)) if len(wins) else "(no fusion comparison in this config)",
        "",
        "## Performance per scenario and model",
        "",
    ]
    table = pd.DataFrame({
        "Scenario": performance["scenario"], "Model": [LABELS.get(m, m) for m in performance["model"]],
        "R": performance["n_replicates"], "Mean external C": [_pm(v, s) for v, s in zip(performance["mean_c"],
                                                                                         performance["mcse_c"])],
        "Emp. SE": performance["empse_c"].map(lambda v: f"{v:.3f}"),
        "Mean true C": [_pm(v, s) for v, s in zip(performance["mean_true_c"], performance["mcse_true_c"])],
        "Bias": [_pm(v, s) for v, s in zip(performance["bias"], performance["mcse_bias"])],
        "Gap to true LP": [_pm(v, s) for v, s in zip(performance.get("gap_truth", np.nan),
                                                     performance.get("mcse_gap_truth", np.nan))]
        if "gap_truth" in performance else "n/a",
        "Coverage": [_pm(v, s) for v, s in zip(performance["coverage"], performance["mcse_coverage"])],
        "Dev. C": performance["mean_c_development"].map(lambda v: f"{v:.3f}"),
    })
    lines += [_markdown(table), ""]
    if len(wins):
        w = wins.assign(**{"P(win), external C": [_pm(v, s, 2) for v, s in zip(wins["p_win"], wins["mcse_p_win"])],
                           "P(win), true C": [_pm(v, s, 2) for v, s in zip(wins["p_win_true"],
                                                                           wins["mcse_p_win_true"])],
                           "Mean difference": [_pm(v, s) for v, s in zip(wins["mean_difference"],
                                                                         wins["mcse_mean_difference"])]})
        lines += ["## Win probabilities", "",
                  _markdown(w[["scenario", "comparison", "P(win), external C", "P(win), true C", "Mean difference",
                               "n_pairs"]]), ""]
    if figures:
        lines += ["## Figures", "", *(f"- `{p}`" for p in figures if str(p).endswith(".png")), ""]
    return "\n".join(lines)
