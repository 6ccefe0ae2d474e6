"""Audit over HTTP: who sees which entries, CSV export, and `aicmp audit verify` catching an edit."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, update

from engine.models import AuditEntry
from tests.api.conftest import login

ROOT = Path(__file__).resolve().parents[2]


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


def run_verify(api_engine) -> subprocess.CompletedProcess:
    env = {**os.environ, "AICMP_DATABASE_URL": api_engine.settings.database_url,
           "AICMP_VAR_DIR": str(api_engine.settings.var_dir), "PYTHONPATH": str(ROOT)}
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
