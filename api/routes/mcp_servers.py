"""/v1/mcp-servers: register MCP servers per organization, list/refresh their tools, run one tool.

Creating a server lists its tools once, best effort as Letta does: a server that is down still gets
registered, and `PATCH .../refresh` syncs later (an update changes only the record, as in Letta). Listing and `run` reach the server from
the API process with the connect/call timeouts; agents' calls go through the tools activity instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from api.deps import ActorDep, SessionDep, SettingsDep, require_id
from api.routes._paths import collection
from api.schemas.mcp_servers import (
    McpServerCreate,
    McpServerOut,
    McpServerUpdate,
    McpToolRun,
    ToolExecutionResult,
)
from api.schemas.tools import ToolOut
from engram.config import Settings
from engram.errors import NotFound
from engram.mcp.client import McpServerConfig, McpToolInfo, McpUnavailable, call_tool, list_tools
from engram.mcp.sync import sync_tools
from engram.store import agents as agent_store
from engram.store import mcp_servers as server_store
from engram.store import tools as tool_store
from engram.store.models import McpServer

router = APIRouter(tags=["mcp-servers"])


async def get_server_row(mcp_server_id: str, session: SessionDep, actor: ActorDep) -> McpServer:
    return await server_store.get_server(
        session, actor.org_id, require_id(mcp_server_id, "mcp_server", "mcp_server_id")
    )


ServerDep = Annotated[McpServer, Depends(get_server_row)]


async def _listed(server: McpServer, settings: Settings) -> list[McpToolInfo] | str:
    try:
        return await list_tools(McpServerConfig.of(server), settings.mcp_connect_timeout_s)
    except McpUnavailable as exc:
        return str(exc)


async def _sync(session: Any, org_id: str, server: McpServer, settings: Settings) -> dict[str, Any]:
    listed = await _listed(server, settings)
    if isinstance(listed, str):
        return {"error": listed}
    return await sync_tools(session, org_id, server, listed)


@collection(router, "post", "/mcp-servers")
async def create_mcp_server(
    body: McpServerCreate, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> dict[str, Any]:
    fields = body.to_fields()
    listed = await _listed(
        McpServer(**fields), settings
    )  # before any write: no transaction held while connecting
    server = await server_store.create_server(session, actor.org_id, fields)
    if not isinstance(listed, str):  # a server that is down is still registered (Letta); refresh syncs later
        await sync_tools(session, actor.org_id, server, listed)
    return McpServerOut.from_domain(server)


@collection(router, "get", "/mcp-servers")
async def list_mcp_servers(session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    return [McpServerOut.from_domain(s) for s in await server_store.list_servers(session, actor.org_id)]


@router.get("/mcp-servers/{mcp_server_id}")
async def retrieve_mcp_server(server: ServerDep) -> dict[str, Any]:
    return McpServerOut.from_domain(server)


@router.patch("/mcp-servers/{mcp_server_id}")
async def update_mcp_server(
    server: ServerDep, body: McpServerUpdate, session: SessionDep, actor: ActorDep
) -> dict[str, Any]:
    """Letta's update: the record only; `PATCH .../refresh` re-lists the tools."""
    updated = await server_store.update_server(session, actor.org_id, server.id, body.to_changes(server))
    return McpServerOut.from_domain(updated)


@router.delete("/mcp-servers/{mcp_server_id}", status_code=204)
async def delete_mcp_server(server: ServerDep, session: SessionDep, actor: ActorDep) -> Response:
    await server_store.delete_server(session, actor.org_id, server.id)
    return Response(status_code=204)


@router.get("/mcp-servers/{mcp_server_id}/tools", response_model=list[ToolOut])
async def list_mcp_server_tools(server: ServerDep, session: SessionDep, actor: ActorDep) -> list[ToolOut]:
    return [ToolOut.from_domain(t) for t in await server_store.server_tools(session, actor.org_id, server.id)]


async def _server_tool(session: Any, org_id: str, server: McpServer, tool_id: str) -> Any:
    tool = await tool_store.get_tool(session, org_id, require_id(tool_id, "tool", "tool_id"))
    if (
        tool.tool_type != server_store.MCP_TOOL_TYPE
        or ((tool.metadata_ or {}).get("mcp") or {}).get("server_id") != server.id
    ):
        raise NotFound("tool", f"{tool_id} on MCP server {server.id}")
    return tool


@router.get("/mcp-servers/{mcp_server_id}/tools/{tool_id}", response_model=ToolOut)
async def retrieve_mcp_tool(server: ServerDep, tool_id: str, session: SessionDep, actor: ActorDep) -> ToolOut:
    return ToolOut.from_domain(await _server_tool(session, actor.org_id, server, tool_id))


@router.post("/mcp-servers/{mcp_server_id}/tools/{tool_id}/run", response_model=ToolExecutionResult)
async def run_mcp_tool(
    server: ServerDep,
    tool_id: str,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    body: McpToolRun | None = None,
) -> ToolExecutionResult:
    tool = await _server_tool(session, actor.org_id, server, tool_id)
    try:
        result = await call_tool(McpServerConfig.of(server), tool.name, (body.args if body else {}),
                                 connect_timeout_s=settings.mcp_connect_timeout_s,
                                 call_timeout_s=tool.timeout_s or settings.mcp_call_timeout_s)  # fmt: skip
    except McpUnavailable as exc:
        return ToolExecutionResult(status="error", func_return=str(exc))
    return ToolExecutionResult(status="error" if result.is_error else "success", func_return=result.text)


@router.patch("/mcp-servers/{mcp_server_id}/refresh")
async def refresh_mcp_server_tools(
    server: ServerDep,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    agent_id: str | None = None,
) -> dict[str, Any]:
    """Re-list the server's tools; with `agent_id`, also attach any newly added tool to that agent."""
    summary = await _sync(session, actor.org_id, server, settings)
    if agent_id and summary.get("added"):
        agent = await agent_store.get_agent(session, actor.org_id, require_id(agent_id, "agent", "agent_id"))
        for tool in await server_store.server_tools(session, actor.org_id, server.id):
            if tool.name in summary["added"]:
                await tool_store.attach_tool(session, actor.org_id, agent.id, tool.id)
    return summary
