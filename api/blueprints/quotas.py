"""Quotas per tenant and per organisation: total, allocated, available, used, in process."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.models import QUOTA_DIMENSIONS
from engine.tenancy import quotas

blp = Blueprint("quotas", __name__, url_prefix="/api/v1", description="Quotas")


def _amount(description: str = "") -> fields.Decimal:
    return fields.Decimal(as_string=True, metadata={"description": description} if description else {})


class DimensionSchema(Schema):
    total = _amount()
    allocated = _amount("sum of the direct children's totals")
    available = _amount("total - allocated - what is used or in process at this level itself")
    used = _amount("in use anywhere below this level")
    in_process = _amount("reserved by running flows anywhere below this level")


class GpuModelQuotaSchema(Schema):
    capped = fields.Boolean(metadata={"description": "false: no cap of its own, only the gpus total limits this model"})
    total = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "the cap; null when not capped"})
    allocated = _amount("sum of the direct children's caps of this model")
    available = fields.Decimal(as_string=True, allow_none=True, metadata={
        "description": "cap - allocated - what is used or in process at this level itself; null when not capped"})
    used = _amount("GPUs of this model in use anywhere below this level")
    in_process = _amount("GPUs of this model reserved by running flows anywhere below this level")


class QuotaLevelSchema(Schema):
    tenant_id = fields.String()
    organization_id = fields.String(allow_none=True, metadata={"description": "null: the tenant level"})
    level = fields.String(metadata={"description": "tenant or organization"})
    label = fields.String()
    dimensions = fields.Dict(keys=fields.String(validate=validate.OneOf(QUOTA_DIMENSIONS)),
                             values=fields.Nested(DimensionSchema))
    gpus_by_model = fields.Dict(keys=fields.String(), values=fields.Nested(GpuModelQuotaSchema), metadata={
        "description": "GPUs per accelerator model (quota dimension gpus:<model>), for every model booked or capped "
                       "at this level; the gpus dimension counts them all"})


TotalsSchema = Schema.from_dict(
    {**{dim: fields.Decimal(validate=validate.Range(min=0), allow_nan=False) for dim in QUOTA_DIMENSIONS},
     "gpus_by_model": fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)),
                                  values=fields.Decimal(validate=validate.Range(min=0), allow_nan=False,
                                                        allow_none=True),
                                  metadata={"description": "caps per accelerator model, e.g. {\"H100\": 8}, "
                                                           "apart from the gpus total; null lifts a model's cap"})},
    name="QuotaTotals")


class QuotaUpdateSchema(Schema):
    totals = fields.Nested(TotalsSchema, required=True, metadata={"description": "the dimensions to set"})


class QuotaQuery(PageArgs):
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff: the tenant"})


@blp.route("/quotas")
@requires("quota:read")
@blp.arguments(QuotaQuery, location="query")
@blp.response(200, page_schema(QuotaLevelSchema, "QuotaLevelPage"))
def list_levels(args: dict[str, Any]) -> Any:
    """The tenant level and every organisation you reach, in tree order."""
    rows, total = quotas.list_quotas(engine(), current_principal(), tenant_id=args["tenant_id"],
                                     offset=offset(args), limit=args["page_size"])
    return page(rows, total, args)


@blp.route("/tenants/<string:tenant_id>/quota")
class TenantQuota(MethodView):
    @requires("quota:read")
    @blp.response(200, QuotaLevelSchema)
    def get(self, tenant_id: str) -> Any:
        """A tenant's quota."""
        return quotas.get_quota(engine(), current_principal(), tenant_id=tenant_id)

    @requires("quota:update")
    @blp.arguments(QuotaUpdateSchema)
    @blp.response(200, QuotaLevelSchema)
    def put(self, body: dict[str, Any], tenant_id: str) -> Any:
        """Set a tenant's totals (platform staff); never below what it allocated to its organisations (409).

        ``totals.gpus_by_model`` caps accelerator models apart from the ``gpus`` total ({"H100": 8});
        a reservation then needs room in both, and a refusal names ``gpus:H100``."""
        return quotas.set_totals(engine(), current_principal(), body["totals"], tenant_id=tenant_id, ip=client_ip())


@blp.route("/organizations/<string:org_id>/quota")
class OrganizationQuota(MethodView):
    @requires("quota:read")
    @blp.response(200, QuotaLevelSchema)
    def get(self, org_id: str) -> Any:
        """An organisation's quota."""
        return quotas.get_quota(engine(), current_principal(), organization_id=org_id)

    @requires("quota:update")
    @blp.arguments(QuotaUpdateSchema)
    @blp.response(200, QuotaLevelSchema)
    def put(self, body: dict[str, Any], org_id: str) -> Any:
        """Set an organisation's totals out of its parent's available amount (409 names the dimension and level).

        ``totals.gpus_by_model`` caps accelerator models ({"H100": 8}; null lifts a cap); a cap comes out of
        the parent's available amount of that model when the parent caps it too."""
        return quotas.set_totals(engine(), current_principal(), body["totals"], organization_id=org_id,
                                 ip=client_ip())
