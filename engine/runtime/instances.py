"""Process instances: start, complete tasks, suspend, resume, cancel, retry incidents.

Every mutation runs in one transaction under a per-instance lock: ``SELECT ... FOR UPDATE`` on
PostgreSQL, and everywhere a version check on save (``UPDATE ... WHERE lock_version = n``),
so two concurrent completions of one task can never both apply.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import audit, clock
from engine.db import Database
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import HumanTask, Incident, ProcessInstance, TaskHistory
from engine.ports import bound_ports
from engine.registry import StartBindings
from engine.runtime import history, storable
from engine.runtime.services import IncidentNote, InstanceScope, ServiceHost, to_json_value
from engine.runtime.specs import SPECS
from engine.runtime.start_policy import StartCheck
from engine.runtime.steps import advance
from engine.runtime.waiting import message_event
from engine.spiff.script_engine import AicmpScriptEngine
from engine.spiff.serializer import serializer, state_from_json
from tasks.registry import REGISTRY, OperatorRegistry


class Locking:
    """Test-only switch: ``Locking.enabled = False`` removes the per-instance lock so the
    concurrency test can prove it would catch a regression. Never change it elsewhere."""

    enabled = True


ACTIVE = ("running", "incident")


@dataclass
class Loaded:
    """An instance row with its workflow restored and ready to mutate."""

    row: ProcessInstance
    workflow: BpmnWorkflow
    kind: str
    host: ServiceHost
    before: dict
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # The READY user tasks as saved: set by ``Runtime._save`` before the save hooks run, so the
    # hooks that need them (inbox, notices) share one walk of the task tree.
    ready_user_tasks: list[Any] = field(default_factory=list)


SaveHook = Callable[[Session, Loaded], None]


@functools.cache
def _lock_statement(in_tenant: bool, lock: bool) -> Any:
    """The instance row, locked for a mutation; built once per shape (every mutation runs it)."""
    q = select(ProcessInstance).where(ProcessInstance.id == bindparam("instance"))
    if in_tenant:
        q = q.where(ProcessInstance.tenant_id == bindparam("tenant"))
    return q.with_for_update() if lock else q


@functools.cache
def _lock_of_task_statement(in_tenant: bool, lock: bool) -> Any:
    """The instance of open user task ``task``, locked: one statement where a caller that knows
    only the task would otherwise read the task's instance first."""
    owner = select(HumanTask.instance_id).where(HumanTask.id == bindparam("task"))
    q = select(ProcessInstance)
    if in_tenant:
        owner = owner.where(HumanTask.tenant_id == bindparam("tenant"))
        q = q.where(ProcessInstance.tenant_id == bindparam("tenant"))
    q = q.where(ProcessInstance.id == owner.scalar_subquery())
    return q.with_for_update() if lock else q


def _lock(s: Session, statement: Callable[[bool, bool], Any], name: str, value: str, tenant_id: str | None,
          missing: str) -> ProcessInstance:
    """Run one of the lock statements above (bound by ``name``, and by tenant when given)."""
    params = {name: value} if tenant_id is None else {name: value, "tenant": tenant_id}
    row = s.scalars(statement(tenant_id is not None, Locking.enabled), params).first()
    if row is None:
        raise NotFound(missing)
    return row


@functools.cache
def _save_statement(versioned: bool) -> Any:
    """The UPDATE that saves a mutated instance (its version checked unless locking is off for a
    test); built once: every mutation runs it."""
    c = ProcessInstance.__table__.c
    stmt = update(ProcessInstance).where(ProcessInstance.id == bindparam("instance"))
    if versioned:
        stmt = stmt.where(ProcessInstance.lock_version == bindparam("seen_version"))
    return stmt.values(
        state_json=bindparam("new_state", type_=c.state_json.type),
        status=bindparam("new_status", type_=c.status.type),
        updated_at=bindparam("new_updated_at", type_=c.updated_at.type),
        ended_at=bindparam("new_ended_at", type_=c.ended_at.type),
        lock_version=bindparam("new_version", type_=c.lock_version.type),
    ).execution_options(synchronize_session=False)


