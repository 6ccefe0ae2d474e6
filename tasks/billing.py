"""Billing operators: rate a tenant's day and close it (the ``billing_daily`` process), open and
close a rated resource (provisioning and termination flows).

The work is the billing domain's, reached through the ``billing`` port (``tasks.ports.BillingPort``);
these functions check their parameters and turn the port's refusals into BPMN error codes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tasks.ports import Refused, current
from tasks.registry import OperatorError, operator

START_FIELDS = ("spec_id", "component", "quantity", "billing_mode", "plan_code", "organization_id",
                "business_system_id", "provider", "resource_type")


def _day(day: Any) -> str:
    try:
        return date.fromisoformat(day).isoformat()
    except (TypeError, ValueError):
        raise OperatorError("INVALID_DAY", f"day {day!r} is not YYYY-MM-DD") from None


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 120:
        raise OperatorError("INVALID_PARAMETERS", f"{name} must be text of 1 to 120 characters")
    return value


@operator("billing/rate", description="Rate a tenant's day (and earlier days with late usage) into bill lines")
def rate(day: str) -> dict[str, Any]:
    try:
        return current().billing.rate(_day(day))
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


@operator("billing/close_day", description="Close a tenant's rated day; its lines become final")
def close_day(day: str) -> dict[str, Any]:
    """Returns the next day to close and when (``next_day``, ``next_run``) for the daily loop."""
    try:
        return current().billing.close_day(_day(day))
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


@operator("billing/start", description="Open a rated resource on its price plan")
def start(resource_ref: str, started_at: str, **fields: Any) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(START_FIELDS))
    if unknown:
        raise OperatorError("INVALID_PARAMETERS", f"unknown parameters: {', '.join(unknown)}")
    if not fields.get("spec_id") and not fields.get("component"):
        raise OperatorError("INVALID_PARAMETERS", "a spec_id or a component is required")
    try:
        return current().billing.start(_text(resource_ref, "resource_ref"), _text(started_at, "started_at"),
                                       **{k: v for k, v in fields.items() if v is not None})
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


@operator("billing/stop", description="Close a rated resource; its final day is rated at once")
def stop(resource_ref: str, stopped_at: str) -> dict[str, Any]:
    try:
        return current().billing.stop(_text(resource_ref, "resource_ref"), _text(stopped_at, "stopped_at"))
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


@operator("billing/price_order", description="Record which price plan prices each line of a new order")
def price_order(application_id: str) -> dict[str, Any]:
    try:
        return current().billing.price_order(_text(application_id, "application_id"))
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused
