"""LASSO-logistic path: the numba-compiled coordinate descent against the same loop in pure Python, side by side.

Run: ``.venv/bin/python experiments/benchmarks/lasso_logistic_speed.py [n] [p]`` (default 200 patients, 106
features, 100 penalties, tol 1e-7 as a study fits). Prints both times, their ratio and the largest difference of
the coefficients (0: the two run the same operations in the same order).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import multisurv.selection.lasso_logistic as module


def main(n: int = 200, p: int = 106) -> None:
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(n, p))
    Z = (Z - Z.mean(0)) / Z.std(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-(Z[:, 0] - 0.5 * Z[:, 1])))).astype(float)
    alphas = np.abs(Z.T @ (y - y.mean())).max() / n * np.logspace(0, -2, 100)
    module.logistic_path(Z[:20, :5], y[:20], alphas[:3])  # compile once, outside the timing
    compiled = module._coordinate_descent
    timings = {}
    for name, kernel in (("compiled", compiled), ("pure_python", module._cd_passes)):
        module._coordinate_descent = kernel
        start = time.perf_counter()
        result = module.logistic_path(Z, y, alphas, tol=1e-7)
        timings[name] = (time.perf_counter() - start, result)
    module._coordinate_descent = compiled
    diff = float(np.abs(timings["compiled"][1][1] - timings["pure_python"][1][1]).max())
    print(f"lasso_logistic path: n {n}, p {p}, 100 penalties, tol 1e-7")
    print(f"compiled (numba) {timings['compiled'][0]:.2f} s; pure Python {timings['pure_python'][0]:.2f} s; "
          f"ratio {timings['pure_python'][0] / timings['compiled'][0]:.1f}x; max |coefficient difference| {diff:g}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
