"""Fixtures for the web console's tests: the console built (``console/build.sh --if-stale``), a real
``aicmp serve`` (``tests/api/platform/test_serve_process.serving``) and Debian's Chromium.

Without Chromium or Node the browser tests skip with one line, or fail when
AICMP_REQUIRE_SERVERS=1 (CI: ``deploy/test.sh`` installs both from Debian).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.platform.test_serve_process import serving
from tests.console.browser import CHROMIUM, FLAGS, PASSWORD, build_console, missing_tools


def _require_or_skip(missing: list[str]) -> None:
    if not missing:
        return
    reason = f"the console's browser tests need {', '.join(missing)}"
    if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
        pytest.fail(f"{reason} (AICMP_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def console_built() -> None:
    _require_or_skip([m for m in missing_tools() if m.startswith("node")])
    build_console()


@pytest.fixture(scope="module")
def console_server(console_built: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real ``aicmp serve`` over a fresh, seeded SQLite database."""
    # no demo cloud: the walkthrough's approval goes straight to the order (no placement step to click through)
    with serving(tmp_path_factory.mktemp("console-serve"), PASSWORD, AICMP_ARGON2_PROFILE="test",
                 AICMP_DEMO_CLOUD="false") as (port, _log):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_or_skip(missing_tools())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
