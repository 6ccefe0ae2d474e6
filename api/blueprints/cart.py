"""The cart over HTTP: your lines (spec and quantity), add, change, remove, empty.

An application takes its items from here (``cart_item_ids``, api/blueprints/applications.py).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.blueprints.catalog import ProductSpecSchema
from api.security import current_principal, engine, requires
from engine.domains.cart import service as cart

blp = Blueprint("cart", __name__, url_prefix="/api/v1/cart", description="The cart")

CREATE = "application:create"


class CartAddSchema(Schema):  # a spec and how many: also an application's item (ApplicationItemInSchema)
    spec_id = fields.String(required=True)
    quantity = fields.Integer(load_default=1, validate=validate.Range(min=1, max=cart.MAX_QUANTITY))


class CartLineSchema(Schema):
    id = fields.String()
    product_id = fields.String()
    product_code = fields.String()
    product_name = fields.String()
    spec = fields.Nested(ProductSpecSchema)
    quantity = fields.Integer()
    orderable = fields.Boolean(metadata={"description": "false: the spec was withdrawn from your catalog"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CartSchema(Schema):
    items = fields.List(fields.Nested(CartLineSchema))
    count = fields.Integer()


class CartQuantitySchema(Schema):
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=cart.MAX_QUANTITY))


@blp.route("")
class Cart(MethodView):
    @requires(CREATE)
    @blp.response(200, CartSchema)
    def get(self) -> Any:
        """Your cart."""
        return cart.get_cart(engine(), current_principal())

    @requires(CREATE)
    @blp.response(204)
    def delete(self) -> None:
        """Empty your cart."""
        cart.clear(engine(), current_principal())


@blp.route("/items", methods=["POST"])
@requires(CREATE)
@blp.arguments(CartAddSchema)
@blp.response(200, CartSchema)
def add_to_cart(body: dict[str, Any]) -> Any:
    """Put a spec in your cart (again: adds to its quantity)."""
    return cart.add_item(engine(), current_principal(), spec_id=body["spec_id"], quantity=body["quantity"])


@blp.route("/items/<string:item_id>")
class CartLine(MethodView):
    @requires(CREATE)
    @blp.arguments(CartQuantitySchema)
    @blp.response(200, CartSchema)
    def patch(self, body: dict[str, Any], item_id: str) -> Any:
        """Change a line's quantity."""
        return cart.set_quantity(engine(), current_principal(), item_id, body["quantity"])

    @requires(CREATE)
    @blp.response(200, CartSchema)
    def delete(self, item_id: str) -> Any:
        """Remove a line."""
        return cart.remove_item(engine(), current_principal(), item_id)
