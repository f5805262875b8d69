"""Sequential, single-client scenarios live together because they answer one question, how long one user
waits for one request, and need nothing beyond a synchronous client and the shared helpers.
"""

from __future__ import annotations

import time
from typing import Any

from letta_client import Letta

from bench.common import agent_kwargs, ms


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
