"""Headless Chromium for the report tests: the system browser (/usr/bin/chromium) driven by
Python playwright. Never downloads a browser; skips with a clear message only when none is
installed (``make test`` installs Debian's chromium). Screenshots go to $PLASMATRACK_SCREENSHOTS
when set, else to pytest's temporary folder (the path is printed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))



@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("PLASMATRACK_SCREENSHOTS") or
                  tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"report screenshots: {folder}")
    return folder
