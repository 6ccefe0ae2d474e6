"""Web console benchmark: its bundle sizes and how long its pages take to load in Chromium.

    .venv/bin/python -m tests.bench.bench_console [--runs 5]

Builds the console when stale (console/build.sh --if-stale), prints the bundle sizes
(console/dist/sizes.json: raw and gzipped), starts a real ``aicmp serve`` over a fresh SQLite
database (tests.api.platform.test_serve_process.serving) and, in Debian's Chromium with the
test flags, times each page from navigation to its content on screen, cold (a new browser
context: nothing cached) and warm (the same context again), median of ``--runs``. The baseline,
measured in the same run, is the API's own Swagger UI page (/api/docs, served from a pinned
package by the same server); each figure is also given as a ratio of it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.api.platform.test_serve_process import serving
from tests.console.browser import CHROMIUM, CONSOLE, FLAGS, PASSWORD, VIEWPORT, build_console

KiB = 1024


def sizes() -> dict[str, Any]:
    return json.loads((CONSOLE / "dist" / "sizes.json").read_text())


def print_sizes(report: dict[str, Any]) -> None:
    print("bundle (console/dist, minified)           raw        gzipped")
    first, js, total = report["first_load"], report["total_js"], report["total"]
    print(f"  first load (index + app JS + CSS)  {first['raw'] / KiB:8.1f} KiB {first['gzip'] / KiB:8.1f} KiB")
    print(f"  all JavaScript (bpmn-js lazy)      {js['raw'] / KiB:8.1f} KiB {js['gzip'] / KiB:8.1f} KiB")
    print(f"  everything (fonts included)        {total['raw'] / KiB:8.1f} KiB {total['gzip'] / KiB:8.1f} KiB")
    largest = sorted(report["files"].items(), key=lambda kv: -kv[1]["raw"])[:3]
    for name, size in largest:
        print(f"    {name:<34} {size['raw'] / KiB:8.1f} KiB {size['gzip'] / KiB:8.1f} KiB")


def timed(page: Any, url: str, ready: str) -> float:
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(ready, timeout=60_000)
    return (time.perf_counter() - t0) * 1000


def logged_in(context: Any, base: str, username: str) -> Any:
    page = context.new_page()
    page.goto(f"{base}/console/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#logout")
    return page


def measure(browser: Any, runs: int, user: str | None, url: str, ready: str) -> tuple[float, float]:
    """Median cold and warm milliseconds from navigation to ``ready``: cold in a fresh context (after
    the login, if any, with the HTTP cache emptied), warm right after, from the cache."""
    cold, warm = [], []
    for _ in range(runs):
        context = browser.new_context(viewport=VIEWPORT)
        if user:
            page = logged_in(context, url.split("/console/")[0], user)
            context.new_cdp_session(page).send("Network.clearBrowserCache")
            page.goto("about:blank")
        else:
            page = context.new_page()
        cold.append(timed(page, url, ready))
        page.goto("about:blank")
        warm.append(timed(page, url, ready))
        context.close()
    return statistics.median(cold), statistics.median(warm)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    build_console()
    print_sizes(sizes())
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, serving(Path(tmp), PASSWORD, AICMP_ARGON2_PROFILE="test") as (port, _):
        base = f"http://127.0.0.1:{port}"
        pages: list[tuple[str, str | None, str, str]] = [
            ("baseline: /api/docs (Swagger UI)", None, f"{base}/api/docs", ".swagger-ui .info"),
            ("login page", None, f"{base}/console/", "form.login"),
            ("catalog (tenant user)", "alpha-user", f"{base}/console/#/catalog", "[data-product]"),
            ("applications (tenant user)", "alpha-user", f"{base}/console/#/applications", "main h1"),
            ("task inbox (approver)", "alpha-approver", f"{base}/console/#/inbox", "#task-list"),
            ("process monitor (operator)", "operator", f"{base}/console/#/monitor", "main h1"),
            ("designer + bpmn-js modeler (designer)", "designer", f"{base}/console/#/designer/application/1",
             ".djs-element[data-element-id]"),
        ]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            results: list[tuple[str, float, float]] = []
            for name, user, url, ready in pages:
                cold, warm = measure(browser, args.runs, user, url, ready)
                results.append((name, cold, warm))
            browser.close()
    base_cold, base_warm = results[0][1], results[0][2]
    ratio: Callable[[float, float], str] = lambda v, b: f"{v / b:5.2f}x"  # noqa: E731
    print(f"\npage load, median of {args.runs} (ms; ratio to the baseline)   cold            warm")
    for name, cold, warm in results:
        print(f"  {name:<40} {cold:7.0f} {ratio(cold, base_cold)}  {warm:7.0f} {ratio(warm, base_warm)}")


if __name__ == "__main__":
    main()
