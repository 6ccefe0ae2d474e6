"""The catalog: categories (two levels), products and their specs, and which tenants see them.

Tenant users see enabled products that are platform-wide or opened to their tenant; a product
they cannot see answers NotFound, as anything of another tenant does. Platform staff see and
manage everything (disabled products included). Pricing comes later.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors import vector
from engine import audit, clock
from engine.domains.catalog.models import Product, ProductCategory, ProductSpec, ProductVisibility
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Tenant
from engine.principal import Principal
from engine.tenancy.access import PermissionDenied

if TYPE_CHECKING:
    from engine.core import Engine

VISIBILITIES = ("all", "tenants")
_INT_FIELDS = ("vcpu", "gpu_count", "instances", "eips")
_DECIMAL_FIELDS = ("memory_gib", "disk_gib")
MAX_DIMENSION = 1_000_000


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE, with the wildcards in ``text`` escaped (use ``escape='\\\\'``)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# -- visibility ----------------------------------------------------------------------------------

def visible_to(tenant_id: str | None) -> Any:
    """Products a tenant's users may see (None: platform staff, who see everything)."""
    if tenant_id is None:
        return Product.id.is_not(None)
    opened = exists().where(ProductVisibility.product_id == Product.id, ProductVisibility.tenant_id == tenant_id)
    return (Product.enabled.is_(True)) & or_(Product.visibility == "all", opened)


def orderable_spec(s: Session, tenant_id: str, spec_id: str, *, field: str = "spec_id") -> tuple[Product, ProductSpec]:
    """A spec a tenant may apply for now: enabled, of an enabled product the tenant sees."""
    found = s.execute(select(Product, ProductSpec).join(ProductSpec, ProductSpec.product_id == Product.id)
                      .where(ProductSpec.id == spec_id, ProductSpec.enabled.is_(True), visible_to(tenant_id))).first()
    if found is None:
        raise _field_error(field, f"no orderable spec {spec_id}")
    return found[0], found[1]


# -- views ----------------------------------------------------------------------------------------

def describe_spec(spec: ProductSpec) -> dict[str, Any]:
    return {"id": spec.id, "code": spec.code, "name": spec.name, "vcpu": spec.vcpu, "memory_gib": spec.memory_gib,
            "disk_gib": spec.disk_gib, "gpu_model": spec.gpu_model, "gpu_count": spec.gpu_count,
            "gpus_by_model": dict(spec.gpus_by_model or {}), "instances": spec.instances, "eips": spec.eips,
            "enabled": spec.enabled}


def _describe_product(product: Product, category: ProductCategory, specs: list[ProductSpec],
                      tenant_ids: list[str] | None) -> dict[str, Any]:
    out = {"id": product.id, "code": product.code, "name": product.name, "description": product.description,
           "category_id": category.id, "category_code": category.code, "category_name": category.name,
           "parent_category_id": category.parent_id, "visibility": product.visibility, "enabled": product.enabled,
           "specs": [describe_spec(sp) for sp in specs], "created_at": product.created_at,
           "updated_at": product.updated_at}
    if tenant_ids is not None:  # platform staff only
        out["tenant_ids"] = tenant_ids
    return out


def _specs_of(s: Session, product_ids: list[str], *, enabled_only: bool) -> dict[str, list[ProductSpec]]:
    q = select(ProductSpec).where(ProductSpec.product_id.in_(product_ids))
    if enabled_only:
        q = q.where(ProductSpec.enabled.is_(True))
    out: dict[str, list[ProductSpec]] = {pid: [] for pid in product_ids}
    for spec in s.scalars(q.order_by(ProductSpec.sort_order, ProductSpec.code)):
        out[spec.product_id].append(spec)
    return out


