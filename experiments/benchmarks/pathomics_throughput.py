"""Benchmark: pathomics end to end (slide file -> slide vector) against the bare model, and peak memory vs slide size.

Writes two pyramidal tiled TIFF slides with textured tissue in a disc (``--side`` px and twice that side, i.e. 4x
the area), then, each in a fresh process:

- end to end: :func:`multisurv.features.wsi.pathomics.extract_slide` (open, thumbnail tissue mask, tile grid,
  DataLoader worker processes decoding tiles, batched channels-last forward, HDF5 patch file, QC thumbnail,
  mean pooling), timed from the call to the returned slide vector; patches/s = tiles / seconds;
- model only: the same backbone's forward pass on random (batch, 3, 224, 224) tensors (channels-last, inference
  mode, same batch size), patches/s, in the same process just before and just after the slide (the machine is
  shared and its load drifts, so the mean of the two brackets the end-to-end run).

Peak RSS is ``ru_maxrss`` of the extracting process (model included; read before the second model-only run) and,
separately, of its decoding workers.

Run: .venv/bin/python experiments/benchmarks/pathomics_throughput.py [--side 3584] [--encoder resnet50]
     [--batch-size 32] [--loader-workers 1] [--model-patches 96]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

TILE = 256


def write_slide(path: Path, side: int) -> None:
    """Pyramidal RGB slide (levels /1, /4, /16), tissue in a central disc, written tile by tile (zlib).

    The disc is drawn per pixel from level-0 coordinates at every level, so the thumbnail the tissue mask is
    computed on shows the same disc as level 0 (whatever ``side``; partial edge tiles are padded by tifffile).
    """
    import tifffile

    rng = np.random.default_rng(0)
    textures = [np.clip(rng.normal((200, 120, 190), 30, size=(TILE, TILE, 3)), 0, 255).astype(np.uint8)
                for _ in range(8)]
    glass = np.full((TILE, TILE, 3), 236, np.uint8)
    centre, radius = side / 2, 0.45 * side

    def tiles(level_side: int, factor: int):
        n = -(-level_side // TILE)
        for ty in range(n):
            for tx in range(n):
                y = ((np.arange(TILE) + ty * TILE + 0.5) * factor - centre)[:, None]
                x = ((np.arange(TILE) + tx * TILE + 0.5) * factor - centre)[None, :]
                inside = (x**2 + y**2 < radius**2)[..., None]
                yield np.where(inside, textures[(tx * 7 + ty * 3) % 8], glass)

    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for k, factor in enumerate((1, 4, 16)):
            s = side // factor
            tif.write(tiles(s, factor), shape=(s, s, 3), dtype=np.uint8, tile=(TILE, TILE), photometric="rgb",
                      compression="zlib", subfiletype=0 if k == 0 else 1, resolution=(2e4 / factor, 2e4 / factor),
                      resolutionunit="CENTIMETER", software=False, metadata=None)


def _encoder(name: str):
    from multisurv.features.wsi.encoders import get_encoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights: speed does not depend on them
        return get_encoder(name, weights=None)


def _model_rate(encoder, batch_size: int, n_patches: int) -> float:
    """Patches/s of the bare forward pass on random (batch, 3, 224, 224) channels-last tensors."""
    import torch

    x = torch.randn(batch_size, 3, 224, 224).contiguous(memory_format=torch.channels_last).to(encoder.device)
    cuda = encoder.device.startswith("cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
        n_batches = max(1, n_patches // batch_size)
        start = time.perf_counter()
        for _ in range(n_batches):
            out = encoder.model(x)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    assert out.shape == (batch_size, encoder.dim)
    return n_batches * batch_size / seconds


def child(path: str, encoder_name: str, batch_size: int, loader_workers: int, model_patches: int,
          out: str) -> dict:
    """In one fresh process: model-only rate, end-to-end extraction of the slide, model-only rate again."""
    import torch

    from multisurv.features.wsi.pathomics import extract_slide

    encoder = _encoder(encoder_name)
    with torch.inference_mode():  # warm-up (oneDNN primitive creation), for both measurements
        encoder.model(torch.randn(batch_size, 3, 224, 224).contiguous(memory_format=torch.channels_last))
    before = _model_rate(encoder, batch_size, model_patches)
    start = time.perf_counter()
    features, info = extract_slide("bench", {"wsi": path}, encoder=encoder, batch_size=batch_size,
                                   loader_workers=loader_workers, patch_dir=out)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the second model-only run
    after = _model_rate(encoder, batch_size, model_patches)
    assert np.isfinite(features.to_numpy()).all()
    return {"tiles": info["n_tiles"], "grid": info["n_tissue_tiles"], "seconds": seconds,
            "patches_per_s": info["n_tiles"] / seconds, "model_before": before, "model_after": after,
            "peak_rss_mb": peak, "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "torch_threads": torch.get_num_threads(), "device": encoder.device}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=3584, help="Side of the smaller slide in pixels (default 3584).")
    parser.add_argument("--encoder", default="resnet50")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--loader-workers", type=int, default=1)
    parser.add_argument("--model-patches", type=int, default=96,
                        help="Patches timed in each model-only run (before and after each slide).")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.encoder, args.batch_size, args.loader_workers,
                               args.model_patches, args.child[1])))
        return

    common = ["--encoder", args.encoder, "--batch-size", str(args.batch_size), "--loader-workers",
              str(args.loader_workers), "--model-patches", str(args.model_patches)]
    print(f"encoder {args.encoder}, batch {args.batch_size}, {args.loader_workers} decoding worker(s)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for side in (args.side, 2 * args.side):
            path = Path(tmp) / f"slide_{side}.tiff"
            write_slide(path, side)
            rows.append((side, _child("--child", str(path), str(Path(tmp) / f"patches_{side}"), *common)))
            path.unlink()
    print(f"{'slide (px)':>11} {'tiles':>6} {'seconds':>8} {'e2e p/s':>8} {'model p/s':>17} {'e2e/model':>9} "
          f"{'peak RSS (MB)':>14} {'worker RSS (MB)':>16}")
    for side, r in rows:
        model = (r["model_before"] + r["model_after"]) / 2
        bracket = f"{r['model_before']:.2f}/{r['model_after']:.2f}"
        print(f"{side:>11} {r['tiles']:>6} {r['seconds']:>8.1f} {r['patches_per_s']:>8.2f} {bracket:>17} "
              f"{r['patches_per_s'] / model:>9.1%} {r['peak_rss_mb']:>14.0f} {r['workers_peak_rss_mb']:>16.0f}")
    small, large = rows[0][1], rows[1][1]
    print(f"model p/s: bare forward pass in the same process just before/after the slide; e2e/model uses their mean. "
          f"torch threads {small['torch_threads']}, device {small['device']}")
    print(f"peak RSS, 4x larger slide vs smaller: {large['peak_rss_mb'] / small['peak_rss_mb'] - 1:+.1%} "
          f"(main process), {large['workers_peak_rss_mb'] / small['workers_peak_rss_mb'] - 1:+.1%} (workers)")


if __name__ == "__main__":
    main()
