"""Ports: the narrow interfaces through which operators reach platform data.

Operators never import ``engine``. The ones that must read or change platform rows (quota,
orders, application records, site messages) ask ``current()`` for the ports bound to the
database transaction that is running the service task, and call these methods on them. The
engine implements the protocols and binds an implementation for the length of every write
transaction, so whatever an operator does through a port commits or rolls back together with
the process step that called it. An asynchronous operator (a job, run after the step committed)
gets ports too, but each of its port calls is its own short transaction, committed when the call
returns: such an operator must be safe to repeat. Outside both (``aicmp bpmn simulate``, a test
calling an operator directly) nothing is bound and ``current()`` raises ``PortUnavailable``;
tests bind their own implementation with ``bound(...)``.

Values crossing a port are plain: str, int, bool, Decimal, lists and dicts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, Protocol

Item = dict[str, Any]  # product_id, spec_id, product_name, spec_name, quantity, connectors.vector.LINE_FIELDS


class PortUnavailable(RuntimeError):
    """No ports are bound: the operator runs outside an engine transaction."""


class Refused(Exception):
    """The platform refused what the operator asked (an application in the wrong state, ...);
    ``code`` becomes the BPMN error code the operator raises."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class QuotaShort(Exception):
    """A reservation does not fit: ``dimension`` at ``level`` ("tenant" or "organization:<code>")."""

    def __init__(self, dimension: str, level: str, requested: Decimal, available: Decimal) -> None:
        super().__init__(f"quota {dimension} at {level}: requested {requested}, available {available}")
        self.dimension, self.level, self.requested, self.available = dimension, level, requested, available


class ApplicationsPort(Protocol):
    def get(self, application_id: str) -> dict[str, Any]:
        """id, number, tenant_id, organization_id, applicant, status, approvals, items (list of Item)."""

    def approvers(self, application_id: str, role: str) -> list[str]:
        """User names holding ``role`` in the nearest organisation, from the applicant's upwards,
        that has any (the applicant excluded); empty when no organisation has one."""

    def mark(self, application_id: str, status: str, *, comment: str | None = None) -> dict[str, Any]:
        """Move the application to ``status``; returns {status, previous}."""

    def record_decision(self, application_id: str, step: str, decision: str, comment: str | None) -> dict[str, Any]:
        """Record one approval step's decision; returns {approvals}."""


class QuotaPort(Protocol):
    def reserve(self, application_id: str, demand: dict[str, Decimal]) -> dict[str, str]:
        """Book ``demand`` as in-process at the applicant's organisation, its ancestors and the
        tenant, all or nothing. Raises QuotaShort naming the first dimension and level short."""

    def commit(self, application_id: str) -> dict[str, str]:
        """Turn the application's in-process quota into used; returns what was committed."""

    def release(self, application_id: str) -> dict[str, str]:
        """Give back the application's in-process quota (nothing when it holds none)."""


class OrdersPort(Protocol):
    def create(self, application_id: str, lines: list[Item]) -> dict[str, Any]:
        """Create the application's order from ``lines`` (once: a repeat returns the same order);
        returns {order_id, number, created}."""


class MessagesPort(Protocol):
    def send(self, tenant_id: str | None, recipients: list[str], kind: str, title: str, body: str,
             link: dict[str, Any]) -> int:
        """Put a site message in each recipient's mailbox; recipients are user names or
        ``role:<code>`` (every holder of the role in that tenant). Returns how many were written."""


class VouchersPort(Protocol):
    """A voucher redemption's steps (``redemption_id`` is the calling process's business key) and a
    voucher's expiry. Amounts cross as text; refusals are ``Refused`` with the BPMN error code."""

    def quote(self, redemption_id: str) -> dict[str, Any]: ...

    def hold(self, redemption_id: str) -> dict[str, Any]: ...

    def apply(self, redemption_id: str, amount: Any, comment: str | None) -> dict[str, Any]: ...

    def release(self, redemption_id: str, status: str, comment: str | None, reason: str | None) -> dict[str, Any]: ...

    def expire(self, voucher_id: str) -> dict[str, Any]: ...


class BillingPort(Protocol):
    """Rating a tenant's days and opening and closing rated resources (platform processes only);
    days are ``YYYY-MM-DD``, times ISO 8601 with a zone, amounts text."""

    def rate(self, day: str) -> dict[str, Any]:
        """Rate ``day`` and every earlier day with usage not rated yet; returns {days, lines, adjusted}."""

    def close_day(self, day: str) -> dict[str, Any]:
        """Rate ``day`` a last time and close it; returns {day, lines, bill, next_day, next_run}."""

    def start(self, resource_ref: str, started_at: str, **fields: Any) -> dict[str, Any]:
        """Open a rated resource (spec_id or component, quantity, billing_mode, plan_code, dimensions);
        returns {rated_resource_id, plan_id, created}."""

    def stop(self, resource_ref: str, stopped_at: str) -> dict[str, Any]:
        """Close it and rate its final day; returns {stopped, final_line}."""

    def price_order(self, application_id: str) -> dict[str, Any]:
        """Record which plan prices each line of the application's order now (a repeat records
        nothing new); returns {order_id, lines: [{order_item_id, plan_code, plan_version, chosen}]}."""


