"""Scheduled messages: `/v1/agents/{agent_id}/schedule` (letta-client `agents.schedule`) on Temporal Schedules.

Each scheduled message is a Postgres row plus one Temporal Schedule `scheduled-message:{id}`. The row
is committed first and the schedule made second; if Temporal refuses, the row is deleted again, so a
failed create leaves nothing behind (a crash in between is healed by the worker's reconciler).
Engram extras: pause / resume / trigger, and `GET /v1/schedules` for a whole organization.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from activities.schedule_client import ScheduleClient
from api.deps import ActorDep, SessionsDep, SettingsDep, TemporalDep, require_id
from api.routes._paths import clamp_limit
from api.schemas.schedules import (
    CreateScheduledMessage,
    ScheduleCreateResponse,
    ScheduleDeleteResponse,
    ScheduledMessageOut,
    ScheduleListResponse,
    iso_time,
)
from engram.config import Settings
from engram.store import scheduled_messages as schedule_store
from engram.store.models import ScheduledMessage

router = APIRouter(tags=["schedule"])
log = logging.getLogger(__name__)
Limit = Annotated[int | None, Query(ge=1, description="Page size (Letta sends it as a string)")]


def schedule_client(temporal: Client, settings: Settings) -> ScheduleClient:
    return ScheduleClient(temporal, settings.task_queue, settings.schedule_catchup_window_s)


@router.post("/agents/{agent_id}/schedule", response_model=ScheduleCreateResponse)
async def create_schedule(
    agent_id: str, body: CreateScheduledMessage, sessions: SessionsDep, settings: SettingsDep,
    temporal: TemporalDep, actor: ActorDep,
) -> ScheduleCreateResponse:  # fmt: skip
    """Schedule a message to the agent, once (`scheduled_at`, unix ms) or on a cron expression."""
    require_id(agent_id, "agent", "agent_id")
    new = body.to_domain()
    async with sessions.begin() as session:
        row = await schedule_store.create_scheduled_message(
            session, actor.org_id, agent_id, new, max_per_agent=settings.max_schedules_per_agent
        )
    schedules = schedule_client(temporal, settings)
    try:
        await schedules.create(row.timing())
    except BaseException:
        async with sessions.begin() as session:
            await schedule_store.delete_scheduled_message(session, actor.org_id, row.id)
        raise
    return ScheduleCreateResponse(id=row.id, next_scheduled_at=iso_time(await _next_time(schedules, row)))


@router.get("/agents/{agent_id}/schedule", response_model=ScheduleListResponse)
async def list_schedules(
    agent_id: str, sessions: SessionsDep, settings: SettingsDep, temporal: TemporalDep, actor: ActorDep,
    after: str | None = None, limit: Limit = None,
) -> ScheduleListResponse:  # fmt: skip
    """The agent's scheduled messages, oldest first; `after` is the last id of the previous page."""
    from engram.store import agents as agent_store

    require_id(agent_id, "agent", "agent_id")
    async with sessions() as session:
        await agent_store.get_agent(session, actor.org_id, agent_id)
    return await _page(sessions, schedule_client(temporal, settings), actor.org_id, agent_id, after, limit)


@router.get("/schedules", response_model=ScheduleListResponse)
async def list_organization_schedules(
    sessions: SessionsDep, settings: SettingsDep, temporal: TemporalDep, actor: ActorDep,
    agent_id: str | None = None, after: str | None = None, limit: Limit = None,
) -> ScheduleListResponse:  # fmt: skip
    """Engram extra: every scheduled message of the caller's organization (optionally one agent's)."""
    return await _page(sessions, schedule_client(temporal, settings), actor.org_id, agent_id, after, limit)


@router.get("/agents/{agent_id}/schedule/{scheduled_message_id}", response_model=ScheduledMessageOut)
async def retrieve_schedule(
    agent_id: str, scheduled_message_id: str, sessions: SessionsDep, settings: SettingsDep, temporal: TemporalDep,
    actor: ActorDep,
) -> ScheduledMessageOut:  # fmt: skip
    row = await _row(sessions, actor.org_id, agent_id, scheduled_message_id)
    return ScheduledMessageOut.from_domain(row, await _next_time(schedule_client(temporal, settings), row))


@router.delete("/agents/{agent_id}/schedule/{scheduled_message_id}", response_model=ScheduleDeleteResponse)
async def delete_schedule(
    agent_id: str, scheduled_message_id: str, sessions: SessionsDep, settings: SettingsDep, temporal: TemporalDep,
    actor: ActorDep,
) -> ScheduleDeleteResponse:  # fmt: skip
    """Row first: a schedule left behind by a failure finds no row when it fires and removes itself."""
    row = await _row(sessions, actor.org_id, agent_id, scheduled_message_id)
    async with sessions.begin() as session:
        await schedule_store.delete_scheduled_message(session, actor.org_id, row.id)
    await schedule_client(temporal, settings).delete(row.id)
    return ScheduleDeleteResponse()


