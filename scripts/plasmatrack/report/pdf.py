"""The cohort page as a PDF (``plasmatrack report --pdf``): printed by headless Chromium under the
page's print stylesheet (navigation hidden, a figure never cut across pages, every table row).

Chromium is driven through Python playwright when it is installed (it waits until every plot has
drawn and re-lays the figures out at the printed width), else through Chromium's own
``--print-to-pdf``. No browser is ever downloaded: without a Chromium binary the command stops
with a message naming the Debian package. The PDF is written atomically.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import InputError

# As root Chromium needs --no-sandbox; the rest keep it from reaching for the network.
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# A4 minus the stylesheet's 12 mm margins, in CSS px (96 per inch): the printed page's width.
PRINT_WIDTH_PX = round((210 - 2 * 12) / 25.4 * 96)
TIMEOUT_MS = 120_000
NEEDS_CHROMIUM = ("plasmatrack report --pdf needs Chromium to print the cohort page, and none "
                  "was found ({where}). Install the Debian package chromium "
                  "(apt-get install chromium) or set PLASMATRACK_CHROMIUM to a Chromium or "
                  "Chrome binary. The HTML pages were written.")
_DRAWN = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
                  .every(d => d.querySelector('.main-svg') !== null && d._fullLayout)"""


def find_chromium() -> str | None:
    """$PLASMATRACK_CHROMIUM when set (and nothing else then), else /usr/bin/chromium or the
    first Chromium / Chrome on PATH."""
    wanted = os.environ.get("PLASMATRACK_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return next((exe for exe in map(shutil.which, CHROMIUM_NAMES) if exe), None)


def _where() -> str:
    wanted = os.environ.get("PLASMATRACK_CHROMIUM")
    return (f"PLASMATRACK_CHROMIUM={wanted} is not a file" if wanted else
            "looked for /usr/bin/chromium and " + ", ".join(CHROMIUM_NAMES) + " on PATH")


def print_open_page(page, pdf: os.PathLike | str) -> Path:
    """Print an open playwright page (already loaded) to ``pdf`` atomically: wait for the plots,
    switch to print media, lay the figures out at the printed width, print A4 with
    backgrounds. The tests call this on pages they open themselves."""
    pdf = Path(pdf)
    try:
        page.wait_for_function(_DRAWN, timeout=TIMEOUT_MS)
    except Exception:  # a figure that never draws still prints as what it shows
        pass
    page.emulate_media(media="print")
    page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
    page.evaluate("""() => Promise.all(Array.from(document.querySelectorAll('.plotly-graph-div'))
                       .map(d => window.Plotly.Plots.resize(d)))""")
    with _atomic_path(pdf) as tmp:
        page.pdf(path=str(tmp), prefer_css_page_size=True, print_background=True)
    return pdf


class _atomic_path:
    """A temporary path beside ``target``, renamed onto it when the block succeeds."""

    def __init__(self, target: Path):
        self.target = target

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp",
                                    dir=self.target.parent)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, *_):
        if exc_type is None and self.tmp.stat().st_size > 0:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary name only
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)
            if exc_type is None:
                raise InputError(f"{self.target}: Chromium wrote an empty PDF")
        return False


def write_pdf(html: os.PathLike | str, pdf: os.PathLike | str) -> Path:
    """Print the page ``html`` to ``pdf`` with headless Chromium (see the module docstring).
    Raises InputError saying Chromium is needed when there is none."""
    exe = find_chromium()
    if exe is None:
        raise InputError(NEEDS_CHROMIUM.format(where=_where()))
    html, pdf = Path(html).resolve(), Path(pdf)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return _print_with_cli(exe, html, pdf)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": PRINT_WIDTH_PX, "height": 1000})
            page.goto(html.as_uri(), wait_until="load", timeout=TIMEOUT_MS)
            return print_open_page(page, pdf)
        finally:
            browser.close()


def _print_with_cli(exe: str, html: Path, pdf: Path) -> Path:
    """Chromium's own print-to-PDF (no playwright): the virtual-time budget lets the plots draw
    before printing."""
    with _atomic_path(pdf) as tmp:
        proc = subprocess.run(
            [exe, *CHROMIUM_ARGS, f"--window-size={PRINT_WIDTH_PX},1000",
             "--virtual-time-budget=30000", "--no-pdf-header-footer",
             f"--print-to-pdf={tmp}", html.as_uri()],
            capture_output=True, text=True, timeout=TIMEOUT_MS / 1000, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise InputError(f"{html}: Chromium could not print the page (exit "
                             f"{proc.returncode}): {proc.stderr.strip()[-400:]}")
    return pdf
