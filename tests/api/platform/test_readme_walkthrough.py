"""The README's curl walkthrough, as written there, against a real ``aicmp serve``, twice in a row:
every step succeeds (``curl -f``), prints what the README's ``# ->`` line after it says (numbers,
which differ from run to run, aside), and a second run gives the same results as the first.

Needs ``bash``, ``curl`` and ``jq`` (skipped without them, or failed with AICMP_REQUIRE_SERVERS=1:
.ci/run installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.platform.test_serve_process import serving

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "Demo-Passw0rd!"  # the README's
NUMBER = re.compile(r"\b(AP|OR)\d{8}-[0-9A-F]{12}\b")


def walkthrough() -> tuple[str, list[str]]:
    """The README section's bash block, and the output it says each step prints."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## A walk through the API with curl", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    expected = [line.split("# -> ", 1)[1] for line in block.splitlines() if line.startswith("# -> ")]
    return block, expected


def normalized(lines: list[str]) -> list[str]:
    return [NUMBER.sub(lambda m: f"{m.group(1)}<number>", line) for line in lines]


def test_the_readme_walkthrough_runs_twice_with_the_same_results(tmp_path):
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        reason = f"the README walkthrough needs {', '.join(missing)}"
        if os.environ.get("AICMP_REQUIRE_SERVERS", "") not in ("", "0"):
            pytest.fail(f"{reason} (AICMP_REQUIRE_SERVERS=1)", pytrace=False)
        pytest.skip(reason)
    block, expected = walkthrough()
    assert len(expected) >= 6 and "API=http://127.0.0.1:8080/api/v1" in block
    with serving(tmp_path, PASSWORD, AICMP_ARGON2_PROFILE="test") as (port, log):
        script = "set -euo pipefail\n" + block.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        runs = []
        for attempt in (1, 2):
            done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                                  cwd=tmp_path, env=env)
            assert done.returncode == 0, (f"run {attempt} failed ({done.returncode}):\n{done.stderr}\n"
                                          f"--- output ---\n{done.stdout}")
            runs.append(normalized(done.stdout.splitlines()))
        assert runs[0] == normalized(expected), "the README's '# ->' lines do not match what the steps print"
        assert runs[1] == runs[0]
    banner = log.read_text()
    assert f"API docs:   http://127.0.0.1:{port}/api/docs" in banner
    assert "alpha-approver  approver (tenant alpha)" in banner and PASSWORD not in banner
