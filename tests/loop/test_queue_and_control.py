"""Queueing, dedupe, cancel, step limits, tool errors, continue-as-new and idle exit."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import WorkflowExecutionStatus

from api.workflow_client import agent_status, cancel_run, submit_turn
from engram.store import messages, runs
from tests.fake_llm import FakeReply, FakeToolCall
from workflows.agent import agent_workflow_id


def _model() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def _rows(loop, agent_id: str) -> list:
    async with loop.sessions() as s:
        return await messages.list_messages(s, loop.org_id, agent_id, order="asc", limit=1000)


async def test_concurrent_messages_run_one_at_a_time_in_fifo_order(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text(f"reply {i}") for i in range(10)])
    agent_id = await loop.agent(f"openai/{model}")
    results = await asyncio.gather(*(loop.send(agent_id, f"message {i}") for i in range(10)))
    assert all(r.status == "completed" for _, r in results)
    rows = [r for r in await _rows(loop, agent_id) if r.role != "system"]
    assert len(rows) == 20
    # each user message is directly followed by its own reply: turns never interleave
    for user, reply in zip(rows[::2], rows[1::2], strict=True):
        assert user.role == "user" and reply.role == "assistant" and user.run_id == reply.run_id
    assert [r.text for r in rows[1::2]] == [f"reply {i}" for i in range(10)]


async def test_retried_update_with_same_run_id_runs_once(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("only once"), FakeReply.text("twice!")])
    agent_id = await loop.agent(f"openai/{model}")
    run_id = await loop.run(agent_id, "hello")
    kwargs = {"org_id": loop.org_id, "agent_id": agent_id, "run_id": run_id}
    first, second = await asyncio.gather(
        submit_turn(loop.client, loop.settings, **kwargs), submit_turn(loop.client, loop.settings, **kwargs)
    )
    again = await submit_turn(loop.client, loop.settings, **kwargs)
    assert first == second == again
    assert [r.text for r in await _rows(loop, agent_id) if r.role == "assistant"] == ["only once"]


async def test_cancel_ends_run_with_stop_reason_cancelled(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("too late", delay_s=20)])
    agent_id = await loop.agent(f"openai/{model}")
    run_id, _ = await loop.send(agent_id, "think hard", wait=False)
    for _ in range(200):
        if fake_llm.requests(model):
            break
        await asyncio.sleep(0.05)
    await cancel_run(loop.client, agent_id=agent_id, run_id=run_id)
    run = await loop.wait_run(run_id, timeout_s=15)
    assert (run.status, run.stop_reason) == ("cancelled", "cancelled")
    assert [r for r in await _rows(loop, agent_id) if r.role == "assistant"] == []


async def test_bad_tool_calls_become_error_returns_and_the_run_continues(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [
        FakeReply.tool("memory_insert", "{not json"),
        FakeReply.tool("no_such_tool", {"x": 1}),
        FakeReply.tool("memory_insert", {"label": "human", "new_string": "x", "insert_line": "not a number"}),
        FakeReply.text("recovered"),
    ])  # fmt: skip
    agent_id = await loop.agent(f"openai/{model}")
    run_id, result = await loop.send(agent_id, "go")
    assert (result.status, result.stop_reason, result.step_count) == ("completed", "end_turn", 4)
    async with loop.sessions() as s:
        out = await messages.run_output_messages(s, loop.org_id, run_id)
    returns = [r.tool_returns[0] for r in out if r.role == "tool"]
    assert [r["status"] for r in returns] == ["error", "error", "error"]
    assert "JSON" in returns[0]["func_response"]
    assert "does not exist" in returns[1]["func_response"]
    assert "ValueError" in returns[2]["func_response"]
    assert out[-1].text == "recovered"


async def test_max_steps_stops_a_model_that_never_stops(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.tools(FakeToolCall("memory_insert", {"label": "human", "new_string": "again"}), repeat=True)])
    agent_id = await loop.agent(f"openai/{model}")
    run_id, result = await loop.send(agent_id, "loop", max_steps=3)
    fake_llm.clear(model)
    assert (result.status, result.stop_reason, result.step_count) == ("completed", "max_steps", 3)
    async with loop.sessions() as s:
        run = await runs.get_run(s, loop.org_id, run_id)
    assert run.stop_reason == "max_steps"


async def test_continue_as_new_keeps_serving_turns(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text(f"r{i}") for i in range(4)])
    agent_id = await loop.agent(f"openai/{model}")
    wf_input = loop.workflow_input(agent_id, max_turns_per_run=2)
    first = [loop.send(agent_id, f"m{i}", workflow_input=wf_input) for i in range(2)]
    results = [await c for c in first]
    results += [await loop.send(agent_id, "m2", workflow_input=wf_input), await loop.send(agent_id, "m3", workflow_input=wf_input)]
    assert [r.status for _, r in results] == ["completed"] * 4
    status = await agent_status(loop.client, agent_id)
    assert status is not None and status.generation >= 1
    assert [r.text for r in await _rows(loop, agent_id) if r.role == "assistant"] == ["r0", "r1", "r2", "r3"]


async def _idle_exit(loop, agent_id: str):
    """The agent's workflow handle, once it has completed (idle exit), bounded at ~10 s."""
    handle = loop.client.get_workflow_handle(agent_workflow_id(agent_id))
    for _ in range(100):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            break
        await asyncio.sleep(0.1)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    return handle


