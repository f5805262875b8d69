"""A worker SIGKILLed while it embeds a long file: a new worker resumes and the file ends `completed` with
every chunk stored exactly once; the resulting history (with the retried embed step) replays."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import func, select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from api.ingest_client import start_ingest
from engram.embed.hashing import HASH_EMBEDDING_HANDLE
from engram.embed.registry import embedding_config
from engram.files.parse import media_type_of
from engram.store import files as file_store
from engram.store import folders as folder_store
from engram.store.models import FilePassage
from worker import workflow_runner
from workflows.ingest import FileIngestWorkflow, ingest_workflow_id

ROOT = Path(__file__).resolve().parents[2]
LONG_FILE = ROOT.parent / "shared" / "data" / "letta-tests-data" / "long_test.txt"


def _spawn(loop, task_queue: str) -> subprocess.Popen:
    env = {
        **os.environ, "ENGRAM_DATABASE_URL": loop.settings.database_url,
        "ENGRAM_TEMPORAL_ADDRESS": loop.settings.temporal_target, "ENGRAM_TASK_QUEUE": task_queue,
        "ENGRAM_FILE_EMBED_BATCH_SIZE": "2", "ENGRAM_FILE_EMBED_BATCH_PAUSE_S": "0.15", "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    return subprocess.Popen([sys.executable, str(ROOT / "tests/loop/worker_proc.py")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


async def _uploaded_file(loop) -> str:
    async with loop.sessions.begin() as s:
        folder = await folder_store.create_folder(s, loop.org_id, {
            "name": f"crash-{uuid.uuid4().hex[:6]}", "embedding": HASH_EMBEDDING_HANDLE,
            "embedding_config": embedding_config(HASH_EMBEDDING_HANDLE),
        })  # fmt: skip
        row = await file_store.create_file(s, loop.org_id, file_store.NewFile(
            folder_id=folder.id, file_name=f"{folder.name}/long_test.txt", original_file_name="long_test.txt",
            file_type=media_type_of("long_test.txt", None), raw=LONG_FILE.read_bytes(),
        ))  # fmt: skip
    return row.id


async def _file(loop, file_id: str):  # noqa: ANN202
    async with loop.sessions() as s:
        return await file_store.get_file(s, loop.org_id, file_id)


async def test_worker_killed_mid_embedding_resumes_and_stores_each_chunk_once(loop) -> None:
    task_queue = f"ingest-crash-{uuid.uuid4().hex[:8]}"
    settings = loop.settings.model_copy(update={"task_queue": task_queue})
    file_id = await _uploaded_file(loop)
    first = _spawn(loop, task_queue)
    second = None
    try:
        await start_ingest(loop.client, settings, loop.org_id, file_id, heartbeat_timeout_s=2.0)
        for _ in range(600):
            file = await _file(loop, file_id)
            if file.processing_status == "embedding" and (file.chunks_embedded or 0) >= 6:
                break
            await asyncio.sleep(0.02)
        assert file.processing_status == "embedding", "the first worker never started embedding"
        first.kill()
        first.wait()
        killed_at = (await _file(loop, file_id)).chunks_embedded or 0
        assert 0 < killed_at < (file.total_chunks or 0), "the kill did not land mid-file"
        second = _spawn(loop, task_queue)
        outcome = await asyncio.wait_for(
            loop.client.get_workflow_handle(ingest_workflow_id(file_id)).result(), 90
        )
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    file = await _file(loop, file_id)
    assert outcome == "completed" and file.processing_status == "completed"
    async with loop.sessions() as s:
        rows, indexes, embedded = (await s.execute(
            select(func.count(), func.count(func.distinct(FilePassage.chunk_index)), func.count(FilePassage.embedding))
            .where(FilePassage.file_id == file_id)
        )).one()  # fmt: skip
    assert rows == indexes == embedded == file.total_chunks == file.chunks_embedded
    history = await loop.client.get_workflow_handle(ingest_workflow_id(file_id)).fetch_history()
    replayer = Replayer(workflows=[FileIngestWorkflow], data_converter=pydantic_data_converter,
                        workflow_runner=workflow_runner())  # fmt: skip
    # The history, with the embed step retried after the kill, replays deterministically.
    await replayer.replay_workflow(history)
