"""The approval wait is durable: a worker SIGKILLed while the agent waits loses nothing, and an approval
sent while no worker runs is served by the next one. The recorded history replays (determinism).
Parallel calls of one step wait together and run after the answer."""

from __future__ import annotations

import asyncio
import os
import uuid

from temporalio.client import WorkflowHistory

from api.workflow_client import submit_turn
from engram.ids import new_id
from engram.letta_messages import to_letta_messages
from engram.store import messages, passages, runs
from tests.fake_llm import FakeReply
from tests.fake_llm_wire import FakeToolCall
from tests.loop.test_replay import HISTORIES, RECORD, _history, _replayer
from tests.loop.test_worker_crash import _spawn
from workflows.agent import AgentWorkflow, agent_workflow_id

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


async def test_parallel_calls_wait_together_and_run_after_the_answer(loop, fake_llm) -> None:
    """One step calls a tool that needs approval and one that does not: neither runs before the answer
    (Letta's behaviour); afterwards both run, in the answering run, and the turn goes on."""
    model = f"t-{uuid.uuid4().hex[:10]}"
    fake_llm.script(model, [
        FakeReply.tools(FakeToolCall("archival_memory_insert", {"content": "parallel fact"}, id="call_gated"),
                        FakeToolCall("conversation_search", {"query": "anything"}, id="call_free")),
        FakeReply.text("both done"),
    ])  # fmt: skip
    agent_id = await loop.agent(f"openai/{model}", tools=["archival_memory_insert", "conversation_search"],
                                tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}])  # fmt: skip
    asked, result = await loop.send(agent_id, "do both")
    assert result is not None and result.stop_reason == "requires_approval"
    async with loop.sessions() as s:
        [row] = await messages.run_output_messages(s, loop.org_id, asked)
    kinds = [(m["message_type"], m.get("tool_call", {}).get("tool_call_id")) for m in to_letta_messages(row)]
    assert kinds == [("tool_call_message", "call_free"), ("approval_request_message", "call_gated")]
    answer = {"id": new_id("message"), "type": "approval",
              "approvals": [{"type": "approval", "tool_call_id": "call_gated", "approve": True, "reason": None}]}  # fmt: skip
    async with loop.sessions.begin() as s:
        run = await runs.create_run(s, loop.org_id, agent_id, input_messages=[answer], request_config={})
    done = await submit_turn(loop.client, loop.settings, org_id=loop.org_id, agent_id=agent_id, run_id=run.id,
                             is_approval=True)  # fmt: skip
    assert done is not None and done.stop_reason == "end_turn"
    async with loop.sessions() as s:
        rows = await messages.run_output_messages(s, loop.org_id, run.id)
    assert sorted((r.tool_call_id, r.tool_returns[0]["status"]) for r in rows if r.role == "tool") == [
        ("call_free", "success"), ("call_gated", "success")]  # fmt: skip
    assert rows[-1].text == "both done"
    second_request = fake_llm.requests(model)[-1]["messages"]
    assert [m["role"] for m in second_request[-3:]] == ["assistant", "tool", "tool"]


async def test_the_wait_survives_continue_as_new(loop) -> None:
    agent_id = await loop.agent("engram/offline", tools=["archival_memory_insert"],
                                tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}])  # fmt: skip
    wf_input = loop.workflow_input(agent_id, max_turns_per_run=1)  # continue-as-new after every turn
    asked, result = await loop.send(agent_id, ASK, workflow_input=wf_input)
    assert result is not None and result.stop_reason == "requires_approval"
    handle = loop.client.get_workflow_handle(agent_workflow_id(agent_id))
    for _ in range(100):  # the new run carries the wait
        status = await handle.query(AgentWorkflow.status)
        if status.generation >= 1:
            break
        await asyncio.sleep(0.05)
    assert status.generation >= 1 and status.awaiting_approval_run_id == asked
    async with loop.sessions() as s:
        [row] = await messages.run_output_messages(s, loop.org_id, asked)
    approval = await _approval_run(loop, agent_id, row.tool_calls[0]["id"])
    done = await submit_turn(loop.client, loop.settings, org_id=loop.org_id, agent_id=agent_id, run_id=approval,
                             workflow_input=wf_input, is_approval=True)  # fmt: skip
    assert done is not None and done.stop_reason == "end_turn"
