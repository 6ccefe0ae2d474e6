"""Data scope as WHERE clauses: which tenant-owned rows a principal may see with a permission.

Use it in every list or lookup of tenant-owned rows, e.g. the process-instance list::

    from engine.tenancy.scope import scope_where
    clauses = scope_where(engine.authorizer, principal, "process-instance:read", ProcessInstance)
    rows = s.scalars(select(ProcessInstance).where(*clauses, ...))

The clauses always include the tenant filter for a tenant user (platform staff are not limited to a
tenant), then OR the data scopes of the acting roles that grant ``permission``:

``all``            every row of the tenant
``org_and_below``  rows whose organisation is the user's or below it (``Organization.path`` prefix);
                   without an organisation column, rows created by users of those organisations
``my_systems``     rows of business systems the user is a member of; without a business-system
                   column it falls back to ``mine``
``mine``           rows the user created or initiated (``creator`` holds usernames, as
                   ``ProcessInstance.initiator`` and audit actors do), or the user's own row
                   (``owner`` holds user ids); without either, membership (``business_system``)
                   and then the user's own organisation (``organization``)

Columns default to the model's ``tenant_id``, ``organization_id``, ``business_system_id`` and
``created_by``/``initiator``; pass them explicitly for other shapes (e.g. ``organization=Organization.id``).
A scope that cannot be expressed for the model grants nothing. No acting role grants the permission:
one clause that is always false. A row outside the clauses must be answered NotFound, never 403.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true

from engine.models import BusinessSystemMember, Organization, User
from engine.principal import Principal

_UNSET: Any = object()


def _column(model: Any, given: Any, *names: str) -> Any:
    if given is not _UNSET:
        return given
    return next((getattr(model, n) for n in names if hasattr(model, n)), None)


def org_subtree_ids(principal: Principal) -> Any:
    """SELECT of the ids of the principal's organisation and every organisation below it."""
    mine = select(Organization.path).where(Organization.id == principal.organization_id).scalar_subquery()
    return select(Organization.id).where(Organization.tenant_id == principal.tenant_id,
                                         func.substr(Organization.path, 1, func.length(mine)) == mine)


def my_system_ids(principal: Principal) -> Any:
    """SELECT of the ids of the business systems the principal is a member of."""
    return select(BusinessSystemMember.business_system_id).where(BusinessSystemMember.user_id == principal.user_id)


def scope_clause(principal: Principal, scope: str, *, organization: Any = None, business_system: Any = None,
                 creator: Any = None, owner: Any = None) -> ColumnElement[bool]:
    """One scope as a condition on the given columns (see the module docstring)."""
    if scope == "all":
        return true()
    if scope == "org_and_below":
        if principal.organization_id is None:
            return false()
        if organization is not None:
            return organization.in_(org_subtree_ids(principal))
        members = select(User.username if creator is not None else User.id).where(
            User.organization_id.in_(org_subtree_ids(principal)))
        target = creator if creator is not None else owner
        return target.in_(members) if target is not None else false()
    if scope == "my_systems" and business_system is not None:
        return business_system.in_(my_system_ids(principal))
    if scope in ("mine", "my_systems"):
        mine = []
        if creator is not None:
            mine.append(creator == principal.username)
        if owner is not None:
            mine.append(owner == principal.user_id)
        if mine:
            return or_(*mine)
        if business_system is not None:
            return business_system.in_(my_system_ids(principal))
        if organization is not None and principal.organization_id is not None:
            return organization == principal.organization_id
        return false()
    raise ValueError(f"unknown data scope {scope!r}")


def scope_where(authorizer: Any, principal: Principal, permission: str, model: Any, *, tenant: Any = _UNSET,
                organization: Any = _UNSET, business_system: Any = _UNSET, creator: Any = _UNSET,
                owner: Any = None) -> list[ColumnElement[bool]]:
    """WHERE clauses (AND them) limiting ``model`` rows to what ``principal`` may reach with ``permission``."""
    tenant_col = _column(model, tenant, "tenant_id")
    clauses: list[ColumnElement[bool]] = []
    if principal.tenant_id is not None:
        if tenant_col is None:
            raise TypeError(f"{model!r} has no tenant column: pass tenant=")
        clauses.append(tenant_col == principal.tenant_id)
    scopes = authorizer.scopes(principal, permission)
    if not scopes:
        return [false()]
    if "all" in scopes:
        return clauses
    cols = {"organization": _column(model, organization, "organization_id"),
            "business_system": _column(model, business_system, "business_system_id"),
            "creator": _column(model, creator, "created_by", "initiator"), "owner": owner}
    clauses.append(or_(*(scope_clause(principal, s, **cols) for s in sorted(scopes))))
    return [and_(*clauses)] if len(clauses) > 1 else clauses
