"""MCP server rows per organization, and the external_mcp tool rows mirrored from each server.

Letta's way, kept: an MCP tool is a `tools` row with tool_type "external_mcp", tag `mcp:<server name>`
and metadata `{"mcp": {"server_name", "server_id"}}`; agents attach it by tool id like any tool.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import Conflict, NotFound
from engram.ids import new_id
from engram.store.models import McpServer, Tool

MCP_TOOL_TYPE = "external_mcp"
MCP_TAG_PREFIX = "mcp"


async def find_server_by_name(session: AsyncSession, org_id: str, name: str) -> McpServer | None:
    return await session.scalar(
        select(McpServer).where(McpServer.organization_id == org_id, McpServer.server_name == name)
    )


async def create_server(session: AsyncSession, org_id: str, fields: dict[str, Any]) -> McpServer:
    if await find_server_by_name(session, org_id, fields["server_name"]) is not None:
        raise Conflict(f"an MCP server named {fields['server_name']!r} already exists")
    server = McpServer(id=new_id("mcp_server"), organization_id=org_id, **fields)
    session.add(server)
    await session.flush()
    return server


async def get_server(session: AsyncSession, org_id: str, server_id: str) -> McpServer:
    server = await session.scalar(
        select(McpServer).where(McpServer.id == server_id, McpServer.organization_id == org_id)
    )
    if server is None:
        raise NotFound("mcp_server", server_id)
    return server


async def list_servers(session: AsyncSession, org_id: str) -> list[McpServer]:
    rows = await session.scalars(
        select(McpServer)
        .where(McpServer.organization_id == org_id)
        .order_by(McpServer.created_at, McpServer.id)
    )
    return list(rows)


async def update_server(
    session: AsyncSession, org_id: str, server_id: str, changes: dict[str, Any]
) -> McpServer:
    server = await get_server(session, org_id, server_id)
    new_name = changes.get("server_name")
    if new_name and new_name != server.server_name:
        if await find_server_by_name(session, org_id, new_name) is not None:
            raise Conflict(f"an MCP server named {new_name!r} already exists")
        for tool in await server_tools(session, org_id, server_id):
            tool.tags = [t for t in tool.tags or [] if not t.startswith(f"{MCP_TAG_PREFIX}:")] + [
                f"{MCP_TAG_PREFIX}:{new_name}"
            ]
            tool.metadata_ = {
                **(tool.metadata_ or {}),
                MCP_TAG_PREFIX: {"server_name": new_name, "server_id": server_id},
            }
    for key, value in changes.items():
        setattr(server, key, value)
    await session.flush()
    return server


async def delete_server(session: AsyncSession, org_id: str, server_id: str) -> None:
    """Delete the server and its tools (agents lose them, as in Letta)."""
    server = await get_server(session, org_id, server_id)
    for tool in await server_tools(session, org_id, server_id):
        await session.delete(tool)
    await session.delete(server)
    await session.flush()


async def server_tools(session: AsyncSession, org_id: str, server_id: str) -> list[Tool]:
    rows = await session.scalars(
        select(Tool)
        .where(Tool.organization_id == org_id, Tool.tool_type == MCP_TOOL_TYPE,
               Tool.metadata_[MCP_TAG_PREFIX]["server_id"].astext == server_id)
        .order_by(Tool.name)
    )  # fmt: skip
    return list(rows)


async def server_for_tool(session: AsyncSession, org_id: str, tool: Tool) -> McpServer | None:
    """The server an external_mcp tool belongs to: by id in its metadata, else by its `mcp:<name>` tag."""
    ref = (tool.metadata_ or {}).get(MCP_TAG_PREFIX) or {}
    if ref.get("server_id"):
        try:
            return await get_server(session, org_id, ref["server_id"])
        except NotFound:
            pass
    names = [t.split(":", 1)[1] for t in tool.tags or [] if t.startswith(f"{MCP_TAG_PREFIX}:")]
    return await find_server_by_name(session, org_id, names[0]) if names else None
