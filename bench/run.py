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
import json
import os
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from letta_client import Letta

from bench.common import REQUEST_TIMEOUT_S, say
from bench.scenarios.latency import scenario_create, scenario_roundtrip, scenario_stream
from bench.scenarios.load import scenario_conversations, scenario_cpu, scenario_throughput
from bench.scenarios.scale import scenario_scale
from bench.stack import BenchStack

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("create", "roundtrip", "stream", "throughput", "cpu", "scale", "conversations")


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
            recycles = r[reading].get("worker_recycles")
            rows.append((label, f"{added['total']['pss']} MB PSS ({added['total']['rss']} RSS): " + ", ".join(
                f"{k} {v['pss']}" + (f" (shared buffers {v['shmem']})" if k == "postgres" else "")
                for k, v in added.items() if k != "total")
                + (f"; worker recycled {recycles}x" if recycles else ""), "target < 50 MB added"))  # fmt: skip
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
