"""Timers written as plain ISO 8601, as Camunda and Flowable models write them (``PT48H``,
``2026-12-31T00:00:00Z``, ``R3/PT10M``), deploy and run beside the quoted expression form, with
the same bounds; a bare ``PT48H`` used to deploy and then fail at run time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.models import DueTimer
from engine.spiff import durations
from engine.timers import fire_due_timers
from engine.validation import validate_files
from tests.helpers import T0, read

VARIABLES = {"timeCycle": b"cycle", "timeDate": b"when", "timeDuration": b"deadline"}


def with_values(**values: str) -> bytes:
    """tests/engine/data/timer_kinds.bpmn with the named timers' expressions replaced."""
    bpmn = read("timer_kinds.bpmn")
    for tag, value in values.items():
        old = f"<bpmn:{tag}>".encode() + VARIABLES[tag] + b"<"
        assert old in bpmn
        bpmn = bpmn.replace(old, f"<bpmn:{tag}>".encode() + value.encode() + b"<")
    return bpmn


PLAIN = {"timeCycle": "R2/PT1H", "timeDate": "2026-03-02T12:00:00+01:00", "timeDuration": "P1D"}


@pytest.mark.parametrize(("text", "value"), [
    ("PT48H", "PT48H"), (" P1D\n", "P1D"), ("PT0.5S", "PT0.5S"), ("2026-12-31T00:00:00Z", "2026-12-31T00:00:00Z"),
    ("R3/PT10M", "R3/PT10M"), ("R/PT1H", "R/PT1H"),
    ("deadline", None), ("Ptimeout", None), ("PT_LIMIT", None), ('"PT5M"', None), ("R3 / PT10M", None),
])
def test_what_reads_as_a_literal(text: str, value: str | None) -> None:
    assert durations.literal(text) == value


def test_plain_iso_values_deploy(frozen) -> None:
    checked = validate_files({"timer_kinds.bpmn": with_values(**PLAIN)}, max_bytes=1_000_000)
    assert checked.ok, checked.errors


@pytest.mark.parametrize(("values", "finding"), [
    ({"timeDuration": "P99999999Y"}, "[deadline]: timeDuration: 'P99999999Y' is longer than 10 years"),
    ({"timeCycle": "R/PT1H"}, "[nag]: timeCycle: 'R/PT1H' repeats without end"),
    ({"timeDate": "2026-03-02T10:00:00"}, "[wait_until]: timeDate: '2026-03-02T10:00:00' has no UTC offset"),
    ({"timeDuration": "P1X"}, "[deadline]: timeDuration: 'P1X' is not an ISO 8601 duration"),
])
def test_plain_values_are_read_at_deploy_with_the_timer_bounds(frozen, values, finding) -> None:
    checked = validate_files({"timer_kinds.bpmn": with_values(**values)}, max_bytes=1_000_000)
    messages = [str(e) for e in checked.errors]
    assert len(messages) == 1 and finding in messages[0], messages


def test_plain_values_run_as_the_quoted_ones_do(engine, frozen) -> None:
    engine.registry.deploy({"timer_kinds.bpmn": with_values(**PLAIN)})
    inst = engine.runtime.start("timer_kinds", tenant_id="t-alpha")
    assert inst.status == "running"
    with engine.db.read() as s:
        due = sorted(d.due_at.replace(tzinfo=T0.tzinfo) for d in
                     s.scalars(select(DueTimer).where(DueTimer.instance_id == inst.id)))
    # the cycle's first hour, 12:00+01:00 (11:00 UTC), one day
    assert due == [T0 + timedelta(hours=1), T0 + timedelta(hours=2), T0 + timedelta(days=1)]
    frozen.advance(timedelta(days=1, seconds=1))
    assert fire_due_timers(engine, "w1") == 3
