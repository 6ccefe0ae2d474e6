"""Bounded timer values (engine.spiff.durations, engine.spiff.timer_events): the reader and each of
its bounds, that every timer goes through it and never through SpiffWorkflow's own parsing, what
a refused value does at a start (refused, nothing stored), at run time (an incident), at deploy
time (an error) and in simulate, and that running timers survive a save and restore."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG as SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine.config import Settings
from engine.errors import InvalidInput
from engine.models import DueTimer, Incident, ProcessInstance
from engine.simulate import simulate
from engine.spiff import durations
from engine.spiff.durations import MAX_REPETITIONS, MAX_YEARS, Cycle, InvalidTimer
from engine.spiff.parsers import PARSERS
from engine.spiff.serializer import serializer
from engine.spiff.timer_events import BOUNDED, REFUSED
from engine.timers import fire_due_timers
from engine.validation import validate_files
from tests.helpers import T0, read

NOW = T0  # 2026-03-02 09:00 UTC
HORIZON = datetime(2036, 3, 2, 9, 0, tzinfo=UTC)  # NOW + MAX_YEARS calendar years

TIMER_INPUT = {"timer_input.bpmn": read("timer_input.bpmn"),
               "timer-input-start-schema.json": read("timer-input-start-schema.json"),
               "timer-input-work-schema.json": read("timer-input-work-schema.json")}
KINDS_GOOD = {"cycle": "R2/PT1H", "when": "2026-03-02T12:00:00+01:00", "deadline": "P1D"}

# the values from the finding: each gave a 500, the first minutes of CPU under the write lock
FINDINGS = ["P99999999Y", "P9999Y", "garbage", {"x": 1}, 10**30]


# -- the reader ------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "due"), [
    ("PT1H", NOW + timedelta(hours=1)),
    ("pt90m", NOW + timedelta(minutes=90)),
    ("  PT24H\n", NOW + timedelta(hours=24)),
    ("P1Y2M3DT4H5M6S", datetime(2027, 5, 5, 13, 5, 6, tzinfo=UTC)),
    ("P1M", datetime(2026, 4, 2, 9, 0, tzinfo=UTC)),
    ("P2W", NOW + timedelta(days=14)),
    ("PT1.5H", NOW + timedelta(minutes=90)),
    ("PT0,25S", NOW + timedelta(milliseconds=250)),
    ("P1DT0.5H", NOW + timedelta(days=1, minutes=30)),
    ("PT000000001S", NOW + timedelta(seconds=1)),  # 9 digits
    ("PT315360000S", NOW + timedelta(days=3650)),  # 9 digits, just inside the bound
    (f"P{MAX_YEARS}Y", HORIZON),  # the bound itself
    ("P3653D", HORIZON),  # 2026-03-02 .. 2036-03-02 has three leap days
])
def test_durations_are_read_as_calendar_steps_in_utc(value, due):
    got = durations.duration_timer(value, NOW)
    assert got == due and got.tzinfo is UTC


def test_months_keep_the_day_or_the_month_s_last_day():
    jan31 = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert durations.duration_timer("P1M", jan31) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert durations.duration_timer("P1Y1M", jan31) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert durations.duration_timer("P13M", datetime(2027, 1, 31, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)


@pytest.mark.parametrize(("value", "due"), [
    ("2026-03-02T10:00:00Z", datetime(2026, 3, 2, 10, tzinfo=UTC)),
    ("2026-03-02t10:00z", datetime(2026, 3, 2, 10, tzinfo=UTC)),
    ("2026-03-02T12:30:00+02:00", datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),
    ("2026-03-02T05:00-0500", datetime(2026, 3, 2, 10, tzinfo=UTC)),
    ("2026-03-02T10:00:00.123456789+00", datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2026-03-02 10:00:00+00:00", datetime(2026, 3, 2, 10, tzinfo=UTC)),  # str(datetime)
    ("2020-01-01T00:00:00Z", datetime(2020, 1, 1, tzinfo=UTC)),  # past: due at once
    ("2036-03-02T09:00:00Z", HORIZON),  # the bound itself
])
def test_date_times_need_an_offset_and_come_back_in_utc(value, due):
    got = durations.date_timer(value, NOW)
    assert got == due and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("value", "cycle"), [
    ("R3/PT1H", Cycle(3, NOW + timedelta(hours=1), timedelta(hours=1))),
    ("r2/2026-03-02T10:00:00Z/PT30M", Cycle(2, datetime(2026, 3, 2, 10, tzinfo=UTC), timedelta(minutes=30))),
    ("R2/PT1H/2026-03-03T00:00:00Z", Cycle(2, datetime(2026, 3, 2, 23, tzinfo=UTC), timedelta(hours=1))),
    ("R2/2026-01-31T00:00:00Z/P1M", Cycle(2, datetime(2026, 1, 31, tzinfo=UTC), timedelta(days=28))),
    (f"R{MAX_REPETITIONS}/P3D", Cycle(MAX_REPETITIONS, NOW + timedelta(days=3), timedelta(days=3))),
    ("R2/P5Y", Cycle(2, datetime(2031, 3, 2, 9, tzinfo=UTC), datetime(2031, 3, 2, 9, tzinfo=UTC) - NOW)),
])
def test_cycles_are_read_with_their_first_due_time_and_period(value, cycle):
    assert durations.cycle_timer(value, NOW) == cycle


REFUSED_VALUES = [
    # the finding
    ("timeDuration", "P99999999Y", "'P99999999Y' is longer than 10 years"),
    ("timeDuration", "P9999Y", "'P9999Y' is longer than 10 years"),
    ("timeDuration", "garbage", "'garbage' is not an ISO 8601 duration"),
    ("timeDuration", {"x": 1}, "must be a string holding an ISO 8601 duration such as PT24H, not dict"),
    ("timeDuration", 10**30, "must be a string holding an ISO 8601 duration such as PT24H, not int"),
    # the value must be a str: never converted, never repr()-ed (this int's repr would raise)
    ("timeDuration", 10**5000, "not int"),
    ("timeDuration", None, "not NoneType"),
    ("timeDuration", True, "not bool"),
    ("timeDuration", b"PT1H", "not bytes"),
    ("timeDuration", ["PT1H"], "not list"),
    ("timeDuration", 3600, "not int"),
    ("timeDate", datetime(2026, 3, 3, tzinfo=UTC), "not datetime"),
    ("timeCycle", ("R2", "PT1H"), "not tuple"),
    # length and digits
    ("timeDuration", "P" + "0" * 98 + "1D", "101 characters long; at most 100"),
    ("timeDuration", "PT" + " " * 200 + "1H", "characters long; at most 100"),
    ("timeDuration", "P0000000001D", "the days have more than 9 digits"),
    ("timeDuration", "PT1.0000000001S", "the seconds have more than 9 digits"),
    ("timeCycle", "R0000000001/PT1H", "the number of repetitions must be 1 to 1000"),
    ("timeDate", "2026-03-02T10:00:00.1234567890Z", "more than 9 digits"),
    # the 10-year bound
    ("timeDuration", "P10Y1D", "longer than 10 years"),
    ("timeDuration", "P3654D", "longer than 10 years"),
    ("timeDuration", "PT999999999S", "longer than 10 years"),
    ("timeDuration", "P121M", "longer than 10 years"),
    ("timeDuration", "P999999999W", "longer than 10 years"),
    ("timeDate", "2036-03-02T09:00:01Z", "more than 10 years ahead"),
    ("timeDate", "9999-12-31T23:59:59Z", "more than 10 years ahead"),
    ("timeCycle", "R1/2036-03-02T09:00:01Z/PT1H", "starts more than 10 years ahead"),
    ("timeCycle", f"R{MAX_REPETITIONS}/P1W", "its last repetition is more than 10 years ahead"),
    ("timeCycle", "R2/P10Y1D", "starts more than 10 years ahead"),
    ("timeCycle", "R2/P11Y", "longer than 10 years"),
    # repetitions
    ("timeCycle", "R/PT1H", "repeats without end"),
    ("timeCycle", "R0/PT1H", "the number of repetitions must be 1 to 1000"),
    ("timeCycle", f"R{MAX_REPETITIONS + 1}/PT1S", "the number of repetitions must be 1 to 1000"),
    ("timeCycle", "R99999999999999999999/PT1H", "the number of repetitions must be 1 to 1000"),
    # syntax
    ("timeDuration", "", "is empty"),
    ("timeDuration", "   ", "is empty"),
    ("timeDuration", "P", "it has no part"),
    ("timeDuration", "PT", "it has no part"),
    ("timeDuration", "P1DT", "T must be followed by hours, minutes or seconds"),
    ("timeDuration", "P1W1D", "weeks cannot be combined"),
    ("timeDuration", "P1.5Y", "years cannot have a fraction"),
    ("timeDuration", "P1.5DT1H", "only the last part may have a fraction"),
    ("timeDuration", "P1..5D", "are not a number"),
    ("timeDuration", "PT1H1H", "is not an ISO 8601 duration"),
    ("timeDuration", "-PT1H", "is not an ISO 8601 duration"),
    ("timeDuration", "P\u0661D", "is not an ISO 8601 duration"),  # an Arabic-Indic digit
    ("timeDuration", "2026-03-02T10:00:00Z", "is not an ISO 8601 duration"),
    ("timeDate", "2026-03-02T10:00:00", "has no UTC offset"),
    ("timeDate", "2026-03-02", "has no time of day and UTC offset"),
    ("timeDate", "PT1H", "is not an ISO 8601 date-time with a UTC offset"),
    ("timeDate", "2026-W10-1T10:00Z", "is not an ISO 8601 date-time"),
    ("timeDate", "2026-02-30T00:00Z", "is not a valid date-time: day is out of range for month"),
    ("timeDate", "2026-03-02T24:00Z", "is not a valid date-time"),
    ("timeDate", "2026-03-02T10:00+24:00", "the UTC offset +24:00 is out of range"),
    ("timeDate", "0001-01-01T00:00+05:00", "is out of range"),
    ("timeCycle", "PT1H", "is not an ISO 8601 repeating interval"),
    ("timeCycle", "R5/PT0S", "the interval must be longer than zero"),
    ("timeCycle", "R2/2026-03-02T10:00Z/2026-03-03T10:00Z", "a repeating interval is Rn/duration"),
    ("timeCycle", "R2/PT1H/PT1H", "a repeating interval is Rn/duration"),
    ("timeCycle", "R2/PT1H/2026-03-02T10:00Z/PT1H", "a repeating interval is Rn/duration"),
    ("timeCycle", "R2/2026-03-02T10:00/PT1H", "has no UTC offset"),
]


def _id(value: object) -> str:
    """A test id that never str()s a huge int."""
    return value[:30] if isinstance(value, str) else type(value).__name__


@pytest.mark.parametrize(("kind", "value", "problem"), REFUSED_VALUES,
                         ids=[f"{kind}-{_id(value)}" for kind, value, _p in REFUSED_VALUES])
def test_refused_values_raise_one_exception_type_naming_the_problem(kind, value, problem):
    with pytest.raises(InvalidTimer) as caught:
        durations.check(kind, value, NOW)
    error = caught.value
    assert problem in error.problem and problem in error.message
    # a 422 wherever it reaches the API, and still a ValueError for plain callers
    assert isinstance(error, InvalidInput) and isinstance(error, ValueError) and error.status == 422


def test_a_located_error_names_the_timer_and_the_variable():
    error = InvalidTimer("'P9999Y' is longer than 10 years").at("approval_deadline", "approval_timeout",
                                                                 "timeDuration")
    assert error.message == ("timer 'approval_deadline' (timeDuration approval_timeout): "
                             "'P9999Y' is longer than 10 years")
    assert error.errors == [{"field": "approval_timeout", "element_id": "approval_deadline",
                             "message": "'P9999Y' is longer than 10 years"}]
    # an expression that is not a plain variable: the field is the timer element
    computed = InvalidTimer("x").at("deadline", "base + '1D'", "timeDuration")
    assert computed.errors[0]["field"] == "deadline"


def _lines_run(fn, *args) -> int:
    """How many Python lines ``fn(*args)`` runs, in every frame it calls: a count of the work
    done, the same on every machine (no timing)."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn(*args)
    except (InvalidTimer, OverflowError):
        pass
    finally:
        sys.settrace(previous)
    return count


