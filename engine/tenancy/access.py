"""What every tenancy operation starts with: which tenant it acts in, and loading rows visibly."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import Tenant
from engine.principal import Principal

T = TypeVar("T")


class PermissionDenied(Forbidden):
    """The caller may see the object but not do this to it (HTTP 403)."""


def field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def acting_tenant(session: Session, principal: Principal, tenant_id: str | None) -> str:
    """The tenant an operation acts in: a tenant user's own (naming another is NotFound); platform
    staff must name one."""
    if principal.tenant_id is not None:
        if tenant_id not in (None, principal.tenant_id):
            raise NotFound(f"tenant {tenant_id} not found")
        return principal.tenant_id
    if not tenant_id:
        raise field_error("tenant_id", "platform staff must name the tenant")
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant_id


def visible(principal: Principal, tenant_id: str | None) -> bool:
    """Platform staff see every tenant's rows; a tenant user only its own tenant's."""
    return principal.tenant_id is None or tenant_id == principal.tenant_id


def load(session: Session, principal: Principal, model: type[T], object_id: str, label: str, *,
         lock: bool = False, where: list[Any] | None = None) -> T:
    """The row, or NotFound when it does not exist, is another tenant's or falls outside ``where``."""
    q = select(model).where(model.id == object_id, *(where or []))  # type: ignore[attr-defined]
    if principal.tenant_id is not None:
        q = q.where(model.tenant_id == principal.tenant_id)  # type: ignore[attr-defined]
    if lock:
        q = q.with_for_update()
    row = session.scalars(q).first()
    if row is None:
        raise NotFound(f"{label} {object_id} not found")
    return row


TENANT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # organisations, business systems


def check_code(s: Session, model: Any, tenant_id: str, code: str, what: str, exclude: str | None = None) -> None:
    """A code must be well formed and unique among ``model`` rows of the tenant (422 / 409 naming ``code``)."""
    if not TENANT_CODE.match(code):
        raise field_error("code", "letters, digits, '_', '.' and '-' (1-64)")
    q = select(model.id).where(model.tenant_id == tenant_id, model.code == code)
    if exclude is not None:
        q = q.where(model.id != exclude)
    if s.scalar(q) is not None:
        raise Conflict(f"{what} code {code!r} is taken in this tenant",
                       errors=[{"field": "code", "message": "is taken"}])

