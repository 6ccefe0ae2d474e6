"""Resource applications over HTTP: drafts, submit, withdraw, resubmit, cancel, decide, urge,
attachments, lists with CSV export, and the detail (history, current tasks, order).

Items come from the cart (api/blueprints/cart.py) and/or the request.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request, send_file
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.blueprints.cart import CartAddSchema
from api.headers import content_disposition, served_type
from api.idempotency import idempotent
from api.pagination import PageArgs, offset, page, page_schema
from api.schemas import OpenTaskSchema, StepSchema
from api.security import client_ip, current_principal, engine, requires
from engine.domains.applications import attachments
from engine.domains.applications import flow as application_flow
from engine.domains.applications import service as applications
from engine.domains.applications.status import APPLICATION_STATUSES
from engine.errors import InvalidInput

blp = Blueprint("applications", __name__, url_prefix="/api/v1/applications",
                description="Resource applications: draft, submit, approve, order")

CREATE = "application:create"
READ = "application:read"


# -- schemas ------------------------------------------------------------------------------------------

class ApplicationItemInSchema(CartAddSchema):
    term_months = fields.Integer(load_default=None, allow_none=True, strict=True,
                                 validate=validate.Range(min=1, max=applications.MAX_TERM_MONTHS),
                                 metadata={"description": "months the line is bought for (1 to 60): each resource "
                                                          "it makes is terminated that many calendar months after "
                                                          "it starts running; null or absent: no term"})


class ApplicationItemSchema(Schema):
    product_id = fields.String()
    spec_id = fields.String()
    product_name = fields.String()
    spec_name = fields.String()
    quantity = fields.Integer()
    term_months = fields.Integer(allow_none=True, metadata={"description": "months bought; null: no term"})
    vcpu = fields.Integer()
    memory_gib = fields.Decimal(as_string=True)
    disk_gib = fields.Decimal(as_string=True)
    gpu_model = fields.String(allow_none=True)
    gpu_count = fields.Integer()
    gpus_by_model = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                metadata={"description": "GPUs per unit by accelerator model, summing to gpu_count"})
    instances = fields.Integer()
    eips = fields.Integer()


class ApplicationTotalsSchema(Schema):
    vcpu = fields.Integer()
    memory_gib = fields.Decimal(as_string=True)
    disk_gib = fields.Decimal(as_string=True)
    gpus = fields.Integer()
    gpus_by_model = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "GPUs by accelerator model (quota dimensions gpus:<model>); gpus counts them all"})
    instances = fields.Integer()
    eips = fields.Integer()


class AttachmentSchema(Schema):
    id = fields.String()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_by = fields.String()
    created_at = fields.DateTime()


class ApplicationInstanceSchema(Schema):
    id = fields.String()
    process_key = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


class ApplicationStepSchema(StepSchema):
    instance_id = fields.String()
    task_id = fields.String()
    data = fields.Raw(allow_none=True, metadata={"description": "what the step changed in the process data"})


class ApplicationTaskSchema(OpenTaskSchema):
    instance_id = fields.String()
    process_key = fields.String()
    candidates = fields.List(fields.String(), metadata={"description": "user:<name> or role:<code>"})
    due_at = fields.DateTime(allow_none=True, metadata={"description": "when it escalates"})


class OrderItemSchema(ApplicationItemSchema):
    provisioning = fields.Dict(metadata={
        "description": "once provisioning planned the order: how many of this line's units are running, "
                       "waiting (planned, creating, with operations in a work order), failed and terminated, "
                       "and each unit (id, copy_no, status, pool_id, resource_id, attempts, last_error, "
                       "work_order_id, expires_at: when a line with a term ends it, set once it runs)"})


class ApplicationOrderSchema(Schema):
    id = fields.String()
    number = fields.String()
    status = fields.String(metadata={"description": "created, provisioning, then running (every unit runs), "
                                                    "partial (some run, the others failed) or failed"})
    application_id = fields.String()
    organization_id = fields.String()
    business_system_id = fields.String()
    applicant = fields.String()
    created_at = fields.DateTime()
    items = fields.List(fields.Nested(OrderItemSchema))
    provisioning = fields.Dict(metadata={
        "description": "once planned: units running, waiting, failed and terminated over all lines"})


class ApplicationSchema(Schema):
    id = fields.String()
    number = fields.String()
    title = fields.String()
    purpose = fields.String()
    tenant_id = fields.String()
    applicant = fields.String()
    applicant_id = fields.String()
    organization_id = fields.String()
    business_system_id = fields.String()
    status = fields.String(metadata={"description": ", ".join(APPLICATION_STATUSES)})
    quota_state = fields.String(metadata={"description": "none, reserved (in process), committed (used), released"})
    approvals = fields.Integer(metadata={"description": "approvals given since it was last submitted"})
    submissions = fields.Integer()
    last_comment = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class ApplicationDetailSchema(ApplicationSchema):
    order_pricing = fields.List(fields.Dict(), metadata={
        "description": "which price plan priced each line of the order when it was placed (order_item_id, "
                       "plan_code, plan_version, chosen: why that plan); empty before the order"})
    quote = fields.Dict(allow_none=True, metadata={
        "description": "what the items cost for the next 30 days (POST /api/v1/quotes); null when a spec has no "
                       "plan. Only in the answer to GET /applications/{id}"})
    placement = fields.Dict(allow_none=True, metadata={
        "description": "the placement step after approval (null when it did not run: no resource pool to place on): "
                       "status (deciding, confirming, chosen), round, weights, objective (the applicant's pick), "
                       "comment (the operator's, when returned), plans (while deciding: each objective's "
                       "assignments, placed, cost, performance, max_util, status, gap and explanation), choice "
                       "(once confirmed: objective, weights, assignments, placed, cost, performance, max_util). "
                       "Only in the answer to GET /applications/{id}"})
    items = fields.List(fields.Nested(ApplicationItemSchema))
    totals = fields.Nested(ApplicationTotalsSchema)
    attachments = fields.List(fields.Nested(AttachmentSchema))
    instances = fields.List(fields.Nested(ApplicationInstanceSchema))
    history = fields.List(fields.Nested(ApplicationStepSchema))
    current_tasks = fields.List(fields.Nested(ApplicationTaskSchema))
    order = fields.Nested(ApplicationOrderSchema, allow_none=True)


class ApplicationInSchema(Schema):
    business_system_id = fields.String(required=True)
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    title = fields.String(load_default="", validate=validate.Length(max=200))
    items = fields.List(fields.Nested(ApplicationItemInSchema), load_default=list, validate=validate.Length(max=100))
    cart_item_ids = fields.List(fields.String(), load_default=list, validate=validate.Length(max=100))
    submit = fields.Boolean(load_default=False, metadata={"description": "submit at once (else a draft)"})


class ApplicationPatchSchema(Schema):
    title = fields.String(validate=validate.Length(max=200))
    purpose = fields.String(validate=validate.Length(min=1, max=2000))
    business_system_id = fields.String()
    items = fields.List(fields.Nested(ApplicationItemInSchema), validate=validate.Length(max=100),
                        metadata={"description": "replaces the items (with cart_item_ids, if given)"})
    cart_item_ids = fields.List(fields.String(), validate=validate.Length(max=100))


class ApplicationFilterArgs(Schema):
    mine = fields.Boolean(load_default=False, metadata={"description": "only applications you made"})
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff: one tenant"})
    organization_id = fields.String(load_default=None)
    applicant = fields.String(load_default=None, metadata={"description": "user name"})
    business_system_id = fields.String(load_default=None)
    number = fields.String(load_default=None, metadata={"description": "part of the application number"})
    status = fields.List(fields.String(validate=validate.OneOf(APPLICATION_STATUSES)), load_default=list,
                         metadata={"description": "repeatable"})


class ApplicationQuery(PageArgs, ApplicationFilterArgs):
    pass


class ApplicationDecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ApplicationUrgeSchema(Schema):
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ApplicationUrgedSchema(Schema):
    notified = fields.Integer(metadata={"description": "site messages written"})


class AttachmentUploadSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


def _filters(args: dict[str, Any]) -> applications.Filters:
    return applications.Filters(mine=args["mine"], tenant_id=args["tenant_id"],
                                organization_id=args["organization_id"], applicant=args["applicant"],
                                business_system_id=args["business_system_id"], number=args["number"],
                                status=tuple(args["status"]))


# -- applications -----------------------------------------------------------------------------------

@blp.route("")
class Applications(MethodView):
    @requires(READ)
    @blp.arguments(ApplicationQuery, location="query")
    @blp.response(200, page_schema(ApplicationSchema, "ApplicationPage"))
    def get(self, args: dict[str, Any]) -> Any:
        """Applications you may see (``mine=true``: yours), newest first, filtered by organisation,
        applicant, business system, number and status."""
        rows, total = applications.list_applications(engine(), current_principal(), _filters(args),
                                                     offset=offset(args), limit=args["page_size"])
        return page(rows, total, args)

    @requires(CREATE)
    @idempotent
    @blp.arguments(ApplicationInSchema)
    @blp.response(201, ApplicationDetailSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Apply for resources, from cart items and/or items given here. A draft unless ``submit`` is
        true; submitting reserves the quota (409 ``quota_short`` naming the dimension and level when it
        does not fit: then no draft is kept either). Send an ``Idempotency-Key`` to make it safe to retry."""
        principal = current_principal()
        if body.pop("submit"):
            return application_flow.create_and_submit(engine(), principal, **body, ip=client_ip())
        return applications.create(engine(), principal, **body, ip=client_ip())


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: user text starting like a formula gets a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@blp.route("/export.csv")
@requires(READ)
@blp.arguments(ApplicationFilterArgs, location="query")
@blp.response(200, content_type="text/csv", description="one row per application, header first")
def export_csv(args: dict[str, Any]) -> Any:
    """The applications the filters select, as CSV (at most 50,000 rows)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in applications.export_rows(engine(), current_principal(), _filters(args)):
        writer.writerow([_cell(v) for v in row])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="applications.csv"'})


@blp.route("/<string:application_id>")
class ApplicationItem(MethodView):
    @requires(READ)
    @blp.response(200, ApplicationDetailSchema)
    def get(self, application_id: str) -> Any:
        """An application: items, totals, attachments, its process history, current tasks, its order and its
        quote for the next 30 days."""
        return applications.get(engine(), current_principal(), application_id, extras=True)

    @requires(CREATE)
    @blp.arguments(ApplicationPatchSchema)
    @blp.response(200, ApplicationDetailSchema)
    def patch(self, body: dict[str, Any], application_id: str) -> Any:
        """Edit your draft or rejected application (new items replace the old ones)."""
        return applications.update(engine(), current_principal(), application_id, **body, ip=client_ip())


@blp.route("/<string:application_id>/submit", methods=["POST"])
@requires(CREATE)
@idempotent
@blp.response(200, ApplicationDetailSchema)
def submit(application_id: str) -> Any:
    """Submit your draft: the quota is reserved and approval starts (409 ``quota_short`` when it does not fit)."""
    return application_flow.submit(engine(), current_principal(), application_id, ip=client_ip())


@blp.route("/<string:application_id>/withdraw", methods=["POST"])
@requires(CREATE)
@blp.response(200, ApplicationDetailSchema)
def withdraw(application_id: str) -> Any:
    """Take your pending application back to draft; only until the first approval (then 409)."""
    return application_flow.withdraw(engine(), current_principal(), application_id, ip=client_ip())


@blp.route("/<string:application_id>/resubmit", methods=["POST"])
@requires(CREATE)
@idempotent
@blp.response(200, ApplicationDetailSchema)
def resubmit(application_id: str) -> Any:
    """Send your rejected (and edited) application to approval again (409 ``quota_short`` when it does not fit)."""
    return application_flow.resubmit(engine(), current_principal(), application_id)


@blp.route("/<string:application_id>/cancel", methods=["POST"])
@requires(READ)
@blp.response(200, ApplicationDetailSchema)
def cancel(application_id: str) -> Any:
    """Cancel an application: yours (a pending one only before its first approval), or, holding
    ``application:manage``, any you can see. The quota it holds is released."""
    return application_flow.cancel(engine(), current_principal(), application_id, ip=client_ip())


@blp.route("/<string:application_id>/decision", methods=["POST"])
@requires("task:work")
@blp.arguments(ApplicationDecisionSchema)
@blp.response(200, ApplicationDetailSchema)
def decide(body: dict[str, Any], application_id: str) -> Any:
    """Approve or reject at the step waiting for you (an approver, a tenant administrator after an
    escalation, a platform operator); 409 when nothing of it waits for you."""
    return application_flow.decide(engine(), current_principal(), application_id, decision=body["decision"],
                               comment=body["comment"])


@blp.route("/<string:application_id>/urge", methods=["POST"])
@requires(CREATE)
@blp.arguments(ApplicationUrgeSchema)
@blp.response(200, ApplicationUrgedSchema)
def urge(body: dict[str, Any], application_id: str) -> Any:
    """Remind whoever your pending application waits for (a site message each; at most once an hour: 429)."""
    sent = application_flow.urge(engine(), current_principal(), application_id, comment=body["comment"], ip=client_ip())
    return {"notified": sent}


@blp.route("/<string:application_id>/attachments", methods=["POST"])
@requires(CREATE)
@idempotent
@blp.arguments(AttachmentUploadSchema, location="files", as_kwargs=True)
@blp.response(201, AttachmentSchema)
def attach(application_id: str, **_: Any) -> Any:
    """Attach a file (multipart field ``file``) to your draft or rejected application; 413 when too large."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("no file", errors=[{"field": "file", "message": "a file is required"}])
    return attachments.add(engine(), current_principal(), application_id, filename=upload.filename or "",
                           content_type=upload.mimetype, stream=upload.stream, ip=client_ip())


@blp.route("/<string:application_id>/attachments/<string:attachment_id>")
class Attachment(MethodView):
    @requires(READ)
    @blp.response(200, content_type="application/octet-stream", description="the file as uploaded")
    def get(self, application_id: str, attachment_id: str) -> Any:
        """Download an attachment.

        Always a download (``Content-Disposition: attachment``); served as ``application/octet-stream``
        unless its type is an inert one (PDF, PNG, JPEG, GIF, WebP, plain text, CSV)."""
        meta, path = attachments.open_file(engine(), current_principal(), application_id, attachment_id)
        response = send_file(path, mimetype=served_type(meta["content_type"]))
        response.headers["Content-Disposition"] = content_disposition(meta["filename"])
        return response

    @requires(CREATE)
    @blp.response(204)
    def delete(self, application_id: str, attachment_id: str) -> None:
        """Remove an attachment from your draft or rejected application."""
        attachments.remove(engine(), current_principal(), application_id, attachment_id, ip=client_ip())
