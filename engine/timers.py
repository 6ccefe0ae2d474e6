"""Timers: mirror each instance's waiting timer events into ``due_timers`` and fire the due ones.

SpiffWorkflow never wakes up by itself: a timer only fires when someone loads the workflow and
calls ``refresh_timers()`` after its due time. The save hook keeps one pending ``due_timers``
row per waiting timer task (boundary timers, intermediate timer catches, event-based gateways
with a timer, timer starts of event subprocesses), so ``fire_due_timers`` finds due work by
index and never scans instances. Firing claims the rows in the same transaction as the
instance save (row lock with SKIP LOCKED on PostgreSQL, then a ``pending -> fired`` update
checked by rowcount), so a timer fires exactly once however many workers race for it.
Something must call ``fire_due_timers`` periodically: ``engine.periodic`` does, in ``aicmp serve``
when no broker is configured, the periodic runner of ``aicmp worker``, or Celery beat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import Conflict, NotFound
from engine.models import DueTimer, ProcessInstance
from engine.runtime.instances import ACTIVE, Loaded
from engine.runtime.steps import advance
from engine.runtime.waiting import event_definitions as event_definitions
from engine.runtime.waiting import waiting_catches as waiting_catches
from engine.spiff.timer_events import stored_due

if TYPE_CHECKING:
    from engine.kernel import Kernel

log = logging.getLogger(__name__)

ENDED = ("completed", "cancelled")
_CLAIMED = "aicmp.timers.claimed"  # Session.info flag: this transaction fired timers
_MAX_BATCHES_PER_DRAIN = 50  # then yield to the interval, so stop() is never kept waiting long


# -- what a workflow waits on (shared with engine.messages) ---------------------------------

def previously_waiting(loaded: Loaded, kind: type) -> set[str] | None:
    """Guids of the catches for ``kind`` events that waited in the state as loaded, i.e. those
    whose rows the last save mirrored; None if that can no longer be told (a task left the tree).
    Lets a hook skip its query when nothing it mirrors changed."""
    found: set[str] = set()
    for task_id, state in loaded.before.items():  # empty for a new instance: nothing mirrored yet
        if state != TaskState.WAITING:
            continue
        try:
            task = loaded.workflow.get_task_from_id(task_id)
        except TaskNotFoundException:
            return None  # e.g. a finished subprocess: it may have had rows
        if getattr(task.task_spec, "event_definition", None) is not None and any(
                isinstance(d, kind) for d in event_definitions(task)):
            found.add(str(task_id))
    return found


# -- due times -------------------------------------------------------------------------------

def _as_due(value: Any) -> datetime | None:
    """The UTC due time in a timer's pending details (duration, date, or a cycle's next)."""
    if isinstance(value, dict):  # a cycle timer's state before details() picked 'next'
        value = value.get("next") if value.get("cycles") != 0 else None
    if not isinstance(value, str):
        return None
    try:
        return stored_due(value)
    except (ValueError, OverflowError):
        return None


def due_at(task: Any) -> datetime | None:
    """When the earliest timer of a waiting catch task is due, or None if it has no timer."""
    times = [_as_due(d.details(task).value) for d in event_definitions(task)
             if isinstance(d, TimerEventDefinition)]
    times = [t for t in times if t is not None]
    return min(times) if times else None


def waiting_timers(workflow: Any) -> dict[str, tuple[str, datetime]]:
    """task guid -> (BPMN id, due time) for each waiting timer."""
    found = {}
    for task in waiting_catches(workflow):
        due = due_at(task)
        if due is not None:
            found[str(task.id)] = (task.task_spec.bpmn_id or task.task_spec.name, due)
    return found


# -- the save hook ---------------------------------------------------------------------------

def mirror_timers(s: Session, loaded: Loaded) -> None:
    """Save hook: make the pending ``due_timers`` rows equal the timers the workflow waits on.

    Skips the query when the same timers wait as at load time: a waiting timer's due time
    never moves, except a cycle timer's (re-armed after it fires) and a claimed one's. Reads the
    rows only when some may be there: a new instance has none, nor one whose last save waited on
    no timer (and none was claimed since).
    """
    row = loaded.row
    wanted = {} if row.status in ENDED else waiting_timers(loaded.workflow)
    previous = previously_waiting(loaded, TimerEventDefinition)
    if previous == set(wanted) and not s.info.get(_CLAIMED) and not _any_cycle(loaded.workflow, wanted):
        return
    kept: set[str] = set()
    if not wanted:  # one statement, no read
        s.execute(delete(DueTimer).where(DueTimer.instance_id == row.id, DueTimer.status == "pending")
                  .execution_options(synchronize_session=False))
    elif loaded.before and (previous or s.info.get(_CLAIMED)):  # else no rows: the last save mirrored no timer
        existing = s.execute(select(DueTimer.id, DueTimer.task_guid, DueTimer.due_at).where(
            DueTimer.instance_id == row.id, DueTimer.status == "pending")).all()
        stale = []
        for timer_id, guid, due in existing:
            if guid in wanted and wanted[guid][1] == due and guid not in kept:
                kept.add(guid)
            else:
                stale.append(timer_id)
        if stale:
            s.execute(delete(DueTimer).where(DueTimer.id.in_(stale)).execution_options(synchronize_session=False))
    for guid, (spec, due) in wanted.items():
        if guid not in kept:
            s.add(DueTimer(instance_id=row.id, tenant_id=row.tenant_id, task_guid=guid, task_spec=spec,
                           due_at=due))


def _any_cycle(workflow: Any, guids: Iterable[str]) -> bool:
    for guid in guids:
        task = workflow.get_task_from_id(UUID(guid))
        if any(isinstance(d, CycleTimerEventDefinition) for d in event_definitions(task)):
            return True
    return False


def refuse_new_instances(_s: Session, loaded: Loaded) -> None:
    """Save hook: a new instance whose first steps reached a timer with a refused value is not
    stored; its start fails with that ``InvalidTimer`` (422: the start's variables gave the value).
    A running instance keeps the incident ``AicmpScriptEngine.refuse_timer`` noted."""
    if loaded.before:  # empty only for a new instance
        return
    refused = getattr(loaded.workflow.script_engine, "refused_timers", None)
    if refused:
        raise refused[0]


def install(engine: Kernel) -> None:
    engine.runtime.save_hooks.extend((refuse_new_instances, mirror_timers))


# -- firing ----------------------------------------------------------------------------------

class _NothingClaimed(Exception):
    """Another worker fired these timers first: roll the mutation back untouched."""


def _claim(s: Session, instance_id: str, now: datetime, worker_id: str, skip_locked: bool) -> int:
    """Mark this instance's due timers fired, in the caller's transaction; how many we got."""
    q = select(DueTimer.id).where(DueTimer.instance_id == instance_id, DueTimer.status == "pending",
                                  DueTimer.due_at < now)
    if skip_locked:
        q = q.with_for_update(skip_locked=True)
    ids = list(s.scalars(q))
    if not ids:
        return 0
    result = s.execute(update(DueTimer).where(DueTimer.id.in_(ids), DueTimer.status == "pending")
                       .values(status="fired", fired_at=now, fired_by=worker_id[:100])
                       .execution_options(synchronize_session=False))
    s.info[_CLAIMED] = True  # the save hook must re-mirror, even if the same timers still wait
    return result.rowcount


def _fire_instance(engine: Kernel, instance_id: str, tenant_id: str, worker_id: str, now: datetime) -> int:
    skip_locked = not engine.db.is_sqlite  # SQLite writers are serialized by BEGIN IMMEDIATE
    with engine.runtime.mutation(instance_id, tenant_id=tenant_id, actor=None) as (s, loaded):
        claimed = _claim(s, instance_id, now, worker_id, skip_locked)
        if not claimed:
            raise _NothingClaimed
        # Spiff fires a timer once it is due before engine.clock.now(), which is >= now: every
        # claimed timer fires here
        loaded.workflow.refresh_timers()
        advance(loaded.workflow, loaded.kind, loaded.host)
    return claimed


def fire_due_timers(engine: Kernel, worker_id: str, limit: int = 100) -> int:
    """Fire timers due at ``engine.clock.now()`` (up to about ``limit``); returns how many fired.

    Safe to call from any number of threads and processes at once. Timers of suspended
    instances stay pending until the instance is resumed.
    """
    now = clock.now()
    with engine.db.read() as s:
        due = s.execute(
            select(DueTimer.instance_id, DueTimer.tenant_id)
            .join(ProcessInstance, ProcessInstance.id == DueTimer.instance_id)
            .where(DueTimer.status == "pending", DueTimer.due_at < now, ProcessInstance.status.in_(ACTIVE))
            .order_by(DueTimer.due_at).limit(limit)).all()
    fired = 0
    for instance_id, tenant_id in dict.fromkeys(due):  # one mutation fires all of an instance's
        try:
            fired += _fire_instance(engine, instance_id, tenant_id, worker_id, now)
        except (_NothingClaimed, Conflict, NotFound):
            continue  # fired by someone else, suspended or ended meanwhile
        except Exception:
            # one broken instance must not stop the others; its timer stays pending for a retry
            log.exception("firing timers of instance %s failed", instance_id)
    return fired


def drain_due_timers(engine: Kernel, worker_id: str, limit: int = 100,
                     stop: threading.Event | None = None) -> int:
    """Fire everything due now, in batches of ``limit`` until a batch comes back short (what a
    periodic caller wants: a backlog does not wait ``limit`` per interval)."""
    total = 0
    for _batch in range(_MAX_BATCHES_PER_DRAIN):
        if stop is not None and stop.is_set():
            break
        fired = fire_due_timers(engine, worker_id, limit)
        total += fired
        if fired < limit:
            break
    return total


