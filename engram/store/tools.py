"""Tool rows: built-ins are materialised per organization so agents attach them like any tool."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import NotFound
from engram.ids import new_id
from engram.store.models import AgentTool, Tool
from engram.tools.builtin_schemas import BUILTIN_TOOLS


async def ensure_builtin_tools(session: AsyncSession, org_id: str) -> dict[str, Tool]:
    """Insert any missing built-in tool rows for the organization (idempotent); return all by name."""
    rows = [
        {
            "id": new_id("tool"), "organization_id": org_id, "name": t.name, "description": t.description,
            "tool_type": t.tool_type, "source_type": "python", "json_schema": t.json_schema, "tags": [],
        }
        for t in BUILTIN_TOOLS
    ]  # fmt: skip
    await session.execute(insert(Tool).values(rows).on_conflict_do_nothing(index_elements=["organization_id", "name"]))
    names = [t.name for t in BUILTIN_TOOLS]
    found = await session.scalars(select(Tool).where(Tool.organization_id == org_id, Tool.name.in_(names)))
    return {tool.name: tool for tool in found}


async def get_tool(session: AsyncSession, org_id: str, tool_id: str) -> Tool:
    tool = await session.scalar(select(Tool).where(Tool.id == tool_id, Tool.organization_id == org_id))
    if tool is None:
        raise NotFound("tool", tool_id)
    return tool


async def get_tools_by_name(session: AsyncSession, org_id: str, names: list[str]) -> dict[str, Tool]:
    found = {
        t.name: t
        for t in await session.scalars(select(Tool).where(Tool.organization_id == org_id, Tool.name.in_(names)))
    }
    missing = [n for n in names if n not in found]
    if missing:
        raise NotFound("tool", ", ".join(missing))
    return found


async def list_agent_tools(session: AsyncSession, org_id: str, agent_id: str) -> list[Tool]:
    rows = await session.scalars(
        select(Tool)
        .join(AgentTool, AgentTool.tool_id == Tool.id)
        .where(AgentTool.agent_id == agent_id, AgentTool.organization_id == org_id)
        .order_by(AgentTool.position, Tool.name)
    )
    return list(rows)


async def attach_tool(session: AsyncSession, org_id: str, agent_id: str, tool_id: str) -> None:
    await get_tool(session, org_id, tool_id)
    count = len(await list_agent_tools(session, org_id, agent_id))
    await session.execute(
        insert(AgentTool)
        .values(agent_id=agent_id, tool_id=tool_id, organization_id=org_id, position=count)
        .on_conflict_do_nothing()
    )


async def detach_tool(session: AsyncSession, org_id: str, agent_id: str, tool_id: str) -> None:
    link = await session.get(AgentTool, (agent_id, tool_id))
    if link is None or link.organization_id != org_id:
        raise NotFound("tool", f"{tool_id} on agent {agent_id}")
    await session.delete(link)
    await session.flush()
