"""Sleep-time groups: a primary agent, the background agent that edits its memory, and when it runs."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base, OrgMixin, TimestampMixin


class SleeptimeGroup(OrgMixin, TimestampMixin, Base):
    """Letta's `manager_type=sleeptime` group, plus the Temporal Schedule that also wakes it.

    `last_processed_position` is the recall position the last claimed transcript ended at: a window
    is claimed in the transaction that creates the sleep-time run carrying it, so no message is
    handed to two runs (a failed run hands its window back).
    """

    __tablename__ = "sleeptime_groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    manager_agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), unique=True)
    sleeptime_agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    frequency: Mapped[int | None] = mapped_column(Integer, default=5, doc="every N completed turns; None = every turn")
    turns_counter: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_counted_run_id: Mapped[str | None] = mapped_column(String(64), doc="makes counting a turn idempotent")
    last_processed_message_id: Mapped[str | None] = mapped_column(String(64))
    last_processed_position: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    schedule_interval_s: Mapped[float | None] = mapped_column(Float)
    schedule_cron: Mapped[str | None] = mapped_column(String(200))
    schedule_jitter_s: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    schedule_catchup_window_s: Mapped[float] = mapped_column(Float, default=300.0, server_default="300")
    schedule_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class SleeptimeThread(Base):
    """How far sleep-time has counted and reviewed one conversation of the primary agent.

    The group's own counter and window serve the agent's default thread; each conversation (a private
    thread of one end user) counts its turns and is reviewed on its own, so a sleep-time pass only
    ever sees one conversation's transcript.
    """

    __tablename__ = "sleeptime_threads"

    group_id: Mapped[str] = mapped_column(ForeignKey("sleeptime_groups.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64), index=True)
    turns_counter: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_counted_run_id: Mapped[str | None] = mapped_column(String(64))
    last_processed_message_id: Mapped[str | None] = mapped_column(String(64))
    last_processed_position: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