def test_huge_durations_are_refused_with_as_little_work_as_small_ones():
    # the counter sees a per-month loop: SpiffWorkflow's own reader on a small value
    spiff_1y = _lines_run(spiff_timer.TimerEventDefinition.get_timedelta_from_start, {"years": 1}, NOW)
    spiff_50y = _lines_run(spiff_timer.TimerEventDefinition.get_timedelta_from_start, {"years": 50}, NOW)
    assert spiff_50y > spiff_1y + 600  # at least one line per month

    small = _lines_run(durations.duration_timer, "P1M", NOW)
    assert 20 < small < 400
    for value in ["P10Y", "P99999999Y", "P9999Y", "P999999999M", "P999999999W", "PT999999999H",
                  "P999999999Y999999999M999999999DT999999999H999999999M999999999S", "R1000/P3D",
                  "R1000/P999999999Y", "R1000/2026-03-02T10:00Z/P999999999M", "R1000/P999999999Y/2030-01-01T00:00Z"]:
        check = durations.cycle_timer if value.startswith("R") else durations.duration_timer
        assert _lines_run(check, value, NOW) < 2 * small, value


# -- every timer goes through it -------------------------------------------------------------

def _timer_definitions(kind: str, file: str) -> list:
    parser = PARSERS[kind]()
    parser.add_bpmn_xml(etree.fromstring(read(file)), filename=file)
    found = []
    for process_id in parser.get_process_ids():
        specs = [parser.get_spec(process_id), *parser.get_subprocess_specs(process_id).values()]
        for spec in specs:
            for task_spec in spec.task_specs.values():
                definition = getattr(task_spec, "event_definition", None)
                multiple = isinstance(definition, MultipleEventDefinition)
                inner = definition.event_definitions if multiple else [definition]
                found += [(task_spec.bpmn_id, d) for d in inner if isinstance(d, spiff_timer.TimerEventDefinition)]
    return found


