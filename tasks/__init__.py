"""What BPMN service tasks do: operators registered by name (see ``tasks.registry``).

Importing this package registers every built-in operator.
"""

from tasks import applications, notify, orders, quota  # noqa: F401 - register their operators
from tasks.registry import REGISTRY, Operator, OperatorError, OperatorRegistry, operator

__all__ = ["REGISTRY", "Operator", "OperatorError", "OperatorRegistry", "operator"]
