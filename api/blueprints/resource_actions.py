"""What tenants ask of their resources over HTTP: start, stop, reboot, resize or terminate one
resource, terminate a whole order, follow the requests, and see a resource with its cost so far.

Each action is a request and a small process (``termination`` or ``resource_action``): the answer
is 202 with the request, whose status the process moves (pending, approved, running, done,
rejected, failed). A tenant's users reach their tenant's resources; staff reach every resource
that belongs to a tenant (an orphan must be assigned before anything acts on it).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.blueprints.resources import ResourceSchema
from api.pagination import PageArgs, offset, page, page_schema
from api.security import client_ip, current_principal, engine, requires
from engine.domains.resource_actions import service
from engine.domains.resource_actions.models import KINDS, STATUSES

blp = Blueprint("resource_actions", __name__, url_prefix="/api/v1",
                description="Actions on resources (start, stop, reboot, resize, terminate) and their requests")


class ActionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(KINDS),
                           metadata={"description": "start, stop, reboot, resize or terminate"})
    spec = fields.Dict(load_default=None, allow_none=True,
                       metadata={"description": "resize only: the new size (vcpu, memory_gib, disk_gib, "
                                                "gpus_by_model, flavor)"})


class RequestSchema(Schema):
    id = fields.String()
    tenant_id = fields.String()
    resource_id = fields.String()
    order_id = fields.String(allow_none=True, metadata={"description": "set when a whole order is terminated"})
    kind = fields.String(metadata={"description": "terminate, start, stop, reboot or resize"})
    params = fields.Dict(metadata={"description": "resize: {spec}"})
    status = fields.String(metadata={"description": "pending, approved, running, done, rejected or failed"})
    instance_id = fields.String(allow_none=True, metadata={"description": "the process instance running it"})
    requested_by = fields.String(allow_none=True)
    result = fields.Dict(metadata={"description": "approvals, the final bill line and the quota given back "
                                                  "(terminate), the resource's status, or the error"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class ResourceOverviewSchema(ResourceSchema):
    cost_so_far = fields.Decimal(as_string=True, metadata={"description": "the sum of its bill lines so far"})
    currency = fields.String()
    open_requests = fields.List(fields.Nested(RequestSchema))
    as_of = fields.DateTime()


class OrderTerminationSchema(Schema):
    order_id = fields.String()
    number = fields.String()
    requests = fields.List(fields.Nested(RequestSchema), metadata={"description": "one per live resource"})


class RequestQuery(PageArgs):
    resource_id = fields.String(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


@blp.route("/resources/<string:resource_id>/actions", methods=["POST"])
@requires("resource:operate")
@blp.arguments(ActionSchema)
@blp.response(202, RequestSchema)
def act(body: dict[str, Any], resource_id: str) -> Any:
    """Ask for an action on a resource. 409 when its termination is open already (the error names
    the open request), when it is deleted, or when it belongs to no tenant."""
    return service.request_action(engine(), current_principal(), resource_id, body["action"], body["spec"],
                                  ip=client_ip())


@blp.route("/resources/<string:resource_id>/overview")
@requires("resource:read")
@blp.response(200, ResourceOverviewSchema)
def overview(resource_id: str) -> Any:
    """One resource with its cost so far and its open requests."""
    return service.overview(engine(), current_principal(), resource_id)


@blp.route("/orders/<string:order_id>/terminate", methods=["POST"])
@requires("resource:operate")
@blp.response(202, OrderTerminationSchema)
def terminate_order(order_id: str) -> Any:
    """Terminate every live resource of an order: one request (and approval) per resource; a
    resource whose termination is open keeps that one."""
    return service.terminate_order(engine(), current_principal(), order_id, ip=client_ip())


@blp.route("/resource-requests")
@requires("resource:read")
@blp.arguments(RequestQuery, location="query")
@blp.response(200, page_schema(RequestSchema, "ResourceRequestPage"))
def list_requests(args: dict[str, Any]) -> Any:
    """Requests on resources, newest first."""
    rows, total = service.list_requests(engine(), current_principal(), resource_id=args["resource_id"],
                                        kind=args["kind"], status=args["status"], offset=offset(args),
                                        limit=args["page_size"])
    return page(rows, total, args)


@blp.route("/resource-requests/<string:request_id>")
@requires("resource:read")
@blp.response(200, RequestSchema)
def get_request(request_id: str) -> Any:
    """One request."""
    return service.get_request(engine(), current_principal(), request_id)
