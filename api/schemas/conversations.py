"""Wire models for `/v1/conversations` (letta-client 1.12.1 `Conversation` and its params).

The message bodies are the agent ones (api/schemas/messages.py) with two conversation twists: the
`agent_id` of the "default" thread rides in the body, and sends stream unless told otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.messages import LettaStreamingRequest, RunStreamRequest


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ConversationCreate(_Body):
    summary: str | None = None
    description: str | None = None
    model: str | None = None
    model_settings: dict[str, Any] | None = None
    context_window_limit: int | None = Field(default=None, ge=1)
    hidden: bool = False


class ConversationUpdate(_Body):
    summary: str | None = None
    description: str | None = None
    archived: bool | None = None
    model: str | None = None
    model_settings: dict[str, Any] | None = None
    context_window_limit: int | None = Field(default=None, ge=1)
    last_message_at: datetime | None = None


class ConversationOut(BaseModel):
    id: str
    agent_id: str
    summary: str | None = None
    description: str | None = None
    archived: bool = False
    archived_at: datetime | None = None
    in_context_message_ids: list[str] | None = None
    model: str | None = None
    model_settings: dict[str, Any] | None = None
    context_window_limit: int | None = None
    last_message_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by_id: str | None = None
    last_updated_by_id: str | None = None

    @classmethod
    def from_domain(cls, conv: Any, in_context_message_ids: list[str] | None = None) -> ConversationOut:
        return cls(
            id=conv.id, agent_id=conv.agent_id, summary=conv.summary, description=conv.description,
            archived=bool(conv.archived), archived_at=conv.archived_at, in_context_message_ids=in_context_message_ids,
            model=conv.model, model_settings=conv.model_settings, context_window_limit=conv.context_window_limit,
            last_message_at=conv.last_message_at, created_at=conv.created_at, updated_at=conv.updated_at,
        )  # fmt: skip


class ConversationMessageRequest(LettaStreamingRequest):
    """`POST /v1/conversations/{id}/messages`: streams by default (the SDK always parses SSE)."""

    streaming: bool = True
    agent_id: str | None = None


class ConversationStreamRequest(RunStreamRequest):
    """`POST /v1/conversations/{id}/stream`: resume the thread's latest run (or `run_id`)."""

    agent_id: str | None = None
    run_id: str | None = None
    otid: str | None = None


class ConversationAgentBody(_Body):
    """Body of recompile and compact: the "default" thread's agent, and compaction settings (accepted)."""

    agent_id: str | None = None
    compaction_settings: dict[str, Any] | None = None
