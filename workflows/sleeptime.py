"""SleeptimeWorkflow: one background memory-consolidation pass of a primary agent's sleep-time agent.

Started two ways:
  * by AgentWorkflow after every N-th completed turn, as a child with ParentClosePolicy.ABANDON (so it
    outlives the parent's continue-as-new or idle exit), with the run already claimed (`run_id` set);
  * by the agent's Temporal Schedule `sleeptime:{agent_id}` (the server appends the fire time to the
    workflow id), with no run: the first step claims the unreviewed window, or ends if there is none.
The sleep-time agent's turn itself runs on that agent's own AgentWorkflow (one queue per agent, so two
passes never edit at once); this workflow waits for it and hands the window back if the run failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        NOT_FOUND,
        RUN_AGENT_TURN,
        SLEEPTIME_CLAIM,
        SLEEPTIME_FINISHED,
        RunAgentTurnInput,
        RunAgentTurnOutcome,
        SleeptimeClaim,
        SleeptimeClaimInput,
        SleeptimeFinishedInput,
    )
    from engram.ids import derived_uuid, id_from_uuid

SLEEPTIME_MAX_STEPS = 10
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5, non_retryable_error_types=[NOT_FOUND])
TURN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                         maximum_attempts=10, non_retryable_error_types=[NOT_FOUND])  # fmt: skip


def schedule_id(agent_id: str) -> str:
    return f"sleeptime:{agent_id}"


def turn_child_id(agent_id: str, run_id: str) -> str:
    return f"sleeptime:{agent_id}:run:{run_id}"


@dataclass
class SleeptimeInput:
    org_id: str
    agent_id: str  # the primary agent
    run_id: str | None = None  # set when a turn count triggered it (the window is already claimed)
    sleeptime_agent_id: str | None = None
    trigger: str = "schedule"
    heartbeat_timeout_s: float = 30.0


@dataclass
class SleeptimeResult:
    run_id: str | None
    status: str  # completed | failed | cancelled | skipped (nothing new to review)


@workflow.defn
class SleeptimeWorkflow:
    @workflow.run
    async def run(self, inp: SleeptimeInput) -> SleeptimeResult:
        run_id, helper = inp.run_id, inp.sleeptime_agent_id
        if run_id is None:
            claim_run = id_from_uuid("run", derived_uuid("sleeptime-schedule", workflow.info().workflow_id))
            claim = await workflow.execute_local_activity(
                SLEEPTIME_CLAIM, SleeptimeClaimInput(inp.org_id, inp.agent_id, claim_run), result_type=SleeptimeClaim,
                start_to_close_timeout=timedelta(seconds=30), retry_policy=DB_RETRY, summary="claim unreviewed messages",
            )  # fmt: skip
            run_id, helper = claim.run_id, claim.sleeptime_agent_id
        if run_id is None or helper is None:
            workflow.set_current_details("nothing new to review")
            return SleeptimeResult(None, "skipped")
        workflow.set_current_details(f"sleep-time agent {helper} working on {run_id}")
        outcome = await workflow.execute_activity(
            RUN_AGENT_TURN, RunAgentTurnInput(inp.org_id, helper, run_id, SLEEPTIME_MAX_STEPS),
            result_type=RunAgentTurnOutcome, start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(seconds=inp.heartbeat_timeout_s), retry_policy=TURN_RETRY,
            summary=f"sleep-time run {run_id} of {helper}",
        )  # fmt: skip
        await workflow.execute_local_activity(
            SLEEPTIME_FINISHED, SleeptimeFinishedInput(inp.org_id, run_id, outcome.status),
            start_to_close_timeout=timedelta(seconds=30), retry_policy=DB_RETRY, summary=f"sleep-time {outcome.status}",
        )  # fmt: skip
        return SleeptimeResult(run_id, outcome.status)
