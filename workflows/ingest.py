"""FileIngestWorkflow (`file-ingest:{file_id}`): one uploaded file, parsed, chunked and embedded.

The run reads like the product: parse the bytes into text (a refused file ends there with its reason),
cut the text into chunks, embed them batch by batch, and mark the file completed. Any step that fails
for good marks the file `error` with the reason, so no file is left in a working status; a file deleted
meanwhile (NotFound) just ends the run, and deleting the file cancels the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        INGEST_CHUNK,
        INGEST_EMBED,
        INGEST_FINISH,
        INGEST_PARSE,
        INVALID_INPUT,
        NOT_FOUND,
        ChunkOutcome,
        EmbedOutcome,
        FileRef,
        FinishIngestInput,
        ParseOutcome,
    )

INGEST_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=5,
    non_retryable_error_types=[NOT_FOUND, INVALID_INPUT],
)  # fmt: skip
FINISH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


def ingest_workflow_id(file_id: str) -> str:
    return f"file-ingest:{file_id}"


@dataclass
class FileIngestInput:
    org_id: str
    file_id: str
    heartbeat_timeout_s: float = 60.0  # a worker dying mid-embedding is noticed after this long


@workflow.defn(name="FileIngestWorkflow")
class FileIngestWorkflow:
    @workflow.run
    async def run(self, inp: FileIngestInput) -> str:
        """The file's final status: completed, error, or deleted."""
        ref = FileRef(inp.org_id, inp.file_id)
        try:
            parsed = await self._step(INGEST_PARSE, ref, ParseOutcome, timedelta(minutes=10), "parse")
            if not parsed.is_parsed:
                return "error"
            chunked = await self._step(INGEST_CHUNK, ref, ChunkOutcome, timedelta(minutes=5), "chunk")
            await workflow.execute_activity(
                INGEST_EMBED, ref, result_type=EmbedOutcome, start_to_close_timeout=timedelta(hours=2),
                heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_s), retry_policy=INGEST_RETRY,
                summary=f"embed {chunked.total_chunks} chunks",
            )  # fmt: skip
        except ActivityError as exc:
            if isinstance(exc.cause, CancelledError):
                raise
            if _error_type(exc) == NOT_FOUND:
                return "deleted"
            await self._finish(FinishIngestInput(inp.org_id, inp.file_id, error_message=_reason(exc)))
            return "error"
        await self._finish(FinishIngestInput(inp.org_id, inp.file_id))
        return "completed"

    async def _step(self, name: str, ref: FileRef, result_type: type, timeout: timedelta, summary: str):  # noqa: ANN202
        return await workflow.execute_activity(
            name, ref, result_type=result_type, start_to_close_timeout=timeout, retry_policy=INGEST_RETRY,
            summary=summary,
        )  # fmt: skip

    async def _finish(self, inp: FinishIngestInput) -> None:
        await workflow.execute_activity(
            INGEST_FINISH, inp, start_to_close_timeout=timedelta(seconds=30), retry_policy=FINISH_RETRY,
            summary="error" if inp.error_message else "completed",
        )  # fmt: skip


def _error_type(exc: ActivityError) -> str | None:
    return exc.cause.type if isinstance(exc.cause, ApplicationError) else None


def _reason(exc: ActivityError) -> str:
    cause = exc.cause
    return str(cause.message if isinstance(cause, ApplicationError) else cause or exc)
