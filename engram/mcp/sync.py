"""Mirror an MCP server's tool list into `tools` rows (create, update schemas, delete the vanished)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from engram.ids import new_id
from engram.mcp.client import McpToolInfo
from engram.store import mcp_servers as server_store
from engram.store import tools as tool_store
from engram.store.models import McpServer, Tool
from engram.tools.source_schema import MAX_TOOL_NAME_LENGTH

_DROPPED_SCHEMA_KEYS = ("title", "$schema")


def tool_json_schema(info: McpToolInfo) -> dict[str, Any]:
    """Letta's shape for an MCP tool: {name, description, parameters} with an object-typed parameters schema."""
    params = {k: v for k, v in (info.input_schema or {}).items() if k not in _DROPPED_SCHEMA_KEYS}
    params.setdefault("type", "object")
    params.setdefault("properties", {})
    params.setdefault("required", [])
    return {"name": info.name, "description": info.description or info.name, "parameters": params}


async def sync_tools(
    session: AsyncSession, org_id: str, server: McpServer, listed: list[McpToolInfo]
) -> dict[str, list[str]]:
    """Make the server's external_mcp rows match `listed`; returns what changed, Letta's refresh summary."""
    summary: dict[str, list[str]] = {"added": [], "updated": [], "deleted": [], "skipped": []}
    existing = {t.name: t for t in await server_store.server_tools(session, org_id, server.id)}
    for info in listed:
        fields = _fields(server, info)
        if len(info.name) > MAX_TOOL_NAME_LENGTH:
            summary["skipped"].append(f"{info.name} (name longer than {MAX_TOOL_NAME_LENGTH} characters)")
        elif info.name in existing:
            for key, value in fields.items():
                setattr(existing[info.name], key, value)
            summary["updated"].append(info.name)
        elif await tool_store.find_tool_by_name(session, org_id, info.name) is not None:
            summary["skipped"].append(f"{info.name} (another tool of this organization has that name)")
        else:
            session.add(Tool(id=new_id("tool"), organization_id=org_id, **fields))
            summary["added"].append(info.name)
    names = {i.name for i in listed}
    for name, tool in existing.items():
        if name not in names:
            await session.delete(tool)
            summary["deleted"].append(name)
    await session.flush()
    return summary


def _fields(server: McpServer, info: McpToolInfo) -> dict[str, Any]:
    schema = tool_json_schema(info)
    tag = server_store.MCP_TAG_PREFIX
    return {
        "name": info.name, "description": schema["description"], "tool_type": server_store.MCP_TOOL_TYPE,
        "source_type": "python", "source_code": None, "json_schema": schema, "tags": [f"{tag}:{server.server_name}"],
        "metadata_": {tag: {"server_name": server.server_name, "server_id": server.id}},
    }  # fmt: skip
