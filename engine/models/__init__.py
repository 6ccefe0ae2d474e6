"""The core's SQLAlchemy models; importing this package registers their tables on ``Base.metadata``.

The domains' tables are registered by importing their ``models`` modules:
``engine.core.model_metadata()`` (the Engine and the migration tools do).
"""

from engine.models.api_state import AuthSession, IdempotencyRecord, LoginFailure, PolicyVersion, RevokedToken
from engine.models.audit import AuditCheckpoint, AuditEntry
from engine.models.base import Base
from engine.models.inbox import HumanTask, HumanTaskCandidate
from engine.models.notices import SiteMessage
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
    "AuditCheckpoint",
    "AuditEntry",
    "AuthSession",
    "BusinessSystem",
    "BusinessSystemMember",
    "IdempotencyRecord",
    "LoginFailure",
    "Organization",
    "PolicyVersion",
    "Quota",
    "RevokedToken",
    "Role",
    "SiteMessage",
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
