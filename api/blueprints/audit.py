"""The audit log for operators: filtered listing and CSV export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Response
from marshmallow import Schema, fields
from sqlalchemy import Select, select

from api.blueprints import Blueprint
from api.pagination import PageArgs, page_schema, query_page
from api.security import current_principal, engine, requires
from engine.models import AuditEntry
from engine.principal import Principal

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The tamper-evident audit log")

EXPORT_LIMIT = 100_000


class AuditEntrySchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    tenant_id = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    detail = fields.Dict()
    ip = fields.String(allow_none=True)
    hash = fields.String()
    scheme = fields.String(metadata={"description": "hmac:<key id> (HMAC-SHA256 with the audit key), or sha256 "
                                                    "for rows written before keyed hashing"})


class AuditFilter(Schema):
    action = fields.String(load_default=None, metadata={"description": "exact action, or a prefix ending in '.'"})
    actor = fields.String(load_default=None)
    target_type = fields.String(load_default=None)
    target_id = fields.String(load_default=None)
    since = fields.AwareDateTime(load_default=None)
    until = fields.AwareDateTime(load_default=None)
    tenant_id = fields.String(load_default=None, metadata={"description": "platform staff only"})


class AuditQuery(AuditFilter, PageArgs):
    pass


def _query(principal: Principal, args: dict[str, Any]) -> Select:
    q = select(AuditEntry)
    tenant = principal.tenant_id if principal.tenant_id is not None else args.get("tenant_id")
    if tenant is not None:
        q = q.where(AuditEntry.tenant_id == tenant)
    action = args.get("action")
    if action:
        q = q.where(AuditEntry.action.startswith(action) if action.endswith(".") else AuditEntry.action == action)
    for column, key in ((AuditEntry.actor, "actor"), (AuditEntry.target_type, "target_type"),
                        (AuditEntry.target_id, "target_id")):
        if args.get(key):
            q = q.where(column == args[key])
    if args.get("since"):
        q = q.where(AuditEntry.at >= args["since"])
    if args.get("until"):
        q = q.where(AuditEntry.at < args["until"])
    return q


@blp.route("")
@requires("audit:read")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, page_schema(AuditEntrySchema, "AuditPage"))
def list_entries(args: dict[str, Any]) -> Any:
    """Audit entries, newest first: your tenant's, or any tenant's for platform staff."""
    q = _query(current_principal(), args)
    with engine().db.read() as s:
        return query_page(s, q, AuditEntry.id.desc(), args)


@blp.route("/export.csv")
@requires("audit:read")
@blp.arguments(AuditFilter, location="query")
@blp.response(200, content_type="text/csv", description="the filtered entries as CSV, oldest first")
def export_csv(args: dict[str, Any]) -> Any:
    """Export the filtered audit entries as CSV (at most 100,000 rows, oldest first)."""
    q = _query(current_principal(), args).order_by(AuditEntry.id).limit(EXPORT_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ("id", "at", "tenant_id", "actor", "action", "target_type", "target_id", "ip", "detail", "prev_hash",
               "hash", "scheme")
    writer.writerow(columns)
    with engine().db.read() as s:
        for row in s.scalars(q):
            writer.writerow([row.at.isoformat() if c == "at" else json.dumps(row.detail, sort_keys=True)
                             if c == "detail" else getattr(row, c) for c in columns])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
