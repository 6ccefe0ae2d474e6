"""Settings, read once from the environment (``AICMP_*``); the embedded default needs none."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    var_dir: Path = field(default_factory=lambda: Path(os.environ.get("AICMP_VAR_DIR", "var")).resolve())
    database_url: str = ""
    broker_url: str = field(default_factory=lambda: os.environ.get("AICMP_BROKER_URL", ""))
    max_bpmn_bytes: int = field(default_factory=lambda: _int("AICMP_MAX_BPMN_BYTES", 5 * 1024 * 1024))

    def __post_init__(self) -> None:
        if not self.database_url:
            url = os.environ.get("AICMP_DATABASE_URL") or f"sqlite:///{self.var_dir / 'aicmp.db'}"
            object.__setattr__(self, "database_url", url)

    @property
    def embedded(self) -> bool:
        """SQLite and no broker: everything runs in one process."""
        return self.database_url.startswith("sqlite") and not self.broker_url
