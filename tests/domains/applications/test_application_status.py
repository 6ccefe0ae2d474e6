"""The application status machine (``engine.domains.applications.status``): the table itself, who
may take each transition, what each refusal is (403 or 409), what applying one changes, and
``Runtime.signal``, through which the domain signals its waiting process."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engine import clock
from engine.domains.applications.status import (
    APPLICATION_STATUSES,
    MARKABLE,
    PEOPLE,
    QUOTA_STATES,
    QUOTA_TRANSITIONS,
    TRANSITIONS,
    Actor,
    NotAllowed,
    NotYours,
    allows,
    take,
    take_quota,
)
from engine.errors import Conflict
from engine.models import ProcessInstance
from tests.helpers import read

A, M, V, P, O, R = (Actor.APPLICANT, Actor.MANAGER, Actor.APPROVER, Actor.PROCESS, Actor.ORDERS,  # noqa: E741
                    Actor.RUNTIME)

# the whole table, spelled out: (from, to) -> (action, who may take it)
EXPECTED = {
    ("draft", "pending"): ("submit", {A, P}),
    ("draft", "cancelled"): ("cancel", {A, M, P}),
    ("pending", "approved"): ("approve", {V, P}),
    ("pending", "returned"): ("reject", {V, P}),
    ("pending", "draft"): ("withdraw", {A, P}),
    ("pending", "cancelled"): ("cancel", {A, M, P, R}),
    ("returned", "pending"): ("resubmit", {A, P}),
    ("returned", "cancelled"): ("cancel", {A, P, R}),
    ("approved", "ordered"): ("order", {O}),
    ("approved", "cancelled"): ("cancel", {R}),
}
ACTIONS = sorted({action for action, _ in EXPECTED.values()})


def app(status: str, **kw: Any) -> SimpleNamespace:
    """An application as ``take`` sees it: everything allowed unless the test says otherwise."""
    fields = {"number": "AP-1", "status": status, "approvals": 0, "submissions": 1, "quota_state": "reserved",
              "last_comment": "old", "submitted_at": None, "decided_at": None, "updated_at": None}
    return SimpleNamespace(**{**fields, **kw})


def test_the_table_is_the_one_spelled_out_here_and_is_frozen() -> None:
    assert {k: (t.action, set(t.actors)) for k, t in TRANSITIONS.items()} == EXPECTED
    assert all(f in APPLICATION_STATUSES and to in APPLICATION_STATUSES for f, to in TRANSITIONS)
    assert all(f in QUOTA_STATES and to in QUOTA_STATES for f, to in QUOTA_TRANSITIONS)
    with pytest.raises(TypeError):
        TRANSITIONS[("ordered", "draft")] = TRANSITIONS[("draft", "pending")]  # type: ignore[index]
    with pytest.raises(AttributeError):
        TRANSITIONS[("draft", "pending")].actors = frozenset()  # type: ignore[misc]
    # nothing leaves ordered or cancelled; only the runtime cancels an approved application
    assert not [k for k in TRANSITIONS if k[0] in ("ordered", "cancelled")]
    assert MARKABLE == ("pending", "cancelled", "approved", "returned", "draft")  # never "ordered"


@pytest.mark.parametrize(("frm", "to", "actor"),
                         list(itertools.product(APPLICATION_STATUSES, APPLICATION_STATUSES, list(Actor))))
def test_every_transition_by_target_for_every_actor(frm: str, to: str, actor: Actor) -> None:
    """By target status (how the process, its orders step and the runtime ask)."""
    allowed = (frm, to) in EXPECTED and actor in EXPECTED[(frm, to)][1]
    assert allows(frm, to, actor) is allowed
    if actor in PEOPLE:
        return  # people ask by action (next test)
    a = app(frm)
    if allowed:
        assert take(a, actor, to=to)[0] == to and a.status == to
    else:
        with pytest.raises(NotAllowed) as exc:
            take(a, actor, to=to)
        assert exc.value.status == 409 and a.status == frm
        expected = "NOT_APPROVED" if to == "ordered" and (frm, to) not in EXPECTED else "INVALID_TRANSITION"
        assert exc.value.reason == expected


@pytest.mark.parametrize(("frm", "action", "actor"),
                         list(itertools.product(APPLICATION_STATUSES, ACTIONS, [A, M, V, None])))
def test_every_action_in_every_status_for_every_person(frm: str, action: str, actor: Actor | None) -> None:
    """By action (how the API's callers ask): 403 when this person never takes the action, or not in
    this status; 409 when the status does not allow it; otherwise checked (and applied if direct)."""
    here = [(to, who) for (f, to), (act, who) in EXPECTED.items() if f == frm and act == action]
    anywhere = any(act == action and actor in who for act, who in EXPECTED.values())
    a = app(frm)
    if not anywhere:
        with pytest.raises(NotYours) as forbidden:
            take(a, actor, action=action, has_items=True)
        assert forbidden.value.status == 403
    elif not here:
        with pytest.raises(NotAllowed) as conflict:
            take(a, actor, action=action, has_items=True)
        assert conflict.value.status == 409
    elif actor not in here[0][1]:
        with pytest.raises(NotYours):
            take(a, actor, action=action, has_items=True)
    else:
        to, transition = take(a, actor, action=action, has_items=True)
        assert to == here[0][0] and transition.action == action
        # a person's request is carried out by the process, except cancelling a draft
        assert a.status == (to if transition.direct else frm)
        assert transition.direct is ((frm, action) == ("draft", "cancel"))
        return
    assert a.status == frm


def test_the_applicant_withdraws_or_cancels_only_before_the_first_approval() -> None:
    for action in ("withdraw", "cancel"):
        assert take(app("pending"), A, action=action)[0] in ("draft", "cancelled")
        with pytest.raises(NotAllowed, match="already has an approval") as exc:
            take(app("pending", approvals=1), A, action=action)
        assert exc.value.status == 409
    assert take(app("pending", approvals=2), M, action="cancel")[0] == "cancelled"  # a manager any time
    assert take(app("pending", approvals=2), P, to="cancelled")[0] == "cancelled"  # the process applies it


def test_refusals_keep_their_messages() -> None:
    with pytest.raises(NotYours, match="only the applicant may do this to application AP-1"):
        take(app("pending"), M, action="withdraw")
    with pytest.raises(NotYours, match="waits for its applicant, who may cancel it"):
        take(app("returned"), M, action="cancel")
    with pytest.raises(NotAllowed, match="only a draft can be submitted; resubmit a rejected one"):
        take(app("returned"), A, action="submit")
    with pytest.raises(NotAllowed, match="is ordered; it cannot be cancelled"):
        take(app("ordered"), M, action="cancel")
    with pytest.raises(NotAllowed, match="is draft, not pending approval"):
        take(app("draft"), A, action="withdraw")
    with pytest.raises(NotAllowed, match="only a rejected one can be resubmitted"):
        take(app("draft"), A, action="resubmit")
    with pytest.raises(NotAllowed, match="not waiting for approval"):
        take(app("returned"), V, action="approve")
    with pytest.raises(NotAllowed, match="is pending, not approved"):
        take(app("pending"), O, to="ordered")
    with pytest.raises(ValueError):
        take(app("draft"), A)


def test_requirements_items_and_the_quota_held() -> None:
    for frm, action in (("draft", "submit"), ("returned", "resubmit")):
        with pytest.raises(NotAllowed, match="has no items") as exc:
            take(app(frm), A, action=action, has_items=False)
        assert exc.value.reason == "NO_ITEMS"
    with pytest.raises(NotAllowed) as short:  # no order without its quota held
        take(app("approved", quota_state="released"), O, to="ordered")
    assert short.value.reason == "NOT_RESERVED"
    a = app("approved")
    take(a, O, to="ordered")
    assert a.status == "ordered" and a.decided_at is None


def test_applying_sets_the_columns_that_go_with_the_status(frozen: Any) -> None:
    a = app("draft", submissions=1)
    take(a, P, to="pending")
    assert (a.status, a.submissions, a.approvals, a.last_comment, a.submitted_at) == (
        "pending", 2, 0, None, clock.now())
    a.approvals = 1
    take(a, P, to="returned", comment="too many")
    assert (a.status, a.last_comment, a.decided_at) == ("returned", "too many", clock.now())
    b = app("pending", approvals=1)
    take(b, P, to="draft")
    assert (b.status, b.approvals, b.decided_at) == ("draft", 0, None)
    c = app("draft")
    take(c, A, action="cancel")  # direct: applied at once
    assert (c.status, c.decided_at, c.updated_at) == ("cancelled", clock.now(), clock.now())


def test_quota_moves() -> None:
    for frm, to in itertools.product(QUOTA_STATES, QUOTA_STATES):
        a = app("pending", quota_state=frm)
        if (frm, to) in QUOTA_TRANSITIONS:
            assert take_quota(a, to) == QUOTA_TRANSITIONS[(frm, to)] and a.quota_state == to
        else:
            with pytest.raises(NotAllowed):
                take_quota(a, to)
            assert a.quota_state == frm
    assert dict(QUOTA_TRANSITIONS) == {("none", "reserved"): "reserve", ("released", "reserved"): "reserve",
                                       ("reserved", "committed"): "commit", ("reserved", "released"): "release"}


def test_which_transitions_give_the_quota_back() -> None:
    assert {k for k, t in TRANSITIONS.items() if t.releases_quota} == {
        ("pending", "returned"), ("pending", "draft"), ("pending", "cancelled"), ("approved", "cancelled")}


# -- Runtime.signal ---------------------------------------------------------------------------------

def test_runtime_signal_delivers_to_the_waiting_catch_and_refuses_when_nothing_waits(engine: Any) -> None:
    engine.registry.deploy({"msg_signoff.bpmn": read("msg_signoff.bpmn")})
    inst = engine.runtime.start("msg_signoff", tenant_id="t-alpha", business_key="CR-1")
    with (pytest.raises(Conflict, match="nothing in the instance waits for message 'nope'"),
          engine.runtime.mutation(inst.id, tenant_id="t-alpha", actor="carol") as (_s, loaded)):
        engine.runtime.signal(loaded, "nope", {})
    with engine.runtime.mutation(inst.id, tenant_id="t-alpha", actor="carol") as (_s, loaded):
        engine.runtime.signal(loaded, "signed_off", {"by": "carol"})
    with engine.db.read() as s:
        row = s.get(ProcessInstance, inst.id)
        data = engine.runtime.load(s, row).workflow.data
    assert row.status == "completed" and data["signoff"] == {"by": "carol"}


def test_the_applications_domain_no_longer_imports_spiffworkflow() -> None:
    root = Path(__file__).resolve().parents[3] / "engine" / "domains" / "applications"
    assert not [p.name for p in root.glob("*.py") if "SpiffWorkflow" in p.read_text()]
