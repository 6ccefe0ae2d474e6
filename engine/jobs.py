"""Asynchronous operator calls: one ``jobs`` row per call, sent after commit, run, then applied.

A job's life (the BPMN task stays STARTED meanwhile)::

    queued, attempt 1 --(operator runs in a worker, outside any transaction)-->
        result         -> applied under the instance lock: result variable set, task completed -> done
        OperatorError  -> attempts left: attempt+1, due again in backoff_base**attempt s -> queued
                          none left:     BPMN error (boundary event, else incident)      -> failed
        other error    -> incident                                                       -> failed
    the task left STARTED first (timer, boundary event, cancel)                          -> stale

Delivery is at least once: a message can arrive twice or late, so applying re-checks status,
attempt and task state under the instance lock and a result lands exactly once. An operator can
still be called twice for one attempt (its worker died after the call), so operators must be safe
to repeat.

An operator runs for its instance as a step's operator does: with the instance's scope
(``running_for``) and, when the engine gave ``Jobs`` its port registry, the platform ports. Those
are ``engine.ports.StandalonePorts``: the job holds no transaction while the operator waits on a
cloud, so each port call is its own short transaction, committed when the call returns (one more
reason an operator must be safe to repeat).

``next_attempt_at`` is when the recovery sweep may send a queued job again: set to now when it is
sent, to now + a lease while a runner holds it, to the retry time after a failure. A runner claims
the job by moving it forward, so two copies of one message never run the operator side by side,
while a message the broker redelivered (its worker died) may take the job over at once.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol
from uuid import UUID

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.orm import Session

from engine import clock
from engine.db import Database
from engine.errors import Conflict
from engine.models import Incident, Job, ProcessInstance
from engine.models.base import new_id
from engine.ports import PortRegistry, StandalonePorts
from engine.runtime.instances import Loaded, Runtime
from engine.runtime.services import IncidentNote, InstanceScope, OperatorFailure, running_for, to_json_value
from engine.runtime.steps import advance
from engine.spiff.specs import CamundaServiceTask, OperatorServiceTask
from tasks import ports as task_ports
from tasks.ports import Refused
from tasks.registry import OperatorError, OperatorRegistry

log = logging.getLogger("aicmp.jobs")

DEFAULT_LEASE_S = 15 * 60  # how long a runner holds a job before the sweep may assume it died
LEASE_MARGIN_S = 60  # added to an operator's own timeout_s to make its lease
CLAIM_SLACK_S = 5  # a retry message may arrive this much before its due time (clock skew)
PARK_S = 30  # a result for a suspended instance is tried again after this
MAX_BACKOFF_S = 24 * 3600
MAX_COUNTDOWN_S = 10 * 60  # longer delays are left to the sweep: a broker holds ETA messages unacked

class DatabaseFailed(Exception):  # noqa: N818 - names the situation, raised from the SQLAlchemy error
    """The platform's database failed under a port call: no outcome, the job runs again."""


def database_failed(exc: BaseException) -> bool:
    """The connection broke (a lost server, a restart, a signal mid-statement) or SQLite was busy:
    not the operator's fault, and gone on the next try. A statement the database refuses every
    time (too many variables, say) is not this: it stays an incident, or a job would loop."""
    if isinstance(exc, PendingRollbackError):
        return True
    return isinstance(exc, DBAPIError) and (exc.connection_invalidated or "database is locked" in str(exc.orig))

Kind = Literal["result", "operator-error", "exception", "operator-missing"]


# -- JSON for params and results (Decimal and dates stay exact) -------------------------------

def encode(value: Any) -> Any:
    """``value`` as JSON; Decimal, date and datetime become tagged objects. Raises TypeError."""
    if isinstance(value, bool | int | float | str | None):
        return value
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a dict with non-string keys is not JSON")
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    raise TypeError(f"a {type(value).__name__} is not JSON")


