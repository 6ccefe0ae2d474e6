"""Asynchronous test operators that worker processes load through ``AICMP_OPERATOR_MODULES``.

Importing this module registers them in the process-wide registry (what a worker uses); tests
that build their own registry call ``register(registry)``.

``test/slow/wait_for_file`` lets a test hold an operator mid-run from outside the worker: each
call appends a line (``pid``) to ``<directory>/started``, then waits until ``<directory>/release``
exists. The test can then kill the worker while the call is running, and count the calls.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tasks.registry import REGISTRY, Operator, OperatorRegistry

WAIT_LIMIT_S = 120.0  # never hang a worker forever, even if a test forgets to release


def echo(value: Any) -> dict[str, Any]:
    return {"value": value, "pid": os.getpid()}


def wait_for_file(directory: str) -> dict[str, Any]:
    folder = Path(directory)
    with open(folder / "started", "a") as f:
        f.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not (folder / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{folder / 'release'} did not appear within {WAIT_LIMIT_S:.0f} s")
        time.sleep(0.05)
    return {"released": True, "pid": os.getpid()}


OPERATORS = (
    Operator("test/slow/echo", echo, mode="async", description="Echo the value back, from a worker."),
    Operator("test/slow/wait_for_file", wait_for_file, mode="async",
             description="Block until a release file appears (tests kill workers mid-call)."),
)


def register(registry: OperatorRegistry) -> None:
    for op in OPERATORS:
        registry.register(op)


register(REGISTRY)
