"""Identity: passwords, logins, tokens and the Principal behind each request.

``principal_for_token`` runs on every request (api/security.py); the rest serves the auth
endpoints and the user-management code (``create_user``, ``reset_password``, ``prepare_password``).
"""

from engine.identity.login import (
    GENERIC_FAILURE,
    AuthenticationFailed,
    PasswordExpired,
    RoleNotHeld,
    authenticate,
    change_password,
    logout,
    refresh,
    switch_role,
)
from engine.identity.passwords import (
    check_policy,
    generate_password,
    hash_password,
    needs_rehash,
    policy_problems,
    prepare_password,
    verify_password,
)
from engine.identity.throttle import LoginThrottled
from engine.identity.tokens import (
    CLAIM_EPOCH,
    CLAIM_ROLE,
    CLAIM_SESSION,
    CLAIM_TENANT,
    Grant,
    expiry,
    principal_for_token,
    revoke,
)
from engine.identity.users import create_user, describe, insert_user, reset_password, roles_by_code

__all__ = [
    "CLAIM_EPOCH",
    "CLAIM_ROLE",
    "CLAIM_SESSION",
    "CLAIM_TENANT",
    "GENERIC_FAILURE",
    "AuthenticationFailed",
    "Grant",
    "LoginThrottled",
    "PasswordExpired",
    "RoleNotHeld",
    "authenticate",
    "change_password",
    "check_policy",
    "create_user",
    "describe",
    "expiry",
    "generate_password",
    "hash_password",
    "insert_user",
    "logout",
    "needs_rehash",
    "policy_problems",
    "prepare_password",
    "refresh",
    "principal_for_token",
    "reset_password",
    "revoke",
    "roles_by_code",
    "switch_role",
    "verify_password",
]
