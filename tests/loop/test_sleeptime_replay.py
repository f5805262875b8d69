"""Determinism of the sleep-time path: an AgentWorkflow turn that starts a SleeptimeWorkflow child, and
that child, replay against the current code. The AgentWorkflow history is also committed under
tests/histories/ (tests/loop/test_replay.py replays every file there); re-record it with
ENGRAM_RECORD_HISTORIES=1."""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from engram import sleeptime
from engram.store import agents, blocks
from tests.loop.test_replay import _history
from worker import workflow_runner
from workflows.agent import AgentWorkflow, agent_workflow_id
from workflows.sleeptime import SleeptimeWorkflow, turn_child_id

HISTORY = Path(__file__).resolve().parents[1] / "histories" / "sleeptime_turn.json"


async def test_a_turn_that_starts_a_sleeptime_pass_replays(loop) -> None:
    agent_id = await loop.agent("engram/offline", agent_type="memgpt_v2_agent", enable_sleeptime=True)
    async with loop.sessions.begin() as s:
        group = await sleeptime.create_sleeptime_agent(s, loop.org_id, await agents.get_agent(s, loop.org_id, agent_id),
                                                       frequency=1)  # fmt: skip
    _, result = await loop.send(agent_id, "My name is Ada.", workflow_input=loop.workflow_input(agent_id, idle_timeout_s=0.3))
    assert result.status == "completed" and len(result.usage["run_ids"]) == 2
    child = await _history(loop.client, turn_child_id(agent_id, result.usage["run_ids"][1]))
    parent = await _history(loop.client, agent_workflow_id(agent_id))
    async with loop.sessions() as s:
        shared = await blocks.get_agent_block_by_label(s, loop.org_id, group.sleeptime_agent_id, "human")
    assert "Name: Ada" in shared.value  # the pass ran and edited the primary's block
    if os.environ.get("ENGRAM_RECORD_HISTORIES") == "1":
        HISTORY.write_text(parent.to_json(), encoding="utf-8")
    replayer = Replayer(workflows=[AgentWorkflow, SleeptimeWorkflow], data_converter=pydantic_data_converter,
                        workflow_runner=workflow_runner())  # fmt: skip
    for history in (parent, child, WorkflowHistory.from_json("committed", HISTORY.read_text(encoding="utf-8"))):
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, replayed.replay_failure
