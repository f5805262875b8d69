"""Recall and archival tools for the agent: conversation_search, archival_memory_insert/search.

Archival inserts are chunked and keyed by the tool call's op id, so a retried activity stores each chunk
once. Archival search is the exact per-agent vector search of `store/passages.py`. Recall search is
PostgreSQL full-text search over the agent's messages (ranked, role and date filters), falling back to a
substring match when full text finds nothing; vector recall is not built yet.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from engram.embed.registry import resolve_embedder
from engram.ids import derived_id
from engram.store import passages as passage_store
from engram.store.models import Agent, Message, Passage
from engram.tools.memory_tools import ToolError

if TYPE_CHECKING:
    from engram.tools.executor import ToolContext

CHUNK_CHARS = 1200  # ~300 tokens, Letta's embedding chunk size
DEFAULT_RESULTS = 5
MAX_RESULTS = 50


def chunk_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Split on paragraph, then sentence boundaries, so each chunk stays readable on its own."""
    pieces = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    chunks: list[str] = []
    for piece in pieces:
        sentences = re.split(r"(?<=[.!?])\s+", piece) if len(piece) > limit else [piece]
        current = ""
        for sentence in sentences:
            while len(sentence) > limit:
                chunks.append(sentence[:limit])
                sentence = sentence[limit:]
            if current and len(current) + 1 + len(sentence) > limit:
                chunks.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            chunks.append(current)
    return chunks


def _settings(ctx: ToolContext) -> Any:
    if ctx.settings is None:
        raise ToolError("Error: archival memory is not configured for this worker")
    return ctx.settings


async def _embedder(ctx: ToolContext) -> Any:
    agent = await ctx.session.get(Agent, ctx.agent_id)
    return resolve_embedder(agent.embedding if agent else None, _settings(ctx))


def _parse_when(value: str | None, *, end_of_day: bool) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ToolError(f"Error: {value!r} is not an ISO date or datetime (e.g. 2025-01-31 or 2025-01-31T09:00)") from None
    if len(value) <= 10:  # a date alone covers the whole day
        parsed = datetime.combine(parsed.date(), time.max if end_of_day else time.min)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %I:%M:%S %p UTC")


def _time_ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


async def archival_memory_insert(ctx: ToolContext, content: str, tags: list[str] | None = None) -> str:
    chunks = chunk_text(content)
    if not chunks:
        raise ToolError("Error: content must not be empty")
    embedder = await _embedder(ctx)
    vectors = await embedder.embed(chunks)
    rows = [
        {
            "id": derived_id("passage", ctx.op_id, str(i)), "organization_id": ctx.org_id, "agent_id": ctx.agent_id,
            "text": chunk, "tags": sorted(set(tags or [])), "embedding": vector, "embedding_model": embedder.handle,
            "embedding_dim": len(vector),
        }
        for i, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
    ]  # fmt: skip
    await ctx.session.execute(pg_insert(Passage).values(rows).on_conflict_do_nothing(index_elements=["id"]))
    return f"Inserted {len(rows)} passage(s) into archival memory."


async def archival_memory_search(
    ctx: ToolContext, query: str, tags: list[str] | None = None, tag_match_mode: str = "any",
    top_k: int | None = None, start_datetime: str | None = None, end_datetime: str | None = None,
) -> str:  # fmt: skip
    if tag_match_mode not in ("any", "all"):
        raise ToolError("Error: tag_match_mode must be 'any' or 'all'")
    embedder = await _embedder(ctx)
    [vector] = await embedder.embed([query])
    found = await passage_store.search_passages(
        ctx.session, ctx.org_id, ctx.agent_id, vector, embedding_model=embedder.handle,
        top_k=max(1, min(int(top_k or DEFAULT_RESULTS), MAX_RESULTS)), tags=tags, tag_match_mode=tag_match_mode,
        start=_parse_when(start_datetime, end_of_day=False), end=_parse_when(end_datetime, end_of_day=True),
    )  # fmt: skip
    results = [{"id": p.id, "timestamp": _stamp(p.created_at), "content": p.text, "tags": p.tags} for p, _ in found]
    return json.dumps(results)


async def conversation_search(
    ctx: ToolContext, query: str | None = None, roles: list[str] | None = None, limit: int | None = None,
    start_date: str | None = None, end_date: str | None = None,
) -> str:  # fmt: skip
    count = max(1, min(int(limit or DEFAULT_RESULTS), MAX_RESULTS))
    stmt = select(Message).where(
        Message.organization_id == ctx.org_id, Message.agent_id == ctx.agent_id,
        Message.role.in_(roles or ["user", "assistant"]), Message.role != "tool", Message.role != "system",
        Message.text != "",
    )  # fmt: skip
    # Threads are private: a conversation searches its own messages, the agent's own thread only its own.
    thread = ctx.conversation_id
    stmt = stmt.where(Message.conversation_id.is_(None) if thread is None else Message.conversation_id == thread)
    earlier_search = Message.tool_calls.cast(Text).contains('"conversation_search"')
    stmt = stmt.where(or_(Message.tool_calls.is_(None), ~earlier_search))  # earlier searches would echo themselves
    start, end = _parse_when(start_date, end_of_day=False), _parse_when(end_date, end_of_day=True)
    if start is not None:
        stmt = stmt.where(Message.created_at >= start)
    if end is not None:
        stmt = stmt.where(Message.created_at <= end)
    rows: list[Message] = []
    if query:
        tsquery = func.websearch_to_tsquery("english", query)
        ranked = stmt.where(Message.search_tsv.op("@@")(tsquery)).order_by(
            func.ts_rank(Message.search_tsv, tsquery).desc(), Message.position.desc()
        )
        rows = list(await ctx.session.scalars(ranked.limit(count)))
        if not rows:
            rows = list(await ctx.session.scalars(stmt.where(Message.text.ilike(f"%{query}%"))
                                                 .order_by(Message.position.desc()).limit(count)))  # fmt: skip
    else:
        rows = list(await ctx.session.scalars(stmt.order_by(Message.position.desc()).limit(count)))
    if not rows:
        return json.dumps({"message": "No results found.", "results": []})
    now = datetime.now(UTC) + timedelta(seconds=1)
    results = [
        {"timestamp": _stamp(m.created_at), "time_ago": _time_ago(m.created_at, now), "role": m.role, "content": m.text}
        for m in rows
    ]
    return json.dumps({"message": f"Showing {len(results)} results:", "results": results})
