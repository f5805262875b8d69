"""Tools: built-ins (rows created per organization) and user tools with Python source."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base, OrgMixin, TimestampMixin

DEFAULT_RETURN_CHAR_LIMIT = 50_000  # Letta's default tool return cap


class Tool(OrgMixin, TimestampMixin, Base):
    __tablename__ = "tools"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(48))
    description: Mapped[str | None] = mapped_column(Text)
    tool_type: Mapped[str] = mapped_column(String(64), default="custom")
    source_type: Mapped[str | None] = mapped_column(String(32), default="python")
    source_code: Mapped[str | None] = mapped_column(Text)
    json_schema: Mapped[dict[str, Any] | None]
    args_json_schema: Mapped[dict[str, Any] | None]
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list, server_default="{}")
    return_char_limit: Mapped[int] = mapped_column(Integer, default=DEFAULT_RETURN_CHAR_LIMIT)
    pip_requirements: Mapped[list[Any] | None]
    npm_requirements: Mapped[list[Any] | None]
    default_requires_approval: Mapped[bool | None]
    enable_parallel_execution: Mapped[bool | None]
    timeout_s: Mapped[float | None] = mapped_column(doc="per-tool execution timeout; None = default")
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
