"""Notification operators: site messages about an application, to its applicant, users or roles."""

from __future__ import annotations

from typing import Any

from tasks.ports import current
from tasks.registry import OperatorError, operator

APPLICANT = "applicant"
# event -> (title, body); fields: number, title, comment
TEMPLATES = {
    "submitted": ("Application {number} submitted", "Your application {number} \"{title}\" is waiting for approval."),
    "approved": ("Application {number} approved", "Your application {number} \"{title}\" was approved.{comment}"),
    "rejected": ("Application {number} rejected",
                 "Your application {number} \"{title}\" was rejected.{comment} Edit and resubmit it, or cancel it."),
    "escalated": ("Application {number} escalated",
                  "The approval of application {number} \"{title}\" was not completed in time and went to the "
                  "tenant administrators."),
    "order_created": ("Order created for application {number}",
                      "Order {order} was created for your application {number} \"{title}\"."),
    "quota_short": ("Application {number}: quota short",
                    "Application {number} \"{title}\" does not fit the quota.{comment}"),
    "cancelled": ("Application {number} cancelled", "Application {number} \"{title}\" was cancelled."),
    "unit_running": ("Application {number}: a resource of order {order} is running",
                     "A resource of order {order} (application {number}) is running.{comment}"),
    "order_running": ("Application {number}: order {order} is running",
                      "Every resource of order {order} (application {number}) runs."),
    "order_partial": ("Application {number}: order {order} is partly running",
                      "Some resources of order {order} (application {number}) run; the others could not be "
                      "provided.{comment}"),
    "order_failed": ("Application {number}: order {order} failed",
                     "No resource of order {order} (application {number}) could be provided.{comment}"),
}


def recipients(audience: list[str], applicant: str) -> list[str]:
    """``applicant``, ``user:<name>`` and ``role:<code>`` entries as the messages port takes them."""
    if not isinstance(audience, list) or not audience:
        raise OperatorError("INVALID_AUDIENCE", "audience must be a non-empty list")
    out: list[str] = []
    for entry in audience:
        if entry == APPLICANT:
            out.append(applicant)
        elif isinstance(entry, str) and entry.startswith("user:") and len(entry) > 5:
            out.append(entry[5:])
        elif isinstance(entry, str) and entry.startswith("role:") and len(entry) > 5:
            out.append(entry)
        else:
            raise OperatorError("INVALID_AUDIENCE", f"audience entry {entry!r}: use 'applicant', 'user:<name>' "
                                                    "or 'role:<code>'")
    return list(dict.fromkeys(out))


def render(event: str, application: dict[str, Any], comment: str | None, order: str | None) -> tuple[str, str]:
    template = TEMPLATES.get(event)
    if template is None:
        raise OperatorError("UNKNOWN_EVENT", f"no message for event {event!r}; known: {', '.join(TEMPLATES)}")
    fields = {"number": application["number"], "title": application.get("title") or "",
              "comment": f" Comment: {comment}" if comment else "", "order": order or ""}
    return template[0].format(**fields), template[1].format(**fields)


@operator("notify/application", description="Send a site message about an application")
def notify_application(application_id: str, event: str, audience: list[str] | None = None,
                       comment: str | None = None, order: str | None = None) -> dict[str, Any]:
    """``audience`` defaults to the applicant; returns {sent}: how many messages were written."""
    ports = current()
    application = ports.applications.get(application_id)
    to = recipients(audience or [APPLICANT], application["applicant"])
    title, body = render(event, application, comment, order)
    link = {"application_id": application_id, "number": application["number"]}
    sent = ports.messages.send(application["tenant_id"], to, event, title, body, link)
    return {"sent": sent}
