"""Client-side helpers the API uses for file ingestion: start `file-ingest:{file_id}`, cancel it."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from engram.config import Settings
from workflows.ingest import FileIngestInput, FileIngestWorkflow, ingest_workflow_id


async def start_ingest(
    client: Client, settings: Settings, org_id: str, file_id: str, *, heartbeat_timeout_s: float = 60.0
) -> None:
    await client.start_workflow(
        FileIngestWorkflow.run, FileIngestInput(org_id, file_id, heartbeat_timeout_s), id=ingest_workflow_id(file_id),
        task_queue=settings.task_queue, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        static_summary=f"ingest file {file_id}",
    )  # fmt: skip


async def cancel_ingest(client: Client, file_id: str) -> None:
    """Cancel the file's ingestion if it still runs; a finished or unknown one is fine."""
    try:
        await client.get_workflow_handle(ingest_workflow_id(file_id)).cancel()
    except RPCError:
        pass
