"""Settings, read once from the environment (``AICMP_*``); the embedded default needs none."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _names(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    var_dir: Path = field(default_factory=lambda: Path(os.environ.get("AICMP_VAR_DIR", "var")).resolve())
    database_url: str = ""
    broker_url: str = field(default_factory=lambda: os.environ.get("AICMP_BROKER_URL", ""))
    max_bpmn_bytes: int = field(default_factory=lambda: _int("AICMP_MAX_BPMN_BYTES", 5 * 1024 * 1024))
    # jobs: modules imported so their operators register (comma-separated), the broker queue, and
    # how long a queued job may sit past its due time before the sweep sends it again
    operator_modules: tuple[str, ...] = field(default_factory=lambda: _names("AICMP_OPERATOR_MODULES"))
    job_queue: str = field(default_factory=lambda: os.environ.get("AICMP_JOB_QUEUE") or "aicmp.jobs")
    job_lost_after_s: int = field(default_factory=lambda: _int("AICMP_JOB_LOST_AFTER_S", 60))
    # login policy (engine.identity): password rules, lockout, password age, one session per user;
    # argon2_profile "test" makes hashing cheap for the test suite only, never set it in production
    password_min_length: int = field(default_factory=lambda: _int("AICMP_PASSWORD_MIN_LENGTH", 10))
    password_classes: int = field(default_factory=lambda: _int("AICMP_PASSWORD_CLASSES", 3))
    lockout_failures: int = field(default_factory=lambda: _int("AICMP_LOCKOUT_FAILURES", 5))
    lockout_minutes: int = field(default_factory=lambda: _int("AICMP_LOCKOUT_MINUTES", 15))
    password_max_age_days: int = field(default_factory=lambda: _int("AICMP_PASSWORD_MAX_AGE_DAYS", 90))
    single_session: bool = field(default_factory=lambda: _bool("AICMP_SINGLE_SESSION", False))
    argon2_profile: str = field(default_factory=lambda: os.environ.get("AICMP_ARGON2_PROFILE") or "standard")
    # the application flow: how long an approval step may take before it escalates (ISO 8601)
    approval_timeout: str = field(default_factory=lambda: os.environ.get("AICMP_APPROVAL_TIMEOUT") or "PT24H")
    max_attachment_bytes: int = field(default_factory=lambda: _int("AICMP_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))

    def __post_init__(self) -> None:
        if not self.database_url:
            url = os.environ.get("AICMP_DATABASE_URL") or f"sqlite:///{self.var_dir / 'aicmp.db'}"
            object.__setattr__(self, "database_url", url)
        if not 1 <= self.password_classes <= 4:
            raise ValueError("AICMP_PASSWORD_CLASSES must be between 1 and 4 (lower, upper, digit, symbol)")
        if self.password_min_length < 1 or self.lockout_failures < 1 or self.lockout_minutes < 0:
            raise ValueError("AICMP_PASSWORD_MIN_LENGTH and AICMP_LOCKOUT_FAILURES must be at least 1, "
                             "AICMP_LOCKOUT_MINUTES at least 0")
        if self.password_max_age_days < 0:
            raise ValueError("AICMP_PASSWORD_MAX_AGE_DAYS must be 0 (never) or more")
        if self.argon2_profile not in ("standard", "test"):
            raise ValueError(f"AICMP_ARGON2_PROFILE must be 'standard' or 'test', got {self.argon2_profile!r}")
        if not _ISO_DURATION.match(self.approval_timeout):
            raise ValueError(f"AICMP_APPROVAL_TIMEOUT must be an ISO 8601 duration such as PT24H, "
                             f"got {self.approval_timeout!r}")
        if self.max_attachment_bytes < 1:
            raise ValueError("AICMP_MAX_ATTACHMENT_BYTES must be at least 1")

    @property
    def embedded(self) -> bool:
        """SQLite and no broker: everything runs in one process."""
        return self.database_url.startswith("sqlite") and not self.broker_url
