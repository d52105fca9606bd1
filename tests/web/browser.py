"""Chromium from Debian's packages driven by Playwright for Python (Playwright's own browser download
cannot work here). `chromium_path()` says why a browser test cannot run, loudly."""
from __future__ import annotations

import os
import shutil

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """The browser binary, or '' when none is installed."""
    for name in (os.environ.get("STEPAUDIO_TEST_CHROMIUM", ""), "chromium", "chromium-browser"):
        found = shutil.which(name) if name else None
        if found:
            return found
    return ""


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
