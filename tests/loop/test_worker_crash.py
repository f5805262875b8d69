"""A worker SIGKILLed in the middle of an llm_step: a new worker finishes the turn exactly once, on the
agent's own thread and on a conversation (its own workflow `agent:{id}:conv:{conv}`)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from api.workflow_client import default_workflow_input
from engram.store import conversations, messages, runs
from tests.fake_llm import FakeReply

ROOT = Path(__file__).resolve().parents[2]


def _spawn(loop, task_queue: str) -> subprocess.Popen:
    env = {
        **os.environ, "ENGRAM_DATABASE_URL": loop.settings.database_url, "ENGRAM_TEMPORAL_ADDRESS": loop.settings.temporal_target,
        "ENGRAM_TASK_QUEUE": task_queue, "OPENAI_BASE_URL": loop.settings.openai_base_url, "OPENAI_API_KEY": "test",
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    return subprocess.Popen([sys.executable, str(ROOT / "tests/loop/worker_proc.py")], env=env, cwd=ROOT)


@pytest.mark.parametrize("thread", ["agent", "conversation"])
async def test_killed_worker_mid_llm_step_completes_turn_once(loop, fake_llm, thread: str) -> None:
    model = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(model, [FakeReply.text("first attempt", delay_s=4), FakeReply.text("after restart")])
    agent_id = await loop.agent(f"openai/{model}")
    conversation_id = None
    if thread == "conversation":
        async with loop.sessions.begin() as s:
            conversation_id = (await conversations.create_conversation(s, loop.org_id, agent_id, summary="crash")).id
    task_queue = f"crash-{uuid.uuid4().hex[:8]}"
    settings = loop.settings.model_copy(update={"task_queue": task_queue})
    loop.settings = settings
    wf_input = default_workflow_input(settings, loop.org_id, agent_id, conversation_id)
    wf_input.llm_heartbeat_timeout_s = 2.0
    first = _spawn(loop, task_queue)
    second = None
    try:
        run_id, _ = await loop.send(agent_id, "hello", wait=False, workflow_input=wf_input,
                                    conversation_id=conversation_id)
        for _ in range(400):
            if fake_llm.requests(model):
                break
            await asyncio.sleep(0.05)
        assert fake_llm.requests(model), "the first worker never called the model"
        first.kill()
        first.wait()
        second = _spawn(loop, task_queue)
        run = await loop.wait_run(run_id, timeout_s=60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert (run.status, run.stop_reason) == ("completed", "end_turn")
    async with loop.sessions() as s:
        rows = await messages.list_messages(s, loop.org_id, agent_id, order="asc", conversation_id=conversation_id)
        done = await runs.get_run(s, loop.org_id, run_id)
    assert [r.role for r in rows if r.role != "system"] == ["user", "assistant"]
    assert rows[-1].text == "after restart" and done.conversation_id == conversation_id
    assert len(fake_llm.requests(model)) == 2  # the killed attempt and the one that finished, nothing more
