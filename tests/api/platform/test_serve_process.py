"""A real ``aicmp serve`` (gunicorn, its own process, a fresh SQLite file): it migrates and seeds,
answers /healthz, and a demo user logs in over HTTP and reads /api/v1/auth/me."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "Serve-Test-Passw0rd"
STARTUP_S = 90  # migrate + seed (standard argon2 for 8 users) + gunicorn boot on a busy 2-core box


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"aicmp serve exited with {proc.returncode}")
        try:
            if call(f"{base}/healthz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"aicmp serve did not answer /healthz within {STARTUP_S} s")


@contextmanager
def serving(tmp_path: Path, password: str, **settings: str) -> Iterator[tuple[int, Path]]:
    """A real ``aicmp serve`` on a free port over a fresh SQLite file, healthy; yields (port, its log)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICMP_")}
    env.update(AICMP_DATABASE_URL=f"sqlite:///{tmp_path / 'aicmp.db'}", AICMP_DEMO_PASSWORD=password,
               AICMP_VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT), **settings)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            try:
                wait_healthy(f"http://127.0.0.1:{port}", proc)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n--- server output ---\n{log.read_text()[-4000:]}") from None
            yield port, log
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def test_serve_seeds_and_a_demo_user_logs_in_over_http(tmp_path):
    with serving(tmp_path, PASSWORD) as (port, log):
        base = f"http://127.0.0.1:{port}"
        wrong = {"username": "alpha-user", "password": "Wrong-Passw0rd!"}
        assert call(f"{base}/api/v1/auth/login", wrong)[0] == 401
        status, tokens = call(f"{base}/api/v1/auth/login",  # how fast: tests/bench/bench_http.py
                              {"username": "alpha-user", "password": PASSWORD, "tenant": "alpha"})
        assert status == 200, tokens
        status, me = call(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert status == 200, me
        assert me["user"]["username"] == "alpha-user" and me["tenant"]["code"] == "alpha"
        assert me["roles"] == ["tenant_user"]
        assert PASSWORD not in log.read_text()  # a chosen password is never echoed
