"""Cloud accounts over HTTP: register, change, probe, sync; their probe alerts. Credentials go in
and never come out: responses carry at most their field names."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from connectors.registry import provider_types
from engine.domains.resources import service

blp = Blueprint("cloud_accounts", __name__, url_prefix="/api/v1/cloud-accounts",
                description="Cloud accounts: provider connections, their health and synchronisation")

HEALTH = ["unknown", "up", "degraded", "down"]


class CloudAccountSchema(Schema):
    id = fields.String(dump_only=True)
    tenant_id = fields.String(load_default=None, allow_none=True,
                              metadata={"description": "owner: a tenant, or none for a platform account (staff "
                                                       "only); a tenant's users register for their own tenant"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    provider_type = fields.String(required=True, validate=validate.OneOf(provider_types()))
    endpoint = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500),
                             metadata={"description": "API endpoint (sim://<cloud> for the simulator); AWS: "
                                                      "optional endpoint_url"})
    region = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    options = fields.Dict(load_default=None, allow_none=True,
                          metadata={"description": "provider options, shown to readers (never put secrets here): "
                                                     "e.g. timeout_s; aws: vcpu_limit, gpu_limits, image (at most "
                                                     "4 KiB of JSON)"})
    credentials = fields.Dict(keys=fields.String(), values=fields.String(), load_only=True, required=True,
                              metadata={"description": "write-only: stored encrypted, never returned"})
    credential_fields = fields.List(fields.String(), dump_only=True,
                                    metadata={"description": "the names of the stored credential fields"})
    enabled = fields.Boolean(load_default=True)
    health = fields.String(dump_only=True, metadata={"description": "unknown, up, degraded or down (last probe)"})
    health_message = fields.String(dump_only=True)
    latency_ms = fields.Integer(dump_only=True, allow_none=True)
    probe_failures = fields.Integer(dump_only=True)
    probed_at = fields.DateTime(dump_only=True, allow_none=True)
    synced_at = fields.DateTime(dump_only=True, allow_none=True)
    sync_message = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class CloudAccountPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    endpoint = fields.String(validate=validate.Length(min=1, max=500))
    region = fields.String(validate=validate.Length(max=100))
    options = fields.Dict()
    credentials = fields.Dict(keys=fields.String(), values=fields.String(),
                              metadata={"description": "replaces every stored credential field"})
    enabled = fields.Boolean()


class CloudAccountQuery(PageArgs):
    provider_type = fields.String(load_default=None, validate=validate.OneOf(provider_types()))
    health = fields.String(load_default=None, validate=validate.OneOf(HEALTH))
    tenant_id = fields.String(load_default=None, metadata={"description": "staff: one tenant's accounts"})


class CloudAccountProbeSchema(CloudAccountSchema):
    version = fields.String(dump_only=True, allow_none=True)
    error_code = fields.String(dump_only=True, allow_none=True,
                               metadata={"description": "the connector error's code when the probe failed"})


class CloudAccountSyncArgs(Schema):
    capacity = fields.Boolean(load_default=True, metadata={"description": "synchronise the pools"})
    resources = fields.Boolean(load_default=True, metadata={"description": "import the resources"})


class CloudAccountSyncResultSchema(Schema):
    account_id = fields.String()
    pools = fields.List(fields.String(), metadata={"description": "ids of the pools synchronised"})
    resources = fields.Dict(keys=fields.String(), values=fields.Integer(),
                            metadata={"description": "imported, updated and gone counts"})


class CloudAccountAlertSchema(Schema):
    id = fields.String()
    account_id = fields.String()
    tenant_id = fields.String(allow_none=True)
    kind = fields.String()
    error_code = fields.String(allow_none=True)
    message = fields.String()
    status = fields.String()
    occurrences = fields.Integer()
    opened_at = fields.DateTime()
    last_seen_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class CloudAccountAlertQuery(PageArgs):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved"]))
    account_id = fields.String(load_default=None)


@blp.route("")
class CloudAccounts(MethodView):
    @requires("cloud-account:read")
    @blp.arguments(CloudAccountQuery, location="query")
    @blp.response(200, page_schema(CloudAccountSchema, "CloudAccountPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """List the cloud accounts you reach (staff: all; a tenant: its own)."""
        rows, total = service.list_accounts(engine(), current_principal(), provider_type=args["provider_type"],
                                            health=args["health"], tenant_id=args["tenant_id"],
                                            offset=offset(args), limit=args["page_size"])
        return page(rows, total, args)

    @requires("cloud-account:manage")
    @idempotent
    @blp.arguments(CloudAccountSchema)
    @blp.response(201, CloudAccountSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Register an account; its credentials are encrypted at rest and never shown again."""
        return service.create_account(engine(), current_principal(), **body, ip=client_ip())


@blp.route("/alerts")
@requires("cloud-account:read")
@blp.arguments(CloudAccountAlertQuery, location="query")
@blp.response(200, page_schema(CloudAccountAlertSchema, "CloudAccountAlertPage"))
def list_alerts(args: dict[str, Any]) -> Any:
    """Probe alerts: one per failing account, counting repeats, resolved by the next good probe."""
    rows, total = service.list_alerts(engine(), current_principal(), status=args["status"],
                                      account_id=args["account_id"], offset=offset(args), limit=args["page_size"])
    return page(rows, total, args)


@blp.route("/alerts/<string:alert_id>/resolve", methods=["POST"])
@requires("cloud-account:manage")
@blp.response(200, CloudAccountAlertSchema)
def resolve_alert(alert_id: str) -> Any:
    """Resolve an open alert by hand."""
    return service.resolve_alert(engine(), current_principal(), alert_id, ip=client_ip())


@blp.route("/<string:account_id>")
class CloudAccountItem(MethodView):
    @requires("cloud-account:read")
    @blp.response(200, CloudAccountSchema)
    def get(self, account_id: str) -> Any:
        """One account (never its credentials)."""
        return service.get_account(engine(), current_principal(), account_id)

    @requires("cloud-account:manage")
    @blp.arguments(CloudAccountPatchSchema)
    @blp.response(200, CloudAccountSchema)
    def patch(self, body: dict[str, Any], account_id: str) -> Any:
        """Change an account; new credentials replace the stored ones."""
        return service.update_account(engine(), current_principal(), account_id, **body, ip=client_ip())

    @requires("cloud-account:manage")
    @blp.response(204)
    def delete(self, account_id: str) -> None:
        """Forget an account with its pools and resource records (nothing at the provider changes)."""
        service.delete_account(engine(), current_principal(), account_id, ip=client_ip())


@blp.route("/<string:account_id>/probe", methods=["POST"])
@requires("cloud-account:manage")
@blp.response(200, CloudAccountProbeSchema)
def probe(account_id: str) -> Any:
    """Probe now: records health and latency; a failure opens (or counts) the account's alert."""
    return service.probe_account(engine(), current_principal(), account_id, ip=client_ip())


@blp.route("/<string:account_id>/sync", methods=["POST"])
@requires("cloud-account:manage")
@blp.arguments(CloudAccountSyncArgs, location="query")
@blp.response(200, CloudAccountSyncResultSchema)
@blp.alt_response(502, description="the provider did not answer; nothing was changed")
def sync(args: dict[str, Any], account_id: str) -> Any:
    """Synchronise now: pools from the provider's capacity, the inventory from its resources (import)."""
    return service.sync_account(engine(), current_principal(), account_id, capacity=args["capacity"],
                                resources=args["resources"], ip=client_ip())
