"""ScheduledMessageWorkflow: what a scheduled message's Temporal Schedule starts at each firing.

It hands the message to the agent's own workflow as an ordinary queued turn (FIFO with user messages,
never two turns at once), then waits until that run is finished. Waiting keeps the firing "running"
for Temporal, so the schedule's BUFFER_ONE overlap policy queues the next firing behind a slow turn
instead of piling turns up or dropping them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        AWAIT_RUN,
        FIRE_SCHEDULED_MESSAGE,
        NOT_FOUND,
        AwaitRunInput,
        FireOutcome,
        FireScheduledInput,
    )

SCHEDULE_ID_PREFIX = "scheduled-message:"
FIRE_TIMEOUT = timedelta(minutes=1)
AWAIT_RUN_TIMEOUT = timedelta(hours=24)  # a scheduled turn longer than this is abandoned by the firing
AWAIT_RUN_HEARTBEAT = timedelta(seconds=30)
FIRE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                         non_retryable_error_types=[NOT_FOUND])  # fmt: skip


def schedule_id(scheduled_message_id: str) -> str:
    """The Temporal Schedule id of a scheduled message (the Temporal UI lists it under this name)."""
    return f"{SCHEDULE_ID_PREFIX}{scheduled_message_id}"


@dataclass
class ScheduledFire:
    """The schedule action's argument: ids only; the message itself stays in Postgres."""

    org_id: str
    agent_id: str
    scheduled_message_id: str


@workflow.defn
class ScheduledMessageWorkflow:
    @workflow.run
    async def run(self, fire: ScheduledFire) -> str | None:
        """The run id the firing produced, or None when the scheduled message no longer exists."""
        run_id = f"run-{workflow.uuid4()}"
        outcome = await workflow.execute_activity(
            FIRE_SCHEDULED_MESSAGE, FireScheduledInput(fire.org_id, fire.agent_id, fire.scheduled_message_id, run_id),
            result_type=FireOutcome, start_to_close_timeout=FIRE_TIMEOUT, retry_policy=FIRE_RETRY,
            summary=f"deliver {fire.scheduled_message_id} to agent {fire.agent_id}",
        )  # fmt: skip
        if not outcome.is_delivered:
            return None
        await workflow.execute_activity(
            AWAIT_RUN, AwaitRunInput(fire.org_id, run_id), start_to_close_timeout=AWAIT_RUN_TIMEOUT,
            heartbeat_timeout=AWAIT_RUN_HEARTBEAT, retry_policy=FIRE_RETRY, summary=f"wait for {run_id}",
        )  # fmt: skip
        return run_id
