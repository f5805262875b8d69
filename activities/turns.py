"""Turn boundaries: store a run's input messages and mark it running; finish it with its stop reason.

Both are short DB writes, run as local activities. Finishing is idempotent (a run already terminal is
left alone) and always writes the stream's closing events: [error], stop_reason, usage, done.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.contracts import (
    BEGIN_TURN,
    DELIVER_CALLBACK,
    FINISH_TURN,
    BeginTurnInput,
    CallbackInput,
    FinishTurnInput,
    TurnStart,
)
from activities.errors import to_application_error
from engram.store import agents as agent_store
from engram.store import messages as message_store
from engram.store import run_events, runs
from engram.store.models.base import utcnow
from engram.tools import approvals

CALLBACK_TIMEOUT_S = 10.0


def input_rows(org_id: str, agent_id: str, run: Any) -> list[dict[str, Any]]:
    """Message rows for the run's Letta MessageCreate dicts (ids were minted by the API)."""
    rows = []
    for msg in run.input_messages:
        content = msg.get("content")
        row = {
            "id": msg["id"], "organization_id": org_id, "agent_id": agent_id,
            "conversation_id": run.conversation_id, "role": msg.get("role", "user"),
            "content": message_store.content_parts(content), "text": message_store.text_of(content),
            "name": msg.get("name"), "otid": msg.get("otid"), "sender_id": msg.get("sender_id"),
            "run_id": run.id, "created_at": utcnow(),
        }  # fmt: skip
        if msg.get("type") in approvals.APPROVAL_TYPES:  # decisions: shown to the client, never to the model
            row.update(approvals.approval_row_fields(msg))
        rows.append(row)
    return rows


def usage_event(run_id: str, inp: FinishTurnInput) -> dict[str, Any]:
    return {
        "message_type": "usage_statistics", "completion_tokens": inp.usage.completion_tokens,
        "prompt_tokens": inp.usage.prompt_tokens, "total_tokens": inp.usage.total_tokens,
        "step_count": inp.step_count, "run_ids": [run_id],
    }  # fmt: skip


class TurnActivities:
    """Run bookkeeping; the worker builds one with the process's session factory."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=BEGIN_TURN)
    async def begin_turn(self, inp: BeginTurnInput) -> TurnStart:
        try:
            async with self.sessions.begin() as session:
                return await begin_in_session(session, inp.org_id, inp.agent_id, inp.run_id)
        except Exception as exc:
            raise to_application_error(exc)  # noqa: B904 - the cause is chained inside

    @activity.defn(name=FINISH_TURN)
    async def finish_turn(self, inp: FinishTurnInput) -> None:
        async with self.sessions.begin() as session:
            events = await finish_in_session(session, inp)
            if events is not None:
                await run_events.append_events(session, inp.org_id, inp.run_id, events)

    @activity.defn(name=DELIVER_CALLBACK)
    async def deliver_callback(self, inp: CallbackInput) -> None:
        """POST the finished run to its callback_url once; failures are recorded, never retried forever."""
        async with self.sessions() as session:
            run = await runs.get_run(session, inp.org_id, inp.run_id)
        if not run.callback_url or run.callback_sent_at is not None:
            return
        body = {
            "id": run.id, "agent_id": run.agent_id, "status": run.status, "stop_reason": run.stop_reason,
            "usage": run.usage, "completed_at": run.completed_at.isoformat() if run.completed_at else None,
            "created_at": run.created_at.isoformat(), "metadata": run.metadata_,
        }  # fmt: skip
        status_code: int | None = None
        error: str | None = None
        try:
            async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S) as http:
                response = await http.post(run.callback_url, content=json.dumps(body, default=str),
                                           headers={"content-type": "application/json"})  # fmt: skip
                status_code = response.status_code
                if response.status_code >= 400:
                    error = f"callback returned HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        async with self.sessions.begin() as session:
            await runs.record_callback(session, inp.org_id, inp.run_id, status_code=status_code, error=error)


async def begin_in_session(session: AsyncSession, org_id: str, agent_id: str, run_id: str) -> TurnStart:
    """Store the run's input messages and mark it running (with the workflow that runs it, for the UI link).

    Shared by the `begin_turn` local activity and the first `llm_step` of a turn, which does it in its own
    first transaction (one round trip less per turn). Idempotent: inputs are upserts, marking is a no-op twice.
    """
    run = await runs.get_run(session, org_id, run_id)
    agent = await agent_store.get_agent(session, org_id, agent_id)
    model = (run.request_config or {}).get("override_model") or agent.model
    start = TurnStart(agent.agent_type, model, has_callback=bool(run.callback_url),
                      has_sleeptime=bool(agent.enable_sleeptime))  # fmt: skip
    if run.status in runs.TERMINAL_STATUSES:
        start.is_already_finished = True
        return start
    await message_store.insert_messages(session, input_rows(org_id, agent_id, run))
    info = activity.info()
    await runs.mark_running(session, org_id, run_id, workflow_id=info.workflow_id, temporal_run_id=info.workflow_run_id)
    return start


async def finish_in_session(session: AsyncSession, inp: FinishTurnInput) -> list[tuple[str, str, dict]] | None:
    """Close the run (status, stop reason, usage; the agent's last-run fields) and return the stream's
    closing events for the caller to append: [error], stop_reason, usage, done. None: the run is gone.

    Shared by the `finish_turn` local activity and the last `llm_step` of a turn, which appends them with
    the step's own events in one write. A run already terminal keeps its status; its events are re-offered
    (their keys make that a no-op).
    """
    usage = dataclasses.asdict(inp.usage)
    error = {"error_type": inp.error_type, "message": inp.error_message} if inp.error_type else None
    run = await runs.mark_terminal(
        session, inp.org_id, inp.run_id, status=inp.status, stop_reason=inp.stop_reason, usage=usage, error=error
    )
    if run is not None:
        await agent_store.record_last_run(session, inp.org_id, inp.agent_id, inp.stop_reason, run.completed_at,
                                          int((run.total_duration_ns or 0) / 1e6))  # fmt: skip
    elif await runs.find_run(session, inp.org_id, inp.run_id) is None:
        return None  # the run (and its agent) were deleted mid-turn: nothing left to close
    events: list[tuple[str, str, dict]] = []
    if inp.status == "failed":
        events.append(("error", "error", {
            "message_type": "error_message", "run_id": inp.run_id, "error_type": inp.error_type or "internal_error",
            "message": inp.error_message or inp.stop_reason, "detail": inp.error_message,
        }))  # fmt: skip
    return events + [
        ("stop_reason", "stop_reason", {"message_type": "stop_reason", "stop_reason": inp.stop_reason}),
        ("usage", "usage", usage_event(inp.run_id, inp)),
        ("done", "done", {}),
    ]
