"""The task inbox: one row per READY user task, who may work it, and the operations on it.

``Inbox(engine)`` installs the save hook (``sync``) and is what the REST layer calls; ``rows``
decides candidates and due dates, ``queries`` reads, ``returns`` sends a task back.
"""

from engine.inbox.queries import TaskPage, TaskView
from engine.inbox.service import Inbox, TaskDetail

__all__ = ["Inbox", "TaskDetail", "TaskPage", "TaskView"]
