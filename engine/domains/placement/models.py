"""The placement step's record of one application: the plans it was offered, what the applicant
picked, and the choice a platform operator confirmed (``placement_choices``, migration 0012).

Why a table: the plans of a large instance (1,000 pools, explanations, runner-ups) are too big for
the process data, which is saved at every step; the process keeps only a summary and the choice,
and the application detail reads the plans from here while the applicant and operator decide.
Solving itself stores nothing: the CLI's plans are never kept.

Lifecycle of a row (one per application; the transitions are ``choices``)::

    (none)     --record_plans-->              deciding
    deciding   --record_plans (re-solve)-->   deciding     a new round; any pick is forgotten
    deciding   --pick-->                      confirming
    confirming --confirm: return-->           deciding     with the operator's comment
    confirming --confirm: approve-->          chosen       final: ``choice`` is placement_choice
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.models.base import Base, IdColumn, new_id, utcnow

STATUSES = ("deciding", "confirming", "chosen")


class PlacementChoice(Base):
    __tablename__ = "placement_choices"
    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="deciding")
    round: Mapped[int] = mapped_column(Integer, default=1)  # how many times the plans were solved
    weights: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)  # the custom weights of this round
    plans: Mapped[list[Any]] = mapped_column()  # the plans as the solver answered them (figures, explanation)
    objective: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the applicant's pick
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)  # the operator's, when returned
    choice: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)  # placement_choice, once confirmed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    chosen_at: Mapped[datetime | None] = mapped_column(nullable=True)
