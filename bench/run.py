"""Engram benchmarks driven by the official letta-client, as a user would (prints figures; not a test).

    .venv/bin/python -m bench.run                          # every scenario, reduced sizes (a few minutes)
    .venv/bin/python -m bench.run --full                   # the sizes of issue #9 (long: ~1 h+ on 2 cores)
    .venv/bin/python -m bench.run --scenario roundtrip --turns 300 --llm-latency 0.05

Starts an isolated stack (bench/stack.py: `engram up` in a temp data dir on free loopback ports, and the
fake OpenAI-compatible LLM in its own process), runs the scenarios, prints one table, writes JSON to
bench/results/<timestamp>.json and stops everything. Scenarios (issue #9):
  create      agent creation latency, sequential
  roundtrip   sequential message round trip on one agent; p50/p95/p99, first-50 vs last-50 p50
  stream      streaming (stream_tokens): time to the first assistant_message chunk
  throughput  8 and 32 concurrent clients (AsyncLetta), each on its own agent, for T seconds; errors
  cpu         CPU seconds per message of each process tree (API, worker, Temporal, Postgres); RSS/PSS
  scale       create M agents, message K of them, RSS per process and open workflows after idle exit
  conversations  one agent with N conversations (default 100) driven by 32 concurrent clients vs 32
              separate agents for the same window (issue #11): messages/s and p50/p95 of each
Every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from letta_client import AsyncLetta, Letta

from bench.stack import BenchStack, cpu_seconds, memory_mb
from engram.runtime.housekeeping import QUIET_S, SWEEP_EVERY_S

QUIET_AFTER_IDLE_S = 300.0  # engram/runtime/temporal_server.py: history caches keep an idle workflow 2 minutes

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("create", "roundtrip", "stream", "throughput", "cpu", "scale", "conversations")
MODEL = "openai/bench"  # through the real OpenAI SDK path, answered by the fake LLM
REQUEST_TIMEOUT_S = 60.0


@dataclass
class Sizes:
    create: int = 50
    turns: int = 150
    streams: int = 20
    concurrency: tuple[int, ...] = (8, 32)
    duration_s: float = 20.0
    cpu_turns: int = 40
    scale_agents: int = 300
    scale_messaged: int = 50
    conversations: int = 100
    idle_timeout_s: float = 10.0


FULL = Sizes(create=200, turns=1000, streams=100, duration_s=30.0, cpu_turns=200, scale_agents=10_000,
             scale_messaged=1000, idle_timeout_s=60.0)  # fmt: skip


def ms(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000, 1)


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


def agent_kwargs(name: str, agent_type: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {"name": name, "model": MODEL, "memory_blocks": [
        {"label": "human", "value": "The human's name is not known yet."},
        {"label": "persona", "value": "I am a concise, friendly assistant."}]}  # fmt: skip
    if agent_type:
        kw["agent_type"] = agent_type
    return kw


# -- scenarios ---------------------------------------------------------------------------------


def scenario_create(client: Letta, n: int, agent_type: str | None, deadline: float) -> dict[str, Any]:
    times = []
    for i in range(n):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        client.agents.create(**agent_kwargs(f"bench-create-{i}", agent_type))
        times.append(time.perf_counter() - t0)
    return {"n": len(times), "p50_ms": ms(times, 0.5), "p95_ms": ms(times, 0.95), "max_ms": ms(times, 1.0)}


def scenario_roundtrip(client: Letta, turns: int, agent_type: str | None, deadline: float) -> dict[str, Any]:
    agent = client.agents.create(**agent_kwargs("bench-roundtrip", agent_type))
    times, replies = [], 0
    for i in range(turns):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        resp = client.agents.messages.create(agent_id=agent.id, input=f"hello, this is turn number {i}")
        times.append(time.perf_counter() - t0)
        replies += any(m.message_type == "assistant_message" for m in resp.messages)
    window = max(1, min(50, len(times) // 4))
    first, last = ms(times[:window], 0.5), ms(times[-window:], 0.5)
    return {
        "n": len(times), "replies": replies, "p50_ms": ms(times, 0.5), "p95_ms": ms(times, 0.95),
        "p99_ms": ms(times, 0.99), "window": window, "first_p50_ms": first, "last_p50_ms": last,
        "growth_pct": round(100 * (last - first) / first, 1) if first and last else None,
    }  # fmt: skip


def scenario_stream(client: Letta, n: int, agent_type: str | None, deadline: float) -> dict[str, Any]:
    agent = client.agents.create(**agent_kwargs("bench-stream", agent_type))
    ttft, total, missing = [], [], 0
    for i in range(n):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        first = None
        stream = client.agents.messages.create(agent_id=agent.id, input=f"stream number {i}", streaming=True,
                                               stream_tokens=True, include_pings=False)  # fmt: skip
        for chunk in stream:
            if first is None and getattr(chunk, "message_type", None) == "assistant_message":
                first = time.perf_counter() - t0
        total.append(time.perf_counter() - t0)
        if first is None:
            missing += 1
        else:
            ttft.append(first)
    return {"n": len(total), "no_assistant_chunk": missing, "ttft_p50_ms": ms(ttft, 0.5),
            "ttft_p95_ms": ms(ttft, 0.95), "total_p50_ms": ms(total, 0.5)}  # fmt: skip


async def _client_loop(
    url: str, agent_id: str, stop_at: float, lat: list[float], ends: list[float], errors: Counter[str]
) -> None:
    """One client: sequential messages to its own agent until `stop_at` (the last one may end after it)."""
    async with AsyncLetta(base_url=url, max_retries=0, timeout=REQUEST_TIMEOUT_S) as client:
        i = 0
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                await client.agents.messages.create(agent_id=agent_id, input=f"concurrent hello {i}")
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


async def _run_clients(
    url: str, agents: list[str], duration_s: float, lat: list[float], ends: list[float], errors: Counter[str]
) -> float:
    """All clients at once for `duration_s`; returns the end of the window (monotonic)."""
    stop_at = time.monotonic() + duration_s
    await asyncio.wait_for(
        asyncio.gather(*(_client_loop(url, a, stop_at, lat, ends, errors) for a in agents)),
        timeout=duration_s + REQUEST_TIMEOUT_S + 10,
    )
    return stop_at


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
        i = 0
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                stream = await client.conversations.messages.create(
                    conversation_ids[i % len(conversation_ids)], input=f"conversation hello {i}"
                )
                async for _ in stream:
                    pass
                lat.append(time.perf_counter() - t0)
                ends.append(time.monotonic())
            except Exception as exc:  # counted, never fatal: errors are a figure
                errors[type(exc).__name__] += 1
                await asyncio.sleep(0.05)
            i += 1


async def _run_conversation_clients(
    url: str, slices: list[list[str]], duration_s: float, lat: list[float], ends: list[float], errors: Counter[str]
) -> float:
    stop_at = time.monotonic() + duration_s
    await asyncio.wait_for(
        asyncio.gather(*(_conversation_client(url, s, stop_at, lat, ends, errors) for s in slices)),
        timeout=duration_s + REQUEST_TIMEOUT_S + 10,
    )
    return stop_at


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


async def _create_many(url: str, n: int, agent_type: str | None, parallel: int, deadline: float) -> list[str]:
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


async def _message_many(
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
    time.sleep(min(max(0.0, deadline - time.monotonic()), seconds))


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
    warm = asyncio.run(_create_many(stack.url, 4, agent_type, 2, deadline))
    asyncio.run(_message_many(stack.url, warm, 2, deadline, Counter()))
    _wait_for_idle_exit(stack, sizes.idle_timeout_s + 90, deadline)
    _sleep_within(deadline, QUIET_S + SWEEP_EVERY_S + 5)
    out["before"] = {"memory_mb": memory_mb(roles), "open_workflows": open_workflows(stack.temporal_address)}
    t0 = time.perf_counter()
    ids = asyncio.run(_create_many(stack.url, sizes.scale_agents, agent_type, 8, deadline))
    out["agents_created"], out["create_s"] = len(ids), round(time.perf_counter() - t0, 1)
    out["after_create"] = {"memory_mb": memory_mb(roles)}
    errors: Counter[str] = Counter()
    t0 = time.perf_counter()
    sent = asyncio.run(_message_many(stack.url, ids[: sizes.scale_messaged], 8, deadline, errors))
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
    out["after_quiet"] = {"memory_mb": memory_mb(roles), "open_workflows": open_workflows(stack.temporal_address)}
    before = out["before"]["memory_mb"]
    for reading in ("after_idle", "after_quiet"):
        after = out[reading]["memory_mb"]
        out[f"added_mb_{reading}"] = {
            role: {"rss": round(after[role]["rss"] - before[role]["rss"], 1),
                   "pss": round(after[role]["pss"] - before[role]["pss"], 1)}
            for role in after
        }  # fmt: skip
    return out


# -- report ------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []
    r = results.get("create")
    if r:
        rows.append(
            ("1 agent creation", f"n={r['n']}: p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms", "p50 71 ms")
        )
    r = results.get("roundtrip")
    if r:
        rows.append(("2 round trip", f"n={r['n']}: p50 {r['p50_ms']}, p95 {r['p95_ms']}, p99 {r['p99_ms']} ms",
                     "p50 262-312, p95 ~520 ms"))  # fmt: skip
        rows.append(("2 growth with history", f"first-{r['window']} p50 {r['first_p50_ms']} -> last-{r['window']} "
                     f"p50 {r['last_p50_ms']} ms ({r['growth_pct']:+}%)", "237 -> 405 ms over 200 turns"))  # fmt: skip
    r = results.get("stream")
    if r:
        rows.append(("3 stream first chunk", f"n={r['n']}: p50 {r['ttft_p50_ms']}, p95 {r['ttft_p95_ms']} ms "
                     f"({r['no_assistant_chunk']} without)", "-"))  # fmt: skip
    for key, r in (results.get("throughput") or {}).items():
        cpu = r["cpu_s_per_message"]["engram_total"]
        rows.append((f"4 throughput {key}", f"{r['msgs_per_s']} msg/s in window ({r['msgs_per_s_incl_drain']} with drain), "
                     f"{r['errors']} errors, p50 {r['p50_ms']} ms, "
                     f"{cpu:.3f} CPU-s/msg", "~6 msg/s (8-32 agents)"))  # fmt: skip
    r = results.get("cpu")
    if r:
        c = r["cpu_s_per_message"]
        rows.append(("5 CPU s / message", f"API {c['api']}, worker {c['worker']}, Temporal {c['temporal']}, "
                     f"Postgres {c['postgres']} = {c['engram_total']}", "0.165-0.300 (server)"))  # fmt: skip
        m = r["memory_mb"]
        rows.append(("5 RSS (PSS) MB", ", ".join(f"{k} {v['rss']} ({v['pss']})" for k, v in m.items()), "-"))
    r = results.get("scale")
    if r:
        a = r["after_idle"]
        rows.append(("6 scale", f"{r['agents_created']} agents ({r['create_s']} s), {r['messaged']} messaged "
                     f"({r['message_s']} s, errors {r['message_errors'] or 0}); open workflows "
                     f"{r['after_messages']['open_workflows']} -> {a['open_workflows']} after idle", "-"))  # fmt: skip
        for reading, label in (("after_idle", "6 added, idle exit"), ("after_quiet", "6 added, quiet")):
            added = r[f"added_mb_{reading}"]
            rows.append((label, f"{added['total']['pss']} MB PSS ({added['total']['rss']} RSS): " + ", ".join(
                f"{k} {v['pss']}" for k, v in added.items() if k != "total"), "target < 50 MB added"))  # fmt: skip
    r = results.get("conversations")
    if r:
        for key, label in (("one_agent_many_conversations", "7 conversations"), ("separate_agents", "7 separate")):
            c = r[key]
            what = f"{c['conversations']} threads / 1 agent" if "conversations" in c else f"{c['agents']} agents"
            rows.append((label, f"{what}, {c['clients']} clients: {c['msgs_per_s']} msg/s, {c['errors']} errors, "
                         f"p50 {c['p50_ms']}, p95 {c['p95_ms']} ms", "-"))  # fmt: skip
    rows += [(k, str(v), "-") for k, v in results.items() if k.endswith("_error")]
    w0 = max(len(x[0]) for x in rows) if rows else 0
    w1 = max(len(x[1]) for x in rows) if rows else 0
    lines = [f"{'scenario':<{w0}}  {'Engram':<{w1}}  Letta 0.16.8 baseline (issue #9)", "-" * (w0 + w1 + 36)]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="all", help="all, or comma-separated: " + ",".join(SCENARIOS))
    parser.add_argument("--full", action="store_true", help="issue #9 sizes (200/1000/30 s/10,000 agents)")
    parser.add_argument("--create", type=int, help="agents created in scenario 1")
    parser.add_argument("--turns", type=int, help="round trips in scenario 2")
    parser.add_argument("--streams", type=int, help="streamed messages in scenario 3")
    parser.add_argument("--concurrency", help="comma-separated client counts for scenario 4 (default 8,32)")
    parser.add_argument("--duration", type=float, help="seconds per concurrency level in scenario 4")
    parser.add_argument("--cpu-turns", type=int, help="messages measured in scenario 5")
    parser.add_argument("--scale-agents", type=int, help="agents created in scenario 6")
    parser.add_argument("--scale-messaged", type=int, help="agents messaged in scenario 6")
    parser.add_argument("--conversations", type=int, help="conversations of the shared agent in scenario 7")
    parser.add_argument("--idle-timeout", type=float, help="ENGRAM_IDLE_TIMEOUT_S of the bench stack")
    parser.add_argument(
        "--agent-type", default=None, help="agent_type for every agent (default: the server's)"
    )
    parser.add_argument(
        "--llm-latency", type=float, default=0.0, help="seconds the fake LLM adds to every reply"
    )
    parser.add_argument(
        "--llm-chunk-latency", type=float, default=0.0, help="seconds between streamed chunks"
    )
    parser.add_argument("--max-minutes", type=float, default=0, help="overall time bound (default: by sizes)")
    parser.add_argument("--note", default="", help="free text stored in the JSON (e.g. machine load)")
    args = parser.parse_args()

    sizes = Sizes(**vars(FULL)) if args.full else Sizes()
    for flag, field in (("create", "create"), ("turns", "turns"), ("streams", "streams"), ("duration", "duration_s"),
                        ("cpu_turns", "cpu_turns"), ("scale_agents", "scale_agents"),
                        ("scale_messaged", "scale_messaged"), ("conversations", "conversations"),
                        ("idle_timeout", "idle_timeout_s")):  # fmt: skip
        if getattr(args, flag) is not None:
            setattr(sizes, field, getattr(args, flag))
    if args.concurrency:
        sizes.concurrency = tuple(int(x) for x in args.concurrency.split(",") if x.strip())
    chosen = SCENARIOS if args.scenario == "all" else tuple(s.strip() for s in args.scenario.split(","))
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)} or all")
    budget_min = args.max_minutes or (120 if args.full else 20)
    deadline = time.monotonic() + budget_min * 60

    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
        "cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
        "scenarios": list(chosen), "sizes": dict(vars(sizes)),
        "llm_latency_s": args.llm_latency, "agent_type": args.agent_type or "server default", "note": args.note,
    }  # fmt: skip
    results: dict[str, Any] = {"meta": meta}
    say(
        f"starting an isolated stack (fake LLM latency {args.llm_latency}s, idle timeout {sizes.idle_timeout_s}s) ..."
    )
    with BenchStack(llm_latency_s=args.llm_latency, llm_chunk_latency_s=args.llm_chunk_latency,
                    idle_timeout_s=sizes.idle_timeout_s) as stack:  # fmt: skip
        say(f"stack up at {stack.url}; temporal {stack.temporal_address}")
        client = Letta(base_url=stack.url, max_retries=0, timeout=REQUEST_TIMEOUT_S)
        at = args.agent_type
        steps = {
            "create": lambda: scenario_create(client, sizes.create, at, deadline),
            "roundtrip": lambda: scenario_roundtrip(client, sizes.turns, at, deadline),
            "stream": lambda: scenario_stream(client, sizes.streams, at, deadline),
            "throughput": lambda: scenario_throughput(stack, client, sizes.concurrency, sizes.duration_s, at),
            "cpu": lambda: scenario_cpu(stack, client, sizes.cpu_turns, at, deadline),
            "scale": lambda: scenario_scale(stack, sizes, at, deadline),
            "conversations": lambda: scenario_conversations(stack, client, sizes.conversations, sizes.duration_s, at),
        }
        for name in chosen:
            if time.monotonic() > deadline:
                say(f"time budget spent; skipping {name}")
                continue
            say(f"-- {name} ...")
            t0 = time.perf_counter()
            try:
                results[name] = steps[name]()
            except Exception as exc:  # one broken scenario must not hide the others' figures
                results[name + "_error"] = f"{type(exc).__name__}: {exc}"
                say(f"   {name} failed: {type(exc).__name__}: {exc}")
            say(f"   {name} done in {time.perf_counter() - t0:.0f} s")
        client.close()
    meta["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2))
    say("")
    say(table({k: v for k, v in results.items() if k != "meta"}))
    say(f"\nJSON: {path}")


if __name__ == "__main__":
    main()
