"""Memory at scale needs its own waiting (idle exit, quiet periods) and Temporal workflow counting, and its
bulk create/message helpers are public so other scripts can reuse them, so it is a module of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import psutil
from letta_client import AsyncLetta

from bench.common import REQUEST_TIMEOUT_S, agent_kwargs, say
from bench.stack import BenchStack, memory_mb
from engram.runtime.housekeeping import QUIET_S, SWEEP_EVERY_S

if TYPE_CHECKING:
    from bench.run import Sizes

# After idle exit: Temporal's history caches keep an idle workflow 2 minutes (engram/runtime/temporal_server.py)
# and a worker that grew recycles itself 300 s after its last activity, checked every 15 s
# (ENGRAM_WORKER_RECYCLE_IDLE_S; the last activity is at least the idle timeout before idle exit).
QUIET_AFTER_IDLE_S = 330.0
# With no work at all, the Temporal dev server's memory grows ~20 MB in its first 2 minutes and then stays
# flat: the baseline is read after that, so the warm-up is not counted as the agents'.
TEMPORAL_WARMUP_S = 180.0


async def _open_workflows(address: str) -> int | None:
    from temporalio.client import Client

    client = await Client.connect(address, namespace="default")
    result = await client.count_workflows('ExecutionStatus="Running"')
    return result.count


def open_workflows(address: str) -> int | None:
    try:
        return asyncio.run(asyncio.wait_for(_open_workflows(address), timeout=20))
    except Exception as exc:  # a figure we could not read is reported, not fatal
        say(f"  (could not count workflows: {type(exc).__name__}: {exc})")
        return None


async def create_many(url: str, n: int, agent_type: str | None, parallel: int, deadline: float) -> list[str]:
    ids: list[str] = []
    queue = iter(range(n))

    async def one(client: AsyncLetta) -> None:
        for i in queue:
            if time.monotonic() > deadline:
                return
            ids.append((await client.agents.create(**agent_kwargs(f"bench-scale-{i}", agent_type))).id)

    async with AsyncLetta(base_url=url, max_retries=2, timeout=REQUEST_TIMEOUT_S) as client:
        await asyncio.gather(*(one(client) for _ in range(parallel)))
    return ids


async def message_many(
    url: str, ids: list[str], parallel: int, deadline: float, errors: Counter[str]
) -> int:
    queue = iter(ids)
    done = 0

    async def one(client: AsyncLetta) -> None:
        nonlocal done
        for agent_id in queue:
            if time.monotonic() > deadline:
                return
            try:
                await client.agents.messages.create(agent_id=agent_id, input="hello from the scale run")
                done += 1
            except Exception as exc:  # counted
                errors[type(exc).__name__] += 1

    async with AsyncLetta(base_url=url, max_retries=0, timeout=REQUEST_TIMEOUT_S) as client:
        await asyncio.gather(*(one(client) for _ in range(parallel)))
    return done


def _sleep_within(deadline: float, seconds: float) -> None:
    time.sleep(max(0.0, min(deadline - time.monotonic(), seconds)))


def _uptime_s(process: psutil.Process | None) -> float:
    try:
        return time.time() - process.create_time() if process is not None else 0.0
    except psutil.Error:
        return 0.0


def worker_recycles(stack: BenchStack) -> int:
    """How many times the worker exec'd itself afresh (engram/runtime/recycle.py), from its log."""
    if stack.data_dir is None:
        return 0
    try:
        return (stack.data_dir / "logs" / "worker.log").read_text(errors="replace").count("recycling in place")
    except OSError:
        return 0


def _wait_for_idle_exit(stack: BenchStack, limit_s: float, deadline: float) -> int | None:
    """Poll until no workflow is open (every one should exit ENGRAM_IDLE_TIMEOUT_S after its last turn)."""
    wait_until, still = min(deadline, time.monotonic() + limit_s), open_workflows(stack.temporal_address)
    while time.monotonic() < wait_until and still != 0:
        time.sleep(2)
        still = open_workflows(stack.temporal_address)
    return still


def scenario_scale(
    stack: BenchStack, sizes: Sizes, agent_type: str | None, deadline: float
) -> dict[str, Any]:
    """Memory added by idle agents: the baseline is taken after a few agents have each run a turn and gone
    idle (so one-time costs, imports and first connections, are not counted as the agents'), the last
    reading once every workflow exited and the processes had a quiet period to give back what the burst used
    (QUIET_AFTER_IDLE_S: our housekeeping after 60-75 s, Temporal's cache TTL of 2 minutes, then Go's
    garbage collector and scavenger)."""
    roles = stack.roles()
    out: dict[str, Any] = {"agents_target": sizes.scale_agents, "messaged_target": sizes.scale_messaged}
    warm = asyncio.run(create_many(stack.url, 4, agent_type, 2, deadline))
    asyncio.run(message_many(stack.url, warm, 2, deadline, Counter()))
    _wait_for_idle_exit(stack, sizes.idle_timeout_s + 90, deadline)
    _sleep_within(deadline, QUIET_S + SWEEP_EVERY_S + 5)
    _sleep_within(deadline, TEMPORAL_WARMUP_S - _uptime_s(roles["temporal"]))
    out["before"] = {"memory_mb": memory_mb(roles), "open_workflows": open_workflows(stack.temporal_address),
                     "temporal_uptime_s": round(_uptime_s(roles["temporal"])), "worker_recycles": worker_recycles(stack)}
    t0 = time.perf_counter()
    ids = asyncio.run(create_many(stack.url, sizes.scale_agents, agent_type, 8, deadline))
    out["agents_created"], out["create_s"] = len(ids), round(time.perf_counter() - t0, 1)
    out["after_create"] = {"memory_mb": memory_mb(roles)}
    errors: Counter[str] = Counter()
    t0 = time.perf_counter()
    sent = asyncio.run(message_many(stack.url, ids[: sizes.scale_messaged], 8, deadline, errors))
    out["messaged"], out["message_s"], out["message_errors"] = (
        sent,
        round(time.perf_counter() - t0, 1),
        dict(errors),
    )
    out["after_messages"] = {
        "memory_mb": memory_mb(roles),
        "open_workflows": open_workflows(stack.temporal_address),
    }
    t0 = time.perf_counter()
    still = _wait_for_idle_exit(stack, sizes.idle_timeout_s + 90, deadline)
    out["idle_exit_wait_s"] = round(time.perf_counter() - t0, 1)
    out["after_idle"] = {"memory_mb": memory_mb(roles), "open_workflows": still}
    _sleep_within(deadline, QUIET_AFTER_IDLE_S)
    out["after_quiet"] = {"memory_mb": memory_mb(roles), "open_workflows": open_workflows(stack.temporal_address),
                          "worker_recycles": worker_recycles(stack)}
    before = out["before"]["memory_mb"]
    for reading in ("after_idle", "after_quiet"):
        after = out[reading]["memory_mb"]
        out[f"added_mb_{reading}"] = {
            role: {key: round(after[role][key] - before[role][key], 1) for key in ("rss", "pss", "shmem")}
            for role in after
        }  # fmt: skip
    return out
