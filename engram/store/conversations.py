"""Conversations repository: CRUD, listing, fork, and the per-thread context window holder.

`context_holder` is how the context compiler stays thread-agnostic: the agent's own thread keeps its
window pointers (system/summary message, context start) on the Agent row, a conversation on its own
row, with the same attribute names, so compiler and compaction read and write whichever they get.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import InvalidInput, NotFound
from engram.ids import derived_id, new_id
from engram.store import messages as message_store
from engram.store.models import Agent, Conversation, Message, Run
from engram.store.models.base import utcnow
from engram.store.pagination import paginate

UPDATABLE = frozenset({
    "summary", "description", "archived", "model", "model_settings", "context_window_limit", "last_message_at", "hidden",
})  # fmt: skip
ORDER_COLUMNS = {"created_at", "last_message_at", "last_run_completion"}


async def create_conversation(
    session: AsyncSession, org_id: str, agent_id: str, *, summary: str | None = None, description: str | None = None,
    model: str | None = None, model_settings: dict[str, Any] | None = None, context_window_limit: int | None = None,
    hidden: bool = False, conversation_id: str | None = None,
) -> Conversation:  # fmt: skip
    if context_window_limit is not None and context_window_limit < 1:
        raise InvalidInput("context_window_limit must be a positive number of tokens")
    conv = Conversation(
        id=conversation_id or new_id("conv"), organization_id=org_id, agent_id=agent_id, summary=summary,
        description=description, model=model, model_settings=model_settings,
        context_window_limit=context_window_limit, hidden=bool(hidden), archived=False, context_start_position=0,
    )  # fmt: skip
    session.add(conv)
    await session.flush()
    return conv


async def get_conversation(session: AsyncSession, org_id: str, conversation_id: str) -> Conversation:
    conv = await find_conversation(session, org_id, conversation_id)
    if conv is None:
        raise NotFound("conversation", conversation_id)
    return conv


async def find_conversation(session: AsyncSession, org_id: str, conversation_id: str) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.organization_id == org_id)
    )


async def list_conversations(
    session: AsyncSession, org_id: str, *, agent_id: str | None = None, after: str | None = None,
    limit: int = 50, order: str = "desc", order_by: str = "created_at", archive_status: str = "unarchived",
    summary_search: str | None = None,
) -> list[Conversation]:  # fmt: skip
    """Hidden conversations never list; archived ones only with archive_status archived|all."""
    if order not in ("asc", "desc"):
        raise InvalidInput(f"order must be 'asc' or 'desc', got {order!r}")
    if order_by not in ORDER_COLUMNS:
        raise InvalidInput(f"order_by must be one of {sorted(ORDER_COLUMNS)}, got {order_by!r}")
    stmt: Select[Any] = select(Conversation).where(
        Conversation.organization_id == org_id, Conversation.hidden.is_(False)
    )
    if agent_id is not None:
        stmt = stmt.where(Conversation.agent_id == agent_id)
    if archive_status == "unarchived":
        stmt = stmt.where(Conversation.archived.is_(False))
    elif archive_status == "archived":
        stmt = stmt.where(Conversation.archived.is_(True))
    elif archive_status != "all":
        raise InvalidInput(f"archive_status must be unarchived, archived or all, got {archive_status!r}")
    if summary_search:
        stmt = stmt.where(Conversation.summary.ilike(f"%{summary_search}%"))
    column = getattr(Conversation, order_by)
    # Nullable sort keys (never messaged) sort as the epoch so the order is total and cursors work.
    key = func.coalesce(column, func.to_timestamp(0)) if order_by != "created_at" else column
    return await paginate(
        session, stmt, id_column=Conversation.id, order_columns=[key, Conversation.id], after=after,
        limit=limit, descending=order == "desc",
    )  # fmt: skip


async def update_conversation(
    session: AsyncSession, org_id: str, conversation_id: str, changes: dict[str, Any]
) -> Conversation:
    conv = await get_conversation(session, org_id, conversation_id)
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise InvalidInput(f"cannot update {sorted(unknown)} on a conversation")
    if changes.get("context_window_limit") is not None and changes["context_window_limit"] < 1:
        raise InvalidInput("context_window_limit must be a positive number of tokens")
    for name, value in changes.items():
        if name == "archived":
            value = bool(value)
            if value and not conv.archived:
                conv.archived_at = utcnow()
            elif not value:
                conv.archived_at = None
        setattr(conv, name, value)
    conv.updated_at = utcnow()
    await session.flush()
    return conv


async def delete_conversation(session: AsyncSession, org_id: str, conversation_id: str) -> None:
    """Remove the thread and its messages; the agent and its memory stay."""
    conv = await get_conversation(session, org_id, conversation_id)
    await session.execute(
        delete(Message).where(Message.organization_id == org_id, Message.conversation_id == conv.id)
    )
    await session.delete(conv)
    await session.flush()


async def touch(session: AsyncSession, org_id: str, conversation_id: str) -> None:
    """Record a send: `last_message_at` orders listings by activity."""
    conv = await get_conversation(session, org_id, conversation_id)
    conv.last_message_at = utcnow()
    await session.flush()


async def touch_returning(
    session: AsyncSession, org_id: str, conversation_id: str, agent_id: str | None = None
) -> tuple[str, str | None] | None:
    """`touch` in one statement for the send path: (agent_id, model) of the touched conversation, or None when
    there is no such conversation (of `agent_id`, when given) and nothing was written."""
    from sqlalchemy import update

    query = update(Conversation).where(Conversation.id == conversation_id, Conversation.organization_id == org_id)
    if agent_id is not None:
        query = query.where(Conversation.agent_id == agent_id)
    now = utcnow()
    row = (
        await session.execute(
            query.values(last_message_at=now, updated_at=now).returning(Conversation.agent_id, Conversation.model)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def context_holder(
    session: AsyncSession, agent: Agent, conversation_id: str | None
) -> Agent | Conversation:
    """The row that owns the thread's window pointers: the agent for its own thread, else the conversation."""
    if conversation_id is None:
        return agent
    conv = await get_conversation(session, agent.organization_id, conversation_id)
    if conv.agent_id != agent.id:
        raise NotFound("conversation", conversation_id)
    return conv


