"""Price plans and discounts: creating them (platform staff), versioning them, and choosing the one
that prices a line.

A plan targets a product, a spec or a component (``COMPONENTS``, optionally ``:<model>``: a GPU card
model, a model service). A change is a new version: the old one stops being valid at that instant
(``superseded``) and lines it priced keep pointing at it. The most specific valid plan applies:
the tenant's own price before the list price, then spec, product, component of that model, any
model (``resolve``); the line's ``explanation`` says which was chosen among how many.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import audit, clock
from engine.domains.billing import dayrules, money, tiers
from engine.domains.billing.models import PriceDiscount, PricePlan
from engine.domains.catalog.models import ProductSpec
from engine.errors import InvalidInput, NotFound

TARGET_KINDS = ("product", "spec", "component")
COMPONENTS = ("gpu", "gpu_memory_gib", "vcpu", "memory_gib", "storage_gib", "input_tokens", "output_tokens",
              "api_calls", "runtime_hours")
BILLING_MODES = ("on_demand", "subscription_monthly", "subscription_yearly", "per_use")
UNITS = ("hour", "use", "day", "month", "year")
MODE_UNITS = {"on_demand": ("hour", "day", "month", "year"), "subscription_monthly": ("month",),
              "subscription_yearly": ("year",), "per_use": ("use",)}
PRORATIONS = ("day", "hour")
DISCOUNT_KINDS = ("percent", "fixed")
CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
COMPONENT = re.compile(r"^([a-z_]+)(?::([A-Za-z0-9][A-Za-z0-9 ._+-]{0,99}))?$")


def field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def component_problem(code: Any) -> str | None:
    """Why ``code`` names no component (``vcpu``, ``gpu:H100``, ``input_tokens:qwen-72b``), or None."""
    found = COMPONENT.match(code) if isinstance(code, str) else None
    if found is None or found.group(1) not in COMPONENTS:
        return f"one of {', '.join(COMPONENTS)}, optionally followed by :<model>"
    return None


# -- checking input -------------------------------------------------------------------------------

def plan_values(raw: dict[str, Any]) -> dict[str, Any]:
    """A plan's columns from input, every rule checked (422 naming the field)."""
    out: dict[str, Any] = {}
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise field_error("name", "non-empty text of at most 200 characters")
    out["name"] = name.strip()
    kind = raw.get("target_kind")
    if kind not in TARGET_KINDS:
        raise field_error("target_kind", f"one of {', '.join(TARGET_KINDS)}")
    target = raw.get("target")
    if kind == "component" and (problem := component_problem(target)):
        raise field_error("target", problem)
    if not isinstance(target, str) or not target or len(target) > 120:
        raise field_error("target", "the product id, spec id or component code")
    mode, unit = raw.get("billing_mode"), raw.get("unit")
    if mode not in BILLING_MODES:
        raise field_error("billing_mode", f"one of {', '.join(BILLING_MODES)}")
    if unit not in MODE_UNITS[mode]:
        raise field_error("unit", f"{mode} is priced per {' or '.join(MODE_UNITS[mode])}")
    out.update(target_kind=kind, target=target, billing_mode=mode, unit=unit)
    price = money.parse(raw.get("unit_price", "0"), places=8)
    if price is None:
        raise field_error("unit_price", "a non-negative amount with at most 8 decimals")
    out["unit_price"] = price
    out.update(_tier_values(raw))
    out.update(_day_rule_values(raw, unit))
    proration = raw.get("proration", "day")
    if proration not in PRORATIONS:
        raise field_error("proration", f"one of {', '.join(PRORATIONS)}")
    out["proration"] = proration
    return out


def _tier_values(raw: dict[str, Any]) -> dict[str, Any]:
    mode = raw.get("tier_mode", "flat")
    if mode not in tiers.MODES:
        raise field_error("tier_mode", f"one of {', '.join(tiers.MODES)}")
    if mode == "flat":
        if raw.get("tiers"):
            raise field_error("tiers", "only a graduated or volume plan has bands")
        return {"tier_mode": mode, "tiers": []}
    bands = tiers.check(raw.get("tiers"))
    if isinstance(bands, str):
        raise field_error("tiers", bands)
    return {"tier_mode": mode, "tiers": bands}


