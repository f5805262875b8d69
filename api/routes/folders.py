"""/v1/folders: folder CRUD, file upload (each upload starts `file-ingest:{file_id}`), file list/retrieve/delete."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Response, UploadFile
from temporalio.service import RPCError

from api.deps import ActorDep, SessionDep, SessionsDep, SettingsDep, TemporalDep, require_id
from api.ingest_client import cancel_ingest, start_ingest
from api.routes._paths import clamp_limit, collection
from api.schemas.common import Order
from api.schemas.folders import CreateFolder, FileOut, FolderOut, UpdateFolder
from engram.embed.registry import embedding_config, embedding_info
from engram.errors import NotFound, PayloadTooLarge
from engram.files.parse import media_type_of
from engram.store import files as file_store
from engram.store import folders as folder_store
from engram.store.models import Folder, FolderFile
from engram.store.organizations import ensure_organization

router = APIRouter(tags=["folders"])
DuplicateHandling = Literal["skip", "error", "suffix", "replace"]
_UNSAFE_NAME = re.compile(r"[\x00-\x1f/\\]")


async def get_folder_row(folder_id: str, session: SessionDep, actor: ActorDep) -> Folder:
    return await folder_store.get_folder(session, actor.org_id, require_id(folder_id, "source", "folder_id"))


FolderDep = Annotated[Folder, Depends(get_folder_row)]


@collection(router, "post", "/folders", response_model=FolderOut)
async def create_folder(
    body: CreateFolder, session: SessionDep, actor: ActorDep, settings: SettingsDep
) -> FolderOut:
    handle = body.embedding_handle(settings.default_embedding)
    config = embedding_config(handle)  # an unknown handle is a 422 naming the available ones
    chunk_size = body.embedding_chunk_size or embedding_info(handle).chunk_size
    config["embedding_chunk_size"] = chunk_size
    await ensure_organization(session, actor.org_id)
    folder = await folder_store.create_folder(session, actor.org_id, {
        "name": body.name, "description": body.description, "instructions": body.instructions,
        "metadata_": body.metadata, "embedding": handle, "embedding_config": config, "embedding_chunk_size": chunk_size,
    })  # fmt: skip
    return FolderOut.from_domain(folder)


@collection(router, "get", "/folders", response_model=list[FolderOut])
async def list_folders(
    session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, name: str | None = None, order: Order = "asc",
    order_by: Literal["created_at"] = "created_at",  # noqa: ARG001 - the only order Letta offers
) -> list[FolderOut]:  # fmt: skip
    rows = await folder_store.list_folders(
        session, actor.org_id, name=name, after=after, before=before, limit=clamp_limit(limit, 50),
        descending=order == "desc",
    )  # fmt: skip
    return [FolderOut.from_domain(f) for f in rows]


@router.get("/folders/count", response_model=int)
async def count_folders(session: SessionDep, actor: ActorDep) -> int:
    return await folder_store.count_folders(session, actor.org_id)


@router.get("/folders/name/{folder_name}", response_model=str)
async def folder_id_by_name(folder_name: str, session: SessionDep, actor: ActorDep) -> str:
    folder = await folder_store.find_folder_by_name(session, actor.org_id, folder_name)
    if folder is None:
        raise NotFound("folder", folder_name)
    return folder.id


@router.get("/folders/{folder_id}", response_model=FolderOut)
async def retrieve_folder(folder: FolderDep) -> FolderOut:
    return FolderOut.from_domain(folder)


@router.patch("/folders/{folder_id}", response_model=FolderOut)
async def update_folder(
    folder: FolderDep, body: UpdateFolder, session: SessionDep, actor: ActorDep
) -> FolderOut:
    return FolderOut.from_domain(
        await folder_store.update_folder(session, actor.org_id, folder.id, body.to_changes())
    )


@router.delete("/folders/{folder_id}")
async def delete_folder(
    folder: FolderDep, session: SessionDep, actor: ActorDep, temporal: TemporalDep
) -> None:
    """Files, passages and agents' views of them go too; ingestions still running are cancelled."""
    running = [
        f.id for f in await file_store.list_files(session, actor.org_id, folder.id, limit=None)
        if f.processing_status not in file_store.TERMINAL
    ]  # fmt: skip
    await folder_store.delete_folder(session, actor.org_id, folder.id)
    for file_id in running:
        await cancel_ingest(temporal, file_id)


@router.get("/folders/{folder_id}/agents", response_model=list[str])
async def list_folder_agents(
    folder: FolderDep, session: SessionDep, actor: ActorDep, limit: int | None = None, order: Order = "desc",
    after: str | None = None, before: str | None = None,  # noqa: ARG001 - Letta returns one plain list
) -> list[str]:  # fmt: skip
    return await folder_store.folder_agent_ids(
        session, actor.org_id, folder.id, limit=clamp_limit(limit, 50), descending=order == "desc"
    )


def _stored_name(name: str) -> str:
    base = PurePath(name.replace("\\", "/")).name.strip()
    if not base or base.startswith(".") or _UNSAFE_NAME.search(base):
        raise HTTPException(
            400,
            f"invalid file name {name!r}: it must not be empty, start with '.', or contain control characters",
        )
    return base


