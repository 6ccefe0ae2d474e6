"""Driving the web console in Debian's Chromium: the launch flags of docs/environment.md, a page
that records every console error and uncaught exception, and screenshots kept as artifacts.

No ``playwright install``: Playwright drives ``/usr/bin/chromium`` (``AICMP_CHROMIUM`` to point
elsewhere), which ``deploy/test.sh`` installs from Debian (``aicmp_ensure_chromium``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"
CHROMIUM = os.environ.get("AICMP_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# Screenshots of every page the walkthrough visits: git-ignored, kept after the run (CI uploads them).
ARTIFACTS = Path(os.environ.get("AICMP_TEST_ARTIFACTS", ROOT / "tests" / "console" / "artifacts"))
VIEWPORT = {"width": 1366, "height": 800}  # a laptop screen
PASSWORD = "Console-Passw0rd!"
# what Chromium logs for a response with an error status (the test provoked it, so it may appear)
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")


def missing_tools() -> list[str]:
    """What the browser tests need and this machine lacks."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"chromium ({CHROMIUM})")
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing.append("node and npm")
    return missing


def build_console() -> None:
    """``console/build.sh --if-stale``: the same stale check as ``deploy/start.sh``."""
    done = subprocess.run(["bash", str(CONSOLE / "build.sh"), "--if-stale"], capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"console/build.sh failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@dataclass
class Watched:
    """A page and what went wrong in it: console errors, uncaught exceptions."""

    page: Any
    name: str
    errors: list[str] = field(default_factory=list)

    def unexpected(self, allowed_statuses: tuple[int, ...] = ()) -> list[str]:
        """The errors, less a failed load with one of ``allowed_statuses`` (a test's deliberate 4xx)."""
        out = []
        for error in self.errors:
            m = FAILED_LOAD.search(error)
            if m and int(m.group(1)) in allowed_statuses:
                continue
            out.append(error)
        return out


def watch(context: Any, name: str) -> Watched:
    page = context.new_page()
    watched = Watched(page, name)
    page.on("console", lambda msg: watched.errors.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watched.errors.append(f"uncaught: {exc}"))
    return watched


def shot(page: Any, folder: str, name: str) -> Path:
    path = ARTIFACTS / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
