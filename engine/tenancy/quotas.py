"""Quotas per tenant and per organisation, for each of ``QUOTA_DIMENSIONS`` (Decimal amounts).

Levels form a tree: the tenant, its top-level organisations, their sub-organisations. For each
level and dimension:

``total``       what the level was given (a tenant's by platform staff, an organisation's by its
                tenant's administrators, out of its parent's available amount)
``allocated``   the sum of its direct children's totals
``used``, ``in_process``  consumption anywhere in its subtree: a reservation is booked at the
                organisation, at every ancestor and at the tenant, so each row says what is in use
                below it
``available``   ``total - allocated - used - in_process``, where used and in_process count only
                what is booked directly at this level (consumption inside a child is already covered
                by the child's allocation): what the level can still hand out or consume itself

GPUs per accelerator model: besides the ``gpus`` total, each model a reservation names is booked
as ``gpus:<model>`` (``connectors.vector``) at every level, in a row created on first use. Such a row
counts (used, in_process) and, once ``capped`` by a total, limits that model at its level and
subtree exactly as a base dimension does; uncapped (``total`` None in the views) only the ``gpus``
total limits it. For per-model rows a child's commitment towards its parent is its cap when capped,
else what it uses; an uncapped parent hands out nothing for that model.

Rules: a child's total never exceeds what its parent has available (plus what the child already
had); a level's total never drops below what it allocated plus what it uses itself. Breaking one
is a Conflict (409) naming the dimension and the level.

Concurrency: every operation locks the rows of the chain it touches, tenant first and down the
tree (FOR UPDATE on PostgreSQL; SQLite write transactions are serial), so concurrent
reservations and total changes never overcommit and never deadlock on each other.

``reserve``, ``commit_reserved`` and ``release`` run in the CALLER's transaction (a flow reserves
inside the same transaction that records its request).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from connectors import vector
from engine import audit, clock
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import QUOTA_DIMENSIONS, Organization, Quota, Tenant
from engine.principal import Principal
from engine.tenancy.access import PermissionDenied, acting_tenant, load
from engine.tenancy.organizations import scoped as org_scoped

if TYPE_CHECKING:
    from engine.core import Engine

ZERO = Decimal(0)
QUANTUM = Decimal("0.001")
MAX_AMOUNT = Decimal("999999999999999")  # Numeric(18, 3)


# -- amounts ---------------------------------------------------------------------------------------

def amounts_of(values: Mapping[str, Any], *, field: str = "amounts") -> dict[str, Decimal]:
    """Validate ``{dimension: amount}``: known dimensions (or ``gpus:<model>``), finite, non-negative,
    at most 3 decimals."""
    out, problems = {}, []
    for dim, raw in values.items():
        if not isinstance(dim, str) or not vector.is_dimension(dim):
            problems.append({"field": f"{field}.{dim}",
                             "message": f"unknown dimension; one of {', '.join(QUOTA_DIMENSIONS)} or gpus:<model>"})
            continue
        try:
            amount = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            amount = Decimal("NaN")
        if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT or amount != amount.quantize(QUANTUM):
            problems.append({"field": f"{field}.{dim}", "message": "must be a number from 0 with at most 3 decimals"})
            continue
        out[dim] = amount.quantize(QUANTUM)
    if problems:
        raise InvalidInput("; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems)
    return out


# -- the chain of levels ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Level:
    tenant_id: str
    organization_id: str | None  # None: the tenant itself
    label: str  # "tenant 'alpha'" / "organization 'rd'"

    @property
    def kind(self) -> str:
        return "tenant" if self.organization_id is None else "organization"


def chain(s: Session, tenant_id: str, organization_id: str | None) -> list[Level]:
    """The tenant, then each organisation from the top of the tree down to ``organization_id``: one
    statement (an ancestor's ``path`` is a prefix of its descendants')."""
    tenant = s.get(Tenant, tenant_id) if organization_id is None else None
    if organization_id is None:
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return [Level(tenant_id, None, f"tenant {tenant.code!r}")]
    target, above = aliased(Organization), aliased(Organization)
    rows = s.execute(
        select(Tenant.code, target.id, above.id, above.code)
        .outerjoin(target, and_(target.id == organization_id, target.tenant_id == Tenant.id))
        .outerjoin(above, and_(above.tenant_id == Tenant.id,
                               func.substr(target.path, 1, func.length(above.path)) == above.path))
        .where(Tenant.id == tenant_id).order_by(func.length(above.path))).all()
    if not rows:
        raise NotFound(f"tenant {tenant_id} not found")
    if rows[0][1] is None:
        raise NotFound(f"organization {organization_id} not found")
    levels = [Level(tenant_id, None, f"tenant {rows[0][0]!r}")]
    return levels + [Level(tenant_id, org_id, f"organization {code!r}") for _t, _o, org_id, code in rows]


def _ensure(s: Session, level: Level, dims: list[str]) -> None:
    """Create a level's missing rows (total 0; per-model GPU rows uncapped); concurrent creators are
    fine (ON CONFLICT DO NOTHING)."""
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    for dim in dims:
        s.execute(insert(Quota).values(tenant_id=level.tenant_id, organization_id=level.organization_id,
                                       dimension=dim, capped=dim in vector.BY_NAME).on_conflict_do_nothing())


def _level_clause(level: Level) -> Any:
    org = Quota.organization_id
    return (Quota.tenant_id == level.tenant_id,
            org.is_(None) if level.organization_id is None else org == level.organization_id)


def _lock(s: Session, levels: list[Level], dims: Any = ()) -> dict[tuple[str | None, str], Quota]:
    """Lock every row of ``levels`` top-down (always the same order: no deadlocks between callers),
    creating the base rows and those of ``dims`` (per-model GPU rows) that a level lacks. One
    statement for the whole chain (rows are locked in the order it sorts them), two more only
    when rows had to be created."""
    return _lock_with_children(s, levels, dims, children=False)[0]


def _lock_with_children(s: Session, levels: list[Level], dims: Any = (), *, children: bool = True
                        ) -> tuple[dict[tuple[str | None, str], Quota], list[Quota]]:
    """``_lock``, and with ``children`` the rows of the last level's child organisations in the same
    statement (what ``figures_of`` reads): locked after the chain's, so still top-down, and nobody
    waits longer for them, since every changer of a tenant's quota locks the tenant's rows first."""
    needed = [*QUOTA_DIMENSIONS, *sorted(set(dims) - set(QUOTA_DIMENSIONS))]
    orgs = [level.organization_id for level in levels if level.organization_id]
    depth = case((Quota.organization_id.is_(None), 0),  # the tenant's rows first, then down the chain
                 *((Quota.organization_id == org, i) for i, org in enumerate(orgs, start=1)), else_=len(orgs) + 1)
    reached = Quota.organization_id.is_(None) | Quota.organization_id.in_(orgs)
    if children:
        reached = reached | Quota.organization_id.in_(_children(levels[-1]))
    q = (select(Quota).where(Quota.tenant_id == levels[0].tenant_id, reached)
         .order_by(depth, Quota.organization_id, Quota.dimension).with_for_update()
         .execution_options(populate_existing=True))
    chain_orgs = {None, *orgs}
    found = list(s.scalars(q))
    have = {(r.organization_id, r.dimension) for r in found if r.organization_id in chain_orgs}
    missing = {level: [d for d in needed if (level.organization_id, d) not in have] for level in levels}
    if any(missing.values()):  # first use of a level or model: create the rows, then lock them all
        for level, dims_missing in missing.items():
            if dims_missing:
                _ensure(s, level, dims_missing)
        found = list(s.scalars(q))
    return ({(row.organization_id, row.dimension): row for row in found if row.organization_id in chain_orgs},
            [row for row in found if row.organization_id not in chain_orgs])


def _children(level: Level) -> Any:
    parent = Organization.parent_id
    return select(Organization.id).where(Organization.tenant_id == level.tenant_id,
                                         parent.is_(None) if level.organization_id is None
                                         else parent == level.organization_id)


@dataclass
class Figures:
    total: Decimal
    allocated: Decimal
    used: Decimal
    in_process: Decimal
    direct_used: Decimal
    direct_in_process: Decimal

    @property
    def available(self) -> Decimal:
        return self.total - self.allocated - self.direct_used - self.direct_in_process


def _figures(row: Quota, children: list[Quota]) -> Figures:
    """Only capped children hold an allocation; an uncapped (per-model) child's usage counts as the
    level's own."""
    capped = [c for c in children if c.capped]

    def total_of(attr: str) -> Decimal:
        return sum((getattr(c, attr) for c in capped), ZERO)

    return Figures(row.total, total_of("total"), row.used, row.in_process, row.used - total_of("used"),
                   row.in_process - total_of("in_process"))


