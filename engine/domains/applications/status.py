"""The application status machine: one table of transitions, who may take each, and ``take``.

An application's life (``*``: the quota it holds is given back on the way)::

    draft --submit--> pending --approve (last step)--> approved --order--> ordered
     |  ^              | |  |                             |       (quota committed)
     |  +--withdraw*---+ |  +--reject*--> returned        |
     |                   |                 |  |           |
     |                   +<---resubmit-----+  |           |
     v                   v                    v           v
    cancelled <------ cancel* ------------- cancel ---- cancel* (the runtime only)

    from -> to             action    who (see TRANSITIONS)
    draft -> pending       submit    applicant asks, process applies (needs items)
    draft -> cancelled     cancel    applicant, manager (applied at once), process
    pending -> approved    approve   approver asks (last step), process applies
    pending -> returned    reject*   approver asks, process applies
    pending -> draft       withdraw* applicant asks (before the first approval), process applies
    pending -> cancelled   cancel*   applicant (before the first approval), manager; process, runtime
    returned -> pending    resubmit  applicant asks, process applies (needs items)
    returned -> cancelled  cancel    applicant asks; process, runtime
    approved -> ordered    order     orders step (needs the quota reservation held)
    approved -> cancelled  cancel*   runtime (process instance cancelled outright)

Who: the ``applicant``; a ``manager`` (holds ``application:manage`` and sees the application);
the ``approver`` the approval step waits for (the inbox checks which task); the application's
``process`` through its applications port (``applications/mark``); its ``orders`` step through
the orders port (``orders/create``); the ``runtime`` when an operator cancels the process instance
outright (``hooks.release_on_cancel``).

A person's request for a transition the process carries out (submit, resubmit, withdraw, reject,
approve, cancelling a pending or returned application) is only checked here; the process then
applies it as ``process``. Cancelling a draft is the one transition a person applies directly.
``take`` is the one function every path calls: it finds the transition (by target status or by
action), refuses it (``NotAllowed``, 409: not in this status, not any more; ``NotYours``, 403: not
this actor) or applies it (status and the columns that go with it).

Quota: ``none``/``released`` --reserve--> ``reserved`` --commit (with the order)--> ``committed``;
``reserved`` --release--> ``released`` (``QUOTA_TRANSITIONS``, ``take_quota``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from engine import clock
from engine.errors import Conflict
from engine.tenancy.access import PermissionDenied

APPLICATION_STATUSES = ("draft", "pending", "returned", "approved", "ordered", "cancelled")
# the statuses of an application that has its order: one is made only as it leaves "approved" (one per
# application, by a unique constraint), and nothing leaves "ordered"
HAS_ORDER = frozenset({"ordered"})
# the quota an application holds: none, in process (reserved), used (committed with its order), released
QUOTA_STATES = ("none", "reserved", "committed", "released")
# what the applicant may still edit (items, fields, attachments)
EDITABLE = ("draft", "returned")


class Actor(StrEnum):
    APPLICANT = "applicant"
    MANAGER = "manager"
    APPROVER = "approver"
    PROCESS = "process"
    ORDERS = "orders"
    RUNTIME = "runtime"


PEOPLE = frozenset({Actor.APPLICANT, Actor.MANAGER, Actor.APPROVER})


@dataclass(frozen=True)
class Transition:
    """``action``: what it is called; ``actors``: who may take it; ``until_approved``: those of them
    who may take it only before the first approval; ``direct``: a person's request is applied at
    once (otherwise the process carries it out); ``needs_items``: the application has items;
    ``needs_reservation``: it holds its quota reservation; ``releases_quota``: the quota it holds
    is given back on the way (by the process's ``quota/release`` step, or the runtime hook)."""

    action: str
    actors: frozenset[Actor]
    until_approved: frozenset[Actor] = frozenset()
    direct: bool = False
    needs_items: bool = False
    needs_reservation: bool = False
    releases_quota: bool = False


def _t(action: str, *actors: Actor, until_approved: tuple[Actor, ...] = (), **kw: Any) -> Transition:
    return Transition(action, frozenset(actors), frozenset(until_approved), **kw)


APPLICANT, MANAGER, APPROVER, PROCESS, ORDERS, RUNTIME = Actor

# (from, to) -> the transition and who may take it
TRANSITIONS: Mapping[tuple[str, str], Transition] = MappingProxyType({
    ("draft", "pending"): _t("submit", APPLICANT, PROCESS, needs_items=True),
    ("draft", "cancelled"): _t("cancel", APPLICANT, MANAGER, PROCESS, direct=True),
    ("pending", "approved"): _t("approve", APPROVER, PROCESS),
    ("pending", "returned"): _t("reject", APPROVER, PROCESS, releases_quota=True),
    ("pending", "draft"): _t("withdraw", APPLICANT, PROCESS, until_approved=(APPLICANT,), releases_quota=True),
    ("pending", "cancelled"): _t("cancel", APPLICANT, MANAGER, PROCESS, RUNTIME, until_approved=(APPLICANT,),
                                 releases_quota=True),
    ("returned", "pending"): _t("resubmit", APPLICANT, PROCESS, needs_items=True),
    ("returned", "cancelled"): _t("cancel", APPLICANT, PROCESS, RUNTIME),
    ("approved", "ordered"): _t("order", ORDERS, needs_reservation=True),
    ("approved", "cancelled"): _t("cancel", RUNTIME, releases_quota=True),
})

QUOTA_TRANSITIONS: Mapping[tuple[str, str], str] = MappingProxyType({
    ("none", "reserved"): "reserve",
    ("released", "reserved"): "reserve",
    ("reserved", "committed"): "commit",
    ("reserved", "released"): "release",
})

# the statuses the applications port (applications/mark) may set
MARKABLE = tuple(dict.fromkeys(to for (_f, to), t in TRANSITIONS.items() if PROCESS in t.actors))


class NotAllowed(Conflict):
    """The application's status (or approvals, items, quota) does not allow the transition (409).
    ``reason``: the BPMN error code a port raises for it."""

    def __init__(self, message: str, *, reason: str = "INVALID_TRANSITION") -> None:
        super().__init__(message)
        self.reason = reason


class NotYours(PermissionDenied):
    """The actor may see the application but not take this transition (403)."""

    reason = "NOT_PERMITTED"


def allows(status: str, to: str, actor: Actor | None) -> bool:
    """Whether ``actor`` may ever take ``status`` -> ``to`` (before approvals, items and quota)."""
    t = TRANSITIONS.get((status, to))
    return t is not None and actor in t.actors


def _by_action(status: str, action: str) -> tuple[str, Transition] | None:
    for (frm, to), t in TRANSITIONS.items():
        if frm == status and t.action == action:
            return to, t
    return None


def _wrong_status(number: str, status: str, action: str) -> NotAllowed:
    """The message, by action, for a request the status does not allow."""
    if action == "submit":
        return NotAllowed(f"application {number} is {status}; only a draft can be submitted"
                          + ("; resubmit a rejected one" if status == "returned" else ""))
    if action == "resubmit":
        return NotAllowed(f"application {number} is {status}; only a rejected one can be resubmitted")
    if action == "cancel":
        return NotAllowed(f"application {number} is {status}; it cannot be cancelled")
    if action in ("approve", "reject"):
        return NotAllowed(f"application {number} is {status}, not waiting for approval", reason="NOT_PENDING")
    if action == "order":
        return NotAllowed(f"application {number} is {status}, not approved", reason="NOT_APPROVED")
    return NotAllowed(f"application {number} is {status}, not pending approval", reason="NOT_PENDING")


def take(app: Any, actor: Actor | None, *, to: str | None = None, action: str | None = None,
         has_items: bool | None = None, comment: str | None = None) -> tuple[str, Transition]:
    """Check, and where ``actor`` applies it, apply the transition of ``app`` (an Application, locked
    when it is applied) to status ``to`` or by ``action``; returns (target status, transition).

    Applied: by the process, its orders step and the runtime always; by a person only when the
    transition is ``direct`` (otherwise the caller hands the request to the process). Refused:
    ``NotYours`` (403) when ``actor`` takes this action in no status or not in this one,
    ``NotAllowed`` (409) when the status, the approvals given, the items (``has_items`` False) or
    the quota reservation do not allow it.
    """
    if (to is None) == (action is None):
        raise ValueError("take: give exactly one of to= and action=")
    number, status = app.number, app.status
    if action is not None:
        if not any(t.action == action and actor in t.actors for t in TRANSITIONS.values()):
            raise NotYours(f"only the applicant may do this to application {number}")
        found = _by_action(status, action)
        if found is None:
            raise _wrong_status(number, status, action)
        to, t = found
    else:
        assert to is not None
        t_or_none = TRANSITIONS.get((status, to))
        if t_or_none is None or (actor not in PEOPLE and actor not in t_or_none.actors):
            if to == "ordered" and t_or_none is None:
                raise _wrong_status(number, status, "order")
            raise NotAllowed(f"application {number} is {status}; it cannot become {to}")
        t = t_or_none
    if actor not in t.actors:
        if status == "returned" and t.action == "cancel":
            raise NotYours(f"application {number} waits for its applicant, who may cancel it")
        raise NotYours(f"application {number} is {status}; {'the ' + actor if actor else 'you'} may not "
                       f"{t.action} it")
    if actor in t.until_approved and app.approvals:
        raise NotAllowed(f"application {number} already has an approval; it can no longer be "
                         + ("withdrawn" if t.action == "withdraw" else "cancelled by its applicant"))
    if t.needs_items and has_items is False:
        raise NotAllowed(f"application {number} has no items", reason="NO_ITEMS")
    if t.needs_reservation and app.quota_state != "reserved":  # e.g. no order without its quota held
        raise NotAllowed(f"application {number} holds no quota reservation ({app.quota_state})",
                         reason="NOT_RESERVED")
    if actor not in PEOPLE or t.direct:
        _apply(app, to, comment, clock.now())
    return to, t


def _apply(app: Any, to: str, comment: str | None, now: datetime) -> None:
    app.status, app.updated_at = to, now
    if to == "pending":
        app.submitted_at, app.approvals, app.submissions, app.last_comment = now, 0, app.submissions + 1, None
    elif to == "draft":
        app.approvals = 0
    elif to != "ordered":
        app.decided_at = now
        if comment is not None:
            app.last_comment = str(comment)[:2000]


def take_quota(app: Any, to: str) -> str:
    """Move the quota an application holds to ``to`` (NotAllowed when it cannot); returns the action."""
    action = QUOTA_TRANSITIONS.get((app.quota_state, to))
    if action is None:
        raise NotAllowed(f"application {app.number} holds {app.quota_state} quota; it cannot become {to}",
                         reason="NOT_RESERVED" if to != "reserved" else "ALREADY_RESERVED")
    app.quota_state = to
    return action