def _tenants_of(s: Session, product_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {pid: [] for pid in product_ids}
    for pid, tid in s.execute(select(ProductVisibility.product_id, ProductVisibility.tenant_id)
                              .where(ProductVisibility.product_id.in_(product_ids))
                              .order_by(ProductVisibility.tenant_id)):
        out[pid].append(tid)
    return out


def _describe_many(s: Session, principal: Principal, rows: list[tuple[Product, ProductCategory]]) -> list[dict]:
    ids = [p.id for p, _c in rows]
    specs = _specs_of(s, ids, enabled_only=not principal.is_platform)
    tenants = _tenants_of(s, ids) if principal.is_platform else {}
    return [_describe_product(p, c, specs[p.id], tenants.get(p.id) if principal.is_platform else None)
            for p, c in rows]


# -- reading ----------------------------------------------------------------------------------------

def list_categories(engine: Engine, principal: Principal) -> list[dict[str, Any]]:
    """Top-level categories with their children, each with the number of products the caller sees."""
    with engine.db.read() as s:
        counts = dict(s.execute(select(Product.category_id, func.count()).where(visible_to(principal.tenant_id))
                                .group_by(Product.category_id)).all())
        cats = s.scalars(select(ProductCategory).order_by(ProductCategory.sort_order, ProductCategory.code)).all()
    tops = [c for c in cats if c.parent_id is None]
    out = []
    for top in tops:
        children = [{"id": c.id, "code": c.code, "name": c.name, "product_count": counts.get(c.id, 0)}
                    for c in cats if c.parent_id == top.id]
        out.append({"id": top.id, "code": top.code, "name": top.name,
                    "product_count": counts.get(top.id, 0) + sum(c["product_count"] for c in children),
                    "children": children})
    return out


def search_products(engine: Engine, principal: Principal, *, q: str | None = None, category_id: str | None = None,
                    gpu_model: str | None = None, offset: int = 0, limit: int = 20
                    ) -> tuple[list[dict[str, Any]], int]:
    """Visible products, by text (name, code, description, spec name or GPU model), category (a
    top-level one includes its children) and GPU model; ordered by name."""
    where = [visible_to(principal.tenant_id)]
    spec_match = select(ProductSpec.product_id)
    if not principal.is_platform:
        spec_match = spec_match.where(ProductSpec.enabled.is_(True))
    if q:
        pattern = like_pattern(q.strip())
        where.append(or_(func.lower(Product.name).like(pattern, escape="\\"),
                         func.lower(Product.code).like(pattern, escape="\\"),
                         func.lower(Product.description).like(pattern, escape="\\"),
                         Product.id.in_(spec_match.where(or_(
                             func.lower(ProductSpec.name).like(pattern, escape="\\"),
                             func.lower(ProductSpec.gpu_model).like(pattern, escape="\\"))))))
    if gpu_model:
        model = func.lower(ProductSpec.gpu_model)  # one model, or several as "A100, H100"
        esc = gpu_model.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(Product.id.in_(spec_match.where(or_(
            model == gpu_model.lower(), model.like(f"{esc}, %", escape="\\"), model.like(f"%, {esc}", escape="\\"),
            model.like(f"%, {esc}, %", escape="\\")))))
    if category_id:
        children = select(ProductCategory.id).where(ProductCategory.parent_id == category_id)
        where.append(or_(Product.category_id == category_id, Product.category_id.in_(children)))
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(Product).where(*where)) or 0
        rows = s.execute(select(Product, ProductCategory).join(ProductCategory,
                                                                ProductCategory.id == Product.category_id)
                         .where(*where).order_by(Product.name, Product.id).limit(limit).offset(offset)).all()
        return _describe_many(s, principal, [(p, c) for p, c in rows]), int(total)


def get_product(engine: Engine, principal: Principal, product_id: str) -> dict[str, Any]:
    with engine.db.read() as s:
        return _product_view(s, principal, product_id)


def _product_view(s: Session, principal: Principal, product_id: str) -> dict[str, Any]:
    found = s.execute(select(Product, ProductCategory).join(ProductCategory, ProductCategory.id == Product.category_id)
                      .where(Product.id == product_id, visible_to(principal.tenant_id))).first()
    if found is None:
        raise NotFound(f"product {product_id} not found")
    return _describe_many(s, principal, [(found[0], found[1])])[0]


# -- managing (platform staff) ------------------------------------------------------------------------

def _staff(principal: Principal) -> None:
    if not principal.is_platform:
        raise PermissionDenied("the catalog is managed by platform staff")


