"""The cohort page in headless Chromium (issue 23): the study summary fills the first screen, and
the printed PDF (the print stylesheet, `plasmatrack report --pdf`'s code) cuts no figure across
pages, checked on the PDF's pages rendered by pdftoppm.

How a cut figure is found: before printing, every figure gets a pure red top edge and a pure
blue bottom edge (a test-only style). pdftoppm renders each PDF page; a figure is whole when its
red edge and its blue edge are on the same page. The same page printed with the print
stylesheet's page-break rules switched off must cut at least one figure, so the check can fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chromium import browser_executable, render_page
from plasmatrack.report.pages import ReportSettings, build_reports
from plasmatrack.report.pdf import print_open_page
from plasmatrack.report.synthetic import write_synthetic_results

pytestmark = pytest.mark.browser

EDGES = (".figure { border-top: 5px solid rgb(255,0,0) !important; "
         "border-bottom: 5px solid rgb(0,0,255) !important; }")
NO_BREAK_RULES = (".figure, p.caption, h2 { break-inside: auto !important; "
                  "page-break-inside: auto !important; break-after: auto !important; "
                  "page-break-after: auto !important; }")
FIRST_SCREEN = {"width": 1300, "height": 900}


@pytest.fixture(scope="module")
def cohort_page(tmp_path_factory):
    root = tmp_path_factory.mktemp("print_cohort")
    run = write_synthetic_results(root / "run", n_patients=10, seed=7, stage_survival=True)
    build_reports(run.stage_data(), root / "reports", ReportSettings(), patients=[])
    return run, root / "reports" / "cohort.html"


def test_first_screen_shows_the_study_summary(chromium, cohort_page, screenshot_dir):
    _, page_path = cohort_page
    rendered = render_page(chromium, page_path, screenshot_dir / "cohort_first_screen.png",
                           width=FIRST_SCREEN["width"], keep_open=True, full_page=False)
    try:
        page = rendered.page
        assert page.viewport_size == FIRST_SCREEN
        first = page.evaluate("() => document.querySelector('main section').id")
        assert first == "summary"
        box = page.locator("#summary div.abstract").bounding_box()
        print("summary box", box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= FIRST_SCREEN["height"]
        # the primary analysis' sentence is visible on that screen
        primary = page.locator("#summary p", has_text="Primary analysis").bounding_box()
        assert primary["y"] + primary["height"] <= FIRST_SCREEN["height"]
    finally:
        rendered.context.close()
    img = Image.open(rendered.screenshot)
    assert img.size == (FIRST_SCREEN["width"], FIRST_SCREEN["height"])


def _edges(mask: np.ndarray, min_fraction: float) -> list[float]:
    """Vertical centres of the horizontal lines in a boolean image ``mask`` (rows where at
    least ``min_fraction`` of the pixels are set), as fractions of the page height."""
    rows = np.flatnonzero(mask.mean(axis=1) >= min_fraction)
    if len(rows) == 0:
        return []
    groups = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    return [float(g.mean()) / mask.shape[0] for g in groups]


def figure_pages(pdf: Path, out_dir: Path) -> list[tuple[int, int]]:
    """(page of the red top edge, page of the blue bottom edge) per figure, in print order,
    from the PDF's pages rendered by pdftoppm at 50 dpi."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(out_dir / "page")],
                   check=True, timeout=120)
    events = []
    for number, png in enumerate(sorted(out_dir.glob("page-*.png"),
                                        key=lambda p: int(p.stem.split("-")[1]))):
        rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        red = (r > 200) & (g < 70) & (b < 70)
        blue = (b > 200) & (r < 70) & (g < 70)
        events += [(number, y, "top") for y in _edges(red, 0.4)]
        events += [(number, y, "bottom") for y in _edges(blue, 0.4)]
    events.sort()
    figures, top = [], None
    for number, _, kind in events:
        if kind == "top":
            assert top is None, f"two top edges without a bottom edge: {events}"
            top = number
        else:
            assert top is not None, f"a bottom edge without a top edge: {events}"
            figures.append((top, number))
            top = None
    assert top is None
    return figures


def _print(chromium, html: Path, pdf: Path, extra_css: str) -> Path:
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = context.new_page()
        page.goto(html.resolve().as_uri(), wait_until="load")
        page.add_style_tag(content=extra_css)
        return print_open_page(page, pdf)
    finally:
        context.close()


@pytest.mark.skipif(shutil.which("pdftoppm") is None,
                    reason="pdftoppm (Debian poppler-utils; `make test` installs it) missing")
def test_printed_cohort_page_cuts_no_figure(chromium, cohort_page, tmp_path, screenshot_dir):
    _, html = cohort_page
    n_figures = len(re.findall(r'<div class="figure">', html.read_text()))
    printed = figure_pages(_print(chromium, html, tmp_path / "cohort.pdf", EDGES),
                           tmp_path / "with_rules")
    print(f"{n_figures} figures on pages (top, bottom): {printed}")
    assert len(printed) == n_figures >= 10
    cut = [f for f in printed if f[0] != f[1]]
    assert cut == [], f"figures cut across pages: {cut}"
    # the control: without the print stylesheet's break rules the same page cuts figures
    control = figure_pages(_print(chromium, html, tmp_path / "control.pdf",
                                  EDGES + NO_BREAK_RULES), tmp_path / "without_rules")
    print(f"without the break rules: {control}")
    assert len(control) == n_figures
    assert [f for f in control if f[0] != f[1]], "the check cannot fail on this page"
    shutil.copy(tmp_path / "with_rules" / "page-01.png"
                if (tmp_path / "with_rules" / "page-01.png").is_file()
                else sorted((tmp_path / "with_rules").glob("page-*.png"))[0],
                screenshot_dir / "cohort_pdf_page1.png")


def test_report_pdf_command_writes_the_printed_cohort_page(cohort_page, tmp_path):
    if browser_executable() is None:
        pytest.skip("no Chromium (Debian package chromium) or playwright; `make test` installs "
                    "both")
    run, _ = cohort_page
    out = tmp_path / "reports"
    # a process of its own: playwright's sync API runs once per process, and this session's
    # `chromium` fixture may hold it
    proc = subprocess.run([sys.executable, "-m", "plasmatrack", "report", "--results",
                           str(run.results), "--samples", str(run.samples), "--clinical",
                           str(run.clinical), "--out", str(out), "--pdf", "--patient", "P001"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert str(out / "cohort.pdf") in proc.stdout
    pdf = out / "cohort.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    assert not list(out.glob(".cohort.pdf.*"))  # the temporary file was renamed
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 3
        assert "(A4)" in info  # the stylesheet's @page size
