"""BPMN compensation: undoing work that completed, with the handler drawn for it.

SpiffWorkflow 3.2 refuses a compensation boundary event ("Unsupported Catch Event") and takes a
compensation throw event for a none event (it does nothing). Yet compensation is how a model
says "if the order fails after the GPU hosts were provisioned, release them": an activity gets a
compensation boundary event, associated with its handler (``isForCompensation="true"``, no
sequence flows); a throw or end event with ``compensateEventDefinition`` later compensates.

What runs here, as BPMN 2.0 (10.5.6) says:

* A compensation throw (intermediate or end event) compensates, in the scope it is in (the
  process or subprocess; for a throw in an event subprocess, the scope holding that), the
  activity its ``activityRef`` names, or else every activity there with a handler; only
  instances that completed, never one twice, the latest first. Each handler runs as its own task
  (a user task goes to the inbox like any other), one after the other; the throw waits for them
  (``waitForCompletion``) and then goes on.
* A cancel end event in a transaction compensates the transaction's completed activities first,
  then cancels it.
* A compensation event subprocess is accepted at the process level, where nothing can trigger it
  (only a compensated subprocess starts its own); one inside a subprocess is refused at deploy,
  as are a compensation boundary event without a handler, a handler with boundary events of its
  own, a compensation catch anywhere else and an ``activityRef`` naming an activity of the scope
  that has no handler.

How: a compensation boundary event is not a boundary event SpiffWorkflow runs; the scope's
process parser (``CompensationHandlers``) sets it aside and the activity's parser
(``CompensableActivities``) parses the handler beside it, between a ``CompensationStart``
(``<activity>.Compensate``) and a ``CompensationDone`` (``<activity>.Compensated``). A throw is
a ``_Compensating`` event: when it runs it adds the first handler's start as a (triggered)
child and waits, STARTED; when the handler completes, its ``CompensationDone`` tells the throw,
which starts the next handler or, after the last, does what it would have done at once and
completes. Everything lives in the task tree and its internal data, so an instance saved and
restored in between goes on where it was.
"""

from __future__ import annotations

import uuid
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_task_spec import BpmnTaskSpec
from SpiffWorkflow.bpmn.specs.defaults import EndEvent, IntermediateThrowEvent
from SpiffWorkflow.bpmn.specs.event_definitions.base import EventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import CancelEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.util.task import TaskState

from engine.spiff.xmlcheck import BPMN_NS

DEFINITION = f"{{{BPMN_NS}}}compensateEventDefinition"
START_SUFFIX = ".Compensate"
DONE_SUFFIX = ".Compensated"
QUEUE = "compensating"  # the throw's internal data: ids of the activity instances still to compensate
COMPENSATED = "compensated"  # an activity instance's internal data: its handler ran (or runs)
THROWER = "compensation_for"  # a handler start's internal data: the id of the throw that started it


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _is_compensation(node: Any) -> bool:
    return node.find(DEFINITION) is not None


