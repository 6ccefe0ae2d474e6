"""Helpers shared by test modules (fixtures live in conftest.py files)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from engine.config import Settings
from engine.core import Engine
from engine.models import Tenant
from tasks.registry import OperatorRegistry

DATA = Path(__file__).parent / "engine" / "data"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # where the ``frozen`` clock fixture starts
# The shared BPMN conformance corpus: AICMP_CONFORMANCE_DIR, else ../shared/conformance beside the
# checkout. Absent, its tests skip with one line; AICMP_REQUIRE_CONFORMANCE=1 (set by .ci/run only)
# makes that a failure instead.
CONFORMANCE = Path(os.environ.get("AICMP_CONFORMANCE_DIR")
                   or Path(__file__).resolve().parents[2] / "shared" / "conformance").expanduser().resolve()
CONFORMANCE_REQUIRED = os.environ.get("AICMP_REQUIRE_CONFORMANCE", "") not in ("", "0")
CONFORMANCE_MISSING = (f"conformance corpus not found at {CONFORMANCE}: put it there (../shared/conformance "
                       "beside the checkout) or point AICMP_CONFORMANCE_DIR at it")


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def make_engine(url: str, tmp_path: Path, operators: OperatorRegistry | None = None) -> Engine:
    """An Engine on ``url`` (schema migrated) with tenants t-alpha and t-beta."""
    eng = Engine(Settings(var_dir=tmp_path, database_url=url),
                 operators=operators if operators is not None else OperatorRegistry())
    with eng.db.write() as s:
        s.add_all([Tenant(id="t-alpha", code="alpha", name="Alpha"), Tenant(id="t-beta", code="beta", name="Beta")])
    return eng
