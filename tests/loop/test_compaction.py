"""A full context window is compacted (summary + eviction) instead of failing the turn."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from engram.ids import new_id
from engram.store import agents, messages
from engram.store.models import Message
from engram.tools.executor import ToolContext, execute_builtin


async def test_long_conversation_is_compacted_and_evicted_messages_stay_searchable(loop) -> None:
    agent_id = await loop.agent("engram/offline", context_window_limit=2500, include_base_tools=False,
                                tools=["conversation_search"])  # fmt: skip
    for i in range(12):
        _, result = await loop.send(agent_id, f"Story part {i}: the zebra number {i} " + "walked far away. " * 25)
        assert (result.status, result.stop_reason) == ("completed", "end_turn"), i
    async with loop.sessions() as s:
        agent = await agents.get_agent(s, loop.org_id, agent_id)
        in_context = await messages.in_context_messages(s, agent)
        total = await messages.count_messages(s, loop.org_id, agent_id)
        summary = await messages.get_message(s, loop.org_id, agent.summary_message_id)
    assert agent.summary_message_id is not None and in_context[0].id == agent.summary_message_id
    assert len(in_context) < total - 1
    alert = json.loads(summary.text)
    assert alert["type"] == "system_alert" and "hidden from view" in alert["message"] and "Story part" in alert["message"]

    async with loop.sessions.begin() as s:
        ctx = ToolContext(s, loop.org_id, agent_id, op_id=new_id("op"), settings=loop.settings)
        found = json.loads((await execute_builtin(ctx, "conversation_search", {"query": "zebra number 0"})).text)
    assert any("Story part 0:" in r["content"] for r in found["results"])  # evicted, still in recall memory


LONG_TURNS = 200


async def test_hundreds_of_turns_compact_repeatedly_and_recall_keeps_turn_3(loop) -> None:
    agent_id = await loop.agent("engram/offline", context_window_limit=3000, include_base_tools=False,
                                tools=["conversation_search"])  # fmt: skip
    for i in range(LONG_TURNS):
        text = "My locker code is 4417-Q, please remember it." if i == 3 else f"Turn {i}: chatting about the weather."
        _, result = await loop.send(agent_id, text)
        assert (result.status, result.stop_reason) == ("completed", "end_turn"), i
    async with loop.sessions() as s:
        agent = await agents.get_agent(s, loop.org_id, agent_id)
        in_context = await messages.in_context_messages(s, agent)
        summaries = await s.scalar(select(func.count()).select_from(Message).where(
            Message.agent_id == agent_id, Message.text.startswith('{"type": "system_alert"')))  # fmt: skip
    assert summaries >= 5 and in_context[0].id == agent.summary_message_id
    assert len(in_context) < 40

    async with loop.sessions.begin() as s:
        ctx = ToolContext(s, loop.org_id, agent_id, op_id=new_id("op"), settings=loop.settings)
        found = json.loads((await execute_builtin(ctx, "conversation_search", {"query": "locker code"})).text)
    assert "4417-Q" in found["results"][0]["content"]
