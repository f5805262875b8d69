"""/v1/blocks: standalone blocks (shared memory) and the agents each block is attached to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, BlockDep, SessionDep
from api.routes._paths import clamp_limit, collection
from api.routes.agents import render_agents
from api.schemas.agents import AgentStateOut
from api.schemas.blocks import BlockOut, BlockUpdate, CreateBlock
from api.schemas.common import DeleteResponse, Order, is_descending
from engram.store import agents as agent_store
from engram.store import blocks as block_store

router = APIRouter(tags=["blocks"])


@collection(router, "post", "/blocks", response_model=BlockOut)
async def create_block(body: CreateBlock, session: SessionDep, actor: ActorDep) -> BlockOut:
    return BlockOut.from_domain(await block_store.create_block(session, actor.org_id, body.to_domain()))


@collection(router, "get", "/blocks", response_model=list[BlockOut])
async def list_blocks(
    session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, order: Order | None = None, label: str | None = None, label_search: str | None = None,
    value_search: str | None = None, description_search: str | None = None,
    tags: Annotated[list[str] | None, Query()] = None, match_all_tags: bool = False, templates_only: bool = False,
) -> list[BlockOut]:  # fmt: skip
    rows = await block_store.list_blocks(
        session, actor.org_id, label=label, label_search=label_search, value_search=value_search,
        description_search=description_search, tags=tags, match_all_tags=match_all_tags,
        templates_only=templates_only, after=after, before=before, limit=clamp_limit(limit, 50),
        descending=is_descending(order, None, default_descending=False),
    )  # fmt: skip
    return [BlockOut.from_domain(b) for b in rows]


@router.get("/blocks/{block_id}", response_model=BlockOut)
async def retrieve_block(block: BlockDep) -> BlockOut:
    return BlockOut.from_domain(block)


@router.patch("/blocks/{block_id}", response_model=BlockOut)
async def update_block(block: BlockDep, body: BlockUpdate, session: SessionDep, actor: ActorDep) -> BlockOut:
    return BlockOut.from_domain(
        await block_store.update_block(session, actor.org_id, block.id, body.to_changes())
    )


@router.delete("/blocks/{block_id}", response_model=DeleteResponse)
async def delete_block(block: BlockDep, session: SessionDep, actor: ActorDep) -> DeleteResponse:
    await block_store.delete_block(session, actor.org_id, block.id)
    return DeleteResponse(message=f"Block id={block.id} successfully deleted")


@collection(router, "get", "/blocks/{block_id}/agents", sdk_slash=False, response_model=list[AgentStateOut])
async def list_block_agents(
    block: BlockDep, session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, order: Order | None = None,
) -> list[AgentStateOut]:  # fmt: skip
    agents = await agent_store.list_agents(
        session, actor.org_id, block_id=block.id, after=after, before=before, limit=clamp_limit(limit, 50),
        descending=is_descending(order, None, default_descending=True),
    )  # fmt: skip
    return await render_agents(session, actor.org_id, agents)
