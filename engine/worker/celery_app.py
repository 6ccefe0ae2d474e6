"""The Celery side of jobs: one app per engine, one task that runs a job attempt.

Without a broker (the embedded default) the app is eager: a job runs in the sending process,
right after the commit that queued it. With ``AICMP_BROKER_URL`` (RabbitMQ) messages go to a
durable queue, persistent, with publisher confirms; workers take one at a time (prefetch 1) and
acknowledge only after the attempt finished (``acks_late``), and a message whose worker process
died is handed back to the broker (``reject_on_worker_lost``), so a killed worker loses nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery
from kombu import Exchange, Queue

from engine.config import Settings
from engine.jobs import Jobs, import_operator_modules

if TYPE_CHECKING:
    from engine.kernel import Kernel

RUN_JOB = "aicmp.jobs.run"


def make_app(settings: Settings) -> Celery:
    queue = settings.job_queue
    app = Celery("aicmp", set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        enable_utc=True,
        timezone="UTC",
        task_default_queue=queue,
        task_default_exchange=queue,
        task_default_routing_key=queue,
        task_queues=(Queue(queue, Exchange(queue, type="direct", durable=True), routing_key=queue, durable=True),),
        task_default_delivery_mode="persistent",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # a lost broker connection requeues unacked messages, and the runs under way finish: their
        # outcome is applied once, and the redelivered copy finds its job moved on. Cancelling them
        # instead would stop each one by a signal at any line, mid-statement or mid-rollback.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"confirm_publish": True},
        worker_hijack_root_logger=False,
    )
    if settings.broker_url:
        app.conf.broker_url = settings.broker_url
    else:
        app.conf.update(broker_url="memory://localhost//", task_always_eager=True, task_eager_propagates=False)
    return app


class CelerySender:
    """``Jobs.sender`` over a Celery task."""

    def __init__(self, app: Celery, task: Any) -> None:
        self.app = app
        self.task = task
        self.eager = bool(app.conf.task_always_eager)

    def send(self, job_id: str, attempt: int, *, countdown: float, soft_time_limit: float | None) -> None:
        options: dict[str, Any] = {}
        if countdown > 0:
            options["countdown"] = countdown
        if soft_time_limit:
            options["soft_time_limit"] = soft_time_limit
        self.task.apply_async((job_id, attempt), **options)


def attach(jobs: Jobs, settings: Settings) -> Celery:
    """Make the app, register the job task on it (bound to this ``jobs``), and make it the sender."""
    app = make_app(settings)

    @app.task(name=RUN_JOB, bind=True, shared=False, ignore_result=True)
    def run_job(self: Any, job_id: str, attempt: int) -> str:
        info = self.request.delivery_info or {}
        return jobs.run(job_id, attempt, redelivered=bool(info.get("redelivered")))

    jobs.sender = CelerySender(app, run_job)
    jobs.app = app
    return app


def install(engine: Kernel) -> Jobs:
    """Give ``engine`` its job service: the save hook, and a Celery app that sends and runs jobs."""
    import_operator_modules(engine.settings.operator_modules)
    jobs = Jobs(engine.db, engine.runtime, engine.operators, engine.ports)  # operators reach the ports
    attach(jobs, engine.settings)
    engine.runtime.save_hooks.append(jobs.save_hook)
    return jobs
