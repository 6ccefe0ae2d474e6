"""Application attachments: files stored under ``<Settings.var_dir>/attachments``, rows in the database.

Upload streams to a temporary file in the same folder tree (size checked while copying, so an
oversized upload never fills the disk), then moves it into place and records the row in one
transaction; if that fails the file is removed again. A file is named by the attachment's id,
never by what the client called it. Files are 0600 and folders 0700 (``engine.private_files``).
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import select

from engine import audit, private_files
from engine.domains.applications.models import ApplicationAttachment
from engine.domains.applications.service import acting_on, describe_attachment, load
from engine.domains.applications.status import EDITABLE
from engine.errors import Conflict, EngineError, InvalidInput, NotFound
from engine.models.base import new_id
from engine.principal import Principal

if TYPE_CHECKING:
    from engine.core import Engine

MAX_PER_APPLICATION = 20
_CHUNK = 64 * 1024


class TooLarge(EngineError):
    status = 413
    code = "too_large"


def max_bytes(settings: Any) -> int:
    return int(settings.max_attachment_bytes)


def root(settings: Any) -> Path:
    return Path(settings.var_dir) / "attachments"


def clean_filename(name: Any) -> str:
    """The client's file name, reduced to its last path part without control characters."""
    if not isinstance(name, str):
        name = ""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    return name[:255] or "attachment"


def _copy(stream: IO[bytes], target: Path, limit: int) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with os.fdopen(private_files.create(target), "wb") as out:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"an attachment may have at most {limit} bytes")
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def add(engine: Engine, principal: Principal, application_id: str, *, filename: str, content_type: str | None,
        stream: IO[bytes], ip: str | None = None) -> dict[str, Any]:
    """Attach a file to a draft or rejected application of the caller's."""
    name = clean_filename(filename)
    kind = (content_type or "application/octet-stream")[:200]
    with engine.db.read() as s:
        app = acting_on(s, engine, principal, application_id)
        tenant_id = app.tenant_id
    attachment_id = new_id()
    key = f"{tenant_id}/{application_id}/{attachment_id}"
    final = root(engine.settings) / key
    private_files.make_dir(final.parent)
    partial = final.with_name(f".{attachment_id}.part")
    try:
        size, sha = _copy(stream, partial, max_bytes(engine.settings))
        with engine.db.write() as s:
            app = acting_on(s, engine, principal, application_id, lock=True)
            if app.status not in EDITABLE:
                raise Conflict(f"application {app.number} is {app.status}; attachments change only on a draft or "
                               "a rejected application")
            if app.attachment_count >= MAX_PER_APPLICATION:
                raise InvalidInput(f"an application has at most {MAX_PER_APPLICATION} attachments")
            row = ApplicationAttachment(id=attachment_id, application_id=app.id, tenant_id=app.tenant_id,
                                        filename=name, content_type=kind, size=size, sha256=sha, storage_key=key,
                                        uploaded_by=principal.username)
            s.add(row)
            app.attachment_count += 1
            s.flush()
            os.replace(partial, final)  # in place before the commit: a committed row always has its file
            audit.record(s, action="application.attach", actor=principal.username, tenant_id=app.tenant_id,
                         target_type="application", target_id=app.id,
                         detail={"attachment": attachment_id, "filename": name, "size": size}, ip=ip)
            return describe_attachment(row)
    except BaseException:
        for path in (partial, final):
            path.unlink(missing_ok=True)
        raise


def open_file(engine: Engine, principal: Principal, application_id: str,
              attachment_id: str) -> tuple[dict[str, Any], Path]:
    """The attachment's description and the path of its bytes (anyone who may see the application)."""
    with engine.db.read() as s:
        app = load(s, engine, principal, application_id)
        row = s.scalars(select(ApplicationAttachment).where(ApplicationAttachment.id == attachment_id,
                                                            ApplicationAttachment.application_id == app.id)).first()
        if row is None:
            raise NotFound(f"attachment {attachment_id} not found")
        path = root(engine.settings) / row.storage_key
        if not path.is_file():
            raise NotFound(f"the file of attachment {attachment_id} is missing")
        return describe_attachment(row), path


def remove(engine: Engine, principal: Principal, application_id: str, attachment_id: str, *,
           ip: str | None = None) -> None:
    with engine.db.write() as s:
        app = acting_on(s, engine, principal, application_id, lock=True)
        if app.status not in EDITABLE:
            raise Conflict(f"application {app.number} is {app.status}; attachments change only on a draft or "
                           "a rejected application")
        row = s.scalars(select(ApplicationAttachment).where(ApplicationAttachment.id == attachment_id,
                                                            ApplicationAttachment.application_id == app.id)).first()
        if row is None:
            raise NotFound(f"attachment {attachment_id} not found")
        key = row.storage_key
        s.delete(row)
        app.attachment_count = max(app.attachment_count - 1, 0)
        audit.record(s, action="application.detach", actor=principal.username, tenant_id=app.tenant_id,
                     target_type="application", target_id=app.id, detail={"attachment": attachment_id}, ip=ip)
    (root(engine.settings) / key).unlink(missing_ok=True)  # after the commit: a kept row never loses its file
