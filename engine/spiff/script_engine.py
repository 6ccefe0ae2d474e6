"""The script engine every aicmp workflow runs with: the sandbox plus a service host."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.sandbox import SandboxEnvironment

SANDBOX = SandboxEnvironment()  # stateless between calls and thread-safe: one per process


class AicmpScriptEngine(PythonScriptEngine):
    """Evaluates everything in the sandbox; service tasks reach ``service_host``."""

    def __init__(self, service_host: Any = None, environment: SandboxEnvironment | None = None) -> None:
        super().__init__(environment=environment or SANDBOX)
        self.service_host = service_host
