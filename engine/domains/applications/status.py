"""Application status rules: the statuses, the quota states, and which status may follow which.

draft -> pending (submitted, in approval) -> ordered
         pending -> returned (rejected: the applicant edits and resubmits, or cancels) -> pending | cancelled
         pending -> draft (withdrawn before the first approval)
"""

from __future__ import annotations

APPLICATION_STATUSES = ("draft", "pending", "returned", "approved", "ordered", "cancelled")
# the quota an application holds: none, in process (reserved), used (committed with its order), released
QUOTA_STATES = ("none", "reserved", "committed", "released")
# what the applicant may still edit
EDITABLE = ("draft", "returned")
# status -> the statuses it may be reached from through the applications port (``ordered`` only
# through the orders port)
TRANSITIONS = {
    "pending": ("draft", "returned"),
    "returned": ("pending",),
    "approved": ("pending",),
    "draft": ("pending",),
    "cancelled": ("draft", "pending", "returned"),
}
