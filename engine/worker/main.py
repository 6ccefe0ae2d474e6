"""``aicmp worker``: a Celery worker that runs jobs, plus the periodic work a worker owes.

The worker consumes job messages from the broker (``AICMP_BROKER_URL``; it refuses to start
without one: the embedded default runs jobs in the sending process). Besides that, one thread
in the main process runs every entry of ``periodic_work`` at its interval: the lost-job sweep,
and whatever else must happen on a clock. Every entry must be safe to run in many workers at
once (each claims its rows).
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

from engine.config import Settings

if TYPE_CHECKING:
    from engine.core import Engine

log = logging.getLogger("aicmp.worker")

SWEEP_INTERVAL_S = 5.0


@dataclass(frozen=True)
class Periodic:
    """Call ``run`` every ``interval_s`` seconds (first call one interval after start)."""

    name: str
    interval_s: float
    run: Callable[[], object]


def periodic_work(engine: Engine) -> list[Periodic]:
    """Everything done on a clock, one line each; the same list serves ``aicmp worker`` and an
    embedded server (``PeriodicRunner(periodic_work(engine)).start()``)."""
    jobs = engine.jobs
    # with a broker, retries travel as countdown messages and the sweep only finds lost ones;
    # embedded (eager) it is also what runs retries once their backoff has passed
    lost_after = 0 if jobs.sender is not None and jobs.sender.eager else engine.settings.job_lost_after_s
    return [
        Periodic("jobs-sweep", SWEEP_INTERVAL_S, lambda: jobs.requeue_lost_jobs(lost_after)),
        # periodic work of other modules: add one line here, e.g. the timer ticker
        # Periodic("timers", 1.0, lambda: timers.fire_due_timers(engine, worker_id())),
    ]


def worker_id() -> str:
    return f"worker@{socket.gethostname()}:{os.getpid()}"[:100]


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


def run_worker(*, concurrency: int | None = None, queues: Sequence[str] = (), pool: str = "prefork",
               loglevel: str = "INFO", settings: Settings | None = None) -> int:
    """Run until stopped (SIGTERM/SIGINT: finish running jobs, then exit). Returns an exit code."""
    settings = settings or Settings()
    if not settings.broker_url:
        raise SystemExit("aicmp worker needs a message broker: set AICMP_BROKER_URL (e.g. "
                         "amqp://user:password@rabbitmq:5672//). Without one, jobs run in the API process.")
    if logging.getLevelName(loglevel.upper()) != logging.DEBUG:
        logging.getLogger("spiff").setLevel(logging.WARNING)  # a line per task state change otherwise
    from celery import signals

    from engine.core import Engine

    engine = Engine(settings)
    runner = PeriodicRunner(periodic_work(engine))

    def _fresh_connections(**_kw: object) -> None:
        engine.db.engine.dispose(close=False)  # a forked child must not share the parent's sockets

    def _start_periodic(**_kw: object) -> None:
        runner.start()  # after the pool forked its children: they never inherit the thread

    signals.worker_process_init.connect(_fresh_connections, weak=False)
    signals.worker_ready.connect(_start_periodic, weak=False)
    argv = ["worker", f"--loglevel={loglevel}", f"--pool={pool}", f"--hostname=aicmp-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    argv.append(f"--queues={','.join(queues) if queues else settings.job_queue}")
    try:
        engine.jobs.app.worker_main(argv)
    finally:
        runner.stop()
        engine.close()
    return 0