def figures(s: Session, level: Level, row: Quota) -> Figures:
    """A level's figures for one dimension; the children's totals cannot move while ``row`` is locked
    (changing a child's total or usage locks this row first)."""
    return figures_of(s, level, {row.dimension: row})[row.dimension]


def figures_of(s: Session, level: Level, rows: Mapping[str, Quota], kids: list[Quota] | None = None
               ) -> dict[str, Figures]:
    """``figures`` for several dimensions of one level, reading its children in one statement
    (``kids``: their rows, when the caller has them)."""
    if kids is None:
        kids = list(s.scalars(select(Quota).where(Quota.tenant_id == level.tenant_id,
                                                  Quota.dimension.in_(sorted(rows)),
                                                  Quota.organization_id.in_(_children(level)))
                              .execution_options(populate_existing=True)))
    return {dim: _figures(row, [k for k in kids if k.dimension == dim]) for dim, row in rows.items()}


def _conflict(dim: str, level: Level, message: str, **numbers: Decimal) -> Conflict:
    """409 naming the dimension and the level that is short."""
    return Conflict(f"{dim}: {message}", errors=[{
        "dimension": dim, "level": level.kind, "level_id": level.organization_id or level.tenant_id,
        "level_label": level.label, **{k: str(v) for k, v in numbers.items()}}])


