"""The migrations and the models agree, on SQLite and PostgreSQL, and revisions chain from 0001.

Revisions are append-only (``python -m engine.migrate "what changed"`` writes the next one): a
database migrated to head must have exactly the schema the models describe, or a model change was
made without its revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from engine import migrate
from engine.db import Database


def _assert_models_match(url: str) -> None:
    db = Database(url)
    try:
        migrate.upgrade(db)
        assert migrate.current(db) == migrate.head()
        assert migrate.compare(db) == []
    finally:
        db.dispose()


def test_migrated_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    _assert_models_match(f"sqlite:///{tmp_path}/m.db")


def test_migrated_postgresql_schema_matches_the_models(postgres_database_url: str) -> None:
    _assert_models_match(postgres_database_url)


def test_revisions_form_one_chain_from_the_baseline() -> None:
    script = ScriptDirectory.from_config(migrate._config())
    assert len(script.get_heads()) == 1
    chain = [rev.revision for rev in script.walk_revisions()]
    assert chain[-1] == "0001"
    assert chain == sorted(chain, reverse=True)


def _fill_at_baseline(db: Database) -> None:
    """Rows as a database at revision 0001 held them: a tenant and its first audit row."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, code, name, description, enabled, created_at, updated_at) "
                          "VALUES ('t-old', 'old', 'Old', '', :yes, :at, :at)"), {"yes": True, "at": at})
        conn.execute(text("INSERT INTO audit_log (at, tenant_id, actor, action, detail, prev_hash, hash) "
                          "VALUES (:at, 't-old', 'someone', 'tenant.create', '{}', :zero, :h)"),
                     {"at": at, "zero": "0" * 64, "h": "a" * 64})


def _assert_upgrades_filled(url: str) -> None:
    from sqlalchemy import text

    db = Database(url)
    try:
        migrate.upgrade(db, "0001")
        _fill_at_baseline(db)
        migrate.upgrade(db)
        assert migrate.current(db) == migrate.head()
        assert migrate.compare(db) == []
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT code FROM tenants")).scalars().all() == ["old"]
            # rows written before the keyed chain keep their plain hash and say so
            assert conn.execute(text("SELECT scheme, hash FROM audit_log")).all() == [("sha256", "a" * 64)]
    finally:
        db.dispose()


def test_a_sqlite_database_filled_at_the_baseline_upgrades_keeping_its_rows(tmp_path: Path) -> None:
    _assert_upgrades_filled(f"sqlite:///{tmp_path}/old.db")


def test_a_postgresql_database_filled_at_the_baseline_upgrades_keeping_its_rows(postgres_database_url: str) -> None:
    _assert_upgrades_filled(postgres_database_url)