@pytest.mark.parametrize("kind", ["spiff", "camunda"])
def test_every_timer_the_parsers_build_reads_through_the_bounded_reader(kind):
    """Patch-free: the specs hold aicmp's definitions, whose methods never call SpiffWorkflow's."""
    found = (_timer_definitions(kind, "timer_kinds.bpmn") + _timer_definitions(kind, "timer_input.bpmn")
             + _timer_definitions(kind, "timer_cycle.bpmn"))
    # boundary (cycle, duration), intermediate catch (date), event subprocess start (duration)
    assert {(bpmn_id, type(d).__name__) for bpmn_id, d in found} == {
        ("nag", "CycleTimerEventDefinition"), ("wait_until", "TimeDateEventDefinition"),
        ("deadline", "DurationTimerEventDefinition"), ("after_deadline", "DurationTimerEventDefinition")}
    assert len(found) == 7
    assert all(type(d) in BOUNDED.values() and type(d) not in BOUNDED for _id, d in found)
    for cls in BOUNDED.values():  # what they override is what SpiffWorkflow would have run
        own = {"has_fired"} if cls is not BOUNDED[spiff_timer.CycleTimerEventDefinition] else {"cycle_complete"}
        assert all(getattr(cls, name).__module__ == cls.__module__ for name in own)  # ours, before SpiffWorkflow's


