"""A clock a test can move forward in other processes: ``aicmp worker`` processes that load this
module (``AICMP_OPERATOR_MODULES=tests.plugins.shifted_clock``) read the time as the real time
plus the seconds written in the file ``AICMP_TEST_CLOCK_FILE`` names (0 while it is absent).

The engine's timers fire by ``engine.clock`` (SpiffWorkflow's own reads go through it too), so a
reliability test can let a process's 30-second or 10-minute back-off pass at once, with real
workers, without waiting: it writes a larger offset (``advance``). It registers no operator.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine import clock


class ShiftedClock(clock.Clock):
    """Real time plus the offset in ``path`` (read at every call: another process moves it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def offset(self) -> float:
        try:
            return float(self.path.read_text() or 0)
        except (OSError, ValueError):
            return 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset())

    def advance(self, seconds: float) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(str(self.offset() + seconds))
        tmp.replace(self.path)  # atomic: a reader never sees a half-written number


def install(path: str | Path) -> ShiftedClock:
    shifted = ShiftedClock(Path(path))
    clock.use(shifted)
    return shifted


if os.environ.get("AICMP_TEST_CLOCK_FILE"):
    install(os.environ["AICMP_TEST_CLOCK_FILE"])
