"""Agents, and their links to blocks and tools."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base, OrgMixin, TimestampMixin


class Agent(OrgMixin, TimestampMixin, Base):
    __tablename__ = "agents"
    # The agent list (API and console) pages newest first within an organization: an index walk, not a sort.
    __table_args__ = (Index("ix_agents_org_created", "organization_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(500), index=True)
    agent_type: Mapped[str] = mapped_column(String(64), default="letta_v1_agent")
    system: Mapped[str] = mapped_column(Text, default="", doc="System prompt template; {CORE_MEMORY} is substituted")
    description: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200), doc="LLM handle provider/model")
    embedding: Mapped[str | None] = mapped_column(String(200), doc="Embedding handle provider/model")
    context_window_limit: Mapped[int | None] = mapped_column(Integer)
    llm_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    embedding_config: Mapped[dict[str, Any] | None]
    model_settings: Mapped[dict[str, Any] | None]
    compaction_settings: Mapped[dict[str, Any] | None]
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list, server_default="{}")
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    tool_rules: Mapped[list[Any]] = mapped_column(default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    secrets: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="Env vars handed to this agent's tools")
    message_buffer_autoclear: Mapped[bool] = mapped_column(default=False)
    enable_sleeptime: Mapped[bool] = mapped_column(default=False)
    max_files_open: Mapped[int | None] = mapped_column(Integer)
    per_file_view_window_char_limit: Mapped[int | None] = mapped_column(Integer)
    is_disabled: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool | None]
    # The context window is [system message] + [summary message] + messages with position >= context_start.
    system_message_id: Mapped[str | None] = mapped_column(String(64))
    summary_message_id: Mapped[str | None] = mapped_column(String(64))
    context_start_position: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    system_compiled_at: Mapped[datetime | None]
    last_run_completion: Mapped[datetime | None]
    last_run_duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_stop_reason: Mapped[str | None] = mapped_column(String(64))


class AgentBlock(Base):
    """A block attached to an agent; the same block attached to several agents is shared memory."""

    __tablename__ = "agent_blocks"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    block_id: Mapped[str] = mapped_column(ForeignKey("blocks.id", ondelete="CASCADE"), primary_key=True, index=True)
    organization_id: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0, doc="attach order, rendered in this order")


class AgentTool(Base):
    __tablename__ = "agent_tools"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    tool_id: Mapped[str] = mapped_column(ForeignKey("tools.id", ondelete="CASCADE"), primary_key=True, index=True)
    organization_id: Mapped[str] = mapped_column(String(64), index=True)
    requires_approval: Mapped[bool | None] = mapped_column(doc="per-agent override of tool.default_requires_approval")
    position: Mapped[int] = mapped_column(BigInteger, default=0)
