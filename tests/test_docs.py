"""The documentation site builds with warnings as errors and works in a browser.

The default run builds the fast subset (``MULTISURV_DOCS_FAST=1``: every page, the API reference included with
numpydoc validation of every public name's docstring (a docstring, its parameters, Returns and Examples), two
figure-gallery examples executed, tutorials rendered without running; about 30 s of CPU) once per session and
checks it in headless Chromium. The full build (the same with every tutorial and figure executed; about 100 s of
CPU on 2 cores from a fresh clone) is the slow test, and is what the README command runs.

Chromium is driven through Selenium and Debian's ``chromium`` and ``chromium-driver`` packages (``.ci/run``
installs them when missing); without them the browser checks are skipped with the install line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Pages the site must have: the issue's list (hand-written or generated) and the four executed tutorials.
REQUIRED_PAGES = (
    "index.html", "installation.html", "getting_started.html", "your_study.html", "branches/radiomics.html",
    "branches/pathomics.html", "branches/clinical.html", "fusion.html", "validation.html", "validated.html",
    "auto_figures/index.html", "reference/cli.html", "reference/config.html", "reference/api/index.html",
    "reference/evidence.html", "auto_tutorials/tutorial_01_study_from_manifest.html",
    "auto_tutorials/tutorial_02_fusion_nki70.html", "auto_tutorials/tutorial_03_paper_figures.html",
    "auto_tutorials/tutorial_04_score_new_cohort.html",
)


def _build(out: Path, *, fast: bool) -> Path:
    """Build the site into ``out`` with -W --keep-going; fail with Sphinx's warnings when there are any."""
    pytest.importorskip("sphinx", reason='the docs extra is not installed: pip install -e ".[docs]"')
    env = {**os.environ, "MULTISURV_DOCS_FAST": "1" if fast else "0", "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(out / "doctrees"),
           str(DOCS), str(out / "html")]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"docs build failed ({' '.join(cmd)}):\n{proc.stderr[-8000:]}"
    return out / "html"


@pytest.fixture(scope="session")
def fast_site(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("docs_fast"), fast=True)


class _Anchors(HTMLParser):
    """Every id and internal href of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_sources" not in p.parts)


def _broken_links(site: Path) -> list[str]:
    """Internal links (relative hrefs) whose file, or whose #fragment in that file, does not exist."""
    parsed = {}
    for page in _pages(site):
        parser = _Anchors()
        parser.feed(page.read_text(encoding="utf-8"))
        parsed[page] = parser
    broken = []
    for page, parser in parsed.items():
        for href in parser.hrefs:
            url = urlparse(href)
            if url.scheme or href.startswith("//") or href.startswith("mailto:"):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {href} (no file {target})")
            elif url.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else set()
                if url.fragment not in ids:
                    broken.append(f"{page.relative_to(site)}: {href} (no id {url.fragment!r} in {target.name})")
    return broken


def _browser():
    """A headless Chromium driven by Selenium, or a skip naming what to install."""
    webdriver = pytest.importorskip("selenium.webdriver", reason='pip install -e ".[docs]" (selenium)')
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless Chromium is not installed: apt-get install -y chromium chromium-driver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "--window-size=1280,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


#: Run in every page after it loaded: what the browser rendered and fetched.
_PAGE_STATE = """
return {
  title: document.title,
  text: document.body ? document.body.innerText.length : 0,
  main: !!document.querySelector('article, main, [role=main]'),
  images: Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]),
};
"""


def _browser_problems(site: Path) -> tuple[list[str], int]:
    """Open every page in headless Chromium: it must have a title and text, and every image must load."""
    problems, n_images = [], 0
    browser = _browser()
    try:
        browser.set_page_load_timeout(60)
        for page in _pages(site):
            browser.get(page.as_uri())
            state = browser.execute_script(_PAGE_STATE)
            name = page.relative_to(site)
            if not state["title"] or state["text"] < 50 or not state["main"]:
                problems.append(f"{name}: did not render (title {state['title']!r}, {state['text']} characters)")
            for src, loaded in state["images"]:
                n_images += 1
                if not loaded:
                    problems.append(f"{name}: image {src} did not load")
    finally:
        browser.quit()
    return problems, n_images


def test_fast_build_has_every_page(fast_site):
    """Every page of the issue's list exists, the generated references included."""
    missing = [p for p in REQUIRED_PAGES if not (fast_site / p).is_file()]
    assert not missing, f"pages missing from the built site: {missing}"


def test_generated_references_cover_the_code(fast_site):
    """The CLI page has every sub-command of the parser and the config page every key of the config classes."""
    from multisurv.cli import build_parser

    cli_page = (fast_site / "reference" / "cli.html").read_text(encoding="utf-8")
    commands = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction").choices
    assert [c for c in commands if f"multisurv {c}" not in cli_page] == []

    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import msdocs
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    rows: list = []
    msdocs._config_rows(msdocs._study_config_class(), "", {}, rows)
    config_page = (fast_site / "reference" / "config.html").read_text(encoding="utf-8")
    assert rows and [r[0] for r in rows if r[0].replace("<", "&lt;").replace(">", "&gt;") not in config_page] == []
    api = "".join(p.read_text(encoding="utf-8") for p in (fast_site / "reference" / "api").glob("*.html"))
    wanted = ("run_study", "fit_study", "assess_study", "LassoLogisticSelector", "plot_km")
    assert [name for name in wanted if name not in api] == []


def test_fast_build_internal_links_resolve(fast_site):
    assert _broken_links(fast_site) == []


def test_fast_build_renders_in_chromium(fast_site):
    """Every page renders with text in headless Chromium and every image loads (the executed gallery's too)."""
    problems, n_images = _browser_problems(fast_site)
    assert problems == []
    assert n_images >= 2  # the two gallery figures executed in the fast build, at least


@pytest.mark.slow
def test_full_build_with_executed_tutorials(tmp_path):
    """The README's build: API reference, nitpicky references, numpydoc checks, every tutorial and figure run.

    The tutorials' figures must be on their pages, every link must resolve and every image load in Chromium.
    """
    site = _build(tmp_path, fast=False)
    missing = [p for p in REQUIRED_PAGES if not (site / p).is_file()]
    assert not missing
    for page in REQUIRED_PAGES:
        if page.startswith("auto_tutorials/tutorial_"):
            text = (site / page).read_text(encoding="utf-8")
            assert "sphx-glr-single-img" in text or "sphx-glr-multi-img" in text, f"{page} shows no figure"
    assert _broken_links(site) == []
    problems, n_images = _browser_problems(site)
    assert problems == [] and n_images >= 14  # 4 tutorials and 10 gallery examples draw at least one each
