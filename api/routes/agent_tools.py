"""/v1/agents/{id}/tools: list an agent's tools; attach/detach by tool id."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, AgentDep, SessionDep, require_id
from api.routes._paths import clamp_limit, collection
from api.routes.agents import render_agent
from api.schemas.agents import AgentStateOut
from api.schemas.common import Order, is_descending
from api.schemas.tools import ToolOut
from engram.store import tools as tool_store

router = APIRouter(tags=["agents"])


@collection(router, "get", "/agents/{agent_id}/tools", response_model=list[ToolOut])
async def list_agent_tools(
    agent: AgentDep, session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, order: Order | None = None,
) -> list[ToolOut]:  # fmt: skip
    rows = await tool_store.page_agent_tools(
        session, actor.org_id, agent.id, after=after, before=before, limit=clamp_limit(limit, 10),
        descending=is_descending(order, None, default_descending=True),
    )  # fmt: skip
    return [ToolOut.from_domain(t) for t in rows]


@router.patch("/agents/{agent_id}/tools/attach/{tool_id}", response_model=AgentStateOut)
async def attach_tool(agent: AgentDep, tool_id: str, session: SessionDep, actor: ActorDep) -> AgentStateOut:
    await tool_store.attach_tool(session, actor.org_id, agent.id, require_id(tool_id, "tool", "tool_id"))
    return await render_agent(session, actor.org_id, agent)


@router.patch("/agents/{agent_id}/tools/detach/{tool_id}", response_model=AgentStateOut)
async def detach_tool(agent: AgentDep, tool_id: str, session: SessionDep, actor: ActorDep) -> AgentStateOut:
    await tool_store.detach_tool(session, actor.org_id, agent.id, require_id(tool_id, "tool", "tool_id"))
    return await render_agent(session, actor.org_id, agent)
