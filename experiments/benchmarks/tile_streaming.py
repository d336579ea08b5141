"""Benchmark: tile reading streams, so peak memory must not grow with slide size.

Writes pyramidal tiled TIFF slides of growing size (2k to 32k px a side), then in a fresh process per slide finds
the tissue tiles (224 px, level 0) and reads every one through multisurv's streaming reader, printing the slide's
uncompressed size, tiles read, tiles/s and the process's peak resident memory.

Run: .venv/bin/python experiments/benchmarks/tile_streaming.py [--sizes 2048,8192,16384,32768]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TILE = 256


def write_slide(path: Path, side: int) -> None:
    """A pyramidal RGB slide (levels /1, /4, /16, /64) written tile by tile, never held whole in memory."""
    import tifffile

    rng = np.random.default_rng(0)
    base = np.clip(rng.normal((200, 120, 190), 25, size=(TILE, TILE, 3)), 0, 255).astype(np.uint8)
    glass = np.full((TILE, TILE, 3), 236, np.uint8)

    def tiles(n_side: int):
        for ty in range(n_side):
            for tx in range(n_side):
                # tissue in a disc around the centre, glass outside: a realistic mix for the tissue detector
                inside = (tx - n_side / 2) ** 2 + (ty - n_side / 2) ** 2 < (0.4 * n_side) ** 2
                yield base if inside else glass

    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for k, factor in enumerate((1, 4, 16, 64)):
            if side // factor < TILE and k > 0:
                break  # a level smaller than one tile adds nothing
            n_side = side // factor // TILE
            s = n_side * TILE
            tif.write(tiles(n_side), shape=(s, s, 3), dtype=np.uint8, tile=(TILE, TILE), photometric="rgb",
                      compression="zlib", subfiletype=0 if k == 0 else 1, resolution=(2e4 / factor, 2e4 / factor),
                      resolutionunit="CENTIMETER", software=False, metadata=None)


def measure(path: str) -> dict:
    """Run in a child process: read every tissue tile of one slide; report throughput and peak memory."""
    from multisurv.features.wsi.reader import iter_tiles, open_slide
    from multisurv.features.wsi.tissue import tile_grid

    slide = open_slide(path)
    coords = tile_grid(slide, tile_size=224, level=0, min_tissue=0.5)
    started = time.perf_counter()
    total = 0.0
    for tile in iter_tiles(slide, coords, 224):
        total += float(tile[0, 0, 0])
    seconds = time.perf_counter() - started
    return {"tiles": int(len(coords)), "tiles_per_s": len(coords) / seconds if seconds else float("nan"),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2048,8192,16384,32768", help="Slide sides in pixels, comma-separated.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    print(f"{'slide (px)':>12} {'raw RGB (MB)':>13} {'tissue tiles':>13} {'tiles/s':>9} {'peak RSS (MB)':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for side in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"slide_{side}.tiff"
            write_slide(path, side)
            out = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                                 check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{side:>12} {side * side * 3 / 1e6:>13.0f} {r['tiles']:>13} {r['tiles_per_s']:>9.0f} "
                  f"{r['peak_rss_mb']:>14.0f}")
            path.unlink()


if __name__ == "__main__":
    main()
