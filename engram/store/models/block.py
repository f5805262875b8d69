"""Core memory blocks; `version` makes concurrent edits compare-and-set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base, OrgMixin, TimestampMixin, utcnow

DEFAULT_BLOCK_LIMIT = 100_000  # Letta's CORE_MEMORY_BLOCK_CHAR_LIMIT; soft, shown to the model


class Block(OrgMixin, TimestampMixin, Base):
    __tablename__ = "blocks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), index=True)
    value: Mapped[str] = mapped_column(Text, default="")
    limit: Mapped[int] = mapped_column(Integer, default=DEFAULT_BLOCK_LIMIT)
    description: Mapped[str | None] = mapped_column(Text)
    read_only: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool | None]
    is_template: Mapped[bool] = mapped_column(default=False)
    template_name: Mapped[str | None] = mapped_column(String(200))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list, server_default="{}")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1", doc="bumped by every edit (CAS)")


class MemoryOp(Base):
    """One applied memory edit, keyed by an id the workflow chose, so a retried edit applies once."""

    __tablename__ = "memory_ops"

    op_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64), index=True)
    block_id: Mapped[str | None] = mapped_column(ForeignKey("blocks.id", ondelete="CASCADE"), index=True)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="the tool result first returned")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
