"""Bounded ISO 8601 timer values: how aicmp reads every BPMN timer (duration, date, cycle).

SpiffWorkflow's own reader turns years and months into days one month at a time (``P99999999Y``
is 1.2 billion steps, taken while the request holds the database's write lock) and fails with
``OverflowError``, ``AttributeError`` or a bare ``Exception`` on values it cannot use. This module
does a fixed amount of work per value: the value must be a ``str`` of at most ``MAX_LENGTH``
characters, each number has at most ``MAX_DIGITS`` digits, years and months are added in one
calendar step (never month by month), nothing may lie more than ``MAX_YEARS`` years ahead, and a
cycle repeats at most ``MAX_REPETITIONS`` times. Any other value raises ``InvalidTimer``.

Accepted (letters in either case, surrounding blanks ignored):

* durations ``PnYnMnDTnHnMnS`` (any part may be left out, ``T`` only before a time part) and
  ``PnW`` (weeks alone); the last part present may have a decimal fraction (``PT1.5H``,
  ``PT0,5S``), years and months never;
* date-times ``YYYY-MM-DDThh:mm[:ss[.fraction]]`` with a UTC offset: ``Z``, ``+hh``, ``+hhmm`` or
  ``+hh:mm`` (or ``-``). Without one the time would be the server's local time: refused;
* repeating intervals ``Rn/start/duration``, ``Rn/duration/end`` and ``Rn/duration``, n from 1 to
  ``MAX_REPETITIONS`` (``R/...`` repeats without end: refused). As in SpiffWorkflow, the first
  repetition is due at ``start``, at ``end - duration``, or one duration from now; the next ones
  one duration apart.

Years and months are calendar steps that keep the day of the month where the month has it
(2026-01-31 plus ``P1M`` is 2026-02-28); days are 24 hours, as everything here is UTC. Results
are timezone-aware UTC datetimes; "now" is ``engine.clock.now()`` unless given.
"""

from __future__ import annotations

import keyword
import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from engine import clock
from engine.errors import InvalidInput

MAX_YEARS = 10  # no timer is due, and no cycle repeats, further ahead than this
MAX_REPETITIONS = 1000  # of a cycle
MAX_DIGITS = 9  # of each number (and of a fraction)
MAX_LENGTH = 100  # characters of a whole value
SHOWN = 40  # characters of a refused value quoted in the message

KINDS = ("timeDuration", "timeDate", "timeCycle")  # the BPMN elements a timer's value comes from

_MONTHS_MAX = MAX_YEARS * 12
_FIXED_MAX_US = (MAX_YEARS * 366) * 86_400_000_000  # a bound above any MAX_YEARS years; exact check follows
_UNIT_US = {"W": 7 * 86_400_000_000, "D": 86_400_000_000, "H": 3_600_000_000, "TM": 60_000_000, "S": 1_000_000}
_PART_NAMES = {"Y": "years", "M": "months", "W": "weeks", "D": "days", "H": "hours", "TM": "minutes",
               "S": "seconds"}

_DURATION = re.compile(r"P(?:(?P<Y>[0-9.,]+)Y)?(?:(?P<M>[0-9.,]+)M)?(?:(?P<W>[0-9.,]+)W)?(?:(?P<D>[0-9.,]+)D)?"
                       r"(?P<T>T(?:(?P<H>[0-9.,]+)H)?(?:(?P<TM>[0-9.,]+)M)?(?:(?P<S>[0-9.,]+)S)?)?")
_NUMBER = re.compile(r"([0-9]+)(?:[.,]([0-9]+))?")
_DATETIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})"
                       r"(?::([0-9]{2})(?:[.,]([0-9]+))?)?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?")
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNT = re.compile(r"R([0-9]*)")


