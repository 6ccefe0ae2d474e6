"""Messages: route an incoming BPMN message to the one instance waiting for it.

The save hook mirrors every waiting message catch (intermediate catch events, receive tasks,
boundary message events, event-based gateways) into ``message_subscriptions`` keyed by message
name and a canonical correlation key, so ``deliver_message`` finds its instance by an index
lookup, never by scanning instances.

The correlation key is the canonical JSON (sorted keys) of the correlation property values the
instance expects for that message, e.g. ``{"order_id":"O-42"}``: what ``wf.correlations``
already holds, else what the catch event's ``spiffworkflow:processVariableCorrelation``
computes from task data. A message without correlation properties in the model (or whose
values the instance does not know yet) is keyed ``{"business_key": <instance business key>}``,
so callers can address an instance by its business key.

A correlated message carries its correlation values: the model's retrieval expressions read
them from the payload. The caller states them once, in ``correlation_keys``; they are merged
into the payload (which lands in the catch event's ``spiffworkflow:messageVariable``) and a
payload that contradicts them is rejected.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.models import MessageSubscription
from engine.runtime.instances import ACTIVE, Loaded
from engine.runtime.services import to_json_value
from engine.runtime.steps import advance
from engine.timers import ENDED, event_definitions, previously_waiting, waiting_catches

if TYPE_CHECKING:
    from engine.kernel import Kernel

BUSINESS_KEY = "business_key"
_MISSING = object()


def canonical(values: dict[str, Any]) -> str:
    """One spelling per set of values: sorted keys, no spaces (the lookup is an exact match)."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


# -- what an instance expects ----------------------------------------------------------------

def _process_correlations(task: Any, definition: Any) -> dict[str, dict[str, Any]]:
    """Values from the catch event's processVariableCorrelation, evaluated on task data.

    Spiff only records these in ``wf.correlations`` for plain catch events, not for the events
    behind an event-based gateway; an expression that fails yields nothing (not a failed save).
    """
    props = getattr(definition, "process_correlations", None)
    if not props:
        return {}
    try:
        return definition.calculate_correlations(task.workflow.script_engine, props, task.data)
    except Exception:  # a designer's expression failing must not fail the save: the fallback key still routes
        return {}


def expected_values(task: Any, definition: Any) -> dict[str, Any] | None:
    """property name -> value the waiting task expects, or None if it does not know them all."""
    props = definition.correlation_properties
    if not props:
        return None
    known = task.workflow.correlations
    computed = _process_correlations(task, definition)
    values: dict[str, Any] = {}
    for prop in props:
        value = _MISSING
        for key in prop.correlation_keys:
            value = known.get(key, {}).get(prop.name, _MISSING)
            if value is _MISSING:
                value = computed.get(key, {}).get(prop.name, _MISSING)
            if value is not _MISSING:
                break
        if value is _MISSING:
            return None
        values[prop.name] = value
    return values


def correlation_key(task: Any, definition: Any, business_key: str | None) -> str:
    values = expected_values(task, definition)
    return canonical(values if values is not None else {BUSINESS_KEY: business_key})


def waiting_messages(workflow: Any, business_key: str | None) -> tuple[set[tuple[str, str, str]], bool]:
    """(task guid, message name, correlation key) for each message the workflow waits on, and
    whether any of those messages has correlation properties (whose expected values can change
    while the task waits, when the conversation's correlations are updated)."""
    found, correlated = set(), False
    for task in waiting_catches(workflow):
        for definition in event_definitions(task):
            if isinstance(definition, MessageEventDefinition):
                found.add((str(task.id), definition.name, correlation_key(task, definition, business_key)))
                correlated = correlated or bool(definition.correlation_properties)
    return found, correlated


# -- the save hook ---------------------------------------------------------------------------

def mirror_subscriptions(s: Session, loaded: Loaded) -> None:
    """Save hook: make ``message_subscriptions`` equal the messages the workflow waits on.

    Skips the query when the same catches wait as at load time and all are keyed by the
    business key, which never changes.
    """
    row = loaded.row
    wanted, correlated = set(), False
    if row.status not in ENDED:
        wanted, correlated = waiting_messages(loaded.workflow, row.business_key)
    previous = previously_waiting(loaded, MessageEventDefinition)
    if not correlated and previous == {guid for guid, _, _ in wanted}:
        return
    kept: set[tuple[str, str, str]] = set()
    if not wanted:  # one statement, no read
        s.execute(delete(MessageSubscription).where(MessageSubscription.instance_id == row.id)
                  .execution_options(synchronize_session=False))
    elif loaded.before:  # a new instance has no rows yet
        existing = s.execute(select(MessageSubscription.id, MessageSubscription.task_guid,
                                    MessageSubscription.message_name, MessageSubscription.correlation_key)
                             .where(MessageSubscription.instance_id == row.id)).all()
        stale = []
        for sub_id, guid, name, key in existing:
            entry = (guid, name, key)
            if entry in wanted and entry not in kept:
                kept.add(entry)
            else:
                stale.append(sub_id)
        if stale:
            s.execute(delete(MessageSubscription).where(MessageSubscription.id.in_(stale))
                      .execution_options(synchronize_session=False))
    for guid, name, key in wanted - kept:
        s.add(MessageSubscription(instance_id=row.id, tenant_id=row.tenant_id, task_guid=guid,
                                  message_name=name, correlation_key=key))


def install(engine: Kernel) -> None:
    engine.runtime.save_hooks.append(mirror_subscriptions)


# -- delivery --------------------------------------------------------------------------------

