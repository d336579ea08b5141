"""``multisurv simulate CONFIG.yaml``: run (or resume) a simulation study of fusion strategies."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_commands"]


def add_commands(subparsers) -> None:
    """Add ``simulate`` to the ``multisurv`` parser's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned for the ``multisurv`` command.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="multisurv")
    >>> add_commands(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["simulate", "simulation.yaml", "--workers", "2"])
    >>> args.config, args.out, args.workers, args.func.__name__
    (PosixPath('simulation.yaml'), None, 2, '_cmd_simulate')
    """
    p = subparsers.add_parser(
        "simulate", help="Simulation study: scenarios x replicates of feature-level cohorts, every model fitted on "
                         "each, performance with Monte-Carlo SEs (cached per replicate, resumable).",
        description="Run the scenarios of a simulation_config.v1 YAML file (see "
                    "experiments/fusion_simulation/simulation.yaml) over their replicates; write replicates.csv, "
                    "performance.csv, win_probabilities.csv, figures/ and report.md. Replicates already in the "
                    "cache are read, not recomputed, so an interrupted run resumes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("config", type=Path, help="Simulation config (YAML, schema simulation_config.v1).")
    p.add_argument("--out", type=Path, default=None, help="Output folder (default: the config's 'out').")
    p.add_argument("--workers", type=int, default=1, help="Processes running replicates in parallel.")
    p.set_defaults(func=_cmd_simulate)


def _cmd_simulate(args) -> int:
    from multisurv.simulation.config import SimulationConfig
    from multisurv.simulation.report import headline_table
    from multisurv.simulation.runner import run_simulation

    if args.workers < 1:
        raise ValueError(f"multisurv simulate: '--workers' must be a whole number >= 1; got {args.workers}. "
                         "Use --workers 1 on a shared machine.")
    config = SimulationConfig.from_yaml(args.config)
    result = run_simulation(config, out=args.out, workers=args.workers)
    table = headline_table(result.performance, result.wins)
    if len(table.columns) > 1:
        print("| " + " | ".join(table.columns) + " |")
        print("| " + " | ".join("---" for _ in table.columns) + " |")
        for row in table.itertuples(index=False):
            print("| " + " | ".join(str(v) for v in row) + " |")
    print(f"\n{result.n_computed} replicate(s) computed, {result.n_cached} read from the cache, in "
          f"{result.seconds:.1f} s.")
    print(f"Report: {result.out / 'report.md'}")
    return 0
