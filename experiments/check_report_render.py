"""Render a run's report.html in headless Chromium and check that it rendered: every image decoded, page not blank.

Usage::

    python experiments/check_report_render.py RUN_DIR [--out DIR] [--width 1280] [--height 9000]

Writes ``DIR/report_screenshot.png`` (the top ``height`` pixels of the page) and prints a JSON summary; the exit
code is 0 when every ``<img>`` decoded (``complete`` and ``naturalWidth > 0`` in Chromium) and the screenshot is not
blank. Needs Debian's ``chromium`` package (``apt-get install -y chromium``). The page is checked from a copy with a
small script appended that records the image states in the DOM, which ``--dump-dom`` then prints.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_PROBE = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) { return i.alt; });
  var div = document.createElement("div");
  div.id = "render-probe";
  div.setAttribute("data-images", String(imgs.length));
  div.setAttribute("data-broken", JSON.stringify(bad));
  div.setAttribute("data-height", String(document.documentElement.scrollHeight));
  document.body.appendChild(div);
});
</script>
"""


def find_chromium() -> str:
    """Path of the Chromium binary, or an error naming the Debian package."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError("Chromium not found; install Debian's package: apt-get install -y chromium")


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    base = [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--allow-file-access-from-files", "--virtual-time-budget=15000"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout, check=False)


def check_report_render(run_dir: str | Path, out_dir: str | Path, *, width: int = 1280, height: int = 9000,
                        timeout: float = 180.0) -> dict:
    """Render ``run_dir/report.html``; return the images found, the broken ones, page height and screenshot stats."""
    import numpy as np
    from PIL import Image

    report = Path(run_dir).resolve() / "report.html"  # file URIs need an absolute path
    if not report.is_file():
        raise FileNotFoundError(f"{report} does not exist; run the study (or write_html_report) first.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = report.read_text()
    n_tags = len(re.findall(r"<img\b", html))
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "report_probe.html"
        probe.write_text(html.replace("</body>", _PROBE + "</body>"))
        dom = _chromium(["--dump-dom", probe.as_uri()], timeout).stdout
    match = re.search(r'id="render-probe" data-images="(\d+)" data-broken="([^"]*)" data-height="(\d+)"', dom)
    if match is None:
        raise RuntimeError("Chromium did not run the page's load handler; its output began: " + dom[:300])
    broken = json.loads(match.group(2).replace("&quot;", '"'))
    shot = out_dir / "report_screenshot.png"
    _chromium([f"--screenshot={shot}", f"--window-size={width},{height}", report.as_uri()], timeout)
    if not shot.is_file():
        raise RuntimeError("Chromium wrote no screenshot.")
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    summary = {
        "report": str(report), "img_tags": n_tags, "images_in_dom": int(match.group(1)), "broken": broken,
        "page_height_px": int(match.group(3)), "screenshot": str(shot), "screenshot_size": list(pixels.shape[::-1]),
        "non_white_fraction": float(np.mean(pixels < 250)), "pixel_std": float(pixels.std()),
    }
    summary["ok"] = bool(n_tags == summary["images_in_dom"] and not broken and summary["non_white_fraction"] > 0.01
                         and summary["pixel_std"] > 5)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="Where the screenshot goes (default: RUN_DIR).")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=9000)
    args = parser.parse_args(argv)
    summary = check_report_render(args.run_dir, args.out or args.run_dir, width=args.width, height=args.height)
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
