"""The catalog over HTTP: categories, product search and detail; management by platform staff."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.domains.catalog import service as catalog

blp = Blueprint("catalog", __name__, url_prefix="/api/v1/catalog", description="Product catalog")


class SubcategorySchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    product_count = fields.Integer(metadata={"description": "products you can see"})


class CategorySchema(SubcategorySchema):
    children = fields.List(fields.Nested(SubcategorySchema))


class CategoryInSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    parent_id = fields.String(load_default=None, metadata={"description": "a top-level category; none: top level"})
    sort_order = fields.Integer(load_default=0)


class ProductSpecSchema(Schema):
    id = fields.String(dump_only=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    vcpu = fields.Integer(load_default=0, validate=validate.Range(min=0))
    memory_gib = fields.Decimal(load_default=0, as_string=True, places=3, validate=validate.Range(min=0))
    disk_gib = fields.Decimal(load_default=0, as_string=True, places=3, validate=validate.Range(min=0))
    gpu_model = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100), metadata={
        "description": "the accelerator model; with several (gpus_by_model), their names joined: \"A100, H100\""})
    gpu_count = fields.Integer(load_default=0, validate=validate.Range(min=0),
                               metadata={"description": "GPUs per unit, every model together"})
    gpus_by_model = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)),
                                values=fields.Integer(validate=validate.Range(min=0)), load_default=None, metadata={
        "description": "GPUs per unit by accelerator model, e.g. {\"H100\": 8}, summing to gpu_count. On input give "
                       "either this or gpu_model + gpu_count (one model)"})
    instances = fields.Integer(load_default=1, validate=validate.Range(min=0))
    eips = fields.Integer(load_default=0, validate=validate.Range(min=0))
    enabled = fields.Boolean(load_default=True)


class ProductSchema(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    description = fields.String()
    category_id = fields.String()
    category_code = fields.String()
    category_name = fields.String()
    parent_category_id = fields.String(allow_none=True)
    visibility = fields.String(metadata={"description": "all: every tenant; tenants: only tenant_ids"})
    tenant_ids = fields.List(fields.String(), metadata={"description": "platform staff only"})
    enabled = fields.Boolean()
    specs = fields.List(fields.Nested(ProductSpecSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ProductInSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    category_id = fields.String(required=True)
    visibility = fields.String(load_default="all", validate=validate.OneOf(catalog.VISIBILITIES))
    tenant_ids = fields.List(fields.String(), load_default=list)
    specs = fields.List(fields.Nested(ProductSpecSchema), load_default=list)
    enabled = fields.Boolean(load_default=True)


class ProductPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=2000))
    enabled = fields.Boolean()
    visibility = fields.String(validate=validate.OneOf(catalog.VISIBILITIES))
    tenant_ids = fields.List(fields.String())


class ProductQuery(PageArgs):
    q = fields.String(load_default=None, metadata={"description": "text in name, code, description, spec or GPU"})
    category_id = fields.String(load_default=None, metadata={"description": "a top-level one includes its children"})
    gpu_model = fields.String(load_default=None)


@blp.route("/categories")
class Categories(MethodView):
    @requires("catalog:read")
    @blp.response(200, CategorySchema(many=True))
    def get(self) -> Any:
        """The two-level category tree, with how many products you can see in each."""
        return catalog.list_categories(engine(), current_principal())

    @requires("catalog:manage")
    @idempotent
    @blp.arguments(CategoryInSchema)
    @blp.response(201, CategorySchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a category (platform staff)."""
        return catalog.create_category(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/products")
class Products(MethodView):
    @requires("catalog:read")
    @blp.arguments(ProductQuery, location="query")
    @blp.response(200, page_schema(ProductSchema, "ProductPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """Search the products you can see (platform-wide ones and those opened to your tenant)."""
        rows, total = catalog.search_products(engine(), current_principal(), q=args["q"],
                                              category_id=args["category_id"], gpu_model=args["gpu_model"],
                                              offset=offset(args), limit=args["page_size"])
        return page(rows, total, args)

    @requires("catalog:manage")
    @idempotent
    @blp.arguments(ProductInSchema)
    @blp.response(201, ProductSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a product with its specs (platform staff); ``visibility: tenants`` opens it to ``tenant_ids`` only."""
        return catalog.create_product(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/products/<string:product_id>")
class ProductItem(MethodView):
    @requires("catalog:read")
    @blp.response(200, ProductSchema)
    def get(self, product_id: str) -> Any:
        """A product and its specs (404 when your tenant cannot see it)."""
        return catalog.get_product(engine(), current_principal(), product_id)

    @requires("catalog:manage")
    @blp.arguments(ProductPatchSchema)
    @blp.response(200, ProductSchema)
    def patch(self, body: dict[str, Any], product_id: str) -> Any:
        """Rename, describe, enable or disable a product, or change which tenants see it (platform staff)."""
        return catalog.update_product(engine(), current_principal(), product_id, **body, ip=client_ip())
