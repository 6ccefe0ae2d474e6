"""Who is acting: the identity every engine call that reads or changes tenant data receives."""

from __future__ import annotations

from dataclasses import dataclass

PLATFORM_DOMAIN = "platform"


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    tenant_id: str | None  # None: platform staff
    organization_id: str | None
    roles: tuple[str, ...]  # every role code the user holds
    active_role: str | None = None  # the role the user acts as; None means all of them

    @property
    def is_platform(self) -> bool:
        return self.tenant_id is None

    @property
    def domain(self) -> str:
        """The Casbin domain: the tenant id, or the platform domain for staff."""
        return self.tenant_id or PLATFORM_DOMAIN

    @property
    def acting_roles(self) -> tuple[str, ...]:
        return (self.active_role,) if self.active_role else self.roles