def _day_rule_values(raw: dict[str, Any], unit: str) -> dict[str, Any]:
    allowed = dayrules.rules_for(unit)
    rule = raw.get("day_rule")
    if not allowed:
        if rule is not None:
            raise field_error("day_rule", f"a price per {unit} has no day rule")
        return {"day_rule": None, "day_price": None}
    rule = rule or dayrules.DEFAULT_RULE[unit]
    if rule not in allowed:
        raise field_error("day_rule", f"for a price per {unit}: one of {', '.join(allowed)}")
    day_price = None
    if rule == "fixed_day":
        day_price = money.parse(raw.get("day_price"), places=8)
        if day_price is None:
            raise field_error("day_price", "the fixed_day rule needs a non-negative day price")
    elif raw.get("day_price") is not None:
        raise field_error("day_price", "only the fixed_day rule takes a day price")
    return {"day_rule": rule, "day_price": day_price}


def _instant(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise field_error(field, "an ISO 8601 date-time with a time zone") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise field_error(field, "an ISO 8601 date-time with a time zone")
    return value


# -- views ----------------------------------------------------------------------------------------

def describe(plan: PricePlan) -> dict[str, Any]:
    return {"id": plan.id, "code": plan.code, "version": plan.version, "tenant_id": plan.tenant_id,
            "name": plan.name, "target_kind": plan.target_kind, "target": plan.target,
            "billing_mode": plan.billing_mode, "unit": plan.unit, "unit_price": money.text(plan.unit_price),
            "tier_mode": plan.tier_mode, "tiers": list(plan.tiers or []), "day_rule": plan.day_rule,
            "day_price": money.text(plan.day_price), "proration": plan.proration, "valid_from": plan.valid_from,
            "valid_to": plan.valid_to, "status": plan.status, "created_at": plan.created_at}


def describe_discount(row: PriceDiscount) -> dict[str, Any]:
    return {"id": row.id, "tenant_id": row.tenant_id, "plan_code": row.plan_code, "kind": row.kind,
            "value": money.text(row.value), "valid_from": row.valid_from, "valid_to": row.valid_to,
            "reason": row.reason}


# -- writing (the service checks who may) -----------------------------------------------------------

def create(s: Session, raw: dict[str, Any], *, actor: str, ip: str | None = None) -> PricePlan:
    """Version 1 of a new plan code (409 when the code exists)."""
    code = raw.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        raise field_error("code", "1-64 of a-z, 0-9, _ . : - starting with a letter or digit")
    if s.scalar(select(PricePlan.id).where(PricePlan.code == code)) is not None:
        from engine.errors import Conflict

        raise Conflict(f"plan code {code!r} is taken", errors=[{"field": "code", "message": "is taken"}])
    values = plan_values(raw)
    plan = PricePlan(code=code, version=1, tenant_id=raw.get("tenant_id"), status="active", created_by=actor,
                     valid_from=_instant(raw.get("valid_from"), "valid_from") or clock.now(),
                     valid_to=_instant(raw.get("valid_to"), "valid_to"), **values)
    s.add(plan)
    s.flush()
    audit.record(s, action="billing.plan.create", actor=actor, tenant_id=plan.tenant_id, target_type="price_plan",
                 target_id=plan.id, detail={"code": code, "version": 1}, ip=ip)
    return plan


def new_version(s: Session, plan_id: str, raw: dict[str, Any], *, actor: str, ip: str | None = None) -> PricePlan:
    """The next version of the plan ``plan_id`` belongs to, valid from now; the current one stops
    being valid now and keeps every line it priced."""
    base = s.get(PricePlan, plan_id)
    if base is None:
        raise NotFound(f"price plan {plan_id} not found")
    current = s.scalars(select(PricePlan).where(PricePlan.code == base.code, PricePlan.status == "active")
                        .order_by(PricePlan.version.desc()).with_for_update()).first()
    latest = s.scalar(select(PricePlan.version).where(PricePlan.code == base.code)
                      .order_by(PricePlan.version.desc()).limit(1)) or 0
    merged = {**describe(current or base), **raw}
    values = plan_values(merged)
    now = clock.now()
    if current is not None:
        current.status, current.valid_to = "superseded", now
    plan = PricePlan(code=base.code, version=latest + 1, tenant_id=base.tenant_id, status="active", created_by=actor,
                     valid_from=now, valid_to=_instant(raw.get("valid_to"), "valid_to"), **values)
    s.add(plan)
    s.flush()
    audit.record(s, action="billing.plan.version", actor=actor, tenant_id=plan.tenant_id, target_type="price_plan",
                 target_id=plan.id, detail={"code": plan.code, "version": plan.version}, ip=ip)
    return plan


def create_discount(s: Session, raw: dict[str, Any], *, actor: str, ip: str | None = None) -> PriceDiscount:
    tenant_id = raw.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise field_error("tenant_id", "the tenant the discount is for")
    kind = raw.get("kind")
    if kind not in DISCOUNT_KINDS:
        raise field_error("kind", f"one of {', '.join(DISCOUNT_KINDS)}")
    value = money.parse(raw.get("value"), places=8)
    if value is None or (kind == "percent" and value > 100):
        raise field_error("value", "a percentage from 0 to 100" if kind == "percent" else "a non-negative amount")
    plan_code = raw.get("plan_code")
    if plan_code is not None and s.scalar(select(PricePlan.id).where(PricePlan.code == plan_code).limit(1)) is None:
        raise field_error("plan_code", f"no plan {plan_code!r}")
    valid_from = _instant(raw.get("valid_from"), "valid_from") or clock.now()
    valid_to = _instant(raw.get("valid_to"), "valid_to")
    if valid_to is not None and valid_to <= valid_from:
        raise field_error("valid_to", "must be after valid_from")
    row = PriceDiscount(tenant_id=tenant_id, plan_code=plan_code, kind=kind, value=value, valid_from=valid_from,
                        valid_to=valid_to, reason=str(raw.get("reason") or "")[:200], created_by=actor)
    s.add(row)
    s.flush()
    audit.record(s, action="billing.discount.create", actor=actor, tenant_id=tenant_id, target_type="price_discount",
                 target_id=row.id, detail={"plan_code": plan_code, "kind": kind, "value": str(value)}, ip=ip)
    return row


# -- choosing ---------------------------------------------------------------------------------------

_KIND_RANK = {"spec": 0, "product": 1}
_WHAT = {0: "the spec", 1: "the product", 2: "the component of this model", 3: "the component"}


def _targets(spec_id: str | None, product_id: str | None, component: str | None) -> list[tuple[str, str, int]]:
    out = []
    if spec_id:
        out.append(("spec", spec_id, 0))
    if product_id:
        out.append(("product", product_id, 1))
    if component:
        out.append(("component", component, 2 if ":" in component else 3))
        if ":" in component:
            out.append(("component", component.split(":", 1)[0], 3))
    return out


def _valid(tenant_id: str, start: datetime, end: datetime) -> list[Any]:
    return [PricePlan.status != "retired", PricePlan.valid_from < end,
            or_(PricePlan.valid_to.is_(None), PricePlan.valid_to > start),
            or_(PricePlan.tenant_id.is_(None), PricePlan.tenant_id == tenant_id)]


def _chosen(found: list[PricePlan], targets: list[tuple[str, str, int]]) -> tuple[PricePlan, dict[str, Any]] | None:
    """The most specific of ``found`` for ``targets`` (the tenant's own price first, then the
    narrowest target, then the newest), and why."""
    rank = {(k, t): r for k, t, r in targets}
    found = [p for p in found if (p.target_kind, p.target) in rank]
    if not found:
        return None
    found.sort(key=lambda p: (p.tenant_id is None, rank[(p.target_kind, p.target)], -p.valid_from.timestamp(),
                              -p.version))
    plan = found[0]
    why = {"plan_code": plan.code, "plan_version": plan.version,
           "chosen": f"{'tenant price' if plan.tenant_id else 'list price'} on "
                     f"{_WHAT[rank[(plan.target_kind, plan.target)]]}",
           "candidates": sorted({f"{p.code} v{p.version}" for p in found})}
    return plan, why


def product_of(s: Session, spec_id: str | None) -> str | None:
    """The product a spec belongs to (a plan on the product prices its specs)."""
    if not spec_id:
        return None
    return s.scalar(select(ProductSpec.product_id).where(ProductSpec.id == spec_id))


def resolve(s: Session, tenant_id: str, *, start: datetime, end: datetime, spec_id: str | None = None,
            product_id: str | None = None, component: str | None = None, billing_mode: str | None = None,
            plan_code: str | None = None) -> tuple[PricePlan, dict[str, Any]] | None:
    """The most specific plan valid at some instant of [start, end) for these targets, and why it
    was chosen; None when no plan prices them."""
    targets = _targets(spec_id, product_id, component)
    if not targets:
        return None
    q = select(PricePlan).where(*_valid(tenant_id, start, end),
                                or_(*[(PricePlan.target_kind == k) & (PricePlan.target == t) for k, t, _r in targets]))
    if billing_mode:
        q = q.where(PricePlan.billing_mode == billing_mode)
    if plan_code:
        q = q.where(PricePlan.code == plan_code)
    return _chosen(list(s.scalars(q)), targets)


def resolve_specs(s: Session, tenant_id: str, specs: dict[str, str | None], *, start: datetime, end: datetime
                  ) -> dict[str, tuple[PricePlan, dict[str, Any]] | None]:
    """``resolve`` for many specs at once (spec id -> its product id): one statement, however many."""
    if not specs:
        return {}
    wanted = {t for spec, product in specs.items() for _k, t, _r in _targets(spec, product, None)}
    found = list(s.scalars(select(PricePlan).where(*_valid(tenant_id, start, end),
                                                   PricePlan.target_kind.in_(("spec", "product")),
                                                   PricePlan.target.in_(sorted(wanted)))))
    return {spec: _chosen(found, _targets(spec, product, None)) for spec, product in specs.items()}


def discounts_for(s: Session, tenant_id: str, plan_code: str, start: datetime, end: datetime
                  ) -> list[PriceDiscount]:
    """The tenant's discounts on ``plan_code`` or on every plan valid at some instant of [start, end)."""
    return list(s.scalars(select(PriceDiscount).where(
        PriceDiscount.tenant_id == tenant_id,
        or_(PriceDiscount.plan_code.is_(None), PriceDiscount.plan_code == plan_code),
        PriceDiscount.valid_from < end, or_(PriceDiscount.valid_to.is_(None), PriceDiscount.valid_to > start))))


def pick_discount(rows: list[PriceDiscount], start: datetime, end: datetime) -> PriceDiscount | None:
    """The one that applies in [start, end): one on this plan before one on all, then the newest."""
    valid = [d for d in rows if d.valid_from < end and (d.valid_to is None or d.valid_to > start)]
    valid.sort(key=lambda d: (d.plan_code is None, -d.valid_from.timestamp()))
    return valid[0] if valid else None


def discount_for(s: Session, tenant_id: str, plan_code: str, start: datetime, end: datetime) -> PriceDiscount | None:
    """The tenant's discount for ``plan_code`` valid in [start, end)."""
    return pick_discount(discounts_for(s, tenant_id, plan_code, start, end), start, end)


def plans_by_id(s: Session, ids: Iterable[str]) -> dict[str, PricePlan]:
    wanted = [i for i in set(ids) if i]
    return {p.id: p for p in s.scalars(select(PricePlan).where(PricePlan.id.in_(wanted)))} if wanted else {}


def apply_discount(amount: Decimal, discount: PriceDiscount | None) -> tuple[Decimal, dict[str, Any] | None]:
    """``amount`` after the discount (percent off, or a fixed amount off the line, never below zero)."""
    if discount is None or amount <= 0:
        return amount, None
    if discount.kind == "percent":
        after = amount * (100 - Decimal(discount.value)) / 100
    else:
        after = max(Decimal(0), amount - Decimal(discount.value))
    return after, {"discount_id": discount.id, "kind": discount.kind, "value": str(discount.value),
                   "on": discount.plan_code or "every plan"}
