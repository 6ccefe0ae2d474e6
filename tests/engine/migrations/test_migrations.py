"""The migrations and the models agree, on SQLite and PostgreSQL, and revisions chain from 0001.

Revisions are append-only (``aicmp db revision "what changed"`` writes the next one): a
database migrated to head must have exactly the schema the models describe, or a model change was
made without its revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from engine import migrate
from engine.core import model_metadata
from engine.db import Database


def _assert_models_match(url: str) -> None:
    db = Database(url)
    try:
        migrate.upgrade(db)
        assert migrate.current(db) == migrate.head()
        assert migrate.compare(db, model_metadata()) == []
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
        assert migrate.compare(db, model_metadata()) == []
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


def _fill_before_the_resource_vector(db: Database) -> None:
    """Rows as revision 0004 held them: a tenant > org tree with quota, an H100 spec, and an
    application for 2 x 8 H100 holding its reservation (one GPU model per spec and line then)."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    at = {"at": datetime(2026, 12, 1, 8, 0, tzinfo=UTC), "yes": True}
    rows = [
        "INSERT INTO tenants (id, code, name, description, enabled, created_at, updated_at) "
        "VALUES ('t1', 'old', 'Old', '', :yes, :at, :at)",
        "INSERT INTO organizations (id, tenant_id, parent_id, code, name, path, created_at) "
        "VALUES ('o1', 't1', NULL, 'top', 'Top', '/o1/', :at)",
        "INSERT INTO organizations (id, tenant_id, parent_id, code, name, path, created_at) "
        "VALUES ('o2', 't1', 'o1', 'sub', 'Sub', '/o1/o2/', :at)",
        "INSERT INTO users (id, tenant_id, organization_id, username, display_name, password_hash, "
        "password_changed_at, enabled, failed_logins, session_epoch, created_at) "
        "VALUES ('u1', 't1', 'o2', 'ann', '', '-', :at, :yes, 0, 0, :at)",
        "INSERT INTO business_systems (id, tenant_id, organization_id, code, name, created_at) "
        "VALUES ('b1', 't1', 'o2', 'sys', 'Sys', :at)",
        "INSERT INTO product_categories (id, parent_id, code, name, sort_order, created_at) "
        "VALUES ('c1', NULL, 'gpu', 'GPU', 0, :at)",
        "INSERT INTO products (id, code, name, description, category_id, visibility, enabled, created_at, updated_at) "
        "VALUES ('p1', 'h100', 'H100 server', '', 'c1', 'all', :yes, :at, :at)",
        "INSERT INTO product_specs (id, product_id, code, name, vcpu, memory_gib, disk_gib, gpu_model, gpu_count, "
        "instances, eips, enabled, sort_order) VALUES ('s1', 'p1', 'h100-8', '8 x H100', 192, 2048, 8000, 'H100', 8, "
        "1, 1, :yes, 0)",
        "INSERT INTO product_specs (id, product_id, code, name, vcpu, memory_gib, disk_gib, gpu_model, gpu_count, "
        "instances, eips, enabled, sort_order) VALUES ('s2', 'p1', 'cpu', 'CPU only', 4, 8, 50, NULL, 0, 1, 0, "
        ":yes, 1)",
        "INSERT INTO applications (id, tenant_id, number, title, purpose, applicant_id, applicant, organization_id, "
        "business_system_id, status, quota_state, reserved, approvals, submissions, created_at, updated_at) "
        "VALUES ('a1', 't1', 'AP-1', 'T', 'P', 'u1', 'ann', 'o2', 'b1', 'pending', 'reserved', "
        "'{\"vcpu\": \"384.000\", \"gpus\": \"16.000\"}', 0, 1, :at, :at)",
        "INSERT INTO application_items (id, application_id, tenant_id, position, product_id, spec_id, product_name, "
        "spec_name, quantity, vcpu, memory_gib, disk_gib, gpu_model, gpu_count, instances, eips) "
        "VALUES ('i1', 'a1', 't1', 0, 'p1', 's1', 'H100 server', '8 x H100', 2, 192, 2048, 8000, 'H100', 8, 1, 1)",
    ]
    with db.engine.begin() as conn:
        for sql in rows:
            conn.execute(text(sql), at)
        for i, (org, dim, total, in_process) in enumerate([
                (None, "gpus", 32, 16), ("o1", "gpus", 32, 16), ("o2", "gpus", 16, 16),
                (None, "vcpu", 1000, 384), ("o1", "vcpu", 1000, 384), ("o2", "vcpu", 500, 384)]):
            conn.execute(text("INSERT INTO quotas (id, tenant_id, organization_id, dimension, total, used, in_process, "
                              "updated_at) VALUES (:id, 't1', :org, :dim, :total, 0, :ip, :at)"),
                         {"id": f"q{i}", "org": org, "dim": dim, "total": total, "ip": in_process, "at": at["at"]})