def test_spiffworkflow_s_own_timer_parsing_is_never_entered(engine, frozen, monkeypatch):
    def boom(*_args, **_kwargs):
        raise AssertionError("SpiffWorkflow's timer parsing was entered")

    for name in ("get_datetime", "get_timedelta_from_start", "get_timedelta_from_end", "parse_iso_duration",
                 "parse_iso_week", "parse_time_or_duration", "parse_iso_recurring_interval"):
        monkeypatch.setattr(spiff_timer.TimerEventDefinition, name, staticmethod(boom))
    engine.registry.deploy({"timer_kinds.bpmn": read("timer_kinds.bpmn")})
    inst = engine.runtime.start("timer_kinds", tenant_id="t-alpha", variables=KINDS_GOOD)
    assert inst.status == "running"
    frozen.advance(timedelta(days=1, seconds=1))
    assert fire_due_timers(engine, "w1") == 3  # nag (both due), wait_until, deadline: in one mutation
    with pytest.raises(InvalidTimer):
        engine.runtime.start("timer_kinds", tenant_id="t-alpha", variables={**KINDS_GOOD, "deadline": "P99999999Y"})


# -- at a start: refused, nothing stored -----------------------------------------------------

def _counts(engine) -> tuple[int, int, int]:
    with engine.db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(model))
                     for model in (ProcessInstance, Incident, DueTimer))


