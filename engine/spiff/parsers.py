"""The two SpiffWorkflow parsers aicmp uses, with its own service-task specs plugged in.

Designers draw in bpmn.io (spiff extensions) or Camunda Modeler; a file set is parsed with the
spiff parser first and, if that fails, with the Camunda parser (see ``engine.spiff.loader``).
Every event parser of both builds its timers as ``engine.spiff.timer_events`` definitions, whose
values are read by the bounded ``engine.spiff.durations``; every exclusive and inclusive gateway
takes an outgoing flow without a condition as always true, as Camunda 7 and Flowable do; every
data store is kept as process data (``engine.spiff.datastores``); and every task and event parser
maps data between both ends of its data associations (``engine.spiff.data_mapping``).
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import (
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    EventDefinitionParser,
    StartEventParser,
)
from SpiffWorkflow.bpmn.parser.task_parsers import ConditionalGatewayParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser

from engine.spiff import camunda, juel
from engine.spiff.compensation import CompensableActivities, CompensationEvents, CompensationHandlers
from engine.spiff.data_mapping import DataMappingParsers
from engine.spiff.datastores import ProcessDataStores
from engine.spiff.loop_collections import LoopCollectionItems
from engine.spiff.multiinstance import LOCAL_ITEMS
from engine.spiff.specs import CamundaServiceTask, OperatorServiceTask
from engine.spiff.timer_events import bounded


def _operator_params(parser: TaskParser) -> dict[str, str]:
    """A method call's arguments (``engine.spiff.camunda.operator_params``); one outside the JUEL
    subset is refused at deploy with the element and line."""
    try:
        return camunda.operator_params(parser.node)
    except juel.JuelUnsupported as exc:
        raise ValidationException(f"service task expression: JUEL outside the supported subset: {exc}",
                                  node=parser.node, file_name=parser.filename) from None


class _CamundaServiceTaskParser(TaskParser):
    def create_task(self) -> CamundaServiceTask:
        return self.spec_class(self.spec, self.bpmn_id, operation_name=camunda.operator_name(self.node),
                               operation_params=_operator_params(self),
                               result_variable=camunda.result_variable(self.node, self.bpmn_id),
                               **self.bpmn_attributes)


class _OperatorServiceTaskParser(ServiceTaskParser):
    """The spiff service-task parser that also reads a Camunda operator (topic, delegate
    expression, class or expression) when no ``spiffworkflow:serviceTaskOperator`` is drawn, so
    a Camunda Modeler file parses with the spiff parser (and keeps its pre/post scripts, which
    ``camunda:inputOutput`` mappings become: ``engine.spiff.camunda``)."""

    def create_task(self) -> OperatorServiceTask:
        operator = camunda.operator_name(self.node)
        if operator and "serviceTaskOperator" not in self.parse_extensions():
            params = {name: {"type": "any", "value": source} for name, source in _operator_params(self).items()}
            return self.spec_class(self.spec, self.bpmn_id, operation_name=operator, operation_params=params,
                                   result_variable=camunda.result_variable(self.node, self.bpmn_id),
                                   **self.bpmn_attributes)
        return super().create_task()


class _BoundedTimers:
    """Mixed into an event parser: the timer SpiffWorkflow reads becomes aicmp's definition."""

    def parse_timer_event(self, event: Any) -> Any:
        return bounded(super().parse_timer_event(event))  # type: ignore[misc]


class _ErrorAndEscalationStarts:
    """Mixed into start event parsers: the start event of an event subprocess may catch an error
    or an escalation (BPMN 10.5.2). SpiffWorkflow 3.2's start event parser reads neither, so such
    an event subprocess started with its process, as if its start were a none start."""

    def get_event_definition(self, xpaths: list[str]) -> Any:
        if self.node.getparent().get("triggeredByEvent") == "true":  # type: ignore[attr-defined]
            xpaths = [*xpaths, *(x for x in (ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH) if x not in xpaths)]
        return super().get_event_definition(xpaths)  # type: ignore[misc]


class _UnconditionalFlows:
    """Mixed into a gateway parser: an outgoing flow of an exclusive or inclusive gateway with no
    condition (and not the default) is always taken, as Camunda 7 and Flowable take it (an
    exclusive gateway takes the first true flow in document order). SpiffWorkflow refuses it."""

    def connect_outgoing(self, outgoing_task: Any, sequence_flow_node: Any, is_default: bool) -> None:
        if not is_default and self.parse_condition(sequence_flow_node) is None:  # type: ignore[attr-defined]
            self.task.connect_outgoing_if("True", outgoing_task)  # type: ignore[attr-defined]
            return
        super().connect_outgoing(outgoing_task, sequence_flow_node, is_default)  # type: ignore[misc]


