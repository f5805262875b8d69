"""Archives: named collections of archival passages that several agents can share.

An agent's archival memory is its own passages plus those of every archive attached to it, so a
knowledge base written once (through `/v1/archives/{id}/passages`) is searchable by each attached
agent's `archival_memory_search`, and detaching an archive removes it from the agent's view only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import InvalidInput, NotFound
from engram.ids import new_id
from engram.store.models import Agent, AgentArchive, Archive, Passage
from engram.store.pagination import paginate


async def create_archive(
    session: AsyncSession, org_id: str, *, name: str, description: str | None, embedding: str | None
) -> Archive:
    if not name.strip():
        raise InvalidInput("archive name must not be empty")
    row = Archive(id=new_id("archive"), organization_id=org_id, name=name, description=description,
                  embedding=embedding)  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def get_archive(session: AsyncSession, org_id: str, archive_id: str) -> Archive:
    row = await session.scalar(
        select(Archive).where(Archive.id == archive_id, Archive.organization_id == org_id)
    )
    if row is None:
        raise NotFound("archive", archive_id)
    return row


async def list_archives(
    session: AsyncSession, org_id: str, *, name: str | None = None, agent_id: str | None = None,
    after: str | None = None, before: str | None = None, limit: int | None = 50, descending: bool = False,
) -> list[Archive]:  # fmt: skip
    stmt = select(Archive).where(Archive.organization_id == org_id)
    if name is not None:
        stmt = stmt.where(Archive.name == name)
    if agent_id is not None:
        stmt = stmt.where(
            Archive.id.in_(select(AgentArchive.archive_id).where(AgentArchive.agent_id == agent_id))
        )
    return await paginate(
        session, stmt, id_column=Archive.id, order_columns=[Archive.created_at, Archive.id],
        after=after, before=before, limit=limit, descending=descending,
    )  # fmt: skip


async def update_archive(
    session: AsyncSession, org_id: str, archive_id: str, changes: dict[str, Any]
) -> Archive:
    row = await get_archive(session, org_id, archive_id)
    if "name" in changes and changes["name"] is not None:
        if not changes["name"].strip():
            raise InvalidInput("archive name must not be empty")
        row.name = changes["name"]
    if "description" in changes:
        row.description = changes["description"]
    await session.flush()
    return row


async def delete_archive(session: AsyncSession, org_id: str, archive_id: str) -> None:
    """Deleting an archive deletes its passages (FK cascade) and detaches it from every agent."""
    row = await get_archive(session, org_id, archive_id)
    await session.delete(row)
    await session.flush()


async def attach_archive(session: AsyncSession, org_id: str, agent_id: str, archive_id: str) -> None:
    await get_archive(session, org_id, archive_id)
    agent = await session.scalar(
        select(Agent.id).where(Agent.id == agent_id, Agent.organization_id == org_id)
    )
    if agent is None:
        raise NotFound("agent", agent_id)
    await session.execute(
        insert(AgentArchive).values(agent_id=agent_id, archive_id=archive_id, organization_id=org_id)
        .on_conflict_do_nothing()
    )  # fmt: skip


async def detach_archive(session: AsyncSession, org_id: str, agent_id: str, archive_id: str) -> None:
    await get_archive(session, org_id, archive_id)
    await session.execute(delete(AgentArchive).where(
        AgentArchive.agent_id == agent_id, AgentArchive.archive_id == archive_id,
        AgentArchive.organization_id == org_id,
    ))  # fmt: skip


def visible_to_agent(org_id: str, agent_id: str) -> Any:
    """The passages an agent's archival memory holds: its own and those of its attached archives.

    `archive_id = ANY(ARRAY(subquery))` is evaluated once (an InitPlan), so the planner can still use a
    bitmap OR of two index scans; `archive_id IN (subquery)` OR-ed with `agent_id = X` cannot, and would
    scan the whole table. One statement, no extra round trip for the attachment lookup."""
    return and_(
        Passage.organization_id == org_id, Passage.deleted_at.is_(None),
        or_(Passage.agent_id == agent_id, Passage.archive_id == func.any(attached_archive_ids(agent_id))),
    )  # fmt: skip


def attached_archive_ids(agent_id: str | BindParameter[str]) -> Any:
    """The ids of the archives attached to the agent, as one array evaluated once per statement (a value,
    or a bound parameter for a statement built once and executed with values)."""
    return func.array(select(AgentArchive.archive_id).where(AgentArchive.agent_id == agent_id).scalar_subquery())


async def get_archive_passage(
    session: AsyncSession, org_id: str, archive_id: str, passage_id: str
) -> Passage:
    row = await session.scalar(select(Passage).where(
        Passage.id == passage_id, Passage.archive_id == archive_id, Passage.organization_id == org_id,
    ))  # fmt: skip
    if row is None:
        raise NotFound("passage", passage_id)
    return row
