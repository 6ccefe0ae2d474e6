"""Process registry and runtime tables.

Uploaded bytes are content-addressed (``bpmn_files``) and exported unchanged. A definition
stores its parsed spec once; instances store only their state and the definition versions
their call activities were bound to when they started.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow


class BpmnFile(Base):
    """A file's bytes, stored once per sha256 whatever deployments share it."""

    __tablename__ = "bpmn_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    warnings: Mapped[list[Any]] = mapped_column(default=list)


class DeploymentFile(Base):
    __tablename__ = "deployment_files"

    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # bpmn | dmn | form
    sha256: Mapped[str] = mapped_column(ForeignKey("bpmn_files.sha256"))


class ProcessDefinition(Base):
    """One version of one process key, platform-wide (tenant_id NULL) or for one tenant."""

    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("key", "version"),
        Index("ix_process_definitions_scope", "key", "tenant_id", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str | None] = mapped_column(String(200))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    filename: Mapped[str] = mapped_column(String(255))
    parser: Mapped[str] = mapped_column(String(16))  # spiff | camunda
    content_hash: Mapped[str] = mapped_column(String(64))
    spec_json: Mapped[str] = mapped_column(Text)
    inner_specs_json: Mapped[str] = mapped_column(Text)
    called_keys: Mapped[list[Any]] = mapped_column(default=list)
    # How the API may start it (engine.start_policy): the role codes that may (None: anyone with
    # the start permission) and the start event's form, the only variables a start request may pass.
    start_roles: Mapped[list[Any] | None]
    start_form: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (
        Index("ix_process_instances_tenant_status", "tenant_id", "status"),
        Index("ix_process_instances_tenant_business_key", "tenant_id", "business_key"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    initiator: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # running | suspended | incident | completed | cancelled
    bound_definitions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # called key -> definition id
    serializer_version: Mapped[str] = mapped_column(String(16))
    state_json: Mapped[str] = mapped_column(Text)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class TaskHistory(Base):
    """A row each time a task becomes READY, STARTED, COMPLETED, ERROR or CANCELLED."""

    __tablename__ = "task_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    task_guid: Mapped[str] = mapped_column(String(36), index=True)
    task_spec: Mapped[str] = mapped_column(String(255))
    task_name: Mapped[str | None] = mapped_column(String(255))
    task_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    data_changed: Mapped[dict[str, Any] | None]


class Incident(Base):
    """Something an operator must look at: an instance stuck on a failing task."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_tenant_status", "tenant_id", "status"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    task_guid: Mapped[str | None] = mapped_column(String(36))
    task_spec: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))  # operator-missing | operator-error | script-error | bpmn-error
    error_code: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
