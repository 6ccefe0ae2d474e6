"""The cart: specs a tenant user collects before applying for them (one line per spec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine import clock
from engine.domains.cart.models import CartItem
from engine.domains.catalog.models import Product, ProductSpec
from engine.domains.catalog.service import describe_spec, orderable_spec, visible_to
from engine.errors import InvalidInput, NotFound
from engine.principal import Principal
from engine.tenancy.access import PermissionDenied

if TYPE_CHECKING:
    from engine.core import Engine

MAX_QUANTITY = 1000
MAX_LINES = 100


def tenant_user(principal: Principal) -> str:
    """The caller's tenant: carts and applications belong to tenant users only."""
    if principal.tenant_id is None:
        raise PermissionDenied("platform staff do not apply for resources; sign in as a tenant user")
    return principal.tenant_id


def quantity_of(value: Any, field: str = "quantity") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_QUANTITY:
        raise InvalidInput(f"{field}: a whole number from 1 to {MAX_QUANTITY}",
                           errors=[{"field": field, "message": f"a whole number from 1 to {MAX_QUANTITY}"}])
    return value


def _describe(item: CartItem, product: Product, spec: ProductSpec, orderable: bool) -> dict[str, Any]:
    return {"id": item.id, "product_id": product.id, "product_code": product.code, "product_name": product.name,
            "spec": describe_spec(spec), "quantity": item.quantity, "orderable": orderable,
            "created_at": item.created_at, "updated_at": item.updated_at}


def _view(s: Session, principal: Principal) -> dict[str, Any]:
    tenant_id = tenant_user(principal)
    rows = s.execute(select(CartItem, Product, ProductSpec)
                     .join(Product, Product.id == CartItem.product_id)
                     .join(ProductSpec, ProductSpec.id == CartItem.spec_id)
                     .where(CartItem.user_id == principal.user_id, CartItem.tenant_id == tenant_id)
                     .order_by(CartItem.created_at, Product.name, ProductSpec.sort_order, ProductSpec.code)).all()
    visible = set(s.scalars(select(Product.id).where(visible_to(tenant_id),
                                                     Product.id.in_([p.id for _i, p, _s in rows]))))
    items = [_describe(i, p, sp, p.id in visible and sp.enabled) for i, p, sp in rows]
    return {"items": items, "count": len(items)}


def get_cart(engine: Engine, principal: Principal) -> dict[str, Any]:
    with engine.db.read() as s:
        return _view(s, principal)


def add_item(engine: Engine, principal: Principal, *, spec_id: str, quantity: int = 1) -> dict[str, Any]:
    """Add a spec; adding one already in the cart adds to its quantity."""
    tenant_id = tenant_user(principal)
    quantity = quantity_of(quantity)
    with engine.db.write() as s:
        product, spec = orderable_spec(s, tenant_id, spec_id)
        row = s.scalars(select(CartItem).where(CartItem.user_id == principal.user_id, CartItem.spec_id == spec.id)
                        .with_for_update()).first()
        if row is None:
            count = len(s.scalars(select(CartItem.id).where(CartItem.user_id == principal.user_id)).all())
            if count >= MAX_LINES:
                raise InvalidInput(f"the cart holds at most {MAX_LINES} lines")
            s.add(CartItem(tenant_id=tenant_id, user_id=principal.user_id, product_id=product.id, spec_id=spec.id,
                           quantity=quantity))
        else:
            row.quantity = quantity_of(row.quantity + quantity)
            row.updated_at = clock.now()
        s.flush()
        return _view(s, principal)


def _own(s: Session, principal: Principal, item_id: str) -> CartItem:
    row = s.scalars(select(CartItem).where(CartItem.id == item_id, CartItem.user_id == principal.user_id,
                                           CartItem.tenant_id == tenant_user(principal))).first()
    if row is None:
        raise NotFound(f"cart item {item_id} not found")
    return row


def set_quantity(engine: Engine, principal: Principal, item_id: str, quantity: int) -> dict[str, Any]:
    quantity = quantity_of(quantity)
    with engine.db.write() as s:
        row = _own(s, principal, item_id)
        row.quantity, row.updated_at = quantity, clock.now()
        s.flush()
        return _view(s, principal)


def remove_item(engine: Engine, principal: Principal, item_id: str) -> dict[str, Any]:
    with engine.db.write() as s:
        s.delete(_own(s, principal, item_id))
        s.flush()
        return _view(s, principal)


def clear(engine: Engine, principal: Principal) -> None:
    tenant_id = tenant_user(principal)
    with engine.db.write() as s:
        s.execute(delete(CartItem).where(CartItem.user_id == principal.user_id, CartItem.tenant_id == tenant_id))


def take(s: Session, principal: Principal, item_ids: list[str], *, remove: bool = True) -> list[tuple[str, int]]:
    """(spec id, quantity) of the caller's cart items ``item_ids``, removed from the cart in the
    caller's transaction (an application made from them owns them now) unless ``remove`` is false."""
    wanted = list(dict.fromkeys(item_ids))
    rows = s.scalars(select(CartItem).where(CartItem.id.in_(wanted), CartItem.user_id == principal.user_id,
                                            CartItem.tenant_id == tenant_user(principal))).all()
    found = {r.id: r for r in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise InvalidInput(f"cart_item_ids: not in your cart: {', '.join(missing)}",
                           errors=[{"field": "cart_item_ids", "message": f"not in your cart: {', '.join(missing)}"}])
    out = [(found[i].spec_id, found[i].quantity) for i in wanted]
    if remove:
        s.execute(delete(CartItem).where(CartItem.id.in_(wanted)))
    return out


def discard_lines(engine: Engine, principal: Principal, item_ids: list[str]) -> None:
    """Remove the caller's cart lines ``item_ids`` (those already gone are ignored)."""
    with engine.db.write() as s:
        s.execute(delete(CartItem).where(CartItem.id.in_(list(item_ids)), CartItem.user_id == principal.user_id))
