"""Audit over HTTP: who sees which entries, CSV export, and `aicmp audit verify` catching an edit,
a removed tail and a deleted checkpoint."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import delete, select, update

from engine.models import AuditCheckpoint, AuditEntry
from tests.api.conftest import login

ROOT = Path(__file__).resolve().parents[3]


def test_operators_see_every_tenant_and_tenant_admins_only_their_own(client):
    login(client, "alpha-user")
    login(client, "beta-user")
    everything = client.get("/api/v1/audit?action=auth.&page_size=200", headers=login(client, "operator")).get_json()
    actors = {e["actor"] for e in everything["items"]}
    assert everything["total"] >= 2 and len(actors) >= 2
    alpha = client.get("/api/v1/audit?page_size=200", headers=login(client, "alpha-admin")).get_json()
    tenants = {e["tenant_id"] for e in alpha["items"]}
    assert len(tenants) == 1 and None not in tenants
    assert client.get("/api/v1/audit", headers=login(client, "alpha-user")).status_code == 403


def test_csv_export_has_a_row_per_entry(client):
    headers = login(client, "operator")
    listed = client.get("/api/v1/audit?action=auth.&page_size=200", headers=headers).get_json()
    resp = client.get("/api/v1/audit/export.csv?action=auth.", headers=headers)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.data.decode())))
    assert len(rows) == listed["total"] and all(r["action"].startswith("auth.") for r in rows)
    assert all(r["scheme"].startswith("hmac:") for r in rows)
    assert all(e["scheme"].startswith("hmac:") for e in listed["items"])


def run_verify(api_engine, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AICMP_DATABASE_URL": api_engine.settings.database_url,
           "AICMP_VAR_DIR": str(api_engine.settings.var_dir), "PYTHONPATH": str(ROOT), **env_overrides}
    return subprocess.run([sys.executable, "-m", "api.cli", "audit", "verify"], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_audit_verify_detects_an_edited_row(client, api_engine):
    login(client, "alpha-admin")
    ok = run_verify(api_engine)
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout + ok.stderr
    with api_engine.db.write() as s:
        victim = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
        s.execute(update(AuditEntry).where(AuditEntry.id == victim.id).values(actor="someone-else"))
    broken = run_verify(api_engine)
    assert broken.returncode == 1 and f"row {victim.id}" in broken.stdout, broken.stdout + broken.stderr


def test_audit_verify_detects_a_removed_tail_and_a_deleted_checkpoint_one_line_each(client, api_engine):
    login(client, "alpha-admin")
    login(client, "beta-admin")
    first = run_verify(api_engine)  # anchors every chain
    assert first.returncode == 0 and "wrote checkpoint #1" in first.stdout, first.stdout + first.stderr
    with api_engine.db.read() as s:
        alpha = s.scalar(select(AuditEntry.tenant_id).where(AuditEntry.actor == "alpha-admin").limit(1))
        tail = s.scalars(select(AuditEntry.id).where(AuditEntry.tenant_id == alpha)
                         .order_by(AuditEntry.id.desc()).limit(1)).all()
    with api_engine.db.write() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id.in_(tail)))
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.id == 1))
    broken = run_verify(api_engine)
    lines = broken.stdout.splitlines()
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert lines[0] == "checkpoints: checkpoint #1 deleted: the table starts at #2"
    assert lines[1].startswith(f"chain {alpha}: broken since its start") and "tail removed" in lines[1]
    assert f"row {tail[0]}" in lines[1] and lines[2].startswith("audit log BROKEN: 2 problem(s)")
    assert len(lines) == 3


def test_audit_verify_refuses_to_run_without_the_key(client, api_engine, tmp_path):
    login(client, "alpha-admin")
    elsewhere = tmp_path / "another-host"
    no_key = run_verify(api_engine, AICMP_VAR_DIR=str(elsewhere), AICMP_AUDIT_KEY="")
    assert no_key.returncode == 2 and "no audit key here" in no_key.stderr, no_key.stdout + no_key.stderr
    assert not (elsewhere / "audit-key").exists()
    wrong = run_verify(api_engine, AICMP_VAR_DIR=str(elsewhere), AICMP_AUDIT_KEY="w" * 40)
    assert wrong.returncode == 1 and "a key this verifier does not have" in wrong.stdout
