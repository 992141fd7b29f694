"""Driving the web app in a real browser (the browser test and scripts/ui_screenshots.py).

The system chromium (Debian package) is used through Playwright's `executable_path`; nothing here ever
runs `playwright install` or downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

# Headless, no GPU, and no calls home (component updates, sync, background networking).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """$PIRENDER_CHROMIUM, else `chromium` on PATH, else /usr/bin/chromium; None when there is none."""
    for candidate in (os.environ.get("PIRENDER_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def preview_src(page: Any) -> str | None:
    """The `src` of the Edit tab's preview image, None while there is none (page: a Playwright Page)."""
    image = page.locator("#edit-preview img")
    return image.first.get_attribute("src") if image.count() else None


def wait_for_new_preview(page: Any, old: str | None, timeout_ms: float | None = None) -> str:
    """Wait until the preview shows a loaded image whose `src` differs from `old`; return the new src."""
    page.wait_for_function(
        "old => { const img = document.querySelector('#edit-preview img');"
        " return img && img.complete && img.naturalWidth > 0 && img.getAttribute('src') !== old; }",
        arg=old,
        timeout=timeout_ms,
    )
    src = preview_src(page)
    if src is None:
        raise RuntimeError("the preview image disappeared")
    return src
