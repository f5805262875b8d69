"""MCP servers registered by an organization; their tools are `tools` rows of type external_mcp."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engram.store.models.base import Base, OrgMixin, TimestampMixin


class McpServer(OrgMixin, TimestampMixin, Base):
    """Letta's `/v1/mcp-servers` record: a stdio command, or an SSE / streamable HTTP URL with auth headers."""

    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("organization_id", "server_name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    server_name: Mapped[str] = mapped_column(
        String(200), doc="unique per organization; tools are tagged mcp:<name>"
    )
    server_type: Mapped[str] = mapped_column(String(32), doc="stdio | sse | streamable_http")
    command: Mapped[str | None] = mapped_column(Text)
    args: Mapped[list[Any] | None]
    env: Mapped[dict[str, Any] | None] = mapped_column(
        doc="environment of a stdio server (nothing else is inherited)"
    )
    server_url: Mapped[str | None] = mapped_column(Text)
    auth_header: Mapped[str | None] = mapped_column(String(200))
    auth_token: Mapped[str | None] = mapped_column(Text)
    custom_headers: Mapped[dict[str, Any] | None]
