"""Placement operators: the three plans (and custom) for an instance, a what-if, and the placement
step of an application (``propose``, ``pick``, ``confirm``).

The solver is pure computation that lives in the placement domain (engine.domains.placement: it
is shared with ``aicmp placement solve``); operators never import engine, so they reach it through
the ``placement`` port (``tasks.ports.PlacementPort``), like any operator reaches the platform. An
instance the port refuses as malformed becomes the BPMN error ``INVALID_INSTANCE``; an instance
that cannot be fully placed is not an error: its plans say what was left out and why.

The placement step keeps the plans out of the process data (an instance of 1,000 pools would bloat
every save): ``propose`` stores them through the port and returns their figures only; the
application detail shows them in full. ``confirm`` returns the shared ``placement_choice``.
"""

from __future__ import annotations

from typing import Any

from tasks.ports import Refused, current
from tasks.registry import OperatorError, operator


def _mapping(value: Any, name: str, *, optional: bool = False) -> dict[str, Any] | None:
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise OperatorError("INVALID_INSTANCE", f"{name} must be a JSON object")
    return value


def requests_from(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An application's items as placement requests: one per item (``item<n>``, in order), its
    quantity as identical copies, anywhere (items name no region). An item mixing accelerator
    models cannot go whole to one pool of one model: INVALID_ITEMS."""
    out = []
    for n, it in enumerate(items, 1):
        models = {m for m, c in (it.get("gpus_by_model") or {}).items() if c} or (
            {it["gpu_model"]} if it.get("gpu_model") and it.get("gpu_count") else set())
        if len(models) > 1:
            raise OperatorError("INVALID_ITEMS", f"item {n} mixes accelerator models ({', '.join(sorted(models))}): "
                                                 "a copy must go whole to one pool")
        out.append({"id": f"item{n}", "name": it.get("spec_name") or it.get("product_name"),
                    "vcpu": it.get("vcpu") or 0, "mem_gib": str(it.get("memory_gib") or 0),
                    "storage_gib": str(it.get("disk_gib") or 0), "gpu_model": next(iter(models), None),
                    "gpu_count": int(it.get("gpu_count") or 0) if models else 0, "region": None,
                    "count": it.get("quantity")})
    return out


@operator("placement/solve", description="Cost-, performance- and balance-first placement plans, explained")
def solve(instance: dict[str, Any] | None = None, application_id: str | None = None,
          objectives: list[str] | None = None, weights: dict[str, Any] | None = None,
          time_limit_s: float | None = None) -> dict[str, Any]:
    """{plans: [...]}, one per objective (default: cost, performance, balance, and custom when
    ``weights`` are given), each with assignments, figures, status, gap, bound and explanation.
    The instance is ``instance``, or built from ``application_id``'s items (applications port) and
    the pools its tenant may use (placement port), in which case it is returned too."""
    ports = current()
    built = None
    if application_id is not None:
        if instance is not None:
            raise OperatorError("INVALID_INSTANCE", "give an instance or an application_id, not both")
        try:
            built = {"requests": requests_from(ports.applications.get(application_id)["items"]),
                     "pools": ports.placement.pools()}
        except Refused as refused:
            raise OperatorError(refused.code, refused.message) from refused
    try:
        out = ports.placement.plans(built or _mapping(instance, "instance"), objectives=objectives,
                                    weights=_mapping(weights, "weights", optional=True),
                                    time_limit_s=time_limit_s)
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused
    return {**out, "instance": built} if built is not None else out


@operator("placement/what_if", description="Re-solve a placement plan with pools drained or capacities changed")
def what_if(instance: dict[str, Any], objective: str, drain: list[str] | None = None,
            capacity: dict[str, Any] | None = None, weights: dict[str, Any] | None = None,
            time_limit_s: float | None = None) -> dict[str, Any]:
    """{changes, before, after, delta}: ``drain`` pools take nothing new, ``capacity`` sets what
    pools have left ({pool id: {vcpu, mem_gib, storage_gib, gpu: {model: n}}})."""
    try:
        return current().placement.what_if(_mapping(instance, "instance"), objective, drain=list(drain or []),
                                           capacity=_mapping(capacity, "capacity", optional=True),
                                           weights=_mapping(weights, "weights", optional=True),
                                           time_limit_s=time_limit_s)
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


def _port_call(call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except Refused as refused:
        raise OperatorError(refused.code, refused.message) from refused


@operator("placement/propose", description="Solve an application's placement plans and offer them to its applicant")
def propose(application_id: str, weights: dict[str, Any] | None = None,
            time_limit_s: float | None = None) -> dict[str, Any]:
    """The plans for ``application_id`` (cost, performance, balance; custom with ``weights``) on the
    pools its tenant may use, stored for the applicant to pick from: {skipped: False, round, weights,
    objectives, plans: [figures]}. {skipped: True, reason} when there is nothing to choose: the tenant
    may use no pool, no plan places a single copy, or an item cannot go whole to one pool (INVALID_ITEMS)."""
    ports = current()
    pools = _port_call(ports.placement.pools)
    if not pools:
        return {"skipped": True, "reason": "no pool to place on"}
    try:
        requests = requests_from(_port_call(ports.applications.get, application_id)["items"])
    except OperatorError as exc:
        if exc.code != "INVALID_ITEMS":
            raise
        return {"skipped": True, "reason": exc.message}
    out = _port_call(ports.placement.plans, {"requests": requests, "pools": pools},
                     weights=_mapping(weights, "weights", optional=True), time_limit_s=time_limit_s)
    if not any(p.get("placed") for p in out["plans"]):
        return {"skipped": True, "reason": "no pool the tenant may use can take any of the items"}
    return _port_call(ports.placement.record_plans, application_id, out["plans"], weights)


@operator("placement/pick", description="Record the applicant's pick of one placement plan")
def pick(application_id: str, objective: str) -> dict[str, Any]:
    """The picked plan's figures; the BPMN error NO_SUCH_PLAN when the latest round has none of
    that objective (custom weights not solved yet)."""
    return _port_call(current().placement.pick, application_id, objective)


@operator("placement/confirm", description="An operator approves the picked placement plan or returns it")
def confirm(application_id: str, decision: str, comment: str | None = None) -> dict[str, Any] | None:
    """``approve``: the placement choice, stored ({objective, weights, assignments, placed, cost,
    performance, max_util}); ``return``: None, the applicant picks again (``comment`` says why)."""
    return _port_call(current().placement.confirm, application_id, decision, comment)
