"""Password hashing (argon2id) and the password policy.

Hashes use argon2-cffi's ``PasswordHasher()`` defaults (RFC 9106 low-memory profile: t=3,
m=64 MiB, p=4). ``Settings.argon2_profile == "test"`` swaps in the cheapest parameters so the
test suite stays fast; a hash made under other parameters is upgraded at the next login
(``needs_rehash``), so a database seeded in tests never keeps weak hashes in production.
"""

from __future__ import annotations

import functools
import secrets
import string

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from engine.config import Settings
from engine.errors import InvalidInput

MAX_LENGTH = 1024  # argon2 accepts more, but nobody types it and it only costs CPU
_CLASSES = (("a lowercase letter", str.islower), ("an uppercase letter", str.isupper), ("a digit", str.isdigit),
            ("a symbol", lambda ch: not ch.isalnum() and not ch.isspace()))


@functools.cache
def hasher(profile: str = "standard") -> PasswordHasher:
    if profile == "standard":
        return PasswordHasher()
    if profile == "test":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    raise ValueError(f"unknown argon2 profile {profile!r}")


@functools.cache
def _dummy_hash(profile: str) -> str:
    """A hash nobody's password matches: verifying an unknown user costs what a real check costs."""
    return hasher(profile).hash(secrets.token_urlsafe(32))


def hash_password(settings: Settings, password: str) -> str:
    return hasher(settings.argon2_profile).hash(password)


def verify_password(settings: Settings, stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; an unknown user (``stored_hash`` None) still pays for one check."""
    try:
        return hasher(settings.argon2_profile).verify(stored_hash or _dummy_hash(settings.argon2_profile),
                                                      password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(settings: Settings, stored_hash: str) -> bool:
    try:
        return hasher(settings.argon2_profile).check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def policy_problems(settings: Settings, password: str, *, username: str | None = None) -> list[str]:
    """Each rule ``password`` breaks, in words (empty: acceptable)."""
    problems = []
    if len(password) < settings.password_min_length:
        problems.append(f"must be at least {settings.password_min_length} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    present = [name for name, test in _CLASSES if any(test(ch) for ch in password)]
    if len(present) < settings.password_classes:
        names = ", ".join(name for name, _ in _CLASSES)
        problems.append(f"must mix at least {settings.password_classes} of: {names} (it has {len(present)})")
    if username and len(username) >= 3 and username.lower() in password.lower():
        problems.append("must not contain the username")
    return problems


def check_policy(settings: Settings, password: str, *, field: str = "password", username: str | None = None) -> None:
    """Raise InvalidInput (422) naming ``field`` when ``password`` breaks the policy."""
    problems = policy_problems(settings, password, username=username)
    if problems:
        raise InvalidInput(f"{field}: {'; '.join(problems)}",
                           errors=[{"field": field, "message": p} for p in problems])


def prepare_password(settings: Settings, password: str, *, field: str = "password",
                     username: str | None = None) -> str:
    """Check the policy, then hash: call it outside any write transaction (hashing takes ~50 ms)."""
    check_policy(settings, password, field=field, username=username)
    return hash_password(settings, password)


def generate_password(settings: Settings, length: int = 20) -> str:
    """A random password that satisfies the policy (one of each character class, then random)."""
    symbols = "!#%+-.:=?@_~"
    pools = (string.ascii_lowercase, string.ascii_uppercase, string.digits, symbols)
    size = max(length, settings.password_min_length, len(pools))
    chars = [secrets.choice(pool) for pool in pools]
    alphabet = "".join(pools)
    chars += [secrets.choice(alphabet) for _ in range(size - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
