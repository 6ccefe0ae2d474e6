"""The task inbox's operations, each scoped by tenant: list, get, claim, unclaim, delegate,
complete and return. ``tenant_id`` None means every tenant: platform staff, whose tasks come from
lanes named after platform roles (``platform_operator``) in any tenant's instance.

Who may do what (``user`` is the caller, ``roles`` the role codes they hold in ``tenant_id``):
- see a task (get): its assignee or one of its candidates; anyone else gets NotFound, as for a
  task of another tenant, so an inbox never reveals tasks outside it;
- claim: a candidate, while nobody else holds it (held by another: Conflict; by the caller: no-op);
- unclaim: only the assignee (anyone else who may see it: Conflict);
- delegate: only the assignee (an unclaimed task is claimed first, so there is always one person
  answerable for the hand-over); the delegate becomes assignee and, while holding it, a candidate;
- complete and return: the assignee, or a candidate of an unclaimed task (checked again under the
  instance lock, so a claim made meanwhile wins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from engine import forms
from engine.errors import Conflict, InvalidInput, NotFound
from engine.inbox import queries
from engine.inbox.queries import TaskPage, TaskView
from engine.inbox.returns import ready_user_task, send_back
from engine.inbox.rows import ASSIGNEE_ADDED, DRAWN_FORM, MAX_NAME
from engine.inbox.sync import sync_inbox
from engine.models import HumanTask, HumanTaskCandidate, ProcessDefinition, ProcessInstance

MAX_PAGE_SIZE = 200
MAX_COMMENT = 2000


@dataclass(frozen=True)
class TaskDetail:
    """A task opened for work: its row, who may work it, its form and what the form starts with."""

    task: TaskView
    candidates: list[tuple[str, str]]  # (kind, value): ("role", "approver"), ("user", "alice")
    schema: dict[str, Any] | None
    ui_schema: dict[str, Any] | None
    data: dict[str, Any]  # the form's defaults overlaid with the task's current values of its fields
    context: dict[str, Any]  # the process around it: instance, definition, instructions


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        raise InvalidInput(f"{what} must be a user name of 1 to {MAX_NAME} characters")
    return value


class Inbox:
    """Installs the save hook that keeps ``human_tasks`` current and answers the inbox API."""

    def __init__(self, engine: Any) -> None:
        self.db = engine.db
        self.runtime = engine.runtime
        if sync_inbox not in self.runtime.save_hooks:
            self.runtime.save_hooks.append(sync_inbox)

    # -- reading --------------------------------------------------------------------------

    def list_tasks(self, tenant_id: str | None, user: str, roles: Sequence[str] = (), page: int = 1,
                   page_size: int = 20) -> TaskPage:
        """Tasks the user may work on now: assigned to them, or offered to them (by name or one of
        ``roles``) and not claimed by someone else. Newest first."""
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(f"page must be >= 1 and page_size between 1 and {MAX_PAGE_SIZE}")
        with self.db.autocommit() as s:  # one statement: no transaction to begin and end
            return queries.list_page(s, tenant_id, user, list(roles), page, page_size)

    def get_task(self, tenant_id: str | None, task_id: str, *, user: str, roles: Sequence[str] = ()) -> TaskDetail:
        with self.db.read() as s:
            row = queries.visible_row(s, tenant_id, task_id, user, roles)
            schema, ui_schema = forms.load_task_forms(s, _definition_id(s, row), row.form_schema,
                                                      row.form_ui_schema)
            schema = schema or (row.extra or {}).get(DRAWN_FORM)  # camunda:formField, drawn inline
            instance = s.get(ProcessInstance, row.instance_id)
            definition = s.get(ProcessDefinition, instance.definition_id)
            loaded = self.runtime.load(s, instance)  # read-only: nothing is saved
            task = _task_or_none(loaded.workflow, task_id)
            data = task.data if task is not None else {}
            extensions = (getattr(task.task_spec, "extensions", None) or {}) if task is not None else {}
            context = {
                "instance_id": instance.id, "process_key": instance.process_key,
                "process_name": definition.name, "process_version": definition.version,
                "business_key": instance.business_key, "initiator": instance.initiator,
                "status": instance.status, "started_at": instance.created_at,
                "instructions": extensions.get("instructionsForEndUser"),
            }
            return TaskDetail(TaskView.of(row), queries.candidates_of(s, row.id), schema, ui_schema,
                              forms.prefill(schema, data), context)

    # -- assignment -----------------------------------------------------------------------

    def claim(self, tenant_id: str | None, task_id: str, *, user: str, roles: Sequence[str] = ()) -> TaskView:
        with self.db.write() as s:
            row = queries.visible_row(s, tenant_id, task_id, user, roles, lock=True)
            if row.assignee == user:
                return TaskView.of(row)
            if row.assignee is not None:
                raise Conflict(f"task {task_id} is already claimed by {row.assignee}")
            _assign(s, row, user)
            return TaskView.of(row)

    def unclaim(self, tenant_id: str | None, task_id: str, *, user: str, roles: Sequence[str] = ()) -> TaskView:
        with self.db.write() as s:
            row = queries.visible_row(s, tenant_id, task_id, user, roles, lock=True)
            if row.assignee != user:
                raise Conflict(f"task {task_id} is not claimed by {user}")
            _assign(s, row, None)
            return TaskView.of(row)

    def delegate(self, tenant_id: str | None, task_id: str, *, user: str, to_user: str,
                 roles: Sequence[str] = ()) -> TaskView:
        to_user = _name(to_user, "to_user")
        with self.db.write() as s:
            row = queries.visible_row(s, tenant_id, task_id, user, roles, lock=True)
            if row.assignee != user:
                raise Conflict(f"only the assignee can delegate task {task_id}; claim it first"
                               if row.assignee is None else f"task {task_id} is claimed by {row.assignee}")
            if to_user != user:
                _assign(s, row, to_user, delegated_by=user)
            return TaskView.of(row)

    # -- finishing ------------------------------------------------------------------------

    def complete(self, tenant_id: str | None, task_id: str, *, user: str, data: dict[str, Any] | None = None,
                 roles: Sequence[str] = (), ip: str | None = None, instance_id: str | None = None
                 ) -> ProcessInstance:
        """Validate ``data`` against the task's form and complete the task with it, in one write
        transaction under the instance lock. Invalid data changes nothing: InvalidInput lists every
        problem as ``{"path": "$.field", ...}``. ``instance_id``: the task's instance when the caller
        knows it already (saves a lookup; the task is still checked to belong to it)."""
        data = {} if data is None else data

        def checked(s: Session) -> None:  # under the instance lock: still workable, and the data fits its form
            row = self._workable(s, tenant_id, task_id, user, roles, lock=True)
            if instance_id is not None and row.instance_id != instance_id:
                raise NotFound(f"no open task {task_id}")
            schema, _ui = forms.load_task_forms(s, _definition_id(s, row), row.form_schema, None)
            schema = schema or (row.extra or {}).get(DRAWN_FORM)
            problems = forms.validate(schema, data)
            if problems:
                first = problems[0]
                raise InvalidInput(f"the form has {len(problems)} problem(s); first: {first['path']} "
                                   f"{first['message']}", errors=problems)

        try:  # without instance_id the task's instance is found as it is locked: one statement
            return self.runtime.complete_task(instance_id, task_id, data, actor=user, tenant_id=tenant_id, ip=ip,
                                              guard=checked)
        except NotFound:
            if instance_id is None:
                with self.db.autocommit() as s:
                    queries.instance_of(s, tenant_id, task_id)  # a task no longer open: 409 when it ended here
            raise

    def return_task(self, tenant_id: str | None, task_id: str, *, user: str, comment: str = "",
                    roles: Sequence[str] = ()) -> ProcessInstance:
        """Send the task back to the user task before it on its path (Conflict if there is none)."""
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise InvalidInput(f"comment must be text of at most {MAX_COMMENT} characters")
        with self.db.autocommit() as s:
            instance_id = self._workable(s, tenant_id, task_id, user, roles).instance_id
        with self.runtime.mutation(instance_id, tenant_id=tenant_id, actor=user) as (s, loaded):
            self._workable(s, tenant_id, task_id, user, roles)  # again, under the instance lock
            send_back(s, loaded, task_id, user=user, comment=comment)
        return loaded.row

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _workable(s: Session, tenant_id: str | None, task_id: str, user: str, roles: Sequence[str], *,
                  lock: bool = False) -> HumanTask:
        row = queries.visible_row(s, tenant_id, task_id, user, roles, lock=lock)
        if row.assignee not in (None, user):
            raise Conflict(f"task {task_id} is claimed by {row.assignee}")
        return row


def _task_or_none(workflow: Any, task_id: str) -> Any:
    try:
        return ready_user_task(workflow, task_id)
    except (NotFound, Conflict):  # a row whose task moved on meanwhile: show the row without data
        return None


def _definition_id(s: Session, row: HumanTask) -> int:
    """The definition holding the task's forms (recorded by the save hook; else the instance's)."""
    recorded = (row.extra or {}).get("definition_id")
    if recorded is not None:
        return int(recorded)
    return s.scalars(select(ProcessInstance.definition_id).where(ProcessInstance.id == row.instance_id)).one()


def _assign(s: Session, row: HumanTask, assignee: str | None, *, delegated_by: str | None = None) -> None:
    """Set the assignee (None: back to the pool), keeping the invariant that an assignee is a user
    candidate: one who is not a candidate in their own right is added while holding the task."""
    c = HumanTaskCandidate
    extra = dict(row.extra or {})
    added = extra.pop(ASSIGNEE_ADDED, None)
    if added is not None:
        s.execute(delete(c).where(c.task_id == row.id, c.kind == "user", c.value == added))
    extra.pop("delegated_by", None)
    if delegated_by is not None:
        extra["delegated_by"] = delegated_by
    if assignee is not None:
        present = s.scalar(select(c.value).where(c.task_id == row.id, c.kind == "user", c.value == assignee))
        if present is None:
            s.execute(insert(c).values(task_id=row.id, kind="user", value=assignee, tenant_id=row.tenant_id))
            extra[ASSIGNEE_ADDED] = assignee
    row.assignee, row.extra = assignee, extra  # flushed on commit, under the row lock the caller took
