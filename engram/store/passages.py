"""Archival memory passages: insert with embeddings, list, per-agent vector search, delete.

An agent sees its own passages and those of its attached archives (engram/store/archives.py).

Per-agent search is an exact scan of the agent's rows (`ORDER BY (embedding <=> q) + 0`): the `+ 0`
hides the operator from the HNSW index, which would otherwise filter its approximate top-k by agent
afterwards and silently return fewer than k rows (storage-and-embeddings.md).
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from pgvector.sqlalchemy import Vector
from psycopg.adapt import Dumper, PyFormat
from psycopg.pq import Format
from sqlalchemy import Select, and_, bindparam, cast, delete, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import NullType

from engram.errors import InvalidInput, NotFound
from engram.ids import new_id
from engram.store.archives import attached_archive_ids, visible_to_agent
from engram.store.models import Passage
from engram.store.pagination import paginate


@dataclass(frozen=True)
class NewPassage:
    text: str
    embedding: list[float]
    tags: list[str]
    created_at: datetime | None = None
    metadata: dict[str, Any] | None = None


async def insert_passages(
    session: AsyncSession, org_id: str, agent_id: str | None, passages: list[NewPassage], *, embedding_model: str,
    archive_id: str | None = None,
) -> list[Passage]:  # fmt: skip
    """Insert into an agent's own archival memory (`agent_id`) or into a shared archive (`archive_id`)."""
    if (agent_id is None) == (archive_id is None):
        raise ValueError("a passage belongs to exactly one of an agent or an archive")
    rows = []
    for p in passages:
        if not p.text.strip():
            raise InvalidInput("passage text must not be empty")
        row = Passage(
            id=new_id("passage"), organization_id=org_id, agent_id=agent_id, archive_id=archive_id, text=p.text, tags=sorted(set(p.tags)),
            metadata_=p.metadata, embedding=p.embedding, embedding_model=embedding_model,
            embedding_dim=len(p.embedding),
        )  # fmt: skip
        if p.created_at is not None:
            row.created_at = p.created_at
        session.add(row)
        rows.append(row)
    await session.flush()
    return rows


