"""``aicmp seed``: idempotent demo data (run again, nothing is duplicated)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from engine.core import Engine
from engine.models import Tenant
from engine.validation import file_kind

ROOT = Path(__file__).resolve().parents[1]
TENANTS = (("alpha", "Alpha Compute Co."), ("beta", "Beta AI Lab"))


@dataclass
class SeedReport:
    tenants_created: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)


def product_files(root: Path = ROOT) -> dict[str, bytes]:
    """Every process, decision and form that ships with aicmp (bpmn/ and forms/)."""
    files: dict[str, bytes] = {}
    for folder in (root / "bpmn", root / "forms"):
        for path in sorted(folder.glob("*")):
            if path.is_file() and file_kind(path.name) is not None:
                files[path.name] = path.read_bytes()
    return files


def seed(engine: Engine) -> SeedReport:
    report = SeedReport()
    with engine.db.write() as s:
        existing = set(s.scalars(select(Tenant.code)))
        for code, name in TENANTS:
            if code not in existing:
                s.add(Tenant(code=code, name=name))
                report.tenants_created.append(code)
    files = product_files()
    if any(file_kind(n) == "bpmn" for n in files):
        result = engine.registry.deploy(files, actor="seed", name="aicmp product processes")
        report.definitions = [f"{d.key} v{d.version}" for d in result.definitions]
    return report