@pytest.mark.parametrize("value", [*FINDINGS, None, "R/PT1H", "2026-03-02T10:00:00Z"],
                         ids=_id)
def test_a_start_whose_timer_value_is_refused_fails_and_stores_nothing(engine, frozen, value):
    engine.registry.deploy(TIMER_INPUT)
    with pytest.raises(InvalidTimer) as caught:
        engine.runtime.start("timer_input", tenant_id="t-alpha", variables={"timeout": value})
    assert caught.value.status == 422 and caught.value.element_id == "deadline"
    assert caught.value.errors[0]["field"] == "timeout"
    assert caught.value.message.startswith("timer 'deadline' (timeDuration timeout): ")
    assert _counts(engine) == (0, 0, 0)


@pytest.mark.parametrize(("variable", "value", "element"), [
    ("cycle", "R/PT1H", "nag"), ("cycle", "R1001/PT1S", "nag"),
    ("when", "2026-03-02T12:00:00", "wait_until"), ("when", "2040-01-01T00:00:00Z", "wait_until"),
    ("deadline", "P99999999Y", "deadline"), ("deadline", 86400, "deadline"),
])
def test_every_kind_of_timer_is_refused_at_a_start(engine, frozen, variable, value, element):
    engine.registry.deploy({"timer_kinds.bpmn": read("timer_kinds.bpmn")})
    with pytest.raises(InvalidTimer) as caught:
        engine.runtime.start("timer_kinds", tenant_id="t-alpha", variables={**KINDS_GOOD, variable: value})
    assert caught.value.element_id == element and caught.value.errors[0]["field"] == variable
    assert _counts(engine) == (0, 0, 0)


# -- at run time: an incident ----------------------------------------------------------------

def _load(engine, instance_id: str):
    with engine.db.read() as s:
        return engine.runtime.load(s, s.get(ProcessInstance, instance_id))


def _ready(engine, instance_id: str) -> dict[str, str]:
    wf = _load(engine, instance_id).workflow
    return {t.task_spec.bpmn_id: str(t.id) for t in wf.get_tasks(state=TaskState.READY, manual=True)}


def test_a_value_refused_at_run_time_is_an_incident_and_that_timer_never_fires(engine, frozen):
    engine.registry.deploy(TIMER_INPUT)
    inst = engine.runtime.start("timer_input", tenant_id="t-alpha", initiator="alpha-user",
                                variables={"timeout": "PT2H"})
    work = _ready(engine, inst.id)["work"]
    done = engine.runtime.complete_task(inst.id, work, {"next_timeout": "P99999999Y"}, actor="alpha-user",
                                        tenant_id="t-alpha")
    assert done.status == "incident"
    with engine.db.read() as s:
        [incident] = s.scalars(select(Incident).where(Incident.instance_id == inst.id))
        pending = s.scalars(select(DueTimer).where(DueTimer.status == "pending")).all()
    assert (incident.kind, incident.task_spec, incident.status) == ("timer-error", "after_deadline", "open")
    assert incident.message == ("timer 'after_deadline' (timeDuration next_timeout): "
                                "'P99999999Y' is longer than 10 years")
    assert pending == []  # `work`'s timer went with it; `after_deadline` has no due time
    wf = _load(engine, inst.id).workflow
    [timer] = [t for t in wf.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id == "after_deadline"]
    assert timer.internal_data[REFUSED] == "'P99999999Y' is longer than 10 years"
    assert "event_value" not in timer.internal_data

    frozen.advance(timedelta(days=365 * 20))
    assert fire_due_timers(engine, "w1") == 0
    # later steps never read the refused value again: no second incident; the process goes on
    retried = engine.runtime.retry_incident(incident.id, actor="operator", tenant_id="t-alpha")
    assert retried.status == "running" and _counts(engine) == (1, 1, 0)
    finished = engine.runtime.complete_task(inst.id, _ready(engine, inst.id)["after"], {}, actor="alpha-user",
                                            tenant_id="t-alpha")
    assert finished.status == "completed" and _counts(engine)[1] == 1


