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