@router.post("/agents/{agent_id}/schedule/{scheduled_message_id}/pause", response_model=ScheduledMessageOut)
async def pause_schedule(
    agent_id: str, scheduled_message_id: str, sessions: SessionsDep, settings: SettingsDep, temporal: TemporalDep,
    actor: ActorDep,
) -> ScheduledMessageOut:  # fmt: skip
    """Engram extra: stop firing until resumed (firings due meanwhile are skipped)."""
    return await _set_paused(sessions, schedule_client(temporal, settings), actor.org_id, agent_id,
                             scheduled_message_id, True)  # fmt: skip


@router.post("/agents/{agent_id}/schedule/{scheduled_message_id}/resume", response_model=ScheduledMessageOut)
async def resume_schedule(
    agent_id: str, scheduled_message_id: str, sessions: SessionsDep, settings: SettingsDep, temporal: TemporalDep,
    actor: ActorDep,
) -> ScheduledMessageOut:  # fmt: skip
    """Engram extra: fire again on the schedule."""
    return await _set_paused(sessions, schedule_client(temporal, settings), actor.org_id, agent_id,
                             scheduled_message_id, False)  # fmt: skip


@router.post("/agents/{agent_id}/schedule/{scheduled_message_id}/trigger", response_model=ScheduledMessageOut)
async def trigger_schedule(
    agent_id: str, scheduled_message_id: str, sessions: SessionsDep, settings: SettingsDep, temporal: TemporalDep,
    actor: ActorDep,
) -> ScheduledMessageOut:  # fmt: skip
    """Engram extra: send the message now, as a firing would (queued behind the agent's current turn).

    A one-time message is used up by this, exactly as if its time had come.
    """
    row = await _row(sessions, actor.org_id, agent_id, scheduled_message_id)
    schedules = schedule_client(temporal, settings)
    await schedules.trigger(row.timing())
    return ScheduledMessageOut.from_domain(row, await _next_time(schedules, row))


async def delete_agent_schedules(session: AsyncSession, temporal: Client, settings: Settings, org_id: str,
                                 agent_id: str) -> None:  # fmt: skip
    """For agent deletion: drop the agent's Temporal Schedules (its rows go with the agent by cascade)."""
    schedules = schedule_client(temporal, settings)
    for sm_id in await schedule_store.scheduled_message_ids(session, org_id, agent_id):
        await schedules.delete(sm_id)


async def _row(sessions: async_sessionmaker[AsyncSession], org_id: str, agent_id: str, sm_id: str) -> ScheduledMessage:
    require_id(agent_id, "agent", "agent_id")
    require_id(sm_id, "schedule", "scheduled_message_id")
    async with sessions() as session:
        return await schedule_store.get_scheduled_message(session, org_id, sm_id, agent_id=agent_id)


async def _set_paused(
    sessions: async_sessionmaker[AsyncSession], schedules: ScheduleClient, org_id: str, agent_id: str, sm_id: str,
    is_paused: bool,
) -> ScheduledMessageOut:  # fmt: skip
    row = await _row(sessions, org_id, agent_id, sm_id)
    row.is_paused = is_paused  # detached from its session: only the repository call below writes it
    await schedules.set_paused(row.timing())
    async with sessions.begin() as session:
        await schedule_store.set_paused(session, org_id, row.id, is_paused)
    return ScheduledMessageOut.from_domain(row, await _next_time(schedules, row))


async def _page(
    sessions: async_sessionmaker[AsyncSession], schedules: ScheduleClient, org_id: str, agent_id: str | None,
    after: str | None, limit: int | None,
) -> ScheduleListResponse:  # fmt: skip
    async with sessions() as session:
        rows, has_next = await schedule_store.list_scheduled_messages(
            session, org_id, agent_id=agent_id, after=after, limit=clamp_limit(limit, 50)
        )
    times = await asyncio.gather(*(_next_time(schedules, row) for row in rows))
    items = [ScheduledMessageOut.from_domain(row, t) for row, t in zip(rows, times, strict=True)]
    return ScheduleListResponse(scheduled_messages=items, has_next_page=has_next)


async def _next_time(schedules: ScheduleClient, row: ScheduledMessage) -> datetime | None:
    """Temporal's next firing; a listing still answers (without it) while Temporal is unreachable."""
    try:
        return await schedules.next_time(row.timing())
    except RPCError as exc:
        log.warning("next firing of %s unknown: %s", row.id, exc)
        return None