# -- reservations (the caller's transaction) -------------------------------------------------------

def reserve(session: Session, tenant_id: str, organization_id: str | None, amounts: Mapping[str, Any]) -> None:
    """Book ``amounts`` as in-process at the organisation, every ancestor and the tenant.

    Conflict names the first dimension and level that is short: the organisation when its own
    available amount does not cover it, an ancestor when its total would be exceeded.
    """
    wanted = {d: a for d, a in amounts_of(amounts).items() if a}
    if not wanted:
        return
    levels = chain(session, tenant_id, organization_id)
    rows, kids = _lock_with_children(session, levels, wanted)
    booking = levels[-1]
    booked = figures_of(session, booking, {dim: rows[(booking.organization_id, dim)] for dim in wanted}, kids)
    for dim in sorted(wanted, key=vector.dimension_order):
        amount = wanted[dim]
        own = booked[dim]
        if rows[(booking.organization_id, dim)].capped and own.available < amount:
            raise _conflict(dim, booking, f"{booking.label} has {own.available} available, {amount} requested",
                            requested=amount, available=own.available)
        for level in reversed(levels[:-1]):
            row = rows[(level.organization_id, dim)]
            headroom = row.total - row.used - row.in_process
            if row.capped and headroom < amount:
                raise _conflict(dim, level, f"{level.label} would exceed its total: {headroom} left, "
                                f"{amount} requested", requested=amount, available=headroom)
    _apply(rows, levels, wanted, in_process=+1)


def commit_reserved(session: Session, tenant_id: str, organization_id: str | None,
                    amounts: Mapping[str, Any]) -> None:
    """The reserved amounts are now in use: move them from in-process to used at every level."""
    wanted = {d: a for d, a in amounts_of(amounts).items() if a}
    if not wanted:
        return
    levels = chain(session, tenant_id, organization_id)
    rows = _lock(session, levels, wanted)
    _require(rows, levels, wanted, "in_process")
    _apply(rows, levels, wanted, in_process=-1, used=+1)


