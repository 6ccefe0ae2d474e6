"""The console's own logic (form model, error placement, i18n, dates and money, diff, routes,
permissions) under Node's built-in test runner: ``node --test tests/console/js/``, run from here so
the README's one test command runs them too."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.console.browser import ROOT

JS_TESTS = ROOT / "tests" / "console" / "js"


def test_the_front_end_unit_tests_pass_under_node():
    if shutil.which("node") is None:
        if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
            pytest.fail("node is needed for the console's unit tests (AICMP_REQUIRE_SERVERS=1)", pytrace=False)
        pytest.skip("node is needed for the console's unit tests")
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert len(files) >= 5
    done = subprocess.run(["node", "--test", *files], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, f"node --test failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