def _assert_upgrades_from_the_previous_revision(url: str) -> None:
    """0004 -> head keeps every number and turns one GPU model per line into the per-model form."""
    from decimal import Decimal

    from sqlalchemy import select

    from engine.domains.applications.models import Application, ApplicationItem
    from engine.domains.catalog.models import ProductSpec
    from engine.models import Quota

    db = Database(url)
    try:
        migrate.upgrade(db, "0004")
        _fill_before_the_resource_vector(db)
        migrate.upgrade(db)
        assert migrate.current(db) == migrate.head()
        assert migrate.compare(db, model_metadata()) == []
        with db.read() as s:
            specs = {sp.id: sp for sp in s.scalars(select(ProductSpec))}
            assert (specs["s1"].gpu_model, specs["s1"].gpu_count, specs["s1"].gpus_by_model) == ("H100", 8, {"H100": 8})
            assert (specs["s2"].gpu_count, specs["s2"].gpus_by_model, specs["s2"].vcpu) == (0, {}, 4)
            item = s.scalars(select(ApplicationItem)).one()
            assert (item.gpu_count, item.gpus_by_model, item.quantity) == (8, {"H100": 8}, 2)
            quota = {(q.organization_id, q.dimension): q for q in s.scalars(select(Quota))}
            assert {k: (q.total, q.in_process, q.capped) for k, q in quota.items() if k[1] != "gpus:H100"} == {
                (None, "gpus"): (32, 16, True), ("o1", "gpus"): (32, 16, True), ("o2", "gpus"): (16, 16, True),
                (None, "vcpu"): (1000, 384, True), ("o1", "vcpu"): (1000, 384, True), ("o2", "vcpu"): (500, 384, True)}
            # the held reservation is booked per model too (uncapped), and the application can give it back
            assert {org: (q.in_process, q.capped) for (org, dim), q in quota.items() if dim == "gpus:H100"} == {
                None: (16, False), "o1": (16, False), "o2": (16, False)}
            assert s.get(Application, "a1").reserved == {"vcpu": "384.000", "gpus": "16.000",
                                                         "gpus:H100": "16.000"}
            assert isinstance(quota[(None, "gpus")].total, Decimal)
    finally:
        db.dispose()


def test_a_sqlite_database_filled_at_the_previous_revision_upgrades_keeping_its_numbers(tmp_path: Path) -> None:
    _assert_upgrades_from_the_previous_revision(f"sqlite:///{tmp_path}/prev.db")


def test_a_postgresql_database_filled_at_the_previous_revision_upgrades_keeping_its_numbers(
        postgres_database_url: str) -> None:
    _assert_upgrades_from_the_previous_revision(postgres_database_url)


def _assert_attachments_are_counted(url: str) -> None:
    """0015 -> 0016 counts each application's attachments once: the detail trusts the count."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    db = Database(url)
    try:
        migrate.upgrade(db, "0004")
        _fill_before_the_resource_vector(db)
        migrate.upgrade(db, "0015")
        at = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO applications (id, tenant_id, number, title, purpose, applicant_id, "
                              "applicant, organization_id, business_system_id, status, quota_state, reserved, "
                              "approvals, submissions, created_at, updated_at) VALUES ('a2', 't1', 'AP-2', 'T', "
                              "'P', 'u1', 'ann', 'o2', 'b1', 'draft', 'none', '{}', 0, 0, :at, :at)"), {"at": at})
            for n in (1, 2):
                conn.execute(text("INSERT INTO application_attachments (id, application_id, tenant_id, filename, "
                                  "content_type, size, sha256, storage_key, uploaded_by, created_at) VALUES "
                                  "(:id, 'a1', 't1', 'f.txt', 'text/plain', 1, :sha, :key, 'ann', :at)"),
                             {"id": f"f{n}", "sha": "0" * 64, "key": f"t1/a1/f{n}", "at": at})
        migrate.upgrade(db)
        with db.engine.connect() as conn:
            counts = dict(conn.execute(text("SELECT id, attachment_count FROM applications")).all())
        assert counts == {"a1": 2, "a2": 0}
    finally:
        db.dispose()


def test_a_sqlite_database_upgrades_with_its_attachments_counted(tmp_path: Path) -> None:
    _assert_attachments_are_counted(f"sqlite:///{tmp_path}/att.db")


def test_a_postgresql_database_upgrades_with_its_attachments_counted(postgres_database_url: str) -> None:
    _assert_attachments_are_counted(postgres_database_url)
