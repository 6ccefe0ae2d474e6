"""HTTP plumbing for bench_http: a keep-alive JSON client that times every request, and the server process.

The client uses ``requests`` (one ``Session`` per benchmark client) when it is installed, else
``http.client`` with one persistent connection. ``serve`` runs the real ``aicmp serve`` (gunicorn)
as a subprocess in its own process group and always stops all of it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import requests
except ImportError:  # pragma: no cover - the venv has it; the fallback keeps the benchmark standalone
    requests = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 60.0


@dataclass
class Answer:
    status: int
    body: Any  # the decoded JSON, or the text when it is not JSON
    ms: float


class Client:
    """JSON over one keep-alive connection; ``call`` returns the status, the body and the latency."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session() if requests is not None else None
        self._conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, *, json_body: Any = None, token: str | None = None) -> Answer:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if self._session is not None:
            t0 = time.perf_counter()
            resp = self._session.request(method, self.base_url + path, json=json_body, headers=headers,
                                         timeout=REQUEST_TIMEOUT_S)
            raw, status = resp.content, resp.status_code
        else:
            t0 = time.perf_counter()
            status, raw = self._plain(method, path, json_body, headers)
        ms = (time.perf_counter() - t0) * 1000
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        return Answer(status, body, ms)

    def _plain(self, method: str, path: str, json_body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers = {**headers, "Content-Type": "application/json"}
        for attempt in (1, 2):  # a keep-alive connection the server closed is reopened once
            if self._conn is None:
                host = self.base_url.split("://", 1)[1]
                self._conn = http.client.HTTPConnection(host, timeout=REQUEST_TIMEOUT_S)
            try:
                self._conn.request(method, path, body=data, headers=headers)
                resp = self._conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        if self._conn is not None:
            self._conn.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    host, port = url.split("://", 1)[1].split(":")
    try:
        conn = http.client.HTTPConnection(host, int(port), timeout=2)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (gunicorn stops its workers gracefully), then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _log_tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def serve(*, database_url: str, var_dir: Path, password: str, jwt_secret: str, workers: int,
          log: Path) -> Iterator[str]:
    """Run ``python -m api.cli serve`` until the block ends; yields its base URL once /healthz answers."""
    port = free_port()
    env = {**os.environ, "AICMP_DATABASE_URL": database_url, "AICMP_VAR_DIR": str(var_dir),
           "AICMP_DEMO_PASSWORD": password, "AICMP_JWT_SECRET": jwt_secret, "AICMP_ARGON2_PROFILE": "standard"}
    env.pop("AICMP_BROKER_URL", None)  # embedded: no worker, the server runs the periodic work itself
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port),
                                 "--workers", str(workers)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode} during start\n{_log_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /healthz within {READY_TIMEOUT_S:.0f} s\n"
                                   f"{_log_tail(log)}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(proc)
