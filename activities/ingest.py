"""File ingestion activities: parse, chunk, embed (batched, heartbeated, resumable), finish.

Each step commits its own short transaction after its slow part. Chunk rows are keyed by (file, index)
and embeddings are filled in place, so a retry or a worker killed mid-file resumes with the next
unembedded chunk and never stores a chunk twice; the heartbeat detail carries the batch cursor.
A file deleted while ingesting makes the next step fail with NotFound, which ends the workflow quietly.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import (
    INGEST_CHUNK,
    INGEST_EMBED,
    INGEST_FINISH,
    INGEST_PARSE,
    INVALID_INPUT,
    ChunkOutcome,
    EmbedOutcome,
    FileRef,
    FinishIngestInput,
    ParseOutcome,
)
from activities.errors import to_application_error
from engram.config import Settings
from engram.embed.base import Embedder
from engram.embed.registry import resolve_embedder
from engram.errors import InvalidInput, NotFound
from engram.files.attachment import open_in_attached_agents
from engram.files.chunk import chunk_document
from engram.files.parse import CODE_EXTENSIONS, FileRejected, extension, parse_file
from engram.store import files as file_store
from engram.store import folders as folder_store

log = logging.getLogger(__name__)


def _mapped(exc: Exception) -> BaseException:
    if isinstance(exc, InvalidInput):
        return ApplicationError(str(exc), type=INVALID_INPUT, non_retryable=True)
    return to_application_error(exc)


HEARTBEAT_EVERY_S = 5.0


async def _embed_heartbeating(embedder: Embedder, texts: list[str], cursor: int) -> list[list[float]]:
    """Embed one batch, heartbeating meanwhile: a slow embedder (MiniLM on a busy CPU, a hosted API) must not
    look like a dead worker. The detail stays the last committed cursor."""
    task = asyncio.ensure_future(embedder.embed(texts))
    while not task.done():
        await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
        if not task.done():
            activity.heartbeat(cursor)
    return task.result()


class IngestActivities:
    """The worker builds one instance; it holds the session factory and settings (embedders, batch size)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=INGEST_PARSE)
    async def parse(self, ref: FileRef) -> ParseOutcome:
        try:
            return await self._parse(ref)
        except Exception as exc:
            raise _mapped(exc)  # noqa: B904 - the cause is chained inside

    async def _parse(self, ref: FileRef) -> ParseOutcome:
        async with self.sessions.begin() as session:
            file = await file_store.get_file(session, ref.org_id, ref.file_id)
            if file.processing_status != "pending" and file.processing_status != "parsing":
                return ParseOutcome(is_parsed=file.processing_status != "error")  # a retry after this step
            await file_store.set_status(session, ref.org_id, ref.file_id, "parsing")
            raw = await file_store.raw_bytes(session, ref.org_id, ref.file_id)
            name, media_type = file.original_file_name, file.file_type or ""
        try:
            parsed = await asyncio.to_thread(parse_file, raw, name, media_type)
        except FileRejected as exc:
            async with self.sessions.begin() as session:
                await file_store.set_status(session, ref.org_id, ref.file_id, "error", error_message=str(exc))
            return ParseOutcome(is_parsed=False)
        text = parsed.text.replace("\x00", "")
        async with self.sessions.begin() as session:
            file = await file_store.get_file(session, ref.org_id, ref.file_id)
            await file_store.store_content(session, ref.org_id, ref.file_id, text)
            await open_in_attached_agents(
                session, ref.org_id, file, text
            )  # readable before embedding, as in Letta
        return ParseOutcome(is_parsed=True, pages=parsed.pages, chars=len(text))

    @activity.defn(name=INGEST_CHUNK)
    async def chunk(self, ref: FileRef) -> ChunkOutcome:
        try:
            return await self._chunk(ref)
        except Exception as exc:
            raise _mapped(exc)  # noqa: B904

    async def _chunk(self, ref: FileRef) -> ChunkOutcome:
        async with self.sessions() as session:
            file = await file_store.get_file(session, ref.org_id, ref.file_id, with_content=True)
            folder = await folder_store.get_folder(session, ref.org_id, file.folder_id)
        is_code = extension(file.original_file_name) in CODE_EXTENSIONS
        chunks = await asyncio.to_thread(
            chunk_document, file.content or "", file.file_type or "", chunk_tokens=folder.embedding_chunk_size,
            is_code=is_code,
        )  # fmt: skip
        if not chunks:
            raise InvalidInput(f"file {file.original_file_name!r} produced no text chunks")
        async with self.sessions.begin() as session:
            file = await file_store.get_file(session, ref.org_id, ref.file_id)
            await file_store.write_chunks(session, ref.org_id, file, chunks)
            _, embedded = await file_store.chunk_counts(session, ref.file_id)
            await file_store.set_status(
                session,
                ref.org_id,
                ref.file_id,
                "embedding",
                total_chunks=len(chunks),
                chunks_embedded=embedded,
            )
        return ChunkOutcome(total_chunks=len(chunks))

    @activity.defn(name=INGEST_EMBED)
    async def embed(self, ref: FileRef) -> EmbedOutcome:
        try:
            return await self._embed(ref)
        except Exception as exc:
            raise _mapped(exc)  # noqa: B904

    async def _embed(self, ref: FileRef) -> EmbedOutcome:
        details = activity.info().heartbeat_details
        cursor = int(details[0]) if details else -1  # last chunk index of the last committed batch
        if cursor >= 0:
            log.info("file %s: resuming embedding after chunk %d", ref.file_id, cursor)
        async with self.sessions() as session:
            file = await file_store.get_file(session, ref.org_id, ref.file_id)
            folder = await folder_store.get_folder(session, ref.org_id, file.folder_id)
        embedder = resolve_embedder(folder.embedding, self.settings)
        batch_size = max(1, self.settings.file_embed_batch_size)
        embedded = 0
        while True:
            async with self.sessions() as session:
                batch = await file_store.unembedded_chunks(
                    session, ref.file_id, after_index=cursor, limit=batch_size
                )
            if not batch:
                break
            vectors = await _embed_heartbeating(embedder, [p.text for p in batch], cursor)
            async with self.sessions.begin() as session:
                if await file_store.find_file(session, ref.org_id, ref.file_id) is None:
                    raise NotFound("file", ref.file_id)  # deleted mid-ingestion
                await file_store.store_embeddings(
                    session,
                    {p.id: v for p, v in zip(batch, vectors, strict=True)},
                    embedding_model=embedder.handle,
                )
                _, embedded = await file_store.chunk_counts(session, ref.file_id)
                await file_store.set_status(
                    session, ref.org_id, ref.file_id, "embedding", chunks_embedded=embedded
                )
            cursor = batch[-1].chunk_index
            activity.heartbeat(cursor)
            if self.settings.file_embed_batch_pause_s > 0:
                await asyncio.sleep(self.settings.file_embed_batch_pause_s)
        return EmbedOutcome(chunks_embedded=embedded)

    @activity.defn(name=INGEST_FINISH)
    async def finish(self, inp: FinishIngestInput) -> None:
        async with self.sessions.begin() as session:
            if inp.error_message is not None:
                await file_store.set_status(
                    session, inp.org_id, inp.file_id, "error", error_message=inp.error_message
                )
                return
            total, embedded = await file_store.chunk_counts(session, inp.file_id)
            await file_store.set_status(
                session, inp.org_id, inp.file_id, "completed", total_chunks=total, chunks_embedded=embedded
            )