async def fork_conversation(
    session: AsyncSession, agent: Agent, source_id: str | None, *, message_id: str | None = None, hidden: bool = False,
) -> Conversation:  # fmt: skip
    """A new conversation whose history is a copy of the source thread's in-context messages, up to and
    including `message_id` (all of them when None). Copies get new ids, so the two threads then diverge."""
    org_id = agent.organization_id
    source = None if source_id is None else await context_holder(session, agent, source_id)
    rows = await message_store.in_context_messages(session, agent, source_id)
    if message_id is not None:
        ids = [r.id for r in rows]
        if message_id not in ids:
            raise NotFound("message", f"{message_id} in the conversation's context")
        rows = rows[: ids.index(message_id) + 1]
    conv = await create_conversation(
        session, org_id, agent.id, hidden=hidden,
        model=getattr(source, "model", None), model_settings=getattr(source, "model_settings", None),
        context_window_limit=getattr(source, "context_window_limit", None),
    )  # fmt: skip
    copies = []
    for row in rows:
        values = {
            c.name: getattr(row, c.name)
            for c in Message.__table__.columns
            if c.name not in ("position", "search_tsv")
        }
        values.update(id=derived_id("message", conv.id, row.id), conversation_id=conv.id)
        copies.append(values)
    await message_store.insert_messages(session, copies)
    if copies:
        first = await message_store.get_message(session, org_id, copies[0]["id"])
        conv.context_start_position = first.position
    await session.flush()
    return conv


def _thread_runs(org_id: str, agent_id: str, conversation_id: str | None) -> Select[Any]:
    thread = (
        Run.conversation_id.is_(None) if conversation_id is None else Run.conversation_id == conversation_id
    )
    return select(Run).where(Run.organization_id == org_id, Run.agent_id == agent_id, thread)


async def active_runs(
    session: AsyncSession, org_id: str, agent_id: str, conversation_id: str | None
) -> list[Run]:
    """The thread's runs not yet finished (queued or being worked on), oldest first."""
    stmt = _thread_runs(org_id, agent_id, conversation_id).where(Run.status.in_(("created", "running")))
    return list(await session.scalars(stmt.order_by(Run.created_at, Run.id)))


async def latest_run(
    session: AsyncSession, org_id: str, agent_id: str, conversation_id: str | None
) -> Run | None:
    """The thread's newest active run, else its newest run: what a stream resume reattaches to."""
    active = await active_runs(session, org_id, agent_id, conversation_id)
    if active:
        return active[-1]
    stmt = (
        _thread_runs(org_id, agent_id, conversation_id)
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


async def conversation_ids(session: AsyncSession, org_id: str, agent_id: str) -> list[str]:
    """Every conversation of the agent (hidden and archived too): what deleting the agent must end."""
    stmt = select(Conversation.id).where(
        Conversation.organization_id == org_id, Conversation.agent_id == agent_id
    )
    return list(await session.scalars(stmt))
