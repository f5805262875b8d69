"""Scheduled messages against the real Temporal Schedules: restarts, wiped schedules, a busy agent."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio.client import Client

from activities.schedule_client import ScheduleClient
from activities.schedules import reconcile_schedules, schedule_client
from engram.config import Settings
from engram.ids import new_id
from engram.schedules import ONE_TIME, RECURRING, NewScheduledMessage, ScheduleTiming
from engram.store import messages, runs
from engram.store import scheduled_messages as schedule_store
from engram.store.models import Run
from tests.fake_llm import FakeReply
from tests.loop.conftest import Loop
from worker import build_worker


async def _schedule(loop: Loop, schedules: ScheduleClient, agent_id: str, text: str, *,
                    at: datetime | None = None) -> str:  # fmt: skip
    """What the API does: commit the row, then make its Temporal Schedule (yearly cron unless `at`)."""
    new = NewScheduledMessage(
        kind=ONE_TIME if at else RECURRING, messages=[{"role": "user", "content": text}], scheduled_at=at,
        cron_expression=None if at else "0 0 1 1 *",
    )  # fmt: skip
    async with loop.sessions.begin() as s:
        row = await schedule_store.create_scheduled_message(s, loop.org_id, agent_id, new, max_per_agent=10)
    await schedules.create(row.timing())
    return row.id


async def _timing(loop: Loop, sm_id: str) -> ScheduleTiming:
    async with loop.sessions() as s:
        return (await schedule_store.get_scheduled_message(s, loop.org_id, sm_id)).timing()


async def _runs_of(loop: Loop, sm_id: str, count: int, timeout_s: float = 30.0) -> list[Run]:
    """The finished runs scheduled message `sm_id` started, once there are `count` of them."""
    for _ in range(int(timeout_s / 0.1)):
        async with loop.sessions() as s:
            found = [r for r in await s.scalars(select(Run).where(Run.organization_id == loop.org_id))
                     if (r.metadata_ or {}).get("schedule", {}).get("scheduled_message_id") == sm_id]  # fmt: skip
        if len(found) >= count and all(r.status in runs.TERMINAL_STATUSES for r in found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(found)} of {count} runs of {sm_id} finished")


async def _texts(loop: Loop, agent_id: str) -> list[tuple[str, str]]:
    async with loop.sessions() as s:
        rows = await messages.list_messages(s, loop.org_id, agent_id, order="asc", limit=1000)
    return [(r.role, r.text) for r in rows if r.role in ("user", "assistant")]


async def test_worker_restart_and_a_wiped_temporal_lose_no_scheduled_message(
    client: Client, loop_settings: Settings, sessions
) -> None:  # fmt: skip
    settings = loop_settings.model_copy(update={"task_queue": f"tq-{uuid.uuid4().hex[:12]}"})
    loop = Loop(client, settings, sessions, new_id("org"))
    schedules = schedule_client(client, settings.task_queue, settings)
    agent_id = await loop.agent("engram/offline")
    async with build_worker(client, settings, sessions):
        recurring = await _schedule(loop, schedules, agent_id, "weekly check-in")
        once = await _schedule(loop, schedules, agent_id, "one-off reminder", at=datetime.now(UTC) + timedelta(seconds=1))
    # The worker is down, and Temporal forgets both schedules (a wiped dev database) while the
    # one-time message's moment passes; meanwhile a schedule whose message is gone is left behind.
    for sm_id in (recurring, once):
        await schedules.delete(sm_id)
    orphan = ScheduleTiming(id=new_id("schedule"), org_id=loop.org_id, agent_id=agent_id, kind=RECURRING,
                            cron_expression="0 0 1 1 *")  # fmt: skip
    await schedules.create(orphan)
    await asyncio.sleep(1.2)

    for _ in range(50):  # the orphan must be visible in Temporal's (eventually consistent) listing first
        if orphan.id in await schedules.existing_ids():
            break
        await asyncio.sleep(0.1)
    report = await reconcile_schedules(schedules, sessions)
    assert set(report.created) >= {recurring, once} and report.removed == [orphan.id]
    async with build_worker(client, settings, sessions):
        (late,) = await _runs_of(loop, once, 1)  # overdue: delivered as soon as it was re-created
        await schedules.trigger(await _timing(loop, recurring))
        (weekly,) = await _runs_of(loop, recurring, 1)
    assert late.status == weekly.status == "completed"
    async with sessions() as s:
        assert await schedule_store.find_scheduled_message(s, loop.org_id, once) is None
        assert await schedule_store.find_scheduled_message(s, loop.org_id, recurring) is not None
    assert [t for role, t in await _texts(loop, agent_id) if role == "user"] == ["one-off reminder", "weekly check-in"]


async def test_a_firing_while_the_agent_is_busy_runs_after_the_current_turn(loop: Loop, fake_llm) -> None:
    model = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(model, [FakeReply.text("slow answer", delay_s=2), FakeReply.text("scheduled answer")])
    agent_id = await loop.agent(f"openai/{model}")
    schedules = schedule_client(loop.client, loop.settings.task_queue, loop.settings)
    sm_id = await _schedule(loop, schedules, agent_id, "scheduled ping")
    busy_run, _ = await loop.send(agent_id, "think slowly", wait=False)
    for _ in range(200):
        if fake_llm.requests(model):
            break
        await asyncio.sleep(0.05)
    await schedules.trigger(await _timing(loop, sm_id))  # fires while the first turn is still waiting for its LLM reply
    (scheduled,) = await _runs_of(loop, sm_id, 1)
    assert (await loop.wait_run(busy_run)).status == scheduled.status == "completed"
    assert await _texts(loop, agent_id) == [
        ("user", "think slowly"), ("assistant", "slow answer"), ("user", "scheduled ping"), ("assistant", "scheduled answer"),
    ]  # fmt: skip
