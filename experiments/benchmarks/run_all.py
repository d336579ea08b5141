"""Run every benchmark in this folder, each in its own process, and print one summary table.

By default each benchmark gets small arguments so the whole set finishes in a few minutes on a shared 2-core
machine (the figures are then indicative only); ``--full`` runs each with its own defaults (the settings whose
output experiments/README.md quotes; tens of minutes). Each benchmark's own output is printed as it finishes
and kept in ``--log-dir`` (default ``runs/benchmarks``); the table at the end repeats each one's headline lines.

Run: .venv/bin/python experiments/benchmarks/run_all.py [--full] [--only NAME ...] [--log-dir DIR]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    quick: tuple[str, ...]  # arguments of the default (quick) run; --full passes none
    headline: str  # regex: output lines that go into the summary table
    # names of the columns of the table (space-aligned or markdown) whose rows the headline picks, so that the
    # summary says "slide (px) 2048, peak RSS (MB) 134" rather than bare numbers (the header is above the rows)
    columns: tuple[str, ...] = ()


BENCHMARKS = (
    Benchmark("tile_streaming", "tile_streaming.py", ("--sizes", "2048,8192"),
              r"^\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s*$",
              ("slide (px)", "raw RGB (MB)", "tissue tiles", "tiles/s", "peak RSS (MB)")),
    Benchmark("radiomics_throughput", "radiomics_throughput.py", ("--cases", "4", "--cached", "20"),
              r"^(features per case|\d+ features per case|speed-up|fully cached rerun)"),
    Benchmark("cindex_speed", "cindex_speed.py", ("--n-large", "20000", "--n-bootstrap", "200", "--repeats", "1"),
              r"^\| (multisurv|sksurv|lifelines|loop)", ("method", "seconds", "x multisurv")),
    Benchmark("pathomics_throughput", "pathomics_throughput.py",
              ("--side", "1792", "--encoder", "resnet18", "--model-patches", "64"),
              r"^(\s+\d+\s+\d+\s|peak RSS)",
              ("slide (px)", "tiles", "seconds", "end-to-end patches/s", "model patches/s before/after",
               "end-to-end/model", "peak RSS (MB)", "worker RSS (MB)")),
)


def headline(bench: Benchmark, output: str) -> str:
    """The summary cell of one benchmark: its headline lines, labelled, joined by " / "."""
    lines = []
    for line in output.splitlines():
        if not re.search(bench.headline, line):
            continue
        markdown = line.lstrip().startswith("|")
        cells = ([re.sub(r"\s+", " ", cell).strip() for cell in line.strip().strip("|").split("|")] if markdown
                 else line.split())
        if bench.columns and len(cells) == len(bench.columns):
            lines.append(", ".join(f"{name} {value}" for name, value in zip(bench.columns, cells)))
        else:
            lines.append(", ".join(cells) if markdown else re.sub(r"\s+", " ", line.strip()))
    return " / ".join(lines) or "-"


def run(bench: Benchmark, *, full: bool, log_dir: Path, timeout: float) -> dict:
    args = [] if full else list(bench.quick)
    command = [sys.executable, str(HERE / bench.script), *args]
    print(f"\n### {bench.name}: {' '.join(['python', bench.script, *args])}", flush=True)
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = "timeout", exc.stdout or "", f"timed out after {timeout:.0f} s"
        out = out.decode() if isinstance(out, bytes) else out
    seconds = time.perf_counter() - started
    (log_dir / f"{bench.name}.log").write_text(out + ("\n--- stderr ---\n" + err if err else ""))
    print(out.rstrip())
    if code != 0:
        print("\n".join(str(err).strip().splitlines()[-5:]))
    return {"benchmark": bench.name, "arguments": " ".join(args) or "(defaults)", "exit": code,
            "seconds": f"{seconds:.0f}", "headline": headline(bench, out)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="Each benchmark with its own (large) defaults.")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS], help="Run only these.")
    parser.add_argument("--log-dir", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--timeout", type=float, default=3600.0, help="Seconds allowed per benchmark.")
    args = parser.parse_args(argv)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    rows = []
    for bench in chosen:
        if not (HERE / bench.script).exists():
            rows.append({"benchmark": bench.name, "arguments": "-", "exit": "missing", "seconds": "-",
                         "headline": f"{bench.script} not found"})
            continue
        rows.append(run(bench, full=args.full, log_dir=args.log_dir, timeout=args.timeout))
    print(f"\n## Summary ({'full' if args.full else 'quick'} settings; logs in {args.log_dir})\n")
    print("| benchmark | arguments | exit | seconds | headline |")
    print("| --- | --- | --- | ---: | --- |")
    for r in rows:
        print(f"| {r['benchmark']} | {r['arguments']} | {r['exit']} | {r['seconds']} | {r['headline']} |")
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