class _ImplicitSplit:
    """Mixed into every task and event parser: several outgoing flows without a condition leave a
    task or event in parallel, BPMN's implicit split (SpiffWorkflow refuses more than one). A flow
    with a condition there (an implicit inclusive split) is still refused."""

    def handles_multiple_outgoing(self) -> bool:
        flows = self.process_parser.get_outgoing_sequence_flows(self.bpmn_id)  # type: ignore[attr-defined]
        if not any(self.parse_condition(f) is not None for f in flows):  # type: ignore[attr-defined]
            return True
        return super().handles_multiple_outgoing()  # type: ignore[misc]


_MIXED: dict[tuple[type, type], type] = {}


def _mixed(mixin: type, parser_class: type) -> type:
    if (mixin, parser_class) not in _MIXED:
        _MIXED[mixin, parser_class] = type(parser_class.__name__, (mixin, parser_class), {"__module__": __name__})
    return _MIXED[mixin, parser_class]


def _local_items(parser_class: type) -> type:
    """``parser_class`` building multi-instance activities whose items stay with each instance
    (``engine.spiff.multiinstance``), where it builds SpiffWorkflow's."""
    mi = {attr: getattr(parser_class, attr, None) for attr in ("PARALLEL_MI_CLASS", "SEQUENTIAL_MI_CLASS")}
    if not any(cls in LOCAL_ITEMS for cls in mi.values()):
        return parser_class
    if ("local-items", parser_class) not in _MIXED:
        _MIXED["local-items", parser_class] = type(parser_class.__name__, (parser_class,), {
            "__module__": __name__, **{attr: LOCAL_ITEMS.get(cls, cls) for attr, cls in mi.items()}})
    return _MIXED["local-items", parser_class]


def _aicmp_parsers(classes: dict[str, tuple[type, type]]) -> dict[str, tuple[type, type]]:
    """SpiffWorkflow's parser table as aicmp parses: each event parser's timers bounded and its
    compensation events read; each conditional gateway parser taking flows without a condition;
    every other task and event parser splitting implicitly; and every task parser mapping data
    associations, reading the multi-instance items drawn for Camunda (kept with each instance) and
    parsing an activity's compensation handler beside it."""
    table = {}
    for tag, (parser_class, spec_class) in classes.items():
        if issubclass(parser_class, ConditionalGatewayParser):
            parser_class = _mixed(_UnconditionalFlows, parser_class)
        elif issubclass(parser_class, TaskParser):
            if issubclass(parser_class, StartEventParser):
                parser_class = _mixed(_ErrorAndEscalationStarts, parser_class)
            if issubclass(parser_class, EventDefinitionParser):
                parser_class = _mixed(CompensationEvents, _mixed(_BoundedTimers, parser_class))
            parser_class = _mixed(_ImplicitSplit, parser_class)
        if issubclass(parser_class, TaskParser):
            parser_class = _local_items(_mixed(CompensableActivities, _mixed(
                LoopCollectionItems, _mixed(DataMappingParsers, parser_class))))
        table[tag] = (parser_class, spec_class)
    return table


class AicmpSpiffParser(ProcessDataStores, SpiffBpmnParser):
    PROCESS_PARSER_CLASS = _mixed(CompensationHandlers, SpiffBpmnParser.PROCESS_PARSER_CLASS)
    OVERRIDE_PARSER_CLASSES = _aicmp_parsers({
        **SpiffBpmnParser.PARSER_CLASSES,
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (_OperatorServiceTaskParser, OperatorServiceTask),
    })


class AicmpCamundaParser(ProcessDataStores, CamundaParser):
    PROCESS_PARSER_CLASS = _mixed(CompensationHandlers, CamundaParser.PROCESS_PARSER_CLASS)
    OVERRIDE_PARSER_CLASSES = _aicmp_parsers({
        **CamundaParser.PARSER_CLASSES,
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (_CamundaServiceTaskParser, CamundaServiceTask),
    })


PARSERS: dict[str, type] = {"spiff": AicmpSpiffParser, "camunda": AicmpCamundaParser}
