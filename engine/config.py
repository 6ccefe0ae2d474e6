"""Settings, read once from the environment (``AICMP_*``); the embedded default needs none."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from engine import private_files

AUDIT_KEY_MIN_LENGTH = 32
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
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


def generated_secret(var_dir: Path, name: str) -> str:
    """A secret generated once and kept in ``var_dir/name`` (mode 0600), shared by every process
    using that directory. Created atomically: a concurrent first start never reads a half-written
    file, and the process that loses the race reads the winner's secret."""
    path = var_dir / name
    if not path.exists():
        private_files.make_dir(path.parent)
        tmp = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = private_files.create(tmp)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process got there first: keep theirs
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    private_files.tighten(path, private_files.FILE_MODE)  # one from before files were kept private
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"{path} is empty: delete it to generate a new secret, or restore it from a backup")
    return value


def _networks(name: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR networks (a bare address is a /32 or /128)."""
    try:
        return tuple(ipaddress.ip_network(part, strict=False) for part in _names(name))
    except ValueError as exc:
        raise ValueError(f"{name} must be comma-separated IP addresses or networks: {exc}") from exc


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
    # login throttling (engine.identity.throttle): failures kept for a sliding window; per address over
    # all usernames, and per address for one username (kept below lockout_failures: one address alone
    # can never lock an account)
    login_window_minutes: int = field(default_factory=lambda: _int("AICMP_LOGIN_WINDOW_MINUTES", 15))
    login_address_limit: int = field(default_factory=lambda: _int("AICMP_LOGIN_ADDRESS_LIMIT", 50))
    login_account_limit: int = field(default_factory=lambda: _int("AICMP_LOGIN_ACCOUNT_LIMIT", 3))
    # token lifetimes; a refresh rotates the refresh token (engine.identity.tokens)
    access_token_minutes: int = field(default_factory=lambda: _int("AICMP_ACCESS_TOKEN_MINUTES", 30))
    refresh_token_days: int = field(default_factory=lambda: _int("AICMP_REFRESH_TOKEN_DAYS", 7))
    # the peers whose X-Forwarded-For is believed (api.security.client_ip); empty: none, the peer is the client
    trusted_proxies: tuple[Network, ...] = field(default_factory=lambda: _networks("AICMP_TRUSTED_PROXIES"))
    # networks a tenant's cloud account endpoint may resolve into besides public addresses
    # (engine.domains.resources.endpoints): none by default
    tenant_endpoint_networks: tuple[Network, ...] = field(
        default_factory=lambda: _networks("AICMP_TENANT_ENDPOINT_NETWORKS"))
    # the demo seed (``aicmp seed``, a fresh ``aicmp serve``) adds a simulated cloud with resource pools
    # (seed.simulator), so an approved application is placed and provisioned; off: no pools, as before
    demo_cloud: bool = field(default_factory=lambda: _bool("AICMP_DEMO_CLOUD", True))
    # the application flow: how long an approval step may take before it escalates (ISO 8601)
    approval_timeout: str = field(default_factory=lambda: os.environ.get("AICMP_APPROVAL_TIMEOUT") or "PT24H")
    max_attachment_bytes: int = field(default_factory=lambda: _int("AICMP_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))
    # the audit log's HMAC key (else generated into var/audit-key), and earlier keys still needed
    # to verify rows signed before a rotation (comma-separated, newest first)
    audit_key: str = field(default_factory=lambda: os.environ.get("AICMP_AUDIT_KEY", ""), repr=False)
    audit_retired_keys: tuple[str, ...] = field(default_factory=lambda: _names("AICMP_AUDIT_RETIRED_KEYS"),
                                                repr=False)
    # cloud account credentials' encryption key (engine.domains.resources.secrets); embedded default:
    # generated into var/credentials-key, elsewhere required
    credentials_key: str = field(default_factory=lambda: os.environ.get("AICMP_CREDENTIALS_KEY", ""), repr=False)

    def __post_init__(self) -> None:
        if not self.database_url:
            url = os.environ.get("AICMP_DATABASE_URL") or f"sqlite:///{self.var_dir / 'aicmp.db'}"
            object.__setattr__(self, "database_url", url)
        if not 1 <= self.password_classes <= 4:
            raise ValueError("AICMP_PASSWORD_CLASSES must be between 1 and 4 (lower, upper, digit, symbol)")
        if self.password_min_length < 1 or self.lockout_failures < 1 or self.lockout_minutes < 0:
            raise ValueError("AICMP_PASSWORD_MIN_LENGTH and AICMP_LOCKOUT_FAILURES must be at least 1, "
                             "AICMP_LOCKOUT_MINUTES at least 0")
        if min(self.login_window_minutes, self.login_address_limit, self.login_account_limit) < 1:
            raise ValueError("AICMP_LOGIN_WINDOW_MINUTES, AICMP_LOGIN_ADDRESS_LIMIT and AICMP_LOGIN_ACCOUNT_LIMIT "
                             "must be at least 1")
        if self.lockout_minutes > 0 and self.login_account_limit >= self.lockout_failures:
            raise ValueError("AICMP_LOGIN_ACCOUNT_LIMIT must be below AICMP_LOCKOUT_FAILURES, or one address "
                             "could lock an account")
        if self.access_token_minutes < 1 or self.refresh_token_days < 1:
            raise ValueError("AICMP_ACCESS_TOKEN_MINUTES and AICMP_REFRESH_TOKEN_DAYS must be at least 1")
        if self.password_max_age_days < 0:
            raise ValueError("AICMP_PASSWORD_MAX_AGE_DAYS must be 0 (never) or more")
        if self.argon2_profile not in ("standard", "test"):
            raise ValueError(f"AICMP_ARGON2_PROFILE must be 'standard' or 'test', got {self.argon2_profile!r}")
        if not _ISO_DURATION.match(self.approval_timeout):
            raise ValueError(f"AICMP_APPROVAL_TIMEOUT must be an ISO 8601 duration such as PT24H, "
                             f"got {self.approval_timeout!r}")
        from engine.spiff.durations import InvalidTimer, duration_timer  # the bounds the timer has

        try:
            duration_timer(self.approval_timeout)
        except InvalidTimer as exc:
            raise ValueError(f"AICMP_APPROVAL_TIMEOUT: {exc.problem}") from None
        if self.max_attachment_bytes < 1:
            raise ValueError("AICMP_MAX_ATTACHMENT_BYTES must be at least 1")
        if any(0 < len(key) < AUDIT_KEY_MIN_LENGTH for key in (self.audit_key, *self.audit_retired_keys)):
            raise ValueError(f"AICMP_AUDIT_KEY and AICMP_AUDIT_RETIRED_KEYS must be at least "
                             f"{AUDIT_KEY_MIN_LENGTH} characters each (e.g. python -c "
                             f"'import secrets; print(secrets.token_urlsafe(48))')")

    def audit_keys(self) -> tuple[str, ...]:
        """The audit log's keys, current first: AICMP_AUDIT_KEY (else var/audit-key, generated on
        first use), then AICMP_AUDIT_RETIRED_KEYS."""
        current = self.audit_key or generated_secret(self.var_dir, "audit-key")
        return (current, *(key for key in self.audit_retired_keys if key != current))

    @property
    def embedded(self) -> bool:
        """SQLite and no broker: everything runs in one process."""
        return self.database_url.startswith("sqlite") and not self.broker_url
