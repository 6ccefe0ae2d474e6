"""Work orders over HTTP: the list with its filters, one work order, CSV. Read only: the
``work_order`` process opens and moves them, and operations and applicants work them through the
task inbox (``/api/v1/tasks``)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.pagination import PageArgs, offset, page, page_schema
from api.security import current_principal, engine, requires
from engine.domains.work_orders import service
from engine.domains.work_orders.models import KINDS, SHOWN_STATUSES

blp = Blueprint("work_orders", __name__, url_prefix="/api/v1/work-orders",
                description="Work orders: manual delivery and failure handling by operations")


class WorkOrderSchema(Schema):
    id = fields.String()
    number = fields.String(metadata={"description": "WO<day>-<8 hex>, unique in the tenant"})
    tenant_id = fields.String()
    kind = fields.String(metadata={"description": "delivery (a product that is a service) or failure (to fix)"})
    status = fields.String(metadata={"description": "open, claimed (someone holds its operations task in the "
                                                    "inbox), done (waits for the applicant's evaluation), "
                                                    "reopened, accepted or cancelled"})
    title = fields.String()
    details = fields.Dict(metadata={"description": "what the opening process knew (error, request, unit)"})
    result = fields.Dict(allow_none=True, metadata={"description": "the operations form: result (done or "
                                                                   "cannot_do), notes, resource"})
    order_id = fields.String(allow_none=True)
    resource_id = fields.String(allow_none=True)
    unit_id = fields.String(allow_none=True, metadata={"description": "the provisioning unit, if any"})
    organization_id = fields.String(allow_none=True)
    business_system_id = fields.String(allow_none=True)
    applicant = fields.String(allow_none=True, metadata={"description": "who evaluates the work"})
    instance_id = fields.String(allow_none=True, metadata={"description": "the process instance working it"})
    task_id = fields.String(allow_none=True, metadata={"description": "its open inbox task (operations or the "
                                                                      "applicant's evaluation); null when closed"})
    claimed_by = fields.String(allow_none=True, metadata={"description": "who holds the operations task"})
    assignee = fields.String(allow_none=True, metadata={"description": "who last returned the operations form"})
    evaluated_by = fields.String(allow_none=True, metadata={"description": "null: not yet, or accepted because "
                                                                           "the applicant did not answer in time"})
    comment = fields.String(allow_none=True, metadata={"description": "the applicant's last comment"})
    reopened = fields.Integer(metadata={"description": "how often the applicant sent it back to operations"})
    escalated_at = fields.DateTime(allow_none=True, metadata={"description": "when operations were overdue and "
                                                                             "the platform administrators told"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class WorkOrderFilter(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(SHOWN_STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    order_id = fields.String(load_default=None, validate=validate.Length(max=36))
    resource_id = fields.String(load_default=None, validate=validate.Length(max=36))
    created_from = fields.AwareDateTime(load_default=None, metadata={"description": "created at or after"})
    created_to = fields.AwareDateTime(load_default=None, metadata={"description": "created before"})
    tenant_id = fields.String(load_default=None, validate=validate.Length(max=36),
                              metadata={"description": "platform staff: one tenant"})


class WorkOrderQuery(WorkOrderFilter, PageArgs):
    pass


def _filters(args: dict[str, Any]) -> dict[str, Any]:
    return {name: args.get(name) for name in WorkOrderFilter().fields}


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: user text starting like a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@blp.route("")
class WorkOrders(MethodView):
    @requires(service.READ)
    @blp.arguments(WorkOrderQuery, location="query")
    @blp.response(200, page_schema(WorkOrderSchema, "WorkOrderPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """Work orders, newest first: platform staff see every tenant's; a tenant's users their tenant's,
        within their role's data scope (the applicant: their own)."""
        rows, total = service.list_work_orders(engine(), current_principal(), offset=offset(args),
                                               limit=args["page_size"], **_filters(args))
        return page(rows, total, args)


@blp.route("/export.csv")
class WorkOrdersCsv(MethodView):
    @requires(service.READ)
    @blp.arguments(WorkOrderFilter, location="query")
    @blp.response(200, content_type="text/csv", description="one header row, then one row per work order")
    def get(self, args: dict[str, Any]) -> Any:
        """The work orders the filters select, as CSV (newest first, at most 50,000 rows)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in service.export_rows(engine(), current_principal(), **_filters(args)):
            writer.writerow([_cell(v) for v in row])
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="work-orders.csv"'})


@blp.route("/<string:work_order_id>")
class WorkOrderItem(MethodView):
    @requires(service.READ)
    @blp.response(200, WorkOrderSchema)
    def get(self, work_order_id: str) -> Any:
        """One work order (404 for one outside your tenant or data scope)."""
        return service.get_work_order(engine(), current_principal(), work_order_id)
