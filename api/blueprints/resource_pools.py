"""Resource pools over HTTP: capacity per dimension, utilisation and cost; static pools; prices
and performance scores. Capacity of a synchronised pool comes from its connector (sync the
account), never from this API."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.domains.resources import service

blp = Blueprint("resource_pools", __name__, url_prefix="/api/v1/resource-pools",
                description="Resource pools: capacity, utilisation and cost per dimension")


class PoolDimensionSchema(Schema):
    dimension = fields.String(metadata={"description": "vcpu, memory_gib, disk_gib, gpus or gpus:<model>"})
    unit = fields.String()
    total = fields.Decimal(as_string=True)
    allocated = fields.Decimal(as_string=True, metadata={"description": "given to resources"})
    used = fields.Decimal(as_string=True, metadata={"description": "measured in use"})
    free = fields.Decimal(as_string=True, metadata={"description": "total - allocated"})
    utilisation = fields.Decimal(as_string=True, metadata={"description": "allocated / total"})
    unit_cost = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "per unit per hour"})
    perf_score = fields.Decimal(as_string=True, allow_none=True,
                                metadata={"description": "performance score of the accelerator model"})
    accelerator_kind = fields.String(allow_none=True, metadata={"description": "gpu or npu"})
    accelerator_use = fields.String(allow_none=True, metadata={"description": "training, inference or general"})


class ResourcePoolSchema(Schema):
    id = fields.String()
    name = fields.String()
    account_id = fields.String(allow_none=True)
    provider_type = fields.String(allow_none=True)
    tenant_id = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    scope = fields.String(metadata={"description": "the provider's capacity scope (zone, cluster, host)"})
    kind = fields.String()
    static = fields.Boolean()
    health = fields.String(metadata={"description": "the account's health"})
    utilisation = fields.Decimal(as_string=True, metadata={"description": "the busiest dimension's"})
    hourly_cost_allocated = fields.Decimal(as_string=True,
                                           metadata={"description": "allocated amounts at their unit costs"})
    dimensions = fields.List(fields.Nested(PoolDimensionSchema))
    instance_types = fields.List(fields.Dict(), metadata={"description": "what can be ordered there"})
    synced_at = fields.DateTime(allow_none=True)


class ResourcePoolQuery(PageArgs):
    account_id = fields.String(load_default=None)
    region = fields.String(load_default=None)
    gpu_model = fields.String(load_default=None, metadata={"description": "only pools with this accelerator model"})
    include_absent = fields.Boolean(load_default=False,
                                    metadata={"description": "also pools the last sync no longer saw"})


class StaticResourcePoolSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    region = fields.String(load_default=None, validate=validate.Length(max=100))
    dimensions = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True,
                             metadata={"description": "dimension -> {total, allocated, used, unit_cost, "
                                                      "perf_score}, amounts as decimal text"})


class ResourcePoolPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    unit_costs = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                             metadata={"description": "dimension -> cost per unit per hour (decimal text; "
                                                      "null clears)"})
    perf_scores = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True),
                              metadata={"description": "accelerator model -> performance score"})
    dimensions = fields.Dict(keys=fields.String(), values=fields.Dict(),
                             metadata={"description": "static pools only: dimension -> {total, allocated, used}"})


@blp.route("")
class Pools(MethodView):
    @requires("resource-pool:read")
    @blp.arguments(ResourcePoolQuery, location="query")
    @blp.response(200, page_schema(ResourcePoolSchema, "ResourcePoolPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """List pools with capacity, utilisation and cost (staff: all; a tenant: its own accounts')."""
        rows, total = service.list_pools(engine(), current_principal(), account_id=args["account_id"],
                                         region=args["region"], gpu_model=args["gpu_model"],
                                         include_absent=args["include_absent"], offset=offset(args),
                                         limit=args["page_size"])
        return page(rows, total, args)

    @requires("resource-pool:manage")
    @idempotent
    @blp.arguments(StaticResourcePoolSchema)
    @blp.response(201, ResourcePoolSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a static pool (capacity typed by hand; staff only)."""
        return service.create_static_pool(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/<string:pool_id>")
class PoolItem(MethodView):
    @requires("resource-pool:read")
    @blp.response(200, ResourcePoolSchema)
    def get(self, pool_id: str) -> Any:
        """One pool."""
        return service.get_pool(engine(), current_principal(), pool_id)

    @requires("resource-pool:manage")
    @blp.arguments(ResourcePoolPatchSchema)
    @blp.response(200, ResourcePoolSchema)
    def patch(self, body: dict[str, Any], pool_id: str) -> Any:
        """Rename, set unit costs and performance scores; a static pool's capacity too."""
        return service.update_pool(engine(), current_principal(), pool_id, **body, ip=client_ip())

    @requires("resource-pool:manage")
    @blp.response(204)
    def delete(self, pool_id: str) -> None:
        """Delete a static pool."""
        service.delete_static_pool(engine(), current_principal(), pool_id, ip=client_ip())
