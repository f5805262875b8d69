"""Client-side helpers the API uses to drive AgentWorkflow (update-with-start, cancel, status, UI links)."""

from __future__ import annotations

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from engram.config import Settings
from workflows.agent import (
    AgentStatus,
    AgentWorkflow,
    AgentWorkflowInput,
    TurnRequest,
    TurnResult,
    agent_workflow_id,
)

__all__ = ["agent_status", "cancel_run", "submit_turn", "temporal_ui_link", "WorkflowUpdateFailedError"]


def default_workflow_input(settings: Settings, org_id: str, agent_id: str, conversation_id: str | None) -> AgentWorkflowInput:
    return AgentWorkflowInput(
        org_id=org_id, agent_id=agent_id, conversation_id=conversation_id,
        idle_timeout_s=settings.idle_timeout_s, max_pending_turns=settings.max_pending_turns,
    )  # fmt: skip


async def submit_turn(
    client: Client, settings: Settings, *, org_id: str, agent_id: str, run_id: str, max_steps: int = 50,
    conversation_id: str | None = None, wait: bool = True, workflow_input: AgentWorkflowInput | None = None,
    is_approval: bool = False,
) -> TurnResult | None:  # fmt: skip
    """Queue the run on the agent's workflow, starting it if needed; update id = run id, so a retry runs once.
    The worker notes on the run which workflow ran it when the turn begins.

    wait=True returns the TurnResult; wait=False returns None once the workflow accepted the turn.
    A workflow that was just exiting (idle) rejects the update; we retry once on the fresh run.
    Raises WorkflowUpdateFailedError when the validator rejects (failure cause type QueueFull).
    """
    workflow_id = agent_workflow_id(agent_id, conversation_id)
    last_error: Exception | None = None
    for _ in range(3):
        start = WithStartWorkflowOperation(
            AgentWorkflow.run, workflow_input or default_workflow_input(settings, org_id, agent_id, conversation_id),
            id=workflow_id, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, task_queue=settings.task_queue,
            static_summary=f"agent {agent_id}" + (f" conversation {conversation_id}" if conversation_id else ""),
        )  # fmt: skip
        try:
            handle = await client.start_update_with_start_workflow(
                AgentWorkflow.send_message, TurnRequest(run_id=run_id, max_steps=max_steps, is_approval=is_approval),
                id=run_id,
                start_workflow_operation=start, wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )  # fmt: skip
        except RPCError as exc:
            last_error = exc
            continue
        if not wait:
            return None
        try:
            return await handle.result()
        except RPCError as exc:  # the run closed under us (continue-as-new/idle exit race): resubmit
            last_error = exc
            continue
    assert last_error is not None
    raise last_error


async def cancel_run(client: Client, *, agent_id: str, run_id: str, conversation_id: str | None = None) -> None:
    """Ask the agent's workflow to cancel `run_id` (in flight or queued); a closed workflow is ignored."""
    try:
        await client.get_workflow_handle(agent_workflow_id(agent_id, conversation_id)).signal(AgentWorkflow.cancel_run, run_id)
    except RPCError:
        pass


async def disable_agent(client: Client, *, agent_id: str, conversation_id: str | None = None) -> None:
    """Make the agent's (or one of its conversations') running workflow refuse new turns (e.g. it was
    deleted); none running is fine."""
    try:
        await client.get_workflow_handle(agent_workflow_id(agent_id, conversation_id)).signal(AgentWorkflow.set_disabled, True)
    except RPCError:
        pass


async def agent_status(client: Client, agent_id: str, conversation_id: str | None = None) -> AgentStatus | None:
    """Busy run and queue length, or None when no workflow is running for the agent."""
    try:
        return await client.get_workflow_handle(agent_workflow_id(agent_id, conversation_id)).query(AgentWorkflow.status)
    except RPCError:
        return None


def temporal_ui_link(settings: Settings, workflow_id: str, temporal_run_id: str | None) -> str:
    base = settings.temporal_ui_base.rstrip("/")
    tail = f"/{temporal_run_id}/history" if temporal_run_id else ""
    return f"{base}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}{tail}"
