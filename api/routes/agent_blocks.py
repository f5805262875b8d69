"""/v1/agents/{id}/core-memory/blocks: an agent's blocks by label; attach/detach by block id.

attach/detach routes are registered before `/{block_label}` so `PATCH .../blocks/attach/{id}` is never
read as an edit of a block labelled "attach".
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ActorDep, AgentDep, SessionDep, require_id
from api.routes._paths import clamp_limit, collection
from api.routes.agents import refresh_system_message, render_agent
from api.schemas.agents import AgentStateOut
from api.schemas.blocks import BlockOut, BlockUpdate
from api.schemas.common import Order, is_descending
from engram.errors import Conflict
from engram.store import blocks as block_store

router = APIRouter(tags=["agents"])
BASE = "/agents/{agent_id}/core-memory/blocks"


@collection(router, "get", BASE, sdk_slash=False, response_model=list[BlockOut])
async def list_agent_blocks(
    agent: AgentDep, session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, order: Order | None = None,
) -> list[BlockOut]:  # fmt: skip
    rows = await block_store.page_agent_blocks(
        session, actor.org_id, agent.id, after=after, before=before, limit=clamp_limit(limit, 100),
        descending=is_descending(order, None, default_descending=True),
    )  # fmt: skip
    return [BlockOut.from_domain(b) for b in rows]


@router.patch(BASE + "/attach/{block_id}", response_model=AgentStateOut)
async def attach_block(agent: AgentDep, block_id: str, session: SessionDep, actor: ActorDep) -> AgentStateOut:
    await block_store.attach_block(session, actor.org_id, agent.id, require_id(block_id, "block", "block_id"))
    await refresh_system_message(session, actor.org_id, agent.id)
    return await render_agent(session, actor.org_id, agent)


@router.patch(BASE + "/detach/{block_id}", response_model=AgentStateOut)
async def detach_block(agent: AgentDep, block_id: str, session: SessionDep, actor: ActorDep) -> AgentStateOut:
    await block_store.detach_block(session, actor.org_id, agent.id, require_id(block_id, "block", "block_id"))
    await refresh_system_message(session, actor.org_id, agent.id)
    return await render_agent(session, actor.org_id, agent)


@router.get(BASE + "/{block_label}", response_model=BlockOut)
async def retrieve_agent_block(
    agent: AgentDep, block_label: str, session: SessionDep, actor: ActorDep
) -> BlockOut:
    return BlockOut.from_domain(
        await block_store.get_agent_block_by_label(session, actor.org_id, agent.id, block_label)
    )


@router.patch(BASE + "/{block_label}", response_model=BlockOut)
async def update_agent_block(
    agent: AgentDep, block_label: str, body: BlockUpdate, session: SessionDep, actor: ActorDep
) -> BlockOut:
    """Edit the block the agent knows by this label; a shared block changes for every agent holding it."""
    block = await block_store.get_agent_block_by_label(session, actor.org_id, agent.id, block_label)
    changes = body.to_changes()
    new_label = changes.get("label")
    if new_label and new_label != block.label:
        labels = {b.label for b in await block_store.list_agent_blocks(session, actor.org_id, agent.id)}
        if new_label in labels:
            raise Conflict(f"agent {agent.id} already has a block labelled {new_label!r}")
    updated = await block_store.update_block(session, actor.org_id, block.id, changes)
    return BlockOut.from_domain(updated)
