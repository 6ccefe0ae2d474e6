"""What the applications domain hooks into the core: a save hook and a notice subject.

``release_on_cancel`` (save hook): an application whose process is cancelled outright gives its
quota back and is cancelled too. ``application_subject`` (a ``engine.site_messages`` subject
lookup): a "task assigned" notice of an application's process names the application.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import immutable
from engine.domains.applications.models import Application
from engine.domains.applications.ports import release_reservation
from engine.domains.applications.service import running_instance_or_none
from engine.domains.applications.status import Actor, allows, take
from engine.models import ProcessInstance
from engine.site_messages import Subject


def release_on_cancel(s: Session, loaded: Any) -> None:
    """Save hook: an application whose process is cancelled outright (process-instance cancel, not
    the withdraw/cancel the process itself handles) gives its quota back and is cancelled too."""
    row = loaded.row
    if row.status != "cancelled" or not row.business_key:
        return
    app = s.scalars(select(Application).where(Application.id == row.business_key,
                                              Application.tenant_id == row.tenant_id).with_for_update()).first()
    if app is None or not allows(app.status, "cancelled", Actor.RUNTIME):
        return
    if running_instance_or_none(s, app) not in (None, row.id):
        return  # an older instance: the application has moved on to a newer one
    release_reservation(s, app)
    take(app, Actor.RUNTIME, to="cancelled")


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # engine.models.base.new_id


def _number_key(tenant_id: str, application_id: str) -> tuple[str, str, str]:
    return ("application number", tenant_id, application_id)  # in ``immutable``: a number never changes


def remember_number(s: Session, app: Application) -> None:
    """For a caller that has the application loaded (a submission): its notices need no query."""
    immutable(s)[_number_key(app.tenant_id, app.id)] = app.number


def application_subject(s: Session, row: ProcessInstance) -> Subject | None:
    """The application a process instance runs for (its business key, in its tenant), if any."""
    if not row.business_key or not _ID.fullmatch(row.business_key):
        return None  # application ids are UUIDs: no query for other business keys
    cache, key = immutable(s), _number_key(row.tenant_id, row.business_key)
    number = cache.get(key)
    if number is None:
        number = s.scalar(select(Application.number).where(Application.id == row.business_key,
                                                           Application.tenant_id == row.tenant_id))
        if number is None:
            return None
        cache[key] = number
    return Subject(tag=number, label=f"Application {number}",
                   link={"application_id": row.business_key, "number": number})
