"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""

from engine.models import applications, catalog  # noqa: F401 - register their tables
from engine.models.api_state import IdempotencyRecord, PolicyVersion, RevokedToken
from engine.models.audit import AuditEntry
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
from engine.models.tenancy import (
    QUOTA_DIMENSIONS,
    BusinessSystem,
    BusinessSystemMember,
    Organization,
    Quota,
    Role,
    Tenant,
    User,
    UserRole,
)
from engine.models.urges import TaskUrge
from engine.models.waits import DueTimer, Job, MessageSubscription

__all__ = [
    "QUOTA_DIMENSIONS",
    "AuditEntry",
    "BusinessSystem",
    "BusinessSystemMember",
    "IdempotencyRecord",
    "Organization",
    "PolicyVersion",
    "Quota",
    "RevokedToken",
    "Role",
    "User",
    "UserRole",
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
    "TaskUrge",
    "Tenant",
]
