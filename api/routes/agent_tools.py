"""/v1/agents/{id}/tools: list an agent's tools; attach/detach by tool id; per-agent approval requirement."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, AgentDep, SessionDep, require_id
from api.routes._paths import clamp_limit, collection
from api.routes.agents import render_agent
from api.schemas.agents import AgentStateOut
from api.schemas.common import LettaRequest, Order, is_descending
from api.schemas.tools import ToolOut
from engram.errors import InvalidInput, NotFound
from engram.store import agents as agent_store
from engram.store import tools as tool_store
from engram.tools import approvals

router = APIRouter(tags=["agents"])


@collection(router, "get", "/agents/{agent_id}/tools", sdk_slash=False, response_model=list[ToolOut])
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


class ApprovalUpdate(LettaRequest):
    requires_approval: bool | None = None


@router.patch("/agents/{agent_id}/tools/approval/{tool_name}", response_model=AgentStateOut)
async def update_tool_approval(
    agent: AgentDep, tool_name: str, session: SessionDep, actor: ActorDep, body: ApprovalUpdate | None = None,
    requires_approval: bool | None = None,
) -> AgentStateOut:  # fmt: skip
    """Require (or stop requiring) human approval before this agent runs `tool_name`: a requires_approval rule."""
    wanted = (
        body.requires_approval
        if body is not None and body.requires_approval is not None
        else requires_approval
    )
    if wanted is None:
        raise InvalidInput("requires_approval (true or false) is required")
    attached = {t.name for t in await tool_store.list_agent_tools(session, actor.org_id, agent.id)}
    if tool_name not in attached:
        raise NotFound("tool", f"{tool_name!r} on agent {agent.id}")
    rules = [
        r for r in agent.tool_rules or []
        if not (r.get("type") == "requires_approval" and r.get("tool_name") == tool_name)
    ]  # fmt: skip
    if wanted:
        rules.append({"type": "requires_approval", "tool_name": tool_name})
    # False must also beat the tool's own default_requires_approval; True is the rule above.
    await approvals.set_override(session, actor.org_id, agent.id, tool_name, None if wanted else False)
    updated = await agent_store.update_agent(session, actor.org_id, agent.id, {"tool_rules": rules})
    return await render_agent(session, actor.org_id, updated)
