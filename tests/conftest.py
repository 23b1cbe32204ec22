"""Fixtures shared by every test layer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "tests"))

from minicohort import write_mini_cohort  # noqa: E402
from ci_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: E402,F401
from xdist_groups import (  # noqa: E402,F401
    pytest_collection_modifyitems, pytest_configure, pytest_unconfigure,
    pytest_xdist_make_scheduler)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repo; tests that need it skip with a clear message without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (see ../shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def chromium():
    """A launched headless Chromium (playwright Browser), one per test session: playwright's
    sync API cannot be started twice in one process while the first is open."""
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    from chromium import CHROMIUM, browser_executable, launch

    if browser_executable() is None:
        pytest.skip(f"no headless browser: {CHROMIUM} (Debian package chromium) or the Python "
                    "playwright package is missing; `make test` installs both")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def mini_cohort(tmp_path) -> Path:
    """A tiny valid cohort (reference, BEDs, sheets, config, small real FASTQs) in tmp_path/cohort."""
    return write_mini_cohort(tmp_path / "cohort")
