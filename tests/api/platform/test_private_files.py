"""Files only the service's user may read: the var dir 0700, the SQLite database (and its -wal/-shm),
the generated JWT secret and attachments 0600, whatever the umask; looser ones are tightened at
start-up when they are ours."""

from __future__ import annotations

import io
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import create_app
from engine import private_files
from engine.config import Settings
from engine.core import Engine
from tests.api.conftest import DEMO_PASSWORD, login, make_api_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask(monkeypatch) -> Iterator[None]:
    """The usual umask 022 would leave new files world-readable."""
    monkeypatch.delenv("AICMP_JWT_SECRET", raising=False)
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def upload(client, engine: Engine) -> Path:
    from sqlalchemy import select

    from engine.domains.catalog.models import ProductSpec
    from engine.models import BusinessSystem, Tenant

    with engine.db.read() as s:
        alpha = s.scalars(select(Tenant.id).where(Tenant.code == "alpha")).one()
        system = s.scalars(select(BusinessSystem.id).where(BusinessSystem.tenant_id == alpha)).first()
        spec = s.scalars(select(ProductSpec.id).where(ProductSpec.code == "a100-1")).one()
    headers = login(client, "alpha-user")
    draft = client.post("/api/v1/applications", headers=headers, json={
        "business_system_id": system, "purpose": "p", "title": "t", "items": [{"spec_id": spec, "quantity": 1}]})
    assert draft.status_code == 201, draft.get_json()
    resp = client.post(f"/api/v1/applications/{draft.get_json()['id']}/attachments", headers=headers,
                       content_type="multipart/form-data", data={"file": (io.BytesIO(b"secret"), "a.txt")})
    assert resp.status_code == 201, resp.get_json()
    (found,) = (engine.settings.var_dir / "attachments").rglob(resp.get_json()["id"])
    return found


def test_new_files_are_private(tmp_path):
    var = tmp_path / "deep" / "var"
    engine = make_api_engine(f"sqlite:///{var / 'aicmp.db'}", var)
    try:
        client = create_app(engine=engine).test_client()
        attachment = upload(client, engine)
        assert mode(tmp_path / "deep") == mode(var) == 0o700
        for name in ("aicmp.db", "aicmp.db-wal", "aicmp.db-shm", "jwt-secret"):
            assert mode(var / name) == 0o600, name
        assert mode(attachment) == 0o600
        folder = attachment.parent
        while folder != var:
            assert mode(folder) == 0o700, folder
            folder = folder.parent
    finally:
        engine.close()


def test_a_database_outside_the_var_dir_is_private_too(tmp_path):
    engine = Engine(Settings(var_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'db' / 'x.db'}"))
    try:
        assert mode(tmp_path / "db") == 0o700 and mode(tmp_path / "db" / "x.db") == 0o600
    finally:
        engine.close()


def test_start_up_tightens_what_is_already_there(tmp_path, monkeypatch):
    var = tmp_path / "var"
    engine = make_api_engine(f"sqlite:///{var / 'aicmp.db'}", var)
    attachment = upload(create_app(engine=engine).test_client(), engine)
    engine.close()
    loose = [var, var / "attachments", attachment.parent, var / "aicmp.db", var / "jwt-secret", attachment]
    for path in loose:
        path.chmod(0o755 if path.is_dir() else 0o644)

    again = Engine(Settings(var_dir=var, database_url=f"sqlite:///{var / 'aicmp.db'}", argon2_profile="test"))
    try:
        assert mode(var) == mode(var / "attachments") == 0o700
        assert mode(var / "aicmp.db") == 0o600
        create_app(engine=again)
        assert mode(var / "jwt-secret") == 0o600
        assert mode(attachment) == 0o644  # deep in var/attachments (0700 again): the server start reaches it
    finally:
        again.close()

    from api import server

    monkeypatch.setenv("AICMP_VAR_DIR", str(var))
    monkeypatch.setenv("AICMP_ARGON2_PROFILE", "test")
    monkeypatch.delenv("AICMP_DATABASE_URL", raising=False)
    server.prepare()
    assert mode(attachment) == 0o600 and mode(attachment.parent) == 0o700
    assert login(create_app(Settings(var_dir=var, argon2_profile="test")).test_client(), "alpha-user",
                 DEMO_PASSWORD)  # still works with the tightened files


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_another_users_file_is_left_alone(tmp_path, caplog):
    theirs = tmp_path / "theirs"
    theirs.write_text("x")
    theirs.chmod(0o644)
    os.chown(theirs, 12345, 12345)
    with caplog.at_level(logging.WARNING, logger="aicmp.files"):
        private_files.tighten(theirs, private_files.FILE_MODE)
    assert mode(theirs) == 0o644 and "another user" in caplog.text
