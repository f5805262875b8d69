"""/v1/agents/{id}/folders (attach, detach, list) and /v1/agents/{id}/files (open-file state)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header

from api.deps import ActorDep, AgentDep, SessionDep, require_id
from api.routes._paths import clamp_limit
from api.routes.agents import render_agent
from api.routes.folders import get_folder_row
from api.schemas.agents import AgentStateOut
from api.schemas.common import Order
from api.schemas.folders import AgentFileOut, AgentFilesPage, CloseResponse, FolderOut
from engram.context import compiler
from engram.errors import Conflict
from engram.files import attachment
from engram.store import file_agents as open_files_store
from engram.store import files as file_store
from engram.store import folders as folder_store
from engram.store.models import Agent

router = APIRouter(tags=["agents"])
SdkVersion = Annotated[str | None, Header(alias="X-Stainless-Package-Version")]


async def _answer(
    session: SessionDep, org_id: str, agent: Agent, sdk_version: str | None
) -> AgentStateOut | None:
    """Letta answers attach/detach with `null` to 1.x SDKs (they send X-Stainless-Package-Version), else the agent."""
    await compiler.refresh_system_message(session, org_id, agent.id)
    return None if sdk_version else await render_agent(session, org_id, agent)


@router.patch("/agents/{agent_id}/folders/attach/{folder_id}", response_model=AgentStateOut | None)
async def attach_folder(
    agent: AgentDep, folder_id: str, session: SessionDep, actor: ActorDep, sdk_version: SdkVersion = None
) -> AgentStateOut | None:
    folder = await get_folder_row(folder_id, session, actor)
    await attachment.attach_folder(session, actor.org_id, agent, folder)
    return await _answer(session, actor.org_id, agent, sdk_version)


@router.patch("/agents/{agent_id}/folders/detach/{folder_id}", response_model=AgentStateOut | None)
async def detach_folder(
    agent: AgentDep, folder_id: str, session: SessionDep, actor: ActorDep, sdk_version: SdkVersion = None
) -> AgentStateOut | None:
    folder = await get_folder_row(folder_id, session, actor)
    await attachment.detach_folder(session, actor.org_id, agent, folder.id)
    return await _answer(session, actor.org_id, agent, sdk_version)


@router.get("/agents/{agent_id}/folders", response_model=list[FolderOut])
async def list_agent_folders(
    agent: AgentDep, session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, order: Order = "desc", order_by: Literal["created_at"] = "created_at",  # noqa: ARG001
) -> list[FolderOut]:  # fmt: skip
    rows = await folder_store.page_agent_folders(
        session, actor.org_id, agent.id, after=after, before=before, limit=clamp_limit(limit, 100),
        descending=order == "desc",
    )  # fmt: skip
    return [FolderOut.from_domain(f) for f in rows]


async def _row_cursor(session: SessionDep, org_id: str, agent_id: str, cursor: str | None) -> str | None:
    """Cursors are row ids (what the SDK sends back); a file id is accepted too, as Letta documents."""
    if cursor and cursor.startswith("file-"):
        row = await open_files_store.get_row(session, org_id, agent_id, cursor)
        return row.id
    return cursor


@router.get("/agents/{agent_id}/files", response_model=AgentFilesPage)
async def list_agent_files(
    agent: AgentDep, session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    cursor: str | None = None, is_open: bool | None = None, limit: int | None = None, order: Order = "desc",
    order_by: Literal["created_at"] = "created_at",  # noqa: ARG001
) -> AgentFilesPage:  # fmt: skip
    size = 20 if limit == 0 else clamp_limit(limit, 100)
    rows = await open_files_store.page_rows(
        session, actor.org_id, agent.id, is_open=is_open,
        after=await _row_cursor(session, actor.org_id, agent.id, after or cursor),
        before=await _row_cursor(session, actor.org_id, agent.id, before), limit=size + 1, descending=order == "desc",
    )  # fmt: skip
    has_more = len(rows) > size
    page = [AgentFileOut.from_domain(row, folder_name) for row, folder_name in rows[:size]]
    return AgentFilesPage(
        files=page, next_cursor=page[-1].id if has_more and page else None, has_more=has_more
    )


@router.patch("/agents/{agent_id}/files/close-all", response_model=list[str])
async def close_all_files(agent: AgentDep, session: SessionDep, actor: ActorDep) -> list[str]:
    return await open_files_store.close_all(session, actor.org_id, agent.id)


@router.patch("/agents/{agent_id}/files/{file_id}/open", response_model=list[str])
async def open_file(agent: AgentDep, file_id: str, session: SessionDep, actor: ActorDep) -> list[str]:
    """Open the whole file in the agent's context; returns the names closed to respect `max_files_open`."""
    row = await open_files_store.get_row(
        session, actor.org_id, agent.id, require_id(file_id, "file", "file_id")
    )
    file = await file_store.get_file(session, actor.org_id, file_id, with_content=True)
    if file.content is None:
        raise Conflict(
            f"file {file_id} is still being processed ({file.processing_status}); open it once it has text"
        )
    max_open, _ = attachment.agent_file_limits(agent)
    return await attachment.open_whole_file(session, row, file.content, max_open)


@router.patch("/agents/{agent_id}/files/{file_id}/close", response_model=CloseResponse)
async def close_file(agent: AgentDep, file_id: str, session: SessionDep, actor: ActorDep) -> CloseResponse:
    row = await open_files_store.get_row(
        session, actor.org_id, agent.id, require_id(file_id, "file", "file_id")
    )
    await open_files_store.close_row(session, row)
    return CloseResponse(message=f"File id={file_id} successfully closed")
