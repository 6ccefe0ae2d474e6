"""``aicmp seed``: idempotent demo data (run again, nothing is duplicated).

Built-in roles, tenants ``alpha`` and ``beta`` with a small organisation tree and a business
system each, demo users (platform staff and tenant users), and the product's processes. Demo
users share one password: ``AICMP_DEMO_PASSWORD`` when set, otherwise one generated here and
announced once (only its argon2 hashes are stored).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.core import Engine
from engine.identity import check_policy, generate_password, hash_password, insert_user
from engine.models import BusinessSystem, BusinessSystemMember, Organization, Quota, Role, Tenant, User
from engine.models.base import new_id
from engine.roles import BUILTIN_ROLES
from engine.validation import file_kind
from seed.catalog import seed_catalog

ROOT = Path(__file__).resolve().parents[1]
TENANTS = (("alpha", "Alpha Compute Co."), ("beta", "Beta AI Lab"))
ACTOR = "seed"

# tenant code -> (root org (code, name), children [(code, name)], business system (code, name, org code))
ORGANIZATIONS = {
    "alpha": (("hq", "Alpha HQ"), (("research", "Research"), ("operations", "Operations")),
              ("training", "Model training platform", "research")),
    "beta": (("hq", "Beta HQ"), (("lab", "AI Lab"), ("platform", "Platform team")),
             ("inference", "Inference service", "lab")),
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    tenant: str | None  # tenant code; None: platform staff
    organization: str | None  # organisation code within the tenant
    roles: tuple[str, ...]
    member_of: tuple[str, ...] = ()  # business system codes


DEMO_USERS = (
    DemoUser("admin", None, None, ("platform_admin",)),
    DemoUser("operator", None, None, ("platform_operator",)),
    DemoUser("designer", None, None, ("process_designer",)),
    DemoUser("alpha-admin", "alpha", "hq", ("tenant_admin",)),
    DemoUser("alpha-approver", "alpha", "research", ("approver",), ("training",)),
    DemoUser("alpha-user", "alpha", "research", ("tenant_user",), ("training",)),
    DemoUser("beta-admin", "beta", "hq", ("tenant_admin",)),
    DemoUser("beta-user", "beta", "lab", ("tenant_user",), ("inference",)),
)


@dataclass
class SeedReport:
    tenants_created: list[str] = field(default_factory=list)
    roles_created: list[str] = field(default_factory=list)
    organizations_created: list[str] = field(default_factory=list)
    users_created: list[str] = field(default_factory=list)
    quotas_seeded: list[str] = field(default_factory=list)
    generated_password: str | None = None  # set only when this run generated the demo password
    definitions: list[str] = field(default_factory=list)
    simulator: list[str] = field(default_factory=list)  # the demo cloud's account and plans made now


def product_files(root: Path = ROOT) -> dict[str, bytes]:
    """Every process, decision and form that ships with aicmp (bpmn/ and forms/)."""
    files: dict[str, bytes] = {}
    for folder in (root / "bpmn", root / "forms"):
        for path in sorted(folder.glob("*")):
            if path.is_file() and file_kind(path.name) is not None:
                files[path.name] = path.read_bytes()
    return files


def seed(engine: Engine, *, demo_password: str | None = None,
         announce: Callable[[str], None] | None = print, demo_quota: bool = False,
         progress: Callable[[str], None] | None = None, simulator: bool = False) -> SeedReport:
    """Create what is missing. ``demo_password`` beats ``AICMP_DEMO_PASSWORD``; without either a
    password is generated for the users created now and passed once to ``announce``.
    ``demo_quota`` (``aicmp seed`` and a fresh ``aicmp serve``) also gives each tenant a quota.
    ``progress`` hears what each (slow) part is doing (``aicmp seed`` on a terminal).
    ``simulator`` (``aicmp seed`` and a fresh ``aicmp serve``) also adds the demo's simulated cloud
    (``seed.simulator``: a platform account with four pools, prices for the demo specs), so an approved
    application runs end to end."""
    step = progress or (lambda _message: None)
    report = SeedReport()
    with engine.db.read() as s:
        missing = [u for u in DEMO_USERS if s.scalar(select(User.id).where(User.username == u.username)) is None]
    password = demo_password or os.environ.get("AICMP_DEMO_PASSWORD") or None
    if password is not None:
        check_policy(engine.settings, password, field="AICMP_DEMO_PASSWORD")
    elif missing:
        password = report.generated_password = generate_password(engine.settings)
    if missing:
        step(f"hashing the password of {len(missing)} demo user(s)")
    hashes = {u.username: hash_password(engine.settings, password) for u in missing} if password else {}

    step("roles, tenants, organisations, products, quotas and users")
    with engine.db.write() as s:
        _roles(s, report)
        tenants = _tenants(s, report)
        orgs, systems = _organizations(s, tenants, report)
        seed_catalog(s, tenants)  # demo products (seed/catalog.py)
        if demo_quota:
            _quotas(s, tenants, orgs, report)
        for demo in missing:
            _user(s, demo, hashes[demo.username], tenants, orgs, systems, report)
    if report.generated_password and report.users_created and announce is not None:
        announce(f"demo users {', '.join(report.users_created)} have the password "
                 f"{report.generated_password!r} (shown once, not stored; set AICMP_DEMO_PASSWORD to choose one)")

    if simulator:
        from seed.simulator import seed_simulator

        step("the demo's simulated cloud: account, pools, prices")
        report.simulator = seed_simulator(engine)
    files = product_files()
    if any(file_kind(n) == "bpmn" for n in files):
        step(f"deploying {len(files)} process, decision and form files")
        result = engine.registry.deploy(files, actor=ACTOR, name="aicmp product processes")
        report.definitions = [f"{d.key} v{d.version}" for d in result.definitions]
    return report


def refresh_product(engine: Engine) -> SeedReport:
    """What an upgraded install needs from the product on every start, demo data aside: the
    built-in roles as engine/roles.py defines them now (new permissions of new features), and the
    product's processes and forms deployed (identical files keep their version)."""
    report = SeedReport()
    with engine.db.write() as s:
        _roles(s, report)
    files = product_files()
    if any(file_kind(n) == "bpmn" for n in files):
        result = engine.registry.deploy(files, actor=ACTOR, name="aicmp product processes")
        report.definitions = [f"{d.key} v{d.version}" for d in result.definitions if d.created]
    return report


