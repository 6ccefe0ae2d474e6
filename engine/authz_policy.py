"""Casbin policy rows, kept in step with the Role, UserRole and User rows they derive from.

``p, <subject>, <domain>, <resource>, <action>``: one row per permission of a role; built-in roles
use domain ``*`` (they apply in every tenant), custom roles their tenant id.
``g, <user id>, <subject>, <domain>``: the user holds the role in its tenant (``platform`` for staff).

Nobody writes these rows by hand: session hooks installed at import watch every flush and, in the
same transaction, rewrite the rows of each Role, UserRole or User that was added, changed or deleted
through the ORM and bump ``PolicyVersion``. So a role change and its policy rows can never diverge,
whichever module (seed, identity, tenancy) made the change. A bulk UPDATE/DELETE statement on those
tables is caught too and rebuilds every row before commit. After a commit that moved the version,
the Authorizers of this process re-read it at once (others within their check interval).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, delete, event, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, Session

from engine import roles as builtin_roles
from engine.models import PolicyVersion, Role, User, UserRole
from engine.models.tenancy import CasbinRule
from engine.principal import PLATFORM_DOMAIN

ANY = "*"
_CHANGED = "aicmp.policy_changed"  # session.info: this transaction moved the policy version
_REBUILD = "aicmp.policy_rebuild"  # session.info: a bulk statement touched the source tables


def split_permission(permission: str) -> tuple[str, str]:
    """``"task:work"`` -> ("task", "work"); ``"task:*"`` -> ("task", "*"); ``"*"`` -> ("*", "*")."""
    if permission == ANY:
        return ANY, ANY
    resource, sep, action = permission.partition(":")
    if not sep or not resource or not action:
        raise ValueError(f"a permission is 'resource:action', got {permission!r}")
    return resource, action


def domain_of(tenant_id: str | None) -> str:
    return tenant_id or PLATFORM_DOMAIN


def role_subject(domain: str, code: str) -> str:
    """A role's Casbin subject: a built-in role's code, ``<tenant>/<code>`` for a custom one (custom
    codes are unique per tenant only, and the subject keys the FastEnforcer's index)."""
    return code if builtin_roles.builtin(code) is not None else f"{domain}/{code}"


def subject_of(builtin: bool, tenant_id: str | None, code: str) -> str:
    return code if builtin else f"{tenant_id}/{code}"


def _line(ptype: str, *values: str | None) -> dict[str, Any]:
    """One row's values with every column present (an executemany needs one shape)."""
    padded = list(values) + [None] * (6 - len(values))
    return {"ptype": ptype, **{f"v{i}": v for i, v in enumerate(padded)}}


def _p_values(builtin: bool, tenant_id: str | None, code: str, permissions: Any) -> list[dict[str, Any]]:
    subject, dom = subject_of(builtin, tenant_id, code), ANY if builtin else tenant_id
    out = []
    for permission in sorted(set(permissions or ())):
        obj, act = split_permission(permission)
        out.append(_line("p", subject, dom, obj, act))
    return out


# -- statements on a connection (they run inside a flush) -------------------------------------------

def _insert_ignore(conn: Connection, model: type, values: dict[str, Any]) -> None:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(model).values(**values).on_conflict_do_nothing())


def bump_version(conn: Connection) -> None:
    """Move the policy version; every Authorizer reloads when it sees the new value."""
    step = update(PolicyVersion).where(PolicyVersion.id == 1).values(version=PolicyVersion.version + 1)
    if not conn.execute(step).rowcount:
        _insert_ignore(conn, PolicyVersion, {"id": 1, "version": 0})
        conn.execute(step)


def _write_role(conn: Connection, builtin: bool, tenant_id: str | None, code: str, permissions: Any) -> None:
    subject = subject_of(builtin, tenant_id, code)
    conn.execute(delete(CasbinRule).where(CasbinRule.ptype == "p", CasbinRule.v0 == subject))
    values = _p_values(builtin, tenant_id, code, permissions)
    if values:
        conn.execute(CasbinRule.__table__.insert(), values)


def _drop_role(conn: Connection, subject: str) -> None:
    conn.execute(delete(CasbinRule).where(CasbinRule.ptype == "p", CasbinRule.v0 == subject))
    conn.execute(delete(CasbinRule).where(CasbinRule.ptype == "g", CasbinRule.v1 == subject))


def _g_query() -> Any:
    return (select(User.id, User.tenant_id, Role.builtin, Role.tenant_id, Role.code)
            .join(UserRole, UserRole.user_id == User.id).join(Role, Role.id == UserRole.role_id))


