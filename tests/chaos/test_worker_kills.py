"""Durability under faults: concurrent conversations while the worker is SIGKILLed and restarted.

CI size: 5 agents x 20 turns (the offline model on memgpt_v2 agents, so turns include memory edits,
heartbeats and send_message). Afterwards every user message has exactly one completed run and exactly
one final reply, every memory edit landed once, no run is left non-terminal, and every run's event log
ends with exactly one `done`.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

from api.workflow_client import submit_turn
from engram.store import blocks, run_events, runs
from engram.store import messages as message_store

ROOT = Path(__file__).resolve().parents[2]
AGENTS, TURNS = 5, 20


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
                          workflow_input=wf_input, sessions=loop.sessions)  # fmt: skip
        run_ids.append(run_id)
    return run_ids


async def test_turns_complete_exactly_once_while_the_worker_is_killed(loop) -> None:
    task_queue = f"chaos-{uuid.uuid4().hex[:8]}"
    loop.settings = loop.settings.model_copy(update={"task_queue": task_queue})
    agent_ids = [await loop.agent("engram/offline", agent_type="memgpt_v2_agent") for _ in range(AGENTS)]
    inputs = [loop.workflow_input(a, llm_heartbeat_timeout_s=2.0) for a in agent_ids]
    procs = [_spawn(loop, task_queue)]
    kills = 0
    rng = random.Random(7)

    async def killer(done: asyncio.Event) -> None:
        nonlocal kills
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), timeout=rng.uniform(3.0, 6.0))
            except TimeoutError:
                procs[-1].kill()
                procs[-1].wait()
                kills += 1
                procs.append(_spawn(loop, task_queue))

    done = asyncio.Event()
    kill_task = asyncio.create_task(killer(done))
    try:
        all_runs = await asyncio.wait_for(
            asyncio.gather(*(_converse(loop, a, i, inp) for i, (a, inp) in enumerate(zip(agent_ids, inputs, strict=True)))),
            timeout=400,
        )
    finally:
        done.set()
        await kill_task
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
