"""Cloud account credentials, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from ``AICMP_CREDENTIALS_KEY`` (``Settings.credentials_key``): any text of at least 32
characters, stretched to a Fernet key with SHA-256 (so a ``secrets.token_urlsafe(48)`` or a
``Fernet.generate_key()`` both do). Without it, the embedded default (SQLite, no broker) generates
one into ``var/credentials-key`` (mode 0600, the same way as the audit key); any other deployment
refuses to start, because a key generated on one host would leave the others unable to decrypt.

Each sealed value records the key id (first 8 hex characters of SHA-256 of the key), so a rotation
can tell old ciphertext from new. The plaintext exists only while a connector is built; it is never
returned, logged or put in audit detail (``mask`` is what may be shown: the field names).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken

from engine.config import generated_secret

if TYPE_CHECKING:
    from engine.config import Settings

KEY_FILE = "credentials-key"
MIN_KEY_LENGTH = 32
ENV = "AICMP_CREDENTIALS_KEY"


class CredentialsKeyMissing(RuntimeError):
    """A deployment other than the embedded default has no AICMP_CREDENTIALS_KEY."""


class Sealer:
    """Encrypts and decrypts one account's credentials dict with the configured key."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_KEY_LENGTH:
            raise ValueError(f"{ENV} must be at least {MIN_KEY_LENGTH} characters "
                             "(python -c 'import secrets; print(secrets.token_urlsafe(48))')")
        digest = hashlib.sha256(secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self.key_id = hashlib.sha256(digest).hexdigest()[:8]

    def seal(self, credentials: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(bytes(token)))
        except InvalidToken as exc:
            raise ValueError("stored credentials do not decrypt with the current credentials key "
                             f"(was {ENV} changed?)") from exc

    def __repr__(self) -> str:
        return f"<Sealer key_id={self.key_id}>"


def sealer(settings: Settings) -> Sealer:
    """The sealer for ``settings``; raises ``CredentialsKeyMissing`` outside the embedded default
    when no key is configured (a start-up error: ``install`` calls this)."""
    secret = getattr(settings, "credentials_key", "") or ""
    if not secret:
        if not settings.embedded:
            raise CredentialsKeyMissing(
                f"{ENV} is not set: with PostgreSQL or a broker every API server and worker must share one "
                "credentials key (python -c 'import secrets; print(secrets.token_urlsafe(48))'); only the "
                f"embedded default generates one into {settings.var_dir / KEY_FILE}")
        secret = generated_secret(settings.var_dir, KEY_FILE)
    return Sealer(secret)


def mask(credentials: dict[str, Any]) -> list[str]:
    """What may be shown of credentials: the sorted field names, never a value."""
    return sorted(credentials)
