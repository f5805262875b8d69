"""Durability under faults: concurrent conversations while the worker is SIGKILLed and restarted.

CI size: 5 agents x 20 turns (the offline model on memgpt_v2 agents, so turns include memory edits,
heartbeats and send_message). Afterwards every user message has exactly one completed run and exactly
one final reply, every memory edit landed once, no run is left non-terminal, and every run's event log
ends with exactly one `done`.

No timing assumptions: a worker is killed once it has finished a random 10-20 turns since it was spawned
(plus a random 0-1 s, so the kill lands mid-turn for the other agents). Kills are paced by work done,
never by the clock, so a slow start on a loaded machine cannot starve the load, and the number of kills
is bounded (each costs Temporal's ~10 s workflow-task timeout). The only time bound is liveness: the
test fails, listing the unfinished runs, if no run event is written for STALL_LIMIT_S.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import func, select

from api.workflow_client import submit_turn
from engram.store import blocks, run_events, runs
from engram.store import messages as message_store
from engram.store.models import Run, RunEvent

ROOT = Path(__file__).resolve().parents[2]
AGENTS, TURNS = 5, 20
STALL_LIMIT_S = 240.0  # no run event at all for this long: something is stuck (worker start + 30 s heartbeats)


async def _progress(loop) -> int:
    """How much work the workers have done: the org's run events (every step writes some)."""
    async with loop.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(RunEvent).where(RunEvent.organization_id == loop.org_id)) or 0)


async def _finished(loop) -> int:
    async with loop.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Run).where(
            Run.organization_id == loop.org_id, Run.status.in_(runs.TERMINAL_STATUSES))) or 0)  # fmt: skip


async def _unfinished(loop) -> list[tuple[str, str]]:
    async with loop.sessions() as s:
        rows = await s.execute(select(Run.id, Run.status).where(
            Run.organization_id == loop.org_id, Run.status.not_in(runs.TERMINAL_STATUSES)))  # fmt: skip
        return [tuple(r) for r in rows]


def _spawn(loop, task_queue: str) -> subprocess.Popen:
    env = {
        **os.environ, "ENGRAM_DATABASE_URL": loop.settings.database_url,
        "ENGRAM_TEMPORAL_ADDRESS": loop.settings.temporal_target, "ENGRAM_TASK_QUEUE": task_queue,
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    return subprocess.Popen([sys.executable, str(ROOT / "tests/loop/worker_proc.py")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def _utterance(agent_index: int, turn: int) -> str:
    if turn % 4 == 1:
        return f"I like topic{agent_index}x{turn}"  # a fact: the offline model saves it with memory_insert
    return f"hello number {turn}"


async def _converse(loop, agent_id: str, agent_index: int, wf_input) -> list[str]:
    run_ids = []
    for turn in range(TURNS):
        run_id = await loop.run(agent_id, _utterance(agent_index, turn))
        await submit_turn(loop.client, loop.settings, org_id=loop.org_id, agent_id=agent_id, run_id=run_id,
                          workflow_input=wf_input)  # fmt: skip
        run_ids.append(run_id)
    return run_ids


async def test_turns_complete_exactly_once_while_the_worker_is_killed(loop) -> None:
    task_queue = f"chaos-{uuid.uuid4().hex[:8]}"
    loop.settings = loop.settings.model_copy(update={"task_queue": task_queue})
    agent_ids = [await loop.agent("engram/offline", agent_type="memgpt_v2_agent") for _ in range(AGENTS)]
    # Short heartbeat timeouts so a dead worker's activities are retried soon (the LLM step beats at a third of it).
    inputs = [loop.workflow_input(a, llm_heartbeat_timeout_s=3.0, tools_heartbeat_floor_s=3.0) for a in agent_ids]
    procs = [_spawn(loop, task_queue)]
    kills = 0
    rng = random.Random(7)

    async def killer(done: asyncio.Event) -> None:
        nonlocal kills
        while not done.is_set():
            target = await _finished(loop) + rng.randint(10, 20)
            while not done.is_set() and await _finished(loop) < target:
                await asyncio.sleep(0.1)
            try:
                await asyncio.wait_for(done.wait(), timeout=rng.uniform(0.0, 1.0))
            except TimeoutError:
                procs[-1].kill()
                procs[-1].wait()
                kills += 1
                procs.append(_spawn(loop, task_queue))

    async def watchdog(work: asyncio.Future) -> None:
        seen, since = -1, asyncio.get_running_loop().time()
        while not work.done():
            now, progress = asyncio.get_running_loop().time(), await _progress(loop)
            if progress != seen:
                seen, since = progress, now
            elif now - since > STALL_LIMIT_S:
                work.cancel()
                raise AssertionError(f"no progress for {STALL_LIMIT_S:.0f} s; unfinished runs: {await _unfinished(loop)}")
            await asyncio.sleep(1.0)

    done = asyncio.Event()
    kill_task = asyncio.create_task(killer(done))
    work = asyncio.gather(*(_converse(loop, a, i, inp) for i, (a, inp) in enumerate(zip(agent_ids, inputs, strict=True))))
    guard = asyncio.create_task(watchdog(work))
    try:
        all_runs = await work
    finally:
        done.set()
        await kill_task
        if guard.done():
            guard.result()  # the stall report, if the watchdog fired
        guard.cancel()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    assert kills >= 3, "the worker was not killed often enough to prove anything"
    print(f"chaos: {AGENTS} agents x {TURNS} turns, worker SIGKILLed {kills} times")  # noqa: T201
    async with loop.sessions() as s:
        for agent_index, (agent_id, run_ids) in enumerate(zip(agent_ids, all_runs, strict=True)):
            assert len(run_ids) == TURNS
            for run_id in run_ids:
                run = await runs.get_run(s, loop.org_id, run_id)
                assert (run.status, run.stop_reason) == ("completed", "end_turn"), run_id
                output = await message_store.run_output_messages(s, loop.org_id, run_id)
                replies = [m for m in output if any(c["function"]["name"] == "send_message" for c in m.tool_calls or [])]
                assert len(replies) == 1, f"{run_id}: {len(replies)} final replies"
                kinds = [e.kind for e in await run_events.read_events(s, run_id, 0, limit=10_000)]
                assert kinds.count("done") == 1 and kinds[-1] == "done"
            human = await blocks.get_agent_block_by_label(s, loop.org_id, agent_id, "human")
            lines = human.value.splitlines()
            for turn in range(1, TURNS, 4):
                assert lines.count(f"Likes: topic{agent_index}x{turn}") == 1, human.value
            rows = await message_store.list_messages(s, loop.org_id, agent_id, order="asc", limit=10_000)
            assert sum(1 for r in rows if r.role == "user" and r.text.startswith(("hello", "I like"))) == TURNS
