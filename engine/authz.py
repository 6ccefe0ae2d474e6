"""Authorization decisions: Casbin RBAC with domains over the policy rows in the database.

The domain is the tenant id (``platform`` for platform staff). ``Authorizer.allowed`` asks, for
each of the principal's ACTING roles, whether the role grants the permission in the principal's
domain and whether the user really holds that role there (``g`` rows): a stale token naming a role
that was taken away grants nothing. Policy rows come from engine.authz_policy (kept in step with
the Role/UserRole rows, loaded here through sqlalchemy-adapter).

Every process has one Authorizer (``Engine.authorizer``). It re-reads ``PolicyVersion`` at most
every ``check_interval`` seconds (one primary-key read) and reloads the whole policy when the
version moved, so a change made by any worker is enforced everywhere within about a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import casbin
from sqlalchemy import select
from sqlalchemy_adapter import Adapter

from engine import authz_policy
from engine.authz_policy import ANY, role_subject, split_permission, subject_of, sync_all
from engine.db import Database
from engine.models import PolicyVersion, Role
from engine.models.tenancy import CasbinRule
from engine.principal import Principal
from engine.roles import PERMISSIONS

__all__ = ["Authorizer", "expand", "role_subject", "split_permission", "sync_all"]

MODEL_PATH = Path(__file__).with_name("authz_model.conf")
_MAX_CACHED = 100_000  # decisions kept per policy version before the cache starts over


def expand(permission: str) -> tuple[str, ...]:
    """The concrete permissions a pattern (``*``, ``resource:*`` or a name) stands for."""
    obj, act = split_permission(permission)
    pairs = ((p, split_permission(p)) for p in PERMISSIONS)
    return tuple(p for p, (o, a) in pairs if obj in (ANY, o) and act in (ANY, a))


@dataclass
class _Snapshot:
    """One loaded policy version. Enforcing holds a lock: the FastEnforcer narrows its policy list
    in place while it evaluates, so two threads must not enforce on it at once."""

    version: int
    enforcer: casbin.FastEnforcer
    scopes: dict[str, str]  # role subject -> data scope
    lock: threading.Lock = field(default_factory=threading.Lock)
    decisions: dict[tuple[str, str, str, str], bool] = field(default_factory=dict)

    def enforce(self, user_id: str, subject: str, domain: str, permission: str) -> bool:
        obj, act = split_permission(permission)
        with self.lock:
            return bool(self.enforcer.enforce(subject, domain, obj, act, user_id))

    def decide(self, user_id: str, subject: str, domain: str, permission: str) -> bool:
        key = (user_id, subject, domain, permission)
        found = self.decisions.get(key)
        if found is None:
            found = self.enforce(user_id, subject, domain, permission)
            if len(self.decisions) >= _MAX_CACHED:
                self.decisions.clear()
            self.decisions[key] = found
        return found


class Authorizer:
    """Thread-safe decisions for one process; ``cache_decisions=False`` evaluates Casbin every call."""

    def __init__(self, db: Database, *, check_interval: float = 0.5, cache_decisions: bool = True,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.check_interval = check_interval
        self.cache_decisions = cache_decisions
        self._monotonic = monotonic
        self._snapshot: _Snapshot | None = None
        self._checked = float("-inf")
        self._reload_lock = threading.Lock()
        self.reloads = 0
        authz_policy.on_policy_commit(self)

    # -- decisions -------------------------------------------------------------------------------

    def allowed(self, principal: Principal, permission: str) -> bool:
        """Does one of the principal's acting roles grant ``permission`` in its domain?"""
        snap = self._current()
        return any(self._grants(snap, principal, code, permission) for code in principal.acting_roles)

    def scopes(self, principal: Principal, permission: str) -> frozenset[str]:
        """The data scopes of the acting roles that grant ``permission`` (empty: not granted at all)."""
        snap = self._current()
        return frozenset(snap.scopes.get(role_subject(principal.domain, code), "mine")
                         for code in principal.acting_roles if self._grants(snap, principal, code, permission))

    # -- freshness -------------------------------------------------------------------------------

    @property
    def version(self) -> int | None:
        return self._snapshot.version if self._snapshot else None

    def mark_stale(self) -> None:
        """Re-read the version on the next decision."""
        self._checked = float("-inf")

    def policy_committed(self, pool: Any) -> None:
        """Called after a commit in this process changed the policy (engine.authz_policy)."""
        if pool is self.db.engine.pool:
            self.mark_stale()

    def reload(self) -> None:
        with self._reload_lock:
            self._snapshot = self._load(self._read_version())
            self._checked = self._monotonic()

    # -- internals -------------------------------------------------------------------------------

    def _grants(self, snap: _Snapshot, principal: Principal, code: str, permission: str) -> bool:
        subject = role_subject(principal.domain, code)
        if self.cache_decisions:
            return snap.decide(principal.user_id, subject, principal.domain, permission)
        return snap.enforce(principal.user_id, subject, principal.domain, permission)

    def _current(self) -> _Snapshot:
        snap = self._snapshot
        if snap is not None and self._monotonic() - self._checked < self.check_interval:
            return snap
        # One thread re-checks; the others go on deciding with the snapshot they have.
        if not self._reload_lock.acquire(blocking=snap is None):
            return snap  # type: ignore[return-value]
        try:
            current = self._snapshot
            if current is None or self._monotonic() - self._checked >= self.check_interval:
                version = self._read_version()
                if current is None or current.version != version:
                    self._snapshot = self._load(version)
                self._checked = self._monotonic()
            return self._snapshot  # type: ignore[return-value]
        finally:
            self._reload_lock.release()

    def _read_version(self) -> int:
        with self.db.autocommit() as s:
            return s.scalar(select(PolicyVersion.version).where(PolicyVersion.id == 1)) or 0

    def _load(self, version: int) -> _Snapshot:
        """Load the policy. ``version`` was read before it: a change racing the load costs one more
        reload later, it never leaves an old policy labelled with the new version."""
        adapter = Adapter(self.db.engine, db_class=CasbinRule, create_table=False)
        enforcer = casbin.FastEnforcer(str(MODEL_PATH), adapter, cache_key_order=[0])
        enforcer.enable_auto_save(False)
        with self.db.read() as s:
            scopes = {subject_of(b, t, c): scope
                      for b, t, c, scope in s.execute(select(Role.builtin, Role.tenant_id, Role.code, Role.data_scope))}
        self.reloads += 1
        return _Snapshot(version, enforcer, scopes)
