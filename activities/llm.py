"""The `llm_step` activity: compile the context, call the model (streaming), persist the step.

Idempotent: the step's rows have ids derived from run id + step index and are written in one
transaction after the call. A retry that finds the assistant row already stored returns the outcome
from it without calling the model again, so a crash after the commit never produces a second reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import step_ids
from activities.contracts import LLM_STEP, FinishTurnInput, LlmStepInput, StepOutcome, TurnStart, Usage
from activities.errors import guard_payload_size, to_application_error
from activities.streaming import DeltaWriter
from activities.turn_state import TurnState, load_turn_state
from activities.turns import begin_in_session, finish_in_session
from engram.config import Settings
from engram.context.compaction import TRIGGER_FRACTION, context_window, needs_compaction
from engram.context.compiler import compile_context
from engram.context.window_cache import WindowCache
from engram.letta_messages import to_letta_messages
from engram.llm import registry
from engram.llm.base import LlmRequest, LlmResponse
from engram.llm.errors import ContextWindowExceeded
from engram.llm.tokens import estimate_tokens
from engram.store import messages as message_store
from engram.store import run_events
from engram.store import steps as step_store
from engram.store.conversations import context_holder
from engram.store.models import Message
from engram.store.models.base import utcnow
from engram.tools import approvals
from engram.tools import rules as tool_rules

HEARTBEAT_EVERY_S = 2.0  # so cancellation arrives while the model thinks


def heartbeat_interval_s() -> float:
    """At most HEARTBEAT_EVERY_S and at most a third of the activity's heartbeat timeout: beating exactly at
    the timeout (2 s with a 2 s timeout) lets a little scheduling delay time the attempt out."""
    timeout = activity.info().heartbeat_timeout
    return min(HEARTBEAT_EVERY_S, timeout.total_seconds() / 3) if timeout else HEARTBEAT_EVERY_S


@contextlib.asynccontextmanager
async def heartbeating():
    """Heartbeat in the background for the whole call (a slow provider may send nothing for a while)."""
    every = heartbeat_interval_s()

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


class LlmActivities:
    """LLM calls for agent turns; the worker builds one instance with the session factory and settings."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, windows: WindowCache | None = None
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        # decoded in-context rows (and their messages), reused by the next step of the same agent
        self.windows = windows if windows is not None else WindowCache(idle_s=settings.idle_timeout_s)

    @activity.defn(name=LLM_STEP)
    async def llm_step(self, inp: LlmStepInput) -> StepOutcome:
        try:
            async with heartbeating():
                outcome = await self._step(inp)
        except Exception as exc:
            raise to_application_error(exc)  # noqa: B904 - the cause is chained inside
        guard_payload_size(outcome)
        return outcome

    async def _step(self, inp: LlmStepInput) -> StepOutcome:
        message_id = step_ids.assistant_message_id(inp.run_id, inp.step_index)
        step_id = step_ids.step_id(inp.run_id, inp.step_index)
        async with self.sessions.begin() as session:
            state = await load_turn_state(session, inp.org_id, inp.agent_id, inp.run_id)
            # After the state: the session's identity map (weakly held) then still has the run and agent.
            start = await begin_in_session(session, inp.org_id, inp.agent_id, inp.run_id) if inp.begins_turn else None
            stored = await message_store.find_message(session, inp.org_id, message_id)
            if stored is not None:  # a retry after the step committed: never call the model twice
                outcome = _outcome_from_row(state, stored, inp.step_index, "stop", self._approval_timeout(state))
                return _with_turn(outcome, start, finished=inp.may_finish_turn and _ends_turn(outcome))
            if start is not None and start.is_already_finished:
                return _with_turn(StepOutcome(step_id=step_id), start)
            history = state.calls_before(inp.step_index)
            allowed = tool_rules.allowed_tools(state.rules, state.tool_names, history, state.last_tool_output())
            messages = await compile_context(session, inp.org_id, inp.agent_id, inp.conversation_id, self.windows)
            thread_limit = (await context_holder(session, state.agent, inp.conversation_id)).context_window_limit
        handle = (state.run.request_config or {}).get("override_model") or state.agent.model
        provider, model_name = registry.resolve(handle, self.settings)
        specs = state.tool_specs(list(allowed.names))
        if needs_compaction(state.agent, messages, specs, thread_limit):  # Letta compacts at 0.9 x the window, before the call
            raise ContextWindowExceeded(
                f"the context (~{estimate_tokens(messages, specs)} tokens) is over {TRIGGER_FRACTION} x the "
                f"context window of {context_window(state.agent, thread_limit)} tokens"
            )
        request = LlmRequest(
            model=model_name, messages=messages, tools=specs, tool_choice=_tool_choice(state, allowed, specs),
            max_tokens=(state.agent.llm_config or {}).get("max_tokens"),
            temperature=(state.agent.llm_config or {}).get("temperature"),
        )  # fmt: skip
        started, date = time.monotonic_ns(), utcnow()
        attempt = activity.info().attempt
        writer = DeltaWriter(
            self.sessions, inp.org_id, inp.run_id, message_id=message_id, step_id=step_id, attempt=attempt, date=date,
            assistant_tool=state.config.assistant_message_tool_name if state.config.use_assistant_message else None,
            assistant_kwarg=state.config.assistant_message_tool_kwarg, approval_tools=state.approval_names,
        )  # fmt: skip
        if attempt > 1:
            async with self.sessions.begin() as session:
                await run_events.append_events(session, inp.org_id, inp.run_id, [
                    (f"{step_id}:retry{attempt}", "step_retry", {"step_id": step_id, "attempt": attempt})
                ])  # fmt: skip
        # Token deltas are written only for a run whose client asked for them (stream_tokens): each flush is a
        # transaction, and under load those writes fed back into slower steps (bench/README.md, issue #9).
        wants_tokens = bool((state.run.request_config or {}).get("stream_tokens"))
        response = await provider.complete(request, on_delta=writer.on_delta if wants_tokens else None)
        usage = Usage(response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens)
        row = _assistant_row(inp, state, response, message_id, step_id, handle, date)
        async with self.sessions.begin() as session:
            stored = await message_store.insert_message_returning(session, row) if row is not None else None
            await step_store.record_step(session, inp.org_id, {
                "id": step_id, "run_id": inp.run_id, "agent_id": inp.agent_id, "step_index": inp.step_index,
                "model": handle, "provider": handle.split("/", 1)[0], "prompt_tokens": response.usage.prompt_tokens,
                "completion_tokens": response.usage.completion_tokens, "total_tokens": response.usage.total_tokens,
                "duration_ns": time.monotonic_ns() - started, "created_at": date,
            })  # fmt: skip
            events = writer.take_pending()  # the last deltas, then the final message events, in one append
            if stored is not None:
                events += _final_events(state, stored, writer.streamed_otids)
            outcome = (
                _outcome_from_row(state, stored, inp.step_index, response.finish_reason, self._approval_timeout(state))
                if stored else _empty_outcome(state, step_id)
            )  # fmt: skip
            finished = inp.may_finish_turn and _ends_turn(outcome)
            if finished:  # close the run in this same write: the turn costs no finish_turn round trip
                closing = await finish_in_session(session, FinishTurnInput(
                    inp.org_id, inp.agent_id, inp.run_id, "completed", outcome.stop_reason or "end_turn",
                    inp.step_index + 1, _add(inp.usage_before or Usage(), usage),
                ))  # fmt: skip
                events += closing or []
            await run_events.append_events(session, inp.org_id, inp.run_id, events)
        if outcome.keep_stepping and not outcome.tool_call_count:
            await self._nudge_required_tools(inp, state)
        outcome.usage = usage
        return _with_turn(outcome, start, finished=finished)

    def _approval_timeout(self, state: TurnState) -> float | None:
        return approvals.approval_timeout_s(state.agent, getattr(self.settings, "approval_timeout_s", None))

    async def _nudge_required_tools(self, inp: LlmStepInput, state: TurnState) -> None:
        """letta_v1: ending without a required tool gets Letta's ToolRuleViolated message and another step."""
        missing = tool_rules.uncalled_required(state.rules, state.calls_before(inp.step_index + 1))
        text = f"ToolRuleViolated: You must call {', '.join(missing)} at least once to exit the loop."
        async with self.sessions.begin() as session:
            await message_store.insert_messages(session, [{
                "id": step_ids.heartbeat_message_id(inp.run_id, inp.step_index), "organization_id": inp.org_id,
                "agent_id": inp.agent_id, "conversation_id": inp.conversation_id, "role": "user",
                "content": [{"type": "text", "text": text}], "text": text, "run_id": inp.run_id, "created_at": utcnow(),
            }])  # fmt: skip