def _g_values(rows: Any) -> list[dict[str, Any]]:
    return [_line("g", uid, subject_of(builtin, rtenant, code), domain_of(utenant))
            for uid, utenant, builtin, rtenant, code in rows]


def _write_users(conn: Connection, user_ids: set[str]) -> None:
    """Rewrite every ``g`` row of these users from their current UserRole rows."""
    ids = sorted(user_ids)
    conn.execute(delete(CasbinRule).where(CasbinRule.ptype == "g", CasbinRule.v0.in_(ids)))
    values = _g_values(conn.execute(_g_query().where(User.id.in_(ids))).all())
    if values:
        conn.execute(CasbinRule.__table__.insert(), values)


def rebuild(conn: Connection) -> int:
    """Rewrite every policy row from the Role and UserRole rows (repair; bulk changes); returns the count."""
    conn.execute(delete(CasbinRule))
    values = [v for r in conn.execute(select(Role.builtin, Role.tenant_id, Role.code, Role.permissions)).all()
              for v in _p_values(*r)]
    values += _g_values(conn.execute(_g_query()).all())
    if values:
        conn.execute(CasbinRule.__table__.insert(), values)
    bump_version(conn)
    return len(values)


def sync_all(session: Session) -> int:
    """``rebuild`` in the caller's session and transaction."""
    session.flush()
    session.info[_CHANGED] = True
    return rebuild(session.connection())


# -- session hooks ----------------------------------------------------------------------------------

def _old(obj: Any, attr: str) -> Any:
    """The value ``attr`` had before this flush (the current one when unchanged)."""
    hist = inspect(obj).attrs[attr].history
    return hist.deleted[0] if hist.deleted else getattr(obj, attr)


def _after_flush(session: Session, _context: Any) -> None:
    roles_written: list[Role] = []
    roles_dropped: set[str] = set()
    users: set[str] = set()
    for obj in session.new:
        if isinstance(obj, Role):
            roles_written.append(obj)
        elif isinstance(obj, UserRole):
            users.add(obj.user_id)
    for obj in session.dirty:
        if isinstance(obj, Role) and session.is_modified(obj):
            old = subject_of(_old(obj, "builtin"), _old(obj, "tenant_id"), _old(obj, "code"))
            if old != subject_of(obj.builtin, obj.tenant_id, obj.code):
                roles_dropped.add(old)
                held = select(UserRole.user_id).where(UserRole.role_id == obj.id)
                users.update(session.connection().execute(held).scalars())
            roles_written.append(obj)
        elif isinstance(obj, User) and inspect(obj).attrs.tenant_id.history.has_changes():
            users.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Role):
            roles_dropped.add(subject_of(obj.builtin, obj.tenant_id, obj.code))
        elif isinstance(obj, UserRole | User):
            users.add(obj.user_id if isinstance(obj, UserRole) else obj.id)
    if not (roles_written or roles_dropped or users):
        return
    conn = session.connection()
    for subject in roles_dropped:
        _drop_role(conn, subject)
    for role in roles_written:
        _write_role(conn, role.builtin, role.tenant_id, role.code, role.permissions)
    if users:
        _write_users(conn, users)
    bump_version(conn)
    session.info[_CHANGED] = True


def _on_execute(state: ORMExecuteState) -> None:
    """A bulk statement bypasses the flush: rebuild before commit. Bulk updates of users (login
    counters, session epochs) leave roles alone and are ignored."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    watched = (Role, UserRole, User) if state.is_delete else (Role, UserRole)
    if any(m.class_ in watched for m in state.all_mappers):
        state.session.info[_REBUILD] = True


def _before_commit(session: Session) -> None:
    if session.info.pop(_REBUILD, False):
        sync_all(session)


_listeners: weakref.WeakSet[Any] = weakref.WeakSet()


def on_policy_commit(listener: Any) -> None:
    """``listener.policy_committed(pool)`` runs after each commit that changed the policy (this process)."""
    _listeners.add(listener)


def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        pool = session.get_bind().pool
        for listener in list(_listeners):
            listener.policy_committed(pool)


def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(_REBUILD, None)


def _install() -> None:
    hooks: tuple[tuple[str, Callable[..., None]], ...] = (
        ("after_flush", _after_flush), ("do_orm_execute", _on_execute), ("before_commit", _before_commit),
        ("after_commit", _after_commit), ("after_rollback", _after_rollback))
    for name, fn in hooks:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


_install()