async def test_idle_workflow_exits_and_next_message_restarts_it(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("one"), FakeReply.text("two")])
    agent_id = await loop.agent(f"openai/{model}")
    wf_input = loop.workflow_input(agent_id, idle_timeout_s=0.5)
    await loop.send(agent_id, "first", workflow_input=wf_input)
    await _idle_exit(loop, agent_id)
    _, result = await loop.send(agent_id, "second", workflow_input=wf_input)
    assert result.status == "completed"
    assert [r.text for r in await _rows(loop, agent_id) if r.role == "assistant"] == ["one", "two"]


async def test_back_to_back_turns_share_one_idle_timer_and_the_workflow_still_exits_when_idle(loop, fake_llm) -> None:
    """The idle watcher: no timer is started and cancelled around each turn, and idle exit still happens."""
    from temporalio.api.enums.v1 import EventType

    model = _model()
    fake_llm.script(model, [FakeReply.text(f"r{i}") for i in range(3)])
    agent_id = await loop.agent(f"openai/{model}")
    wf_input = loop.workflow_input(agent_id, idle_timeout_s=1.5)
    for i in range(3):
        _, result = await loop.send(agent_id, f"m{i}", workflow_input=wf_input)
        assert result.status == "completed"
    handle = await _idle_exit(loop, agent_id)
    kinds = [e.event_type for e in (await handle.fetch_history()).events]
    assert EventType.EVENT_TYPE_TIMER_CANCELED not in kinds
    # the watcher's first timer, plus at most a re-arm for the time the turns took
    assert 1 <= kinds.count(EventType.EVENT_TYPE_TIMER_STARTED) <= 2
    assert [r.text for r in await _rows(loop, agent_id) if r.role == "assistant"] == ["r0", "r1", "r2"]


async def test_disabled_agent_rejects_new_turns_without_history_and_then_ends(loop, fake_llm) -> None:
    """A deleted agent's workflow is disabled: while it finishes the turn in flight it rejects new turns
    in the update validator (nothing lands in history), then it ends instead of idling."""
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import WorkflowUpdateFailedError

    from api.workflow_client import disable_agent

    model = _model()
    fake_llm.script(model, [FakeReply.text("first", delay_s=3)])
    agent_id = await loop.agent(f"openai/{model}")
    first_run, _ = await loop.send(agent_id, "hello", wait=False)
    await disable_agent(loop.client, agent_id=agent_id)
    handle = loop.client.get_workflow_handle(agent_workflow_id(agent_id))
    for _ in range(100):  # wait until the workflow has processed the signal
        events = (await handle.fetch_history()).events
        if events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and any(
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED for e in events
        ):
            break
        await asyncio.sleep(0.05)
    before = [e.event_type for e in events]
    try:
        await loop.send(agent_id, "are you there?")
    except WorkflowUpdateFailedError as exc:
        assert "disabled" in str(exc.cause)
    else:
        raise AssertionError("a disabled agent accepted a turn")
    after = [e.event_type for e in (await handle.fetch_history()).events]
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in after[len(before):]
    assert after.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) == 1  # only the first turn
    assert (await loop.wait_run(first_run)).status == "completed"  # the turn in flight finishes
    for _ in range(200):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            break
        await asyncio.sleep(0.05)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
