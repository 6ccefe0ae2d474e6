"""Alembic environment: runs on the connection ``engine.migrate`` hands over."""

from __future__ import annotations

from alembic import context

config = context.config
# every model's tables, handed over by ``engine.migrate`` when it autogenerates (none to upgrade)
target_metadata = config.attributes.get("target_metadata")


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `aicmp db upgrade` (engine.migrate)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=config.attributes.get("on_version_apply"),  # progress (aicmp db upgrade)
    )
    with context.begin_transaction():
        context.run_migrations()


run()
