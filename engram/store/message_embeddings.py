"""Message vectors for the vector half of hybrid recall search (conversation_search).

Rows are keyed (message_id, embedding_model), so writing the same vector twice (a retried activity, two
searches racing) is a no-op, and vectors of different models never mix in one ranking.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from engram.store.models import Message, MessageEmbedding


async def unembedded(session: AsyncSession, searchable: Select, embedding_model: str, limit: int) -> list[Message]:
    """The newest rows of `searchable` (a `select(Message)` already filtered to one agent's recall
    memory) that have no vector from `embedding_model` yet."""
    has_vector = (
        select(MessageEmbedding.message_id)
        .where(MessageEmbedding.message_id == Message.id, MessageEmbedding.embedding_model == embedding_model)
        .exists()
    )
    stmt = searchable.where(~has_vector).order_by(Message.position.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def store_vectors(
    session: AsyncSession, org_id: str, agent_id: str, vectors: dict[str, list[float]], *, embedding_model: str
) -> None:
    if not vectors:
        return
    rows = [
        {"message_id": mid, "embedding_model": embedding_model, "organization_id": org_id, "agent_id": agent_id,
         "embedding_dim": len(vec), "embedding": vec}
        for mid, vec in vectors.items()
    ]  # fmt: skip
    await session.execute(pg_insert(MessageEmbedding).values(rows).on_conflict_do_nothing())


async def nearest(
    session: AsyncSession, searchable: Select, query_vector: list[float], *, embedding_model: str,
    limit: int, max_distance: float,
) -> list[tuple[Message, float]]:  # fmt: skip
    """The rows of `searchable` nearest the query (cosine distance <= `max_distance`), exact: `+ 0` keeps
    the planner from an approximate index scan that filters by agent afterwards and returns too few rows."""
    distance = MessageEmbedding.embedding.cosine_distance(query_vector)
    stmt = (
        searchable.add_columns(distance)
        .join(MessageEmbedding, and_(
            MessageEmbedding.message_id == Message.id, MessageEmbedding.embedding_model == embedding_model,
            MessageEmbedding.embedding_dim == len(query_vector),
        ))  # fmt: skip
        .where(distance <= max_distance)
        .order_by(distance + 0, Message.position.desc())
        .limit(limit)
    )
    return [(row[0], float(row[1])) for row in (await session.execute(stmt)).all()]
