"""Runs (one user request each), steps (one LLM call each), and the per-run event log for streaming."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base, OrgMixin, TimestampMixin, utcnow

RUN_STATUSES = ("created", "running", "completed", "failed", "cancelled")


class Run(OrgMixin, TimestampMixin, Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_agent_created", "agent_id", "created_at"), Index("ix_runs_created", "created_at"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Not indexed alone: every query also names an indexed column, see migration 0012.
    organization_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="created")
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    background: Mapped[bool] = mapped_column(default=False)
    run_type: Mapped[str] = mapped_column(String(64), default="send_message")
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    temporal_run_id: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[str | None] = mapped_column(String(64), index=True, doc="dedupes SDK retries of one send")
    input_messages: Mapped[list[Any]] = mapped_column(default=list, doc="the request's messages, ids pre-minted")
    request_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    usage: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    callback_url: Mapped[str | None] = mapped_column(Text)
    callback_sent_at: Mapped[datetime | None]
    callback_status_code: Mapped[int | None] = mapped_column(Integer)
    callback_error: Mapped[str | None] = mapped_column(Text)
    total_duration_ns: Mapped[int | None] = mapped_column(BigInteger)
    ttft_ns: Mapped[int | None] = mapped_column(BigInteger)
    completed_at: Mapped[datetime | None]


class Step(OrgMixin, Base):
    __tablename__ = "steps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(String(64), index=True)
    step_index: Mapped[int] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="success")
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    context_tokens: Mapped[int | None] = mapped_column(Integer)
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[dict[str, Any] | None]
    duration_ns: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunEvent(Base):
    """The stream of one run: chunk `seq` counts from 1; readers resume with `seq > starting_after`.

    `event_key` makes writes idempotent: a retried activity re-emits the same keys and adds nothing.
    """

    __tablename__ = "run_events"
    __table_args__ = (UniqueConstraint("run_id", "event_key"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), doc="message | delta | step_retry | stop_reason | usage | error | done")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