def _ends_turn(outcome: StepOutcome) -> bool:
    """The step ends the turn by itself: no tool to run, no approval to wait for, no further step."""
    return not (outcome.tool_call_count or outcome.approval_call_count or outcome.keep_stepping)


def _with_turn(outcome: StepOutcome, start: TurnStart | None, *, finished: bool = False) -> StepOutcome:
    outcome.turn_start, outcome.finished_turn = start, finished
    return outcome


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens, a.total_tokens + b.total_tokens)


def _tool_choice(state: TurnState, allowed: tool_rules.Allowed, specs: list[Any]) -> str:
    if not specs:
        return "none"
    if allowed.is_forced:
        return allowed.names[0] if len(allowed.names) == 1 else "required"
    return "required" if state.uses_heartbeats else "auto"


def _assistant_row(
    inp: LlmStepInput, state: TurnState, response: LlmResponse, message_id: str, step_id: str, handle: str, date: Any
) -> dict[str, Any] | None:
    if not (response.content or response.reasoning or response.tool_calls):
        return None
    calls = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in response.tool_calls]
    for call in calls:
        if call["function"]["name"] in state.approval_names:
            call[approvals.MARKER] = True  # the run stops here until the client answers (engram/tools/approvals.py)
    return {
        "id": message_id, "organization_id": inp.org_id, "agent_id": inp.agent_id,
        "conversation_id": inp.conversation_id, "role": "assistant",
        "content": [{"type": "text", "text": response.content}] if response.content else [],
        "text": response.content or "", "reasoning": response.reasoning, "tool_calls": calls or None,
        "run_id": inp.run_id, "step_id": step_id, "model": handle, "created_at": date,
        "name": state.agent.name[:200] if state.agent.name else None,
    }  # fmt: skip


