"""The two SpiffWorkflow parsers aicmp uses, with its own service-task specs plugged in.

Designers draw in bpmn.io (spiff extensions) or Camunda Modeler; a file set is parsed with the
spiff parser first and, if that fails, with the Camunda parser (see ``engine.spiff.loader``).
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser

from engine.spiff.specs import CamundaServiceTask, OperatorServiceTask

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


class AicmpSpiffParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (ServiceTaskParser, OperatorServiceTask),
    }


class AicmpCamundaParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (_CamundaServiceTaskParser, CamundaServiceTask),
    }


PARSERS: dict[str, type] = {"spiff": AicmpSpiffParser, "camunda": AicmpCamundaParser}
