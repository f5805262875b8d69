"""The agent loop end to end: real Temporal, real Postgres, LLM faked at its HTTP boundary or offline."""

from __future__ import annotations

import uuid

from engram.store import blocks, messages, run_events
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
