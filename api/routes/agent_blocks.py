"""/v1/agents/{id}/core-memory/blocks: an agent's blocks by label; attach/detach by block id.

attach/detach routes are registered before `/{block_label}` so `PATCH .../blocks/attach/{id}` is never
read as an edit of a block labelled "attach".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from api.deps import ActorDep, AgentDep, SessionDep, require_id
from api.routes._paths import clamp_limit, collection
from api.routes.agents import refresh_system_message, render_agent
from api.schemas.agents import AgentStateOut
from api.schemas.blocks import BlockOut, BlockUpdate
from api.schemas.common import Order, is_descending
from engram.errors import Conflict, InvalidInput
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


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """`If-Match: "<version>"` (the block's ETag) -> the version the caller's edit was based on."""
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise InvalidInput(f"If-Match must be the block's ETag (a quoted version number), got {if_match!r}")
    return int(raw)


@router.get(BASE + "/{block_label}", response_model=BlockOut)
async def retrieve_agent_block(
    agent: AgentDep, block_label: str, session: SessionDep, actor: ActorDep, response: Response
) -> BlockOut:
    block = await block_store.get_agent_block_by_label(session, actor.org_id, agent.id, block_label)
    response.headers["ETag"] = etag(block.version)
    return BlockOut.from_domain(block)


@router.patch(BASE + "/{block_label}", response_model=BlockOut)
async def update_agent_block(
    agent: AgentDep, block_label: str, body: BlockUpdate, session: SessionDep, actor: ActorDep, response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> BlockOut:  # fmt: skip
    """Edit the block the agent knows by this label; a shared block changes for every agent holding it.

    With `If-Match` (the ETag of the version the edit was based on) the value is written with the same
    compare-and-set the memory tools use, so an edit made meanwhile (by the agent, a sleep-time agent or
    another person) is answered 409 instead of being overwritten. The console always sends it.
    """
    block = await block_store.get_agent_block_by_label(session, actor.org_id, agent.id, block_label)
    changes = body.to_changes()
    expected = expected_version(if_match)
    if expected is not None:
        value = changes.pop("value", block.value)
        new_version = await block_store.compare_and_set_value(
            session, actor.org_id, block.id, expected, value
        )
        if new_version is None:
            raise Conflict(
                f"block {block_label!r} was edited since version {expected} (it is now version {block.version}); "
                "re-read it and apply your edit again"
            )
        await session.refresh(block)
    new_label = changes.get("label")
    if new_label and new_label != block.label:
        labels = {b.label for b in await block_store.list_agent_blocks(session, actor.org_id, agent.id)}
        if new_label in labels:
            raise Conflict(f"agent {agent.id} already has a block labelled {new_label!r}")
    updated = (
        await block_store.update_block(session, actor.org_id, block.id, changes)
        if changes or expected is None
        else block
    )
    response.headers["ETag"] = etag(updated.version)
    return BlockOut.from_domain(updated)
