"""Schema migrations (Alembic), run programmatically: ``aicmp db upgrade`` and on start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.db import Database

SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


def head() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> str | None:
    """Bring the schema to ``revision``; a no-op when it is already there."""
    if revision == "head" and current(db) == head():
        return head()
    cfg = _config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current(db)


def revision(db: Database, message: str, rev_id: str | None = None) -> None:
    """Autogenerate a migration from the models against ``db`` (developers only)."""
    cfg = _config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
    for path in (SCRIPTS / "versions").glob("*.py"):  # alembic renders JSONB's astext_type unqualified
        path.write_text(path.read_text().replace("astext_type=Text()", "astext_type=sa.Text()"))


def regenerate_initial() -> None:
    """Until the first release, the schema is one migration: rebuild it from the models."""
    import tempfile

    for path in (SCRIPTS / "versions").glob("*.py"):
        path.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/empty.db")
        revision(db, "initial schema", rev_id="0001")
        db.dispose()


if __name__ == "__main__":
    regenerate_initial()