@pytest.mark.parametrize("value", FINDINGS, ids=_id)
def test_each_finding_value_at_run_time_is_an_incident(engine, frozen, value):
    engine.registry.deploy(TIMER_INPUT)
    inst = engine.runtime.start("timer_input", tenant_id="t-alpha", initiator="alpha-user",
                                variables={"timeout": "PT2H"})
    done = engine.runtime.complete_task(inst.id, _ready(engine, inst.id)["work"], {"next_timeout": value},
                                        actor="alpha-user", tenant_id="t-alpha")
    assert done.status == "incident"
    with engine.db.read() as s:
        [incident] = s.scalars(select(Incident))
    assert incident.kind == "timer-error" and incident.message.startswith(
        "timer 'after_deadline' (timeDuration next_timeout): ")
    assert set(_ready(engine, inst.id)) == {"after"}


# -- save and restore ------------------------------------------------------------------------

def test_running_timers_survive_save_and_restore_and_fire(engine, frozen):
    engine.registry.deploy({"timer_kinds.bpmn": read("timer_kinds.bpmn")})
    inst = engine.runtime.start("timer_kinds", tenant_id="t-alpha", initiator="alpha-user", variables=KINDS_GOOD)
    with engine.db.read() as s:
        state = json.loads(s.get(ProcessInstance, inst.id).state_json)
        due = sorted((t.task_spec, t.due_at) for t in s.scalars(select(DueTimer)))
    assert due == [("deadline", T0 + timedelta(days=1)), ("nag", T0 + timedelta(hours=1)),
                   ("wait_until", T0 + timedelta(hours=2))]
    values = {}
    for task in [*state["tasks"].values(), *(t for sub in state["subprocesses"].values()
                                              for t in sub["tasks"].values())]:
        if "event_value" in task["internal_data"]:
            values[task["task_spec"]] = task["internal_data"]["event_value"]
    assert values == {"nag": {"cycles": 2, "next": "2026-03-02T10:00:00+00:00", "duration": 3600.0},
                      "wait_until": "2026-03-02T11:00:00+00:00", "deadline": "2026-03-03T09:00:00+00:00"}

    restored = _load(engine, inst.id).workflow
    definitions = {t.task_spec.bpmn_id: type(t.task_spec.event_definition)
                   for t in restored.get_tasks(state=TaskState.WAITING)}
    assert definitions == {"nag": BOUNDED[spiff_timer.CycleTimerEventDefinition],
                           "wait_until": BOUNDED[spiff_timer.TimeDateEventDefinition],
                           "deadline": BOUNDED[spiff_timer.DurationTimerEventDefinition]}

    frozen.advance(timedelta(hours=1, seconds=1))
    assert fire_due_timers(engine, "w1") == 1  # the first nag
    frozen.advance(timedelta(hours=1))
    assert fire_due_timers(engine, "w1") == 2  # the second (and last) nag and the date
    frozen.advance(timedelta(days=1))
    assert fire_due_timers(engine, "w1") == 1  # the event subprocess starts
    assert set(_ready(engine, inst.id)) == {"work", "after_wait", "handle_deadline"}
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(DueTimer).where(DueTimer.status == "pending")) == 0