def release(session: Session, tenant_id: str, organization_id: str | None, amounts: Mapping[str, Any], *,
            used: bool = False) -> None:
    """Give amounts back: a reservation that will not be used (default), or with ``used=True``
    resources that were in use and are gone."""
    wanted = {d: a for d, a in amounts_of(amounts).items() if a}
    if not wanted:
        return
    levels = chain(session, tenant_id, organization_id)
    rows = _lock(session, levels, wanted)
    attr = "used" if used else "in_process"
    _require(rows, levels, wanted, attr)
    _apply(rows, levels, wanted, **{attr: -1})


def _require(rows: dict[tuple[str | None, str], Quota], levels: list[Level], wanted: dict[str, Decimal],
             attr: str) -> None:
    for dim, amount in wanted.items():
        for level in levels:
            have = getattr(rows[(level.organization_id, dim)], attr)
            if have < amount:
                what = "reserved" if attr == "in_process" else "in use"
                raise _conflict(dim, level, f"{level.label} has only {have} {what}, {amount} to give back",
                                requested=amount, available=have)


def _apply(rows: dict[tuple[str | None, str], Quota], levels: list[Level], wanted: dict[str, Decimal], *,
           in_process: int = 0, used: int = 0) -> None:
    now = clock.now()
    for dim, amount in wanted.items():
        for level in levels:
            row = rows[(level.organization_id, dim)]
            row.in_process += in_process * amount
            row.used += used * amount
            row.updated_at = now


# -- reading and setting totals (their own transactions) -------------------------------------------

def _visible_level(s: Session, engine: Engine, principal: Principal, tenant_id: str | None,
                   organization_id: str | None, permission: str) -> str:
    """The tenant acted in, after checking the principal reaches the level with ``permission``."""
    if organization_id is None:
        tenant = acting_tenant(s, principal, tenant_id)
        if principal.tenant_id is not None and "all" not in engine.authorizer.scopes(principal, permission):
            raise NotFound(f"quota of tenant {tenant} not found")
        return tenant
    org = load(s, principal, Organization, organization_id, "organization",
               where=org_scoped(engine, principal, permission))
    if tenant_id is not None and org.tenant_id != tenant_id:
        raise NotFound(f"organization {organization_id} not found")
    return org.tenant_id


def describe_level(s: Session, level: Level) -> dict[str, Any]:
    """Every dimension's figures for one level (no locks: a consistent-enough read for display)."""
    rows = {r.dimension: r for r in s.scalars(select(Quota).where(*_level_clause(level)))}
    kids = list(s.scalars(select(Quota).where(Quota.tenant_id == level.tenant_id,
                                              Quota.organization_id.in_(_children(level)))))
    out, by_model = {}, {}
    for dim in [*QUOTA_DIMENSIONS, *sorted(d for d in rows if vector.gpu_model_of(d) is not None)]:
        row = rows.get(dim) or Quota(tenant_id=level.tenant_id, organization_id=level.organization_id, dimension=dim,
                                     total=ZERO, used=ZERO, in_process=ZERO, capped=True)
        f = _figures(row, [k for k in kids if k.dimension == dim])
        figs: dict[str, Any] = {name: Decimal(value).quantize(QUANTUM) for name, value in (
            ("total", f.total), ("allocated", f.allocated), ("available", f.available), ("used", f.used),
            ("in_process", f.in_process))}
        model = vector.gpu_model_of(dim)
        if model is None:
            out[dim] = figs
        else:  # uncapped: no total and nothing available of its own; the gpus total limits it
            by_model[model] = {**figs, "capped": row.capped, **({} if row.capped else {"total": None,
                                                                                      "available": None})}
    return {"tenant_id": level.tenant_id, "organization_id": level.organization_id, "level": level.kind,
            "label": level.label, "dimensions": out, "gpus_by_model": by_model}


def get_quota(engine: Engine, principal: Principal, *, tenant_id: str | None = None,
              organization_id: str | None = None) -> dict[str, Any]:
    with engine.db.read() as s:
        tenant = _visible_level(s, engine, principal, tenant_id, organization_id, "quota:read")
        return describe_level(s, chain(s, tenant, organization_id)[-1])


