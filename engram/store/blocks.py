"""Core memory blocks: CRUD, attachment to agents, and compare-and-set edits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import Conflict, NotFound, PayloadTooLarge
from engram.ids import new_id
from engram.schemas.agent import BlockSpec
from engram.store.models import AgentBlock, Block
from engram.store.pagination import page_attached, paginate

MAX_BLOCK_VALUE_CHARS = 1_000_000  # hard ceiling; `limit` is the soft, model-visible one (Letta semantics)


def check_block_value(value: str) -> None:
    if len(value) > MAX_BLOCK_VALUE_CHARS:
        raise PayloadTooLarge(f"block value has {len(value)} characters, more than the limit of {MAX_BLOCK_VALUE_CHARS}")


def block_from_spec(org_id: str, spec: BlockSpec, block_id: str | None = None) -> Block:
    check_block_value(spec.value)
    return Block(
        id=block_id or new_id("block"), organization_id=org_id, label=spec.label, value=spec.value,
        limit=spec.limit, description=spec.resolved_description(), read_only=spec.read_only, hidden=spec.hidden,
        is_template=spec.is_template, template_name=spec.template_name, metadata_=spec.metadata, tags=spec.tags,
        version=1,
    )  # fmt: skip


async def create_block(session: AsyncSession, org_id: str, spec: BlockSpec) -> Block:
    block = block_from_spec(org_id, spec)
    session.add(block)
    await session.flush()
    return block


async def get_block(session: AsyncSession, org_id: str, block_id: str) -> Block:
    block = await session.scalar(select(Block).where(Block.id == block_id, Block.organization_id == org_id))
    if block is None:
        raise NotFound("block", block_id)
    return block


async def list_agent_blocks(session: AsyncSession, org_id: str, agent_id: str) -> list[Block]:
    """The agent's blocks in attach order: the order they are rendered into the prompt."""
    rows = await session.scalars(
        select(Block)
        .join(AgentBlock, AgentBlock.block_id == Block.id)
        .where(AgentBlock.agent_id == agent_id, AgentBlock.organization_id == org_id)
        .order_by(AgentBlock.position, Block.created_at)
    )
    return list(rows)


async def get_agent_block_by_label(session: AsyncSession, org_id: str, agent_id: str, label: str) -> Block:
    block = await session.scalar(
        select(Block)
        .join(AgentBlock, AgentBlock.block_id == Block.id)
        .where(AgentBlock.agent_id == agent_id, AgentBlock.organization_id == org_id, Block.label == label)
    )
    if block is None:
        raise NotFound("block with label", f"{label!r} on agent {agent_id}")
    return block


async def attach_block(session: AsyncSession, org_id: str, agent_id: str, block_id: str) -> None:
    """Attach (idempotent); a second block with a label the agent already has is a Conflict."""
    block = await get_block(session, org_id, block_id)
    existing = await session.scalar(
        select(AgentBlock.block_id)
        .join(Block, AgentBlock.block_id == Block.id)
        .where(AgentBlock.agent_id == agent_id, Block.label == block.label)
    )
    if existing == block_id:
        return
    if existing is not None:
        raise Conflict(f"agent {agent_id} already has a block labelled {block.label!r} ({existing})")
    position = await session.scalar(
        select(func.coalesce(func.max(AgentBlock.position), -1) + 1).where(AgentBlock.agent_id == agent_id)
    )
    session.add(AgentBlock(agent_id=agent_id, block_id=block_id, organization_id=org_id, position=position))
    await session.flush()


async def detach_block(session: AsyncSession, org_id: str, agent_id: str, block_id: str) -> None:
    link = await session.get(AgentBlock, (agent_id, block_id))
    if link is None or link.organization_id != org_id:
        raise NotFound("block", f"{block_id} on agent {agent_id}")
    await session.delete(link)
    await session.flush()


async def update_block(session: AsyncSession, org_id: str, block_id: str, changes: dict[str, Any]) -> Block:
    """Apply field changes (wire names already mapped to columns); any change bumps the version."""
    if isinstance(changes.get("value"), str):
        check_block_value(changes["value"])
    block = await get_block(session, org_id, block_id)
    for key, value in changes.items():
        setattr(block, key, value)
    block.version += 1
    await session.flush()
    return block


async def compare_and_set_value(
    session: AsyncSession, org_id: str, block_id: str, expected_version: int, new_value: str
) -> int | None:
    """Write `new_value` only if nobody edited the block since `expected_version` was read.

    Returns the new version, or None when the version moved on (the caller re-reads and retries).
    """
    new_version = await session.scalar(
        update(Block)
        .where(Block.id == block_id, Block.organization_id == org_id, Block.version == expected_version)
        .values(value=new_value, version=Block.version + 1, updated_at=func.now())
        .returning(Block.version)
    )
    return new_version


async def delete_block(session: AsyncSession, org_id: str, block_id: str) -> None:
    block = await get_block(session, org_id, block_id)
    await session.delete(block)
    await session.flush()


async def list_blocks(
    session: AsyncSession, org_id: str, *, label: str | None = None, label_search: str | None = None,
    value_search: str | None = None, description_search: str | None = None, tags: list[str] | None = None,
    match_all_tags: bool = False, templates_only: bool = False, after: str | None = None,
    before: str | None = None, limit: int | None = 50, descending: bool = False,
) -> list[Block]:  # fmt: skip
    """Standalone listing of the organization's blocks (Letta default: oldest first)."""
    stmt = select(Block).where(Block.organization_id == org_id)
    if label is not None:
        stmt = stmt.where(Block.label == label)
    if label_search:
        stmt = stmt.where(Block.label.ilike(f"%{label_search}%"))
    if value_search:
        stmt = stmt.where(Block.value.ilike(f"%{value_search}%"))
    if description_search:
        stmt = stmt.where(Block.description.ilike(f"%{description_search}%"))
    if tags:
        stmt = stmt.where(Block.tags.contains(tags) if match_all_tags else Block.tags.overlap(tags))
    if templates_only:
        stmt = stmt.where(Block.is_template.is_(True))
    return await paginate(
        session, stmt, id_column=Block.id, order_columns=[Block.created_at, Block.id],
        after=after, before=before, limit=limit, descending=descending,
    )  # fmt: skip


async def page_agent_blocks(
    session: AsyncSession, org_id: str, agent_id: str, *, after: str | None = None, before: str | None = None,
    limit: int | None = 100, descending: bool = True,
) -> list[Block]:  # fmt: skip
    return await page_attached(session, Block, AgentBlock, "block_id", org_id, agent_id, after=after, before=before,
                               limit=limit, descending=descending)  # fmt: skip
