"""Block wire models: `BlockResponse` out, `CreateBlock` / `BlockUpdate` in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.schemas.common import INT32_MAX, LettaRequest, Tag
from engram.schemas.agent import BlockSpec
from engram.store.models import Block
from engram.store.models.block import DEFAULT_BLOCK_LIMIT


class BlockOut(BaseModel):
    """letta-client `BlockResponse` (also the `Block` inside `AgentState`)."""

    id: str
    value: str
    label: str | None = None
    limit: int | None = None
    description: str | None = None
    read_only: bool = False
    hidden: bool | None = None
    is_template: bool = False
    template_name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    project_id: str | None = None
    template_id: str | None = None
    base_template_id: str | None = None
    deployment_id: str | None = None
    entity_id: str | None = None
    preserve_on_migration: bool | None = None
    created_by_id: str | None = None
    last_updated_by_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_domain(cls, block: Block) -> BlockOut:
        return cls(
            id=block.id, value=block.value, label=block.label, limit=block.limit, description=block.description,
            read_only=block.read_only, hidden=block.hidden, is_template=block.is_template,
            template_name=block.template_name, metadata=block.metadata_ or {}, tags=list(block.tags or []),
            created_at=block.created_at, updated_at=block.updated_at,
        )  # fmt: skip


class CreateBlock(LettaRequest):
    label: str = Field(min_length=1, max_length=200)
    value: str
    limit: int = Field(default=DEFAULT_BLOCK_LIMIT, ge=1, le=INT32_MAX)
    description: str | None = None
    read_only: bool = False
    hidden: bool | None = None
    is_template: bool = False
    template_name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None
    tags: list[Tag] | None = None

    def to_domain(self) -> BlockSpec:
        return BlockSpec(
            label=self.label, value=self.value, limit=self.limit, description=self.description,
            read_only=self.read_only, hidden=self.hidden, is_template=self.is_template,
            template_name=self.template_name, metadata=self.metadata, tags=self.tags or [],
        )  # fmt: skip


class BlockUpdate(LettaRequest):
    """Every field optional; only the fields the caller sent are changed."""

    value: str | None = None
    label: str | None = Field(default=None, min_length=1, max_length=200)
    limit: int | None = Field(default=None, ge=1, le=INT32_MAX)
    description: str | None = None
    read_only: bool | None = None
    hidden: bool | None = None
    is_template: bool | None = None
    template_name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None
    tags: list[Tag] | None = None

    def to_changes(self) -> dict[str, Any]:
        """Column changes: sent fields only; nulls for non-nullable columns are ignored."""
        sent = self.model_dump(exclude_unset=True)
        nullable = {"description", "hidden", "template_name", "metadata"}
        changes = {k: v for k, v in sent.items() if v is not None or k in nullable}
        if "metadata" in changes:
            changes["metadata_"] = changes.pop("metadata")
        return changes
