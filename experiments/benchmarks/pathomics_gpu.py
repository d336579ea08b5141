"""Benchmark: pathomics over a cohort of slides against the model limit and the decode limit, and a cached rerun.

Writes N synthetic slides as JPEG-tiled pyramidal TIFFs (256 px tiles, quality 80, YCbCr 4:2:0, levels /1 /4 /16,
as Aperio SVS files are; each a mosaic of the synthetic cohort's H&E pieces), then measures

1. the model limit: the encoder's forward pass alone on tiles already in memory (uint8 -> device -> normalise ->
   model), at the run's batch size and precision;
2. the decode limit: OpenSlide reading and converting every tissue tile of the cohort in W processes (W = the
   decoding workers the project uses), no model;
3. the project end to end: ``multisurv extract pathomics MANIFEST`` with default settings over the whole cohort,
   timed from the command's start to its end (imports, model build, tissue masks, HDF5, QC thumbnails included);
4. a fully cached rerun of the same command;
5. optionally (``--baseline DIR``, a checkout of an earlier multisurv, e.g. ``git worktree add /tmp/old b11148f``)
   the same command run with that code, side by side.

It prints tiles/s and the ratios project / decode limit and project / model limit. Targets on a GPU machine (issue
16): >= 80 % of the decode limit over >= 20 slides with default settings, and a cached rerun under 5 s. On a CPU it
runs small (4 slides of 2 x 2 pieces, ResNet-18) and prints the same ratios.

Run: .venv/bin/python experiments/benchmarks/pathomics_gpu.py [--slides 20 --pieces 6x6 --encoder resnet50]
     [--baseline /tmp/old]
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

TIFF_TILE = 256
TILE = 224
PIECE = (896, 1120)  # the synthetic cohort's slide: (height, width) at 0.5 um/px


def render_mosaic(seed: int, rows: int, cols: int) -> np.ndarray:
    """A slide of rows x cols synthetic H&E pieces (the cohort generator's render_slide), 0.5 um/px."""
    from multisurv.cohort.synthetic_wsi import STAINS, render_slide

    rng = np.random.default_rng(seed)
    out = np.empty((rows * PIECE[0], cols * PIECE[1], 3), np.uint8)
    for r in range(rows):
        for c in range(cols):
            stain = STAINS["development" if rng.random() < 0.7 else "external"]
            out[r * PIECE[0]:(r + 1) * PIECE[0], c * PIECE[1]:(c + 1) * PIECE[1]] = render_slide(
                rng, u_path=float(rng.normal()), mitotic_count=float(rng.uniform(0, 12)), stain=stain)
    return out


def _jpeg_tiles(level: np.ndarray):
    from PIL import Image

    for y in range(0, level.shape[0], TIFF_TILE):
        for x in range(0, level.shape[1], TIFF_TILE):
            tile = np.full((TIFF_TILE, TIFF_TILE, 3), 255, np.uint8)
            part = level[y:y + TIFF_TILE, x:x + TIFF_TILE]
            tile[:part.shape[0], :part.shape[1]] = part
            buf = io.BytesIO()
            Image.fromarray(tile).save(buf, "JPEG", quality=80, subsampling=2)  # 4:2:0, as Aperio
            yield buf.getvalue()


def write_jpeg_slide(path: Path, rgb: np.ndarray) -> None:
    """Pyramidal tiled TIFF with JPEG tiles encoded by Pillow (tifffile stores pre-encoded tiles as they are)."""
    import tifffile

    tifffile.TIFF.COMPRESSORS._codecs.setdefault(7, lambda *a, **k: b"")  # looked up, never called
    levels = [rgb]
    for f in (4, 16):
        h, w = rgb.shape[0] // f, rgb.shape[1] // f
        levels.append(rgb[:h * f, :w * f].reshape(h, f, w, f, 3).mean(axis=(1, 3)).round().astype(np.uint8))
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for k, level in enumerate(levels):
            f = (1, 4, 16)[k]
            tif.write(_jpeg_tiles(level), shape=level.shape, dtype=np.uint8, tile=(TIFF_TILE, TIFF_TILE),
                      compression="jpeg", photometric="ycbcr", subsampling=(2, 2), resolution=(2e4 / f, 2e4 / f),
                      resolutionunit="CENTIMETER", subfiletype=0 if k == 0 else 1, metadata=None, software=False)


def model_limit(encoder_name: str, device: str, batch: int, precision: str, seconds: float) -> float:
    """Tiles/s of Encoder.transform + forward on uint8 tiles already in (pinned) host memory."""
    import torch

    from multisurv.features.wsi.encoders import _autocast, get_encoder, resolve_precision

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = get_encoder(encoder_name, device=device)
    tiles = torch.randint(0, 256, (batch, TILE, TILE, 3), dtype=torch.uint8)
    if device.startswith("cuda"):
        tiles = tiles.pin_memory()
    dtype = resolve_precision(precision, device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def once():
        with torch.inference_mode(), _autocast(torch, device, dtype):
            return enc.model(enc.transform(tiles)).float().cpu()

    once()
    sync()
    n, start = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - start < seconds:
        once()
        n += 1
    sync()
    return n * batch / (time.perf_counter() - start)


_SLIDES: dict = {}


def _decode(task) -> int:
    import openslide

    from multisurv.features.wsi.reader import rgba_to_rgb

    path, coords = task
    slide = _SLIDES.get(path)
    if slide is None:
        slide = _SLIDES[path] = openslide.OpenSlide(path)
    for x, y in coords:
        rgba_to_rgb(np.asarray(slide.read_region((int(x), int(y)), 0, (TILE, TILE))))
    return len(coords)


def decode_limit(slides: list[Path], workers: int) -> tuple[float, int]:
    """Tiles/s of OpenSlide decoding every tissue tile of the cohort in ``workers`` processes; and the tile count."""
    from multisurv.features.wsi.reader import open_slide
    from multisurv.features.wsi.tissue import tile_grid

    tasks = []
    for path in slides:
        with open_slide(path) as slide:
            coords = tile_grid(slide, tile_size=TILE, level=0, min_tissue=0.5)
        tasks += [(str(path), coords[i:i + 64]) for i in range(0, len(coords), 64)]
    total = sum(len(c) for _, c in tasks)
    with mp.get_context("fork").Pool(max(1, workers)) as pool:
        pool.map(_decode, tasks[:max(1, workers)])  # open the slides in every worker first
        start = time.perf_counter()
        done = sum(pool.imap_unordered(_decode, tasks))
        seconds = time.perf_counter() - start
    assert done == total
    return total / seconds, total


def run_cli(manifest: Path, out: Path, encoder: str, extra: list[str], pythonpath: str | None = None
            ) -> tuple[float, int, str]:
    """Wall seconds of ``multisurv extract pathomics``, the tiles it encoded, and its output."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    command = [sys.executable, "-W", "ignore", "-m", "multisurv.cli", "extract", "pathomics", str(manifest), "--out",
               str(out), "--encoder", encoder, "--no-progress", *extra]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=pythonpath or None)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}")
    import pandas as pd

    tiles = int(pd.read_csv(out / "pathomics_diagnostics.csv")["n_tiles"].sum())
    return seconds, tiles, proc.stdout + proc.stderr


def main() -> None:
    import torch

    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slides", type=int, default=20 if cuda else 4)
    parser.add_argument("--pieces", default="6x6" if cuda else "2x2", help="Mosaic of synthetic pieces per slide.")
    parser.add_argument("--encoder", default="resnet50" if cuda else "resnet18")
    parser.add_argument("--model-seconds", type=float, default=5.0 if cuda else 10.0)
    parser.add_argument("--baseline", default=None, metavar="DIR",
                        help="Checkout of an earlier multisurv to run side by side (e.g. git worktree add /tmp/old "
                             "b11148f).")
    parser.add_argument("--work", default=None, help="Scratch folder (default: a temporary one, removed).")
    args = parser.parse_args()

    from multisurv.features.wsi.encoders import encoder_spec
    from multisurv.features.wsi.inference import machine_defaults

    device = "cuda" if cuda else "cpu"
    defaults = machine_defaults(device, encoder_params_m=encoder_spec(args.encoder).params_m)
    batch, workers, precision = defaults["batch_size"], defaults["loader_workers"], defaults["precision"]
    rows, cols = (int(v) for v in args.pieces.lower().split("x"))
    print(f"pathomics_gpu: {args.slides} slides of {rows}x{cols} pieces ({rows * PIECE[0]} x {cols * PIECE[1]} px, "
          f"JPEG q80 4:2:0 tiles), encoder {args.encoder}; project defaults: {defaults['why']}")
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        slides = []
        start = time.perf_counter()
        for i in range(args.slides):
            path = work / f"slide_{i:03d}.tiff"
            write_jpeg_slide(path, render_mosaic(1000 + i, rows, cols))
            slides.append(path)
        manifest = work / "manifest.csv"
        manifest.write_text("patient_id,wsi\n" + "".join(f"p{i:03d},{p}\n" for i, p in enumerate(slides)))
        print(f"wrote {len(slides)} slides in {time.perf_counter() - start:.1f} s "
              f"({sum(p.stat().st_size for p in slides) / 2**20:.1f} MiB)")

        model = model_limit(args.encoder, device, batch, precision, args.model_seconds)
        decode, n_tiles = decode_limit(slides, max(workers, 1))
        rows_out = []
        seconds, tiles, _ = run_cli(manifest, work / "out", args.encoder, [])
        assert tiles == n_tiles, (tiles, n_tiles)
        rows_out.append(("project (this checkout), defaults", seconds, tiles))
        cached, _, printed = run_cli(manifest, work / "out", args.encoder, [])
        assert f"({len(slides)} from the cache" in printed, printed
        if args.baseline:
            b_seconds, b_tiles, _ = run_cli(manifest, work / "baseline", args.encoder, [], pythonpath=args.baseline)
            rows_out.append((f"project ({Path(args.baseline).name} checkout), its defaults", b_seconds, b_tiles))
            b_cached, _, _ = run_cli(manifest, work / "baseline", args.encoder, [], pythonpath=args.baseline)

    print(f"tissue tiles in the cohort: {n_tiles}")
    print(f"MODEL LIMIT  {args.encoder} forward, batch {batch}, {precision}, {device}: {model:9.1f} tiles/s")
    print(f"DECODE LIMIT OpenSlide, {max(workers, 1)} process(es):{'':>14} {decode:9.1f} tiles/s")
    print(f"{'run':<48} {'seconds':>8} {'tiles/s':>9} {'/decode':>8} {'/model':>7}")
    for label, secs, tiles in rows_out:
        rate = tiles / secs
        print(f"{label:<48} {secs:>8.1f} {rate:>9.1f} {rate / decode:>8.2f} {rate / model:>7.2f}")
    print(f"fully cached rerun (this checkout): {cached:.2f} s for {len(slides)} slides")
    if args.baseline:
        print(f"fully cached rerun (baseline): {b_cached:.2f} s; this checkout / baseline end to end: "
              f"{(rows_out[0][2] / rows_out[0][1]) / (rows_out[1][2] / rows_out[1][1]):.2f}x")
    print("project rates are over the whole command (imports, model build, tissue masks, HDF5, QC thumbnails).")


if __name__ == "__main__":
    main()