def list_quotas(engine: Engine, principal: Principal, *, tenant_id: str | None = None, offset: int = 0,
                limit: int = 20) -> tuple[list[dict[str, Any]], int]:
    """The tenant level (when the scope reaches it) and every organisation the principal reaches, tree order."""
    with engine.db.read() as s:
        tenant = acting_tenant(s, principal, tenant_id)
        levels: list[Level] = []
        if principal.tenant_id is None or "all" in engine.authorizer.scopes(principal, "quota:read"):
            levels.append(chain(s, tenant, None)[0])
        orgs = s.execute(select(Organization.id, Organization.code)
                         .where(Organization.tenant_id == tenant, *org_scoped(engine, principal, "quota:read"))
                         .order_by(Organization.path)).all()
        levels += [Level(tenant, oid, f"organization {code!r}") for oid, code in orgs]
        return [describe_level(s, lv) for lv in levels[offset:offset + limit]], len(levels)


def set_totals(engine: Engine, principal: Principal, totals: Mapping[str, Any], *, tenant_id: str | None = None,
               organization_id: str | None = None, ip: str | None = None) -> dict[str, Any]:
    """Set totals of one level. A tenant's totals are platform staff's to set; an organisation's come
    out of its parent's available amount. ``totals["gpus_by_model"]`` ({"H100": 8, "A100": None})
    caps accelerator models (None lifts a cap)."""
    totals = dict(totals)
    caps = totals.pop("gpus_by_model", None) or {}
    if not isinstance(caps, Mapping):
        raise InvalidInput("totals.gpus_by_model: an object of {model: total or null}",
                           errors=[{"field": "totals.gpus_by_model", "message": "an object of {model: total or null}"}])
    for model in caps:
        if problem := vector.model_problem(model):
            raise InvalidInput(f"totals.gpus_by_model.{model}: {problem}",
                               errors=[{"field": f"totals.gpus_by_model.{model}", "message": problem}])
    wanted: dict[str, Decimal | None] = {**amounts_of(totals, field="totals"), **{
        vector.gpu_dimension(m): amounts_of({vector.gpu_dimension(m): v}, field="totals.gpus_by_model")[
            vector.gpu_dimension(m)] if v is not None else None for m, v in caps.items()}}
    if organization_id is None and principal.tenant_id is not None:
        if tenant_id not in (None, principal.tenant_id):
            raise NotFound(f"tenant {tenant_id} not found")
        raise PermissionDenied("only platform staff set a tenant's quota")
    with engine.db.write() as s:
        tenant = _visible_level(s, engine, principal, tenant_id, organization_id, "quota:update")
        levels = chain(s, tenant, organization_id)
        rows = _lock(s, levels, wanted)
        level, parent = levels[-1], (levels[-2] if len(levels) > 1 else None)
        before: dict[str, str | None] = {}
        for dim, new in wanted.items():
            row = rows[(level.organization_id, dim)]
            before[dim] = str(row.total) if row.capped else None
            if new is None:  # lift a model's cap: its usage counts towards its parent as the level's own
                row.capped, row.total, row.updated_at = False, ZERO, clock.now()
                continue
            own = figures(s, level, row)
            floor = own.allocated + own.direct_used + own.direct_in_process
            if new < floor:
                raise _conflict(dim, level, f"{level.label} cannot go below {floor}: {own.allocated} is allocated to "
                                f"its organisations and {own.direct_used + own.direct_in_process} is in use at it",
                                requested=new, minimum=floor, allocated=own.allocated)
            committed = row.total if row.capped else row.used + row.in_process  # what the parent covers now
            if parent is not None and new > committed and rows[(parent.organization_id, dim)].capped:
                up = figures(s, parent, rows[(parent.organization_id, dim)])
                if new - committed > up.available:
                    raise _conflict(dim, parent, f"{parent.label} has only {up.available} available, raising "
                                    f"{level.label} from {committed} to {new} needs {new - committed}",
                                    requested=new - committed, available=up.available)
            row.total, row.capped, row.updated_at = new, True, clock.now()
        s.flush()
        audit.record(s, action="quota.update", actor=principal.username, tenant_id=tenant, target_type=level.kind,
                     target_id=level.organization_id or tenant,
                     detail={"before": before, "after": {d: None if v is None else str(v) for d, v in wanted.items()}},
                     ip=ip)
        return describe_level(s, level)
