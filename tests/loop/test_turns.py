"""The agent loop end to end: real Temporal, real Postgres, LLM faked at its HTTP boundary or offline."""

from __future__ import annotations

import uuid

from temporalio.testing import ActivityEnvironment

from activities.contracts import LlmStepInput
from activities.llm import LlmActivities
from engram.store import blocks, messages, run_events, runs
from tests.fake_llm import FakeReply


def _model() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def _outputs(loop, run_id: str) -> list:
    async with loop.sessions() as s:
        return await messages.run_output_messages(s, loop.org_id, run_id)


async def _events(loop, run_id: str) -> list:
    async with loop.sessions() as s:
        return await run_events.read_events(s, run_id, 0)


async def test_offline_model_remembers_name_across_turns(loop) -> None:
    agent_id = await loop.agent("engram/offline", agent_type="memgpt_v2_agent")
    _, first = await loop.send(agent_id, "My name is Ada and I like chess")
    assert first is not None and first.status == "completed", first
    async with loop.sessions() as s:
        human = await blocks.get_agent_block_by_label(s, loop.org_id, agent_id, "human")
    assert "Ada" in human.value and "chess" in human.value
    run_id, second = await loop.send(agent_id, "What is my name?")
    assert second is not None and second.stop_reason == "end_turn"
    said = [c["function"]["arguments"] for r in await _outputs(loop, run_id) for c in r.tool_calls or []
            if c["function"]["name"] == "send_message"]  # fmt: skip
    assert any("Ada" in a for a in said)
    kinds = [e.kind for e in await _events(loop, run_id)]
    assert kinds[-3:] == ["stop_reason", "usage", "done"]


async def test_letta_v1_plain_text_reply_ends_turn(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("Hello there")])
    agent_id = await loop.agent(f"openai/{model}")
    run_id, result = await loop.send(agent_id, "hi")
    assert result.stop_reason == "end_turn" and result.status == "completed"
    rows = await _outputs(loop, run_id)
    assert [r.text for r in rows] == ["Hello there"]


async def test_a_plain_turn_is_one_activity_that_begins_and_finishes_the_run(loop, fake_llm) -> None:
    """Fused turn boundaries: no begin/finish local activities, yet the run is closed like before."""
    model = _model()
    fake_llm.script(model, [FakeReply.text("Hello there")])
    agent_id = await loop.agent(f"openai/{model}")
    run_id, result = await loop.send(agent_id, "hi")
    assert (result.status, result.stop_reason, result.step_count) == ("completed", "end_turn", 1)
    assert result.usage["total_tokens"] > 0
    history = await loop.client.get_workflow_handle(f"agent:{agent_id}").fetch_history()
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
                 if e.HasField("activity_task_scheduled_event_attributes")]  # fmt: skip
    local = [e for e in history.events if e.HasField("marker_recorded_event_attributes")
             and e.marker_recorded_event_attributes.marker_name == "core_local_activity"]  # fmt: skip
    assert scheduled == ["llm_step.v1"] and local == []
    async with loop.sessions() as s:
        run = await runs.get_run(s, loop.org_id, run_id)
        inputs = await messages.run_messages(s, loop.org_id, run_id)
    assert run.status == "completed" and run.stop_reason == "end_turn" and run.usage["total_tokens"] > 0
    assert run.workflow_id == f"agent:{agent_id}" and run.temporal_run_id and run.total_duration_ns > 0
    assert [r.role for r in inputs] == ["user", "assistant"]  # the step stored the input it began with
    kinds = [e.kind for e in await _events(loop, run_id)]
    assert kinds[-3:] == ["stop_reason", "usage", "done"] and kinds.count("done") == 1


async def test_a_step_retried_after_it_finished_the_run_neither_calls_the_model_nor_closes_twice(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("Only once")])
    agent_id = await loop.agent(f"openai/{model}")
    run_id, _ = await loop.send(agent_id, "hi")
    step = LlmStepInput(loop.org_id, agent_id, run_id, 0, begins_turn=True, may_finish_turn=True)
    activities = LlmActivities(loop.sessions, loop.settings)
    again = await ActivityEnvironment().run(activities.llm_step, step)  # what a retry after the commit runs
    assert again.finished_turn and again.stop_reason == "end_turn" and again.turn_start is not None
    assert len(fake_llm.requests(model)) == 1
    kinds = [e.kind for e in await _events(loop, run_id)]
    assert kinds.count("done") == 1 and kinds.count("usage") == 1


async def test_token_deltas_are_recorded_only_for_runs_that_asked_for_them(loop, fake_llm) -> None:
    """A run without stream_tokens makes a plain (non-streaming) model call and writes no `delta` events."""
    model = _model()
    fake_llm.script(model, [FakeReply.text("Hello there"), FakeReply.text("Hello again")])
    agent_id = await loop.agent(f"openai/{model}")
    plain_run, _ = await loop.send(agent_id, "hi")
    token_run, _ = await loop.send(agent_id, "hi again", stream_tokens=True)
    plain = [e.kind for e in await _events(loop, plain_run)]
    tokens = [e.kind for e in await _events(loop, token_run)]
    assert "delta" not in plain and "message_final" not in plain and "message" in plain
    assert "delta" in tokens and "message_final" in tokens
    assert [bool(r.get("stream")) for r in fake_llm.requests(model)] == [False, True]
    assert [r.text for r in await _outputs(loop, plain_run)] == ["Hello there"]
    assert [r.text for r in await _outputs(loop, token_run)] == ["Hello again"]