def _final_events(state: TurnState, row: Message, streamed: set[str]) -> list[tuple[str, str, dict]]:
    events = []
    for msg in to_letta_messages(row, **state.config.wire_kwargs()):
        kind = "message_final" if msg["otid"] in streamed else "message"
        events.append((f"{row.id}:{msg['otid']}", kind, msg))
    return events


def _empty_outcome(state: TurnState, step_id: str) -> StepOutcome:
    return StepOutcome(step_id=step_id, keep_stepping=False, stop_reason="no_tool_call" if state.uses_heartbeats else "end_turn")


def _outcome_from_row(
    state: TurnState, row: Message, step_index: int, finish_reason: str, approval_timeout_s: float | None = None
) -> StepOutcome:
    """Decide the no-tool-call cases here; with tool calls the tools activity decides (after approval, if asked)."""
    calls = row.tool_calls or []
    if calls:
        waiting = len(approvals.marked_calls(row))
        return StepOutcome(step_id=row.step_id or "", tool_call_count=len(calls), approval_call_count=waiting,
                           approval_timeout_s=approval_timeout_s if waiting else None)  # fmt: skip
    if finish_reason == "length":
        return StepOutcome(step_id=row.step_id or "", stop_reason="max_tokens_exceeded")
    if state.uses_heartbeats and "send_message" in state.tool_names:
        return StepOutcome(step_id=row.step_id or "", stop_reason="no_tool_call")
    missing = tool_rules.uncalled_required(state.rules, state.calls_before(step_index + 1))
    if missing:
        return StepOutcome(step_id=row.step_id or "", keep_stepping=True)
    return StepOutcome(step_id=row.step_id or "", stop_reason="end_turn")
