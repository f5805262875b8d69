"""Scheduled messages on the worker side: deliver a firing, wait for its run, keep Temporal in step.

`fire_scheduled_message` turns one firing into an ordinary run queued on the agent's workflow (a
signal-with-start of `enqueue`, so the turn waits its FIFO turn behind anything running); the run's
metadata names the schedule. A one-time message is used up by its firing: its row and its Temporal
Schedule go. `reconcile_schedules` runs at worker start and makes Temporal match Postgres.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from activities.contracts import (
    AWAIT_RUN,
    FIRE_SCHEDULED_MESSAGE,
    AwaitRunInput,
    FireOutcome,
    FireScheduledInput,
)
from activities.schedule_client import ScheduleClient
from engram.config import Settings
from engram.ids import new_id
from engram.schedules import ONE_TIME
from engram.store import runs
from engram.store import scheduled_messages as schedule_store
from engram.store.models import ScheduledMessage
from workflows.agent import AgentWorkflow, AgentWorkflowInput, TurnRequest, agent_workflow_id
from workflows.scheduled_message import schedule_id

log = logging.getLogger(__name__)
DEFAULT_MAX_STEPS = 50
RUN_POLL_S = (0.1, 0.25, 0.5, 1.0, 2.0)  # back-off while waiting for a scheduled run to finish


def schedule_client(client: Client, task_queue: str, settings: Settings | None) -> ScheduleClient:
    catchup = settings.schedule_catchup_window_s if settings is not None else 3600.0
    return ScheduleClient(client, task_queue, catchup)


class ScheduleActivities:
    """Firing bookkeeping; the worker builds one with its session factory and settings."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=FIRE_SCHEDULED_MESSAGE)
    async def fire_scheduled_message(self, inp: FireScheduledInput) -> FireOutcome:
        """Create the run once (the id comes from the workflow), then queue it; every step is safe to repeat."""
        async with self.sessions.begin() as session:
            run = await runs.find_run(session, inp.org_id, inp.run_id)
            row = await schedule_store.find_scheduled_message(session, inp.org_id, inp.scheduled_message_id)
            if run is None and row is None:  # deleted (or its agent was: rows go with the agent)
                return await self._drop_orphan(inp)
            if run is None:
                assert row is not None
                run = await runs.create_run(
                    session, inp.org_id, inp.agent_id, input_messages=_input_messages(row),
                    request_config=_request_config(row), background=True, callback_url=row.callback_url,
                    run_id=inp.run_id, conversation_id=row.conversation_id,
                )  # fmt: skip
                run.metadata_ = {"schedule": _schedule_link(row)}
                is_used_up = row.kind == ONE_TIME
                await schedule_store.record_firing(session, row, inp.run_id)
            else:
                is_used_up = row is None
            turn = TurnRequest(run_id=inp.run_id, max_steps=int((run.request_config or {}).get("max_steps") or DEFAULT_MAX_STEPS))
            conversation_id = run.conversation_id
        temporal_run_id = await self._enqueue(inp, turn, conversation_id)
        async with self.sessions.begin() as session:
            await runs.set_workflow_ids(session, inp.org_id, inp.run_id, agent_workflow_id(inp.agent_id, conversation_id),
                                        temporal_run_id)  # fmt: skip
        if is_used_up:
            await self._schedules().delete(inp.scheduled_message_id)
        return FireOutcome(is_delivered=True)

    @activity.defn(name=AWAIT_RUN)
    async def await_run(self, inp: AwaitRunInput) -> None:
        """Return once the run is finished (or gone); heartbeats while it waits."""
        for attempt in itertools.count():
            async with self.sessions() as session:
                run = await runs.find_run(session, inp.org_id, inp.run_id)
            if run is None or run.status in runs.TERMINAL_STATUSES:
                return
            activity.heartbeat()
            await asyncio.sleep(RUN_POLL_S[min(attempt, len(RUN_POLL_S) - 1)])

    async def _enqueue(self, inp: FireScheduledInput, turn: TurnRequest, conversation_id: str | None) -> str | None:
        """Signal-with-start: the agent's (or thread's) workflow queues the turn, starting first if it was idle."""
        start = AgentWorkflowInput(
            org_id=inp.org_id, agent_id=inp.agent_id, conversation_id=conversation_id,
            idle_timeout_s=self.settings.idle_timeout_s, max_pending_turns=self.settings.max_pending_turns,
        )  # fmt: skip
        summary = f"agent {inp.agent_id}" + (f" conversation {conversation_id}" if conversation_id else "")
        handle = await activity.client().start_workflow(
            AgentWorkflow.run, start, id=agent_workflow_id(inp.agent_id, conversation_id),
            task_queue=activity.info().task_queue, start_signal="enqueue", start_signal_args=[turn],
            static_summary=summary,
        )  # fmt: skip
        return handle.result_run_id

    async def _drop_orphan(self, inp: FireScheduledInput) -> FireOutcome:
        """The message (or its agent) was deleted after Temporal fired: remove the leftover schedule."""
        await self._schedules().delete(inp.scheduled_message_id)
        return FireOutcome(is_delivered=False)

    def _schedules(self) -> ScheduleClient:
        return schedule_client(activity.client(), activity.info().task_queue, self.settings)