class InvalidTimer(InvalidInput, ValueError):
    """A timer value aicmp will not use: ``problem`` says what is wrong with the value.

    A 422 (``InvalidInput``) where a request brought the value (starting an instance); at run
    time the instance gets an incident instead (``engine.spiff.timer_events``). Located errors name
    the timer's element id and its expression; ``errors`` names the variable when the expression
    is just a variable's name.
    """

    def __init__(self, problem: str, *, element_id: str | None = None, expression: str | None = None,
                 kind: str | None = None) -> None:
        self.problem = problem
        self.element_id = element_id
        self.expression = expression
        self.kind = kind
        source = " ".join((expression or "").split())
        if len(source) > SHOWN:
            source = source[:SHOWN - 3] + "..."
        where = f"timer {element_id!r}" if element_id else "timer"
        if source:
            where += f" ({kind or 'value'} {source})"
        field = source if source.isidentifier() and not keyword.iskeyword(source) else (element_id or "timer")
        super().__init__(f"{where}: {problem}",
                         errors=[{"field": field, "element_id": element_id, "message": problem}])

    def at(self, element_id: str | None, expression: str | None, kind: str | None = None) -> InvalidTimer:
        """The same problem, located at a timer element."""
        return InvalidTimer(self.problem, element_id=element_id, expression=expression, kind=kind)


@dataclass(frozen=True)
class Duration:
    """A parsed duration: calendar months (years too) plus a fixed part, both bounded."""

    months: int
    micros: int

    def after(self, start: datetime) -> datetime:
        return _shift(_add_months(start, self.months), timedelta(microseconds=self.micros))

    def before(self, end: datetime) -> datetime:
        return _shift(_add_months(end, -self.months), -timedelta(microseconds=self.micros))


@dataclass(frozen=True)
class Cycle:
    """A repeating interval: ``repetitions`` times, the first at ``start``, then every ``period``."""

    repetitions: int
    start: datetime
    period: timedelta


# -- the value -------------------------------------------------------------------------------

def _show(text: str) -> str:
    return repr(text if len(text) <= SHOWN else text[:SHOWN - 3] + "...")


def _text(value: object, what: str) -> str:
    """The value as a string without surrounding blanks; anything else is refused (never converted)."""
    if not isinstance(value, str):
        # the type only: repr() of an arbitrary object may be huge, slow or fail
        raise InvalidTimer(f"must be a string holding {what}, not {type(value).__name__}")
    if len(value) > MAX_LENGTH:
        raise InvalidTimer(f"{_show(value)} is {len(value)} characters long; at most {MAX_LENGTH}")
    text = value.strip()
    if not text:
        raise InvalidTimer(f"is empty; expected {what}")
    if not text.isascii():
        raise InvalidTimer(f"{_show(value)} is not {what}")
    return text


def _number(raw: str, name: str, text: str) -> tuple[int, str]:
    """(whole part, fraction digits) of one duration part, each at most MAX_DIGITS digits."""
    match = _NUMBER.fullmatch(raw)
    if match is None:
        raise InvalidTimer(f"{_show(text)}: the {name} {raw!r} are not a number")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(whole) > MAX_DIGITS or len(fraction) > MAX_DIGITS:
        raise InvalidTimer(f"{_show(text)}: the {name} have more than {MAX_DIGITS} digits")
    return int(whole), fraction


# -- durations -------------------------------------------------------------------------------