async def _unique_name(session: SessionDep, org_id: str, folder: Folder, original: str, count: int) -> str:
    """Letta's suffix rule: '<folder>/<base>_(N)<ext>', N = files already uploaded under this name."""
    path = PurePath(original)
    n = count
    while True:
        candidate = f"{folder.name}/{path.stem}_({n}){path.suffix}"
        if not await file_store.file_name_taken(session, org_id, folder.id, candidate):
            return candidate
        n += 1


@router.post("/folders/{folder_id}/upload", response_model=FileOut)
async def upload_file(
    folder_id: str, file: Annotated[UploadFile, File()], response: Response, sessions: SessionsDep, actor: ActorDep,
    settings: SettingsDep, temporal: TemporalDep, duplicate_handling: DuplicateHandling = "suffix",
    name: str | None = None,
) -> FileOut:  # fmt: skip
    """Store the bytes and a `pending` row, start ingestion, and answer at once; clients poll the file."""
    raw = await file.read(settings.max_upload_bytes + 1)
    if len(raw) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"file is larger than the upload limit of {settings.max_upload_bytes} bytes")
    original = _stored_name(name or file.filename or "")
    replaced: list[str] = []
    async with sessions.begin() as session:  # committed before the workflow can look for the row
        folder = await folder_store.get_folder(
            session, actor.org_id, require_id(folder_id, "source", "folder_id")
        )
        existing = await file_store.files_named(session, actor.org_id, folder.id, original)
        stored_name = f"{folder.name}/{original}"
        if existing and duplicate_handling == "skip":
            response.headers["X-Upload-Result"] = "skipped"
            return FileOut.from_domain(existing[0], strip_folder=False)
        if existing and duplicate_handling == "error":
            raise HTTPException(
                400, f"INVALID_ARGUMENT: File '{original}' already exists in folder '{folder.name}'"
            )
        if existing and duplicate_handling == "replace":
            for old in existing:
                await file_store.delete_file(session, actor.org_id, old.id)
                replaced.append(old.id)
        elif existing:
            stored_name = await _unique_name(session, actor.org_id, folder, original, len(existing))
        row = await file_store.create_file(session, actor.org_id, file_store.NewFile(
            folder_id=folder.id, file_name=stored_name, original_file_name=original,
            file_type=media_type_of(original, file.content_type), raw=raw,
        ))  # fmt: skip
    for old_id in replaced:
        await cancel_ingest(temporal, old_id)
    try:
        await start_ingest(temporal, settings, actor.org_id, row.id)
    except RPCError as exc:
        async with sessions.begin() as session:
            await file_store.set_status(
                session, actor.org_id, row.id, "error", error_message=f"could not start ingestion: {exc}"
            )
            row = await file_store.get_file(session, actor.org_id, row.id)
    return FileOut.from_domain(row, strip_folder=False)


@router.get("/folders/{folder_id}/files", response_model=list[FileOut])
async def list_files(
    folder: FolderDep, session: SessionDep, actor: ActorDep, after: str | None = None, before: str | None = None,
    limit: int | None = None, order: Order = "desc", include_content: bool = False,
    order_by: Literal["created_at"] = "created_at",  # noqa: ARG001
) -> list[FileOut]:  # fmt: skip
    rows = await file_store.list_files(
        session, actor.org_id, folder.id, after=after, before=before, limit=clamp_limit(limit, 1000),
        descending=order == "desc", with_content=include_content,
    )  # fmt: skip
    return [FileOut.from_domain(r, content=r.content if include_content else None) for r in rows]


async def _file_in(
    session: SessionDep, org_id: str, folder: Folder, file_id: str, with_content: bool
) -> FolderFile:
    row = await file_store.get_file(
        session, org_id, require_id(file_id, "file", "file_id"), with_content=with_content
    )
    if row.folder_id != folder.id:
        raise NotFound("file", f"{file_id} in folder {folder.id}")
    return row


@router.get("/folders/{folder_id}/files/{file_id}", response_model=FileOut)
async def retrieve_file(
    folder: FolderDep, file_id: str, session: SessionDep, actor: ActorDep, include_content: bool = False
) -> FileOut:
    row = await _file_in(session, actor.org_id, folder, file_id, include_content)
    return FileOut.from_domain(row, content=row.content if include_content else None)


@router.get("/sources/{folder_id}/files/{file_id}", response_model=FileOut, include_in_schema=False)
async def retrieve_source_file(
    folder: FolderDep, file_id: str, session: SessionDep, actor: ActorDep, include_content: bool = False
) -> FileOut:
    """The deprecated `/v1/sources/...` read Letta's own tests poll."""
    return await retrieve_file(folder, file_id, session, actor, include_content)


@router.delete("/folders/{folder_id}/{file_id}", status_code=204)
async def delete_file(
    folder_id: str, file_id: str, sessions: SessionsDep, actor: ActorDep, temporal: TemporalDep
) -> Response:
    """Letta's path has no `/files/` segment and does not check the folder; ingestion in flight is cancelled
    after the delete commits, so the cancelled run's next step finds the file gone."""
    require_id(folder_id, "source", "folder_id")
    async with sessions.begin() as session:
        await file_store.delete_file(session, actor.org_id, require_id(file_id, "file", "file_id"))
    await cancel_ingest(temporal, file_id)
    return Response(status_code=204)
