"""`/v1/agents/{agent_id}/sleeptime`: the agent's sleep-time agent, turn frequency and Temporal Schedule.

Beyond Letta (whose 1.12.1 client has no groups resource): `enable_sleeptime` on agent create/update
is the Letta way in; this resource adds what Letta lacks, a schedule (interval or cron, jitter,
catch-up window, overlap skip) that can be paused and deleted. GET shows Temporal's view of it too.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api import sleeptime_schedules
from api.deps import ActorDep, AgentDep, SessionDep, SettingsDep, TemporalDep
from api.schemas.common import INT32_MAX, LettaRequest
from api.workflow_client import disable_agent
from engram import sleeptime
from engram.config import Settings
from engram.errors import InvalidInput, NotFound
from engram.store.models import Agent, SleeptimeGroup

router = APIRouter(prefix="/agents/{agent_id}", tags=["sleeptime"])


YEAR_S = 365 * 24 * 3600.0


class ScheduleIn(LettaRequest):
    interval_seconds: float | None = Field(default=None, ge=1, le=10 * YEAR_S)
    cron: str | None = Field(default=None, min_length=1, max_length=200)
    jitter_seconds: float | None = Field(default=None, ge=0, le=YEAR_S)
    catchup_window_seconds: float | None = Field(default=None, ge=0, le=YEAR_S)
    paused: bool | None = None


class SleeptimeIn(LettaRequest):
    enabled: bool | None = None
    sleeptime_agent_frequency: int | None = Field(default=None, ge=1, le=INT32_MAX)
    schedule: ScheduleIn | None = None


class ScheduleOut(BaseModel):
    schedule_id: str
    interval_seconds: float | None = None
    cron: str | None = None
    jitter_seconds: float = 0.0
    catchup_window_seconds: float = 300.0
    paused: bool = False
    temporal: dict[str, Any] | None = None  # what the Temporal server reports (None: missing there)


class SleeptimeOut(BaseModel):
    agent_id: str
    enabled: bool
    group_id: str | None = None
    sleeptime_agent_id: str | None = None
    sleeptime_agent_frequency: int | None = None
    turns_counter: int = 0
    last_processed_message_id: str | None = None
    schedule: ScheduleOut | None = None


async def render(client: Client | None, agent: Agent, group: SleeptimeGroup | None) -> SleeptimeOut:
    if group is None:
        return SleeptimeOut(agent_id=agent.id, enabled=False)
    spec = sleeptime.schedule_of(group)
    schedule = None
    if spec is not None:
        temporal = await sleeptime_schedules.describe_schedule(client, agent.id) if client is not None else None
        schedule = ScheduleOut(
            schedule_id=f"sleeptime:{agent.id}", interval_seconds=spec.interval_s, cron=spec.cron,
            jitter_seconds=spec.jitter_s, catchup_window_seconds=spec.catchup_window_s, paused=spec.paused,
            temporal=temporal,
        )  # fmt: skip
    return SleeptimeOut(
        agent_id=agent.id, enabled=agent.enable_sleeptime, group_id=group.id, sleeptime_agent_id=group.sleeptime_agent_id,
        sleeptime_agent_frequency=group.frequency, turns_counter=group.turns_counter,
        last_processed_message_id=group.last_processed_message_id, schedule=schedule,
    )  # fmt: skip


async def sync_schedule(client: Client, settings: Settings, agent: Agent, group: SleeptimeGroup) -> None:
    """Make Temporal match the group row: a schedule when one is configured (paused while sleep-time is off)."""
    spec = sleeptime.schedule_of(group)
    if spec is None:
        await sleeptime_schedules.delete_schedule(client, agent.id)
        return
    if not agent.enable_sleeptime:
        spec.paused = True
    try:
        await sleeptime_schedules.upsert_schedule(client, settings, agent.organization_id, agent.id, spec)
    except RPCError as exc:  # e.g. a cron expression Temporal cannot parse; the request's transaction rolls back
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise InvalidInput(f"Temporal rejected the schedule: {exc.message}") from exc
        raise


async def enable(session: AsyncSession, client: Client, settings: Settings, agent: Agent) -> SleeptimeGroup:
    """`enable_sleeptime: true` (create, update or this resource): the sleep-time agent, once."""
    group = await sleeptime.create_sleeptime_agent(session, agent.organization_id, agent)
    agent.enable_sleeptime = True
    await session.flush()
    if sleeptime.schedule_of(group) is not None:
        await sync_schedule(client, settings, agent, group)
    return group


async def disable(session: AsyncSession, client: Client, agent: Agent) -> None:
    """`enable_sleeptime: false`: triggers stop and the schedule pauses; the sleep-time agent is kept."""
    agent.enable_sleeptime = False
    await session.flush()
    group = await sleeptime.find_group(session, agent.organization_id, agent.id)
    if group is not None and sleeptime.schedule_of(group) is not None:
        try:
            await client.get_schedule_handle(f"sleeptime:{agent.id}").pause(note="enable_sleeptime set to false")
        except Exception:  # noqa: BLE001 - a missing schedule is already "not firing"
            pass


async def remove(session: AsyncSession, client: Client, org_id: str, agent_id: str) -> None:
    """Delete the schedule, the sleep-time agent and the group (the primary agent is being deleted)."""
    group = await sleeptime.delete_sleeptime(session, org_id, agent_id)
    await sleeptime_schedules.delete_schedule(client, agent_id)
    if group is not None:
        await disable_agent(client, agent_id=group.sleeptime_agent_id)


@router.get("/sleeptime", response_model=SleeptimeOut)
async def get_sleeptime(agent: AgentDep, session: SessionDep, actor: ActorDep, temporal: TemporalDep) -> SleeptimeOut:
    return await render(temporal, agent, await sleeptime.find_group(session, actor.org_id, agent.id))


@router.put("/sleeptime", response_model=SleeptimeOut)
@router.patch("/sleeptime", response_model=SleeptimeOut)
async def update_sleeptime(
    agent: AgentDep, body: SleeptimeIn, session: SessionDep, actor: ActorDep, temporal: TemporalDep,
    settings: SettingsDep,
) -> SleeptimeOut:  # fmt: skip
    """Enable/disable, set the turn frequency, and create/update/pause the schedule (fields sent only)."""
    sent = body.model_dump(exclude_unset=True)
    if sent.get("enabled") is False:
        await disable(session, temporal, agent)
        return await render(temporal, agent, await sleeptime.find_group(session, actor.org_id, agent.id))
    group = await sleeptime.find_group(session, actor.org_id, agent.id)
    if group is None or sent.get("enabled") is True or not agent.enable_sleeptime:
        group = await sleeptime.create_sleeptime_agent(session, actor.org_id, agent)
        agent.enable_sleeptime = True
    if "sleeptime_agent_frequency" in sent:
        group.frequency = body.sleeptime_agent_frequency
    if "schedule" in sent:
        group_spec = sleeptime.schedule_of(group)
        if body.schedule is None:
            sleeptime.set_schedule(group, None)
        else:
            changes = body.schedule.model_dump(exclude_unset=True)
            spec = group_spec or sleeptime.ScheduleSpec()
            if "interval_seconds" in changes or "cron" in changes:  # the timing is replaced as a whole
                spec.interval_s, spec.cron = changes.get("interval_seconds"), changes.get("cron")
            if changes.get("jitter_seconds") is not None:
                spec.jitter_s = changes["jitter_seconds"]
            if changes.get("catchup_window_seconds") is not None:
                spec.catchup_window_s = changes["catchup_window_seconds"]
            if changes.get("paused") is not None:
                spec.paused = changes["paused"]
            sleeptime.set_schedule(group, spec)
    await session.flush()
    await sync_schedule(temporal, settings, agent, group)
    return await render(temporal, agent, group)


@router.delete("/sleeptime/schedule", response_model=SleeptimeOut)
async def delete_sleeptime_schedule(
    agent: AgentDep, session: SessionDep, actor: ActorDep, temporal: TemporalDep
) -> SleeptimeOut:
    """Delete the schedule only; the turn-count trigger keeps working."""
    group = await sleeptime.find_group(session, actor.org_id, agent.id)
    if group is None or sleeptime.schedule_of(group) is None:
        raise NotFound("sleep-time schedule of agent", agent.id)
    sleeptime.set_schedule(group, None)
    await session.flush()
    await sleeptime_schedules.delete_schedule(temporal, agent.id)
    return await render(temporal, agent, group)


@router.delete("/sleeptime", response_model=SleeptimeOut)
async def delete_sleeptime(agent: AgentDep, session: SessionDep, actor: ActorDep, temporal: TemporalDep) -> SleeptimeOut:
    """Turn sleep-time off for good: the schedule, the sleep-time agent and the group are deleted."""
    agent.enable_sleeptime = False
    await remove(session, temporal, actor.org_id, agent.id)
    await session.flush()
    return SleeptimeOut(agent_id=agent.id, enabled=False)
