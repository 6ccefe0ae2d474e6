"""The work orders port (``tasks.ports.WorkOrdersPort``) for one write transaction.

Bound to the calling instance (``instance_scope``): only the platform's own processes
(``Runtime.internal_keys``: ``work_order`` is called by provisioning and termination, which run
inside them) open and move work orders, and only in their instance's tenant; another tenant's work
order answers as unknown. A refusal becomes the BPMN error its code names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.domains.work_orders import rules
from engine.domains.work_orders.models import WorkOrder
from engine.ports import Port, instance_scope
from tasks.ports import Refused


def _scope_tenant() -> tuple[str, str | None]:
    """(tenant, initiator) of the calling instance, which must be one of the platform's own."""
    scope = instance_scope()
    if not scope.internal:
        raise Refused("NOT_ALLOWED", "work orders are opened and moved by the platform's own processes only")
    return scope.tenant_id, scope.initiator


def _locked(s: Session, tenant_id: str, work_order_id: Any) -> WorkOrder:
    unknown = Refused("UNKNOWN_WORK_ORDER", f"no work order {work_order_id!r}")
    if not isinstance(work_order_id, str) or len(work_order_id) > 36:
        raise unknown
    q = select(WorkOrder).where(WorkOrder.id == work_order_id, WorkOrder.tenant_id == tenant_id)
    row = s.scalars(q.with_for_update().execution_options(populate_existing=True)).first()
    if row is None:
        raise unknown
    return row


class WorkOrders(Port):
    def _run(self, step: Callable[[Session], dict[str, Any]]) -> dict[str, Any]:
        with self._ports.session() as s:
            try:
                return step(s)
            except rules.Refusal as exc:
                raise Refused(exc.code, exc.message) from exc

    def open(self, kind: str, title: str, details: dict[str, Any] | None, source_key: str, *,
             order_id: str | None = None, resource_id: str | None = None, unit_id: str | None = None
             ) -> dict[str, Any]:
        tenant_id, initiator = _scope_tenant()

        def step(s: Session) -> dict[str, Any]:
            w, created = rules.open_order(s, tenant_id, kind=kind, title=title, details=details,
                                          source_key=source_key, order_id=order_id, resource_id=resource_id,
                                          unit_id=unit_id, initiator=initiator)
            return {**rules.describe(w), "created": created}

        return self._run(step)

    def update(self, work_order_id: str, status: str, result: dict[str, Any] | None = None,
               comment: str | None = None) -> dict[str, Any]:
        tenant_id, _initiator = _scope_tenant()
        return self._run(lambda s: rules.describe(rules.move(s, _locked(s, tenant_id, work_order_id), status,
                                                             result=result, comment=comment)))

    def escalate(self, work_order_id: str) -> dict[str, Any]:
        tenant_id, _initiator = _scope_tenant()

        def step(s: Session) -> dict[str, Any]:
            w = rules.escalate(s, _locked(s, tenant_id, work_order_id))
            return {**rules.describe(w), "tenant_id": w.tenant_id, "title": w.title,
                    "escalated_at": w.escalated_at.isoformat() if w.escalated_at else None}

        return self._run(step)
