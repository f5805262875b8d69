"""Conversations: private threads over one agent; each owns its own context window bookkeeping.

The agent's memory (blocks, archival, tools) is shared by all its conversations; what is per thread is
the message history (`messages.conversation_id`) and the context window pointers below, which mirror
the agent's own columns (the agent's own "default" thread keeps using those on `agents`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base, OrgMixin, TimestampMixin


class Conversation(OrgMixin, TimestampMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_agent_created", "agent_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    summary: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    archived: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None]
    hidden: Mapped[bool] = mapped_column(default=False)
    model: Mapped[str | None] = mapped_column(String(200), doc="overrides the agent's model in this thread")
    model_settings: Mapped[dict[str, Any] | None]
    context_window_limit: Mapped[int | None] = mapped_column(Integer)
    last_message_at: Mapped[datetime | None]
    last_run_completion: Mapped[datetime | None]
    # Same meaning as on Agent, for this thread: [system] + [summary] + rows with position >= context_start.
    system_message_id: Mapped[str | None] = mapped_column(String(64))
    summary_message_id: Mapped[str | None] = mapped_column(String(64))
    context_start_position: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    system_compiled_at: Mapped[datetime | None]
