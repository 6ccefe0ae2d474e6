"""The placement step of an application, stored: plans offered, the applicant's pick, the operator's
confirmation (``models.PlacementChoice``; its lifecycle is drawn there).

Every function takes the caller's session and the tenant the row must belong to; another tenant's
application is simply not found. The port (``ports.Placement``) calls them for the application a
process instance was started for; the application detail reads ``view`` through ``detail``.
Changes refused here are ``tasks.ports.Refused`` so that a process can catch them as BPMN errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.domains.applications.models import Application
from engine.domains.placement.models import PlacementChoice
from tasks.ports import Refused

FIGURES = ("objective", "placed", "requested", "cost", "performance", "max_util", "status")
DECISIONS = ("approve", "return")
MAX_COMMENT = 2000


def _row(s: Session, tenant_id: str, application_id: str, *, lock: bool = False) -> PlacementChoice | None:
    q = select(PlacementChoice).where(PlacementChoice.tenant_id == tenant_id,
                                      PlacementChoice.application_id == application_id)
    if lock:
        q = q.with_for_update()
    return s.scalars(q.execution_options(populate_existing=True)).first()


def _known(s: Session, tenant_id: str, application_id: str) -> PlacementChoice:
    """The application's row, locked; none in this tenant: the application is unknown."""
    row = _row(s, tenant_id, application_id, lock=True)
    if row is None:
        raise Refused("UNKNOWN_APPLICATION", f"no placement plans for application {application_id!r}")
    return row


def figures(plan: Mapping[str, Any]) -> dict[str, Any]:
    """What a gateway or a form needs of a plan: its objective and figures, not its assignments."""
    return {k: plan.get(k) for k in FIGURES}


def summary(row: PlacementChoice) -> dict[str, Any]:
    """What the process keeps of a round (small whatever the instance's size): the plans' figures."""
    return {"skipped": False, "round": row.round, "weights": row.weights,
            "objectives": [p["objective"] for p in row.plans], "plans": [figures(p) for p in row.plans]}


def record_plans(s: Session, tenant_id: str, application_id: str, plans: Sequence[Mapping[str, Any]],
                 weights: Mapping[str, Any] | None) -> dict[str, Any]:
    """Store a round of plans (the first, or a re-solve with new weights): the applicant decides
    again, and any earlier pick is forgotten. A confirmed choice is final."""
    now = clock.now()
    row = _row(s, tenant_id, application_id, lock=True)
    if row is None:
        owner = s.scalar(select(Application.tenant_id).where(Application.id == application_id))
        if owner != tenant_id:
            raise Refused("UNKNOWN_APPLICATION", f"no application {application_id!r}")
        row = PlacementChoice(tenant_id=tenant_id, application_id=application_id, round=0, created_at=now)
        s.add(row)
    elif row.status == "chosen":
        raise Refused("PLACEMENT_CHOSEN", f"the placement of application {application_id} is already chosen")
    row.round += 1
    row.status, row.objective, row.updated_at = "deciding", None, now
    row.plans = [dict(p) for p in plans]
    row.weights = dict(weights) if weights is not None else None
    return summary(row)


def pick(s: Session, tenant_id: str, application_id: str, objective: Any) -> dict[str, Any]:
    """The applicant's pick of one plan of the latest round: it now waits for an operator.
    ``NO_SUCH_PLAN`` when the round has no plan of that objective (custom before a re-solve)."""
    row = _known(s, tenant_id, application_id)
    if row.status != "deciding":
        raise Refused("NOT_DECIDING", f"application {application_id} has no placement plans to pick from")
    plan = next((p for p in row.plans if p.get("objective") == objective), None)
    if plan is None:
        raise Refused("NO_SUCH_PLAN", f"no {objective!r} plan in round {row.round}: solve it first (resolve)")
    row.status, row.objective, row.updated_at = "confirming", objective, clock.now()
    return figures(plan)


def confirm(s: Session, tenant_id: str, application_id: str, decision: Any, comment: Any = None
            ) -> dict[str, Any] | None:
    """An operator's decision on the picked plan: ``approve`` makes it the application's placement
    choice (returned: the shared ``placement_choice``); ``return`` sends it back to the applicant
    with ``comment`` (returns None)."""
    if decision not in DECISIONS:
        raise Refused("INVALID_DECISION", f"decision must be one of {', '.join(DECISIONS)}")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise Refused("INVALID_DECISION", f"comment must be text of at most {MAX_COMMENT} characters")
    row = _known(s, tenant_id, application_id)
    if row.status != "confirming":
        raise Refused("NOT_CONFIRMING", f"application {application_id} has no picked placement plan")
    now = clock.now()
    row.comment, row.updated_at = comment, now
    if decision == "return":
        row.status, row.objective = "deciding", None
        return None
    plan = next(p for p in row.plans if p.get("objective") == row.objective)
    row.choice = {"objective": row.objective, "weights": row.weights if row.objective == "custom" else None,
                  "assignments": [dict(a) for a in plan.get("assignments") or []],
                  "placed": plan.get("placed"), "cost": plan.get("cost"), "performance": plan.get("performance"),
                  "max_util": plan.get("max_util")}
    row.status, row.chosen_at = "chosen", now
    return dict(row.choice)


def view(row: PlacementChoice | None) -> dict[str, Any] | None:
    """The application detail's ``placement``: the plans while deciding, the choice after."""
    if row is None:
        return None
    chosen = row.status == "chosen"
    return {"status": row.status, "round": row.round, "weights": row.weights, "objective": row.objective,
            "comment": row.comment, "plans": None if chosen else row.plans, "choice": row.choice,
            "updated_at": row.updated_at, "chosen_at": row.chosen_at}


def detail(s: Session, app: Any, _items: Any) -> dict[str, Any]:
    """``applications.service.DETAIL_HOOKS`` entry: one statement, in the application's tenant."""
    return {"placement": view(_row(s, app.tenant_id, app.id))}
