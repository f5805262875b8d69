"""Archive wire models (letta-client `Archive`, create/update bodies, archive passage bodies)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import LettaRequest, Tag
from engram.embed.registry import embedding_config
from engram.store.models import Archive


class ArchiveOut(BaseModel):
    id: str
    name: str
    description: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    embedding_config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    vector_db_provider: Literal["native"] = "native"

    @classmethod
    def from_domain(cls, archive: Archive, default_embedding: str) -> ArchiveOut:
        return cls(
            id=archive.id, name=archive.name, description=archive.description, created_at=archive.created_at,
            updated_at=archive.updated_at, embedding_config=embedding_config(archive.embedding or default_embedding),
            metadata=archive.metadata_ or {},
        )  # fmt: skip


class CreateArchive(LettaRequest):
    name: str = Field(min_length=1, max_length=500)
    description: str | None = None
    embedding: str | None = None
    embedding_config: dict[str, Any] | None = None

    def embedding_handle(self) -> str | None:
        """`embedding`, or the handle inside a Letta `embedding_config` (`handle`, else provider/model)."""
        if self.embedding:
            return self.embedding
        config = self.embedding_config or {}
        if config.get("handle"):
            return str(config["handle"])
        if config.get("embedding_endpoint_type") and config.get("embedding_model"):
            return f"{config['embedding_endpoint_type']}/{config['embedding_model']}"
        return None


class UpdateArchive(LettaRequest):
    name: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = None


class CreateArchivePassage(LettaRequest):
    text: str = Field(min_length=1)
    created_at: datetime | None = None
    metadata: dict[str, Any] | None = None
    tags: list[Tag] | None = None


class CreateArchivePassages(LettaRequest):
    passages: list[CreateArchivePassage] = Field(min_length=1, max_length=1000)
