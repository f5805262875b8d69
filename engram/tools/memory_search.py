"""Recall and archival tools for the agent: conversation_search, archival_memory_insert/search.

Archival inserts are chunked and keyed by the tool call's op id, so a retried activity stores each chunk
once. Archival search is the exact per-agent vector search of `store/passages.py`. Recall search is
hybrid: PostgreSQL full-text ranking and exact vector similarity over the agent's messages (embedded lazily
by the search, per embedding model), merged by reciprocal rank fusion; with no usable embedder it is
full-text only, with a substring fallback for names and ids full text cannot match.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, Text, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from engram.embed.registry import resolve_embedder
from engram.ids import derived_id
from engram.store import message_embeddings as message_vectors
from engram.store import passages as passage_store
from engram.store.models import Agent, Message, Passage
from engram.tools.memory_tools import ToolError

if TYPE_CHECKING:
    from engram.tools.executor import ToolContext

CHUNK_CHARS = 1200  # ~300 tokens, Letta's embedding chunk size
DEFAULT_RESULTS = 5
MAX_RESULTS = 50
CANDIDATES = 50  # per ranking (full text, vector) before fusion
RRF_K = 60  # the usual reciprocal-rank-fusion constant
MIN_VECTOR_SIMILARITY = 0.2  # below this a vector "neighbour" is noise: an unrelated query finds nothing
BACKFILL_LIMIT = 2000  # messages embedded per search at most (newest first); older ones stay text-searchable
EMBED_BATCH = 64
EMBED_CLIP_CHARS = 2000  # embedders truncate long inputs anyway (MiniLM: 256 tokens)

log = logging.getLogger(__name__)


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


async def _embed(ctx: ToolContext, texts: list[str]) -> tuple[str, list[list[float]]] | None:
    """(embedding handle, one vector per text) from the agent's embedder, or None when it is unusable
    (unknown handle, missing key, provider down): archival memory then works on full text alone."""
    agent = await ctx.session.get(Agent, ctx.agent_id)
    settings = _settings(ctx)
    try:
        embedder = resolve_embedder(agent.embedding if agent else None, settings)
        vectors: list[list[float]] = []
        for i in range(0, len(texts), EMBED_BATCH):
            vectors.extend(await embedder.embed(texts[i : i + EMBED_BATCH]))
    except Exception as exc:  # noqa: BLE001 - memory must stay usable without an embedder
        log.warning("agent %s: embedder unavailable (%s); full-text search only", ctx.agent_id, exc)
        return None
    return embedder.handle, vectors


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
    embedded = await _embed(ctx, chunks)
    handle, vectors = embedded if embedded else (None, [None] * len(chunks))
    rows = [
        {
            "id": derived_id("passage", ctx.op_id, str(i)), "organization_id": ctx.org_id, "agent_id": ctx.agent_id,
            "text": chunk, "tags": sorted(set(tags or [])), "embedding": vector, "embedding_model": handle,
            "embedding_dim": len(vector) if vector else None,
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
    if not query or not query.strip():
        raise ToolError("Error: query must not be empty")
    filters = {
        "top_k": max(1, min(int(top_k or DEFAULT_RESULTS), MAX_RESULTS)), "tags": tags,
        "tag_match_mode": tag_match_mode, "start": _parse_when(start_datetime, end_of_day=False),
        "end": _parse_when(end_datetime, end_of_day=True),
    }  # fmt: skip
    embedded = await _embed(ctx, [query])
    if embedded is None:
        found = await passage_store.text_search_passages(ctx.session, ctx.org_id, ctx.agent_id, query, **filters)
    else:
        handle, [vector] = embedded
        found = await passage_store.search_passages(
            ctx.session, ctx.org_id, ctx.agent_id, vector, embedding_model=handle, **filters
        )
    results = [{"id": p.id, "timestamp": _stamp(p.created_at), "content": p.text, "tags": p.tags} for p, _ in found]
    return json.dumps(results)


def _recall_rows(
    ctx: ToolContext, roles: list[str] | None, start: datetime | None, end: datetime | None
) -> Select:
    """The agent's searchable recall memory: user/assistant messages of this thread, never tool returns,
    system rows or earlier conversation_search calls (they would echo their own results back)."""
    stmt = select(Message).where(
        Message.organization_id == ctx.org_id, Message.agent_id == ctx.agent_id,
        Message.role.in_(roles or ["user", "assistant"]), Message.role != "tool", Message.role != "system",
        Message.text != "",
    )  # fmt: skip
    # Threads are private: a conversation searches its own messages, the agent's own thread only its own.
    thread = ctx.conversation_id
    stmt = stmt.where(Message.conversation_id.is_(None) if thread is None else Message.conversation_id == thread)
    earlier_search = Message.tool_calls.cast(Text).contains('"conversation_search"')
    stmt = stmt.where(or_(Message.tool_calls.is_(None), ~earlier_search))
    if start is not None:
        stmt = stmt.where(Message.created_at >= start)
    if end is not None:
        stmt = stmt.where(Message.created_at <= end)
    return stmt


async def _text_ranked(ctx: ToolContext, rows: Select, query: str) -> list[Message]:
    """Full-text candidates, best first; a substring match when full text finds nothing (names, ids)."""
    tsquery = func.websearch_to_tsquery("english", query)
    ranked = rows.where(Message.search_tsv.op("@@")(tsquery)).order_by(
        func.ts_rank(Message.search_tsv, tsquery).desc(), Message.position.desc()
    )
    found = list(await ctx.session.scalars(ranked.limit(CANDIDATES)))
    if not found:
        like = rows.where(Message.text.ilike(f"%{query}%")).order_by(Message.position.desc())
        found = list(await ctx.session.scalars(like.limit(CANDIDATES)))
    return found


async def _vector_ranked(ctx: ToolContext, rows: Select, query: str) -> list[Message] | None:
    """Vector candidates, nearest first, or None when the agent has no usable embedder (text search only).

    Messages are embedded lazily here, newest first and at most BACKFILL_LIMIT per search, so persisting a
    turn never waits on an embedder; a retried search rewrites nothing (rows keyed by message and model)."""
    agent = await ctx.session.get(Agent, ctx.agent_id)
    try:
        handle = resolve_embedder(agent.embedding if agent else None, _settings(ctx)).handle
    except Exception:  # noqa: BLE001 - unknown handle: text search only
        return None
    missing = await message_vectors.unembedded(ctx.session, rows, handle, BACKFILL_LIMIT)
    embedded = await _embed(ctx, [query] + [m.text[:EMBED_CLIP_CHARS] for m in missing])
    if embedded is None:
        return None
    _, vectors = embedded
    await message_vectors.store_vectors(
        ctx.session, ctx.org_id, ctx.agent_id, {m.id: v for m, v in zip(missing, vectors[1:], strict=True)},
        embedding_model=handle,
    )  # fmt: skip
    found = await message_vectors.nearest(
        ctx.session, rows, vectors[0], embedding_model=handle, limit=CANDIDATES,
        max_distance=1.0 - MIN_VECTOR_SIMILARITY,
    )  # fmt: skip
    return [m for m, _ in found]


def fuse(text_hits: list[Message], vector_hits: list[Message] | None) -> list[tuple[Message, dict[str, Any]]]:
    """Reciprocal rank fusion: score = sum of 1 / (60 + rank) over the rankings a message appears in."""
    mode = "fts" if vector_hits is None else "hybrid"
    by_id: dict[str, Message] = {}
    ranks: dict[str, dict[str, int]] = {}
    for name, hits in (("fts_rank", text_hits), ("vector_rank", vector_hits or [])):
        for rank, message in enumerate(hits, start=1):
            by_id[message.id] = message
            ranks.setdefault(message.id, {})[name] = rank
    scored = [
        (by_id[mid], {"rrf_score": round(sum(1.0 / (RRF_K + r) for r in found.values()), 6), **found,
                      "search_mode": mode})
        for mid, found in ranks.items()
    ]  # fmt: skip
    scored.sort(key=lambda pair: (-pair[1]["rrf_score"], -pair[0].position))
    return scored


async def conversation_search(
    ctx: ToolContext, query: str | None = None, roles: list[str] | None = None, limit: int | None = None,
    start_date: str | None = None, end_date: str | None = None,
) -> str:  # fmt: skip
    count = max(1, min(int(limit or DEFAULT_RESULTS), MAX_RESULTS))
    rows = _recall_rows(ctx, roles, _parse_when(start_date, end_of_day=False), _parse_when(end_date, end_of_day=True))
    if query and query.strip():
        hits = fuse(await _text_ranked(ctx, rows, query), await _vector_ranked(ctx, rows, query))[:count]
    else:  # no query: the most recent messages matching the filters
        hits = [(m, None) for m in await ctx.session.scalars(rows.order_by(Message.position.desc()).limit(count))]
    if not hits:
        return json.dumps({"message": "No results found.", "results": []})
    now = datetime.now(UTC) + timedelta(seconds=1)
    results = []
    for m, relevance in hits:
        result = {"timestamp": _stamp(m.created_at), "time_ago": _time_ago(m.created_at, now), "role": m.role}
        if relevance is not None:
            result["relevance"] = relevance
        results.append({**result, "content": m.text})
    return json.dumps({"message": f"Showing {len(results)} results:", "results": results})
