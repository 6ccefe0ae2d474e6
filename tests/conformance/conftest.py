"""The conformance summary line at the end of a test run that measured corpus files."""

from __future__ import annotations

from typing import Any

from tests.conformance import measure


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if measure.MEASURED:
        where = f" (per file: {measure.REPORT_FILE})" if measure.REPORT_FILE else ""
        terminalreporter.write_line(measure.summary(list(measure.MEASURED.values())) + where)
