"""Folders and their attachment to agents (Letta's sources); files live in `store/files.py`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import Conflict, NotFound
from engram.ids import new_id
from engram.store.models import AgentFolder, Folder
from engram.store.pagination import paginate


async def create_folder(session: AsyncSession, org_id: str, fields: dict[str, Any]) -> Folder:
    """`fields` are column values including `name`, `embedding` and `embedding_config`; names are unique per org."""
    if await find_folder_by_name(session, org_id, fields["name"]) is not None:
        raise Conflict(f"a folder named {fields['name']!r} already exists")
    folder = Folder(id=new_id("source"), organization_id=org_id, **fields)
    session.add(folder)
    await session.flush()
    return folder


async def find_folder_by_name(session: AsyncSession, org_id: str, name: str) -> Folder | None:
    return await session.scalar(select(Folder).where(Folder.organization_id == org_id, Folder.name == name))


async def get_folder(session: AsyncSession, org_id: str, folder_id: str) -> Folder:
    folder = await session.scalar(
        select(Folder).where(Folder.id == folder_id, Folder.organization_id == org_id)
    )
    if folder is None:
        raise NotFound("folder", folder_id)
    return folder


async def list_folders(
    session: AsyncSession, org_id: str, *, name: str | None = None, after: str | None = None,
    before: str | None = None, limit: int | None = 50, descending: bool = False,
) -> list[Folder]:  # fmt: skip
    stmt = select(Folder).where(Folder.organization_id == org_id)
    if name is not None:
        stmt = stmt.where(Folder.name == name)
    return await paginate(
        session, stmt, id_column=Folder.id, order_columns=[Folder.created_at, Folder.id],
        after=after, before=before, limit=limit, descending=descending,
    )  # fmt: skip


async def count_folders(session: AsyncSession, org_id: str) -> int:
    return int(await session.scalar(select(func.count()).where(Folder.organization_id == org_id)) or 0)


async def update_folder(
    session: AsyncSession, org_id: str, folder_id: str, changes: dict[str, Any]
) -> Folder:
    folder = await get_folder(session, org_id, folder_id)
    new_name = changes.get("name")
    if (
        new_name
        and new_name != folder.name
        and await find_folder_by_name(session, org_id, new_name) is not None
    ):
        raise Conflict(f"a folder named {new_name!r} already exists")
    for key, value in changes.items():
        setattr(folder, key, value)
    await session.flush()
    return folder


async def delete_folder(session: AsyncSession, org_id: str, folder_id: str) -> None:
    """Files, passages and every agent's view of them go with it (foreign-key cascades)."""
    folder = await get_folder(session, org_id, folder_id)
    await session.delete(folder)
    await session.flush()


async def attach_folder(session: AsyncSession, org_id: str, agent_id: str, folder_id: str) -> None:
    await session.execute(
        insert(AgentFolder)
        .values(agent_id=agent_id, folder_id=folder_id, organization_id=org_id)
        .on_conflict_do_nothing()
    )


async def detach_folder(session: AsyncSession, org_id: str, agent_id: str, folder_id: str) -> None:
    await session.execute(
        delete(AgentFolder).where(
            AgentFolder.agent_id == agent_id,
            AgentFolder.folder_id == folder_id,
            AgentFolder.organization_id == org_id,
        )
    )


async def agent_folder_ids(session: AsyncSession, org_id: str, agent_id: str) -> list[str]:
    rows = await session.scalars(
        select(AgentFolder.folder_id)
        .where(AgentFolder.agent_id == agent_id, AgentFolder.organization_id == org_id)
        .order_by(AgentFolder.created_at, AgentFolder.folder_id)
    )
    return list(rows)


async def folders_of_agents(
    session: AsyncSession, org_id: str, agent_ids: list[str]
) -> dict[str, list[Folder]]:
    """Each agent's folders in attach order, in one query (AgentState.sources)."""
    found: dict[str, list[Folder]] = {a: [] for a in agent_ids}
    if not agent_ids:
        return found
    rows = await session.execute(
        select(AgentFolder.agent_id, Folder)
        .join(Folder, Folder.id == AgentFolder.folder_id)
        .where(AgentFolder.agent_id.in_(agent_ids), AgentFolder.organization_id == org_id)
        .order_by(AgentFolder.created_at, Folder.id)
    )
    for agent_id, folder in rows:
        found[agent_id].append(folder)
    return found


async def page_agent_folders(
    session: AsyncSession, org_id: str, agent_id: str, *, after: str | None = None, before: str | None = None,
    limit: int | None = 100, descending: bool = True,
) -> list[Folder]:  # fmt: skip
    stmt = (
        select(Folder)
        .join(AgentFolder, AgentFolder.folder_id == Folder.id)
        .where(AgentFolder.agent_id == agent_id, AgentFolder.organization_id == org_id)
    )
    return await paginate(
        session, stmt, id_column=Folder.id, order_columns=[Folder.created_at, Folder.id],
        after=after, before=before, limit=limit, descending=descending,
    )  # fmt: skip


async def folder_agent_ids(
    session: AsyncSession, org_id: str, folder_id: str, *, limit: int = 50, descending: bool = True
) -> list[str]:
    order = AgentFolder.created_at.desc() if descending else AgentFolder.created_at.asc()
    rows = await session.scalars(
        select(AgentFolder.agent_id)
        .where(AgentFolder.folder_id == folder_id, AgentFolder.organization_id == org_id)
        .order_by(order, AgentFolder.agent_id)
        .limit(limit)
    )
    return list(rows)
