"""The approval wait is durable: a worker SIGKILLed while the agent waits loses nothing, and an approval
sent while no worker runs is served by the next one. The recorded history replays (determinism)."""

from __future__ import annotations

import asyncio
import os
import uuid

from temporalio.client import WorkflowHistory

from api.workflow_client import submit_turn
from engram.ids import new_id
from engram.store import messages, passages, runs
from tests.loop.test_replay import HISTORIES, RECORD, _history, _replayer
from tests.loop.test_worker_crash import _spawn
from workflows.agent import agent_workflow_id

ASK = 'call archival_memory_insert {"content": "launch code 0000"}'


async def _approval_run(loop, agent_id: str, call_id: str) -> str:
    message = {"id": new_id("message"), "type": "approval",
               "approvals": [{"type": "approval", "tool_call_id": call_id, "approve": True, "reason": None}]}  # fmt: skip
    async with loop.sessions.begin() as s:
        run = await runs.create_run(s, loop.org_id, agent_id, input_messages=[message], request_config={})
    return run.id


async def test_worker_killed_while_waiting_for_approval_loses_nothing(loop) -> None:
    agent_id = await loop.agent("engram/offline", tools=["archival_memory_insert"],
                                tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}])  # fmt: skip
    loop.settings = loop.settings.model_copy(update={"task_queue": f"approve-{uuid.uuid4().hex[:8]}"})
    wf_input = loop.workflow_input(agent_id, idle_timeout_s=0.5)
    first, second = _spawn(loop, loop.settings.task_queue), None
    try:
        asked, result = await loop.send(agent_id, ASK, workflow_input=wf_input)
        assert result is not None and result.stop_reason == "requires_approval"
        async with loop.sessions() as s:
            [row] = [r for r in await messages.run_output_messages(s, loop.org_id, asked) if r.tool_calls]
        call_id = row.tool_calls[0]["id"]
        first.kill()
        first.wait()
        approval = await _approval_run(loop, agent_id, call_id)
        submitted = asyncio.create_task(submit_turn(  # sent while no worker runs: the next one serves it
            loop.client, loop.settings, org_id=loop.org_id, agent_id=agent_id, run_id=approval, wait=False,
            workflow_input=wf_input, is_approval=True,
        ))  # fmt: skip
        await asyncio.sleep(0.5)
        second = _spawn(loop, loop.settings.task_queue)
        await submitted
        run = await loop.wait_run(approval, timeout_s=60)
        assert (run.status, run.stop_reason) == ("completed", "end_turn")
        async with loop.sessions() as s:
            rows = await messages.run_output_messages(s, loop.org_id, approval)
            found = await passages.list_passages(s, loop.org_id, agent_id) if hasattr(passages, "list_passages") else None
        tool_rows = [r for r in rows if r.role == "tool"]
        assert [(r.tool_call_id, r.tool_returns[0]["status"]) for r in tool_rows] == [(call_id, "success")]
        assert "archival_memory_insert returned" in rows[-1].text
        if found is not None:
            assert [p.text for p in found] == ["launch code 0000"]
        history = await _history(loop.client, agent_workflow_id(agent_id))
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    replayed = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    if RECORD:
        (HISTORIES / "approval_turn.json").write_text(history.to_json(), encoding="utf-8")
    assert isinstance(history, WorkflowHistory) and os.path.isdir(HISTORIES)
