"""Archival memory passages; embeddings are stored per (model, dimension) in one untyped vector column.

An HNSW index per dimension is an expression index on `embedding::vector(N)` restricted to rows of that
dimension, so agents with different embedding models share the table and a model change needs no new DB.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import Computed, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base, OrgMixin, TimestampMixin


class Archive(OrgMixin, TimestampMixin, Base):
    __tablename__ = "archives"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    embedding: Mapped[str | None] = mapped_column(String(200))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")


class AgentArchive(Base):
    __tablename__ = "agent_archives"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    archive_id: Mapped[str] = mapped_column(ForeignKey("archives.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64), index=True)


class Passage(OrgMixin, TimestampMixin, Base):
    __tablename__ = "passages"
    __table_args__ = (
        Index("ix_passages_agent_created", "agent_id", "created_at"),
        Index("ix_passages_search_tsv", "search_tsv", postgresql_using="gin"),
        Index("ix_passages_tags", "tags", postgresql_using="gin"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    archive_id: Mapped[str | None] = mapped_column(ForeignKey("archives.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list, server_default="{}")
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    embedding: Mapped[list[float] | None] = mapped_column(Vector())
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    embedding_dim: Mapped[int | None] = mapped_column(Integer)
    file_id: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(64))
    search_tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed("to_tsvector('english', coalesce(text, ''))", persisted=True), deferred=True
    )
    deleted_at: Mapped[datetime | None]
