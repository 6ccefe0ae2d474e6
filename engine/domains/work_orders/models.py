"""Work orders: manual work handed to operations, one row per piece of work.

A work order is opened by a process (``work_orders/open`` in ``bpmn/work_order.bpmn``), once per
``source_key`` in its tenant, for a delivery (a product that is a service, not a VM) or a failure
to fix. Its lifecycle (``STATUSES``, moved only by the process through ``rules.move``)::

    open --done--> done --accepted/cancelled--> (closed)
     ^              |
     +--reopened----+        open / reopened / done --cancelled--> (closed)

``claimed`` is not stored: an open or reopened order whose operations task someone holds in the
inbox is shown as claimed (``task_id`` names that task; the inbox owns who holds it). Order,
resource and unit ids are plain strings: the rows they name belong to other domains.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow

KINDS = ("delivery", "failure")
STATUSES = ("open", "done", "accepted", "reopened", "cancelled")
SHOWN_STATUSES = ("open", "claimed", "done", "accepted", "reopened", "cancelled")  # claimed: see the module doc
CLOSED = ("accepted", "cancelled")
MAX_TITLE = 200
MAX_SOURCE_KEY = 200
MAX_COMMENT = 2000


class WorkOrder(Base):
    __tablename__ = "work_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number", name="uq_work_orders_tenant_number"),
        UniqueConstraint("tenant_id", "source_key", name="uq_work_orders_tenant_source_key"),
        Index("ix_work_orders_tenant_created", "tenant_id", "created_at"),
        Index("ix_work_orders_tenant_status", "tenant_id", "status", "created_at"),
        Index("ix_work_orders_status_created", "status", "created_at"),  # staff: every tenant
        Index("ix_work_orders_tenant_order", "tenant_id", "order_id"),
        Index("ix_work_orders_tenant_resource", "tenant_id", "resource_id"),
        Index("ix_work_orders_instance", "instance_id"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[str] = mapped_column(String(32))  # WO20261206-3F9A1C2B5D6E, unique in the tenant
    kind: Mapped[str] = mapped_column(String(16))  # delivery | failure
    status: Mapped[str] = mapped_column(String(16), default="open")
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the opening process knew
    result: Mapped[dict[str, Any] | None]  # the operations form: result (done | cannot_do), notes, resource
    source_key: Mapped[str] = mapped_column(String(MAX_SOURCE_KEY))  # opening is idempotent by it
    order_id: Mapped[str | None] = mapped_column(String(36))
    resource_id: Mapped[str | None] = mapped_column(String(36))
    unit_id: Mapped[str | None] = mapped_column(String(36))
    organization_id: Mapped[str | None] = mapped_column(String(36))  # the order's (data scope)
    business_system_id: Mapped[str | None] = mapped_column(String(36))  # the order's (data scope)
    applicant: Mapped[str | None] = mapped_column(String(100))  # who evaluates (the order's applicant)
    instance_id: Mapped[str | None] = mapped_column(String(36))  # the process instance working it
    task_id: Mapped[str | None] = mapped_column(String(36))  # its open user task (operations or evaluation)
    assignee: Mapped[str | None] = mapped_column(String(100))  # who last returned the operations form
    evaluated_by: Mapped[str | None] = mapped_column(String(100))  # null: not yet, or accepted by timeout
    comment: Mapped[str | None] = mapped_column(String(MAX_COMMENT))  # the last evaluation's comment
    reopened: Mapped[int] = mapped_column(Integer, default=0)  # how often the applicant sent it back
    escalated_at: Mapped[datetime | None]  # operations did not finish in time: administrators were told
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
