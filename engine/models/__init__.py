"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""

from engine.models.base import Base
from engine.models.process import (
    BpmnFile,
    Deployment,
    DeploymentFile,
    Incident,
    ProcessDefinition,
    ProcessInstance,
    TaskHistory,
)
from engine.models.tenancy import Tenant

__all__ = [
    "Base",
    "BpmnFile",
    "Deployment",
    "DeploymentFile",
    "Incident",
    "ProcessDefinition",
    "ProcessInstance",
    "TaskHistory",
    "Tenant",
]
