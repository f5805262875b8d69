"""Engram benchmarks driven by the official letta-client, as a user would (prints figures; not a test).

Starts an isolated stack (`engram up` in a temp data dir on free ports) and a zero-latency fake
OpenAI-compatible LLM, then measures: agent creation latency, sequential message round trip (and its
growth with history), streaming time to first assistant chunk, and CPU seconds per message of each
process. Run:  .venv/bin/python -m bench.run [--agents 50] [--turns 100] [--streams 20] [--llm-latency 0]
Every loop is bounded; only loopback addresses are used; everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from letta_client import Letta

from engram.runtime import free_port
from tests.fake_llm import FakeLlmServer

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def start_stack(data_dir: Path, llm_url: str) -> tuple[subprocess.Popen, str]:
    api_port = free_port()
    env = {**os.environ, "ENGRAM_DATA_DIR": str(data_dir), "ENGRAM_API_PORT": str(api_port),
           "ENGRAM_TEMPORAL_PORT": str(free_port()), "ENGRAM_TEMPORAL_UI_PORT": str(free_port()),
           "OPENAI_BASE_URL": llm_url, "OPENAI_API_KEY": "bench"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "engram.cli", "up"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"engram up exited:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{url}/v1/health/", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the stack did not come up within 120 s")


def processes(stack: subprocess.Popen) -> dict[str, list[psutil.Process]]:
    """The stack's processes by role (the embedded postmaster runs detached, found by its data dir)."""
    roles: dict[str, list[psutil.Process]] = {"api": [], "worker": [], "temporal": [], "postgres": []}
    for child in psutil.Process(stack.pid).children(recursive=True):
        cmd = " ".join(child.cmdline())
        role = "api" if "uvicorn" in cmd else "worker" if "worker" in cmd else "temporal" if "temporal" in cmd else None
        if role:
            roles[role].append(child)
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "postgres":
            roles["postgres"].append(proc)
    return roles


def cpu_seconds(roles: dict[str, list[psutil.Process]]) -> dict[str, float]:
    out = {}
    for role, procs in roles.items():
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        out[role] = total
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--llm-latency", type=float, default=0.0, help="seconds added to every fake LLM reply")
    args = parser.parse_args()

    results: dict[str, object] = {}
    with FakeLlmServer(latency_s=args.llm_latency) as llm, tempfile.TemporaryDirectory(prefix="engram-bench-") as tmp:
        stack, url = start_stack(Path(tmp), llm.url)
        try:
            client = Letta(base_url=url, max_retries=0, timeout=120)
            roles = processes(stack)

            created = []
            for i in range(args.agents):
                t0 = time.perf_counter()
                client.agents.create(name=f"bench-{i}", model="openai/bench", include_base_tools=False)
                created.append(time.perf_counter() - t0)
            results["agent_create_ms"] = {"n": len(created), "p50": pct(created, 0.5), "p95": pct(created, 0.95)}

            agent = client.agents.create(name="bench-chat", model="openai/bench", agent_type="memgpt_v2_agent")
            cpu_before = cpu_seconds(roles)
            trips = []
            for i in range(args.turns):
                t0 = time.perf_counter()
                client.agents.messages.create(agent_id=agent.id, input=f"hello number {i}")
                trips.append(time.perf_counter() - t0)
            cpu_after = cpu_seconds(roles)
            window = max(1, min(10, len(trips) // 4))
            results["round_trip_ms"] = {
                "n": len(trips), "p50": pct(trips, 0.5), "p95": pct(trips, 0.95), "p99": pct(trips, 0.99),
                f"first_{window}_p50": pct(trips[:window], 0.5), f"last_{window}_p50": pct(trips[-window:], 0.5),
            }  # fmt: skip
            results["cpu_s_per_message"] = {
                role: round((cpu_after[role] - cpu_before[role]) / max(1, len(trips)), 4) for role in cpu_after
            }

            ttft = []
            for i in range(args.streams):
                t0 = time.perf_counter()
                stream = client.agents.messages.create(agent_id=agent.id, input=f"stream {i}", streaming=True,
                                                       stream_tokens=True, include_pings=False)  # fmt: skip
                first = None
                for chunk in stream:
                    if first is None and getattr(chunk, "message_type", None) == "assistant_message":
                        first = time.perf_counter() - t0
                ttft.append(first if first is not None else float("nan"))
            got = [t for t in ttft if t == t]
            results["stream_ttft_ms"] = {"n": len(got), "p50": pct(got, 0.5) if got else None,
                                         "p95": pct(got, 0.95) if got else None}  # fmt: skip
            results["rss_mb"] = {
                role: round(sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20, 1)
                for role, procs in roles.items()
            }
        finally:
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.kill()
    print(json.dumps(results, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