# A tenant's quota (all of it allocated to its root organisation, a quarter to each child), so a
# demo user can submit an application straight away. Only for a tenant that has no quota yet.
# 128 GiB of memory per GPU, as the A100 hosts have: the README walkthrough (two A100 hosts) runs
# four times on a fresh database before the research organisation's quarter is used up.
DEMO_QUOTA = {"vcpu": 512, "memory_gib": 4096, "disk_gib": 20480, "instances": 100, "eips": 40, "gpus": 32}


def _quotas(s: Session, tenants: dict[str, str], orgs: dict[tuple[str, str], Organization],
            report: SeedReport) -> None:
    for tenant_code, tenant_id in tenants.items():
        if s.scalar(select(Quota.id).where(Quota.tenant_id == tenant_id).limit(1)) is not None:
            continue
        root = orgs[tenant_code, ORGANIZATIONS[tenant_code][0][0]]
        children = [orgs[tenant_code, code] for code, _name in ORGANIZATIONS[tenant_code][1]]
        for org_id, share in ((None, 1), (root.id, 1), *((c.id, Decimal("0.25")) for c in children)):
            for dim, total in DEMO_QUOTA.items():
                s.add(Quota(tenant_id=tenant_id, organization_id=org_id, dimension=dim, total=Decimal(total) * share))
        s.flush()
        audit.record(s, action="quota.update", actor=ACTOR, tenant_id=tenant_id, target_type="tenant",
                     target_id=tenant_id, detail={"seeded": DEMO_QUOTA})
        report.quotas_seeded.append(tenant_code)


