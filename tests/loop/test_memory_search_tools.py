"""conversation_search and the archival tools, called by a model inside real turns."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engram.ids import new_id
from engram.store import messages
from engram.store.models import Passage
from engram.tools.executor import ToolContext, execute_builtin
from engram.tools.memory_search import chunk_text
from tests.fake_llm import FakeReply


def _model() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def _tool_returns(loop, run_id: str) -> list[dict]:
    async with loop.sessions() as s:
        rows = await messages.run_output_messages(s, loop.org_id, run_id)
    return [r.tool_returns[0] for r in rows if r.role == "tool"]


def _payload(tool_return: dict) -> object:
    """The tool's own return value inside Letta's packaged {"status", "message", "time"} response."""
    raw = tool_return["func_response"]
    message = json.loads(raw)["message"] if raw.startswith("{") and '"status"' in raw else raw
    return json.loads(message) if isinstance(message, str) and message[:1] in "[{" else message


async def test_archival_insert_then_search_finds_the_passage(loop, fake_llm) -> None:
    model = _model()
    note = "The user's sister Maria lives in Lisbon and works as a marine biologist."
    fake_llm.script(model, [
        FakeReply.tool("archival_memory_insert", {"content": note, "tags": ["family"]}), FakeReply.text("saved"),
        FakeReply.tool("archival_memory_search", {"query": "where does Maria live", "tags": ["family"]}),
        FakeReply.text("found"),
    ])  # fmt: skip
    agent_id = await loop.agent(f"openai/{model}", tools=["archival_memory_insert", "archival_memory_search"])
    run_id, result = await loop.send(agent_id, "remember my sister")
    assert result.stop_reason == "end_turn"
    [insert] = await _tool_returns(loop, run_id)
    assert insert["status"] == "success"
    run_id, _ = await loop.send(agent_id, "where is Maria?")
    [search] = await _tool_returns(loop, run_id)
    results = _payload(search)
    assert search["status"] == "success" and results[0]["content"] == note and results[0]["tags"] == ["family"]


async def test_archival_insert_retried_with_the_same_op_id_stores_once(loop) -> None:
    agent_id = await loop.agent("engram/offline")
    long_text = "\n\n".join(f"Paragraph {i}. " + "Lorem ipsum dolor sit amet. " * 30 for i in range(4))
    assert len(chunk_text(long_text)) > 1
    for _ in range(2):  # an activity retry runs the same call with the same op id
        async with loop.sessions.begin() as s:
            ctx = ToolContext(s, loop.org_id, agent_id, op_id=f"op-{agent_id}", settings=loop.settings)
            result = await execute_builtin(ctx, "archival_memory_insert", {"content": long_text})
            assert not result.is_error, result.text
    async with loop.sessions() as s:
        stored = await s.scalar(select(func.count()).select_from(Passage).where(Passage.agent_id == agent_id))
    assert stored == len(chunk_text(long_text))


async def test_conversation_search_finds_earlier_messages_with_filters(loop, fake_llm) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("nice!")])
    agent_id = await loop.agent(f"openai/{model}", tools=["conversation_search"])
    await loop.send(agent_id, "I adore mountain biking in the Alps")

    async def search(**args) -> dict:
        async with loop.sessions.begin() as s:
            ctx = ToolContext(s, loop.org_id, agent_id, op_id=new_id("op"), settings=loop.settings)
            result = await execute_builtin(ctx, "conversation_search", args)
        assert not result.is_error, result.text
        return json.loads(result.text)

    found = await search(query="biking")
    assert found["message"] == "Showing 1 results:"
    assert found["results"][0]["role"] == "user" and "mountain biking" in found["results"][0]["content"]
    assert (await search(query="biking", roles=["assistant"]))["results"] == []
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert (await search(query="biking", start_date=tomorrow))["message"] == "No results found."
    today = datetime.now(UTC).date().isoformat()
    assert len((await search(query="biking", start_date=today, end_date=today))["results"]) == 1
