"""Files in folders: rows, guarded status transitions, content, and their chunk passages.

Status moves pending -> parsing -> embedding -> completed, or to error from any non-terminal state;
terminal rows are frozen (Letta's `update_file_status` guard), so a late retry can never revive a file
that failed or was finished. Chunks are upserted by (file, index) with derived ids, and embeddings are
filled in place, so a resumed ingestion never stores a chunk twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from engram.errors import NotFound
from engram.ids import derived_id, new_id
from engram.store.models import FilePassage, FolderFile
from engram.store.models.base import utcnow
from engram.store.pagination import paginate

TERMINAL = ("completed", "error")
NEXT_STATUSES = {
    "pending": ("parsing", "embedding", "completed", "error"),
    "parsing": ("embedding", "completed", "error"),
    "embedding": ("completed", "error"),
}


@dataclass(frozen=True)
class NewFile:
    folder_id: str
    file_name: str
    original_file_name: str
    file_type: str
    raw: bytes


async def create_file(session: AsyncSession, org_id: str, new: NewFile) -> FolderFile:
    row = FolderFile(
        id=new_id("file"), organization_id=org_id, folder_id=new.folder_id, file_name=new.file_name,
        original_file_name=new.original_file_name, file_path=new.file_name, file_type=new.file_type,
        file_size=len(new.raw), processing_status="pending", raw=new.raw,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def get_file(
    session: AsyncSession, org_id: str, file_id: str, *, with_content: bool = False
) -> FolderFile:
    stmt = select(FolderFile).where(FolderFile.id == file_id, FolderFile.organization_id == org_id)
    if with_content:
        stmt = stmt.options(undefer(FolderFile.content))
    row = await session.scalar(stmt.execution_options(populate_existing=True))
    if row is None:
        raise NotFound("file", file_id)
    return row


async def find_file(session: AsyncSession, org_id: str, file_id: str) -> FolderFile | None:
    try:
        return await get_file(session, org_id, file_id)
    except NotFound:
        return None


async def raw_bytes(session: AsyncSession, org_id: str, file_id: str) -> bytes:
    raw = await session.scalar(
        select(FolderFile.raw).where(FolderFile.id == file_id, FolderFile.organization_id == org_id)
    )
    if raw is None:
        raise NotFound("file", file_id)
    return raw


async def list_files(
    session: AsyncSession, org_id: str, folder_id: str, *, after: str | None = None, before: str | None = None,
    limit: int | None = 1000, descending: bool = True, with_content: bool = False,
) -> list[FolderFile]:  # fmt: skip
    stmt = select(FolderFile).where(FolderFile.organization_id == org_id, FolderFile.folder_id == folder_id)
    if with_content:
        stmt = stmt.options(undefer(FolderFile.content))
    return await paginate(
        session, stmt, id_column=FolderFile.id, order_columns=[FolderFile.created_at, FolderFile.id],
        after=after, before=before, limit=limit, descending=descending,
    )  # fmt: skip


async def files_named(
    session: AsyncSession, org_id: str, folder_id: str, original_file_name: str
) -> list[FolderFile]:
    """Files of the folder uploaded under this original name, oldest first (duplicate handling)."""
    rows = await session.scalars(
        select(FolderFile)
        .where(FolderFile.organization_id == org_id, FolderFile.folder_id == folder_id,
               FolderFile.original_file_name == original_file_name)
        .order_by(FolderFile.created_at, FolderFile.id)
    )  # fmt: skip
    return list(rows)


async def file_name_taken(session: AsyncSession, org_id: str, folder_id: str, file_name: str) -> bool:
    found = await session.scalar(
        select(FolderFile.id).where(
            FolderFile.organization_id == org_id,
            FolderFile.folder_id == folder_id,
            FolderFile.file_name == file_name,
        )
    )
    return found is not None


async def delete_file(session: AsyncSession, org_id: str, file_id: str) -> FolderFile:
    """Delete the file; its passages and every agent's view of it cascade."""
    row = await get_file(session, org_id, file_id)
    await session.delete(row)
    await session.flush()
    return row


async def set_status(
    session: AsyncSession, org_id: str, file_id: str, status: str, *, error_message: str | None = None,
    **counts: int | None,
) -> bool:  # fmt: skip
    """Move the file to `status` if that transition is allowed (same status = update counts only).
    Returns False when the file is gone or already terminal."""
    row = await find_file(session, org_id, file_id)
    if row is None or row.processing_status in TERMINAL:
        return False
    if status != row.processing_status and status not in NEXT_STATUSES[row.processing_status]:
        return False
    row.processing_status = status
    if error_message is not None:
        row.error_message = error_message[:4000]
    for key, value in counts.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    await session.flush()
    return True


