"""Scenarios under sustained or concurrent load share their async client loops and window accounting, so
they live together and apart from the sequential latency scenarios and the memory-at-scale one.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import psutil
from letta_client import AsyncLetta, Letta

from bench.common import REQUEST_TIMEOUT_S, agent_kwargs, ms
from bench.stack import BenchStack, cpu_seconds, memory_mb


async def _client_loop(
    url: str, agent_id: str, stop_at: float, lat: list[float], ends: list[float], errors: Counter[str]
) -> None:
    """One client: sequential messages to its own agent until `stop_at` (the last one may end after it)."""
    async with AsyncLetta(base_url=url, max_retries=0, timeout=REQUEST_TIMEOUT_S) as client:

        async def send(i: int) -> None:
            await client.agents.messages.create(agent_id=agent_id, input=f"concurrent hello {i}")

        await _timed_sends(send, stop_at, lat, ends, errors)


async def _timed_sends(
    send: Callable[[int], Awaitable[None]], stop_at: float, lat: list[float], ends: list[float], errors: Counter[str]
) -> None:
    """`send(0)`, `send(1)`, ... one after another until `stop_at`, recording each latency and end time;
    a failure is counted by exception type (errors are a figure, never fatal) and the loop goes on."""
    i = 0
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        try:
            await send(i)
            lat.append(time.perf_counter() - t0)
            ends.append(time.monotonic())
        except Exception as exc:  # counted, never fatal: errors are a figure
            errors[type(exc).__name__] += 1
            await asyncio.sleep(0.05)
        i += 1


async def _warm(url: str, agent_ids: list[str]) -> None:
    """One message per agent first, so workflow starts and cold caches are not in the timed window."""
    async with AsyncLetta(base_url=url, max_retries=2, timeout=REQUEST_TIMEOUT_S) as client:
        await asyncio.wait_for(asyncio.gather(*(client.agents.messages.create(agent_id=a, input="warm up")
                                                for a in agent_ids)), timeout=REQUEST_TIMEOUT_S * 2)  # fmt: skip


async def _timed_window(duration_s: float, clients: Callable[[float], list[Awaitable[None]]]) -> float:
    """All clients at once until `duration_s` from now, the stragglers bounded by the request timeout;
    returns the end of the window (monotonic). `clients(stop_at)` builds one loop per client."""
    stop_at = time.monotonic() + duration_s
    await asyncio.wait_for(asyncio.gather(*clients(stop_at)), timeout=duration_s + REQUEST_TIMEOUT_S + 10)
    return stop_at


async def _run_clients(
    url: str, agents: list[str], duration_s: float, lat: list[float], ends: list[float], errors: Counter[str]
) -> float:
    return await _timed_window(duration_s, lambda stop_at: [_client_loop(url, a, stop_at, lat, ends, errors)
                                                            for a in agents])  # fmt: skip


def scenario_throughput(stack: BenchStack, client: Letta, levels: tuple[int, ...], duration_s: float,
                        agent_type: str | None) -> dict[str, Any]:  # fmt: skip
    """Rate = messages completed inside the window / window length; requests still in flight at the end
    are awaited (bounded by the request timeout) and reported as `drained`, not counted in the rate."""
    out: dict[str, Any] = {}
    for level in levels:
        agents = [
            client.agents.create(**agent_kwargs(f"bench-tp{level}-{i}", agent_type)).id for i in range(level)
        ]
        asyncio.run(_warm(stack.url, agents))
        lat: list[float] = []
        ends: list[float] = []
        errors: Counter[str] = Counter()
        roles = stack.roles()
        me = psutil.Process()
        cpu0, t0, me0 = cpu_seconds(roles), time.perf_counter(), sum(me.cpu_times()[:2])
        stop_at = asyncio.run(_run_clients(stack.url, agents, duration_s, lat, ends, errors))
        elapsed = time.perf_counter() - t0
        cpu1, me1 = cpu_seconds(roles), sum(me.cpu_times()[:2])
        in_window = sum(1 for e in ends if e <= stop_at)
        per = {r: round((cpu1[r] - cpu0[r]) / max(1, len(ends)), 4) for r in cpu1}
        per["engram_total"] = round(sum(per.values()), 4)
        per["bench_client"] = round((me1 - me0) / max(1, len(ends)), 4)  # the driver shares the cores
        out[f"c{level}"] = {
            "clients": level, "window_s": duration_s, "messages": in_window, "drained": len(ends) - in_window,
            "msgs_per_s": round(in_window / duration_s, 2), "seconds_with_drain": round(elapsed, 1),
            "msgs_per_s_incl_drain": round(len(ends) / elapsed, 2),
            "errors": sum(errors.values()), "error_types": dict(errors), "p50_ms": ms(lat, 0.5),
            "p95_ms": ms(lat, 0.95), "cpu_s_per_message": per,
        }  # fmt: skip
    return out


async def _conversation_client(
    url: str, conversation_ids: list[str], stop_at: float, lat: list[float], ends: list[float], errors: Counter[str]
) -> None:
    """One client cycling through its own conversations (never shared with another client), reading each
    SSE reply to its end as the SDK user does."""
    async with AsyncLetta(base_url=url, max_retries=0, timeout=REQUEST_TIMEOUT_S) as client:

        async def send(i: int) -> None:
            stream = await client.conversations.messages.create(
                conversation_ids[i % len(conversation_ids)], input=f"conversation hello {i}"
            )
            async for _ in stream:
                pass

        await _timed_sends(send, stop_at, lat, ends, errors)


async def _run_conversation_clients(
    url: str, slices: list[list[str]], duration_s: float, lat: list[float], ends: list[float], errors: Counter[str]
) -> float:
    return await _timed_window(duration_s, lambda stop_at: [_conversation_client(url, s, stop_at, lat, ends, errors)
                                                            for s in slices])  # fmt: skip


def _window_figures(lat: list[float], ends: list[float], errors: Counter[str], stop_at: float,
                    duration_s: float) -> dict[str, Any]:  # fmt: skip
    in_window = sum(1 for e in ends if e <= stop_at)
    return {
        "messages": in_window, "msgs_per_s": round(in_window / duration_s, 2), "errors": sum(errors.values()),
        "error_types": dict(errors), "p50_ms": ms(lat, 0.5), "p95_ms": ms(lat, 0.95),
    }  # fmt: skip


def scenario_conversations(
    stack: BenchStack, client: Letta, conversations: int, duration_s: float, agent_type: str | None
) -> dict[str, Any]:
    """100 private threads of one shared agent vs 32 separate agents, 32 clients each, same window."""
    clients = min(32, conversations)
    agent = client.agents.create(**agent_kwargs("bench-conv-shared", agent_type))
    conv_ids = [client.conversations.create(agent_id=agent.id, summary=f"user {i}").id for i in range(conversations)]
    slices = [conv_ids[i::clients] for i in range(clients)]
    lat: list[float] = []
    ends: list[float] = []
    errors: Counter[str] = Counter()
    # Warm-up: one message per conversation workflow, so workflow starts are not in the timed window.
    asyncio.run(_run_conversation_clients(stack.url, [[c] for c in conv_ids], 0.01, [], [], Counter()))
    stop_at = asyncio.run(_run_conversation_clients(stack.url, slices, duration_s, lat, ends, errors))
    shared = {"conversations": conversations, "clients": clients, **_window_figures(lat, ends, errors, stop_at,
                                                                                     duration_s)}  # fmt: skip
    agents = [client.agents.create(**agent_kwargs(f"bench-conv-sep-{i}", agent_type)).id for i in range(clients)]
    asyncio.run(_warm(stack.url, agents))
    lat, ends, errors = [], [], Counter()
    stop_at = asyncio.run(_run_clients(stack.url, agents, duration_s, lat, ends, errors))
    separate = {"agents": clients, "clients": clients, **_window_figures(lat, ends, errors, stop_at, duration_s)}
    return {"window_s": duration_s, "one_agent_many_conversations": shared, "separate_agents": separate}


def scenario_cpu(
    stack: BenchStack, client: Letta, turns: int, agent_type: str | None, deadline: float
) -> dict[str, Any]:
    agent = client.agents.create(**agent_kwargs("bench-cpu", agent_type))
    client.agents.messages.create(agent_id=agent.id, input="warm up")  # workflow started, caches warm
    roles = stack.roles()
    cpu0, n = cpu_seconds(roles), 0
    for i in range(turns):
        if time.monotonic() > deadline:
            break
        client.agents.messages.create(agent_id=agent.id, input=f"cpu turn {i}")
        n += 1
    cpu1 = cpu_seconds(roles)
    per = {r: round((cpu1[r] - cpu0[r]) / max(1, n), 4) for r in cpu1}
    per["engram_total"] = round(sum(per.values()), 4)
    return {"n": n, "cpu_s_per_message": per, "memory_mb": memory_mb(roles)}