_DECODERS = {"$decimal": Decimal, "$datetime": datetime.fromisoformat, "$date": date.fromisoformat}


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, raw), = value.items()
            if tag in _DECODERS and isinstance(raw, str):
                return _DECODERS[tag](raw)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Best-effort JSON for error details, which only people read."""
    try:
        return encode(value)
    except TypeError:
        return repr(value)


# -- outcomes ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What one operator call came to; kept on the job row when it cannot be applied yet."""

    kind: Kind
    value: Any = None
    code: str | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": encode(self.value), "code": self.code, "message": self.message,
                "details": _plain(self.details)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        return cls(data["kind"], decode(data.get("value")), data.get("code"), data.get("message", ""),
                   data.get("details") or {})

    def error_json(self, attempt: int) -> dict[str, Any]:
        return {"kind": self.kind, "code": self.code, "message": self.message[:4000],
                "details": _plain(self.details), "attempt": attempt}


def call_operator(operators: OperatorRegistry, name: str, params: dict[str, Any]) -> Outcome:
    """Run one operator and classify what happened; never raises for the operator's faults."""
    op = operators.get(name)
    if op is None:
        return Outcome("operator-missing", message=f"operator {name!r} is not registered in this worker")
    try:
        value = to_json_value(op(**params))
    except OperatorError as exc:
        return Outcome("operator-error", code=exc.code, message=exc.message, details=exc.details)
    except Refused as exc:  # a port's refusal is the BPMN error its code names, as in a step
        return Outcome("operator-error", code=exc.code, message=exc.message)
    except Exception as exc:  # noqa: BLE001 - an operator bug becomes an incident, not a crash
        if database_failed(exc):
            raise DatabaseFailed(str(exc)) from exc
        return Outcome("exception", message=f"{type(exc).__name__}: {exc}")
    return Outcome("result", value=value)


class Sender(Protocol):
    """Puts a job message on its way (Celery). ``eager``: it runs in this process, at once."""

    eager: bool

    def send(self, job_id: str, attempt: int, *, countdown: float, soft_time_limit: float | None) -> None: ...