class Runtime:
    def __init__(self, db: Database, *, operators: OperatorRegistry = REGISTRY,
                 async_enabled: bool = False) -> None:
        self.db = db
        self.operators = operators
        self.async_enabled = async_enabled
        # Run inside the save transaction, in order: they mirror the workflow into the inbox,
        # timer, subscription and job tables. A hook may queue work for after the commit.
        self.save_hooks: list[SaveHook] = []
        # Keys only their domain's service starts (engine.runtime.start_policy); domains add theirs.
        self.internal_keys: set[str] = set()
        self.bindings = StartBindings()  # which versions a start binds to, until the next deploy

    # -- loading and saving -------------------------------------------------------------

    def _host(self, tenant_id: str, key: str, initiator: str | None, business_key: str | None) -> ServiceHost:
        scope = InstanceScope(tenant_id, key, initiator, business_key, internal=key in self.internal_keys)
        return ServiceHost(self.operators.get, async_enabled=self.async_enabled, scope=scope)

    def _specs(self, s: Session, definition_id: int, bound: dict[str, int]) -> tuple[str, Any, dict]:
        specs = SPECS.specs_for(s, [definition_id, *bound.values()])
        _key, kind, spec, subprocess_specs = specs[definition_id]
        subs = dict(subprocess_specs)
        for called_key, def_id in bound.items():
            _k, _p, called_spec, called_inner = specs[def_id]
            subs[called_key] = called_spec
            subs.update(called_inner)
        return kind, spec, subs

    @contextmanager
    def mutation(self, instance_id: str | None, *, tenant_id: str | None, actor: str | None,
                 allowed: tuple[str, ...] = ACTIVE, of_task: str | None = None) -> Iterator[tuple[Session, Loaded]]:
        """Lock, load, let the caller change the workflow, save, commit, then run after-commit work.
        ``of_task`` instead of ``instance_id``: the instance of that open user task (NotFound when
        there is none).

        The one way every module changes a running instance (tasks, timers, messages, job results).
        """
        with self.db.write() as s:
            row = (self._locked(s, instance_id, tenant_id) if of_task is None
                   else self._task_owner(s, of_task, tenant_id))
            if row.status not in allowed:
                raise Conflict(f"instance is {row.status}")
            loaded = self.load(s, row)
            yield s, loaded
            self._save(s, loaded, actor)
        for action in loaded.after_commit:
            action()

    def load(self, s: Session, row: ProcessInstance) -> Loaded:
        """The instance's workflow, restored. Read-only unless done inside ``mutation`` (which saves)."""
        kind, spec, subs = self._specs(s, row.definition_id, row.bound_definitions)
        host = self._host(row.tenant_id, row.process_key, row.initiator, row.business_key)
        wf = state_from_json(kind, row.state_json, spec, subs)
        storable.drop_finished_subprocesses(wf)
        wf.script_engine = AicmpScriptEngine(host)
        return Loaded(row, wf, kind, host, history.snapshot(wf))

    def _locked(self, s: Session, instance_id: str, tenant_id: str | None) -> ProcessInstance:
        return _lock(s, _lock_statement, "instance", instance_id, tenant_id, f"no process instance {instance_id}")

    def _task_owner(self, s: Session, task_id: str, tenant_id: str | None) -> ProcessInstance:
        return _lock(s, _lock_of_task_statement, "task", task_id, tenant_id, f"no open task {task_id}")

    def _status(self, s: Session, loaded: Loaded, new_incidents: int) -> str:
        row = loaded.row
        if row.status in ("suspended", "cancelled"):
            return row.status
        if loaded.workflow.is_completed():
            return "completed"
        if new_incidents:
            return "incident"
        if row.status != "incident":  # no open incident can exist: skip the query on the hot path
            return "running"
        open_incidents = s.scalar(select(Incident.id).where(
            Incident.instance_id == row.id, Incident.status == "open").limit(1))
        return "incident" if open_incidents else "running"

    def _record(self, s: Session, loaded: Loaded, actor: str | None) -> int:
        row, wf = loaded.row, loaded.workflow
        now = clock.now()
        rows = [{"instance_id": row.id, "tenant_id": row.tenant_id, "at": now, **change}
                for change in history.changes(wf, loaded.before, actor)]
        if rows:  # one executemany on the table: the ORM bulk path splits rows by which values are None
            s.execute(insert(TaskHistory.__table__), rows)
        notes: list[IncidentNote] = loaded.host.incidents
        for note in notes:
            task = note.task
            s.add(Incident(instance_id=row.id, tenant_id=row.tenant_id,
                           task_guid=str(task.id) if task is not None else None,
                           task_spec=task.task_spec.bpmn_id if task is not None else None,
                           kind=note.kind, error_code=note.error_code, message=note.message[:4000]))
        return len(notes)

    def _save(self, s: Session, loaded: Loaded, actor: str | None, *, insert: bool = False) -> None:
        ports = bound_ports()
        if ports is not None and ports.broken is not None:  # partly written: the step must not commit
            raise RuntimeError(f"a port's write failed in this step, which is not saved: {ports.broken}") \
                from ports.broken
        row = loaded.row
        state = storable.state_json(loaded)  # first: task data it cannot store becomes incidents, not a failure
        now = clock.now()
        if insert:  # one INSERT with the final state, before the rows that refer to it
            status = self._status(s, loaded, len(loaded.host.incidents))
            ended = now if status in ("completed", "cancelled") else None
            row.state_json, row.status, row.updated_at, row.ended_at = state, status, now, ended
            s.add(row)
            s.flush()
            self._record(s, loaded, actor)
        else:
            new_incidents = self._record(s, loaded, actor)
            status = self._status(s, loaded, new_incidents)
            ended = now if status in ("completed", "cancelled") else None
            result = s.execute(_save_statement(Locking.enabled), {
                "instance": row.id, "seen_version": row.lock_version, "new_state": state, "new_status": status,
                "new_updated_at": now, "new_ended_at": ended, "new_version": row.lock_version + 1})
            if result.rowcount != 1:
                raise Conflict("the instance changed concurrently; reload it and try again")
            for name, value in (("status", status), ("lock_version", row.lock_version + 1), ("ended_at", ended),
                                ("state_json", state), ("updated_at", now)):
                set_committed_value(row, name, value)  # already written above: no second UPDATE
        s.flush()
        loaded.ready_user_tasks = loaded.workflow.get_tasks(state=TaskState.READY, manual=True)
        for hook in self.save_hooks:
            hook(s, loaded)

    # -- operations ---------------------------------------------------------------------

    def start(self, key: str, *, tenant_id: str, initiator: str | None = None, business_key: str | None = None,
              variables: dict[str, Any] | None = None, ip: str | None = None,
              check: StartCheck | None = None) -> ProcessInstance:
        """Start the newest version of ``key`` for ``tenant_id``. ``check`` runs first, in the same
        transaction, with the definition and the versions its call activities bind to (a start
        request's ``start_policy.api_start_check``; a domain's check of its object, which may add
        variables read from it)."""
        try:
            data = to_json_value(variables or {})
        except TypeError as exc:
            raise InvalidInput(f"variables: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput("variables must be a JSON object")
        with self.db.write() as s:
            definition, bound = self.bindings.resolve(s, key, tenant_id)
            added = check(s, definition, bound) if check is not None else None
            if added:
                data.update(to_json_value(added))
            kind, spec, subs = self._specs(s, definition.id, bound)
            host = self._host(tenant_id, key, initiator, business_key)
            wf = BpmnWorkflow(spec, subs, script_engine=AicmpScriptEngine(host))
            for task in wf.get_tasks(state=TaskState.READY):
                task.data.update(data)
            row = ProcessInstance(tenant_id=tenant_id, definition_id=definition.id, process_key=key,
                                  business_key=business_key, initiator=initiator, status="running",
                                  bound_definitions=bound, serializer_version=serializer(kind).VERSION,
                                  lock_version=1, state_json="")
            loaded = Loaded(row, wf, kind, host, {})
            advance(wf, kind, host)
            self._save(s, loaded, initiator, insert=True)
            audit.record(s, action="process-instance.start", actor=initiator, tenant_id=tenant_id,
                         target_type="process-instance", target_id=row.id, ip=ip,
                         detail={"key": key, "version_id": definition.id, "business_key": business_key})
        for action in loaded.after_commit:
            action()
        return row

    def complete_task(self, instance_id: str | None, task_guid: str, data: dict[str, Any] | None = None, *,
                      actor: str | None, tenant_id: str | None = None, ip: str | None = None,
                      guard: Callable[[Session], None] | None = None) -> ProcessInstance:
        """Complete a READY user task with ``data``. ``guard`` runs first under the instance lock, in
        the same transaction (the inbox checks there that the caller may still work the task).
        ``instance_id`` None: the instance that has the task open in the inbox (found as it is locked)."""
        try:
            payload = to_json_value(data or {})
        except TypeError as exc:
            raise InvalidInput(f"data: {exc}") from exc
        of_task = task_guid if instance_id is None else None
        with self.mutation(instance_id, tenant_id=tenant_id, actor=actor, of_task=of_task) as (s, loaded):
            if guard is not None:
                guard(s)
            task = self._task(loaded.workflow, task_guid)
            if task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict(f"task {task_guid} is not waiting for input")
            task.data.update(payload)
            self._run_task(loaded, task)
            audit.record(s, action="task.complete", actor=actor, tenant_id=loaded.row.tenant_id,
                         target_type="task", target_id=task_guid, ip=ip,
                         detail={"instance": loaded.row.id, "task": task.task_spec.bpmn_id, "fields": sorted(payload)})
        return loaded.row

    @staticmethod
    def signal(loaded: Loaded, message_name: str, payload: dict[str, Any]) -> None:
        """Inside ``mutation``: deliver message ``message_name`` with ``payload`` to the catch of the
        loaded workflow that waits for it now (no correlation), then advance the workflow. Conflict
        when nothing waits for it. How domain code signals its own waiting process."""
        event = message_event(loaded.workflow, message_name, payload)
        if event is None:
            raise Conflict(f"nothing in the instance waits for message {message_name!r} at this step")
        try:
            loaded.workflow.send_event(event)
        except WorkflowException as exc:
            raise Conflict(f"message {message_name!r} cannot be delivered: {exc}") from exc
        advance(loaded.workflow, loaded.kind, loaded.host)

    def _run_task(self, loaded: Loaded, task: Any) -> None:
        try:
            task.run()
        except SpiffWorkflowException as exc:
            loaded.host.incidents.append(IncidentNote(task, "script-error", str(exc)))
            return
        advance(loaded.workflow, loaded.kind, loaded.host)

    @staticmethod
    def _task(workflow: BpmnWorkflow, task_guid: str) -> Any:
        try:
            task = workflow.get_task_from_id(UUID(task_guid))
        except (ValueError, SpiffWorkflowException):
            task = None
        if task is None:
            raise NotFound(f"no task {task_guid} in this instance")
        return task

    def suspend(self, instance_id: str, *, actor: str | None, tenant_id: str | None = None,
                ip: str | None = None) -> ProcessInstance:
        return self._set_status(instance_id, tenant_id, ACTIVE, "suspended", actor, ip)

    def resume(self, instance_id: str, *, actor: str | None, tenant_id: str | None = None,
               ip: str | None = None) -> ProcessInstance:
        return self._set_status(instance_id, tenant_id, ("suspended",), None, actor, ip)

    def _set_status(self, instance_id: str, tenant_id: str | None, allowed: tuple[str, ...],
                    status: str | None, actor: str | None, ip: str | None) -> ProcessInstance:
        with self.db.write() as s:
            row = self._locked(s, instance_id, tenant_id)
            if row.status not in allowed:
                raise Conflict(f"instance is {row.status}")
            if status is None:  # resume: back to whatever its incidents say
                open_incident = s.scalar(select(Incident.id).where(
                    Incident.instance_id == row.id, Incident.status == "open").limit(1))
                status = "incident" if open_incident else "running"
            stmt = update(ProcessInstance).where(ProcessInstance.id == row.id)
            if Locking.enabled:
                stmt = stmt.where(ProcessInstance.lock_version == row.lock_version)
            if s.execute(stmt.values(status=status, updated_at=clock.now(),
                                     lock_version=row.lock_version + 1)).rowcount != 1:
                raise Conflict("the instance changed concurrently; reload it and try again")
            set_committed_value(row, "status", status)
            set_committed_value(row, "lock_version", row.lock_version + 1)
            audit.record(s, action="process-instance.suspend" if status == "suspended" else "process-instance.resume",
                         actor=actor, tenant_id=row.tenant_id, target_type="process-instance", target_id=row.id, ip=ip)
            return row

    def cancel(self, instance_id: str, *, actor: str | None, tenant_id: str | None = None,
               ip: str | None = None) -> ProcessInstance:
        with self.mutation(instance_id, tenant_id=tenant_id, actor=actor,
                           allowed=(*ACTIVE, "suspended")) as (s, loaded):
            loaded.workflow.cancel()
            loaded.row.status = "cancelled"
            audit.record(s, action="process-instance.cancel", actor=actor, tenant_id=loaded.row.tenant_id,
                         target_type="process-instance", target_id=instance_id, ip=ip)
            for incident in s.scalars(select(Incident).where(Incident.instance_id == instance_id,
                                                             Incident.status == "open")):
                incident.status, incident.resolved_at = "resolved", clock.now()
        return loaded.row

    def retry_incident(self, incident_id: str, *, actor: str | None, tenant_id: str | None = None,
                       ip: str | None = None) -> ProcessInstance:
        """Run the failed task again (after the operator was registered, the script fixed by a new
        version's data, or the outside system recovered)."""
        with self.db.read() as s:
            q = select(Incident).where(Incident.id == incident_id)
            if tenant_id is not None:
                q = q.where(Incident.tenant_id == tenant_id)
            incident = s.scalars(q).first()
            if incident is None:
                raise NotFound(f"no incident {incident_id}")
            instance_id, task_guid = incident.instance_id, incident.task_guid
        # resolved in the same transaction as the retry, under the instance lock: retried once
        with self.mutation(instance_id, tenant_id=tenant_id, actor=actor) as (s, loaded):
            resolved = s.execute(update(Incident).where(Incident.id == incident_id, Incident.status == "open")
                                 .values(status="resolved", resolved_at=clock.now()))
            if resolved.rowcount != 1:
                raise Conflict("incident is already resolved")
            audit.record(s, action="incident.retry", actor=actor, tenant_id=loaded.row.tenant_id,
                         target_type="incident", target_id=incident_id, ip=ip)
            task = self._task(loaded.workflow, task_guid) if task_guid else None
            if task is not None and task.state in (TaskState.STARTED, TaskState.ERROR):
                if task.state == TaskState.ERROR:
                    task._set_state(TaskState.READY)
                if not task.task_spec.manual:
                    self._run_task(loaded, task)
            else:
                advance(loaded.workflow, loaded.kind, loaded.host)
        return loaded.row
