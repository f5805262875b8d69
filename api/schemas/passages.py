"""Archival memory wire models: `Passage` (embedding omitted), create body, search response."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import LettaRequest, Tag
from engram.store.models import Passage
from engram.store.passages import PassageHit


class PassageOut(BaseModel):
    """letta-client `Passage`; `embedding` is left null (hundreds of floats per item help nobody)."""

    id: str
    text: str
    agent_id: str | None = None
    archive_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None
    embedding: list[float] | None = None
    embedding_config: dict[str, Any] | None = None
    file_id: str | None = None
    source_id: str | None = None
    is_deleted: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_domain(cls, passage: Passage | PassageHit, embedding_config: dict[str, Any] | None = None) -> PassageOut:
        return cls(
            id=passage.id, text=passage.text, agent_id=passage.agent_id, archive_id=passage.archive_id,
            tags=list(passage.tags or []), metadata=passage.metadata_ or {}, embedding_config=embedding_config,
            file_id=passage.file_id, source_id=passage.source_id, created_at=passage.created_at,
            updated_at=passage.updated_at,
        )  # fmt: skip


class CreatePassage(LettaRequest):
    text: str = Field(min_length=1)
    tags: list[Tag] | None = None
    created_at: datetime | None = None


class SearchResult(BaseModel):
    id: str
    content: str
    timestamp: str
    tags: list[str] = Field(default_factory=list)


class SearchResponse(BaseModel):
    count: int
    results: list[SearchResult]


class PassageSearch(LettaRequest):
    """Body of `POST /v1/passages/search` (`client.passages.search`)."""

    query: str = Field(min_length=1)
    agent_id: str | None = None
    archive_id: str | None = None
    tags: list[str] | None = None
    tag_match_mode: Literal["any", "all"] = "any"
    start_date: datetime | None = None
    end_date: datetime | None = None
    limit: int | None = None


class ScoredPassage(BaseModel):
    passage: PassageOut
    score: float
    metadata: dict[str, Any] | None = None
