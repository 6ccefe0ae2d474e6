"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""

from engine.models.base import Base
from engine.models.inbox import HumanTask, HumanTaskCandidate
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
from engine.models.waits import DueTimer, Job, MessageSubscription

__all__ = [
    "Base",
    "BpmnFile",
    "Deployment",
    "DeploymentFile",
    "DueTimer",
    "HumanTask",
    "HumanTaskCandidate",
    "Incident",
    "Job",
    "MessageSubscription",
    "ProcessDefinition",
    "ProcessInstance",
    "TaskHistory",
    "Tenant",
]
