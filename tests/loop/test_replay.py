"""Determinism: AgentWorkflow histories replay with `temporalio.worker.Replayer`.

Two checks:
- histories recorded now (a normal turn with tools and heartbeats, a cancelled turn, a run that
  continued-as-new) replay against the current code;
- histories committed under tests/histories/ (recorded by an earlier version) still replay, so a change
  that would break in-flight workflows fails CI. Re-record them deliberately, after a versioned change
  (new activity name or `workflow.patched`), with:
      ENGRAM_RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/loop/test_replay.py
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from api.workflow_client import cancel_run
from tests.fake_llm import FakeReply
from worker import workflow_runner
from workflows.agent import AgentWorkflow, agent_workflow_id

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
RECORD = os.environ.get("ENGRAM_RECORD_HISTORIES") == "1"


def _replayer() -> Replayer:
    return Replayer(workflows=[AgentWorkflow], data_converter=pydantic_data_converter, workflow_runner=workflow_runner())


async def _wait_closed(client: Client, workflow_id: str, run_id: str | None = None) -> None:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    for _ in range(200):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} did not close")


async def _history(client: Client, workflow_id: str, run_id: str | None = None) -> WorkflowHistory:
    await _wait_closed(client, workflow_id, run_id)
    return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()


async def _normal_turn(loop) -> WorkflowHistory:
    agent_id = await loop.agent("engram/offline", agent_type="memgpt_v2_agent")
    _, result = await loop.send(agent_id, "My name is Ada and I like chess",
                                workflow_input=loop.workflow_input(agent_id, idle_timeout_s=0.3))  # fmt: skip
    assert result.stop_reason == "end_turn" and result.step_count >= 2  # memory edit, then the reply
    return await _history(loop.client, agent_workflow_id(agent_id))


async def _cancelled_turn(loop, fake_llm) -> WorkflowHistory:
    model = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(model, [FakeReply.text("too late", delay_s=20)])
    agent_id = await loop.agent(f"openai/{model}")
    run_id, _ = await loop.send(agent_id, "think", wait=False,
                                workflow_input=loop.workflow_input(agent_id, idle_timeout_s=0.3))  # fmt: skip
    for _ in range(200):
        if fake_llm.requests(model):
            break
        await asyncio.sleep(0.05)
    await cancel_run(loop.client, agent_id=agent_id, run_id=run_id)
    assert (await loop.wait_run(run_id)).stop_reason == "cancelled"
    return await _history(loop.client, agent_workflow_id(agent_id))


async def _continued_as_new(loop) -> WorkflowHistory:
    agent_id = await loop.agent("engram/offline")
    wf_input = loop.workflow_input(agent_id, max_turns_per_run=1, idle_timeout_s=0.3)
    for text in ("hello", "hello again"):
        await loop.send(agent_id, text, workflow_input=wf_input)
    workflow_id = agent_workflow_id(agent_id)
    async for execution in loop.client.list_workflows(f'WorkflowId = "{workflow_id}"'):
        if execution.status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
            return await _history(loop.client, workflow_id, execution.run_id)
    raise AssertionError("no run ended in continue-as-new")


@pytest.fixture(scope="module")
async def fresh_histories(loop_module) -> dict[str, WorkflowHistory]:
    loop, fake_llm = loop_module
    histories = {
        "normal_turn": await _normal_turn(loop),
        "cancelled_turn": await _cancelled_turn(loop, fake_llm),
        "continue_as_new": await _continued_as_new(loop),
    }
    if RECORD:
        HISTORIES.mkdir(exist_ok=True)
        for name, history in histories.items():
            (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
    return histories


@pytest.fixture(scope="module")
def loop_module(client, loop_settings, sessions, worker, fake_llm):  # noqa: ARG001
    from engram.ids import new_id
    from tests.loop.conftest import Loop

    return Loop(client, loop_settings, sessions, new_id("org")), fake_llm


async def test_fresh_histories_replay(fresh_histories: dict[str, WorkflowHistory]) -> None:
    last_event = json.loads(fresh_histories["continue_as_new"].to_json())["events"][-1]
    assert last_event["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW"
    for name, history in fresh_histories.items():
        result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{name}: {result.replay_failure}"


async def test_committed_histories_still_replay() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert {f.stem for f in files} >= {"normal_turn", "cancelled_turn", "continue_as_new"}
    for path in files:
        history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
        result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