class _Skip(Exception):  # noqa: N818 - control flow: leave a mutation without saving
    def __init__(self, verdict: str, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.verdict, self.reason, self.stale = verdict, reason, stale


@dataclass(frozen=True)
class _JobView:
    """The fields of a job row the runner needs, read in a short session."""

    id: str
    instance_id: str
    tenant_id: str
    task_guid: str
    operator: str
    params: dict[str, Any]
    status: str
    attempt: int
    max_attempts: int
    backoff_base_s: int
    result: dict[str, Any] | None
    process_key: str  # the instance's, for its scope (Runtime._host builds it from the same row)
    initiator: str | None
    business_key: str | None

    @classmethod
    def of(cls, row: Job, instance: ProcessInstance) -> _JobView:
        return cls(row.id, row.instance_id, row.tenant_id, row.task_guid, row.operator, row.params or {},
                   row.status, row.attempt, row.max_attempts, row.backoff_base_s, row.result,
                   instance.process_key, instance.initiator, instance.business_key)

    @property
    def pending(self) -> Outcome | None:
        """An outcome that ran but could not be applied yet (instance suspended)."""
        if self.result and "pending" in self.result:
            return Outcome.from_json(self.result["pending"])
        return None


def _may_wait_on_a_job(task: Any) -> bool:
    """Only a service task's operator becomes a job: a call activity or a subprocess that was
    STARTED and moved on has none to mark stale (no statement for it)."""
    return isinstance(task.task_spec, OperatorServiceTask | CamundaServiceTask)


# -- the service ---------------------------------------------------------------------------------

class Jobs:
    """Job rows, dispatch and result application for one engine (database + runtime + operators)."""

    def __init__(self, db: Database, runtime: Runtime, operators: OperatorRegistry,
                 ports: PortRegistry | None = None) -> None:
        self.db = db
        self.runtime = runtime
        self.operators = operators
        self.ports = ports  # the engine's port factories; None: operators run without platform ports
        self.sender: Sender | None = None  # set by engine.worker.celery_app.attach
        self.app: Any = None  # the Celery app (a worker runs it)
        self._eager = threading.local()  # eager jobs this thread still has to run, in order

    # -- inside the transaction that reached the service task --------------------------------

    def save_hook(self, s: Session, loaded: Loaded) -> None:
        """Insert a row per job the host queued, mark jobs of tasks that left STARTED stale, and
        send the new ones after commit (never before: a worker must find the committed row)."""
        self._mark_left_tasks_stale(s, loaded)
        host_jobs, loaded.host.jobs = loaded.host.jobs, []
        now = clock.now()
        sends: list[tuple[str, str]] = []
        for job in host_jobs:
            task = job.task
            if task.state != TaskState.STARTED:  # cancelled in the same step: nothing to wait for
                continue
            spec = task.task_spec
            try:
                params = encode(job.params)
            except TypeError as exc:
                self._param_incident(s, loaded, task, job.operator, f"parameters are not JSON: {exc}")
                continue
            retries = getattr(spec, "retries", None) or 0
            base = getattr(spec, "retry_backoff_base", None)
            row = Job(id=new_id(), instance_id=loaded.row.id, tenant_id=loaded.row.tenant_id, task_guid=str(task.id),
                      task_spec=spec.bpmn_id or spec.name, operator=job.operator, params=params, status="queued",
                      attempt=1, max_attempts=1 + max(0, int(retries)),
                      backoff_base_s=2 if base is None else max(0, int(base)),
                      next_attempt_at=now, created_at=now, updated_at=now)
            s.add(row)
            sends.append((row.id, job.operator))
        if sends:
            s.flush()
            loaded.after_commit.append(lambda: self._send_all(sends))

    @staticmethod
    def _mark_left_tasks_stale(s: Session, loaded: Loaded) -> None:
        was_started = [tid for tid, state in loaded.before.items() if state == TaskState.STARTED]
        if not was_started:
            return
        tasks = {t.id: t for t in loaded.workflow.get_tasks()}
        left = [str(tid) for tid in was_started
                if (task := tasks.get(tid)) is None or (task.state != TaskState.STARTED and _may_wait_on_a_job(task))]
        if left:
            s.execute(update(Job).where(Job.instance_id == loaded.row.id, Job.status == "queued",
                                        Job.task_guid.in_(left))
                      .values(status="stale", updated_at=clock.now()).execution_options(synchronize_session=False))

    @staticmethod
    def _param_incident(s: Session, loaded: Loaded, task: Any, operator: str, message: str) -> None:
        row = loaded.row
        s.add(Incident(instance_id=row.id, tenant_id=row.tenant_id, task_guid=str(task.id),
                       task_spec=task.task_spec.bpmn_id, kind="operator-error", message=message[:4000]))
        if row.status == "running":
            row.status = "incident"

    # -- sending -------------------------------------------------------------------------------

    def _send_all(self, items: Iterable[tuple[str, str]]) -> None:
        for job_id, operator in items:
            self.dispatch(job_id, 1, operator=operator)

    def dispatch(self, job_id: str, attempt: int, delay_s: float = 0.0, operator: str | None = None) -> bool:
        """Send one job message; False when it was left to the sweep. Never raises: a job whose
        message is lost stays queued, and ``requeue_lost_jobs`` sends it again."""
        sender = self.sender
        if sender is None:
            log.error("job %s: no sender attached; left to the sweep", job_id)
            return False
        if delay_s > 0 and (sender.eager or delay_s > MAX_COUNTDOWN_S):
            log.info("job %s attempt %s: due in %.0f s, left to the sweep", job_id, attempt, delay_s)
            return False
        if sender.eager:
            self._run_eagerly(sender, job_id, attempt)
            return True
        op = self.operators.get(operator) if operator else None
        return self._send(sender, job_id, attempt, delay_s, op.timeout_s if op else None)

    @staticmethod
    def _send(sender: Sender, job_id: str, attempt: int, delay_s: float, soft_time_limit: float | None) -> bool:
        try:
            sender.send(job_id, attempt, countdown=delay_s, soft_time_limit=soft_time_limit)
        except Exception:  # noqa: BLE001 - the commit already happened; the sweep recovers the send
            log.exception("job %s attempt %s: could not be sent; the sweep will send it again", job_id, attempt)
            return False
        return True

    def _run_eagerly(self, sender: Sender, job_id: str, attempt: int) -> None:
        """Run now, in this thread; a job reached while applying another one runs after it, not
        inside it, so a long chain of async tasks does not nest ever deeper."""
        pending: deque[tuple[str, int]] | None = getattr(self._eager, "pending", None)
        if pending is not None:
            pending.append((job_id, attempt))
            return
        self._eager.pending = pending = deque([(job_id, attempt)])
        try:
            while pending:
                self._send(sender, *pending.popleft(), 0.0, None)
        finally:
            self._eager.pending = None

    def requeue_lost_jobs(self, older_than: float, *, limit: int = 200) -> list[str]:
        """Send again queued jobs due ``older_than`` seconds ago or more: their message was lost
        (the process died between commit and send, the broker lost it) or, embedded, a retry's
        backoff has passed. Safe to run in many processes at once: each job is taken by one."""
        now = clock.now()
        cutoff = now - timedelta(seconds=older_than)
        due = or_(Job.next_attempt_at.is_(None), Job.next_attempt_at <= cutoff)
        taken: list[tuple[str, int, str]] = []
        with self.db.write() as s:
            rows = s.execute(select(Job.id, Job.attempt, Job.operator).where(Job.status == "queued", due)
                             .order_by(Job.next_attempt_at).limit(limit)).all()
            for job_id, attempt, operator in rows:
                moved = s.execute(update(Job).where(Job.id == job_id, Job.status == "queued", Job.attempt == attempt,
                                                    due)
                                  .values(next_attempt_at=now).execution_options(synchronize_session=False))
                if moved.rowcount == 1:
                    taken.append((job_id, attempt, operator))
        for job_id, attempt, operator in taken:
            log.info("job %s attempt %s: sent again by the sweep", job_id, attempt)
            self.dispatch(job_id, attempt, operator=operator)
        return [job_id for job_id, _a, _o in taken]

    # -- running (what the Celery task does) ---------------------------------------------------

    def run(self, job_id: str, attempt: int, *, redelivered: bool = False) -> str:
        """Run one attempt and apply its outcome. Returns what happened (for logs and tests);
        never raises, so a broken database leaves the job queued for the sweep."""
        try:
            return self._run(job_id, attempt, redelivered)
        except Exception:  # noqa: BLE001
            log.exception("job %s attempt %s: failed unexpectedly; the sweep will send it again", job_id, attempt)
            return "error"

    def _run(self, job_id: str, attempt: int, redelivered: bool) -> str:
        job = self._read(job_id)
        if job is None or job.status != "queued" or job.attempt != attempt:
            return self._ignored(job_id, attempt, job, "message for a job that moved on")
        op = self.operators.get(job.operator)
        lease = (op.timeout_s + LEASE_MARGIN_S) if op is not None and op.timeout_s else DEFAULT_LEASE_S
        if not self._claim(job_id, attempt, lease, force=redelivered):
            log.info("job %s attempt %s: another runner holds it or it is not due; message dropped", job_id, attempt)
            return "ignored"
        if redelivered:
            log.info("job %s attempt %s: redelivered by the broker (its worker died?); taking it over", job_id, attempt)
        try:
            outcome = job.pending or self._call(job)
            return self.apply(job_id, attempt, outcome)
        except Exception as exc:
            if isinstance(exc, DatabaseFailed) or database_failed(exc):
                self._release(job_id, attempt)
            raise

    def _call(self, job: _JobView) -> Outcome:
        """Call the operator for its instance, as a step would: with the instance's scope and the
        platform ports, here standalone (each port call its own transaction; none is held now)."""
        scope = InstanceScope(job.tenant_id, job.process_key, job.initiator, job.business_key,
                              internal=job.process_key in self.runtime.internal_keys)
        params = decode(job.params)
        with running_for(scope):
            if self.ports is None:
                return call_operator(self.operators, job.operator, params)
            with task_ports.bound(StandalonePorts(self.ports, self.db)):
                return call_operator(self.operators, job.operator, params)

    def _read(self, job_id: str) -> _JobView | None:
        with self.db.read() as s:
            found = s.execute(select(Job, ProcessInstance).join(ProcessInstance, ProcessInstance.id == Job.instance_id)
                              .where(Job.id == job_id)).first()
            return _JobView.of(*found) if found is not None else None

    def _claim(self, job_id: str, attempt: int, lease_s: float, *, force: bool) -> bool:
        now = clock.now()
        q = update(Job).where(Job.id == job_id, Job.status == "queued", Job.attempt == attempt)
        if not force:
            q = q.where(or_(Job.next_attempt_at.is_(None),
                            Job.next_attempt_at <= now + timedelta(seconds=CLAIM_SLACK_S)))
        with self.db.write() as s:
            result = s.execute(q.values(next_attempt_at=now + timedelta(seconds=lease_s), updated_at=now)
                               .execution_options(synchronize_session=False))
            return result.rowcount == 1

    def _release(self, job_id: str, attempt: int) -> None:
        """Give up this runner's claim after the database failed under it, so the sweep sends the
        job again after its usual wait rather than after the whole lease; best effort, as the
        database may still be down."""
        try:
            with self.db.write() as s:
                s.execute(update(Job).where(Job.id == job_id, Job.status == "queued", Job.attempt == attempt)
                          .values(next_attempt_at=clock.now()).execution_options(synchronize_session=False))
        except Exception:  # noqa: BLE001 - the lease still ends, and the sweep sends it then
            log.warning("job %s attempt %s: claim not released; the sweep sends it when its lease ends", job_id,
                        attempt)

    @staticmethod
    def _ignored(job_id: str, attempt: int, job: _JobView | None, why: str) -> str:
        state = "unknown job" if job is None else f"job is {job.status} at attempt {job.attempt}"
        log.info("job %s attempt %s: %s (%s); ignored", job_id, attempt, why, state)
        return "ignored"

    # -- applying --------------------------------------------------------------------------------

    def apply(self, job_id: str, attempt: int, outcome: Outcome) -> str:
        """Apply one attempt's outcome to its instance, once. Returns ``done``, ``failed``,
        ``retry``, ``parked`` (instance suspended), ``stale`` or ``ignored``; never raises for a
        late, duplicate or stale outcome."""
        job = self._read(job_id)
        if job is None or job.status != "queued" or job.attempt != attempt:
            return self._ignored(job_id, attempt, job, "outcome for a job that moved on")
        if outcome.kind == "operator-error" and attempt < job.max_attempts:
            return self._retry(job, outcome)
        try:
            with self.runtime.mutation(job.instance_id, tenant_id=job.tenant_id, actor=None) as (s, loaded):
                verdict = self._apply_locked(s, loaded, job, outcome)
        except _Skip as skip:
            log.info("job %s attempt %s: %s; ignored", job_id, attempt, skip.reason)
            if skip.stale:
                self._finish(job_id, attempt, "stale")
            return skip.verdict
        except Conflict as exc:
            return self._not_applied(job, outcome, str(exc))
        log.info("job %s attempt %s: %s (%s)", job_id, attempt, verdict, job.operator)
        return verdict

    def _apply_locked(self, s: Session, loaded: Loaded, job: _JobView, outcome: Outcome) -> str:
        try:
            task = loaded.workflow.get_task_from_id(UUID(job.task_guid))
        except (ValueError, SpiffWorkflowException):
            task = None
        if task is None or task.state != TaskState.STARTED:
            raise _Skip("stale", "its task is no longer waiting for it", stale=True)
        verdict = "done" if outcome.kind == "result" else "failed"
        values: dict[str, Any] = {"status": verdict, "updated_at": clock.now()}
        if outcome.kind == "result":
            values["result"] = {"value": encode(outcome.value)}
        else:
            values["error"] = outcome.error_json(job.attempt)
            values["result"] = None
        # the row moves first and only from this attempt: a concurrent retry or duplicate loses here
        moved = s.execute(update(Job).where(Job.id == job.id, Job.status == "queued", Job.attempt == job.attempt)
                          .values(**values).execution_options(synchronize_session=False))
        if moved.rowcount != 1:
            raise _Skip("ignored", "the job moved on meanwhile")
        host, wf = loaded.host, loaded.workflow
        if outcome.kind == "result":
            task.data[task.task_spec.result_variable] = outcome.value
            try:
                task.complete()  # not run(): that would call the operator again
            except SpiffWorkflowException as exc:
                host.incidents.append(IncidentNote(task, "script-error", str(exc)))
                return verdict
            advance(wf, loaded.kind, host)
        elif outcome.kind == "operator-error":
            error = OperatorError(outcome.code or "OPERATOR_ERROR", outcome.message, outcome.details)
            host.failures.append(OperatorFailure(task, job.operator, error))
            advance(wf, loaded.kind, host)
        else:
            kind = "operator-missing" if outcome.kind == "operator-missing" else "operator-error"
            host.incidents.append(IncidentNote(task, kind, outcome.message, operator=job.operator))
        return verdict

    def _retry(self, job: _JobView, outcome: Outcome) -> str:
        delay = float(min(MAX_BACKOFF_S, job.backoff_base_s ** job.attempt))
        now = clock.now()
        with self.db.write() as s:
            moved = s.execute(update(Job).where(Job.id == job.id, Job.status == "queued", Job.attempt == job.attempt)
                              .values(attempt=job.attempt + 1, next_attempt_at=now + timedelta(seconds=delay),
                                      error=outcome.error_json(job.attempt), updated_at=now)
                              .execution_options(synchronize_session=False))
        if moved.rowcount != 1:
            return self._ignored(job.id, job.attempt, self._read(job.id), "retry for a job that moved on")
        log.info("job %s: attempt %s failed with %s; attempt %s in %.0f s", job.id, job.attempt, outcome.code,
                 job.attempt + 1, delay)
        self.dispatch(job.id, job.attempt + 1, delay, operator=job.operator)
        return "retry"

    def _not_applied(self, job: _JobView, outcome: Outcome, why: str) -> str:
        """The instance refused the mutation: suspended (keep the outcome and try again later),
        changed concurrently (same), or over (the job is stale)."""
        with self.db.read() as s:
            status = s.scalar(select(ProcessInstance.status).where(ProcessInstance.id == job.instance_id))
        if status in ("completed", "cancelled", None):
            self._finish(job.id, job.attempt, "stale")
            log.info("job %s attempt %s: instance is %s; stale", job.id, job.attempt, status)
            return "stale"
        now = clock.now()
        with self.db.write() as s:
            s.execute(update(Job).where(Job.id == job.id, Job.status == "queued", Job.attempt == job.attempt)
                      .values(result={"pending": outcome.to_json()}, next_attempt_at=now + timedelta(seconds=PARK_S),
                              updated_at=now)
                      .execution_options(synchronize_session=False))
        log.info("job %s attempt %s: not applied (%s); kept, tried again in %s s", job.id, job.attempt, why, PARK_S)
        return "parked"

    def _finish(self, job_id: str, attempt: int, status: str) -> None:
        with self.db.write() as s:
            s.execute(update(Job).where(Job.id == job_id, Job.status == "queued", Job.attempt == attempt)
                      .values(status=status, updated_at=clock.now()).execution_options(synchronize_session=False))


# -- wiring ------------------------------------------------------------------------------------

def import_operator_modules(names: Iterable[str]) -> None:
    """Import each module so its operators register (``AICMP_OPERATOR_MODULES``)."""
    for name in names:
        importlib.import_module(name)