def _text(value: Any, field: str, max_len: int, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise _field_error(field, f"{'non-empty ' if required else ''}text of at most {max_len} characters")
    return value.strip()


def spec_values(raw: dict[str, Any], field: str) -> dict[str, Any]:
    """A spec's columns from input, checked: whole numbers for counts, at most 3 decimals for sizes."""
    out: dict[str, Any] = {"code": _text(raw.get("code"), f"{field}.code", 64),
                           "name": _text(raw.get("name"), f"{field}.name", 200)}
    for name in _INT_FIELDS:
        value = raw.get(name, 1 if name == "instances" else 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DIMENSION:
            raise _field_error(f"{field}.{name}", f"a whole number from 0 to {MAX_DIMENSION}")
        out[name] = value
    for name in _DECIMAL_FIELDS:
        try:
            value = Decimal(str(raw.get(name, 0)))
        except (InvalidOperation, ValueError):
            value = Decimal("NaN")
        if not value.is_finite() or not 0 <= value <= MAX_DIMENSION or value != value.quantize(Decimal("0.001")):
            raise _field_error(f"{field}.{name}", f"a number from 0 to {MAX_DIMENSION} with at most 3 decimals")
        out[name] = value
    out.update(_gpu_values(raw, field, out["gpu_count"]))
    out["enabled"] = bool(raw.get("enabled", True))
    out["sort_order"] = int(raw.get("sort_order", 0) or 0)
    return out


def _gpu_values(raw: dict[str, Any], field: str, gpu_count: int) -> dict[str, Any]:
    """``gpus_by_model`` ({"H100": 8}), or the older ``gpu_model`` + ``gpu_count`` (one model): the
    per-model split, the total (``gpu_count``, their sum) and the models as one text (``gpu_model``)."""
    by_model = raw.get("gpus_by_model")
    if by_model is None:
        gpu_model = raw.get("gpu_model")
        if gpu_model not in (None, ""):
            gpu_model = _text(gpu_model, f"{field}.gpu_model", vector.MAX_MODEL_LENGTH)
            if problem := vector.model_problem(gpu_model):
                raise _field_error(f"{field}.gpu_model", problem)
        else:
            gpu_model = None
        if gpu_count and not gpu_model:
            raise _field_error(f"{field}.gpu_model", "required when gpu_count is above 0")
        return {"gpu_model": gpu_model, "gpu_count": gpu_count,
                "gpus_by_model": {gpu_model: gpu_count} if gpu_count and gpu_model else {}}
    if not isinstance(by_model, dict) or len(by_model) > 16:
        raise _field_error(f"{field}.gpus_by_model", "an object of at most 16 {model: count}")
    split = {}
    for model, count in by_model.items():
        if problem := vector.model_problem(model):
            raise _field_error(f"{field}.gpus_by_model", f"{model!r}: {problem}")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_DIMENSION:
            raise _field_error(f"{field}.gpus_by_model.{model}", f"a whole number from 0 to {MAX_DIMENSION}")
        if count:
            split[model] = count
    total = sum(split.values())
    if gpu_count not in (0, total):
        raise _field_error(f"{field}.gpu_count", f"must be left out or equal the sum of gpus_by_model ({total})")
    label = vector.models_label(split)
    if label is not None and len(label) > vector.MAX_MODEL_LENGTH:
        raise _field_error(f"{field}.gpus_by_model", "too many models to name in gpu_model")
    return {"gpu_model": label, "gpu_count": total, "gpus_by_model": split}


def create_category(engine: Engine, principal: Principal, *, code: str, name: str, parent_id: str | None = None,
                    sort_order: int = 0, ip: str | None = None) -> dict[str, Any]:
    _staff(principal)
    code, name = _text(code, "code", 64), _text(name, "name", 200)
    with engine.db.write() as s:
        if parent_id is not None:
            parent = s.get(ProductCategory, parent_id)
            if parent is None:
                raise _field_error("parent_id", "no such category")
            if parent.parent_id is not None:
                raise _field_error("parent_id", "categories have two levels: the parent must be a top-level one")
        if s.scalar(select(ProductCategory.id).where(ProductCategory.code == code)) is not None:
            raise Conflict(f"category code {code!r} is taken", errors=[{"field": "code", "message": "is taken"}])
        row = ProductCategory(code=code, name=name, parent_id=parent_id, sort_order=sort_order)
        s.add(row)
        s.flush()
        audit.record(s, action="catalog.category.create", actor=principal.username, target_type="category",
                     target_id=row.id, detail={"code": code, "parent_id": parent_id}, ip=ip)
        return {"id": row.id, "code": row.code, "name": row.name, "parent_id": row.parent_id, "children": []}


def _tenant_ids(s: Session, visibility: str, tenant_ids: Iterable[str] | None) -> list[str]:
    if visibility not in VISIBILITIES:
        raise _field_error("visibility", f"one of {', '.join(VISIBILITIES)}")
    wanted = list(dict.fromkeys(tenant_ids or []))
    if visibility == "all":
        if wanted:
            raise _field_error("tenant_ids", "only a product visible to listed tenants lists tenants")
        return []
    known = set(s.scalars(select(Tenant.id).where(Tenant.id.in_(wanted)))) if wanted else set()
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise _field_error("tenant_ids", f"unknown tenants: {', '.join(unknown)}")
    return wanted


def create_product(engine: Engine, principal: Principal, *, code: str, name: str, category_id: str,
                   description: str = "", visibility: str = "all", tenant_ids: Iterable[str] | None = None,
                   specs: list[dict[str, Any]] | None = None, enabled: bool = True,
                   ip: str | None = None) -> dict[str, Any]:
    _staff(principal)
    code, name = _text(code, "code", 64), _text(name, "name", 200)
    description = _text(description or "", "description", 2000, required=False)
    spec_rows = [spec_values(raw, f"specs[{i}]") for i, raw in enumerate(specs or [])]
    if len({sp["code"] for sp in spec_rows}) != len(spec_rows):
        raise _field_error("specs", "spec codes must be unique within a product")
    try:
        with engine.db.write() as s:
            if s.get(ProductCategory, category_id) is None:
                raise _field_error("category_id", "no such category")
            tenants = _tenant_ids(s, visibility, tenant_ids)
            product = Product(code=code, name=name, description=description, category_id=category_id,
                              visibility=visibility, enabled=enabled)
            s.add(product)
            s.flush()
            s.add_all(ProductSpec(product_id=product.id, **sp) for sp in spec_rows)
            s.add_all(ProductVisibility(product_id=product.id, tenant_id=t) for t in tenants)
            s.flush()
            audit.record(s, action="catalog.product.create", actor=principal.username, target_type="product",
                         target_id=product.id, detail={"code": code, "visibility": visibility, "tenant_ids": tenants},
                         ip=ip)
            return _product_view(s, principal, product.id)
    except IntegrityError as exc:
        raise Conflict(f"product code {code!r} is taken", errors=[{"field": "code", "message": "is taken"}]) from exc


def update_product(engine: Engine, principal: Principal, product_id: str, *, name: str | None = None,
                   description: str | None = None, enabled: bool | None = None, visibility: str | None = None,
                   tenant_ids: Iterable[str] | None = None, ip: str | None = None) -> dict[str, Any]:
    """Change a product's name, description, availability or who sees it (visibility and tenants)."""
    _staff(principal)
    with engine.db.write() as s:
        product = s.scalars(select(Product).where(Product.id == product_id).with_for_update()).first()
        if product is None:
            raise NotFound(f"product {product_id} not found")
        before = {"enabled": product.enabled, "visibility": product.visibility}
        if name is not None:
            product.name = _text(name, "name", 200)
        if description is not None:
            product.description = _text(description, "description", 2000, required=False)
        if enabled is not None:
            product.enabled = bool(enabled)
        if visibility is not None or tenant_ids is not None:
            new_visibility = visibility or product.visibility
            tenants = _tenant_ids(s, new_visibility, tenant_ids)
            product.visibility = new_visibility
            s.execute(delete(ProductVisibility).where(ProductVisibility.product_id == product_id))
            s.add_all(ProductVisibility(product_id=product_id, tenant_id=t) for t in tenants)
        product.updated_at = clock.now()
        s.flush()
        audit.record(s, action="catalog.product.update", actor=principal.username, target_type="product",
                     target_id=product_id, detail={"before": before, "enabled": product.enabled,
                                                   "visibility": product.visibility}, ip=ip)
        return _product_view(s, principal, product_id)