def _input_messages(row: ScheduledMessage) -> list[dict[str, Any]]:
    """Fresh message ids per firing: a recurring message adds a new user message each time."""
    return [{**message, "id": new_id("message")} for message in row.messages]


def _request_config(row: ScheduledMessage) -> dict[str, Any]:
    return {"max_steps": row.max_steps or DEFAULT_MAX_STEPS, "include_return_message_types": row.include_return_message_types}


def _schedule_link(row: ScheduledMessage) -> dict[str, Any]:
    return {
        "scheduled_message_id": row.id, "temporal_schedule_id": schedule_id(row.id), "type": row.kind,
        "source": row.source, "fired_at": datetime.now(UTC).isoformat(),
        "fire_workflow_id": activity.info().workflow_id,
    }  # fmt: skip


async def ensure_schedule(sessions: async_sessionmaker[AsyncSession], settings: Settings | None, org_id: str,
                          scheduled_message_id: str) -> None:  # fmt: skip
    """From inside an activity: give a committed row its Temporal Schedule (used after the wake-up tool)."""
    async with sessions() as session:
        row = await schedule_store.find_scheduled_message(session, org_id, scheduled_message_id)
    if row is not None:
        await schedule_client(activity.client(), activity.info().task_queue, settings).create(row.timing())


@dataclass
class ReconcileReport:
    created: list[str]
    removed: list[str]


async def reconcile_schedules(schedules: ScheduleClient, sessions: async_sessionmaker[AsyncSession]) -> ReconcileReport:
    """Make Temporal match Postgres: re-create missing schedules, delete ones without a row.

    Every row is (idempotently) created, since Temporal's schedule listing may lag; the listing is only
    used to find orphans. It is read before Postgres, and rows are committed before their schedules are
    made, so a message created meanwhile is never mistaken for an orphan. A one-time message whose
    moment passed while its schedule was missing fires at once rather than never.
    """
    try:
        in_temporal = await schedules.existing_ids()
    except Exception:  # noqa: BLE001 - never fatal: without a listing only the orphan sweep is skipped
        log.exception("could not list Temporal schedules; orphans are left for the next start")
        in_temporal = set()
    async with sessions() as session:
        rows = await schedule_store.all_scheduled_messages(session)
    known = {row.id for row in rows}
    now = datetime.now(UTC)
    report = ReconcileReport(created=[], removed=[])
    for row in rows:
        is_overdue = row.kind == ONE_TIME and row.scheduled_at is not None and row.scheduled_at <= now
        try:
            if await schedules.create(row.timing(), fire_now=is_overdue and not row.is_paused):
                report.created.append(row.id)
        except Exception:  # noqa: BLE001 - one bad row must not keep the worker from starting
            log.exception("could not re-create the schedule of %s", row.id)
    for orphan in sorted(in_temporal - known):
        await schedules.delete(orphan)
        report.removed.append(orphan)
    if report.created or report.removed:
        log.info("schedules reconciled: %d re-created, %d orphans removed", len(report.created), len(report.removed))
    return report