async def store_content(session: AsyncSession, org_id: str, file_id: str, content: str) -> None:
    await session.execute(
        update(FolderFile)
        .where(FolderFile.id == file_id, FolderFile.organization_id == org_id)
        .values(content=content)
    )


async def file_content(session: AsyncSession, org_id: str, file_id: str) -> str:
    row = await get_file(session, org_id, file_id, with_content=True)
    return row.content or ""


def chunk_id(file_id: str, index: int) -> str:
    return derived_id("passage", file_id, "chunk", str(index))


async def write_chunks(session: AsyncSession, org_id: str, file: FolderFile, chunks: list[str]) -> None:
    """Upsert the file's chunk rows (text only; vectors come later), keyed by chunk index."""
    for start in range(0, len(chunks), 500):
        rows = [
            {"id": chunk_id(file.id, i), "organization_id": org_id, "file_id": file.id, "folder_id": file.folder_id,
             "chunk_index": i, "text": text.replace("\x00", "")}
            for i, text in enumerate(chunks[start : start + 500], start=start)
        ]  # fmt: skip
        await session.execute(
            insert(FilePassage).values(rows).on_conflict_do_nothing(index_elements=["file_id", "chunk_index"])
        )


async def unembedded_chunks(
    session: AsyncSession, file_id: str, *, after_index: int, limit: int
) -> list[FilePassage]:
    rows = await session.scalars(
        select(FilePassage)
        .where(
            FilePassage.file_id == file_id,
            FilePassage.chunk_index > after_index,
            FilePassage.embedding.is_(None),
        )
        .order_by(FilePassage.chunk_index)
        .limit(limit)
    )
    return list(rows)


async def store_embeddings(
    session: AsyncSession, vectors: dict[str, list[float]], *, embedding_model: str
) -> None:
    for passage_id, vector in vectors.items():
        await session.execute(
            update(FilePassage)
            .where(FilePassage.id == passage_id)
            .values(embedding=vector, embedding_model=embedding_model, embedding_dim=len(vector))
        )


async def chunk_counts(session: AsyncSession, file_id: str) -> tuple[int, int]:
    """(chunks stored, chunks embedded) for the file."""
    row = (
        await session.execute(
            select(func.count(), func.count(FilePassage.embedding)).where(FilePassage.file_id == file_id)
        )
    ).one()
    return int(row[0]), int(row[1])


async def list_file_passages(session: AsyncSession, org_id: str, file_id: str) -> list[FilePassage]:
    rows = await session.scalars(
        select(FilePassage)
        .where(FilePassage.file_id == file_id, FilePassage.organization_id == org_id)
        .order_by(FilePassage.chunk_index)
    )
    return list(rows)


async def nearest_passages(
    session: AsyncSession,
    org_id: str,
    folder_ids: list[str],
    vector: list[float],
    *,
    embedding_model: str,
    limit: int,
) -> list[tuple[FilePassage, float]]:
    """Exact nearest chunks among the folders' passages embedded by the same model, with cosine distance."""
    distance = FilePassage.embedding.cosine_distance(vector)
    stmt = (
        select(FilePassage, distance)
        .where(FilePassage.organization_id == org_id, FilePassage.folder_id.in_(folder_ids),
               FilePassage.embedding_model == embedding_model, FilePassage.embedding_dim == len(vector))
        .order_by(distance + 0, FilePassage.chunk_index)
        .limit(limit)
    )  # fmt: skip
    return [(row[0], float(row[1])) for row in (await session.execute(stmt)).all()]


async def text_ranked_passages(
    session: AsyncSession, org_id: str, folder_ids: list[str], query: str, *, limit: int
) -> list[FilePassage]:
    """Full-text matches (any query word), best first."""
    tsquery = func.websearch_to_tsquery("english", " OR ".join(query.split()))
    rank = func.ts_rank(FilePassage.search_tsv, tsquery)
    stmt = (
        select(FilePassage)
        .where(FilePassage.organization_id == org_id, FilePassage.folder_id.in_(folder_ids),
               FilePassage.search_tsv.op("@@")(tsquery))
        .order_by(rank.desc(), FilePassage.chunk_index)
        .limit(limit)
    )  # fmt: skip
    return list(await session.scalars(stmt))
