"""The inbox's other tabs: ``done`` (tasks the user completed) and ``urged`` (open tasks their
initiator urged), plus urging itself (rate-limited per instance)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.errors import Conflict, NotFound, TooManyRequests
from engine.inbox import queries
from engine.inbox.queries import TaskView
from engine.models import HumanTask, ProcessInstance, TaskHistory, TaskUrge

URGE_INTERVAL = timedelta(hours=1)


def done(s: Session, tenant_id: str | None, user: str, roles: Sequence[str], limit: int,
         offset: int) -> tuple[list[dict[str, Any]], int]:
    """User tasks ``user`` completed in ``tenant_id`` (None: any tenant), newest first (from the history)."""
    tenant = [] if tenant_id is None else [TaskHistory.tenant_id == tenant_id]
    where = and_(*tenant, TaskHistory.actor == user, TaskHistory.state == "COMPLETED",
                 TaskHistory.task_type.in_(("UserTask", "ManualTask")))
    total = s.scalar(select(func.count()).select_from(TaskHistory).where(where))
    rows = s.execute(
        select(TaskHistory, ProcessInstance.process_key, ProcessInstance.business_key)
        .join(ProcessInstance, ProcessInstance.id == TaskHistory.instance_id)
        .where(where).order_by(TaskHistory.at.desc(), TaskHistory.id.desc()).limit(limit).offset(offset)).all()
    items = [{"id": h.task_guid, "instance_id": h.instance_id, "tenant_id": h.tenant_id, "process_key": key,
              "business_key": business_key, "task_spec": h.task_spec, "task_name": h.task_name,
              "created_at": h.at, "completed_at": h.at} for h, key, business_key in rows]
    return items, int(total or 0)


_URGED = {shape: select(*queries.COLUMNS, TaskUrge.urged_by, TaskUrge.urged_at, func.count().over().label("total"))
          .join(TaskUrge, TaskUrge.task_id == HumanTask.id).where(*queries.visibility_clauses(*shape))
          .order_by(TaskUrge.urged_at.desc(), HumanTask.id)
          .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
          for shape in queries.SHAPES}


def urged(s: Session, tenant_id: str | None, user: str, roles: Sequence[str], limit: int,
          offset: int) -> tuple[list[dict[str, Any]], int]:
    """Open tasks in the user's todo list that their instance's initiator urged, most recent first."""
    rows = s.execute(_URGED[queries.shape(tenant_id, roles)],
                     queries.params(tenant_id, user, roles, limit=limit, offset=offset)).all()
    items = [{**asdict(TaskView.of(r)), "urged": {"by": r.urged_by, "at": r.urged_at.isoformat()}} for r in rows]
    return items, int(rows[0].total) if rows else 0


def urge(s: Session, *, tenant_id: str, instance_id: str, user: str, ip: str | None = None) -> list[str]:
    """Mark every open task of the instance as urged; only its initiator may, once per interval."""
    instance = s.scalars(select(ProcessInstance).where(ProcessInstance.id == instance_id,
                                                       ProcessInstance.tenant_id == tenant_id)
                         .with_for_update()).first()
    if instance is None:
        raise NotFound(f"no process instance {instance_id}")
    if instance.initiator != user:
        raise NotFound(f"no process instance {instance_id} started by you")
    if instance.status not in ("running", "incident"):
        raise Conflict(f"instance is {instance.status}")
    last = s.scalar(select(func.max(TaskUrge.urged_at)).where(TaskUrge.instance_id == instance_id))
    now = clock.now()
    if last is not None and now - last < URGE_INTERVAL:
        wait = int((URGE_INTERVAL - (now - last)).total_seconds() // 60) + 1
        raise TooManyRequests(f"this instance was urged recently; try again in {wait} minute(s)")
    task_ids = list(s.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance_id)))
    if not task_ids:
        raise Conflict("the instance has no open task to urge")
    for task_id in task_ids:
        row = s.get(TaskUrge, task_id)
        if row is None:
            s.add(TaskUrge(task_id=task_id, instance_id=instance_id, tenant_id=tenant_id, urged_by=user, urged_at=now))
        else:
            row.urged_by, row.urged_at = user, now
    audit.record(s, action="process-instance.urge", actor=user, tenant_id=tenant_id,
                 target_type="process-instance", target_id=instance_id, ip=ip, detail={"tasks": task_ids})
    return task_ids
