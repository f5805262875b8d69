"""Folder and file wire models (letta-client 1.12.1 `Folder`, `FileMetadata`, `AgentFileAttachment`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import LettaRequest
from engram.files.attachment import agent_file_limits
from engram.store.models import Agent, FileAgent, Folder, FolderFile


class CreateFolder(LettaRequest):
    name: str = Field(min_length=1, max_length=500)
    description: str | None = None
    instructions: str | None = None
    metadata: dict[str, Any] | None = None
    embedding: str | None = Field(default=None, max_length=200)
    embedding_chunk_size: int | None = Field(default=None, ge=16, le=8192)
    embedding_config: dict[str, Any] | None = None

    def embedding_handle(self, default: str) -> str:
        handle = (self.embedding_config or {}).get("handle")
        return self.embedding or (handle if isinstance(handle, str) and handle else None) or default


class UpdateFolder(LettaRequest):
    name: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = None
    instructions: str | None = None
    metadata: dict[str, Any] | None = None
    embedding_config: dict[str, Any] | None = None

    def to_changes(self) -> dict[str, Any]:
        sent = self.model_dump(exclude_unset=True)
        changes = {
            k: sent[k]
            for k in ("name", "description", "instructions")
            if k in sent and (k != "name" or sent[k])
        }
        if "metadata" in sent:
            changes["metadata_"] = sent["metadata"]
        return changes


class FolderOut(BaseModel):
    """`Folder`; the agent's listing and `AgentState.sources` add `vector_db_provider` (the Source shape)."""

    id: str
    name: str
    embedding_config: dict[str, Any]
    description: str | None = None
    instructions: str | None = None
    metadata: dict[str, Any] | None = None
    organization_id: str | None = None
    vector_db_provider: Literal["native"] = "native"
    created_by_id: str | None = None
    last_updated_by_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_domain(cls, folder: Folder) -> FolderOut:
        return cls(
            id=folder.id, name=folder.name, embedding_config=folder.embedding_config, description=folder.description,
            instructions=folder.instructions, metadata=folder.metadata_, organization_id=folder.organization_id,
            created_at=folder.created_at, updated_at=folder.updated_at,
        )  # fmt: skip


def display_name(file_name: str) -> str:
    """List/retrieve show the name without its '<folder>/' prefix (Letta strips the first path segment)."""
    return file_name.split("/", 1)[1] if "/" in file_name else file_name


class FileOut(BaseModel):
    """`FileMetadata`: required `id` and `source_id` (the wire has no `folder_id`)."""

    id: str
    source_id: str
    file_name: str | None = None
    original_file_name: str | None = None
    file_path: str | None = None
    file_type: str | None = None
    file_size: int | None = None
    file_creation_date: str | None = None
    file_last_modified_date: str | None = None
    processing_status: Literal["pending", "parsing", "embedding", "completed", "error"] | None = None
    error_message: str | None = None
    total_chunks: int | None = None
    chunks_embedded: int | None = None
    content: str | None = None
    organization_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_domain(
        cls, row: FolderFile, *, strip_folder: bool = True, content: str | None = None
    ) -> FileOut:
        return cls(
            id=row.id, source_id=row.folder_id,
            file_name=display_name(row.file_name) if strip_folder else row.file_name,
            original_file_name=row.original_file_name, file_path=row.file_path, file_type=row.file_type,
            file_size=row.file_size, processing_status=row.processing_status,  # type: ignore[arg-type]
            error_message=row.error_message, total_chunks=row.total_chunks, chunks_embedded=row.chunks_embedded,
            content=content, organization_id=row.organization_id, created_at=row.created_at,
            updated_at=row.updated_at, file_creation_date=row.created_at.isoformat() if row.created_at else None,
            file_last_modified_date=row.updated_at.isoformat() if row.updated_at else None,
        )  # fmt: skip


class AgentFileOut(BaseModel):
    id: str
    file_id: str
    file_name: str
    folder_id: str
    folder_name: str
    is_open: bool
    last_accessed_at: datetime | None = None
    visible_content: str | None = None
    start_line: int | None = None
    end_line: int | None = None

    @classmethod
    def from_domain(cls, row: FileAgent, folder_name: str) -> AgentFileOut:
        return cls(
            id=row.id, file_id=row.file_id, file_name=row.file_name, folder_id=row.folder_id, folder_name=folder_name,
            is_open=row.is_open, last_accessed_at=row.last_accessed_at, visible_content=row.visible_content,
            start_line=row.start_line, end_line=row.end_line,
        )  # fmt: skip


class AgentFilesPage(BaseModel):
    """`PaginatedAgentFiles`: the SDK pages with `after=<last files[].id>` until `has_more` is false."""

    files: list[AgentFileOut]
    next_cursor: str | None = None
    has_more: bool = False


def file_blocks(agent: Agent, rows: list[FileAgent]) -> list[dict[str, Any]]:
    """`AgentState.memory.file_blocks`: one read-only block per attached file (value = the visible window)."""
    _, char_limit = agent_file_limits(agent)
    return [
        {
            "id": row.id, "file_id": row.file_id, "source_id": row.folder_id, "is_open": row.is_open,
            "label": row.file_name, "value": row.visible_content or "", "limit": char_limit, "read_only": True,
            "last_accessed_at": row.last_accessed_at.isoformat() if row.last_accessed_at else None,
        }
        for row in rows
    ]  # fmt: skip


class CloseResponse(BaseModel):
    message: str