def _roles(s: Session, report: SeedReport) -> None:
    """Built-in roles as rows (tenant NULL); a changed definition in engine/roles.py is applied."""
    existing = {r.code: r for r in s.scalars(select(Role).where(Role.tenant_id.is_(None)))}
    for spec in BUILTIN_ROLES:
        role = existing.get(spec.code)
        wanted = {"name": spec.name, "permissions": list(spec.permissions), "data_scope": spec.data_scope}
        if role is None:
            s.add(Role(code=spec.code, tenant_id=None, builtin=True, **wanted))
            report.roles_created.append(spec.code)
            audit.record(s, action="role.create", actor=ACTOR, target_type="role", target_id=spec.code, detail=wanted)
        elif (role.name, role.permissions, role.data_scope, role.builtin) != (*wanted.values(), True):
            role.name, role.permissions, role.data_scope, role.builtin = *wanted.values(), True
            audit.record(s, action="role.update", actor=ACTOR, target_type="role", target_id=role.id, detail=wanted)
    s.flush()


def _tenants(s: Session, report: SeedReport) -> dict[str, str]:
    existing = {t.code: t.id for t in s.scalars(select(Tenant))}
    for code, name in TENANTS:
        if code not in existing:
            tenant = Tenant(id=new_id(), code=code, name=name)
            s.add(tenant)
            existing[code] = tenant.id
            report.tenants_created.append(code)
            audit.record(s, action="tenant.create", actor=ACTOR, tenant_id=tenant.id, target_type="tenant",
                         target_id=tenant.id, detail={"code": code, "name": name})
    s.flush()
    return existing


def _org(s: Session, tenant_id: str, code: str, name: str, parent: Organization | None,
         report: SeedReport, label: str) -> Organization:
    org = s.scalar(select(Organization).where(Organization.tenant_id == tenant_id, Organization.code == code))
    if org is None:
        oid = new_id()
        org = Organization(id=oid, tenant_id=tenant_id, parent_id=parent.id if parent else None, code=code, name=name,
                           path=f"{parent.path if parent else '/'}{oid}/")
        s.add(org)
        s.flush()
        report.organizations_created.append(f"{label}/{code}")
        audit.record(s, action="organization.create", actor=ACTOR, tenant_id=tenant_id, target_type="organization",
                     target_id=oid, detail={"code": code, "name": name, "path": org.path})
    return org


def _organizations(s: Session, tenants: dict[str, str], report: SeedReport
                   ) -> tuple[dict[tuple[str, str], Organization], dict[tuple[str, str], BusinessSystem]]:
    orgs: dict[tuple[str, str], Organization] = {}
    systems: dict[tuple[str, str], BusinessSystem] = {}
    for tenant_code, (root, children, system) in ORGANIZATIONS.items():
        tid = tenants[tenant_code]
        top = orgs[tenant_code, root[0]] = _org(s, tid, *root, None, report, tenant_code)
        for code, name in children:
            orgs[tenant_code, code] = _org(s, tid, code, name, top, report, tenant_code)
        code, name, org_code = system
        found = s.scalar(select(BusinessSystem).where(BusinessSystem.tenant_id == tid, BusinessSystem.code == code))
        if found is None:
            found = BusinessSystem(id=new_id(), tenant_id=tid, organization_id=orgs[tenant_code, org_code].id,
                                   code=code, name=name)
            s.add(found)
            s.flush()
            audit.record(s, action="business-system.create", actor=ACTOR, tenant_id=tid,
                         target_type="business-system", target_id=found.id, detail={"code": code, "name": name})
        systems[tenant_code, code] = found
    return orgs, systems


def _user(s: Session, demo: DemoUser, password_hash: str, tenants: dict[str, str],
          orgs: dict[tuple[str, str], Organization], systems: dict[tuple[str, str], BusinessSystem],
          report: SeedReport) -> None:
    tid = tenants[demo.tenant] if demo.tenant else None
    org = orgs[demo.tenant, demo.organization] if demo.tenant and demo.organization else None
    user = insert_user(s, username=demo.username, password_hash=password_hash, tenant_id=tid,
                       organization_id=org.id if org else None, roles=demo.roles)
    for code in demo.member_of:
        s.add(BusinessSystemMember(business_system_id=systems[demo.tenant, code].id, user_id=user.id, tenant_id=tid))
    report.users_created.append(demo.username)
    audit.record(s, action="user.create", actor=ACTOR, tenant_id=tid, target_type="user", target_id=user.id,
                 detail={"username": demo.username, "roles": list(demo.roles),
                         "organization_id": org.id if org else None})
