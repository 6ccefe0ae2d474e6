"""Who may start what over the API, and with which variables.

Three rules, checked inside the start's own transaction (so a deploy racing the start cannot slip
a different version past them):

- **Internal processes** (``Runtime.internal_keys``, registered by the domains that start them:
  ``application``, ``approval``, ``order``...) are started by their domain's service only. A start
  request for one is refused (403) whoever asks and whatever version (a tenant's own variant
  included), and so is a request for a process that calls one: a call activity would hand the
  requester's variables to the internal process just the same.
- **Starters**: a model may name the roles that may start it (``candidateStarterGroups``);
  then the caller must hold one of them (403). Undeclared: anyone with ``process-instance:start``.
- **Start variables** must satisfy the start event's form (``formJsonSchemaFilename``), which
  also refuses fields it does not declare; a process without a start form takes no variables.
  Either way a refusal is a 422 naming each field, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

from engine import forms
from engine.errors import Forbidden, InvalidInput
from engine.models import ProcessDefinition
from engine.principal import Principal

# Runs first in the start's transaction, with the definition and its bound versions; raises to
# refuse, or returns variables to add (a domain's start reads its object in the same transaction).
StartCheck = Callable[[Session, ProcessDefinition, dict[str, int]], "dict[str, Any] | None"]


def api_start_check(principal: Principal, internal_keys: Iterable[str], variables: dict[str, Any]) -> StartCheck:
    """The check ``Runtime.start`` runs for a start request made by ``principal``."""
    internal = frozenset(internal_keys)

    def check(s: Session, definition: ProcessDefinition, bound: dict[str, int]) -> None:
        if definition.key in internal:
            raise Forbidden(f"process {definition.key!r} is started by the platform, not through this API")
        called = sorted(internal.intersection(bound))
        if called:
            raise Forbidden(f"process {definition.key!r} calls the platform's internal process "
                            f"{called[0]!r}; it cannot be started through this API")
        roles = definition.start_roles
        if roles is not None and not set(roles).intersection(principal.acting_roles):
            raise Forbidden(f"process {definition.key!r} may be started only by the roles "
                            f"{', '.join(roles) or '(none)'}")
        _check_variables(s, definition, variables)

    return check


def _check_variables(s: Session, definition: ProcessDefinition, variables: dict[str, Any]) -> None:
    if definition.start_form is None:
        if variables:
            raise InvalidInput(
                f"process {definition.key!r} declares no start form, so it takes no start variables",
                errors=[{"field": f"variables.{name}", "path": forms.json_path([name]),
                         "message": "is not a start variable of this process", "keyword": "additionalProperties"}
                        for name in sorted(variables)])
        return
    schema, _ui = forms.load_task_forms(s, definition.id, definition.start_form, None)
    problems = forms.validate(schema or {"type": "object", "properties": {}}, variables)
    if problems:
        raise InvalidInput(f"the start variables do not match the start form of {definition.key!r}",
                           errors=[{"field": "variables" + p["path"][1:], **p} for p in problems])
