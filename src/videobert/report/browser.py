"""Open a report in headless Chromium: count loaded images, list tables, take a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
    "--virtual-time-budget=8000",
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def render_report(html_path: str | Path, screenshot: str | Path | None = None, timeout: float = 120.0) -> dict:
    """Load ``html_path`` in headless Chromium and return what the page shows.

    Returns ``{"images_total", "images_ok", "tables": [class names], "dom": str}``, read from the
    DOM after load (the report marks ``data-images-ok`` on ``<body>``); writes a PNG screenshot of
    the page when ``screenshot`` is given.
    """
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("no chromium binary found (apt-get install chromium)")
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        base = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=timeout, check=True).stdout
        if screenshot is not None:
            shot = Path(screenshot).resolve()
            shot.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([*base, f"--screenshot={shot}", "--window-size=1280,3000", "--hide-scrollbars", url],
                           capture_output=True, text=True, timeout=timeout, check=True)
    total = re.search(r'data-images-total="(\d+)"', dom)
    ok = re.search(r'data-images-ok="(\d+)"', dom)
    tables = re.findall(r"<table class=\"(\w+)\"", dom)
    return {
        "images_total": int(total.group(1)) if total else -1,
        "images_ok": int(ok.group(1)) if ok else -1,
        "tables": tables,
        "dom": dom,
    }
