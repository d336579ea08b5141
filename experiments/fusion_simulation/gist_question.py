"""The GIST-shaped question from the simulation's replicates: is the replica's external collapse chance?

Reads ``replicates.csv`` of ``multisurv simulate experiments/fusion_simulation/simulation.yaml`` and prints, for
the ``gist`` scenario (254 development / 42 external, shift on, 30 clinical variables), how often each model's
external C is at most the value the image-level replica observed (experiments/gist_fusion/README.md), how often
the true linear predictor's is at least 0.864, and how often all of it happens at once; then what each variant
changes. Every share comes with its Monte-Carlo SE, sqrt(p (1 - p) / R).

    .venv/bin/python experiments/fusion_simulation/gist_question.py [runs/fusion_simulation/replicates.csv]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

#: External C of the image-level GIST replica (experiments/gist_fusion/README.md, full design, 42 patients).
OBSERVED = {"radscore": 0.510, "patscore": 0.547, "clinscore": 0.564, "early": 0.508, "late": 0.556, "truth": 0.864}


def _share(hits: np.ndarray) -> str:
    p = float(np.mean(hits))
    return f"{p:.3f} ({np.sqrt(p * (1 - p) / hits.size):.3f})"


def main(path: str) -> str:
    records = pd.read_csv(path)
    lines = []
    gist = records[records["scenario"] == "gist"].pivot(index="replicate", columns="model", values="c_external")
    gist = gist.dropna()
    r = len(gist)
    lines += [f"gist scenario, R = {r} replicates (MC SE in brackets)", "",
              "| Model | observed (image-level replica) | mean external C | SD | P(C <= observed) |",
              "| --- | --- | --- | --- | --- |"]
    for model, obs in OBSERVED.items():
        c = gist[model].to_numpy()
        hits = c >= obs if model == "truth" else c <= obs
        lines.append(f"| {model} | {obs:.3f} | {c.mean():.3f} ({c.std(ddof=1) / np.sqrt(r):.3f}) | "
                     f"{c.std(ddof=1):.3f} | {_share(hits)}{' (P(C >= observed))' if model == 'truth' else ''} |")
    fitted = [m for m in OBSERVED if m != "truth"]
    all_low = (gist[fitted].to_numpy() <= 0.564).all(axis=1)
    truth_high = gist["truth"].to_numpy() >= 0.864
    lines += ["", f"- P(every fitted model's external C <= 0.564) = {_share(all_low)}",
              f"- P(true LP's external C >= 0.864) = {_share(truth_high)}",
              f"- P(both at once) = {_share(all_low & truth_high)}",
              f"- correlation of the clinscore's and the true LP's external C over replicates: "
              f"{np.corrcoef(gist['clinscore'], gist['truth'])[0, 1]:.2f}", ""]
    perf = records.groupby(["scenario", "model"])
    mean = perf["c_external"].mean().unstack()
    true = perf["c_true"].mean().unstack()
    sd = perf["c_external"].std().unstack()
    n = perf["c_external"].count().unstack()
    lines += ["Mean external C / mean true C / SD of external C per scenario:", "",
              "| Scenario | " + " | ".join(OBSERVED) + " |", "| --- |" + " --- |" * len(OBSERVED)]
    for scenario in dict.fromkeys(records["scenario"]):
        cells = [f"{mean.at[scenario, m]:.3f} / {true.at[scenario, m]:.3f} / {sd.at[scenario, m]:.3f}"
                 for m in OBSERVED]
        lines.append(f"| {scenario} (R={int(n.loc[scenario].min())}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) > 1 else "runs/fusion_simulation/replicates.csv"))