async def list_passages(
    session: AsyncSession, org_id: str, agent_id: str, *, after: str | None = None, before: str | None = None,
    limit: int | None = 100, ascending: bool = True, search: str | None = None,
) -> list[Passage]:  # fmt: skip
    stmt = select(Passage).where(visible_to_agent(org_id, agent_id))
    if search:
        stmt = stmt.where(Passage.text.ilike(f"%{search}%"))
    return await paginate(
        session, stmt, id_column=Passage.id, order_columns=[Passage.created_at, Passage.id],
        after=after, before=before, limit=limit, descending=not ascending,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PassageHit:
    """A search hit: every column a caller shows (tool result, REST search, scored passage), not the vector."""

    id: str
    agent_id: str | None
    archive_id: str | None
    text: str
    tags: list[str]
    metadata_: dict[str, Any] | None
    file_id: str | None
    source_id: str | None
    created_at: datetime
    updated_at: datetime


_HIT_COLUMNS = (
    Passage.id, Passage.agent_id, Passage.archive_id, Passage.text, Passage.tags, Passage.metadata_,
    Passage.file_id, Passage.source_id, Passage.created_at, Passage.updated_at,
)  # fmt: skip


async def search_passages(
    session: AsyncSession, org_id: str, agent_id: str, query_embedding: list[float], *, embedding_model: str,
    top_k: int = 5, tags: list[str] | None = None, tag_match_mode: Literal["any", "all"] = "any",
    start: datetime | None = None, end: datetime | None = None,
) -> list[tuple[PassageHit, float]]:  # fmt: skip
    """The agent's `top_k` passages nearest the query with their cosine distance, among passages embedded
    by the same model (vectors of different models are not comparable).

    Latency matters here (one search per `archival_memory_search` call), so the statement is built once per
    filter shape and only values are bound per call, columns come back as plain tuples (no ORM identity
    map), the query vector travels in pgvector's binary form, and the distance is computed once per row."""
    dim = len(query_embedding)
    stmt = _search_statement(dim, bool(tags), tag_match_mode == "all", start is not None, end is not None)
    await _accept_binary_vectors(session)
    params = {
        "org_id": org_id, "agent_id": agent_id, "query": _BinaryVector(query_embedding),
        "embedding_model": embedding_model, "top_k": top_k, "tags": tags, "start": start, "end": end,
    }  # fmt: skip
    rows = (await session.execute(stmt, params)).all()
    return [(PassageHit(*row[:-1]), row[-1]) for row in rows]


@functools.cache
def _search_statement(dim: int, tagged: bool, all_tags: bool, since: bool, until: bool) -> Select:
    """The exact per-agent search for one dimension and filter shape, every other value a bound parameter.

    The agent's own passages and its attached archives' are ranked separately (top k of each, merged), so
    each side can be an index-only walk of the covering index of migration 0011 (a page holds ~3 vectors
    of one agent instead of one); the k winners' columns are then fetched by id. `(embedding <=> q) + 0`
    keeps the HNSW index out (the planner trap in the module docstring) and is computed once per row. The
    dimension is written into the SQL, not bound: the covering indexes are partial (`embedding_dim = 384`),
    and a generic plan with a bound dimension could never prove it may use them."""
    query = cast(bindparam("query", type_=NullType()), Vector)

    def nearest(scope: Any) -> Select:
        distance = (Passage.embedding.cosine_distance(query) + 0).label("distance")
        stmt = select(Passage.id, Passage.created_at, distance).where(
            scope, Passage.organization_id == bindparam("org_id"), Passage.deleted_at.is_(None),
            Passage.embedding_model == bindparam("embedding_model"), Passage.embedding_dim == literal_column(str(dim)),
        )  # fmt: skip
        if tagged:
            wanted = bindparam("tags", type_=Passage.tags.type)
            stmt = stmt.where(Passage.tags.contains(wanted) if all_tags else Passage.tags.overlap(wanted))
        if since:
            stmt = stmt.where(Passage.created_at >= bindparam("start"))
        if until:
            stmt = stmt.where(Passage.created_at <= bindparam("end"))
        return stmt.order_by(distance, Passage.created_at).limit(bindparam("top_k"))

    agent_id = bindparam("agent_id")
    own = nearest(Passage.agent_id == agent_id)
    shared = nearest(and_(  # a passage of the agent's own that is also in an archive is counted once
        Passage.archive_id == func.any(attached_archive_ids(agent_id)), Passage.agent_id.is_distinct_from(agent_id)
    ))  # fmt: skip
    best = union_all(own, shared).subquery("best")
    return (
        select(*_HIT_COLUMNS, best.c.distance)
        .join_from(best, Passage, Passage.id == best.c.id)
        .order_by(best.c.distance, best.c.created_at)
        .limit(bindparam("top_k"))
    )


class _BinaryVector:
    """A query vector sent in pgvector's binary wire format (2-byte dims, 2 unused bytes, float4s, big-endian):
    one `struct.pack` instead of formatting 384 floats as text (~0.25 ms of CPU per search)."""

    __slots__ = ("data",)

    def __init__(self, values: list[float]) -> None:
        self.data = struct.pack(f">HH{len(values)}f", len(values), 0, *values)


class _BinaryVectorDumper(Dumper):
    format = Format.BINARY
    oid = 0  # unknown: the server takes the type from `CAST($n AS vector)` and decodes with vector_recv

    def dump(self, obj: _BinaryVector) -> bytes:
        return obj.data


async def _accept_binary_vectors(session: AsyncSession) -> None:
    """Teach the session's psycopg connection to send `_BinaryVector`, once per connection. Per connection,
    not on `psycopg.adapters` at import: SQLAlchemy copies the global map when an engine is created, so an
    engine made before this module was imported would never see a global registration."""
    connection = (await (await session.connection()).get_raw_connection()).driver_connection
    try:
        connection.adapters.get_dumper(_BinaryVector, PyFormat.AUTO)
    except psycopg.ProgrammingError:
        connection.adapters.register_dumper(_BinaryVector, _BinaryVectorDumper)


def _filtered(
    stmt: Select, tags: list[str] | None, tag_match_mode: str, start: datetime | None, end: datetime | None
) -> Select:
    if tags:
        stmt = stmt.where(
            Passage.tags.contains(tags) if tag_match_mode == "all" else Passage.tags.overlap(tags)
        )
    if start is not None:
        stmt = stmt.where(Passage.created_at >= start)
    if end is not None:
        stmt = stmt.where(Passage.created_at <= end)
    return stmt


async def text_search_passages(
    session: AsyncSession, org_id: str, agent_id: str, query: str, *, top_k: int = 5,
    tags: list[str] | None = None, tag_match_mode: Literal["any", "all"] = "any",
    start: datetime | None = None, end: datetime | None = None,
) -> list[tuple[Passage, float]]:  # fmt: skip
    """Full-text search over all of the agent's passages, for agents without a usable embedder.
    Any query word may match (OR); the score is `ts_rank`, higher is better."""
    words = " OR ".join(query.split())
    tsquery = func.websearch_to_tsquery("english", words)
    rank = func.ts_rank(Passage.search_tsv, tsquery)
    scope = visible_to_agent(org_id, agent_id)
    stmt = select(Passage, rank).where(
        scope, Passage.search_tsv.op("@@")(tsquery),
    )  # fmt: skip
    stmt = (
        _filtered(stmt, tags, tag_match_mode, start, end)
        .order_by(rank.desc(), Passage.created_at)
        .limit(top_k)
    )
    return [(row[0], float(row[1])) for row in (await session.execute(stmt)).all()]


async def delete_passage(session: AsyncSession, org_id: str, agent_id: str, passage_id: str) -> None:
    """Delete one passage of the agent's archival memory (a shared archive's passage is gone for all)."""
    deleted = await session.scalar(
        delete(Passage)
        .where(Passage.id == passage_id, visible_to_agent(org_id, agent_id))
        .returning(Passage.id)
    )
    if deleted is None:
        raise NotFound("passage", passage_id)
