"""Work done on a clock, in one daemon thread: the lost-job sweep, firing due timers, hourly
housekeeping and audit checkpoints.

``aicmp worker`` runs it beside its Celery consumer; ``aicmp serve`` runs it when no broker is
configured (the embedded default). Every entry must be safe to run in many processes at once
(each claims its rows), so any number of workers and servers may share one database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger("aicmp.periodic")

SWEEP_INTERVAL_S = 5.0
TIMER_INTERVAL_S = 1.0
EXPIRE_INTERVAL_S = 3600.0
AUDIT_CHECKPOINT_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class Periodic:
    """Call ``run`` every ``interval_s`` seconds (first call one interval after start)."""

    name: str
    interval_s: float
    run: Callable[[], object]


def periodic_work(engine: Engine) -> list[Periodic]:
    """Everything done on a clock, one line each; the same list serves ``aicmp worker`` and an
    embedded server (``PeriodicRunner(periodic_work(engine)).start()``)."""
    from engine import audit
    from engine.maintenance import expire_records
    from engine.timers import drain_due_timers

    jobs = engine.jobs
    # with a broker, retries travel as countdown messages and the sweep only finds lost ones;
    # embedded (eager) it is also what runs retries once their backoff has passed
    lost_after = 0 if jobs.sender is not None and jobs.sender.eager else engine.settings.job_lost_after_s
    return [
        Periodic("jobs-sweep", SWEEP_INTERVAL_S, lambda: jobs.requeue_lost_jobs(lost_after)),
        Periodic("timers", TIMER_INTERVAL_S, lambda: drain_due_timers(engine, worker_id())),
        Periodic("expire-records", EXPIRE_INTERVAL_S, lambda: expire_records(engine)),
        Periodic("audit-checkpoint", AUDIT_CHECKPOINT_INTERVAL_S, lambda: audit.checkpoint(engine.db)),
        *engine.periodic,  # what the installed domains added (their install registers them)
    ]


def worker_id(role: str = "worker") -> str:
    """Who claimed a row (timers record it): role, host and process."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"[:100]


class PeriodicRunner:
    """One daemon thread running each ``Periodic`` at its interval; a failing run is logged and
    tried again next interval, never stopping the others."""

    def __init__(self, work: Sequence[Periodic]) -> None:
        self.work = list(work)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="aicmp-periodic", daemon=True)

    def start(self) -> PeriodicRunner:
        if self.work:
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        due = {p.name: time.monotonic() + p.interval_s for p in self.work}
        while not self._stop.is_set():
            for p in self.work:
                if self._stop.is_set() or time.monotonic() < due[p.name]:
                    continue
                try:
                    p.run()
                except Exception:  # noqa: BLE001 - a database hiccup must not end the loop
                    log.exception("periodic %s failed", p.name)
                due[p.name] = time.monotonic() + p.interval_s
            self._stop.wait(max(0.05, min(due.values()) - time.monotonic()))
