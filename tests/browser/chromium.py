"""Rendering report pages in the system's headless Chromium (/usr/bin/chromium) through Python
playwright, for the browser tests and the report benchmark. Never downloads a browser."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

# The Chromium flags (no sandbox as root, no network) are those of the report's own printing
# (plasmatrack report --pdf): one list.
from plasmatrack.report.pdf import CHROMIUM_ARGS

CHROMIUM = os.environ.get("PLASMATRACK_CHROMIUM", "/usr/bin/chromium")


@dataclass
class Rendered:
    path: Path
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    n_plots: int = 0
    n_drawn: int = 0
    titles: list[str] = field(default_factory=list)
    undrawn: list[str] = field(default_factory=list)
    seconds: float = 0.0
    screenshot: Path | None = None
    page: object = None  # the open playwright page when keep_open=True (caller closes context)
    context: object = None


def browser_executable() -> str | None:
    exe = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if exe is None:
        return None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    return exe


def launch(playwright):
    """Launch the system Chromium headless (playwright gives it a fresh temporary profile)."""
    return playwright.chromium.launch(executable_path=browser_executable(), args=CHROMIUM_ARGS)


def render_page(browser, path: Path, screenshot: Path | None = None,
                width: int = 1300, timeout_ms: int = 60_000, keep_open: bool = False,
                full_page: bool = True) -> Rendered:
    """Open ``path`` (file://), wait until every plot container has drawn (or the timeout),
    and collect console errors, uncaught exceptions and failed requests."""
    out = Rendered(path=path)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: out.console_errors.append(m.text) if m.type == "error"
            else None)
    page.on("pageerror", lambda e: out.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: out.failed_requests.append(r.url))
    page.on("dialog", lambda d: (out.dialogs.append(d.message), d.dismiss()))
    start = time.perf_counter()
    page.goto(Path(path).resolve().as_uri(), wait_until="load", timeout=timeout_ms)
    try:
        page.wait_for_function(
            """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
                     .every(d => d.querySelector('.main-svg') !== null && d._fullLayout)""",
            timeout=timeout_ms)
    except Exception:  # reported below as undrawn plots
        pass
    out.seconds = time.perf_counter() - start
    state = page.evaluate(
        """() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => ({
               id: d.id,
               drawn: d.querySelector('.main-svg') !== null && !!d._fullLayout,
               marks: d.querySelectorAll('.scatterlayer .trace, .barlayer .trace, '
                                         + '.boxlayer .trace, .heatmaplayer .hm').length,
               title: (d.querySelector('.gtitle') || {}).textContent || ''}))""")
    out.n_plots = len(state)
    out.n_drawn = sum(1 for s in state if s["drawn"] and s["marks"] > 0)
    out.undrawn = [s["id"] for s in state if not (s["drawn"] and s["marks"] > 0)]
    out.titles = [s["title"] for s in state]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=full_page)
        out.screenshot = screenshot
    if keep_open:
        out.page = page
        out.context = context
    else:
        context.close()
    return out
