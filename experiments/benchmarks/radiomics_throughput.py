"""Benchmark: radiomics batch throughput with 1 and 2 worker processes, and a fully cached rerun of 100 cases.

Writes synthetic CT cases (int16 noise volumes, 128 x 128 x 48 voxels of 0.8 x 0.8 x 2.5 mm, with a textured
ellipsoidal "tumour" of ~25k voxels and its mask, NRRD), then through multisurv's batch loop
(:func:`multisurv.features.radiomics.extract_radiomics_cases`, the code behind ``multisurv extract radiomics``):

1. extracts ``--cases`` cases with 1 worker (in-process) and with 2 worker processes, each into an empty store,
   and prints cases per second and the speed-up (target >= 1.8 on 2 idle cores);
2. fills the store for 100 cases, then times a rerun in which every case is cached (target < 5 s).

The params (original image, LoG at 5 sigmas and 8 wavelet images after 1 mm resampling; 7 feature classes,
1,316 features: PyRadiomics' usual CT set) make
per-case work (~1 s) dominate the process-pool overhead, as real CT studies do. Timings depend on the machine's
load: run it on idle cores for the speed-up figure.

Run: .venv/bin/python experiments/benchmarks/radiomics_throughput.py [--cases 16] [--cached 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

PARAMS = {
    "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0, 4.0, 5.0]}, "Wavelet": {}},
    "featureClass": {c: None for c in ("shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")},
    "setting": {"label": 1, "binWidth": 25, "resampledPixelSpacing": [1, 1, 1], "interpolator": "sitkBSpline",
                "padDistance": 5, "voxelArrayShift": 1000},
}


def write_cases(root: Path, n: int) -> list[tuple[str, dict[str, str]]]:
    """``n`` synthetic CT cases (image + mask NRRD); each case differs (its own seed)."""
    import SimpleITK as sitk
    from scipy import ndimage

    shape = (48, 128, 128)  # z, y, x
    zz, yy, xx = np.ogrid[:shape[0], :shape[1], :shape[2]]
    cases = []
    for i in range(n):
        rng = np.random.default_rng(i)
        radii = rng.uniform([7, 22, 22], [9, 28, 28])  # voxels (z, y, x): ~20-30k voxels
        inside = (((zz - 24) / radii[0]) ** 2 + ((yy - 64) / radii[1]) ** 2 + ((xx - 64) / radii[2]) ** 2) <= 1
        texture = ndimage.gaussian_filter(rng.standard_normal(shape), rng.uniform(1.0, 2.5)) * 400
        volume = np.where(inside, 40 + texture, -700 + rng.normal(0, 60, shape)).astype(np.int16)
        for name, array in (("image", volume), ("mask", inside.astype(np.uint8))):
            img = sitk.GetImageFromArray(array)
            img.SetSpacing((0.8, 0.8, 2.5))
            sitk.WriteImage(img, str(root / f"case{i:03d}_{name}.nrrd"), useCompression=True)
        cases.append((f"case{i:03d}", {"ct_image": str(root / f"case{i:03d}_image.nrrd"),
                                       "ct_mask": str(root / f"case{i:03d}_mask.nrrd")}))
    return cases


def timed(cases, out: Path, n_workers: int):
    from multisurv.features.radiomics import extract_radiomics_cases

    start = time.perf_counter()
    result = extract_radiomics_cases(cases, out_dir=out, params=PARAMS, n_workers=n_workers, progress=False)
    elapsed = time.perf_counter() - start
    assert result.failures.empty, result.failures.to_dict("records")
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=16, help="cases for the throughput runs (default 16)")
    parser.add_argument("--cached", type=int, default=100, help="cases for the cached rerun (default 100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "cases").mkdir()
        t0 = time.perf_counter()
        cases = write_cases(root / "cases", max(args.cases, args.cached))
        print(f"wrote {len(cases)} synthetic CT cases in {time.perf_counter() - t0:.1f} s")
        subset = cases[:args.cases]
        t1, res1 = timed(subset, root / "one", 1)
        t2, res2 = timed(subset, root / "two", 2)
        assert res1.features.equals(res2.features)  # same numbers either way
        print(f"{res1.features.shape[1]} features per case")
        print(f"1 worker : {len(subset) / t1:6.2f} cases/s ({t1:6.1f} s for {len(subset)} cases)")
        print(f"2 workers: {len(subset) / t2:6.2f} cases/s ({t2:6.1f} s for {len(subset)} cases)")
        print(f"speed-up : {t1 / t2:6.2f}x (target >= 1.8 on 2 idle cores)")

        many = cases[:args.cached]
        fill, _ = timed(many, root / "two", 2)  # the first cases are cached already
        rerun, res = timed(many, root / "two", 2)
        assert res.n_cached == len(many)
        print(f"filled the store for {len(many)} cases in {fill:.1f} s")
        print(f"fully cached rerun of {len(many)} cases: {rerun:.2f} s (target < 5 s)")


if __name__ == "__main__":
    main()
