"""AgentWorkflow: one per agent (or conversation); a FIFO queue of turns, each a step loop.

Postgres holds every message, block and run; the workflow holds only the queue, a few counters and
the run being worked on. Turns arrive as an update (`send_message`, answered with the turn's result)
or a signal (`enqueue`, fire and forget); `cancel_run` cancels the in-flight activity. The workflow
continues-as-new at a turn boundary when history grows, and exits after `idle_timeout_s` idle.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        CONTEXT_WINDOW_EXCEEDED,
        INVALID_LLM_RESPONSE,
        LLM_ERROR_TYPES,
        SYSTEM_PROMPT_TOO_LARGE,
        BeginTurnInput,
        CallbackInput,
        DenyApprovalInput,
        FinishTurnInput,
        LlmStepInput,
        PendingApprovalInput,
        SleeptimeTurnInput,
        StepOutcome,
        SummarizeInput,
        ToolsInput,
        ToolsOutcome,
        TurnStart,
        Usage,
    )
    from workflows import steps
    from workflows.sleeptime import SleeptimeInput, SleeptimeWorkflow, turn_child_id

MAX_COMPACTIONS_PER_STEP = 3  # Letta's max_summarizer_retries
COMPACTION_PATCH = "compact-on-context-overflow"  # runs recorded before compaction existed failed instead
APPROVAL_PATCH = "wait-for-approval"  # runs recorded before approvals existed ran every tool call at once
SLEEPTIME_PATCH = "sleeptime-after-turn"  # count completed turns; start SleeptimeWorkflow every N-th
EXIT_WHEN_DISABLED_PATCH = "exit-idle-when-disabled"  # a deleted agent's idle workflows end at once
# The first llm_step begins the run and a step that ends the turn finishes it (no begin/finish local
# activities): one workflow task and two transactions less per turn on the hot path.
FUSED_TURN_PATCH = "fused-turn-boundaries"
# One idle timer per idle period (a watcher sleeping until `idle_timeout_s` after the last turn) instead of
# a timer started and cancelled around every turn: two history events and two commands less per turn.
IDLE_WATCH_PATCH = "idle-watch-timer"
HISTORY_EVENTS_LIMIT = 2_000
HISTORY_BYTES_LIMIT = 1_000_000


def agent_workflow_id(agent_id: str, conversation_id: str | None = None) -> str:
    return f"agent:{agent_id}" if conversation_id is None else f"agent:{agent_id}:conv:{conversation_id}"


@dataclass
class TurnRequest:
    run_id: str
    max_steps: int = 50
    is_approval: bool = False  # the input answers a pending approval (ApprovalCreate / ToolReturnCreate)


@dataclass
class AwaitingApproval:
    """A step that stopped with requires_approval; the rows say what waits, this only drives the timer."""

    run_id: str
    step_index: int
    deadline: float | None = None  # workflow.time() at which to auto-deny; None = wait until answered
    timeout_s: float | None = None


@dataclass
class TurnResult:
    run_id: str
    stop_reason: str
    status: str
    step_count: int = 0
    usage: dict = field(default_factory=dict)


@dataclass
class AgentWorkflowInput:
    org_id: str
    agent_id: str
    conversation_id: str | None = None
    pending: list[TurnRequest] = field(default_factory=list)
    idle_timeout_s: float = 1800.0
    max_pending_turns: int = 32
    max_turns_per_run: int = 100  # continue-as-new after this many turns
    llm_heartbeat_timeout_s: float = 30.0
    tools_heartbeat_floor_s: float = 30.0  # least heartbeat timeout of execute_tools (tests shrink it)
    llm_retry_initial_interval_s: float | None = None  # None: LLM_RETRY's 2 s (tests shrink it)
    generation: int = 0
    is_disabled: bool = False  # set by the `set_disabled` signal (e.g. the agent was deleted); carried over CAN
    awaiting: AwaitingApproval | None = None  # carried over CAN


@dataclass
class AgentStatus:
    busy_run_id: str | None
    queue_length: int
    turns_this_run: int = 0
    generation: int = 0
    awaiting_approval_run_id: str | None = None


@dataclass
class _Failure:
    status: str
    stop_reason: str
    error_type: str | None = None
    message: str | None = None


@workflow.defn
class AgentWorkflow:
    @workflow.init
    def __init__(self, inp: AgentWorkflowInput) -> None:
        self.inp = inp
        self.pending: list[TurnRequest] = list(inp.pending)
        self.results: dict[str, TurnResult] = {}
        self.busy_run_id: str | None = None
        self.cancelled: set[str] = set()
        self.inflight: workflow.ActivityHandle | None = None
        self.turns = 0
        self.awaiting: AwaitingApproval | None = inp.awaiting
        self.deny_cause: str | None = None  # set by cancel_run while awaiting
        self.has_sleeptime = False  # set by begin_turn for the turn being worked on
        self.idle_since = 0.0  # workflow.time() when the last turn ended (or the run started)
        self.idle_expired = False
        self.idle_watch: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, inp: AgentWorkflowInput) -> None:
        self.idle_since = workflow.time()
        while await self._turn_arrives_before_idle_timeout():
            turn = self.pending.pop(0)
            result = await self._take_turn(turn)
            if self._turn_is_complete(result) and workflow.patched(SLEEPTIME_PATCH):
                result = await self._start_sleeptime(turn, result)
            self.results[turn.run_id] = result
            self.turns += 1
            self.idle_since = workflow.time()
            if self._history_is_long():
                # Updates still waiting for a queued turn keep handlers open: serve them first.
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self.pending))
                if workflow.all_handlers_finished():
                    workflow.continue_as_new(self._carry_over())

    async def _turn_arrives_before_idle_timeout(self) -> bool:
        while True:
            if self.awaiting is not None and not self.inp.is_disabled:  # no idle exit while a client owes an answer
                await self._wait_for_approval(self.awaiting)
                if self.pending:
                    return True
                continue
            workflow.set_current_details(f"idle; {self.turns} turns this run")
            ends_when_disabled = workflow.patched(EXIT_WHEN_DISABLED_PATCH)

            def woken(ends_when_disabled: bool = ends_when_disabled) -> bool:
                return bool(self.pending) or (ends_when_disabled and self.inp.is_disabled)

            if workflow.patched(IDLE_WATCH_PATCH):
                await self._wait_watched(woken)
                if self.pending:
                    return True
            else:
                try:
                    await workflow.wait_condition(woken, timeout=timedelta(seconds=self.inp.idle_timeout_s))
                    if self.pending:
                        return True
                except TimeoutError:
                    pass
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self.pending))
            if not self.pending:
                return False

    async def _wait_watched(self, woken: Callable[[], bool]) -> None:
        """Until woken or the idle watcher expires; the watcher outlives turns, so a busy agent pays for
        one timer per `idle_timeout_s`, not one per turn."""
        if self.idle_watch is None or self.idle_watch.done():
            self.idle_expired = False
            self.idle_watch = asyncio.create_task(self._watch_idle())
        await workflow.wait_condition(lambda: woken() or self.idle_expired)

    async def _watch_idle(self) -> None:
        while True:
            due = self.idle_since + self.inp.idle_timeout_s
            now = workflow.time()
            if now >= due and self.busy_run_id is None and not self.pending:
                self.idle_expired = True
                return
            await workflow.sleep(due - now if due > now else self.inp.idle_timeout_s)

    async def _wait_for_approval(self, awaiting: AwaitingApproval) -> None:
        """Durable wait for the client's answer (a timer, no activity held: days are fine); a cancel or the
        deadline denies the waiting calls so the agent is never stuck."""
        workflow.set_current_details(f"waiting for approval (run {awaiting.run_id})")
        timeout = None if awaiting.deadline is None else timedelta(seconds=max(0.0, awaiting.deadline - workflow.time()))
        cause = None
        try:
            await workflow.wait_condition(
                lambda: bool(self.pending) or self.deny_cause is not None or self.awaiting is not awaiting
                or self.inp.is_disabled,
                timeout=timeout,
            )
            cause = self.deny_cause
        except TimeoutError:
            cause = "timeout"
        if cause is not None:
            await self._deny(awaiting, cause)
        self.idle_since = workflow.time()  # idle counts from the answer (or the denial), as a turn's end

    async def _deny(self, awaiting: AwaitingApproval, cause: str) -> None:
        await steps.deny_pending_approval(DenyApprovalInput(
            self.inp.org_id, self.inp.agent_id, awaiting.run_id, cause, self.inp.conversation_id, awaiting.timeout_s,
        ))  # fmt: skip
        self.awaiting, self.deny_cause = None, None

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > HISTORY_EVENTS_LIMIT
            or info.get_current_history_size() > HISTORY_BYTES_LIMIT
            or self.turns >= self.inp.max_turns_per_run
        )

    def _carry_over(self) -> AgentWorkflowInput:
        return dataclasses.replace(self.inp, pending=list(self.pending), generation=self.inp.generation + 1,
                                   awaiting=self.awaiting)  # fmt: skip

    # --- one turn -------------------------------------------------------------------------------

    async def _take_turn(self, turn: TurnRequest) -> TurnResult:
        self.busy_run_id = turn.run_id
        workflow.set_current_details(f"working on {turn.run_id}")
        usage, step_count = Usage(), 0
        self.has_sleeptime = False
        try:
            if turn.run_id in self.cancelled:
                return await self._finish(turn, _Failure("cancelled", "cancelled"), usage, 0)
            start: TurnStart | None = None
            fused = not turn.is_approval and self.awaiting is None and workflow.patched(FUSED_TURN_PATCH)
            if not fused:
                start = await steps.begin_turn(BeginTurnInput(self.inp.org_id, self.inp.agent_id, turn.run_id, self.inp.conversation_id))
                if start.is_already_finished:
                    return TurnResult(turn.run_id, "end_turn", "completed")
                self.has_sleeptime = start.has_sleeptime
            if self.awaiting is not None and not turn.is_approval:  # a new message replaces the question
                await self._deny(self.awaiting, "superseded")
            if turn.is_approval:
                answered = await self._answer_approval(turn)
                if isinstance(answered, _Failure):
                    return await self._finish(turn, answered, usage, 0)
                if not answered.keep_stepping:
                    return await self._finish(turn, None, usage, 0, answered.stop_reason or "end_turn")
            stop_reason = "max_steps"
            for step_index in range(max(1, turn.max_steps)):
                step_count += 1
                outcome = await self._llm_step_compacting(
                    turn, step_index, start.model if start else None, fused=fused, usage_before=usage
                )
                if outcome.turn_start is not None:  # this step began the turn
                    start = outcome.turn_start
                    self.has_sleeptime = start.has_sleeptime
                    if start.is_already_finished and not outcome.finished_turn:
                        return TurnResult(turn.run_id, "end_turn", "completed")
                usage = _add(usage, outcome.usage)
                if outcome.finished_turn:  # the step closed the run itself
                    result = TurnResult(turn.run_id, outcome.stop_reason or "end_turn", "completed", step_count, _usage_dict(usage))
                    if start is not None and start.has_callback:
                        await steps.deliver_callback(CallbackInput(self.inp.org_id, turn.run_id))
                    return result
                if outcome.approval_call_count and workflow.patched(APPROVAL_PATCH):
                    timeout = outcome.approval_timeout_s
                    deadline = workflow.time() + timeout if timeout else None
                    self.awaiting = AwaitingApproval(turn.run_id, step_index, deadline, timeout)
                    stop_reason = "requires_approval"
                    break
                keep, reason = outcome.keep_stepping, outcome.stop_reason
                if outcome.tool_call_count:
                    tools = ToolsInput(self.inp.org_id, self.inp.agent_id, turn.run_id, step_index,
                                       step_index + 1 >= turn.max_steps, self.inp.conversation_id)  # fmt: skip
                    handle = steps.start_tools(tools, f"tools of step {step_index + 1}", self.inp.llm_heartbeat_timeout_s,
                                               self.inp.tools_heartbeat_floor_s)  # fmt: skip
                    done = await self._guarded(turn, handle)
                    keep, reason = done.keep_stepping, done.stop_reason
                if not keep:
                    stop_reason = reason or "end_turn"
                    break
            result = await self._finish(turn, None, usage, step_count, stop_reason)
            if start is not None and start.has_callback:
                await steps.deliver_callback(CallbackInput(self.inp.org_id, turn.run_id))
            return result
        except ActivityError as err:
            return await self._finish(turn, _failure_of(err), usage, step_count)
        except _Cancelled:
            return await self._finish(turn, _Failure("cancelled", "cancelled"), usage, step_count)
        finally:
            self.busy_run_id = None

    async def _answer_approval(self, turn: TurnRequest) -> ToolsOutcome | _Failure:
        """Run the waiting step's tool calls with the client's decisions; results belong to this turn's run."""
        ref = await steps.find_pending_approval(
            PendingApprovalInput(self.inp.org_id, self.inp.agent_id, turn.run_id, self.inp.conversation_id)
        )
        if ref.error is not None or ref.run_id is None:
            return _Failure("failed", "error", "invalid_approval", ref.error or "No tool call is currently awaiting approval.")
        self.awaiting = None
        tools = ToolsInput(self.inp.org_id, self.inp.agent_id, ref.run_id, ref.step_index, False,
                           self.inp.conversation_id, output_run_id=turn.run_id)  # fmt: skip
        handle = steps.start_tools(tools, "approved tool calls", self.inp.llm_heartbeat_timeout_s,
                                   self.inp.tools_heartbeat_floor_s)  # fmt: skip
        return await self._guarded(turn, handle)

    async def _llm_step_compacting(
        self, turn: TurnRequest, step_index: int, model: str | None, *, fused: bool = False, usage_before: Usage | None = None
    ) -> StepOutcome:  # fmt: skip
        """Run one LLM step; when the context overflows, compact it (summarize) and try the step again.

        fused: the first step begins the turn and any step that ends it finishes the run (FUSED_TURN_PATCH).
        """
        step = LlmStepInput(self.inp.org_id, self.inp.agent_id, turn.run_id, step_index, self.inp.conversation_id)
        if fused:
            step = dataclasses.replace(step, begins_turn=step_index == 0, may_finish_turn=True, usage_before=usage_before)
        for attempt in range(MAX_COMPACTIONS_PER_STEP + 1):
            try:
                handle = steps.start_llm_step(
                    step, model, self.inp.llm_heartbeat_timeout_s, self.inp.llm_retry_initial_interval_s
                )
                return await self._guarded(turn, handle)
            except ActivityError as err:
                overflowed = isinstance(err.cause, ApplicationError) and err.cause.type == CONTEXT_WINDOW_EXCEEDED
                if not overflowed or attempt == MAX_COMPACTIONS_PER_STEP or not workflow.patched(COMPACTION_PATCH):
                    raise
            summarize = SummarizeInput(self.inp.org_id, self.inp.agent_id, turn.run_id, step_index, attempt,
                                       self.inp.conversation_id)  # fmt: skip
            await self._guarded(turn, steps.start_summarize(summarize))
        raise AssertionError("unreachable")

    async def _guarded(self, turn: TurnRequest, handle: workflow.ActivityHandle):  # noqa: ANN202
        """Await an activity that `cancel_run` may cancel; a cancel requested just before is honoured too."""
        self.inflight = handle
        try:
            if turn.run_id in self.cancelled:
                handle.cancel()
            return await handle
        except ActivityError as err:
            if isinstance(err.cause, CancelledError) or turn.run_id in self.cancelled:
                raise _Cancelled() from err
            raise
        finally:
            self.inflight = None
            if turn.run_id in self.cancelled:
                raise _Cancelled()

    async def _finish(
        self, turn: TurnRequest, failure: _Failure | None, usage: Usage, step_count: int, stop_reason: str = "end_turn"
    ) -> TurnResult:
        status = failure.status if failure else "completed"
        reason = failure.stop_reason if failure else stop_reason
        await steps.finish_turn(FinishTurnInput(
            self.inp.org_id, self.inp.agent_id, turn.run_id, status, reason, step_count, usage,
            failure.error_type if failure else None, failure.message if failure else None,
        ))  # fmt: skip
        return TurnResult(turn.run_id, reason, status, step_count, _usage_dict(usage))

    def _turn_is_complete(self, result: TurnResult) -> bool:
        """A finished turn the sleep-time agent may review (one paused for an approval is not finished)."""
        return self.has_sleeptime and result.status == "completed" and result.stop_reason != "requires_approval"

    async def _start_sleeptime(self, turn: TurnRequest, result: TurnResult) -> TurnResult:
        """After a completed turn: count it; on the N-th start the sleep-time pass as an abandoned child.

        The turn is already finished (run terminal, stream closed), so the background agent only ever sees
        complete turns. Its run ids join `usage.run_ids`, as Letta reports them. Never fails the turn.
        """
        try:
            triggered = await steps.sleeptime_turn_done(SleeptimeTurnInput(self.inp.org_id, self.inp.agent_id, turn.run_id))
        except ActivityError:
            return result
        for run_id in triggered.run_ids:
            try:
                await workflow.start_child_workflow(
                    SleeptimeWorkflow.run,
                    SleeptimeInput(self.inp.org_id, self.inp.agent_id, run_id, triggered.sleeptime_agent_id, "turns"),
                    id=turn_child_id(self.inp.agent_id, run_id), parent_close_policy=ParentClosePolicy.ABANDON,
                    static_summary=f"sleep-time pass of agent {self.inp.agent_id} (run {run_id})",
                )  # fmt: skip
            except WorkflowAlreadyStartedError:
                pass
        if triggered.run_ids:
            usage = {**result.usage, "run_ids": [turn.run_id, *triggered.run_ids]}
            result = dataclasses.replace(result, usage=usage)
        return result

    # --- handlers ---------------------------------------------------------------------------------

    @workflow.update
    async def send_message(self, req: TurnRequest) -> TurnResult:
        self._enqueue(req)
        await workflow.wait_condition(lambda: req.run_id in self.results)
        return self.results[req.run_id]

    @send_message.validator
    def _validate_send_message(self, req: TurnRequest) -> None:
        if self.inp.is_disabled:
            raise ApplicationError(f"agent {self.inp.agent_id} is disabled", type="AgentDisabled")
        if len(self.pending) >= self.inp.max_pending_turns:
            raise ApplicationError(f"agent {self.inp.agent_id} has {len(self.pending)} queued turns", type="QueueFull")
        if not req.run_id:
            raise ApplicationError("run_id is required", type="InvalidTurn")

    @workflow.signal
    def enqueue(self, req: TurnRequest) -> None:
        self._enqueue(req)

    def _enqueue(self, req: TurnRequest) -> None:
        known = req.run_id in self.results or req.run_id == self.busy_run_id
        if not known and all(p.run_id != req.run_id for p in self.pending):
            self.pending.append(req)

    @workflow.signal
    def set_disabled(self, is_disabled: bool) -> None:
        self.inp.is_disabled = is_disabled

    @workflow.signal
    def cancel_run(self, run_id: str) -> None:
        if self.awaiting is not None and self.awaiting.run_id == run_id:
            self.deny_cause = "cancel"
        self.cancelled.add(run_id)
        if run_id == self.busy_run_id and self.inflight is not None:
            self.inflight.cancel()

    @workflow.query
    def status(self) -> AgentStatus:
        return AgentStatus(self.busy_run_id, len(self.pending), self.turns, self.inp.generation,
                           self.awaiting.run_id if self.awaiting else None)  # fmt: skip


class _Cancelled(Exception):
    """The user cancelled the turn being worked on."""


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens, a.total_tokens + b.total_tokens)


def _usage_dict(usage: Usage) -> dict:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens, "total_tokens": usage.total_tokens}


def _failure_of(err: ActivityError) -> _Failure:
    cause = err.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    message = str(cause) if cause is not None else str(err)
    if kind == CONTEXT_WINDOW_EXCEEDED:
        return _Failure("failed", "error", "context_window_exceeded", message)
    if kind == SYSTEM_PROMPT_TOO_LARGE:
        return _Failure("failed", "context_window_overflow_in_system_prompt", "context_window_overflow_in_system_prompt", message)
    if kind in LLM_ERROR_TYPES or kind is None:  # None: the retry budget ran out on timeouts
        return _Failure("failed", "llm_api_error", "llm_error", message)
    if kind == INVALID_LLM_RESPONSE:
        return _Failure("failed", "invalid_llm_response", "invalid_llm_response", message)
    return _Failure("failed", "error", "internal_error", message)
