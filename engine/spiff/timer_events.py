"""aicmp's timer event definitions: SpiffWorkflow's three, reading every value through
``engine.spiff.durations`` before SpiffWorkflow's own (unbounded) parsing could see it.

Both parsers build these for every timer (start, intermediate catch and boundary events, event
subprocess starts, event-based gateways; ``engine.spiff.parsers``) and the serializer restores
stored specs to them (``engine.spiff.serializer``). They keep SpiffWorkflow's class names on
purpose: serialized specs, stored instance state and ``PendingBpmnEvent.event_type`` stay as they
were, and definitions deployed before these existed are restored to them too.

What a task stores is unchanged: ``event_value`` is the due time as ISO 8601 UTC (a cycle's dict
``{cycles, next, duration}``), so ``engine.timers`` mirrors due times as before. One difference:
a date timer stores the date-time it read, in UTC, where SpiffWorkflow stored the raw value.

A refused value (``durations.InvalidTimer``, located at the timer's element and expression) goes
to the script engine's ``refuse_timer`` (``AicmpScriptEngine``): the instance gets a
``timer-error`` incident and that timer waits for ever, never due (the task is marked
``timer_error`` and never read again), while the rest of the process goes on; a brand-new instance
is refused instead (422, ``engine.timers.refuse_new_instances``). With any other script engine the
error is raised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff

from engine import clock
from engine.spiff.durations import InvalidTimer, cycle_timer, date_timer, duration_timer, literal

T = TypeVar("T")
REFUSED = "timer_error"  # task internal data: why this task's timer value was refused


def stored_due(value: str) -> datetime:
    """A due time a task stored (ISO 8601) as aware UTC. Instances started before this module
    existed may hold a date timer's raw value without an offset: SpiffWorkflow meant local time."""
    due = datetime.fromisoformat(value)
    if due.tzinfo is None:
        due = due.replace(tzinfo=spiff.LOCALTZ)
    return due.astimezone(UTC)


class _Bounded:
    """Evaluate the expression, read the value with a bounded reader, or refuse it."""

    KIND = ""  # the BPMN element the expression comes from
    expression: str

    def _read(self, my_task: Any, reader: Callable[[object], T]) -> T | None:
        engine = my_task.workflow.script_engine
        value = literal(self.expression)  # an ISO 8601 literal as Camunda models write it, unquoted
        if value is None:
            value = engine.evaluate(my_task, self.expression)
        try:
            return reader(value)
        except InvalidTimer as exc:
            spec = my_task.task_spec
            refused = exc.at(spec.bpmn_id or spec.name, self.expression, self.KIND)
        my_task._set_internal_data(**{REFUSED: refused.problem})
        refuse = getattr(engine, "refuse_timer", None)
        if refuse is None:
            raise refused
        refuse(my_task, refused)
        return None


class _OneShot(_Bounded):
    """A timer that fires once, at the due time its value reads to (``READ``), stored on first look."""

    READ: Any = None  # engine.spiff.durations reader: value text -> due datetime

    def has_fired(self, my_task: Any) -> bool:
        if my_task._get_internal_data(REFUSED) is not None:
            return my_task._get_internal_data("event_fired", False)
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            due = self._read(my_task, type(self).READ)
            if due is None:
                return False
            event_value = due.isoformat()
            my_task._set_internal_data(event_value=event_value)
        if stored_due(event_value) < clock.now():
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class TimeDateEventDefinition(_OneShot, spiff.TimeDateEventDefinition):
    KIND = "timeDate"
    READ = staticmethod(date_timer)


class DurationTimerEventDefinition(_OneShot, spiff.DurationTimerEventDefinition):
    KIND = "timeDuration"
    READ = staticmethod(duration_timer)


class CycleTimerEventDefinition(_Bounded, spiff.CycleTimerEventDefinition):
    KIND = "timeCycle"

    def cycle_complete(self, my_task: Any) -> bool:
        """SpiffWorkflow's, with the value read by ``durations.cycle_timer`` (at most
        ``MAX_REPETITIONS`` repetitions, none more than ``MAX_YEARS`` years ahead)."""
        if my_task._get_internal_data(REFUSED) is not None:
            return False
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            cycle = self._read(my_task, cycle_timer)
            if cycle is None:
                return False
            event_value = {"cycles": cycle.repetitions, "next": cycle.start.isoformat(),
                           "duration": cycle.period.total_seconds()}
        ready = False
        if event_value["cycles"] != 0:
            next_event = stored_due(event_value["next"])
            if next_event < clock.now():
                event_value["next"] = (next_event + timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)  # (as SpiffWorkflow does, also when done)
        return ready


BOUNDED: dict[type, type] = {
    spiff.TimeDateEventDefinition: TimeDateEventDefinition,
    spiff.DurationTimerEventDefinition: DurationTimerEventDefinition,
    spiff.CycleTimerEventDefinition: CycleTimerEventDefinition,
}


def bounded(definition: Any) -> Any:
    """The aicmp definition for a timer definition SpiffWorkflow's parser built."""
    if type(definition) in BOUNDED.values():
        return definition
    cls = BOUNDED[type(definition)]
    return cls(definition.name, definition.expression, description=definition.description)