class ResourcesPort(Protocol):
    """Cloud accounts and resources for the ``connector/*`` operators (engine.domains.resources). A
    tenant's process reaches its tenant's own accounts and resources; the platform's accounts only
    from the platform's own processes. Anything else answers ``Refused("UNKNOWN_ACCOUNT" /
    "UNKNOWN_RESOURCE")``."""

    def connection(self, account_id: str) -> dict[str, Any]:
        """provider_type, endpoint, region, options, credentials: what ``connectors.registry.connect``
        takes. The credentials must never be logged, returned or put in process data."""

    def record(self, account_id: str, resource: dict[str, Any], *, origin: str = "created") -> dict[str, Any]:
        """Store a resource the connector reported (``connectors.base.Resource.to_dict()``) for the
        instance's tenant; returns the platform's row (resource_id, status, ...)."""

    def target(self, resource_id: str) -> dict[str, Any]:
        """The resource's account_id, provider_id, client_token and status."""

    def mark_deleted(self, resource_id: str) -> dict[str, Any]:
        """The provider no longer knows the resource: record it as deleted."""

    def probe(self, account_id: str) -> dict[str, Any]:
        """Probe the account now and record health and latency (an alert when it fails)."""

    def sync(self, account_id: str) -> dict[str, Any]:
        """Synchronise the account's pools and inventory now; returns pools and resource counts."""


class PlacementPort(Protocol):
    """The placement solver (engine.domains.placement): plans for one JSON instance (requests and
    pools), explained. Money and shares cross as text. A malformed instance, objective or weights is
    ``Refused("INVALID_INSTANCE")`` naming the field."""

    def plans(self, instance: dict[str, Any], objectives: list[str] | None = None,
              weights: dict[str, Any] | None = None, time_limit_s: float | None = None) -> dict[str, Any]:
        """{plans: [{objective, assignments, placed, cost, performance, max_util, status, gap, bound,
        solve_s, explanation, ...}]}: cost, performance and balance first (and custom with weights)."""

    def what_if(self, instance: dict[str, Any], objective: str, drain: list[str] | None = None,
                capacity: dict[str, Any] | None = None, weights: dict[str, Any] | None = None,
                time_limit_s: float | None = None) -> dict[str, Any]:
        """{changes, before, after, delta}: the plan re-solved with pools drained or capacities set."""

    def pools(self) -> list[dict[str, Any]]:
        """The resource pools the instance's tenant may be placed on, as instance pools (id, provider,
        region, capacity, total, utilisation, unit_cost, perf)."""

    def record_plans(self, application_id: str, plans: list[dict[str, Any]],
                     weights: dict[str, Any] | None = None) -> dict[str, Any]:
        """Store a round of plans for the instance's application (the applicant decides again):
        {skipped: False, round, weights, objectives, plans: [figures]}, small whatever the instance."""

    def pick(self, application_id: str, objective: str) -> dict[str, Any]:
        """The applicant's pick of the latest round (the plan's figures); ``Refused("NO_SUCH_PLAN")``
        when the round has no plan of that objective."""

    def confirm(self, application_id: str, decision: str, comment: str | None = None) -> dict[str, Any] | None:
        """An operator's decision on the pick: ``approve`` stores and returns the placement choice
        ({objective, weights, assignments, placed, cost, performance, max_util}); ``return`` sends it
        back to the applicant with ``comment`` (None)."""


