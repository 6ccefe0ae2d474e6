"""The ``placement`` port: how the ``placement/*`` operators reach the solver (``tasks.ports``).

The solver is pure computation and reads no rows; ``pools`` reads the resource pools the calling
instance's tenant may be placed on (never another tenant's: ``instance_scope().tenant_id``). Every
method serves only the service tasks of a process instance (``instance_scope``), like every port.
A bad instance is refused with ``INVALID_INSTANCE`` (the message names the first field), which
the operator turns into the BPMN error of that code.

The placement step of an application (``choices``: plans offered, pick, confirmation) is stored
for the application the calling instance was started for (its business key), and only by the
platform's own application process (``internal``); any other id answers as unknown.

The solve runs inside the step's transaction (operators that use ports run inline), so its time
limit is what bounds how long that step holds its instance (and, on SQLite, every writer): the
default is ``solve.DEFAULT_TIME_LIMIT_S`` for all plans together, and a process may not ask for
more than ``STEP_TIME_LIMIT_S`` (any tenant's process can call the operator; longer solves are the
CLI's, ``aicmp placement solve --time-limit``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.domains.placement import choices, service
from engine.domains.placement.instance import InstanceError
from engine.domains.placement.pools import instance_pool
from engine.domains.placement.solve import DEFAULT_TIME_LIMIT_S
from engine.ports import Port, instance_scope
from tasks.ports import Refused

STEP_TIME_LIMIT_S = DEFAULT_TIME_LIMIT_S


def _refused(exc: InstanceError) -> Refused:
    return Refused("INVALID_INSTANCE", str(exc))


def _step_limit(time_limit_s: Any) -> Any:
    """The time limit a process step may ask for: the default, or a number up to STEP_TIME_LIMIT_S."""
    if isinstance(time_limit_s, int | float) and not isinstance(time_limit_s, bool) \
            and time_limit_s > STEP_TIME_LIMIT_S:
        raise Refused("INVALID_INSTANCE", f"time_limit_s: a process step solves for at most "
                                          f"{STEP_TIME_LIMIT_S:g} s")
    return time_limit_s


def _own_application(application_id: Any) -> str:
    """The calling instance's tenant, when ``application_id`` is the application it was started for
    by the platform's application process (which checked it); anything else is unknown."""
    scope = instance_scope()
    if not isinstance(application_id, str) or not application_id or application_id != scope.business_key \
            or not scope.internal or scope.tenant_id is None:
        raise Refused("UNKNOWN_APPLICATION", f"no application {application_id!r}")
    return scope.tenant_id


class Placement(Port):
    def pools(self) -> list[dict[str, Any]]:
        """The pools the calling instance's tenant may be placed on (its own accounts' and the
        platform's; healthy, enabled, present), as instance pools."""
        from engine.domains.resources.service import pool_capacities

        scope = instance_scope()
        with self._ports.session() as s:
            return [instance_pool(cap) for cap in pool_capacities(s, scope.tenant_id)]

    def plans(self, instance: Mapping[str, Any], objectives: Sequence[str] | None = None,
              weights: Mapping[str, Any] | None = None, time_limit_s: float | None = None) -> dict[str, Any]:
        instance_scope()
        try:
            return service.plans(instance, wanted=objectives, weights_data=weights,
                                 time_limit_s=_step_limit(time_limit_s))
        except InstanceError as exc:
            raise _refused(exc) from exc

    def what_if(self, instance: Mapping[str, Any], objective: str, drain: Sequence[str] = (),
                capacity: Mapping[str, Any] | None = None, weights: Mapping[str, Any] | None = None,
                time_limit_s: float | None = None) -> dict[str, Any]:
        instance_scope()
        try:
            return service.what_if(instance, objective=objective, drain=drain, capacity=capacity,
                                   weights_data=weights, time_limit_s=_step_limit(time_limit_s))
        except InstanceError as exc:
            raise _refused(exc) from exc

    def record_plans(self, application_id: str, plans: Sequence[Mapping[str, Any]],
                     weights: Mapping[str, Any] | None = None) -> dict[str, Any]:
        tenant_id = _own_application(application_id)
        with self._ports.session() as s:
            return choices.record_plans(s, tenant_id, application_id, plans, weights)

    def pick(self, application_id: str, objective: str) -> dict[str, Any]:
        tenant_id = _own_application(application_id)
        with self._ports.session() as s:
            return choices.pick(s, tenant_id, application_id, objective)

    def confirm(self, application_id: str, decision: str, comment: str | None = None) -> dict[str, Any] | None:
        tenant_id = _own_application(application_id)
        with self._ports.session() as s:
            return choices.confirm(s, tenant_id, application_id, decision, comment)
