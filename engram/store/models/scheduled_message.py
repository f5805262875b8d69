"""Scheduled messages: a message sent to an agent later, once or on a cron; Temporal keeps the timer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engram.schedules import ONE_TIME, SOURCE_API, ScheduleTiming
from engram.store.models.base import Base, OrgMixin, TimestampMixin


class ScheduledMessage(OrgMixin, TimestampMixin, Base):
    """One row per Temporal Schedule `scheduled-message:{id}`; the reconciler rebuilds Temporal from these."""

    __tablename__ = "scheduled_messages"
    __table_args__ = (Index("ix_scheduled_messages_agent_created", "agent_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(String(64), doc="the thread it fires in (None: the agent's own)")
    kind: Mapped[str] = mapped_column(String(16), default=ONE_TIME, doc="one-time | recurring")
    scheduled_at: Mapped[datetime | None] = mapped_column(doc="one-time: when it fires")
    cron_expression: Mapped[str | None] = mapped_column(String(200), doc="recurring: 5-field cron")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", doc="IANA zone the cron is read in")
    messages: Mapped[list[Any]] = mapped_column(default=list, doc="MessageCreate dicts, as sent")
    callback_url: Mapped[str | None] = mapped_column(Text)
    include_return_message_types: Mapped[list[Any] | None]
    max_steps: Mapped[int | None] = mapped_column(Integer)
    is_paused: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_API, doc="api | wakeup (the agent's own tool)")
    last_run_id: Mapped[str | None] = mapped_column(String(64), doc="the run its latest firing started")
    fire_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def timing(self) -> ScheduleTiming:
        return ScheduleTiming(
            id=self.id, org_id=self.organization_id, agent_id=self.agent_id, kind=self.kind,
            scheduled_at=self.scheduled_at, cron_expression=self.cron_expression, timezone=self.timezone,
            is_paused=self.is_paused,
        )  # fmt: skip