class ResourceActionsPort(Protocol):
    """A resource request (terminate, start, stop, reboot, resize) for the process this domain
    started for it (engine.domains.resource_actions); ``request_id`` is its business key."""

    def get(self, request_id: str) -> dict[str, Any]:
        """request_id, tenant_id, kind, status, resource_id, order_id, params, requested_by,
        resource_name, unit (a termination's provisioning unit, or None)."""

    def mark(self, request_id: str, status: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
        """Move the request to ``status`` (result merged into its record); returns {status, previous}."""

    def approvers(self, request_id: str, role: str) -> list[str]:
        """Holders of ``role`` in the requester's nearest organisation upwards that has any."""

    def decision(self, request_id: str, step: str, decision: str, comment: str | None) -> dict[str, Any]:
        """Record one approval step's decision on a pending request."""

    def release_quota(self, request_id: str) -> dict[str, str]:
        """Give back one copy of the terminated resource's order line as used quota, once."""

    def expire(self, unit_id: str) -> dict[str, Any]:
        """``subscription_expiry``: open the unit's termination request (the instance's business
        key) once its term has passed; {terminate, unit_id, resource_id, request_id, reason}."""


class ProvisioningPort(Protocol):
    """Provisioning units (engine.domains.provisioning): one per copy of an order line. Only the
    platform's own processes change them, for the order of the application they run for; anything
    else is ``Refused("UNKNOWN_ORDER" / "UNKNOWN_UNIT")``."""

    def plan(self, order_id: str, placement_choice: dict[str, Any] | None) -> dict[str, Any]:
        """The order's units (made once): {order_id, number, units: [{unit_id, title, manual, account_id,
        pool_id, provider, spec, client_token, status}]}; copies without a usable pool are manual."""

    def attempt(self, unit_id: str) -> dict[str, Any]:
        """Count one more create attempt (status creating); returns {unit_id, attempts, status}."""

    def running(self, unit_id: str, resource: dict[str, Any] | None, work_order_id: str | None = None) \
            -> dict[str, Any]:
        """The unit runs (on ``resource``, a ``connector/*`` result, assigned to the order's business
        system); returns {unit_id, resource_id, started_at, billing: what billing/start takes}."""

    def failed(self, unit_id: str, code: str, message: str, work_order_id: str | None = None) -> dict[str, Any]:
        """Record the failure: status work_order (operations take over), or failed once the work
        order ``work_order_id`` ended without a resource."""

    def replace(self, unit_id: str, failed_pool_id: str | None, excluded: list[str] | None = None) -> dict[str, Any]:
        """Another pool for the unit (not the refused ones): {unit: the re-planned unit or None, excluded}."""

    def finish(self, order_id: str) -> dict[str, Any]:
        """The order's status from its units (running, partial, failed); {status, running, failed, waiting}."""

    def unit_of_resource(self, resource_id: str) -> dict[str, Any]:
        """{unit_id, order_id, order_item_id, spec_id, business_system_id, organization_id, status}."""

    def terminated(self, unit_id: str) -> dict[str, Any]:
        """The unit whose resource the calling termination ends is terminated; returns {unit_id, status}."""


class WorkOrdersPort(Protocol):
    """Work orders for operations (engine.domains.work_orders), opened and moved by the platform's own
    processes (``bpmn/work_order.bpmn``) in their tenant only; another tenant's id answers
    ``Refused("UNKNOWN_WORK_ORDER")``. Each returns {work_order_id, number, status, result, applicant,
    comment}."""

    def open(self, kind: str, title: str, details: dict[str, Any] | None, source_key: str, *,
             order_id: str | None = None, resource_id: str | None = None, unit_id: str | None = None
             ) -> dict[str, Any]:
        """The tenant's work order of ``source_key``, opened now (``created``: true) or found."""

    def update(self, work_order_id: str, status: str, result: dict[str, Any] | None = None,
               comment: str | None = None) -> dict[str, Any]:
        """Move it to ``status`` (done with the operations ``result``; reopened, accepted or cancelled)."""

    def escalate(self, work_order_id: str) -> dict[str, Any]:
        """Operations did not finish in time: note it; also returns tenant_id, title, escalated_at."""


class Ports(Protocol):
    """The ports of one transaction. The engine builds each on first access, by name, from what
    its installed domains registered; a port no domain registered raises AttributeError."""

    applications: ApplicationsPort
    quota: QuotaPort
    orders: OrdersPort
    messages: MessagesPort
    vouchers: VouchersPort
    billing: BillingPort
    resources: ResourcesPort
    placement: PlacementPort
    provisioning: ProvisioningPort
    resource_actions: ResourceActionsPort
    work_orders: WorkOrdersPort


_BOUND: ContextVar[tuple[Any, ...]] = ContextVar("aicmp_ports", default=())


def current() -> Ports:
    """The ports of the transaction running this operator."""
    stack = _BOUND.get()
    if not stack:
        raise PortUnavailable("no platform ports are bound: this operator must run as an engine service "
                              "task (inline in a step, or as its job)")
    return stack[-1]


def push(ports: Any) -> None:
    _BOUND.set((*_BOUND.get(), ports))


def pop(ports: Any) -> None:
    """Remove ``ports`` (the innermost binding that is it) from this context's bindings."""
    stack = list(_BOUND.get())
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is ports:
            del stack[i]
            break
    _BOUND.set(tuple(stack))


@contextmanager
def bound(ports: Any) -> Iterator[Any]:
    push(ports)
    try:
        yield ports
    finally:
        pop(ports)
