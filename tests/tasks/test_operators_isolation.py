"""Operators stand alone: importing ``tasks`` pulls in no engine, they are registered by name, and
outside a bound set of ports they refuse to run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tasks
from tasks import applications, notify, orders, quota
from tasks.ports import PortUnavailable, bound, current

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_operators_imports_no_engine():
    code = ("import sys, tasks; bad = sorted(m for m in sys.modules if m.split('.')[0] in ('engine', 'api', 'seed'));"
            " print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_builtin_operator_is_registered_by_name():
    assert {"applications/approvers", "applications/mark", "applications/decision", "notify/application",
            "orders/create", "quota/reserve", "quota/commit", "quota/release"} <= set(tasks.REGISTRY.names())
    assert tasks.REGISTRY.get("quota/reserve").func is quota.reserve


@pytest.mark.parametrize("call", [
    lambda: quota.reserve(application_id="app-1"),
    lambda: quota.commit(application_id="app-1"),
    lambda: orders.create(application_id="app-1"),
    lambda: applications.mark(application_id="app-1", status="approved"),
    lambda: notify.notify_application(application_id="app-1", event="submitted"),
])
def test_without_bound_ports_an_operator_refuses_to_run(call):
    with pytest.raises(PortUnavailable):
        call()


def test_bindings_nest_and_unwind():
    outer, inner = object(), object()
    with bound(outer):
        with bound(inner):
            assert current() is inner
        assert current() is outer
    with pytest.raises(PortUnavailable):
        current()
