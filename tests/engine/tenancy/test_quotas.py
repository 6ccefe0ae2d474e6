"""Quotas: the tenant > organisation tree, the 409 rules, reservations, and no overcommit under concurrency."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Quota, Role, User, UserRole
from engine.principal import Principal
from engine.tenancy import organizations, quotas
from engine.tenancy.access import PermissionDenied
from engine.tenancy.roles import ensure_builtin_roles

D = Decimal


def add_user(engine, username: str, tenant_id: str | None, role: str, organization_id: str | None = None) -> Principal:
    with engine.db.write() as s:
        user = User(username=username, password_hash="-", tenant_id=tenant_id, organization_id=organization_id)
        s.add(user)
        s.flush()
        s.add(UserRole(user_id=user.id, role_id=s.scalars(select(Role.id).where(Role.code == role)).one()))
    return Principal(user.id, username, tenant_id, organization_id, (role,))


@pytest.fixture
def world(any_engine):
    """alpha: top (> sub), top2; beta: btop. Platform admin, alpha and beta tenant admins."""
    with any_engine.db.write() as s:
        ensure_builtin_roles(s)
    admin = add_user(any_engine, "admin", None, "platform_admin")
    alpha = add_user(any_engine, "alpha-admin", "t-alpha", "tenant_admin")
    beta = add_user(any_engine, "beta-admin", "t-beta", "tenant_admin")
    top = organizations.create_organization(any_engine, alpha, code="top", name="Top")
    sub = organizations.create_organization(any_engine, alpha, code="sub", name="Sub", parent_id=top.id)
    top2 = organizations.create_organization(any_engine, alpha, code="top2", name="Top 2")
    btop = organizations.create_organization(any_engine, beta, code="btop", name="Beta top")
    return {"engine": any_engine, "admin": admin, "alpha": alpha, "beta": beta, "top": top.id, "sub": sub.id,
            "top2": top2.id, "btop": btop.id}


def figures(world, org: str | None, dim: str = "vcpu") -> dict[str, Decimal]:
    level = quotas.get_quota(world["engine"], world["admin"], tenant_id="t-alpha", organization_id=org)
    return level["dimensions"][dim]


def book(world, op, org: str | None, amounts: dict, **kwargs) -> None:
    with world["engine"].db.write() as s:
        op(s, "t-alpha", org, amounts, **kwargs)


def test_each_level_reports_total_allocated_available_used_and_in_process(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    quotas.set_totals(eng, admin, {"vcpu": 100, "gpus": "8"}, tenant_id="t-alpha")
    quotas.set_totals(eng, alpha, {"vcpu": 60}, organization_id=world["top"])
    quotas.set_totals(eng, alpha, {"vcpu": "20.5"}, organization_id=world["sub"])
    book(world, quotas.reserve, world["sub"], {"vcpu": 5})
    book(world, quotas.reserve, world["top"], {"vcpu": 3})  # consumed at top itself
    book(world, quotas.commit_reserved, world["sub"], {"vcpu": 2})

    assert figures(world, world["sub"]) == {"total": D("20.5"), "allocated": 0, "available": D("15.5"),
                                            "used": 2, "in_process": 3}
    # top: 20.5 handed to sub, 3 in process itself; used/in_process count the whole subtree
    assert figures(world, world["top"]) == {"total": 60, "allocated": D("20.5"), "available": D("36.5"),
                                            "used": 2, "in_process": 6}
    assert figures(world, None) == {"total": 100, "allocated": 60, "available": 40, "used": 2, "in_process": 6}
    assert figures(world, None, "gpus")["available"] == 8

    book(world, quotas.release, world["sub"], {"vcpu": 3})  # a reservation that will not be used
    book(world, quotas.release, world["sub"], {"vcpu": 2}, used=True)  # resources that are gone
    assert figures(world, None) == {"total": 100, "allocated": 60, "available": 40, "used": 0, "in_process": 3}
    assert figures(world, world["sub"])["available"] == D("20.5")


def test_a_child_never_gets_more_than_its_parent_has_available(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    quotas.set_totals(eng, admin, {"vcpu": 100}, tenant_id="t-alpha")
    quotas.set_totals(eng, alpha, {"vcpu": 70}, organization_id=world["top"])
    with pytest.raises(Conflict) as exc:
        quotas.set_totals(eng, alpha, {"vcpu": 31}, organization_id=world["top2"])
    err = exc.value.errors[0]
    assert (err["dimension"], err["level"], err["available"]) == ("vcpu", "tenant", "30.000")
    assert "vcpu" in exc.value.message and "tenant 'alpha'" in exc.value.message
    quotas.set_totals(eng, alpha, {"vcpu": 30}, organization_id=world["top2"])

    book(world, quotas.reserve, world["top"], {"vcpu": 10})
    with pytest.raises(Conflict) as exc:  # top has 70 - 10 in use = 60 to give its sub-organisation
        quotas.set_totals(eng, alpha, {"vcpu": 61}, organization_id=world["sub"])
    assert (exc.value.errors[0]["level"], exc.value.errors[0]["level_label"]) == ("organization", "organization 'top'")
    quotas.set_totals(eng, alpha, {"vcpu": 60}, organization_id=world["sub"])
    quotas.set_totals(eng, alpha, {"vcpu": 60}, organization_id=world["sub"])  # unchanged: still fits
    assert figures(world, world["top"])["available"] == 0


def test_a_parent_cannot_drop_below_what_it_allocated_or_uses(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    quotas.set_totals(eng, admin, {"vcpu": 100, "memory_gib": 512}, tenant_id="t-alpha")
    quotas.set_totals(eng, alpha, {"vcpu": 60}, organization_id=world["top"])
    quotas.set_totals(eng, alpha, {"vcpu": 40}, organization_id=world["sub"])
    with pytest.raises(Conflict) as exc:
        quotas.set_totals(eng, admin, {"memory_gib": 1, "vcpu": 59}, tenant_id="t-alpha")
    err = exc.value.errors[0]
    assert (err["dimension"], err["level"], err["minimum"], err["allocated"]) == ("vcpu", "tenant", "60.000", "60.000")
    with pytest.raises(Conflict, match="organization 'top'"):
        quotas.set_totals(eng, alpha, {"vcpu": 39}, organization_id=world["top"])
    book(world, quotas.reserve, world["sub"], {"vcpu": 25})
    with pytest.raises(Conflict, match="is in use"):
        quotas.set_totals(eng, alpha, {"vcpu": 24}, organization_id=world["sub"])
    assert figures(world, None, "memory_gib")["total"] == 512  # the refused update changed nothing
    quotas.set_totals(eng, admin, {"vcpu": 60}, tenant_id="t-alpha")


def test_a_reservation_that_does_not_fit_names_the_dimension_and_level_and_books_nothing(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    quotas.set_totals(eng, admin, {"vcpu": 100, "gpus": 4}, tenant_id="t-alpha")
    quotas.set_totals(eng, alpha, {"vcpu": 50, "gpus": 2}, organization_id=world["top"])
    quotas.set_totals(eng, alpha, {"vcpu": 10, "gpus": 2}, organization_id=world["sub"])
    with pytest.raises(Conflict) as exc:
        book(world, quotas.reserve, world["sub"], {"vcpu": 4, "gpus": 3})
    assert exc.value.errors[0]["dimension"] == "gpus" and exc.value.errors[0]["level_label"] == "organization 'sub'"
    assert figures(world, world["sub"])["in_process"] == 0 and figures(world, None)["in_process"] == 0
    with pytest.raises(Conflict, match="tenant 'alpha'"):  # the tenant's own pool: 100 - 50 allocated
        book(world, quotas.reserve, None, {"vcpu": 51})
    with pytest.raises(Conflict, match="organization 'top2'"):  # no quota given: nothing available
        book(world, quotas.reserve, world["top2"], {"vcpu": 1})
    with pytest.raises(Conflict, match="reserved"):
        book(world, quotas.commit_reserved, world["sub"], {"vcpu": 1})
    with pytest.raises(Conflict, match="in use"):
        book(world, quotas.release, world["sub"], {"vcpu": 1}, used=True)
    with pytest.raises(NotFound):
        book(world, quotas.reserve, world["btop"], {"vcpu": 1})  # beta's organisation is not in alpha


@pytest.mark.parametrize("amounts", [{"cpu": 1}, {"vcpu": -1}, {"vcpu": "1.0001"}, {"vcpu": "lots"}, {"vcpu": "NaN"}])
def test_bad_amounts_are_rejected_by_field(world, amounts):
    with pytest.raises(InvalidInput) as exc:
        quotas.set_totals(world["engine"], world["admin"], amounts, tenant_id="t-alpha")
    assert exc.value.errors[0]["field"].startswith("totals.")


def test_who_may_read_and_set_which_level(world):
    eng, alpha, beta = world["engine"], world["alpha"], world["beta"]
    with pytest.raises(PermissionDenied):  # a tenant never sets its own tenant total
        quotas.set_totals(eng, alpha, {"vcpu": 1}, tenant_id="t-alpha")
    with pytest.raises(NotFound):
        quotas.get_quota(eng, beta, organization_id=world["top"])
    with pytest.raises(NotFound):
        quotas.set_totals(eng, beta, {"vcpu": 1}, organization_id=world["top"])
    with pytest.raises(NotFound):
        quotas.list_quotas(eng, beta, tenant_id="t-alpha")
    levels, total = quotas.list_quotas(eng, alpha)
    assert total == 4 and [lv["label"] for lv in levels][0] == "tenant 'alpha'"
    user = add_user(eng, "sub-user", "t-alpha", "tenant_user", world["sub"])  # scope mine: its organisation
    levels, total = quotas.list_quotas(eng, user)
    assert total == 1 and levels[0]["organization_id"] == world["sub"]
    with pytest.raises(NotFound):
        quotas.get_quota(eng, user, tenant_id="t-alpha")


def test_deleting_an_organisation_returns_its_allocation_and_a_subtree_with_quota_does_not_move(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    quotas.set_totals(eng, admin, {"vcpu": 100}, tenant_id="t-alpha")
    quotas.set_totals(eng, alpha, {"vcpu": 30}, organization_id=world["top2"])
    quotas.set_totals(eng, alpha, {"vcpu": 30}, organization_id=world["top"])
    quotas.set_totals(eng, alpha, {"vcpu": 5}, organization_id=world["sub"])
    with pytest.raises(Conflict, match="holds no quota"):
        organizations.update_organization(eng, alpha, world["sub"], parent_id=world["top2"])
    book(world, quotas.reserve, world["top2"], {"vcpu": 1})
    with pytest.raises(Conflict, match="in use"):
        organizations.delete_organization(eng, alpha, world["top2"])
    book(world, quotas.release, world["top2"], {"vcpu": 1})
    organizations.delete_organization(eng, alpha, world["top2"])
    assert figures(world, None)["available"] == 70
    quotas.set_totals(eng, alpha, {"vcpu": 0}, organization_id=world["sub"])
    moved = organizations.update_organization(eng, alpha, world["sub"], parent_id=None)
    assert moved.path == f"/{world['sub']}/"


# -- GPUs per accelerator model ---------------------------------------------------------------------

def gpu_items(*lines: tuple[int, int, str]) -> dict[str, Decimal]:
    """The demand of application lines (quantity x count x model), as the quota operator computes it."""
    from tasks.quota import demand

    return demand([{"quantity": q, "vcpu": 0, "gpu_count": n, "gpus_by_model": {m: n}, "instances": 0}
                   for q, n, m in lines])


def model_figures(world, org: str | None, model: str) -> dict:
    level = quotas.get_quota(world["engine"], world["admin"], tenant_id="t-alpha", organization_id=org)
    return level["gpus_by_model"][model]


def test_a_per_model_gpu_cap_is_enforced_beside_the_gpu_total_at_every_level(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    quotas.set_totals(eng, admin, {"gpus": 16, "gpus_by_model": {"H100": 8}}, tenant_id="t-alpha")
    quotas.set_totals(eng, alpha, {"gpus": 16}, organization_id=world["top"])  # no H100 cap of its own
    assert gpu_items((2, 8, "H100"))["gpus:H100"] == 16 and gpu_items((2, 8, "H100"))["gpus"] == 16

    with pytest.raises(Conflict) as exc:  # 16 GPUs fit the totals, but the tenant caps H100s at 8
        book(world, quotas.reserve, world["top"], gpu_items((2, 8, "H100")))
    assert exc.value.errors[0]["dimension"] == "gpus:H100" and exc.value.errors[0]["level_label"] == "tenant 'alpha'"
    assert str(exc.value).startswith("gpus:H100:")
    assert figures(world, world["top"], "gpus")["in_process"] == 0  # nothing booked

    book(world, quotas.reserve, world["top"], gpu_items((1, 8, "H100"), (1, 8, "A100")))
    assert figures(world, None, "gpus") == {"total": 16, "allocated": 16, "available": 0, "used": 0, "in_process": 16}
    assert model_figures(world, None, "H100") == {"capped": True, "total": 8, "allocated": 0, "available": 0,
                                                  "used": 0, "in_process": 8}
    assert model_figures(world, world["top"], "A100") == {"capped": False, "total": None, "allocated": 0,
                                                          "available": None, "used": 0, "in_process": 8}
    with pytest.raises(Conflict) as exc:  # the total is spent whatever the model
        book(world, quotas.reserve, world["top"], gpu_items((1, 1, "A100")))
    assert exc.value.errors[0]["dimension"] == "gpus"

    # an organisation's cap on a model comes out of its parent's cap: top already uses 8 H100s
    quotas.set_totals(eng, alpha, {"gpus_by_model": {"H100": 8}}, organization_id=world["top"])
    with pytest.raises(Conflict) as exc:
        quotas.set_totals(eng, alpha, {"gpus_by_model": {"H100": 9}}, organization_id=world["top"])
    assert exc.value.errors[0]["dimension"] == "gpus:H100" and exc.value.errors[0]["level"] == "tenant"
    with pytest.raises(Conflict, match="gpus:H100"):  # nor below what it uses
        quotas.set_totals(eng, alpha, {"gpus_by_model": {"H100": 7}}, organization_id=world["top"])
    assert model_figures(world, None, "H100")["allocated"] == 8

    # committing and releasing move the per-model figures with the total
    book(world, quotas.commit_reserved, world["top"], gpu_items((1, 8, "H100")))
    book(world, quotas.release, world["top"], gpu_items((1, 8, "A100")))
    assert model_figures(world, world["top"], "H100")["used"] == 8
    assert model_figures(world, None, "A100")["in_process"] == 0
    assert figures(world, None, "gpus")["used"] == 8 and figures(world, None, "gpus")["in_process"] == 0

    # lifting the caps leaves only the total
    quotas.set_totals(eng, alpha, {"gpus_by_model": {"H100": None}}, organization_id=world["top"])
    quotas.set_totals(eng, admin, {"gpus_by_model": {"H100": None}}, tenant_id="t-alpha")
    book(world, quotas.reserve, world["top"], gpu_items((1, 8, "H100")))
    assert model_figures(world, None, "H100") == {"capped": False, "total": None, "allocated": 0, "available": None,
                                                  "used": 8, "in_process": 8}


def test_an_organisation_cap_on_a_model_limits_its_subtree(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    quotas.set_totals(eng, admin, {"gpus": 32}, tenant_id="t-alpha")
    quotas.set_totals(eng, alpha, {"gpus": 32, "gpus_by_model": {"H100": 4}}, organization_id=world["top"])
    quotas.set_totals(eng, alpha, {"gpus": 16}, organization_id=world["sub"])
    with pytest.raises(Conflict) as exc:  # sub has no H100 cap, its parent top has
        book(world, quotas.reserve, world["sub"], gpu_items((1, 8, "H100")))
    error = exc.value.errors[0]
    assert error["dimension"] == "gpus:H100" and error["level_label"] == "organization 'top'"
    book(world, quotas.reserve, world["sub"], gpu_items((1, 4, "H100"), (1, 8, "A100")))
    with pytest.raises(Conflict, match="gpus:H100"):  # top's H100s are all in use below it
        quotas.set_totals(eng, alpha, {"gpus_by_model": {"H100": 3}}, organization_id=world["top"])


@pytest.mark.parametrize("totals", [{"gpus_by_model": {"": 1}}, {"gpus_by_model": {"A,B": 1}},
                                    {"gpus_by_model": {"H100": -1}}, {"gpus_by_model": {"H100": "x"}},
                                    {"gpus_by_model": ["H100"]}, {"gpus:": 1}, {"gpus": None}])
def test_bad_model_caps_are_rejected(world, totals):
    with pytest.raises(InvalidInput):
        quotas.set_totals(world["engine"], world["admin"], totals, tenant_id="t-alpha")


# -- concurrency (PostgreSQL row locks) --------------------------------------------------------------

def _race(workers: int, job) -> tuple[int, int]:
    barrier = threading.Barrier(workers)
    results: list[str] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            job(i)
            results.append("ok")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == workers, "a worker died with an unexpected error"
    return results.count("ok"), results.count("conflict")


@pytest.mark.postgres
@pytest.mark.parametrize("any_engine", ["postgres"], indirect=True)
def test_concurrent_reservations_never_overcommit(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    quotas.set_totals(eng, admin, {"vcpu": 100}, tenant_id="t-alpha")
    quotas.set_totals(eng, alpha, {"vcpu": 100}, organization_id=world["top"])
    quotas.set_totals(eng, alpha, {"vcpu": 50}, organization_id=world["sub"])

    def job(i: int) -> None:  # half at the sub-organisation, half at its parent: shared ancestors
        with eng.db.write() as s:
            quotas.reserve(s, "t-alpha", world["sub"] if i % 2 else world["top"], {"vcpu": 7})

    ok, refused = _race(20, job)
    sub, top, tenant = figures(world, world["sub"]), figures(world, world["top"]), figures(world, None)
    assert sub["in_process"] == 7 * 7  # 50 // 7 reservations fit at sub
    assert top["in_process"] - sub["in_process"] == 7 * 7  # (100 - 50) // 7 at top itself
    assert ok == 14 and refused == 6
    assert tenant["in_process"] == top["in_process"] == 98
    assert min(sub["available"], top["available"], tenant["available"]) >= 0


@pytest.mark.postgres
@pytest.mark.parametrize("any_engine", ["postgres"], indirect=True)
def test_concurrent_total_changes_never_allocate_more_than_the_parent_has(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    quotas.set_totals(eng, admin, {"vcpu": 100}, tenant_id="t-alpha")
    orgs = [organizations.create_organization(eng, alpha, code=f"o{i}", name=f"O{i}").id for i in range(10)]

    ok, refused = _race(10, lambda i: quotas.set_totals(eng, alpha, {"vcpu": 30}, organization_id=orgs[i]))
    assert (ok, refused) == (3, 7)
    tenant = figures(world, None)
    assert tenant["allocated"] == 90 and tenant["available"] == 10
    with eng.db.read() as s:
        assert s.scalar(select(Quota.total).where(Quota.tenant_id == "t-alpha", Quota.organization_id.is_(None),
                                                  Quota.dimension == "vcpu")) == 100


@pytest.mark.postgres
@pytest.mark.parametrize("any_engine", ["postgres"], indirect=True)
def test_concurrent_reservations_never_exceed_a_model_cap(world):
    eng, admin, alpha = world["engine"], world["admin"], world["alpha"]
    # The sub-organisation's 50 GPUs bind (6 of its 10 reservations at most); its parent's never do,
    # so the H100 cap alone decides, in every arrival order, that exactly 3 H100 reservations land.
    # (With the parent binding too, an order where A100s fill both organisations first lands only 2.)
    quotas.set_totals(eng, admin, {"gpus": 200, "gpus_by_model": {"H100": 24}}, tenant_id="t-alpha")
    quotas.set_totals(eng, alpha, {"gpus": 200}, organization_id=world["top"])
    quotas.set_totals(eng, alpha, {"gpus": 50}, organization_id=world["sub"])

    def job(i: int) -> None:  # the per-model rows are created by the first reservations, concurrently
        with eng.db.write() as s:
            quotas.reserve(s, "t-alpha", world["sub"] if i % 2 else world["top"],
                           gpu_items((1, 8, "H100" if i % 4 < 2 else "A100")))

    ok, refused = _race(20, job)
    h100, a100 = model_figures(world, None, "H100"), model_figures(world, None, "A100")
    assert h100["in_process"] == 24 and h100["available"] == 0  # 3 of the 10 H100 reservations
    assert a100["in_process"] + h100["in_process"] == figures(world, None, "gpus")["in_process"]
    assert figures(world, world["sub"], "gpus")["in_process"] <= 48
    assert a100["in_process"] >= 40  # the parent's five A100 reservations always land
    assert ok == 3 + a100["in_process"] // 8 and ok + refused == 20
