"""``deploy/stack.sh`` for real: start brings up PostgreSQL, RabbitMQ, the API under gunicorn and
the workers (status says so, the API answers, the workers are connected); stop takes all of it
down again and leaves no process behind. Private ports and directory, so it never meets a stack
someone runs on this machine."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers
from tests.reliability.harness import skip_or_fail
from tests.workers import ROOT

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

SCRIPT = ROOT / "deploy" / "stack.sh"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _run(cmd: str, env: dict[str, str], timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), cmd], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def _pids(run: Path) -> list[int]:
    return [int(p.read_text()) for p in run.glob("*.pid")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.fixture
def stack_dir() -> Iterator[Path]:
    """Short (PostgreSQL's socket path) and reachable by the postgres user when we run as root."""
    if not (servers.postgres_installed() and servers.rabbitmq_installed()):
        skip_or_fail("PostgreSQL or RabbitMQ is not installed")
    base = Path(tempfile.mkdtemp(prefix="aicmp-stack-"))
    base.chmod(0o755)
    try:
        yield base / "stack"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_stack_starts_serves_and_stops(stack_dir: Path) -> None:
    api, pg, amqp, epmd, dist = _free_ports(5)
    env = {**os.environ, "AICMP_STACK_DIR": str(stack_dir), "AICMP_STACK_PORT": str(api),
           "AICMP_STACK_PG_PORT": str(pg), "AICMP_STACK_AMQP_PORT": str(amqp), "AICMP_STACK_EPMD_PORT": str(epmd),
           "AICMP_STACK_DIST_PORT": str(dist), "AICMP_STACK_API_WORKERS": "1", "AICMP_STACK_WORKERS": "2",
           "AICMP_STACK_CONCURRENCY": "1", "AICMP_ARGON2_PROFILE": "test"}
    for var in ("AICMP_DATABASE_URL", "AICMP_BROKER_URL", "AICMP_VAR_DIR", "AICMP_CREDENTIALS_KEY"):
        env.pop(var, None)  # the stack's own env file names them
    run = stack_dir / "run"
    try:
        started = _run("start", env)
        assert started.returncode == 0, started.stdout + started.stderr
        lines = started.stdout.splitlines()
        assert [line.split()[:2] for line in lines] == [["postgres", "running"], ["rabbitmq", "running"],
                                                        ["api", "running"], ["worker-1", "running"],
                                                        ["worker-2", "running"]], started.stdout
        with urllib.request.urlopen(f"http://127.0.0.1:{api}/api/openapi.json", timeout=10) as answer:
            assert answer.status == 200
        logs = stack_dir / "logs"
        for n in (1, 2):
            assert f"Connected to amqp://guest:**@127.0.0.1:{amqp}//" in (logs / f"worker-{n}.log").read_text()
        secrets = (stack_dir / "env")
        assert oct(secrets.stat().st_mode & 0o777) == "0o600" and "AICMP_CREDENTIALS_KEY=" in secrets.read_text()
        assert _run("status", env).returncode == 0
        pids = _pids(run)
        assert len(pids) == 5  # epmd, rabbitmq, api, two workers (PostgreSQL keeps its own pid file)
    finally:
        stopped = _run("stop", env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    after = _run("status", env)
    assert after.returncode == 1 and "running" not in after.stdout, after.stdout
    assert [p for p in pids if _alive(p)] == []
