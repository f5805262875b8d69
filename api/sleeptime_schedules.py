"""The Temporal Schedule `sleeptime:{agent_id}` that wakes an agent's sleep-time agent on a timetable.

Postgres (the agent's sleep-time group) is the source of truth; the schedule mirrors it. The API writes
the row and then creates/updates/pauses/deletes the schedule (a failure rolls the row back with the
request's transaction); the worker's start-up reconciler re-creates any schedule that went missing.
Every schedule starts `SleeptimeWorkflow` with overlap SKIP, so a slow pass is never doubled.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from engram import sleeptime
from engram.config import Settings
from workflows.sleeptime import SleeptimeInput, SleeptimeWorkflow, schedule_id

log = logging.getLogger(__name__)


def build_schedule(settings: Settings, org_id: str, agent_id: str, spec: sleeptime.ScheduleSpec) -> Schedule:
    if spec.cron is not None:
        timing = ScheduleSpec(cron_expressions=[spec.cron], jitter=timedelta(seconds=spec.jitter_s))
    else:
        timing = ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=float(spec.interval_s or 0)))],
            jitter=timedelta(seconds=spec.jitter_s),
        )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SleeptimeWorkflow.run, SleeptimeInput(org_id, agent_id), id=schedule_id(agent_id),
            task_queue=settings.task_queue, static_summary=f"sleep-time pass of agent {agent_id}",
            memo={"agent_id": agent_id, "org_id": org_id},
        ),  # fmt: skip
        spec=timing,
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(seconds=max(spec.catchup_window_s, 10))),
        state=ScheduleState(paused=spec.paused, note=f"sleep-time memory consolidation of agent {agent_id}"),
    )


async def upsert_schedule(client: Client, settings: Settings, org_id: str, agent_id: str, spec: sleeptime.ScheduleSpec) -> None:
    """Create the schedule, or replace its spec/policy/paused state when it exists (idempotent)."""
    schedule = build_schedule(settings, org_id, agent_id, spec)
    try:
        await client.create_schedule(schedule_id(agent_id), schedule, memo={"agent_id": agent_id, "org_id": org_id})
        return
    except ScheduleAlreadyRunningError:
        pass

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id(agent_id)).update(replace)


async def delete_schedule(client: Client, agent_id: str) -> bool:
    """Delete the agent's schedule; False when there was none."""
    try:
        await client.get_schedule_handle(schedule_id(agent_id)).delete()
        return True
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise


async def describe_schedule(client: Client, agent_id: str) -> dict[str, Any] | None:
    """What Temporal reports about the schedule (paused, next fire times, recent runs), or None if absent."""
    try:
        desc = await client.get_schedule_handle(schedule_id(agent_id)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    info = desc.info
    return {
        "schedule_id": desc.id, "paused": desc.schedule.state.paused,
        "next_action_times": [t.isoformat() for t in info.next_action_times[:5]],
        "recent_workflow_ids": [getattr(a.action, "workflow_id", None) for a in info.recent_actions[-5:]],
        "num_actions": info.num_actions, "num_actions_skipped_overlap": info.num_actions_skipped_overlap,
    }  # fmt: skip


async def reconcile_schedules(client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Make Temporal hold a schedule for every group that has one in Postgres; returns how many were created.

    Run at worker start: a schedule lost with a Temporal reset (or never created because the server was
    down) comes back. Existing schedules are left as they are.
    """
    async with sessions() as session:
        groups = await sleeptime.groups_with_schedules(session)
    created = 0
    for group in groups:
        spec = sleeptime.schedule_of(group)
        if spec is None:
            continue
        try:
            await client.get_schedule_handle(schedule_id(group.manager_agent_id)).describe()
            continue
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                log.warning("cannot check schedule of agent %s: %s", group.manager_agent_id, exc)
                continue
        try:
            await upsert_schedule(client, settings, group.organization_id, group.manager_agent_id, spec)
            created += 1
        except Exception as exc:  # noqa: BLE001 - one bad row must not stop the worker
            log.warning("cannot re-create schedule of agent %s: %s", group.manager_agent_id, exc)
    return created
