"""Site messages: each user's in-site mailbox (list, unread count, mark read, delete) and delivery.

Messages are written in the transaction of whatever caused them: the process step that approved,
rejected, escalated or ordered (through the messages port of ``notify/application``), the save
that made a user task READY (``notify_assignments``, a save hook: "task assigned to you or your
role"), or an urge. A role recipient is expanded to every enabled holder of the role at that
moment: the tenant's users for a tenant role, platform staff for a platform role.

The notices know no domain. A domain that starts processes for its own objects names them in the
"task assigned" notices by adding a subject lookup (``Notices.subjects``) when it is installed;
``install`` adds the save hook and registers the ``messages`` port (``MessagesPort``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.db import insert_rows
from engine.errors import NotFound
from engine.inbox.rows import task_row
from engine.models import ProcessInstance, Role, SiteMessage, User, UserRole
from engine.models.base import new_id
from engine.ports import Port, instance_scope
from engine.principal import Principal
from engine.roles import PLATFORM_ROLES
from tasks.ports import Refused

if TYPE_CHECKING:
    from engine.kernel import Kernel

ROLE_PREFIX = "role:"
MAX_TITLE = 300


@dataclass(frozen=True)
class MessageView:
    id: str
    kind: str
    title: str
    body: str
    link: dict[str, Any]
    created_at: datetime
    read_at: datetime | None

    @property
    def read(self) -> bool:
        return self.read_at is not None

    @classmethod
    def of(cls, row: SiteMessage) -> MessageView:
        return cls(row.id, row.kind, row.title, row.body, row.link or {}, row.created_at, row.read_at)


# -- delivery (caller's transaction) ------------------------------------------------------------

def recipients(s: Session, tenant_id: str | None, entries: Iterable[str]) -> list[tuple[str, str | None]]:
    """(user id, user's tenant) for each enabled user the entries name: user names of the tenant (or
    platform staff), and ``role:<code>`` holders. Names outside the tenant are skipped, never reached."""
    names, roles = set(), set()
    for entry in entries:
        if not isinstance(entry, str) or not entry:
            continue
        if entry.startswith(ROLE_PREFIX):
            roles.add(entry[len(ROLE_PREFIX):])
        else:
            names.add(entry)
    reachable = or_(User.tenant_id.is_(None), User.tenant_id == tenant_id) if tenant_id else User.tenant_id.is_(None)
    found: dict[str, str | None] = {}
    known: dict[tuple[str | None, str], tuple[str, str | None]] = s.info.setdefault(_KNOWN_NAMES, {})
    missing = {name for name in names if (tenant_id, name) not in known}
    if missing:  # a transaction that notifies one person twice (approved, then ordered) asks once
        for user_id, user_tenant, name in s.execute(select(User.id, User.tenant_id, User.username).where(
                User.username.in_(missing), User.enabled.is_(True), reachable)):
            known[tenant_id, name] = (user_id, user_tenant)
    for name in names:
        user = known.get((tenant_id, name))
        if user is not None:
            found[user[0]] = user[1]
    platform_roles = [r for r in roles if r in PLATFORM_ROLES]
    tenant_roles = [r for r in roles if r not in PLATFORM_ROLES]
    if platform_roles:
        found.update(dict(s.execute(_PLATFORM_ROLE_HOLDERS, {"roles": platform_roles}).all()))
    if tenant_roles and tenant_id:
        found.update(dict(s.execute(_TENANT_ROLE_HOLDERS, {"roles": tenant_roles, "tenant": tenant_id}).all()))
    return sorted(found.items())


_KNOWN_NAMES = "aicmp_notice_recipients"  # session.info: (tenant, user name) -> (user id, tenant), users found

# Built once (a notice is written on every save that offers a task): only the values change.
_ROLE_HOLDERS = (select(User.id, User.tenant_id).join(UserRole, UserRole.user_id == User.id)
                 .join(Role, Role.id == UserRole.role_id)
                 .where(Role.code.in_(bindparam("roles", expanding=True)), User.enabled.is_(True)))
_PLATFORM_ROLE_HOLDERS = _ROLE_HOLDERS.where(Role.tenant_id.is_(None), User.tenant_id.is_(None))
_TENANT_ROLE_HOLDERS = _ROLE_HOLDERS.where(or_(Role.tenant_id.is_(None), Role.tenant_id == bindparam("tenant")),
                                           User.tenant_id == bindparam("tenant"))


def deliver(s: Session, tenant_id: str | None, entries: Iterable[str], *, kind: str, title: str, body: str = "",
            link: dict[str, Any] | None = None) -> int:
    """Write one message per recipient; returns how many were written."""
    now = clock.now()
    rows = [{"id": new_id(), "tenant_id": user_tenant, "user_id": user_id, "kind": kind[:32],
             "title": title[:MAX_TITLE], "body": body, "link": dict(link or {}), "created_at": now, "read_at": None}
            for user_id, user_tenant in recipients(s, tenant_id, entries)]
    insert_rows(s, SiteMessage.__table__, rows)
    return len(rows)


@dataclass(frozen=True)
class Subject:
    """What a process instance works on, as its domain names it in a notice: ``tag`` goes in the
    title ("New task: Approve (AP2026...)"), ``label`` starts the body ("Application AP2026...
    waits for you: ..."), ``link`` is added to the message's link."""

    tag: str
    label: str
    link: dict[str, Any] = field(default_factory=dict)


SubjectLookup = Callable[[Session, ProcessInstance], "Subject | None"]


class Notices:
    """The site-message notices of one Engine: the "task assigned" save hook, and the subject
    lookups the installed domains add (the first that knows the instance's subject names it)."""

    def __init__(self) -> None:
        self.subjects: list[SubjectLookup] = []

    def subject(self, s: Session, row: ProcessInstance) -> Subject | None:
        for lookup in self.subjects:
            found = lookup(s, row)
            if found is not None:
                return found
        return None

    def notify_assignments(self, s: Session, loaded: Any) -> None:
        """Save hook: a message to everyone a user task that just became READY is offered to."""
        before = loaded.before
        fresh = [t for t in loaded.ready_user_tasks if before.get(t.id) != TaskState.READY]
        if not fresh:
            return
        row = loaded.row
        subject = self.subject(s, row)
        for task in fresh:
            offered = task_row(task, row)
            assignee = offered.values["assignee"]
            entries = [assignee] if assignee else [v if kind == "user" else f"{ROLE_PREFIX}{v}"
                                                   for kind, v in offered.candidates]
            name = task.task_spec.bpmn_name or task.task_spec.bpmn_id
            link = {"task_id": str(task.id), "instance_id": row.id, "process_key": row.process_key,
                    "business_key": row.business_key}
            if subject is not None:
                link.update(subject.link)
                title, body = f"New task: {name} ({subject.tag})", f"{subject.label} waits for you: {name}."
            else:
                title, body = f"New task: {name}", f"Process {row.process_key} ({row.business_key or row.id}) " \
                                                   f"waits for you: {name}."
            deliver(s, row.tenant_id, entries, kind="task_assigned", title=title, body=body, link=link)


class MessagesPort(Port):
    """``tasks.ports.MessagesPort``: site messages in the calling instance's own tenant."""

    def send(self, tenant_id: str | None, recipients: list[str], kind: str, title: str, body: str,
             link: dict[str, Any]) -> int:
        scope = instance_scope()
        if tenant_id != scope.tenant_id:
            raise Refused("UNKNOWN_TENANT", f"no tenant {tenant_id!r}: a process sends messages in its own tenant")
        with self._ports.session() as s:
            return deliver(s, tenant_id, recipients, kind=kind, title=title, body=body, link=link)


def install(engine: Kernel) -> Notices:
    """The notices of ``engine``: the "task assigned" save hook and the ``messages`` port."""
    notices = Notices()
    engine.runtime.save_hooks.append(notices.notify_assignments)
    engine.ports.register("messages", MessagesPort)
    return notices


# -- the mailbox --------------------------------------------------------------------------------

def _mine(principal: Principal) -> Any:
    return SiteMessage.user_id == principal.user_id


def list_messages(engine: Kernel, principal: Principal, *, unread: bool | None = None, kind: str | None = None,
                  offset: int = 0, limit: int = 20) -> tuple[list[MessageView], int]:
    """Newest first."""
    where = [_mine(principal)]
    if unread is True:
        where.append(SiteMessage.read_at.is_(None))
    elif unread is False:
        where.append(SiteMessage.read_at.is_not(None))
    if kind:
        where.append(SiteMessage.kind == kind)
    with engine.db.read() as s:
        total = s.scalar(select(func.count()).select_from(SiteMessage).where(*where)) or 0
        rows = s.scalars(select(SiteMessage).where(*where).order_by(SiteMessage.created_at.desc(),
                                                                     SiteMessage.id.desc())
                         .limit(limit).offset(offset)).all()
        return [MessageView.of(r) for r in rows], int(total)


def unread_count(engine: Kernel, principal: Principal) -> int:
    with engine.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(SiteMessage).where(
            _mine(principal), SiteMessage.read_at.is_(None))) or 0)


def _own(s: Session, principal: Principal, message_id: str) -> SiteMessage:
    row = s.scalars(select(SiteMessage).where(SiteMessage.id == message_id, _mine(principal))).first()
    if row is None:
        raise NotFound(f"site message {message_id} not found")
    return row


def get_message(engine: Kernel, principal: Principal, message_id: str) -> MessageView:
    with engine.db.read() as s:
        return MessageView.of(_own(s, principal, message_id))


def mark_read(engine: Kernel, principal: Principal, message_id: str) -> MessageView:
    with engine.db.write() as s:
        row = _own(s, principal, message_id)
        if row.read_at is None:
            row.read_at = clock.now()
        return MessageView.of(row)


def mark_all_read(engine: Kernel, principal: Principal) -> int:
    """Returns how many messages were unread."""
    with engine.db.write() as s:
        result = s.execute(update(SiteMessage).where(_mine(principal), SiteMessage.read_at.is_(None))
                           .values(read_at=clock.now()).execution_options(synchronize_session=False))
        return result.rowcount


def delete_message(engine: Kernel, principal: Principal, message_id: str) -> None:
    with engine.db.write() as s:
        _own(s, principal, message_id)
        s.execute(delete(SiteMessage).where(SiteMessage.id == message_id))
