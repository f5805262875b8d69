"""Recall memory: every message ever exchanged, ordered per agent by `position`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Computed, ForeignKey, Identity, Index, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base, OrgMixin, utcnow


class Message(OrgMixin, Base):
    """One stored row; a row may expand into several LettaMessages (reasoning + tool call + assistant).

    `position` is a global identity: it totally orders rows (ties in created_at are impossible) and is
    the cursor the context window and pagination use.
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_agent_conv_position", "agent_id", "conversation_id", "position"),
        Index("ix_messages_search_tsv", "search_tsv", postgresql_using="gin"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, Identity(always=False), unique=True)
    # Not indexed alone: every query also names an indexed column, see migration 0012.
    organization_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32), doc="system | user | assistant | tool | approval | summary")
    content: Mapped[list[Any]] = mapped_column(default=list, doc="content parts [{type:text,text}, ...]; system rows: empty, see row_content")
    text: Mapped[str] = mapped_column(Text, default="", doc="plain text of content, for search and rendering")
    reasoning: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(200))
    tool_calls: Mapped[list[Any] | None] = mapped_column(doc="[{id, type:function, function:{name, arguments}}]")
    tool_call_id: Mapped[str | None] = mapped_column(String(200))
    tool_returns: Mapped[list[Any] | None] = mapped_column(doc="[{tool_call_id, status, func_response, stdout, stderr}]")
    approvals: Mapped[list[Any] | None]
    otid: Mapped[str | None] = mapped_column(String(64), index=True)
    sender_id: Mapped[str | None] = mapped_column(String(64))
    group_id: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    step_id: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    is_err: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Only rows conversation_search can return: a system prompt or tool return indexed here cost each agent
    # ~4.7 KB for nothing (migration 0013).
    search_tsv: Mapped[Any | None] = mapped_column(
        TSVECTOR,
        Computed(
            "CASE WHEN role IN ('system', 'tool') THEN NULL ELSE to_tsvector('english', coalesce(text, '')) END",
            persisted=True,
        ),
        deferred=True,
    )
