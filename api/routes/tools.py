"""/v1/tools: list, create from Python source, upsert by name (PUT), retrieve, update, delete, search."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import ActorDep, SessionDep, ToolDep
from api.routes._paths import clamp_limit, collection
from api.schemas.common import DeleteResponse, LettaRequest, Order, is_descending
from api.schemas.tools import ToolCreate, ToolOut, ToolUpdate
from engram.store import tools as tool_store

router = APIRouter(tags=["tools"])


@collection(router, "get", "/tools", response_model=list[ToolOut])
async def list_tools(
    session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, order: Order | None = None, name: str | None = None,
    names: Annotated[list[str] | None, Query()] = None, tool_ids: Annotated[list[str] | None, Query()] = None,
    search: str | None = None, tool_types: Annotated[list[str] | None, Query()] = None,
    exclude_tool_types: Annotated[list[str] | None, Query()] = None,
) -> list[ToolOut]:  # fmt: skip
    rows = await tool_store.list_tools(
        session, actor.org_id, name=name, names=names, tool_ids=tool_ids, search=search, tool_types=tool_types,
        exclude_tool_types=exclude_tool_types, after=after, before=before, limit=clamp_limit(limit, 50),
        descending=is_descending(order, None, default_descending=True),
    )  # fmt: skip
    return [ToolOut.from_domain(t) for t in rows]


@collection(router, "post", "/tools", response_model=ToolOut)
async def create_tool(body: ToolCreate, session: SessionDep, actor: ActorDep) -> ToolOut:
    return ToolOut.from_domain(await tool_store.create_tool(session, actor.org_id, body.to_fields()))


@collection(router, "put", "/tools", response_model=ToolOut)
async def upsert_tool(body: ToolCreate, session: SessionDep, actor: ActorDep) -> ToolOut:
    return ToolOut.from_domain(await tool_store.upsert_tool(session, actor.org_id, body.to_fields()))


@router.get("/tools/{tool_id}", response_model=ToolOut)
async def retrieve_tool(tool: ToolDep) -> ToolOut:
    return ToolOut.from_domain(tool)


@router.patch("/tools/{tool_id}", response_model=ToolOut)
async def update_tool(tool: ToolDep, body: ToolUpdate, session: SessionDep, actor: ActorDep) -> ToolOut:
    return ToolOut.from_domain(
        await tool_store.update_tool(session, actor.org_id, tool.id, body.to_changes(tool))
    )


@router.delete("/tools/{tool_id}", response_model=DeleteResponse)
async def delete_tool(tool: ToolDep, session: SessionDep, actor: ActorDep) -> DeleteResponse:
    await tool_store.delete_tool(session, actor.org_id, tool.id)
    return DeleteResponse(message=f"Tool id={tool.id} successfully deleted")


class ToolSearch(LettaRequest):
    query: str | None = None
    limit: int | None = None
    search_mode: Literal["vector", "fts", "hybrid"] = "hybrid"
    tags: list[str] | None = None
    tool_types: list[str] | None = None


class ToolSearchResult(BaseModel):
    tool: ToolOut
    combined_score: float
    embedded_text: str | None = None


@router.post("/tools/search", response_model=list[ToolSearchResult])
async def search_tools(body: ToolSearch, session: SessionDep, actor: ActorDep) -> list[ToolSearchResult]:
    """Word-overlap search over tool names and descriptions (every `search_mode` is answered this way)."""
    candidates = await tool_store.list_tools(session, actor.org_id, tool_types=body.tool_types, limit=None)
    if body.tags:
        candidates = [t for t in candidates if set(body.tags) & set(t.tags or [])]
    words = set(re.findall(r"\w+", (body.query or "").lower()))
    scored = []
    for tool in candidates:
        text = f"{tool.name} {tool.name.replace('_', ' ')} {tool.description or ''}".lower()
        score = len(words & set(re.findall(r"\w+", text))) / len(words) if words else 1.0
        if score > 0:
            scored.append(
                ToolSearchResult(tool=ToolOut.from_domain(tool), combined_score=score, embedded_text=text)
            )
    scored.sort(key=lambda r: -r.combined_score)
    return scored[: clamp_limit(body.limit, 50)]
