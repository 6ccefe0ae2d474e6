"""Your site messages over HTTP: list, unread count, read, read all, delete."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.blueprints import Blueprint
from api.pagination import PageArgs, offset, page, page_schema
from api.security import current_principal, engine, requires
from engine import site_messages

blp = Blueprint("site_messages", __name__, url_prefix="/api/v1/site-messages", description="Site messages")
READ = "site-message:read"
KINDS = ("task_assigned", "approved", "rejected", "urged", "escalated", "order_created", "quota_short",
         "submitted", "cancelled")


class SiteMessageSchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": ", ".join(KINDS)})
    title = fields.String()
    body = fields.String()
    link = fields.Dict(metadata={"description": "what it is about, e.g. application_id, number, task_id"})
    read = fields.Boolean()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class SiteMessageQuery(PageArgs):
    unread = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "true: unread only"})
    kind = fields.String(load_default=None, validate=validate.Length(max=32))


class SiteMessageCountSchema(Schema):
    unread = fields.Integer()


class SiteMessagesMarkedSchema(Schema):
    marked = fields.Integer(metadata={"description": "how many were unread"})


@blp.route("")
@requires(READ)
@blp.arguments(SiteMessageQuery, location="query")
@blp.response(200, page_schema(SiteMessageSchema, "SiteMessagePage"))
def list_messages(args: dict[str, Any]) -> Any:
    """Your messages, newest first."""
    rows, total = site_messages.list_messages(engine(), current_principal(), unread=args["unread"],
                                              kind=args["kind"], offset=offset(args), limit=args["page_size"])
    return page(rows, total, args)


@blp.route("/unread-count")
@requires(READ)
@blp.response(200, SiteMessageCountSchema)
def unread_count() -> Any:
    """How many of your messages are unread."""
    return {"unread": site_messages.unread_count(engine(), current_principal())}


@blp.route("/read-all", methods=["POST"])
@requires(READ)
@blp.response(200, SiteMessagesMarkedSchema)
def read_all() -> Any:
    """Mark all your messages read."""
    return {"marked": site_messages.mark_all_read(engine(), current_principal())}


@blp.route("/<string:message_id>")
class Message(MethodView):
    @requires(READ)
    @blp.response(200, SiteMessageSchema)
    def get(self, message_id: str) -> Any:
        """One of your messages."""
        return site_messages.get_message(engine(), current_principal(), message_id)

    @requires(READ)
    @blp.response(204)
    def delete(self, message_id: str) -> None:
        """Delete one of your messages."""
        site_messages.delete_message(engine(), current_principal(), message_id)


@blp.route("/<string:message_id>/read", methods=["POST"])
@requires(READ)
@blp.response(200, SiteMessageSchema)
def mark_read(message_id: str) -> Any:
    """Mark one of your messages read."""
    return site_messages.mark_read(engine(), current_principal(), message_id)