class CompensateEventDefinition(EventDefinition):
    """A compensation throw (``activity_ref``: the one activity it compensates, None: all of its
    scope's), or the start of a process-level compensation event subprocess. It is never sent as
    an event: the throwing spec runs the handlers itself, and nothing catches it."""

    def __init__(self, activity_ref: str | None = None, in_event_subprocess: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activity_ref = activity_ref
        self.in_event_subprocess = in_event_subprocess  # thrown there: compensates the scope holding it

    def catches(self, my_task: Any, event: Any) -> bool:
        return False

    def throw(self, my_task: Any) -> None:
        return None


class CompensationStart(BpmnTaskSpec):
    """Leads to a compensation handler (``<activity>.Compensate``): what a throw adds as its child
    to run the handler."""

    def test(self) -> None:
        """No flow leads here (a throw adds it), so no input is required."""


class CompensationDone(BpmnTaskSpec):
    """Follows a compensation handler (``<activity>.Compensated``): tells the throw that started
    the handler that it is done, then ends this path."""

    def _update_hook(self, my_task: Any) -> bool:
        super()._update_hook(my_task)
        start = my_task.parent
        while not isinstance(start.task_spec, CompensationStart):
            start = start.parent
        thrower = my_task.workflow.top_workflow.get_task_from_id(uuid.UUID(start.internal_data[THROWER]))
        thrower.task_spec.handler_done(thrower, my_task)
        return True


def scope_of(my_task: Any) -> Any:
    """The workflow whose activities a throw in ``my_task`` compensates: its own (process,
    subprocess, transaction), or, for a throw in an event subprocess, the one that holds it."""
    if getattr(my_task.task_spec.event_definition, "in_event_subprocess", False):
        return my_task.workflow.parent_workflow
    return my_task.workflow


def compensable(my_task: Any, activity_ref: str | None) -> list[Any]:
    """The activity instances a throw in ``my_task`` compensates, the latest first."""
    scope = scope_of(my_task)
    specs = scope.spec.task_specs
    done = [t for t in scope.get_tasks(state=TaskState.COMPLETED)
            if t.workflow is scope and not t.internal_data.get(COMPENSATED)
            and f"{t.task_spec.name}{DONE_SUFFIX}" in specs
            and (activity_ref is None or t.task_spec.bpmn_id == activity_ref)]
    return sorted(done, key=lambda t: t.last_state_change, reverse=True)


class _Compensating:
    """Mixed over a throw event spec: compensate first (see the module docstring), then throw."""

    def _run_hook(self, my_task: Any) -> bool | None:
        definition = self.event_definition  # type: ignore[attr-defined]
        targets = compensable(my_task, getattr(definition, "activity_ref", None))
        if not targets:
            return super()._run_hook(my_task)  # type: ignore[misc]
        for target in targets:  # claimed now: a throw running beside this one leaves them alone
            target.internal_data[COMPENSATED] = True
        my_task.internal_data[QUEUE] = [str(t.id) for t in targets]
        self._next_handler(my_task)
        return None  # STARTED until the last handler is done

    def handler_done(self, my_task: Any, done: Any) -> None:
        my_task.data.update(done.data)  # what the handler set, the process keeps
        self._next_handler(my_task)

    def _next_handler(self, my_task: Any) -> None:
        queue = my_task.internal_data[QUEUE]
        if not queue:
            del my_task.internal_data[QUEUE]
            if super()._run_hook(my_task):  # type: ignore[misc]
                my_task.complete()
            return
        top = my_task.workflow.top_workflow
        activity = top.get_task_from_id(uuid.UUID(queue.pop(0)))
        # the handler runs in the activity's workflow: under the throw, or else (a throw in an
        # event subprocess) under the event subprocess's task there
        anchor = my_task if activity.workflow is my_task.workflow else top.get_task_from_id(
            my_task.workflow.parent_task_id)
        start = activity.workflow.spec.task_specs[f"{activity.task_spec.name}{START_SUFFIX}"]
        child = anchor._add_child(start, TaskState.FUTURE)
        child.triggered = True  # not one of the anchor's outputs: kept when it completes
        child.internal_data[THROWER] = str(my_task.id)
        start._predict(child, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)  # the handler and its done
        start._update(child)


def _compensating(base: type) -> type:
    return type(f"Compensating{base.__name__}", (_Compensating, base), {"__module__": __name__})


COMPENSATING: dict[type, type] = {base: _compensating(base) for base in (IntermediateThrowEvent, EndEvent)}
"""The throw event spec classes the parsers build -> their compensating versions."""


# -- parsing ----------------------------------------------------------------------------------

class CompensationHandlers:
    """Mixed into the process parser: compensation boundary events are set aside (SpiffWorkflow
    would refuse them), each activity's handler remembered (``compensation_handlers``)."""

    def _index_process_nodes(self) -> None:
        super()._index_process_nodes()  # type: ignore[misc]
        self.compensation_handlers: dict[str, Any] = {}
        events = self.boundary_events_by_attached  # type: ignore[attr-defined]
        targets: dict[str, list[str]] = {}
        for association in self.xpath(".//bpmn:association"):  # type: ignore[attr-defined]
            targets.setdefault(association.get("sourceRef"), []).append(association.get("targetRef"))
        for attached, nodes in list(events.items()):
            kept = [node for node in nodes if not _is_compensation(node)]
            for node in (n for n in nodes if _is_compensation(n)):
                if node.getparent() is not self.node:  # type: ignore[attr-defined]
                    continue  # a nested scope's: its own parser keeps it (an activityRef cannot reach it)
                handlers = [self.nodes_by_id.get(ref) for ref in targets.get(node.get("id"), [])]  # type: ignore[attr-defined]
                handlers = [h for h in handlers if h is not None and h.get("isForCompensation") == "true"]
                if len(handlers) != 1:
                    raise ValidationException(
                        "a compensation boundary event needs exactly one associated compensation handler "
                        f"(an activity with isForCompensation=\"true\"), found {len(handlers)}",
                        node=node, file_name=self.filename)  # type: ignore[attr-defined]
                self.compensation_handlers[attached] = handlers[0]
            if kept:
                events[attached] = kept
            else:
                del events[attached]


class CompensableActivities:
    """Mixed into every task parser: an activity with a compensation handler gets its handler
    parsed beside it, followed by its ``CompensationDone``."""

    def parse_node(self) -> Any:
        spec = super().parse_node()  # type: ignore[misc]
        handler_node = getattr(self.process_parser, "compensation_handlers", {}).get(self.bpmn_id)  # type: ignore[attr-defined]
        if handler_node is None:
            return spec
        name = f"{self.bpmn_id}{DONE_SUFFIX}"  # type: ignore[attr-defined]
        if name not in self.spec.task_specs:  # type: ignore[attr-defined]
            handler = self.process_parser.parse_node(handler_node)  # type: ignore[attr-defined]
            if handler.name != handler_node.get("id") or handler.outputs:
                raise ValidationException("a compensation handler with boundary events or outgoing flows is "
                                          "not supported", node=handler_node, file_name=self.filename)  # type: ignore[attr-defined]
            CompensationStart(self.spec, f"{self.bpmn_id}{START_SUFFIX}").connect(handler)  # type: ignore[attr-defined]
            handler.connect(CompensationDone(self.spec, name))  # type: ignore[attr-defined]
        return spec


class CompensationEvents:
    """Mixed into every event parser: reads ``compensateEventDefinition`` (see the module
    docstring for what is accepted where) and builds throws that compensate."""

    def get_event_definition(self, xpaths: list[str]) -> Any:
        node = self.node  # type: ignore[attr-defined]
        if not _is_compensation(node):
            return super().get_event_definition(xpaths)  # type: ignore[misc]
        kind = _local(node.tag)
        if kind == "startEvent":
            container = node.getparent()
            event_subprocess = container.get("triggeredByEvent") == "true"
            if not (event_subprocess and _local(container.getparent().tag) == "process"):
                self._refuse("a compensation event subprocess inside a subprocess is not supported (compensate "
                             "the subprocess's activities with their own compensation handlers)")
            return CompensateEventDefinition()
        if kind not in ("intermediateThrowEvent", "endEvent"):
            self._refuse(f"a compensation event is thrown by an intermediate or end event, not caught by a {kind}")
        ref = (node.find(DEFINITION).get("activityRef") or "").strip().rpartition(":")[2] or None
        scope = self.process_parser  # type: ignore[attr-defined]
        in_event_subprocess = scope.node.get("triggeredByEvent") == "true" and scope.parent is not None
        if in_event_subprocess:
            scope = scope.parent  # an event subprocess compensates what the scope holding it did
        if ref is not None and ref not in getattr(scope, "compensation_handlers", {}):
            self._refuse(f"compensates {ref!r}, which has no compensation handler in this {_local(scope.node.tag)}")
        return CompensateEventDefinition(ref, in_event_subprocess)

    def _refuse(self, message: str) -> None:
        raise ValidationException(message, node=self.node, file_name=self.filename)  # type: ignore[attr-defined]

    def _create_task(self, event_definition: Any, *args: Any, **kwargs: Any) -> Any:
        spec_class = self.spec_class  # type: ignore[attr-defined]
        in_transaction = _local(self.process_parser.node.tag) == "transaction"  # type: ignore[attr-defined]
        compensates = isinstance(event_definition, CompensateEventDefinition) or (
            in_transaction and isinstance(event_definition, CancelEventDefinition))
        if compensates and spec_class in COMPENSATING and issubclass(spec_class, ThrowingEvent):
            self.spec_class = COMPENSATING[spec_class]
            try:
                return super()._create_task(event_definition, *args, **kwargs)  # type: ignore[misc]
            finally:
                self.spec_class = spec_class
        return super()._create_task(event_definition, *args, **kwargs)  # type: ignore[misc]
