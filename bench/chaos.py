"""Durability under faults, end to end: concurrent conversations over HTTP while every process fails.

A stack owned by this script (a temp dir: embedded PostgreSQL, the Temporal dev server on a SQLite
file, one worker, one uvicorn API; agents use the built-in offline model, so no LLM server) takes N agents
x M turns, half of the agents streaming. Meanwhile a fault loop, paced by completed turns (never by the
clock), cycles through: SIGKILL the worker and start a new one; SIGKILL the API and start a new one; stop
PostgreSQL (fast shutdown), wait, start it again; stop the Temporal dev server and start it again on the
same SQLite file. Clients behave like letta-client with retries: a send is retried with the same message
`otid` (api/idempotency.py attaches it to the run of the first attempt) on a connection error or a 5xx,
and a stream that breaks before `[DONE]` is resumed with `POST /v1/runs/{id}/stream` from its last seq_id.

Afterwards it counts, from the database: user messages, runs, completed runs, runs with != 1 final reply,
duplicate user messages, duplicate memory edits (block lines and memory_ops), duplicate passages,
non-terminal runs, run event logs not ending with exactly one `done`, and streams whose last connection
did not end with `[DONE]`.

    python -m bench.chaos                       # 20 agents x 500 turns (long)
    python -m bench.chaos --agents 5 --turns 20 # CI size (tests/chaos/test_stack_faults.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ("worker", "api", "postgres", "temporal")
RETRY_PAUSE_S = 0.3


@dataclass
class Counts:
    agents: int = 0
    turns: int = 0
    user_messages: int = 0
    runs: int = 0
    completed: int = 0
    not_one_reply: int = 0
    duplicate_user_messages: int = 0
    duplicate_memory_edits: int = 0
    duplicate_passages: int = 0
    missing_memory_edits: int = 0
    missing_passages: int = 0
    non_terminal: int = 0
    event_logs_not_done_once: int = 0  # runs whose event log does not end with exactly one `done`
    streams: int = 0
    streams_without_done: int = 0
    stream_resumes: int = 0
    client_retries: int = 0
    retried_statuses: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    recovery_s: dict[str, list[float]] = field(default_factory=dict)  # fault start -> next turn completed

    @property
    def lost(self) -> int:
        return self.turns - self.completed

    def problems(self) -> dict[str, int]:
        """Every count that must be zero."""
        return {k: v for k, v in {
            "lost": self.lost, "runs != turns": abs(self.runs - self.turns), "not_one_reply": self.not_one_reply,
            "duplicate_user_messages": self.duplicate_user_messages, "user_messages != turns": abs(self.user_messages - self.turns),
            "duplicate_memory_edits": self.duplicate_memory_edits, "duplicate_passages": self.duplicate_passages,
            "missing_memory_edits": self.missing_memory_edits, "missing_passages": self.missing_passages,
            "non_terminal": self.non_terminal, "event_logs_not_done_once": self.event_logs_not_done_once,
            "streams_without_done": self.streams_without_done,
        }.items() if v}  # fmt: skip


def utterance(agent_index: int, turn: int) -> str:
    """Plain talk, a fact (the offline model saves it with memory_insert) or an archival insert."""
    if turn % 5 == 1:
        return f"I like topic{agent_index}x{turn}"
    if turn % 5 == 3:
        return f'call archival_memory_insert {{"content": "note {agent_index}x{turn}"}}'
    return f"hello number {turn}"


# ---- the stack ------------------------------------------------------------------------------------------


class ChaosStack:
    """Postgres, Temporal (SQLite file), a worker and an API, each restartable; all under one temp dir."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="engram-chaos-"))  # directly under /tmp (see tests/conftest.py)
        self.pg: Any = None
        self.temporal: Any = None
        self.worker: subprocess.Popen | None = None
        self.api: subprocess.Popen | None = None
        self.database_url = ""
        self.temporal_port = 0
        self.api_port = 0
        self.task_queue = f"chaos-{uuid.uuid4().hex[:8]}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        from engram.runtime import free_port
        from engram.store.migrate import upgrade

        self.start_postgres()
        self.pg.execute('CREATE DATABASE "engram"')
        self.database_url = self.pg.url_for("engram")
        upgrade(self.database_url)
        self.temporal_port, self.api_port = free_port(), free_port()
        self.start_temporal()
        self.start_worker()
        self.start_api()

    def start_postgres(self) -> None:
        from engram.runtime import start_embedded_postgres

        self.pg = start_embedded_postgres(self.tmp / "pgdata")

    def stop_postgres(self) -> None:
        self.pg.stop()

    def start_temporal(self) -> None:
        from engram.runtime.temporal_server import start_temporal_dev_server

        self.temporal = start_temporal_dev_server(
            db_file=self.tmp / "temporal.db", port=self.temporal_port, ui_port=None,
            log_path=self.tmp / "temporal.log", ready_timeout=120,
        )  # fmt: skip

    def stop_temporal(self) -> None:
        self.temporal.stop()

    def _env(self) -> dict[str, str]:
        env = {
            **os.environ, "ENGRAM_DATABASE_URL": self.database_url, "ENGRAM_DATA_DIR": str(self.tmp / "data"),
            "ENGRAM_TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}", "ENGRAM_TASK_QUEUE": self.task_queue,
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
        }  # fmt: skip
        for key in ("ENGRAM_API_KEY", "ENGRAM_ADMIN_KEY"):
            env.pop(key, None)
        return env

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "a")  # noqa: SIM115 - the child owns it
        return subprocess.Popen(argv, env=self._env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", [sys.executable, "-m", "worker"])

    def start_api(self) -> None:
        self.api = self._spawn("api", [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                                       "--host", "127.0.0.1", "--port", str(self.api_port), "--log-level", "warning"])  # fmt: skip

    @staticmethod
    def _kill(proc: subprocess.Popen | None) -> None:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def kill_worker(self) -> None:
        self._kill(self.worker)

    def kill_api(self) -> None:
        self._kill(self.api)

    def wait_for_api(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/health/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.api is not None and self.api.poll() is not None:
                raise RuntimeError(f"the API exited: {(self.tmp / 'api.log').read_text()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError("the API did not come up")

    def stop(self) -> None:
        self.kill_api()
        self.kill_worker()
        for part in (self.temporal, self.pg):
            try:
                if part is not None:
                    part.stop()
            except Exception:  # noqa: BLE001, S110 - best effort on the way out
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- clients --------------------------------------------------------------------------------------------


@dataclass
class ClientStats:
    retries: int = 0
    statuses: Counter = field(default_factory=Counter)
    streams: int = 0
    streams_done: int = 0
    resumes: int = 0


async def _post_until_answered(http: httpx.AsyncClient, path: str, body: dict, stats: ClientStats) -> httpx.Response:
    while True:
        try:
            response = await http.post(path, json=body, headers={"x-stainless-retry-count": str(min(stats.retries, 1))})
        except httpx.HTTPError as exc:
            stats.statuses[type(exc).__name__] += 1
        else:
            if response.status_code < 500:
                response.raise_for_status()
                return response
            stats.statuses[str(response.status_code)] += 1
        stats.retries += 1
        await asyncio.sleep(RETRY_PAUSE_S)


async def _read_sse(response: httpx.Response, seen: dict[int, dict], state: dict) -> bool:
    """Consume one SSE connection; True when it ended with [DONE]."""
    async for line in response.aiter_lines():
        if not line.startswith("data: "):
            continue
        data = line[len("data: "):]
        if data == "[DONE]":
            return True
        chunk = json.loads(data)
        state["run_id"] = state.get("run_id") or chunk.get("run_id")
        if chunk.get("seq_id"):
            seen[int(chunk["seq_id"])] = chunk
            state["last_seq"] = max(state.get("last_seq", 0), int(chunk["seq_id"]))
    return False


async def _stream_turn(http: httpx.AsyncClient, agent_id: str, body: dict, stats: ClientStats) -> None:
    """Send with streaming=true; on a broken stream resume from the last seq (or re-send: same otid, same run)."""
    stats.streams += 1
    seen: dict[int, dict] = {}
    state: dict[str, Any] = {}
    while True:
        if state.get("run_id"):
            path, req = f"/v1/runs/{state['run_id']}/stream", {"starting_after": state.get("last_seq", 0)}
        else:
            path, req = f"/v1/agents/{agent_id}/messages", {**body, "streaming": True}
        try:
            async with http.stream("POST", path, json=req) as response:
                if response.status_code < 500:
                    response.raise_for_status()
                    if await _read_sse(response, seen, state):
                        stats.streams_done += 1
                        return
                    stats.statuses["stream cut"] += 1
                else:
                    stats.statuses[str(response.status_code)] += 1
        except httpx.HTTPError as exc:
            stats.statuses[type(exc).__name__] += 1
        stats.resumes += 1
        await asyncio.sleep(RETRY_PAUSE_S)


async def converse(http: httpx.AsyncClient, agent_id: str, agent_index: int, turns: int, *, streaming: bool,
                   stats: ClientStats, on_turn: Any) -> None:  # fmt: skip
    for turn in range(turns):
        otid = f"otid-{agent_index}-{turn}-{uuid.uuid4().hex[:8]}"
        body = {"messages": [{"role": "user", "content": utterance(agent_index, turn), "otid": otid}]}
        if streaming:
            await _stream_turn(http, agent_id, body, stats)
        else:
            await _post_until_answered(http, f"/v1/agents/{agent_id}/messages", body, stats)
        on_turn()


# ---- faults ---------------------------------------------------------------------------------------------


async def inject_faults(stack: ChaosStack, progress: list[int], done: asyncio.Event, counts: Counts, *,
                        every: tuple[int, int], outage_s: float, rng: random.Random,
                        kinds: tuple[str, ...] = FAULTS) -> None:  # fmt: skip
    """Cycle through `kinds`, one fault after every `every` completed turns (plus a random 0-1 s)."""
    step = 0
    while not done.is_set():
        target = progress[0] + rng.randint(*every)
        while not done.is_set() and progress[0] < target:
            await asyncio.sleep(0.1)
        if done.is_set():
            return
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        fault = kinds[step % len(kinds)]
        step += 1
        counts.faults[fault] = counts.faults.get(fault, 0) + 1
        started, before = time.monotonic(), progress[0]
        if fault == "worker":
            stack.kill_worker()
            stack.start_worker()
        elif fault == "api":
            stack.kill_api()
            stack.start_api()
        elif fault == "postgres":
            await asyncio.to_thread(stack.stop_postgres)
            await asyncio.sleep(outage_s)
            await asyncio.to_thread(stack.start_postgres)
        else:
            await asyncio.to_thread(stack.stop_temporal)
            await asyncio.sleep(outage_s)
            await asyncio.to_thread(stack.start_temporal)
        while not done.is_set() and progress[0] == before:
            await asyncio.sleep(0.1)
        counts.recovery_s.setdefault(fault, []).append(round(time.monotonic() - started, 1))


# ---- the run and its audit ------------------------------------------------------------------------------


async def create_agents(http: httpx.AsyncClient, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = {"name": f"chaos-{i}", "model": "engram/offline", "agent_type": "memgpt_v2_agent",
                "embedding": "engram/hash-embedding", "tools": ["archival_memory_insert"], "memory_blocks": [{"label": "human", "value": ""},
                                                                   {"label": "persona", "value": "I am a test agent."}]}  # fmt: skip
        response = await http.post("/v1/agents/", json=body)
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids


async def audit(database_url: str, agent_ids: list[str], turns: int, counts: Counts) -> None:
    from sqlalchemy import func, or_, select

    from engram.store.db import create_engine, session_factory
    from engram.store.models import AgentArchive, Block, MemoryOp, Message, Passage, Run, RunEvent
    from engram.store.models.agent import AgentBlock

    engine = create_engine(database_url, pool_size=2)
    try:
        async with session_factory(engine)() as s:
            for index, agent_id in enumerate(agent_ids):
                user_texts = list(await s.scalars(select(Message.text).where(Message.agent_id == agent_id, Message.role == "user")))
                ours = [t for t in user_texts if t and t.startswith(("hello", "I like", "call archival"))]
                counts.user_messages += len(ours)
                counts.duplicate_user_messages += sum(c - 1 for c in Counter(ours).values() if c > 1)
                agent_runs = list(await s.scalars(select(Run).where(Run.agent_id == agent_id)))
                counts.runs += len(agent_runs)
                counts.completed += sum(1 for r in agent_runs if r.status == "completed")
                counts.non_terminal += sum(1 for r in agent_runs if r.status not in ("completed", "failed", "cancelled"))
                for run in agent_runs:
                    rows = await s.scalars(select(Message).where(Message.run_id == run.id, Message.role == "assistant"))
                    replies = sum(1 for m in rows for c in m.tool_calls or [] if c["function"]["name"] == "send_message")
                    counts.not_one_reply += replies != 1
                    kinds = list(await s.scalars(select(RunEvent.kind).where(RunEvent.run_id == run.id).order_by(RunEvent.seq)))
                    counts.event_logs_not_done_once += kinds.count("done") != 1 or kinds[-1] != "done"
                human = await s.scalar(select(Block).join(AgentBlock, AgentBlock.block_id == Block.id).where(
                    AgentBlock.agent_id == agent_id, Block.label == "human"))  # fmt: skip
                lines = Counter((human.value if human else "").splitlines())
                archives = select(AgentArchive.archive_id).where(AgentArchive.agent_id == agent_id)
                passages = Counter(await s.scalars(select(Passage.text).where(
                    or_(Passage.agent_id == agent_id, Passage.archive_id.in_(archives)), Passage.deleted_at.is_(None))))  # fmt: skip
                ops = int(await s.scalar(select(func.count()).select_from(MemoryOp).where(MemoryOp.block_id == (human.id if human else None))) or 0)
                facts = [t for t in range(turns) if t % 5 == 1]
                notes = [t for t in range(turns) if t % 5 == 3]
                for t in facts:
                    n = lines[f"Likes: topic{index}x{t}"]
                    counts.duplicate_memory_edits += max(0, n - 1)
                    counts.missing_memory_edits += n == 0
                counts.duplicate_memory_edits += max(0, ops - len(facts))
                for t in notes:
                    n = passages[f"note {index}x{t}"]
                    counts.duplicate_passages += max(0, n - 1)
                    counts.missing_passages += n == 0
    finally:
        await engine.dispose()


async def run_chaos(agents: int, turns: int, *, streaming_every: int = 2, every: tuple[int, int] = (5, 12),
                    outage_s: float = 3.0, seed: int = 7, faults: tuple[str, ...] = FAULTS,
                    stack: ChaosStack | None = None) -> Counts:  # fmt: skip
    """Start a stack (unless given one), run the load under faults, audit; always stops what it started."""
    own = stack is None
    stack = stack or ChaosStack()
    counts = Counts(agents=agents, turns=agents * turns)
    try:
        if own:
            await asyncio.to_thread(stack.start)
        await asyncio.to_thread(stack.wait_for_api)
        stats = ClientStats()
        progress = [0]
        timeout = httpx.Timeout(connect=5.0, read=None, write=30.0, pool=None)
        limits = httpx.Limits(max_connections=agents * 2 + 4)
        async with httpx.AsyncClient(base_url=stack.url, timeout=timeout, limits=limits) as http:
            agent_ids = await create_agents(http, agents)

            def on_turn() -> None:
                progress[0] += 1

            done = asyncio.Event()
            rng = random.Random(seed)
            chaos = asyncio.create_task(inject_faults(
                stack, progress, done, counts, every=every, outage_s=outage_s, rng=rng, kinds=faults)) if faults else None  # fmt: skip
            try:
                await asyncio.gather(*(
                    converse(http, a, i, turns, streaming=i % streaming_every == 1, stats=stats, on_turn=on_turn)
                    for i, a in enumerate(agent_ids)
                ))  # fmt: skip
            finally:
                done.set()
                if chaos is not None:
                    await chaos
        counts.streams, counts.streams_without_done = stats.streams, stats.streams - stats.streams_done
        counts.stream_resumes, counts.client_retries = stats.resumes, stats.retries
        counts.retried_statuses = dict(stats.statuses)
        await audit(stack.database_url, agent_ids, turns, counts)
        return counts
    finally:
        if own:
            await asyncio.to_thread(stack.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--fault-every", type=int, nargs=2, default=(20, 60), metavar=("MIN", "MAX"),
                        help="inject the next fault after this many completed turns (random in [MIN, MAX])")  # fmt: skip
    parser.add_argument("--outage", type=float, default=3.0, help="seconds Postgres / Temporal stay down")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, cycled in order (of {FAULTS}); empty for none")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if unknown := [f for f in args.faults.split(",") if f and f not in FAULTS]:
        parser.error(f"unknown fault(s) {unknown}; choose from {FAULTS}")
    started = time.monotonic()
    counts = asyncio.run(run_chaos(args.agents, args.turns, every=tuple(args.fault_every), outage_s=args.outage,
                                   seed=args.seed, faults=tuple(f for f in args.faults.split(",") if f)))  # fmt: skip
    report = dict(counts.__dict__)
    report.update(lost=counts.lost, seconds=round(time.monotonic() - started, 1))
    print(json.dumps(report, indent=2))  # noqa: T201
    problems = counts.problems()
    print("OK: 0 lost, 0 duplicated, 0 stuck" if not problems else f"PROBLEMS: {problems}")  # noqa: T201
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()
