"""Folders (Letta's "sources"), their files, the files' chunk passages, and what agents see of them.

A file's chunks live in `file_passages`, keyed by (file, chunk index) with ids derived from both, so an
ingestion retried after a crash rewrites the same rows instead of adding new ones. A chunk row is written
without a vector first and gets its embedding later, so "embedded" means `embedding IS NOT NULL`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Computed,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, deferred, mapped_column

from engram.store.models.base import Base, OrgMixin, TimestampMixin, utcnow

FILE_STATUSES = ("pending", "parsing", "embedding", "completed", "error")


class Folder(OrgMixin, TimestampMixin, Base):
    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    embedding: Mapped[str] = mapped_column(
        String(200), doc="embedding handle the folder's passages are made with"
    )
    embedding_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    embedding_chunk_size: Mapped[int] = mapped_column(
        Integer, default=300, doc="chunk size in tokens (Letta's)"
    )


class FolderFile(OrgMixin, TimestampMixin, Base):
    """One uploaded file; `raw` holds the uploaded bytes until (and after) ingestion parses them."""

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_folder_created", "folder_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    folder_id: Mapped[str] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(1000), doc="'<folder>/<name>' as the agent sees it (Letta)")
    original_file_name: Mapped[str] = mapped_column(String(1000))
    file_path: Mapped[str | None] = mapped_column(Text)
    file_type: Mapped[str | None] = mapped_column(String(200), doc="MIME type")
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    processing_status: Mapped[str] = mapped_column(String(16), default="pending")
    error_message: Mapped[str | None] = mapped_column(Text)
    total_chunks: Mapped[int | None] = mapped_column(Integer)
    chunks_embedded: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[str | None] = deferred(mapped_column(Text, doc="extracted text, set by the parse step"))
    raw: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))


class FilePassage(OrgMixin, Base):
    __tablename__ = "file_passages"
    __table_args__ = (
        UniqueConstraint("file_id", "chunk_index"),
        Index("ix_file_passages_folder", "folder_id"),
        Index("ix_file_passages_search_tsv", "search_tsv", postgresql_using="gin"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    folder_id: Mapped[str] = mapped_column(String(64))
    chunk_index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[list[float] | None] = mapped_column(Vector())
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    embedding_dim: Mapped[int | None] = mapped_column(Integer)
    search_tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed("to_tsvector('english', coalesce(text, ''))", persisted=True), deferred=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class AgentFolder(Base):
    __tablename__ = "agent_folders"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    folder_id: Mapped[str] = mapped_column(
        ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    organization_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)


class FileAgent(OrgMixin, TimestampMixin, Base):
    """What one agent sees of one file: open or closed, the visible window, when it last touched it (LRU)."""

    __tablename__ = "file_agents"
    __table_args__ = (
        UniqueConstraint("agent_id", "file_id"),
        Index("ix_file_agents_agent_open", "agent_id", "is_open"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    folder_id: Mapped[str] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(1000))
    is_open: Mapped[bool] = mapped_column(default=False)
    visible_content: Mapped[str | None] = mapped_column(Text)
    start_line: Mapped[int | None] = mapped_column(
        Integer, doc="1-based first visible line, None = whole file"
    )
    end_line: Mapped[int | None] = mapped_column(Integer)
    last_accessed_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
