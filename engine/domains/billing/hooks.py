"""What billing adds to every save: a tenant whose process opened a rated resource gets its daily
rating (``flow.ensure_daily``) once the step has committed (a start inside the step's transaction
would nest one write in another)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.ports import bound_ports

if TYPE_CHECKING:
    from engine.core import Engine


def daily_after_start(engine: Engine) -> Callable[[Session, Any], None]:
    def hook(_s: Session, loaded: Any) -> None:
        ports = bound_ports()
        port = ports.__dict__.get("billing") if ports is not None else None
        tenants = getattr(port, "started", None)
        if not tenants:
            return
        wanted = set(tenants)
        tenants.clear()
        from engine.domains.billing import flow

        loaded.after_commit.append(lambda: flow.ensure_daily(engine, wanted))

    hook.billing_daily_hook = True  # type: ignore[attr-defined]
    return hook
