"""SandboxEnvironment: the one script environment aicmp plugs into Spiff's PythonScriptEngine."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .budget import _STEP, Budget, Limits, activate, deactivate
from .builtins_safe import build_builtins
from .checks import oversized_repr
from .errors import ScriptLimitExceeded, ScriptPolicyError
from .policy import Compiled, compile_source


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates expressions and runs scripts with RestrictedPython and a per-call budget.

    Same contract as Spiff's TaskDataEnvironment: `context` is the task data; `execute`
    writes back what the script set (not `_names`, callables, modules, iterators or helpers)
    and removes what it deleted; `external_context` is visible but never written back.
    Unlike TaskDataEnvironment, a script that raises leaves `context` as it was (except
    for in-place changes to mutable values), and task data may shadow helper names.
    """

    def __init__(self, limits: Limits | None = None, extra_globals: dict[str, Any] | None = None) -> None:
        super().__init__(dict(extra_globals or {}))
        self.limits = limits or Limits()
        self._builtins = build_builtins(extra_globals)
        self._extra_names = frozenset(extra_globals or ())

    def evaluate(self, expression: str, context: dict[str, Any],
                 external_context: dict[str, Any] | None = None) -> Any:
        """Value of one expression; task data wins over external_context (as in Spiff)."""
        compiled = self._compiled(expression, "eval")
        namespace = dict(external_context) if external_context else {}
        namespace.update(context)
        result = self._run(compiled, namespace)
        if compiled.uses_budget:  # straight-line code without guards cannot build anything big
            _refuse_oversized(result, "the expression's value")
        return result

    def execute(self, script: str, context: dict[str, Any],
                external_context: dict[str, Any] | None = None) -> bool:
        """Run a script against task data, then write its results back into `context`."""
        compiled = self._compiled(script, "exec")
        external = external_context or {}
        self._check_for_overwrite(context, external)
        namespace = dict(context)
        namespace.update(external)
        self._run(compiled, namespace)
        kept = {name: value for name, value in namespace.items() if self._keep(name, value, external)}
        if compiled.uses_budget:
            _refuse_oversized(kept, "the script's task data")
        for name in [name for name in context if name not in namespace]:
            del context[name]  # the script `del`eted it
        context.update(kept)
        return True

    def _compiled(self, source: str, mode: str) -> Compiled:
        compiled = compile_source(source, mode)  # type: ignore[arg-type]
        if compiled.code is None:
            raise ScriptPolicyError(compiled.problems)
        return compiled

    def _run(self, compiled: Compiled, namespace: dict[str, Any]) -> Any:
        if compiled.guards:
            namespace.update(compiled.guards)  # after task data: data can never replace a guard
        namespace["__builtins__"] = self._builtins
        if not compiled.uses_budget:  # straight-line code without loops, calls to helpers or guards
            return eval(compiled.code, namespace)  # noqa: S307 - compiled by RestrictedPython
        budget = Budget(self.limits, _STEP.get())
        token = activate(budget)
        try:
            result = eval(compiled.code, namespace)  # noqa: S307 - compiled by RestrictedPython
        except Exception as err:
            oversized = not isinstance(err, (ScriptLimitExceeded, ScriptPolicyError)) \
                and oversized_repr(err, self.limits.max_sequence)
            if budget.exceeded is None or isinstance(err, ScriptLimitExceeded):
                if not oversized:
                    raise
                # `raise ValueError(nested)`: str(err) in Spiff or a log would build a huge text
                raise ScriptLimitExceeded("sequence size", "script budget exceeded (sequence size): the "
                                          f"script raised {type(err).__name__} with an argument too "
                                          "large to show") from None
            if oversized:
                raise budget.exceeded from None
            raise budget.exceeded from err  # it caught the limit error, then failed otherwise
        finally:
            deactivate(token)
            if budget.step is not None:
                budget.close()
        if budget.exceeded is not None:  # the script caught ScriptLimitExceeded and carried on
            raise budget.exceeded
        return result

    def _keep(self, name: str, value: Any, external: dict[str, Any]) -> bool:
        if not isinstance(name, str) or name.startswith("_") or name in external:
            return False
        if callable(value) or isinstance(value, (ModuleType, Iterator)):  # iterators are one-shot
            return False
        return self._builtins.get(name, _MISSING) is not value

    def _check_for_overwrite(self, context: dict[str, Any], external: dict[str, Any]) -> None:
        """Fail fast like Spiff when task data hides a host-provided function or external name."""
        clash = (self._extra_names | external.keys()) & context.keys()
        if clash:
            raise ValueError("You have task data that overwrites a predefined function(s). Please change "
                             f"the following variable or field name(s) to something else: {clash}")


_MISSING = object()

MAX_RESULT_UNITS = 4 * 2 ** 20
"""About how many characters the values a script leaves (or an expression returns) may show.
The memory budget charges each list once, but nesting can share it: ``c = [[a] * 1000] * 1000``
with ``a = [0] * 1000`` is cheap to build and a billion values to store, hash or pass to an
operator; past this the evaluation fails like any budget overrun, before anyone walks it."""


def _refuse_oversized(value: Any, what: str) -> None:
    if oversized_repr(value, MAX_RESULT_UNITS):
        raise ScriptLimitExceeded("sequence size", f"script budget exceeded (sequence size): {what} holds "
                                  f"more than about {MAX_RESULT_UNITS:,} values, counting shared parts each time")
