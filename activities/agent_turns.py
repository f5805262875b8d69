"""Driving another agent's turn from inside an activity: queue it on that agent's workflow, wait for it.

Used by the sleep-time workflow (the background agent's run) and by the multi-agent tools. The run row
is created and committed first; its id is the update id, so a retried activity re-attaches to the same
turn instead of starting another. Waiting reads the run's status from Postgres while heartbeating, so
the wait survives the agent's workflow continuing-as-new and, after a worker dies, the retried activity
simply resumes waiting for the same run.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from engram.config import Settings
from engram.store import runs
from engram.store.models import Run
from workflows.agent import AgentWorkflow, AgentWorkflowInput, TurnRequest, agent_workflow_id

POLL_INTERVAL_S = 0.2


class TurnRejected(Exception):
    """The other agent's workflow refused the turn (disabled, or its queue is full)."""


async def submit(
    client: Client, settings: Settings, org_id: str, agent_id: str, run_id: str, max_steps: int,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> None:  # fmt: skip
    """Queue `run_id` on the agent's workflow (starting it if needed); returns once the turn is accepted.

    With `sessions`, the run records the workflow serving it (the Temporal UI link of `GET /v1/runs/{id}`).
    """
    inp = AgentWorkflowInput(org_id=org_id, agent_id=agent_id, idle_timeout_s=settings.idle_timeout_s,
                             max_pending_turns=settings.max_pending_turns)  # fmt: skip
    last: Exception | None = None
    for _ in range(3):
        start = WithStartWorkflowOperation(
            AgentWorkflow.run, inp, id=agent_workflow_id(agent_id),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, task_queue=settings.task_queue,
            static_summary=f"agent {agent_id}",
        )  # fmt: skip
        try:
            await client.start_update_with_start_workflow(
                AgentWorkflow.send_message, TurnRequest(run_id=run_id, max_steps=max_steps), id=run_id,
                start_workflow_operation=start, wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )  # fmt: skip
            if sessions is not None:
                temporal_run_id = (await start.workflow_handle()).result_run_id
                async with sessions.begin() as session:
                    await runs.set_workflow_ids(session, org_id, run_id, agent_workflow_id(agent_id), temporal_run_id)
            return
        except WorkflowUpdateFailedError as exc:
            raise TurnRejected(str(getattr(exc.cause, "message", None) or exc.cause or exc)) from exc
        except RPCError as exc:  # the workflow was closing (idle exit / continue-as-new): try the fresh run
            last = exc
    assert last is not None
    raise last


async def wait_for_run(
    sessions: async_sessionmaker[AsyncSession], org_id: str, run_id: str, timeout_s: float
) -> Run | None:
    """The run once terminal (heartbeating meanwhile), or None after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with sessions() as session:
            run = await runs.find_run(session, org_id, run_id)
        if run is not None and run.status in runs.TERMINAL_STATUSES:
            return run
        if time.monotonic() >= deadline:
            return None
        if activity.in_activity():
            activity.heartbeat(run_id)
        await asyncio.sleep(POLL_INTERVAL_S)
