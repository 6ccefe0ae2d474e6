"""Route SpiffWorkflow's timer arithmetic through ``engine.clock``.

SpiffWorkflow's timer event definitions call ``datetime.now(timezone.utc)`` on the ``datetime``
class they imported; replacing that module attribute with a subclass whose ``now`` asks our
clock lets tests (and ``aicmp bpmn simulate``) move time without sleeping.
"""

from __future__ import annotations

from datetime import datetime as _datetime
from datetime import tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer

from engine import clock


class _ClockDatetime(_datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _datetime:  # type: ignore[override]
        current = clock.now()
        return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)


def install() -> None:
    _timer.datetime = _ClockDatetime


install()
