"""Authorization: Casbin RBAC with domains, policy rows in step with roles, propagation, data scope."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from engine.authz import Authorizer, expand, sync_all
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import BusinessSystemMember, Organization, PolicyVersion, ProcessInstance, Role, User, UserRole
from engine.models.tenancy import CasbinRule
from engine.principal import Principal
from engine.roles import BUILTIN_ROLES, PERMISSIONS
from engine.tenancy import business_systems, organizations
from engine.tenancy import roles as role_admin
from engine.tenancy.access import PermissionDenied
from engine.tenancy.scope import scope_where
from tests.bench.bench_authz import bulk_policy
from tests.helpers import make_engine, read


def seed_roles(engine) -> dict[str, Role]:
    with engine.db.write() as s:
        return {r.code: r for r in role_admin.ensure_builtin_roles(s)}


def add_user(engine, username: str, tenant_id: str | None, roles: tuple[str, ...] = (),
             organization_id: str | None = None) -> Principal:
    """A user holding ``roles`` (written through the ORM: the policy rows follow by themselves)."""
    with engine.db.write() as s:
        user = User(username=username, password_hash="-", tenant_id=tenant_id, organization_id=organization_id)
        s.add(user)
        s.flush()
        for code in roles:
            role = s.scalars(select(Role).where(Role.code == code, (Role.tenant_id == tenant_id) | Role.builtin)).one()
            s.add(UserRole(user_id=user.id, role_id=role.id))
    return Principal(user.id, username, tenant_id, organization_id, roles)


def policy_rows(engine) -> set[tuple]:
    with engine.db.read() as s:
        return {(r.ptype, r.v0, r.v1, r.v2, r.v3) for r in s.scalars(select(CasbinRule))}


@pytest.fixture
def seeded(engine):
    seed_roles(engine)
    return engine


@pytest.fixture
def admin(seeded) -> Principal:
    return add_user(seeded, "admin", None, ("platform_admin",))


# -- RBAC ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", BUILTIN_ROLES, ids=lambda r: r.code)
def test_each_builtin_role_grants_exactly_its_permissions(seeded, spec):
    tenant = None if spec.code in ("platform_admin", "platform_operator", "process_designer") else "t-alpha"
    who = add_user(seeded, f"u-{spec.code}", tenant, (spec.code,))
    granted = {p for pattern in spec.permissions for p in expand(pattern)}
    decided = {p for p in PERMISSIONS if seeded.authorizer.allowed(who, p)}
    assert decided == granted
    assert granted  # every built-in role grants something
    if spec.code != "platform_admin":
        assert decided != set(PERMISSIONS)


def test_wildcards_cover_every_action_of_a_resource_or_everything(seeded):
    admin = add_user(seeded, "root", None, ("platform_admin",))
    tadmin = add_user(seeded, "ta", "t-alpha", ("tenant_admin",))
    assert all(seeded.authorizer.allowed(admin, p) for p in PERMISSIONS)
    assert seeded.authorizer.allowed(admin, "anything:else")  # "*" is everything, even future names
    assert all(seeded.authorizer.allowed(tadmin, f"organization:{a}") for a in ("create", "read", "update", "delete"))
    assert not seeded.authorizer.allowed(tadmin, "tenant:create")


def test_a_role_is_granted_only_in_the_users_own_domain_and_only_when_held(seeded):
    alice = add_user(seeded, "alice", "t-alpha", ("tenant_admin",))
    auth = seeded.authorizer
    assert auth.allowed(alice, "user:create")
    # the same user id presented with another tenant, or with a role it does not hold: nothing
    assert not auth.allowed(Principal(alice.user_id, "alice", "t-beta", None, ("tenant_admin",)), "user:create")
    assert not auth.allowed(Principal(alice.user_id, "alice", "t-alpha", None, ("approver",)), "task:work")
    assert not auth.allowed(Principal(alice.user_id, "alice", None, None, ("platform_admin",)), "tenant:read")


def test_switching_the_active_role_narrows_permissions(seeded):
    both = add_user(seeded, "both", "t-alpha", ("tenant_admin", "approver"))
    auth = seeded.authorizer
    assert auth.allowed(both, "user:create") and auth.scopes(both, "task:read") == {"all", "org_and_below"}
    as_approver = Principal(both.user_id, "both", "t-alpha", None, both.roles, active_role="approver")
    assert not auth.allowed(as_approver, "user:create")
    assert auth.allowed(as_approver, "task:work")
    assert auth.scopes(as_approver, "task:read") == {"org_and_below"}
    assert auth.scopes(as_approver, "user:create") == frozenset()


def test_custom_role_applies_in_its_tenant_only_and_follows_edits(seeded):
    tadmin = add_user(seeded, "ta", "t-alpha", ("tenant_admin",))
    role = role_admin.create_role(seeded, tadmin, code="auditor", name="Auditor",
                                  permissions=["audit:read", "user:read"], data_scope="all")
    carol = add_user(seeded, "carol", "t-alpha", ("auditor",))
    auth = seeded.authorizer
    assert auth.allowed(carol, "audit:read") and not auth.allowed(carol, "user:create")
    # beta has no "auditor" role: the same claim in beta grants nothing
    beta = add_user(seeded, "bob", "t-beta")
    assert not auth.allowed(Principal(beta.user_id, "bob", "t-beta", None, ("auditor",)), "audit:read")

    role_admin.update_role(seeded, tadmin, role.id, permissions=["user:read"])  # enforced at once here
    assert not auth.allowed(carol, "audit:read") and auth.allowed(carol, "user:read")

    role_admin.unassign(seeded, tadmin, carol.user_id, role.id)
    assert not auth.allowed(carol, "user:read")
    role_admin.delete_role(seeded, tadmin, role.id)
    assert not any(r[1] == "t-alpha/auditor" or r[2] == "t-alpha/auditor" for r in policy_rows(seeded))


def test_builtin_roles_are_listed_but_never_changed(seeded, admin):
    tadmin = add_user(seeded, "ta", "t-alpha", ("tenant_admin",))
    rows, total = role_admin.list_roles(seeded, tadmin, limit=100)
    codes = {r.code for r in rows}
    assert {"tenant_admin", "approver", "tenant_user"} <= codes and "platform_admin" not in codes
    assert total == len(rows)
    builtin = next(r for r in rows if r.code == "approver")
    with pytest.raises(Conflict):
        role_admin.update_role(seeded, tadmin, builtin.id, name="x")
    with pytest.raises(Conflict):
        role_admin.delete_role(seeded, admin, builtin.id)


def test_nobody_grants_what_they_do_not_hold(seeded, admin):
    tadmin = add_user(seeded, "ta", "t-alpha", ("tenant_admin",))
    with pytest.raises(InvalidInput, match="tenant lifecycle"):
        role_admin.create_role(seeded, tadmin, code="x1", name="x", permissions=["tenant:*"], data_scope="all")
    with pytest.raises(InvalidInput, match="unknown permission"):
        role_admin.create_role(seeded, tadmin, code="x2", name="x", permissions=["bogus:read"], data_scope="all")
    with pytest.raises(InvalidInput):
        role_admin.create_role(seeded, tadmin, code="x3", name="x", permissions=["*"], data_scope="all")
    role_admin.create_role(seeded, tadmin, code="role-maker", name="x", permissions=["role:*"], data_scope="all")
    maker = add_user(seeded, "maker", "t-alpha", ("role-maker",))
    with pytest.raises(PermissionDenied, match="user:create"):
        role_admin.create_role(seeded, maker, code="x4", name="x", permissions=["user:create"], data_scope="all")
    with seeded.db.read() as s:
        admin_role = s.scalars(select(Role).where(Role.code == "tenant_admin")).one()
    with pytest.raises(PermissionDenied):  # cannot hand out a role with more than it holds
        role_admin.assign(seeded, maker, maker.user_id, admin_role.id)
    with seeded.db.read() as s:
        platform_role = s.scalars(select(Role).where(Role.code == "platform_admin")).one()
    with pytest.raises(Conflict):  # platform roles are for platform staff
        role_admin.assign(seeded, admin, maker.user_id, platform_role.id)


def test_beta_admin_cannot_see_or_assign_alphas_custom_role(seeded):
    alpha_admin = add_user(seeded, "ta", "t-alpha", ("tenant_admin",))
    beta_admin = add_user(seeded, "tb", "t-beta", ("tenant_admin",))
    role = role_admin.create_role(seeded, alpha_admin, code="viewer", name="V", permissions=["user:read"],
                                  data_scope="all")
    with pytest.raises(NotFound):
        role_admin.get_role(seeded, beta_admin, role.id)
    with pytest.raises(NotFound):
        role_admin.assign(seeded, beta_admin, beta_admin.user_id, role.id)
    with pytest.raises(NotFound):
        role_admin.assign(seeded, beta_admin, alpha_admin.user_id, role.id)


# -- policy rows stay in step with the rows they derive from ---------------------------------------

def test_incremental_rows_equal_a_full_rebuild_and_a_rollback_leaves_them_alone(seeded):
    tadmin = add_user(seeded, "ta", "t-alpha", ("tenant_admin", "approver"))
    role_admin.create_role(seeded, tadmin, code="ops", name="Ops", permissions=["incident:read"], data_scope="mine")
    add_user(seeded, "dave", "t-alpha", ("ops", "tenant_user"))
    incremental = policy_rows(seeded)
    with seeded.db.write() as s:
        assert sync_all(s) == len(incremental)
    assert policy_rows(seeded) == incremental

    with pytest.raises(RuntimeError), seeded.db.write() as s:
        s.execute(delete(UserRole).where(UserRole.user_id == tadmin.user_id))
        s.flush()
        raise RuntimeError("abandon the transaction")
    assert policy_rows(seeded) == incremental
    assert seeded.authorizer.allowed(tadmin, "user:create")


def test_a_bulk_statement_on_user_roles_rebuilds_the_rows_before_commit(seeded):
    tadmin = add_user(seeded, "ta", "t-alpha", ("tenant_admin",))
    assert seeded.authorizer.allowed(tadmin, "user:create")
    with seeded.db.write() as s:
        s.execute(delete(UserRole).where(UserRole.user_id == tadmin.user_id))
    assert not any(r[0] == "g" and r[1] == tadmin.user_id for r in policy_rows(seeded))
    assert not seeded.authorizer.allowed(tadmin, "user:create")


def test_every_policy_change_moves_the_version(seeded):
    def version():
        with seeded.db.read() as s:
            return s.scalar(select(PolicyVersion.version))

    before = version()
    tadmin = add_user(seeded, "ta", "t-alpha", ("tenant_admin",))
    after_user = version()
    role_admin.create_role(seeded, tadmin, code="viewer", name="V", permissions=["user:read"], data_scope="all")
    assert before < after_user < version()
    settled = version()
    with seeded.db.write() as s:  # unrelated writes leave it alone
        s.get(User, tadmin.user_id).display_name = "Tess"
    assert version() == settled


# -- propagation between processes ---------------------------------------------------------------------

@pytest.mark.postgres
def test_a_change_through_one_engine_is_enforced_by_another_within_a_second(postgres_database_url, tmp_path):
    """The other engine re-reads the policy version once per check interval (0.5 s) of its clock:
    driven by a fake clock here, so a loaded machine cannot make the test late."""
    first = make_engine(postgres_database_url, tmp_path)
    second_settings = first.settings
    from engine.core import Engine

    second = Engine(second_settings, operators=first.operators)
    now = [1000.0]
    second.authorizer._monotonic = lambda: now[0]
    interval = second.authorizer.check_interval
    assert 0 < interval <= 1.0
    try:
        seed_roles(first)
        tadmin = add_user(first, "ta", "t-alpha", ("tenant_admin",))
        user = add_user(first, "eve", "t-alpha", ("tenant_user",))
        assert not second.authorizer.allowed(user, "audit:read")  # second has loaded the policy now
        role = role_admin.create_role(first, tadmin, code="auditor", name="A", permissions=["audit:read"],
                                      data_scope="all")
        role_admin.assign(first, tadmin, user.user_id, role.id)
        eve = Principal(user.user_id, "eve", "t-alpha", None, ("tenant_user", "auditor"))
        assert first.authorizer.allowed(eve, "audit:read")  # the committing process: at once
        now[0] += interval
        assert second.authorizer.allowed(eve, "audit:read"), "the other engine did not see the grant"

        role_admin.unassign(first, tadmin, user.user_id, role.id)
        now[0] += interval
        assert not second.authorizer.allowed(eve, "audit:read"), "the other engine did not see the revocation"
    finally:
        second.close()
        first.close()


# -- large policies -------------------------------------------------------------------------------

@pytest.mark.parametrize("roles_count", [90, 900], ids=["~1k-rules", "~10k-rules"])
def test_allowed_with_many_rules(seeded, roles_count):
    """Right answers with a large policy, from Casbin itself and from the decision cache (how fast:
    ``python -m tests.bench.bench_authz``)."""
    rules = bulk_policy(seeded, roles_count, 10)
    assert rules >= roles_count * 11
    who = add_user(seeded, "measured", "t-7", ("r7",))
    cold = Authorizer(seeded.db, cache_decisions=False)
    cold.reload()
    for auth in (cold, seeded.authorizer, seeded.authorizer):  # the second cached call hits the cache
        assert auth.allowed(who, PERMISSIONS[3]) and not auth.allowed(who, "task:work")


# -- data scope -------------------------------------------------------------------------------------

@pytest.fixture
def tree(seeded, admin):
    """alpha: root > (rd > rd-ai, sales); beta: broot."""
    tadmin = add_user(seeded, "ta", "t-alpha", ("tenant_admin",))
    root = organizations.create_organization(seeded, tadmin, code="root", name="Root")
    rd = organizations.create_organization(seeded, tadmin, code="rd", name="R&D", parent_id=root.id)
    ai = organizations.create_organization(seeded, tadmin, code="rd-ai", name="AI", parent_id=rd.id)
    sales = organizations.create_organization(seeded, tadmin, code="sales", name="Sales", parent_id=root.id)
    broot = organizations.create_organization(seeded, admin, code="root", name="Beta", tenant_id="t-beta")
    return {"admin": tadmin, "root": root, "rd": rd, "ai": ai, "sales": sales, "broot": broot}


def _names(engine, principal, permission, model, column, **cols):
    with engine.db.read() as s:
        return set(s.scalars(select(column).where(*scope_where(engine.authorizer, principal, permission, model,
                                                                  **cols))))


def test_scope_all_org_and_below_and_mine_on_users(seeded, tree, admin):
    approver = add_user(seeded, "appr", "t-alpha", ("approver",), tree["rd"].id)
    add_user(seeded, "ai-dev", "t-alpha", ("tenant_user",), tree["ai"].id)
    add_user(seeded, "seller", "t-alpha", ("tenant_user",), tree["sales"].id)
    add_user(seeded, "beta-dev", "t-beta", ("tenant_user",), tree["broot"].id)
    role_admin.create_role(seeded, tree["admin"], code="self-view", name="S", permissions=["user:read"],
                           data_scope="mine")
    me = add_user(seeded, "myself", "t-alpha", ("self-view",), tree["sales"].id)

    def visible(who):
        return _names(seeded, who, "user:read", User, User.username, owner=User.id, creator=None)

    assert visible(tree["admin"]) == {"ta", "appr", "ai-dev", "seller", "myself"}  # all: the tenant, not beta
    assert visible(approver) == {"appr", "ai-dev"}  # rd and below
    assert visible(me) == {"myself"}
    assert visible(admin) >= {"ta", "beta-dev"}  # platform staff: every tenant
    nobody = add_user(seeded, "plain", "t-alpha", ("tenant_user",), tree["rd"].id)
    assert visible(nobody) == set()  # tenant_user has no user:read: nothing, not everything


def test_org_prefix_does_not_leak_into_siblings_with_similar_ids(seeded):
    tadmin = add_user(seeded, "ta", "t-alpha", ("tenant_admin",))
    with seeded.db.write() as s:  # ids chosen so one path is a string prefix of another's segment
        s.add_all([Organization(id="o_1", tenant_id="t-alpha", code="a", name="a", path="/o_1/"),
                   Organization(id="oX1", tenant_id="t-alpha", code="b", name="b", path="/oX1/"),
                   Organization(id="o_12", tenant_id="t-alpha", code="c", name="c", path="/o_12/")])
    approver = add_user(seeded, "appr", "t-alpha", ("approver",), "o_1")
    orgs = _names(seeded, approver, "organization:read", Organization, Organization.id,
                  organization=Organization.id)
    assert orgs == {"o_1"}
    assert tadmin


def test_scope_my_systems_and_mine_on_business_systems(seeded, tree):
    admin = tree["admin"]
    bs1 = business_systems.create_business_system(seeded, admin, code="billing", name="B",
                                                  organization_id=tree["rd"].id)
    business_systems.create_business_system(seeded, admin, code="crm", name="C", organization_id=tree["sales"].id)
    role_admin.create_role(seeded, admin, code="sys-viewer", name="S", permissions=["business-system:read"],
                           data_scope="my_systems")
    member = add_user(seeded, "member", "t-alpha", ("sys-viewer",), tree["sales"].id)
    business_systems.add_member(seeded, admin, bs1.id, member.user_id)  # a member from another organisation
    rows, total = business_systems.list_business_systems(seeded, member)
    assert [b.code for b in rows] == ["billing"] and total == 1
    user = add_user(seeded, "tu", "t-alpha", ("tenant_user",), tree["ai"].id)  # scope mine: its memberships
    assert business_systems.list_business_systems(seeded, user)[1] == 0
    with pytest.raises(NotFound):
        business_systems.get_business_system(seeded, user, bs1.id)
    with seeded.db.read() as s:
        assert s.scalar(select(func.count()).select_from(BusinessSystemMember)) == 1


def test_scope_on_process_instances_by_initiator(seeded, tree, admin):
    seeded.registry.deploy({"approval.bpmn": read("approval.bpmn"), "review-schema.json": read("review-schema.json"),
                            "review-uischema.json": read("review-uischema.json")})
    approver = add_user(seeded, "appr", "t-alpha", ("approver",), tree["rd"].id)
    dev = add_user(seeded, "ai-dev", "t-alpha", ("tenant_user",), tree["ai"].id)
    seller = add_user(seeded, "seller", "t-alpha", ("tenant_user",), tree["sales"].id)
    for who in (dev, seller, seller):
        seeded.runtime.start("approval", tenant_id="t-alpha", initiator=who.username,
                             variables={"amount": Decimal("1")})
    seeded.runtime.start("approval", tenant_id="t-beta", initiator="ai-dev", variables={"amount": Decimal("1")})

    def initiators(who):
        with seeded.db.read() as s:
            q = select(ProcessInstance.initiator).where(
                *scope_where(seeded.authorizer, who, "process-instance:read", ProcessInstance))
            return sorted(s.scalars(q))

    assert initiators(seller) == ["seller", "seller"]  # mine
    assert initiators(dev) == ["ai-dev"]  # mine, and never beta's instance with the same initiator name
    assert initiators(approver) == ["ai-dev"]  # initiated by users of rd and below
    assert initiators(tree["admin"]) == ["ai-dev", "seller", "seller"]
    assert len(initiators(admin)) == 4