def parse_duration(text: str) -> Duration:
    """A duration's syntax and size (at most about ``MAX_YEARS`` years)."""
    match = _DURATION.fullmatch(text.upper())
    if match is None:
        raise InvalidTimer(f"{_show(text)} is not an ISO 8601 duration (PnYnMnDTnHnMnS or PnW)")
    parts = [(key, raw) for key in ("Y", "M", "W", "D", "H", "TM", "S") if (raw := match.group(key)) is not None]
    if not parts:
        raise InvalidTimer(f"{_show(text)} is not an ISO 8601 duration: it has no part (e.g. PT1H)")
    if match.group("T") is not None and not any(key in ("H", "TM", "S") for key, _ in parts):
        raise InvalidTimer(f"{_show(text)} is not an ISO 8601 duration: T must be followed by hours, minutes "
                           "or seconds")
    if any(key == "W" for key, _ in parts) and len(parts) > 1:
        raise InvalidTimer(f"{_show(text)}: weeks cannot be combined with other parts (use PnW alone)")
    months = micros = 0
    for index, (key, raw) in enumerate(parts):
        name = _PART_NAMES[key]
        whole, fraction = _number(raw, name, text)
        if fraction and index != len(parts) - 1:
            raise InvalidTimer(f"{_show(text)}: only the last part may have a fraction")
        if key in ("Y", "M"):
            if fraction:
                raise InvalidTimer(f"{_show(text)}: {name} cannot have a fraction")
            months += whole * 12 if key == "Y" else whole
            continue
        unit = _UNIT_US[key]
        micros += whole * unit + (int(fraction) * unit // 10 ** len(fraction) if fraction else 0)
    # a first, coarse bound keeps every later step small (the exact one is against the calendar)
    if months > _MONTHS_MAX or micros > _FIXED_MAX_US:
        raise InvalidTimer(f"{_show(text)} is longer than {MAX_YEARS} years")
    return Duration(months, micros)


def _add_months(when: datetime, months: int) -> datetime:
    """One calendar step; the day is kept, or the month's last day where the month is shorter."""
    years, month0 = divmod(when.month - 1 + months, 12)
    year = when.year + years
    if not 1 <= year <= 9999:
        raise InvalidTimer("the time it gives is out of range")
    day = min(when.day, monthrange(year, month0 + 1)[1])
    return when.replace(year=year, month=month0 + 1, day=day)


def _shift(when: datetime, delta: timedelta) -> datetime:
    try:
        return when + delta
    except OverflowError:
        raise InvalidTimer("the time it gives is out of range") from None


def horizon(now: datetime) -> datetime:
    """The latest time a timer may be due: ``MAX_YEARS`` calendar years after ``now``."""
    return _add_months(now, _MONTHS_MAX)


def duration_timer(value: object, now: datetime | None = None) -> datetime:
    """When a ``timeDuration`` timer started ``now`` is due (UTC)."""
    text = _text(value, "an ISO 8601 duration such as PT24H")
    now = _utc(now)
    due = parse_duration(text).after(now)
    if due > horizon(now):
        raise InvalidTimer(f"{_show(text)} is longer than {MAX_YEARS} years")
    return due


# -- date-times ------------------------------------------------------------------------------

def parse_datetime(text: str) -> datetime:
    """A date-time with a UTC offset, as an aware UTC datetime."""
    match = _DATETIME.fullmatch(text.upper())
    if match is None:
        if _DATE_ONLY.fullmatch(text):
            raise InvalidTimer(f"{_show(text)} has no time of day and UTC offset "
                               "(e.g. 2026-03-02T09:00:00Z)")
        raise InvalidTimer(f"{_show(text)} is not an ISO 8601 date-time with a UTC offset "
                           "(e.g. 2026-03-02T09:00:00+01:00)")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset is None:
        raise InvalidTimer(f"{_show(text)} has no UTC offset (add Z or e.g. +01:00); the server's local "
                           "time is not used")
    if fraction is not None and len(fraction) > MAX_DIGITS:
        raise InvalidTimer(f"{_show(text)}: the fraction of a second has more than {MAX_DIGITS} digits")
    if offset == "Z":
        tz = UTC
    else:
        hours, minutes = int(offset[1:3]), int(offset[-2:]) if len(offset) > 3 else 0
        if hours > 23 or minutes > 59:
            raise InvalidTimer(f"{_show(text)}: the UTC offset {offset} is out of range")
        sign = -1 if offset[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro,
                         tzinfo=tz)
        return local.astimezone(UTC)
    except ValueError as exc:
        raise InvalidTimer(f"{_show(text)} is not a valid date-time: {exc}") from None
    except OverflowError:
        raise InvalidTimer(f"{_show(text)} is out of range") from None


def date_timer(value: object, now: datetime | None = None) -> datetime:
    """When a ``timeDate`` timer is due (UTC): at most ``MAX_YEARS`` years after ``now``."""
    text = _text(value, "an ISO 8601 date-time such as 2026-03-02T09:00:00Z")
    now = _utc(now)
    due = parse_datetime(text)
    if due > horizon(now):
        raise InvalidTimer(f"{_show(text)} is more than {MAX_YEARS} years ahead")
    return due


# -- repeating intervals ---------------------------------------------------------------------

def cycle_timer(value: object, now: datetime | None = None) -> Cycle:
    """A ``timeCycle`` timer started ``now``: how often, from when, how far apart."""
    text = _text(value, "an ISO 8601 repeating interval such as R3/PT1H")
    now = _utc(now)
    head, slash, rest = text.partition("/")
    count = _COUNT.fullmatch(head.upper())
    if count is None or not slash:
        raise InvalidTimer(f"{_show(text)} is not an ISO 8601 repeating interval (Rn/duration, Rn/start/duration "
                           "or Rn/duration/end)")
    if not count.group(1):
        raise InvalidTimer(f"{_show(text)} repeats without end: give the number of repetitions, 1 to "
                           f"{MAX_REPETITIONS} (e.g. R5/PT1H)")
    if len(count.group(1)) > MAX_DIGITS or not 1 <= int(count.group(1)) <= MAX_REPETITIONS:
        raise InvalidTimer(f"{_show(text)}: the number of repetitions must be 1 to {MAX_REPETITIONS}")
    repetitions = int(count.group(1))
    parts = rest.split("/")
    is_duration = [part.upper().startswith("P") for part in parts]
    if len(parts) == 1:
        start = parse_duration(parts[0]).after(now)
        period = start - now
    elif is_duration == [True, False]:
        end = parse_datetime(parts[1])
        start = parse_duration(parts[0]).before(end)
        period = end - start
    elif is_duration == [False, True]:
        start = parse_datetime(parts[0])
        period = parse_duration(parts[1]).after(start) - start
    else:
        raise InvalidTimer(f"{_show(text)}: a repeating interval is Rn/duration, Rn/start/duration or "
                           "Rn/duration/end")
    if period <= timedelta(0):
        raise InvalidTimer(f"{_show(text)}: the interval must be longer than zero")
    latest = horizon(now)
    if start > latest:
        raise InvalidTimer(f"{_show(text)} starts more than {MAX_YEARS} years ahead")
    if period * (repetitions - 1) > latest - start:
        raise InvalidTimer(f"{_show(text)}: its last repetition is more than {MAX_YEARS} years ahead")
    return Cycle(repetitions, start, period)


# -- any timer -------------------------------------------------------------------------------

_READERS = {"timeDuration": duration_timer, "timeDate": date_timer, "timeCycle": cycle_timer}


def check(kind: str, value: object, now: datetime | None = None) -> None:
    """Raise ``InvalidTimer`` unless ``value`` can be the value of a ``kind`` timer (one of KINDS)."""
    _READERS[kind](value, now)


_LITERAL = re.compile(r"[Pp][Tt]?[0-9]\S*|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]\S*|[Rr][0-9]*/\S+")


def literal(text: str | None) -> str | None:
    """``text`` as a plain ISO 8601 value when it is written as one (``PT48H``,
    ``2026-12-31T00:00:00Z``, ``R3/PT10M``: what Camunda and Flowable models write), else None
    (an expression, read when the timer starts). Whether the value is good is ``check``'s job."""
    stripped = (text or "").strip()
    if len(stripped) > MAX_LENGTH or not _LITERAL.fullmatch(stripped):
        return None
    return stripped


def _utc(now: datetime | None) -> datetime:
    now = clock.now() if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)
