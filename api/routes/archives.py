"""/v1/archives: shared archival memory (create, list, edit, delete, passages) and agent attach/detach.

Passages written here are embedded with the archive's embedding model; every agent the archive is
attached to finds them with `archival_memory_search` (when its own embedder is the same model) and
with full-text search (always).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ActorDep, AgentDep, SessionDep, SettingsDep, require_id
from api.routes._paths import clamp_limit, collection
from api.schemas.archives import (
    ArchiveOut,
    CreateArchive,
    CreateArchivePassage,
    CreateArchivePassages,
    UpdateArchive,
)
from api.schemas.common import Order, is_descending
from api.schemas.passages import PassageOut
from engram.config import Settings
from engram.embed.registry import embedding_config, embedding_info, resolve_embedder
from engram.store import archives as archive_store
from engram.store import passages as passage_store
from engram.store.models import Archive

router = APIRouter(tags=["archives"])
ITEM = "/archives/{archive_id}"


async def _archive(session: AsyncSession, org_id: str, archive_id: str) -> Archive:
    return await archive_store.get_archive(session, org_id, require_id(archive_id, "archive", "archive_id"))


def _out(archive: Archive, settings: Settings) -> ArchiveOut:
    return ArchiveOut.from_domain(archive, settings.default_embedding)


@collection(router, "post", "/archives", response_model=ArchiveOut)
async def create_archive(
    body: CreateArchive, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> ArchiveOut:
    handle = body.embedding_handle()
    if handle is not None:
        handle = embedding_info(handle).handle  # unknown model: 422 before anything is stored
    row = await archive_store.create_archive(
        session, actor.org_id, name=body.name, description=body.description, embedding=handle
    )
    return _out(row, settings)


@collection(router, "get", "/archives", response_model=list[ArchiveOut])
async def list_archives(
    session: SessionDep, actor: ActorDep, settings: SettingsDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, name: str | None = None, agent_id: str | None = None, order: Order | None = None,
    order_by: str | None = None,  # noqa: ARG001 - Letta sorts archives by created_at only
) -> list[ArchiveOut]:  # fmt: skip
    rows = await archive_store.list_archives(
        session, actor.org_id, name=name, agent_id=agent_id, after=after, before=before,
        limit=clamp_limit(limit, 50), descending=is_descending(order, None, default_descending=True),
    )  # fmt: skip
    return [_out(r, settings) for r in rows]


@router.get(ITEM, response_model=ArchiveOut)
async def retrieve_archive(
    archive_id: str, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> ArchiveOut:
    return _out(await _archive(session, actor.org_id, archive_id), settings)


@router.patch(ITEM, response_model=ArchiveOut)
async def update_archive(
    archive_id: str, body: UpdateArchive, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> ArchiveOut:
    await _archive(session, actor.org_id, archive_id)
    row = await archive_store.update_archive(
        session, actor.org_id, archive_id, body.model_dump(exclude_unset=True)
    )
    return _out(row, settings)


@router.delete(ITEM, status_code=204)
async def delete_archive(archive_id: str, session: SessionDep, actor: ActorDep) -> Response:
    await _archive(session, actor.org_id, archive_id)
    await archive_store.delete_archive(session, actor.org_id, archive_id)
    return Response(status_code=204)


async def _insert(
    session: AsyncSession,
    settings: Settings,
    org_id: str,
    archive: Archive,
    items: list[CreateArchivePassage],
) -> list[PassageOut]:
    embedder = resolve_embedder(archive.embedding, settings)
    vectors = await embedder.embed([p.text for p in items])
    new = [
        passage_store.NewPassage(
            text=p.text, embedding=v, tags=p.tags or [], created_at=p.created_at, metadata=p.metadata
        )  # fmt: skip
        for p, v in zip(items, vectors, strict=True)
    ]
    rows = await passage_store.insert_passages(
        session, org_id, None, new, embedding_model=embedder.handle, archive_id=archive.id
    )
    config = embedding_config(embedder.handle)
    return [PassageOut.from_domain(r, config) for r in rows]


@router.post(ITEM + "/passages", response_model=PassageOut)
async def create_archive_passage(
    archive_id: str, body: CreateArchivePassage, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> PassageOut:
    archive = await _archive(session, actor.org_id, archive_id)
    [out] = await _insert(session, settings, actor.org_id, archive, [body])
    return out


@router.post(ITEM + "/passages/batch", response_model=list[PassageOut])
async def create_archive_passages(
    archive_id: str, body: CreateArchivePassages, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> list[PassageOut]:
    archive = await _archive(session, actor.org_id, archive_id)
    return await _insert(session, settings, actor.org_id, archive, body.passages)


@router.delete(ITEM + "/passages/{passage_id}", status_code=204)
async def delete_archive_passage(
    archive_id: str, passage_id: str, session: SessionDep, actor: ActorDep
) -> Response:
    await _archive(session, actor.org_id, archive_id)
    row = await archive_store.get_archive_passage(session, actor.org_id, archive_id, passage_id)
    await session.delete(row)
    return Response(status_code=204)


@router.patch("/agents/{agent_id}/archives/attach/{archive_id}", tags=["agents"])
async def attach_archive(
    agent: AgentDep, archive_id: str, session: SessionDep, actor: ActorDep
) -> dict[str, str]:
    await _archive(session, actor.org_id, archive_id)
    await archive_store.attach_archive(session, actor.org_id, agent.id, archive_id)
    return {"message": f"Archive {archive_id} attached to agent {agent.id}"}


@router.patch("/agents/{agent_id}/archives/detach/{archive_id}", tags=["agents"])
async def detach_archive(
    agent: AgentDep, archive_id: str, session: SessionDep, actor: ActorDep
) -> dict[str, str]:
    await _archive(session, actor.org_id, archive_id)
    await archive_store.detach_archive(session, actor.org_id, agent.id, archive_id)
    return {"message": f"Archive {archive_id} detached from agent {agent.id}"}
