"""What BPMN service tasks do: operators registered by name (see ``tasks.registry``).

Importing this package registers every built-in operator.
"""

from tasks import (  # noqa: F401 - importing a module registers its operators
    applications,
    billing,
    connector,
    notify,
    orders,
    placement,
    provisioning,
    quota,
    resource_actions,
    vouchers,
    work_orders,
)
from tasks.registry import REGISTRY, Operator, OperatorError, OperatorRegistry, operator

__all__ = ["REGISTRY", "Operator", "OperatorError", "OperatorRegistry", "operator"]
