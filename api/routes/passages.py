"""/v1/agents/{id}/archival-memory: insert, list, semantic search, delete (archival memory passages)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query

from api.deps import ActorDep, AgentDep, SessionDep, SettingsDep, get_agent_row
from api.routes._paths import clamp_limit, collection
from api.schemas.common import DeleteResponse
from api.schemas.passages import (
    CreatePassage,
    PassageOut,
    PassageSearch,
    ScoredPassage,
    SearchResponse,
    SearchResult,
)
from engram.config import Settings
from engram.embed.base import Embedder
from engram.embed.registry import resolve_embedder
from engram.errors import InvalidInput
from engram.store import passages as passage_store
from engram.store.models import Agent

router = APIRouter(tags=["agents"])
BASE = "/agents/{agent_id}/archival-memory"


def agent_embedder(agent: Agent, settings: Settings) -> Embedder:
    """The agent's embedder; agents imported with a model this build cannot run use the default one."""
    try:
        return resolve_embedder(agent.embedding, settings)
    except InvalidInput:
        return resolve_embedder(None, settings)


def _zone(agent: Agent) -> ZoneInfo:
    try:
        return ZoneInfo(agent.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@collection(router, "post", BASE, sdk_slash=False, response_model=list[PassageOut])
async def create_passage(
    agent: AgentDep, body: CreatePassage, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> list[PassageOut]:
    embedder = agent_embedder(agent, settings)
    [vector] = await embedder.embed([body.text])
    new = passage_store.NewPassage(
        text=body.text, embedding=vector, tags=body.tags or [], created_at=body.created_at
    )
    rows = await passage_store.insert_passages(
        session, actor.org_id, agent.id, [new], embedding_model=embedder.handle
    )
    return [PassageOut.from_domain(p, agent.embedding_config) for p in rows]


@collection(router, "get", BASE, sdk_slash=False, response_model=list[PassageOut])
async def list_passages(
    agent: AgentDep, session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, search: str | None = None, ascending: bool = True,
) -> list[PassageOut]:  # fmt: skip
    rows = await passage_store.list_passages(
        session, actor.org_id, agent.id, after=after, before=before, limit=clamp_limit(limit, 100),
        ascending=ascending, search=search,
    )  # fmt: skip
    return [PassageOut.from_domain(p, agent.embedding_config) for p in rows]


@router.get(BASE + "/search", response_model=SearchResponse)
async def search_passages(
    agent: AgentDep, session: SessionDep, actor: ActorDep, settings: SettingsDep, query: str,
    tags: Annotated[list[str] | None, Query()] = None, tag_match_mode: Literal["any", "all"] = "any",
    top_k: int | None = None, start_datetime: datetime | None = None, end_datetime: datetime | None = None,
) -> SearchResponse:  # fmt: skip
    embedder = agent_embedder(agent, settings)
    [vector] = await embedder.embed([query])
    rows = await passage_store.search_passages(
        session, actor.org_id, agent.id, vector, embedding_model=embedder.handle, top_k=clamp_limit(top_k, 5, 100),
        tags=tags, tag_match_mode=tag_match_mode, start=start_datetime, end=end_datetime,
    )  # fmt: skip
    zone = _zone(agent)
    results = [
        SearchResult(
            id=p.id, content=p.text, timestamp=p.created_at.astimezone(zone).isoformat(), tags=list(p.tags)
        )
        for p, _ in rows
    ]
    return SearchResponse(count=len(results), results=results)


@router.post("/passages/search", response_model=list[ScoredPassage], tags=["passages"])
async def search_all_passages(
    body: PassageSearch, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> list[ScoredPassage]:
    """`client.passages.search`: the same per-agent search, answered as scored passages."""
    if not body.agent_id:
        raise InvalidInput("agent_id is required (searching archives without an agent is not supported yet)")
    agent = await get_agent_row(body.agent_id, session, actor)
    embedder = agent_embedder(agent, settings)
    [vector] = await embedder.embed([body.query])
    rows = await passage_store.search_passages(
        session, actor.org_id, agent.id, vector, embedding_model=embedder.handle,
        top_k=clamp_limit(body.limit, 50, 100), tags=body.tags, tag_match_mode=body.tag_match_mode,
        start=body.start_date, end=body.end_date,
    )  # fmt: skip
    return [
        ScoredPassage(passage=PassageOut.from_domain(p, agent.embedding_config), score=1.0 - d)
        for p, d in rows
    ]


@router.delete(BASE + "/{memory_id}", response_model=DeleteResponse)
async def delete_passage(
    agent: AgentDep, memory_id: str, session: SessionDep, actor: ActorDep
) -> DeleteResponse:
    await passage_store.delete_passage(session, actor.org_id, agent.id, memory_id)
    return DeleteResponse(message=f"Passage id={memory_id} successfully deleted")
