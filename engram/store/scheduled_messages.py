"""Scheduled messages: rows are the source of truth; Temporal Schedules are rebuilt from them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import Conflict, NotFound
from engram.ids import new_id
from engram.schedules import ONE_TIME, NewScheduledMessage
from engram.store import agents as agent_store
from engram.store.models import ScheduledMessage
from engram.store.pagination import paginate


async def create_scheduled_message(
    session: AsyncSession, org_id: str, agent_id: str, new: NewScheduledMessage, *, max_per_agent: int,
    scheduled_message_id: str | None = None,
) -> ScheduledMessage:  # fmt: skip
    """Insert the row (NotFound for an unknown agent, Conflict past `max_per_agent`).

    With `scheduled_message_id` an insert repeated under the same id (a retried wake-up tool call) adds
    nothing and returns the first row.
    """
    await agent_store.get_agent(session, org_id, agent_id)
    sm_id = scheduled_message_id or new_id("schedule")
    existing = await find_scheduled_message(session, org_id, sm_id)
    if existing is not None:
        return existing
    count = await session.scalar(
        select(func.count()).select_from(ScheduledMessage).where(
            ScheduledMessage.organization_id == org_id, ScheduledMessage.agent_id == agent_id
        )
    )
    if (count or 0) >= max_per_agent:
        raise Conflict(
            f"agent {agent_id} already has {count} scheduled messages (the limit is {max_per_agent}); "
            "delete one first"
        )
    await session.execute(
        insert(ScheduledMessage).values(
            id=sm_id, organization_id=org_id, agent_id=agent_id, kind=new.kind, scheduled_at=new.scheduled_at,
            cron_expression=new.cron_expression, timezone=new.timezone, messages=new.messages,
            callback_url=new.callback_url, include_return_message_types=new.include_return_message_types,
            max_steps=new.max_steps, source=new.source, is_paused=False, fire_count=0,
            conversation_id=new.conversation_id,
        ).on_conflict_do_nothing()
    )  # fmt: skip
    return await get_scheduled_message(session, org_id, sm_id)


async def find_scheduled_message(session: AsyncSession, org_id: str, sm_id: str) -> ScheduledMessage | None:
    return await session.scalar(
        select(ScheduledMessage).where(ScheduledMessage.id == sm_id, ScheduledMessage.organization_id == org_id)
    )


async def get_scheduled_message(
    session: AsyncSession, org_id: str, sm_id: str, *, agent_id: str | None = None
) -> ScheduledMessage:
    """The row, or NotFound (also when it belongs to another agent than `agent_id`)."""
    row = await find_scheduled_message(session, org_id, sm_id)
    if row is None or (agent_id is not None and row.agent_id != agent_id):
        raise NotFound("scheduled message", sm_id)
    return row


async def list_scheduled_messages(
    session: AsyncSession, org_id: str, *, agent_id: str | None = None, after: str | None = None, limit: int = 50,
) -> tuple[list[ScheduledMessage], bool]:  # fmt: skip
    """Oldest first; (page, has_next_page). `agent_id=None` lists the whole organization."""
    stmt = select(ScheduledMessage).where(ScheduledMessage.organization_id == org_id)
    if agent_id is not None:
        stmt = stmt.where(ScheduledMessage.agent_id == agent_id)
    rows = await paginate(
        session, stmt, id_column=ScheduledMessage.id,
        order_columns=[ScheduledMessage.created_at, ScheduledMessage.id], after=after, limit=limit + 1,
    )  # fmt: skip
    return rows[:limit], len(rows) > limit


async def scheduled_message_ids(session: AsyncSession, org_id: str, agent_id: str) -> list[str]:
    rows = await session.scalars(
        select(ScheduledMessage.id).where(ScheduledMessage.organization_id == org_id, ScheduledMessage.agent_id == agent_id)
    )
    return list(rows)


async def all_scheduled_messages(session: AsyncSession) -> Sequence[ScheduledMessage]:
    """Every row of every organization: what the worker's reconciler makes Temporal match."""
    return list(await session.scalars(select(ScheduledMessage)))


async def delete_scheduled_message(session: AsyncSession, org_id: str, sm_id: str) -> None:
    await session.execute(
        delete(ScheduledMessage).where(ScheduledMessage.id == sm_id, ScheduledMessage.organization_id == org_id)
    )


async def set_paused(session: AsyncSession, org_id: str, sm_id: str, is_paused: bool) -> None:
    await session.execute(
        update(ScheduledMessage)
        .where(ScheduledMessage.id == sm_id, ScheduledMessage.organization_id == org_id)
        .values(is_paused=is_paused)
    )


async def record_firing(session: AsyncSession, row: ScheduledMessage, run_id: str) -> None:
    """Count a firing; a one-time message is used up and its row goes (the run keeps the link)."""
    if row.kind == ONE_TIME:
        await session.delete(row)
    else:
        row.fire_count += 1
        row.last_run_id = run_id
    await session.flush()