def _validate(name: Any, correlation_keys: Any, payload: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    errors = []
    if not isinstance(name, str) or not name.strip():
        errors.append({"field": "name", "message": "a message name is required"})
    elif len(name) > 255:
        errors.append({"field": "name", "message": "at most 255 characters"})
    if not isinstance(correlation_keys, dict) or not correlation_keys:
        errors.append({"field": "correlation_keys", "message": "a non-empty object of property -> value"})
    else:
        for key, value in correlation_keys.items():
            scalar = isinstance(value, (str, int, float, bool)) and not (
                isinstance(value, float) and not math.isfinite(value))
            if not isinstance(key, str) or not key or not scalar:
                errors.append({"field": f"correlation_keys.{key}",
                               "message": "keys are names and values strings, numbers or booleans"})
    if not isinstance(payload, dict):
        errors.append({"field": "payload", "message": "a JSON object"})
    else:
        try:
            payload = to_json_value(payload)
        except TypeError as exc:
            errors.append({"field": "payload", "message": str(exc).replace("operator result", "payload")})
    if errors:
        raise InvalidInput("invalid message: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                           errors=errors)
    return name, dict(correlation_keys), payload


def _not_found(name: str, keys: dict[str, Any]) -> NotFound:
    return NotFound(f"no instance is waiting for message {name!r} with correlation keys {canonical(keys)}")


def _definition(task: Any, name: str) -> Any:
    if task.state != TaskState.WAITING:
        return None
    for definition in event_definitions(task):
        if isinstance(definition, MessageEventDefinition) and definition.name == name:
            return definition
    return None


def _event(task: Any, definition: Any, name: str, keys: dict[str, Any], payload: dict[str, Any]) -> BpmnEvent:
    """The BPMN event for this task's own message definition, with the correlations Spiff checks."""
    props = definition.correlation_properties
    if not props:
        return BpmnEvent(definition, payload=payload)
    by_properties = set(keys) == {p.name for p in props}
    if by_properties:
        for prop in keys:
            if prop in payload and payload[prop] != keys[prop]:
                raise InvalidInput(f"message {name!r}: payload {prop}={payload[prop]!r} contradicts its "
                                   f"correlation key {keys[prop]!r}")
        payload = {**keys, **payload}
    try:
        correlations = definition.calculate_correlations(task.workflow.script_engine, props, payload)
    except Exception as exc:  # the model's retrieval expression, run on caller data
        raise InvalidInput(f"message {name!r}: cannot read its correlation properties "
                           f"({', '.join(p.name for p in props)}) from the payload: {exc}") from exc
    if by_properties:
        carried = {p.name: correlations.get(k, {}).get(p.name) for p in props for k in p.correlation_keys[:1]}
        if carried != keys:
            raise InvalidInput(f"message {name!r}: the payload yields correlation values {canonical(carried)}, "
                               f"not {canonical(keys)}")
    return BpmnEvent(definition, payload=payload, correlations=correlations)


def deliver_message(engine: Kernel, *, tenant_id: str, name: str, correlation_keys: dict[str, Any],
                    payload: dict[str, Any], actor: str | None, requested: bool = False) -> str:
    """Deliver a message to the instance of ``tenant_id`` waiting for it; returns its id.

    ``requested``: the message comes from an API request, which may not reach the platform's
    internal processes (``Runtime.internal_keys``): their messages come from their domain (403).

    Raises NotFound when no instance waits for this message with these keys (including a
    second delivery of a message already caught): a message is never dropped silently.
    Conflict when the keys match several instances or the instance is suspended.
    """
    name, keys, payload = _validate(name, correlation_keys, payload)
    key = canonical(keys)
    with engine.db.read() as s:
        subs = s.execute(select(MessageSubscription.instance_id, MessageSubscription.task_guid)
                         .where(MessageSubscription.tenant_id == tenant_id, MessageSubscription.message_name == name,
                                MessageSubscription.correlation_key == key)
                         .order_by(MessageSubscription.id)).all()
    instances = list(dict.fromkeys(instance_id for instance_id, _ in subs))
    if not instances:
        raise _not_found(name, keys)
    if len(instances) > 1:
        raise Conflict(f"message {name!r} with correlation keys {key} matches {len(instances)} instances; "
                       "correlate on something that identifies one")
    instance_id = instances[0]
    guids = [guid for _, guid in subs]
    with engine.runtime.mutation(instance_id, tenant_id=tenant_id, actor=actor,
                                 allowed=(*ACTIVE, "suspended", *ENDED)) as (_s, loaded):
        if loaded.row.status in ENDED:  # it caught this message (or ended) since the lookup
            raise _not_found(name, keys)
        if loaded.row.status not in ACTIVE:
            raise Conflict(f"instance is {loaded.row.status}")
        if requested and loaded.row.process_key in engine.runtime.internal_keys:
            raise Forbidden(f"process {loaded.row.process_key!r} takes messages from the platform only")
        wf = loaded.workflow
        target = definition = None
        for guid in guids:
            try:
                task = wf.get_task_from_id(UUID(guid))
            except SpiffWorkflowException:
                continue
            definition = _definition(task, name)
            if definition is not None:
                target = task
                break
        if target is None:  # caught meanwhile by a concurrent delivery: nothing waits anymore
            raise _not_found(name, keys)
        event = _event(target, definition, name, keys, payload)
        try:
            wf.send_event(event)
        except WorkflowException as exc:
            raise _not_found(name, keys) from exc
        advance(wf, loaded.kind, loaded.host)
    return instance_id
