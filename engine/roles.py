"""Built-in roles: their permissions and data scope. Custom roles are made of the same permissions.

A permission is ``resource:action``; ``resource:*`` grants every action on the resource. Data
scope narrows what a permission reaches inside the tenant: ``all``, ``org_and_below`` (the
user's organisation and its descendants), ``my_systems`` (business systems the user belongs
to) or ``mine`` (rows the user created or initiated).
"""

from __future__ import annotations

from dataclasses import dataclass

PLATFORM_ROLES = ("platform_admin", "platform_operator", "process_designer")
TENANT_ROLES = ("tenant_admin", "approver", "tenant_user")
DATA_SCOPES = ("all", "org_and_below", "my_systems", "mine")

# Every permission a route may require; custom roles pick from these.
PERMISSIONS = (
    "tenant:create", "tenant:read", "tenant:update", "tenant:delete",
    "organization:create", "organization:read", "organization:update", "organization:delete",
    "business-system:create", "business-system:read", "business-system:update", "business-system:delete",
    "user:create", "user:read", "user:update", "user:delete", "user:reset-password",
    "role:create", "role:read", "role:update", "role:delete", "role:assign",
    "quota:read", "quota:update",
    "audit:read",
    "process-definition:deploy", "process-definition:read",
    "process-instance:start", "process-instance:read", "process-instance:manage",
    "incident:read", "incident:retry",
    "process-message:send",
    "task:read", "task:work",
    "catalog:read", "catalog:manage",
    "application:create", "application:read", "application:manage",
    "site-message:read",
    "account:read", "account:manage", "voucher:read", "voucher:claim", "voucher:redeem", "voucher:manage",
    "billing:read", "billing:quote", "billing:manage", "usage:ingest",
    "cloud-account:read", "cloud-account:manage", "resource-pool:read", "resource-pool:manage",
    "resource:read", "resource:manage", "resource:operate",
    "work-order:read",
)


@dataclass(frozen=True)
class BuiltinRole:
    code: str
    name: str
    permissions: tuple[str, ...]
    data_scope: str


BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    BuiltinRole("platform_admin", "Platform administrator", ("*",), "all"),
    BuiltinRole("platform_operator", "Platform operator", (
        "tenant:read", "organization:read", "business-system:read", "user:read", "quota:read", "quota:update",
        "audit:read", "process-definition:read", "process-instance:read", "process-instance:manage",
        "incident:read", "incident:retry", "process-message:send", "task:read", "task:work",
        "catalog:read", "catalog:manage", "application:read", "application:manage", "site-message:read",
        "account:read", "account:manage", "voucher:read", "voucher:manage",
        "billing:read", "billing:quote", "billing:manage", "usage:ingest",
        "cloud-account:read", "cloud-account:manage", "resource-pool:read", "resource-pool:manage",
        "resource:read", "resource:manage", "resource:operate", "work-order:read"), "all"),
    BuiltinRole("process_designer", "Process designer", (
        "process-definition:deploy", "process-definition:read", "process-instance:read", "incident:read",
        "catalog:read", "site-message:read"), "all"),
    BuiltinRole("tenant_admin", "Tenant administrator", (
        "tenant:read", "organization:*", "business-system:*", "user:*", "role:*", "quota:read", "quota:update",
        "audit:read", "process-definition:deploy", "process-definition:read", "process-instance:start",
        "process-instance:read", "process-instance:manage", "incident:read", "process-message:send",
        "task:read", "task:work", "catalog:read", "application:create", "application:read", "application:manage",
        "site-message:read", "account:read", "voucher:read", "voucher:claim", "voucher:redeem",
        "billing:read", "billing:quote", "usage:ingest",
        "cloud-account:read", "cloud-account:manage", "resource-pool:read", "resource:read", "resource:manage",
        "resource:operate", "work-order:read"), "all"),
    BuiltinRole("approver", "Approver", (
        "organization:read", "business-system:read", "user:read", "quota:read", "process-definition:read",
        "process-instance:start", "process-instance:read", "task:read", "task:work",
        "catalog:read", "application:create", "application:read", "site-message:read",
        "billing:quote", "work-order:read"), "org_and_below"),
    BuiltinRole("tenant_user", "Tenant user", (
        "organization:read", "business-system:read", "quota:read", "process-definition:read",
        "process-instance:start", "process-instance:read", "task:read", "task:work",
        "catalog:read", "application:create", "application:read", "site-message:read", "account:read",
        "voucher:read", "billing:quote", "resource:read", "resource:operate", "work-order:read"), "mine"),
)


def builtin(code: str) -> BuiltinRole | None:
    return next((r for r in BUILTIN_ROLES if r.code == code), None)
