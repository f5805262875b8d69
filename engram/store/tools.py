"""Tool rows: built-ins are materialised per organization so agents attach them like any tool."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import Conflict, NotFound
from engram.ids import new_id
from engram.store.models import AgentTool, Tool
from engram.store.pagination import page_attached, paginate
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


async def list_tools(
    session: AsyncSession, org_id: str, *, name: str | None = None, names: list[str] | None = None,
    tool_ids: list[str] | None = None, search: str | None = None, tool_types: list[str] | None = None,
    exclude_tool_types: list[str] | None = None, after: str | None = None, before: str | None = None,
    limit: int | None = 50, descending: bool = True,
) -> list[Tool]:  # fmt: skip
    await ensure_builtin_tools(session, org_id)
    stmt = select(Tool).where(Tool.organization_id == org_id)
    if name is not None:
        stmt = stmt.where(Tool.name == name)
    if names:
        stmt = stmt.where(Tool.name.in_(names))
    if tool_ids:
        stmt = stmt.where(Tool.id.in_(tool_ids))
    if search:
        stmt = stmt.where(Tool.name.ilike(f"%{search}%"))
    if tool_types:
        stmt = stmt.where(Tool.tool_type.in_(tool_types))
    if exclude_tool_types:
        stmt = stmt.where(Tool.tool_type.not_in(exclude_tool_types))
    return await paginate(
        session, stmt, id_column=Tool.id, order_columns=[Tool.created_at, Tool.id],
        after=after, before=before, limit=limit, descending=descending,
    )  # fmt: skip


async def page_agent_tools(
    session: AsyncSession, org_id: str, agent_id: str, *, after: str | None = None, before: str | None = None,
    limit: int | None = 10, descending: bool = True,
) -> list[Tool]:  # fmt: skip
    return await page_attached(session, Tool, AgentTool, "tool_id", org_id, agent_id, after=after, before=before,
                               limit=limit, descending=descending)  # fmt: skip


async def find_tool_by_name(session: AsyncSession, org_id: str, name: str) -> Tool | None:
    return await session.scalar(select(Tool).where(Tool.organization_id == org_id, Tool.name == name))


async def create_tool(session: AsyncSession, org_id: str, fields: dict[str, Any]) -> Tool:
    """Insert a custom tool; `fields` are column values and must include `name`."""
    if await find_tool_by_name(session, org_id, fields["name"]) is not None:
        raise Conflict(f"a tool named {fields['name']!r} already exists; use upsert (PUT /v1/tools/) to replace it")
    tool = Tool(id=new_id("tool"), organization_id=org_id, **fields)
    session.add(tool)
    await session.flush()
    return tool


async def upsert_tool(session: AsyncSession, org_id: str, fields: dict[str, Any]) -> Tool:
    """Create the tool, or overwrite the same-named one in place (keeping its id and attachments)."""
    existing = await find_tool_by_name(session, org_id, fields["name"])
    if existing is None:
        return await create_tool(session, org_id, fields)
    for key, value in fields.items():
        setattr(existing, key, value)
    await session.flush()
    return existing


async def update_tool(session: AsyncSession, org_id: str, tool_id: str, changes: dict[str, Any]) -> Tool:
    tool = await get_tool(session, org_id, tool_id)
    new_name = changes.get("name")
    if new_name and new_name != tool.name and await find_tool_by_name(session, org_id, new_name) is not None:
        raise Conflict(f"a tool named {new_name!r} already exists")
    for key, value in changes.items():
        setattr(tool, key, value)
    await session.flush()
    return tool


async def delete_tool(session: AsyncSession, org_id: str, tool_id: str) -> None:
    tool = await get_tool(session, org_id, tool_id)
    await session.delete(tool)
    await session.flush()
