"""Per-agent open-file state (Letta's files_agents): one row per (agent, file), open or closed, with the
visible window and `last_accessed_at`, which orders least-recently-used eviction."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import NotFound
from engram.ids import new_id
from engram.store.models import FileAgent, Folder
from engram.store.models.base import utcnow
from engram.store.pagination import paginate


async def ensure_rows(
    session: AsyncSession, org_id: str, agent_id: str, files: list[tuple[str, str, str]]
) -> None:
    """Add closed rows for (file id, folder id, file name) the agent has none for yet."""
    if not files:
        return
    rows = [
        {"id": new_id("file_agent"), "organization_id": org_id, "agent_id": agent_id, "file_id": file_id,
         "folder_id": folder_id, "file_name": name, "is_open": False}
        for file_id, folder_id, name in files
    ]  # fmt: skip
    await session.execute(
        insert(FileAgent).values(rows).on_conflict_do_nothing(index_elements=["agent_id", "file_id"])
    )


async def get_row(session: AsyncSession, org_id: str, agent_id: str, file_id: str) -> FileAgent:
    row = await session.scalar(
        select(FileAgent)
        .where(
            FileAgent.organization_id == org_id, FileAgent.agent_id == agent_id, FileAgent.file_id == file_id
        )
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound("file", f"{file_id} on agent {agent_id}")
    return row


async def agent_rows(session: AsyncSession, org_id: str, agent_id: str) -> list[FileAgent]:
    """All the agent's file rows, oldest first."""
    rows = await session.scalars(
        select(FileAgent)
        .where(FileAgent.organization_id == org_id, FileAgent.agent_id == agent_id)
        .order_by(FileAgent.created_at, FileAgent.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def rows_of_agents(
    session: AsyncSession, org_id: str, agent_ids: list[str]
) -> dict[str, list[FileAgent]]:
    """Each agent's file rows, oldest first, in one query (AgentState.memory.file_blocks)."""
    found: dict[str, list[FileAgent]] = {a: [] for a in agent_ids}
    if agent_ids:
        rows = await session.scalars(
            select(FileAgent)
            .where(FileAgent.organization_id == org_id, FileAgent.agent_id.in_(agent_ids))
            .order_by(FileAgent.created_at, FileAgent.id)
        )
        for row in rows:
            found[row.agent_id].append(row)
    return found


async def page_rows(
    session: AsyncSession, org_id: str, agent_id: str, *, is_open: bool | None = None, after: str | None = None,
    before: str | None = None, limit: int = 100, descending: bool = True,
) -> list[tuple[FileAgent, str]]:  # fmt: skip
    """A page of (row, folder name), ordered by (created_at, id) in the requested direction, always
    (Letta ignores `order` without a cursor; we do not)."""
    stmt = select(FileAgent).where(FileAgent.organization_id == org_id, FileAgent.agent_id == agent_id)
    if is_open is not None:
        stmt = stmt.where(FileAgent.is_open.is_(is_open))
    rows = await paginate(
        session, stmt, id_column=FileAgent.id, order_columns=[FileAgent.created_at, FileAgent.id],
        after=after, before=before, limit=limit, descending=descending,
    )  # fmt: skip
    folder_ids = {r.folder_id for r in rows}
    names = (
        dict((await session.execute(select(Folder.id, Folder.name).where(Folder.id.in_(folder_ids)))).all())
        if rows
        else {}
    )
    return [(r, names.get(r.folder_id, "")) for r in rows]


async def open_row(
    session: AsyncSession, row: FileAgent, visible_content: str, start_line: int | None, end_line: int | None,
    max_files_open: int,
) -> list[str]:  # fmt: skip
    """Open `row` with this view; close least recently used open files so at most `max_files_open` stay open.
    Returns the names closed."""
    others = await session.scalars(
        select(FileAgent)
        .where(FileAgent.agent_id == row.agent_id, FileAgent.is_open.is_(True), FileAgent.id != row.id)
        .order_by(FileAgent.last_accessed_at, FileAgent.id)
    )
    others_open = list(others)
    closed = []
    while len(others_open) > max(0, max_files_open - 1):
        victim = others_open.pop(0)
        _close(victim)
        closed.append(victim.file_name)
    row.is_open = True
    row.visible_content = visible_content
    row.start_line, row.end_line = start_line, end_line
    row.last_accessed_at = utcnow()
    row.updated_at = utcnow()
    await session.flush()
    return closed


def _close(row: FileAgent) -> None:
    row.is_open = False
    row.visible_content = None
    row.start_line = row.end_line = None
    row.updated_at = utcnow()


async def close_row(session: AsyncSession, row: FileAgent) -> None:
    _close(row)
    await session.flush()


async def close_all(session: AsyncSession, org_id: str, agent_id: str) -> list[str]:
    rows = [r for r in await agent_rows(session, org_id, agent_id) if r.is_open]
    for row in rows:
        _close(row)
    await session.flush()
    return [r.file_name for r in rows]


async def touch(session: AsyncSession, org_id: str, agent_id: str, file_ids: list[str]) -> None:
    """Mark files as just used (grep and semantic hits count as access, as in Letta)."""
    if file_ids:
        await session.execute(
            update(FileAgent)
            .where(
                FileAgent.organization_id == org_id,
                FileAgent.agent_id == agent_id,
                FileAgent.file_id.in_(file_ids),
            )
            .values(last_accessed_at=utcnow())
        )


async def remove_folder_rows(session: AsyncSession, org_id: str, agent_id: str, folder_id: str) -> None:
    await session.execute(
        delete(FileAgent).where(
            FileAgent.organization_id == org_id,
            FileAgent.agent_id == agent_id,
            FileAgent.folder_id == folder_id,
        )
    )


async def agents_of_file(session: AsyncSession, org_id: str, file_id: str) -> list[str]:
    rows = await session.scalars(
        select(FileAgent.agent_id).where(FileAgent.organization_id == org_id, FileAgent.file_id == file_id)
    )
    return list(rows)
