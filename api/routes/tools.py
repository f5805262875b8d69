"""/v1/tools: list, create from Python source, upsert by name (PUT), retrieve, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ActorDep, SessionDep, ToolDep
from api.routes._paths import clamp_limit, collection
from api.schemas.common import DeleteResponse, Order, is_descending
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