def test_specs_stored_with_spiffworkflow_s_classes_restore_to_the_bounded_ones():
    """Definitions deployed before the bounded classes existed were serialized with
    SpiffWorkflow's classes under the same typenames: they come back bounded."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(read("timer_kinds.bpmn")), filename="timer_kinds.bpmn")
    old_spec = parser.get_spec("timer_kinds")
    old = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG)).registry.convert(old_spec)
    typenames = {ts["event_definition"]["typename"] for ts in old["task_specs"].values() if "event_definition" in ts}
    assert {"CycleTimerEventDefinition", "TimeDateEventDefinition"} <= typenames
    restored = serializer("spiff").registry.restore(json.loads(json.dumps(old)))
    kinds = {type(ts.event_definition) for ts in restored.task_specs.values()
             if isinstance(getattr(ts, "event_definition", None), spiff_timer.TimerEventDefinition)}
    assert kinds == {BOUNDED[spiff_timer.CycleTimerEventDefinition], BOUNDED[spiff_timer.TimeDateEventDefinition]}


# -- deploy time, settings, simulate ---------------------------------------------------------

def _with_literals(**literals: bytes) -> bytes:
    bpmn = read("timer_kinds.bpmn")
    for tag, literal in literals.items():
        old = f"<bpmn:{tag}>{ {'timeCycle': 'cycle', 'timeDate': 'when', 'timeDuration': 'deadline'}[tag]}<"
        assert old.encode() in bpmn
        bpmn = bpmn.replace(old.encode(), f"<bpmn:{tag}>".encode() + literal + b"<")
    return bpmn


@pytest.mark.parametrize(("literals", "finding"), [
    ({"timeDuration": b'"P99999999Y"'}, "[deadline]: timeDuration: 'P99999999Y' is longer than 10 years"),
    ({"timeDuration": b"'garbage'"}, "[deadline]: timeDuration: 'garbage' is not an ISO 8601 duration"),
    ({"timeDuration": b"{'x': 1}"}, "[deadline]: timeDuration: must be a string"),
    ({"timeDuration": b"10**30"}, None),  # an expression, not a literal: read when reached
    ({"timeDuration": b"1000000000000000000000000000000"}, "[deadline]: timeDuration: must be a string"),
    ({"timeCycle": b'"R/PT1H"  # forever'}, "[nag]: timeCycle: 'R/PT1H' repeats without end"),
    ({"timeDate": b"'2026-03-02T10:00:00'"}, "[wait_until]: timeDate: '2026-03-02T10:00:00' has no UTC offset"),
    ({"timeDuration": b'"PT24H"', "timeCycle": b'"R3/PT1H"', "timeDate": b'"2026-03-02T10:00:00Z"'}, None),
])
def test_literal_timer_values_are_checked_at_deploy(frozen, literals, finding):
    result = validate_files({"timer_kinds.bpmn": _with_literals(**literals)}, max_bytes=1_000_000)
    messages = [str(e) for e in result.errors]
    if finding is None:
        assert messages == []
    else:
        assert len(messages) == 1 and finding in messages[0], messages
        assert result.errors[0].line is not None


def test_the_approval_timeout_setting_has_the_timer_s_bounds(tmp_path: Path):
    with pytest.raises(ValueError, match="AICMP_APPROVAL_TIMEOUT: 'P99999999Y' is longer than 10 years"):
        Settings(var_dir=tmp_path, approval_timeout="P99999999Y")
    assert Settings(var_dir=tmp_path, approval_timeout="P7D").approval_timeout == "P7D"


def test_simulate_reports_a_refused_timer_value():
    files = {"timer_kinds.bpmn": read("timer_kinds.bpmn")}
    checked = validate_files(files, max_bytes=1_000_000)
    processes = {p.key: p for p in checked.processes}
    result = simulate(processes["timer_kinds"], processes, files=checked.files,
                      data={**KINDS_GOOD, "deadline": "P99999999Y"})
    assert not result.completed
    assert result.problem == "timer 'deadline' (timeDuration deadline): 'P99999999Y' is longer than 10 years"
