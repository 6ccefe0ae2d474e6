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
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.config import Settings
from engine.periodic import PeriodicRunner, periodic_work

if TYPE_CHECKING:
    pass

log = logging.getLogger("aicmp.worker")

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
    from celery.exceptions import CPendingDeprecationWarning

    # runs under way outlive a lost broker connection on purpose (engine.worker.celery_app)
    warnings.filterwarnings("ignore", message=r"\s*In Celery 5.1 we introduced", category=CPendingDeprecationWarning)

    from engine.core import assemble

    engine = assemble(settings)
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
