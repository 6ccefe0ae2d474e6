"""BPMN's implicit start, which SpiffWorkflow refuses: a process or embedded subprocess drawn
without a start event starts, when it starts, every flow node that has no incoming sequence flow
(BPMN 2.0, section 10.5.2); one drawn empty (a collapsed subprocess with nothing inside) ends as
soon as it starts. bpmn.io and the MIWG suite draw such models.

SpiffWorkflow requires a start event, so a copy of the tree gets a none start event with one
flow to each such node before it is parsed. Only the parse sees the copy: the uploaded bytes are
stored, shown and exported as they were.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.spiff.xmlcheck import BPMN_NS

START_SUFFIX = "__implicit_start"
START_NAME = "(implicit start)"
END_SUFFIX = "__implicit_end"
END_NAME = "(implicit end)"

_NOT_STARTED = {"startEvent", "boundaryEvent", "sequenceFlow"}
_FLOW_NODES = {
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
    "intermediateThrowEvent", "intermediateCatchEvent", "endEvent",
}


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _q(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


def _is_event_subprocess(element: Any) -> bool:
    return _local(element) == "subProcess" and element.get("triggeredByEvent") == "true"


def _containers(root: Any) -> list[Any]:
    """Processes and embedded (not event) subprocesses without a start event."""
    found = []
    for element in root.iter(_q("process"), _q("subProcess"), _q("transaction")):
        if _is_event_subprocess(element) or element.get("isExecutable") == "false":
            continue
        if not any(_local(c) == "startEvent" for c in element):
            found.append(element)
    return found


def _is_empty(container: Any) -> bool:
    return not any(_local(c) in _FLOW_NODES or _local(c) == "startEvent" for c in container)


def _started_by_default(container: Any) -> list[Any]:
    """The flow nodes an implicit start starts: no incoming flow, and not a compensation handler,
    an event subprocess or a link catch (the target of a link throw, reached without a flow)."""
    targets = {f.get("targetRef") for f in container if _local(f) == "sequenceFlow"}
    nodes = []
    for node in container:
        name = _local(node)
        if name not in _FLOW_NODES or name in _NOT_STARTED or node.get("id") in targets:
            continue
        if _is_event_subprocess(node) or node.get("isForCompensation") == "true":
            continue
        if name == "intermediateCatchEvent" and node.find(_q("linkEventDefinition")) is not None:
            continue
        nodes.append(node)
    return nodes


def with_implicit_starts(tree: Any) -> Any:
    """``tree`` itself when every process and subprocess has a start event (or nothing to start);
    otherwise a copy in which each one without gets a start event flowing to the nodes it starts."""
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    if not any(_is_empty(c) or _started_by_default(c) for c in _containers(root)):
        return tree
    tree = copy.deepcopy(tree)
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    for container in _containers(root):
        if _is_empty(container):
            end = container.makeelement(_q("endEvent"), {"id": f"{container.get('id')}{END_SUFFIX}",
                                                         "name": END_NAME})
            container.append(end)
            nodes = [end]
        else:
            nodes = _started_by_default(container)
        if not nodes:
            continue
        start_id = f"{container.get('id')}{START_SUFFIX}"
        start = container.makeelement(_q("startEvent"), {"id": start_id, "name": START_NAME})
        container.insert(0, start)
        for node in nodes:
            flow_id = f"{start_id}_to_{node.get('id')}"
            outgoing = start.makeelement(_q("outgoing"), {})
            outgoing.text = flow_id
            start.append(outgoing)
            container.append(container.makeelement(
                _q("sequenceFlow"), {"id": flow_id, "sourceRef": start_id, "targetRef": node.get("id")}))
    return tree
