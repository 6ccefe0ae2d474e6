"""Ports: the narrow interfaces through which operators reach platform data.

Operators never import ``engine``. The ones that must read or change platform rows (quota,
orders, application records, site messages) ask ``current()`` for the ports bound to the
database transaction that is running the service task, and call these methods on them. The
engine implements the protocols and binds an implementation for the length of every write
transaction, so whatever an operator does through a port commits or rolls back together with
the process step that called it. Outside such a transaction (``aicmp bpmn simulate``, a test
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


class Ports(Protocol):
    """The ports of one transaction. The engine builds each on first access, by name, from what
    its installed domains registered; a port no domain registered raises AttributeError."""

    applications: ApplicationsPort
    quota: QuotaPort
    orders: OrdersPort
    messages: MessagesPort


_BOUND: ContextVar[tuple[Any, ...]] = ContextVar("aicmp_ports", default=())


def current() -> Ports:
    """The ports of the transaction running this operator."""
    stack = _BOUND.get()
    if not stack:
        raise PortUnavailable("no platform ports are bound: this operator must run inside an engine "
                              "transaction (inline service task)")
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
