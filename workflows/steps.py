"""One typed wrapper per activity: timeouts and retry policies live here, so the loop stays readable."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType, ActivityHandle

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        BEGIN_TURN,
        CONTEXT_WINDOW_EXCEEDED,
        DELIVER_CALLBACK,
        DENY_PENDING_APPROVAL,
        EXECUTE_TOOLS,
        FIND_PENDING_APPROVAL,
        FINISH_TURN,
        LLM_STEP,
        NOT_FOUND,
        PAYLOAD_TOO_LARGE,
        SLEEPTIME_TURN_DONE,
        SUMMARIZE,
        SYSTEM_PROMPT_TOO_LARGE,
        BeginTurnInput,
        CallbackInput,
        DenyApprovalInput,
        FinishTurnInput,
        LlmStepInput,
        PendingApprovalInput,
        PendingApprovalRef,
        SleeptimeTriggered,
        SleeptimeTurnInput,
        StepOutcome,
        SummarizeInput,
        SummarizeOutcome,
        ToolsInput,
        ToolsOutcome,
        TurnStart,
    )

LLM_STEP_TIMEOUT = timedelta(minutes=10)
# Custom and MCP tools enforce their own per-call limit (default 5 min, at most 1 h, engram/sandbox/limits.py);
# this only bounds a whole step's calls, and heartbeats catch a dead worker long before it.
TOOLS_TIMEOUT = timedelta(hours=2)
DB_WRITE_TIMEOUT = timedelta(seconds=30)
# Provider SDK retries are off; this policy owns them. 4xx/auth/context overflow come back non-retryable.
LLM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_attempts=4,
    non_retryable_error_types=[CONTEXT_WINDOW_EXCEEDED, NOT_FOUND, PAYLOAD_TOO_LARGE],
)  # fmt: skip
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5, non_retryable_error_types=[NOT_FOUND])
# A run must never stay "running": finishing retries until the database is back.
FINISH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
CALLBACK_RETRY = RetryPolicy(maximum_attempts=1)


def start_llm_step(
    step: LlmStepInput, model: str | None, heartbeat_timeout_s: float, retry_initial_interval_s: float | None = None
) -> ActivityHandle[StepOutcome]:
    """retry_initial_interval_s overrides LLM_RETRY's first backoff (tests shrink it; the attempt count stays)."""
    retry = LLM_RETRY
    if retry_initial_interval_s is not None:
        retry = dataclasses.replace(LLM_RETRY, initial_interval=timedelta(seconds=retry_initial_interval_s))
    return workflow.start_activity(
        LLM_STEP, step, result_type=StepOutcome, start_to_close_timeout=LLM_STEP_TIMEOUT,
        heartbeat_timeout=timedelta(seconds=heartbeat_timeout_s), retry_policy=retry,
        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary=f"llm step {step.step_index + 1}" + (f" ({model})" if model else ""),
    )  # fmt: skip


def start_tools(
    inp: ToolsInput, summary: str, heartbeat_timeout_s: float, floor_s: float = 30.0
) -> ActivityHandle[ToolsOutcome]:
    """floor_s: the least heartbeat timeout (tools that block without heartbeating need it; tests shrink it)."""
    return workflow.start_activity(
        EXECUTE_TOOLS, inp, result_type=ToolsOutcome, start_to_close_timeout=TOOLS_TIMEOUT,
        heartbeat_timeout=timedelta(seconds=max(heartbeat_timeout_s, floor_s)), retry_policy=DB_RETRY,
        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED, summary=summary,
    )  # fmt: skip


SUMMARIZE_TIMEOUT = timedelta(minutes=5)
SUMMARIZE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_attempts=4,
    non_retryable_error_types=[CONTEXT_WINDOW_EXCEEDED, NOT_FOUND, SYSTEM_PROMPT_TOO_LARGE],
)  # fmt: skip


def start_summarize(inp: SummarizeInput) -> ActivityHandle[SummarizeOutcome]:
    return workflow.start_activity(
        SUMMARIZE, inp, result_type=SummarizeOutcome, start_to_close_timeout=SUMMARIZE_TIMEOUT,
        heartbeat_timeout=timedelta(seconds=60), retry_policy=SUMMARIZE_RETRY,
        summary=f"summarize context before step {inp.step_index + 1}",
    )  # fmt: skip


async def begin_turn(inp: BeginTurnInput) -> TurnStart:
    return await workflow.execute_local_activity(
        BEGIN_TURN, inp, result_type=TurnStart, start_to_close_timeout=DB_WRITE_TIMEOUT, retry_policy=DB_RETRY,
        summary="begin turn",
    )  # fmt: skip


async def finish_turn(inp: FinishTurnInput) -> None:
    await workflow.execute_local_activity(
        FINISH_TURN, inp, start_to_close_timeout=DB_WRITE_TIMEOUT, retry_policy=FINISH_RETRY,
        summary=f"finish turn ({inp.stop_reason})",
    )  # fmt: skip


async def deliver_callback(inp: CallbackInput) -> None:
    await workflow.execute_activity(
        DELIVER_CALLBACK, inp, start_to_close_timeout=timedelta(seconds=30), retry_policy=CALLBACK_RETRY,
        summary="run callback",
    )  # fmt: skip


async def sleeptime_turn_done(inp: SleeptimeTurnInput) -> SleeptimeTriggered:
    """Count a completed turn towards the sleep-time frequency; claims a window on the N-th."""
    return await workflow.execute_local_activity(
        SLEEPTIME_TURN_DONE, inp, result_type=SleeptimeTriggered, start_to_close_timeout=DB_WRITE_TIMEOUT,
        retry_policy=DB_RETRY, summary="count turn for sleep-time",
    )  # fmt: skip


async def find_pending_approval(inp: PendingApprovalInput) -> PendingApprovalRef:
    return await workflow.execute_local_activity(
        FIND_PENDING_APPROVAL, inp, result_type=PendingApprovalRef, start_to_close_timeout=DB_WRITE_TIMEOUT,
        retry_policy=DB_RETRY, summary="find the step this approval answers",
    )  # fmt: skip


async def deny_pending_approval(inp: DenyApprovalInput) -> bool:
    # Like finishing a turn, a denial must land eventually: it is what un-sticks the agent.
    return await workflow.execute_local_activity(
        DENY_PENDING_APPROVAL, inp, result_type=bool, start_to_close_timeout=DB_WRITE_TIMEOUT,
        retry_policy=FINISH_RETRY, summary=f"deny pending approval ({inp.cause})",
    )  # fmt: skip
