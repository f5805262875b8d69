"""Recall memory rows: idempotent inserts, the in-context window, API pagination and a run's output.

Row ids are chosen by the caller (the API pre-mints input ids; the loop derives step ids from
run id + step index), so every insert is `ON CONFLICT DO NOTHING` and a retried write adds nothing.
`position` (a global identity) is the one total order: cursors and the context window use it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import InvalidInput, NotFound
from engram.store.models import Agent, Message

_COLUMNS = {c.name for c in Message.__table__.columns} - {"position", "search_tsv"}


def text_of(content: Any) -> str:
    """Plain text of a Letta content value (a string or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")


def content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [dict(p) for p in content]


def row_content(row: Any) -> list[dict[str, Any]]:
    """A stored row's content parts. A system row keeps its compiled prompt in `text` only (its content is
    stored empty): the prompt is ~1.2 KB compressed per agent, and storing it twice was 14 % of what creating
    an agent writes (issue #9)."""
    if row.role == "system" and not row.content:
        return [{"type": "text", "text": row.text}] if row.text else []
    return content_parts(row.content)


async def insert_messages(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert rows in list order (positions follow it); ids already present are skipped. Returns rows added."""
    added = 0
    for row in rows:  # one statement per row keeps positions in list order
        values = {k: v for k, v in row.items() if k in _COLUMNS}
        result = await session.execute(insert(Message).values(**values).on_conflict_do_nothing(index_elements=["id"]))
        added += result.rowcount or 0
    return added


async def insert_message_returning(session: AsyncSession, row: dict[str, Any]) -> Message:
    """Insert one row and return it as stored (defaults and position filled in) in the same round trip; a row
    already present (a retried write) is read back instead."""
    values = {k: v for k, v in row.items() if k in _COLUMNS}
    stmt = insert(Message).values(**values).on_conflict_do_nothing(index_elements=["id"]).returning(Message)
    stored = await session.scalar(stmt)
    return stored if stored is not None else await get_message(session, row["organization_id"], row["id"])


async def get_message(session: AsyncSession, org_id: str, message_id: str) -> Message:
    row = await session.scalar(select(Message).where(Message.id == message_id, Message.organization_id == org_id))
    if row is None:
        raise NotFound("message", message_id)
    return row


async def find_message(session: AsyncSession, org_id: str, message_id: str) -> Message | None:
    return await session.scalar(select(Message).where(Message.id == message_id, Message.organization_id == org_id))


async def in_context_messages(session: AsyncSession, agent: Agent, conversation_id: str | None = None) -> list[Message]:
    """[summary] + rows at or after `context_start_position`, excluding the system row (compiled separately).

    The window pointers are the agent's for its own thread, the conversation's for a conversation.
    """
    return list(await _in_context(session, agent, conversation_id, Message))


# What the prompt needs of a row (engram/context/compiler.py to_chat_messages reads these attributes).
CHAT_COLUMNS = (Message.role, Message.text, Message.content, Message.reasoning, Message.tool_calls,
                Message.tool_call_id, Message.name)  # fmt: skip


async def in_context_chat_rows(session: AsyncSession, agent: Agent, conversation_id: str | None = None) -> list[Any]:
    """The in-context window as plain column tuples: every step reads it, and ORM entities cost ~3x the CPU."""
    return list(await _in_context(session, agent, conversation_id, *CHAT_COLUMNS))


# A row's version: Postgres gives every new tuple version a new xmin, so "position:xmin" changes whenever a
# row is edited, and a cached copy with the same version is the row as stored.
_XMIN = literal_column("messages.xmin::text")
_VERSION = cast(Message.position, Text) + literal_column("':'") + _XMIN


async def in_context_versions(session: AsyncSession, agent: Agent, conversation_id: str | None = None) -> list[str]:
    """The in-context window as "position:xmin" strings, in prompt order, read as one aggregated string.

    The worker reads this every step: 3,000 rows through the ORM's row machinery took ~4 ms a step, growing
    with the conversation; one string split in C takes microseconds.
    """
    from engram.store.conversations import context_holder

    holder = await context_holder(session, agent, conversation_id)
    out: list[str] = []
    if holder.summary_message_id:
        summary = await session.scalar(select(_VERSION).where(*_summary_where(holder, agent)))
        out += [summary] if summary else []
    ordered = aggregate_order_by(literal_column("','"), Message.conversation_id, Message.position)  # index order: see _in_context
    joined = await session.scalar(select(func.string_agg(_VERSION, ordered)).where(*_window_where(holder, agent, conversation_id)))
    return out + (joined.split(",") if joined else [])


async def chat_rows_at(session: AsyncSession, org_id: str, positions: list[int]) -> list[Any]:
    """CHAT_COLUMNS (+ position, xmin) of the rows at `positions`, in no particular order."""
    if not positions:
        return []
    query = select(*CHAT_COLUMNS, Message.position, _XMIN.label("xmin")).where(
        Message.position.in_(positions), Message.organization_id == org_id
    )
    return list(await session.execute(query))


async def _in_context(session: AsyncSession, agent: Agent, conversation_id: str | None, *what: Any) -> list[Any]:
    from engram.store.conversations import context_holder

    holder = await context_holder(session, agent, conversation_id)
    entities = len(what) == 1
    out: list[Any] = []
    if holder.summary_message_id:
        summary_query = select(*what).where(*_summary_where(holder, agent))
        summary = await (session.scalars(summary_query) if entities else session.execute(summary_query))
        out.extend(summary)
    # Ordered as ix_messages_agent_conv_position is (the thread column is fixed by the filter, but Postgres does not
    # treat `IS NULL` as fixing it): the index gives the rows in order, with no sort of the whole history.
    query = select(*what).where(*_window_where(holder, agent, conversation_id))
    query = query.order_by(Message.conversation_id, Message.position)
    out.extend(await (session.scalars(query) if entities else session.execute(query)))
    return out


def _summary_where(holder: Any, agent: Agent) -> list[Any]:
    """The summary row, which the prompt places before the window."""
    return [Message.id == holder.summary_message_id, Message.organization_id == agent.organization_id]


def _window_where(holder: Any, agent: Agent, conversation_id: str | None) -> list[Any]:
    """The rows after the window start, minus the system and summary rows (which the prompt places itself)."""
    where = [
        Message.agent_id == agent.id,
        Message.organization_id == agent.organization_id,
        Message.position >= holder.context_start_position,
        _conversation_filter(conversation_id),
    ]
    excluded = [i for i in (holder.system_message_id, holder.summary_message_id) if i]
    if excluded:
        where.append(Message.id.not_in(excluded))
    return where


def _conversation_filter(conversation_id: str | None):  # noqa: ANN202 - SQL expression
    if conversation_id is None:
        return Message.conversation_id.is_(None)
    return Message.conversation_id == conversation_id


async def count_messages(session: AsyncSession, org_id: str, agent_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(Message.agent_id == agent_id, Message.organization_id == org_id)
        )
        or 0
    )


async def list_messages(
    session: AsyncSession, org_id: str, agent_id: str, *, conversation_id: str | None = None,
    after: str | None = None, before: str | None = None, limit: int = 100, order: str = "desc",
    run_id: str | None = None, default_thread: bool = False,
) -> list[Message]:  # fmt: skip
    """All of an agent's rows (recall memory) for API pagination.

    Cursors are message ids relative to `order`: under "desc" `after` means older, under "asc" newer.
    `conversation_id=None` lists every row of the agent; `default_thread` only the agent's own thread's.
    """
    if order not in ("asc", "desc"):
        raise InvalidInput(f"order must be 'asc' or 'desc', got {order!r}")
    query = select(Message).where(Message.agent_id == agent_id, Message.organization_id == org_id)
    if conversation_id is not None or default_thread:
        query = query.where(_conversation_filter(conversation_id))
    if run_id is not None:
        query = query.where(Message.run_id == run_id)
    newer_first = order == "desc"
    for cursor, goes_further in ((after, True), (before, False)):
        if cursor is None:
            continue
        pos = (await get_message(session, org_id, cursor)).position
        towards_older = goes_further == newer_first
        query = query.where(Message.position < pos if towards_older else Message.position > pos)
    query = query.order_by(Message.position.desc() if newer_first else Message.position.asc())
    return list(await session.scalars(query.limit(max(0, limit))))


async def run_output_messages(session: AsyncSession, org_id: str, run_id: str) -> list[Message]:
    """The rows a run produced, in order: assistant and tool rows (its input and heartbeat rows excluded)."""
    rows = await session.scalars(
        select(Message)
        .where(Message.run_id == run_id, Message.organization_id == org_id, Message.role.in_(("assistant", "tool")))
        .order_by(Message.position)
    )
    return list(rows)


async def run_messages(session: AsyncSession, org_id: str, run_id: str) -> list[Message]:
    """Every row tagged with the run (input, assistant, tool, heartbeat), in order."""
    rows = await session.scalars(
        select(Message).where(Message.run_id == run_id, Message.organization_id == org_id).order_by(Message.position)
    )
    return list(rows)


async def set_message_content(session: AsyncSession, org_id: str, message_id: str, text: str) -> None:
    await session.execute(
        update(Message)
        .where(Message.id == message_id, Message.organization_id == org_id)
        .values(content=[{"type": "text", "text": text}], text=text)
    )
