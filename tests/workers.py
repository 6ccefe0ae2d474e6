"""Real ``aicmp worker`` processes for tests and benchmarks that go through RabbitMQ.

``Worker(env, log)`` starts ``python -m api.cli worker`` in its own process group (so SIGKILL
takes its pool children too); ``wait_for(check, what, workers)`` polls until ``check()`` is truthy
and fails with the workers' log tails. Shared by tests/engine/waits, tests/domains/resources,
tests/reliability and tests/bench.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 60.0


def wait_for(check: Callable[[], object], what: str, workers: Iterable[Worker] = (),
             timeout: float = WAIT_S, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    logs = "\n".join(w.tail() for w in workers)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{logs}")


class Worker:
    """One ``aicmp worker`` process group (the main process and its pool children)."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 1) -> None:
        self.log = log
        self.started = time.monotonic()
        self._out = open(log, "ab")  # noqa: SIM115 - closed by kill() or stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "--concurrency", str(concurrency)],
                                     cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.log.name} ---\n" + "\n".join(self.text().splitlines()[-lines:])

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}\n{self.tail()}")
        return " ready." in self.text()

    def children(self) -> list[int]:
        """The pids of the worker's pool processes (the ones that run operators)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    found.append(int(stat.parent.name))
        return found

    def kill_children(self) -> int:
        """SIGKILL the pool processes only: the main process sees them lost, hands their messages
        back to the broker and forks new ones. Returns how many were killed."""
        pids = self.children()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def kill(self) -> None:
        """SIGKILL the whole group: nothing of the worker gets to clean up."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._out.close()

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM (warm shutdown); returns how long it took to exit."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"worker did not stop within {timeout:.0f} s\n{self.tail()}") from None
        self._out.close()
        return time.monotonic() - t0
