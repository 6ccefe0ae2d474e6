"""The two SpiffWorkflow parsers aicmp uses, with its own service-task specs plugged in.

Designers draw in bpmn.io (spiff extensions) or Camunda Modeler; a file set is parsed with the
spiff parser first and, if that fails, with the Camunda parser (see ``engine.spiff.loader``).
Every event parser of both builds its timers as ``engine.spiff.timer_events`` definitions, whose
values are read by the bounded ``engine.spiff.durations``.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import EventDefinitionParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser

from engine.spiff.specs import CamundaServiceTask, OperatorServiceTask
from engine.spiff.timer_events import bounded

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_CAMUNDA_OPERATOR_ATTRS = ("topic", "delegateExpression", "class", "expression", "type")


class _CamundaServiceTaskParser(TaskParser):
    def create_task(self) -> CamundaServiceTask:
        name = ""
        for attr in _CAMUNDA_OPERATOR_ATTRS:
            value = self.node.get(f"{{{CAMUNDA_NS}}}{attr}")
            if value:
                name = value
                break
        return self.spec_class(self.spec, self.bpmn_id, operation_name=name, **self.bpmn_attributes)


class _BoundedTimers:
    """Mixed into an event parser: the timer SpiffWorkflow reads becomes aicmp's definition."""

    def parse_timer_event(self, event: Any) -> Any:
        return bounded(super().parse_timer_event(event))  # type: ignore[misc]


_TIMER_PARSERS: dict[type, type] = {}


def _bounded_timers(classes: dict[str, tuple[type, type]]) -> dict[str, tuple[type, type]]:
    """The parser table with each event parser (anything that may read a timer) made bounded."""
    table = {}
    for tag, (parser_class, spec_class) in classes.items():
        if issubclass(parser_class, EventDefinitionParser):
            if parser_class not in _TIMER_PARSERS:
                _TIMER_PARSERS[parser_class] = type(parser_class.__name__, (_BoundedTimers, parser_class),
                                                    {"__module__": __name__})
            parser_class = _TIMER_PARSERS[parser_class]
        table[tag] = (parser_class, spec_class)
    return table


class AicmpSpiffParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = _bounded_timers({
        **SpiffBpmnParser.PARSER_CLASSES,
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, OperatorServiceTask),
    })


class AicmpCamundaParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = _bounded_timers({
        **CamundaParser.PARSER_CLASSES,
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (_CamundaServiceTaskParser, CamundaServiceTask),
    })


PARSERS: dict[str, type] = {"spiff": AicmpSpiffParser, "camunda": AicmpCamundaParser}
