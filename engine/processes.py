"""Read side of processes for the API: definitions visible to a caller, instance views, incidents.

Definitions are platform-wide or belong to one tenant; a caller sees the platform's and its own
tenant's. Instances and incidents are tenant-owned: every query filters on the caller's tenant
(platform staff see every tenant), and another tenant's row is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.models import HumanTask, Incident, ProcessDefinition, ProcessInstance, TaskHistory
from engine.principal import Principal
from engine.tenancy.scope import scope_where

READ = "process-instance:read"


def _visible_definitions(principal: Principal) -> Any:
    column = ProcessDefinition.tenant_id
    return column.is_(None) if principal.is_platform else or_(column.is_(None), column == principal.tenant_id)


def list_definitions(s: Session, principal: Principal, *, key: str | None, limit: int,
                     offset: int) -> tuple[list[ProcessDefinition], int]:
    """The newest visible version of each key (a tenant's own version counts for that tenant)."""
    newest = (select(ProcessDefinition.key, ProcessDefinition.tenant_id,
                     func.max(ProcessDefinition.version).label("version"))
              .where(_visible_definitions(principal)).group_by(ProcessDefinition.key, ProcessDefinition.tenant_id))
    if key:
        newest = newest.where(ProcessDefinition.key.like(f"%{key}%"))
    sub = newest.subquery()
    q = select(ProcessDefinition).join(sub, (ProcessDefinition.key == sub.c.key)
                                       & (ProcessDefinition.version == sub.c.version))
    total = s.scalar(select(func.count()).select_from(sub))
    rows = s.scalars(q.order_by(ProcessDefinition.key, ProcessDefinition.version).limit(limit).offset(offset)).all()
    return list(rows), int(total or 0)


def list_versions(s: Session, principal: Principal, key: str) -> list[ProcessDefinition]:
    rows = s.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key, _visible_definitions(principal))
                     .order_by(ProcessDefinition.version.desc())).all()
    if not rows:
        raise NotFound(f"no process definition with key {key!r}")
    return list(rows)


def _tenant_scoped(q: Select, model: Any, principal: Principal) -> Select:
    return q if principal.is_platform else q.where(model.tenant_id == principal.tenant_id)


def instances_query(authorizer: Any, principal: Principal, *, status: str | None = None, key: str | None = None,
                    business_key: str | None = None, initiator: str | None = None) -> Select:
    """Instances the principal may read: its tenant, narrowed by its roles' data scope."""
    q = select(ProcessInstance).where(*scope_where(authorizer, principal, READ, ProcessInstance))
    for column, value in ((ProcessInstance.status, status), (ProcessInstance.process_key, key),
                          (ProcessInstance.business_key, business_key), (ProcessInstance.initiator, initiator)):
        if value:
            q = q.where(column == value)
    return q


@dataclass
class InstanceView:
    instance: ProcessInstance
    version: int
    current_tasks: list[HumanTask]
    history: list[TaskHistory]
    incidents: list[Incident]
    data: dict[str, Any] | None = None


def get_instance(s: Session, authorizer: Any, principal: Principal, instance_id: str) -> ProcessInstance:
    row = s.scalars(instances_query(authorizer, principal).where(ProcessInstance.id == instance_id)).first()
    if row is None:
        raise NotFound(f"no process instance {instance_id}")
    return row


def instance_view(s: Session, authorizer: Any, principal: Principal, instance_id: str) -> InstanceView:
    row = get_instance(s, authorizer, principal, instance_id)
    version = s.scalar(select(ProcessDefinition.version).where(ProcessDefinition.id == row.definition_id))
    tasks = s.scalars(select(HumanTask).where(HumanTask.instance_id == row.id).order_by(HumanTask.created_at)).all()
    history = s.scalars(select(TaskHistory).where(TaskHistory.instance_id == row.id).order_by(TaskHistory.id)).all()
    incidents = s.scalars(select(Incident).where(Incident.instance_id == row.id).order_by(Incident.created_at)).all()
    return InstanceView(row, int(version or 0), list(tasks), list(history), list(incidents))


def incidents_query(principal: Principal, *, status: str | None = "open",
                    instance_id: str | None = None) -> Select:
    q = _tenant_scoped(select(Incident), Incident, principal)
    if status:
        q = q.where(Incident.status == status)
    if instance_id:
        q = q.where(Incident.instance_id == instance_id)
    return q.order_by(Incident.created_at.desc())
