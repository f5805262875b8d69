"""When a worker may restart itself to hand back memory: only idle (no activity, no query) and only grown.

The restart itself (exec in place under `engram up`, the agent carrying on) is in tests/test_stack.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from activities.activity_clock import ActivityClock
from engram.runtime.recycle import RecyclePolicy, rss_mb, wait_until_recycle_due


def test_the_policy_wants_both_an_idle_period_and_growth() -> None:
    policy = RecyclePolicy(grown_mb=48, idle_s=300)
    assert policy.due(start_mb=100, now_mb=160, quiet_s=301)
    assert not policy.due(start_mb=100, now_mb=160, quiet_s=299)  # still busy recently
    assert not policy.due(start_mb=100, now_mb=140, quiet_s=3600)  # grew, but not by enough
    assert not RecyclePolicy(grown_mb=0, idle_s=1).due(start_mb=0, now_mb=10_000, quiet_s=10_000)  # 0 = off


async def test_the_wait_ends_only_once_the_process_is_quiet_and_has_grown() -> None:
    policy = RecyclePolicy(grown_mb=1, idle_s=1)
    quiet = {"s": 0.0}
    grown_start = rss_mb() - 100  # this process is "100 MB above its start"
    waiting = asyncio.create_task(wait_until_recycle_due(lambda: quiet["s"], policy, start_mb=grown_start))
    await asyncio.sleep(1.2)  # four checks while busy
    assert not waiting.done()
    quiet["s"] = 5.0
    reason = await asyncio.wait_for(waiting, 3)
    assert "idle for 5 s" in reason and "ENGRAM_WORKER_RECYCLE_MB=1" in reason

    not_grown = asyncio.create_task(wait_until_recycle_due(lambda: 60.0, policy, start_mb=rss_mb() + 100))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(not_grown, 1.5)


@activity.defn(name="clock_probe_sleep")
async def clock_probe_sleep(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slept"


@workflow.defn(name="ClockProbe", sandboxed=False)
class ClockProbe:
    @workflow.run
    async def run(self, seconds: float) -> str:
        return await workflow.execute_activity(
            clock_probe_sleep, seconds, start_to_close_timeout=timedelta(seconds=30)
        )


async def test_an_activity_that_runs_long_without_a_query_keeps_the_worker_busy(temporal_client: Client) -> None:
    clock = ActivityClock()
    assert clock.ran == 0
    queue = f"clock-{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_client, task_queue=queue, workflows=[ClockProbe], activities=[clock_probe_sleep],
                      interceptors=[clock]):  # fmt: skip
        handle = await temporal_client.start_workflow(ClockProbe.run, 1.5, id=queue, task_queue=queue)
        for _ in range(100):
            if clock.in_flight:
                break
            await asyncio.sleep(0.05)
        assert clock.in_flight == 1 and clock.quiet_for() == 0.0  # mid-activity: never idle
        assert await handle.result() == "slept"
    assert clock.ran == 1 and clock.in_flight == 0
    await asyncio.sleep(0.3)
    assert 0.25 <= clock.quiet_for() < 5
