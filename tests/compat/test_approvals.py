"""Human approval and client-side tools through letta-client (reference A.8), with the offline model.

The offline model calls a tool the user names ("call X {...}") and then reports what it returned, so
each test drives the whole loop: the run stops with requires_approval, the client answers, the same turn
goes on under the answering request's run.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from letta_client import BadRequestError, ConflictError, Letta

pytestmark = pytest.mark.usefixtures("worker_running")

ASK = 'call archival_memory_insert {"content": "the vault code is 4711"}'
WEATHER = {"name": "get_weather", "description": "Current weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}  # fmt: skip


def _agent(letta: Letta, **extra: Any) -> str:
    agent = letta.agents.create(name="approver", model="engram/offline", agent_type="letta_v1_agent",
                                tools=["archival_memory_insert"], **extra)
    letta.agents.tools.update_approval("archival_memory_insert", agent_id=agent.id, body_requires_approval=True)
    return agent.id


def _asked(letta: Letta, agent_id: str, text: str = ASK, **kw: Any) -> tuple[str, str]:
    """Send `text`; returns (run id, tool_call_id) of the approval request the run stopped on."""
    response = letta.agents.messages.create(agent_id, input=text, **kw)
    assert response.stop_reason.stop_reason == "requires_approval"
    request = response.messages[-1]
    assert request.message_type == "approval_request_message"
    assert request.tool_calls and request.tool_calls[0].tool_call_id == request.tool_call.tool_call_id
    return response.usage.run_ids[0], request.tool_call.tool_call_id


def _approval(tool_call_id: str, approve: bool, reason: str | None = None) -> list[dict[str, Any]]:
    item: dict[str, Any] = {"type": "approval", "tool_call_id": tool_call_id, "approve": approve}
    if reason:
        item["reason"] = reason
    return [{"type": "approval", "approvals": [item]}]


def _passages(letta: Letta, agent_id: str) -> list[str]:
    return [p.text for p in letta.agents.passages.list(agent_id)]


def test_approve_runs_the_tool_and_the_turn_goes_on(letta: Letta) -> None:
    agent_id = _agent(letta)
    run_id, call_id = _asked(letta, agent_id)
    assert letta.runs.retrieve(run_id).stop_reason == "requires_approval"
    waiting = letta.agents.retrieve(agent_id, include=["agent.pending_approval"])
    assert waiting.last_stop_reason == "requires_approval"
    assert waiting.pending_approval and waiting.pending_approval.tool_call.tool_call_id == call_id
    assert _passages(letta, agent_id) == []  # nothing ran yet

    with pytest.raises(ConflictError, match="approve or deny the pending request") as busy:
        letta.agents.messages.create(agent_id, input="hello?")
    assert busy.value.body["code"] == "PENDING_APPROVAL" and call_id in busy.value.body["pending_tool_call_ids"]  # type: ignore[index]
    with pytest.raises(BadRequestError, match="Invalid tool call IDs"):
        letta.agents.messages.create(agent_id, messages=_approval("call_not_pending", True))  # type: ignore[arg-type]

    done = letta.agents.messages.create(agent_id, messages=_approval(call_id, True))  # type: ignore[arg-type]
    first = done.messages[0]
    assert (first.message_type, first.tool_call_id, first.status) == ("tool_return_message", call_id, "success")
    assert done.messages[-1].message_type == "assistant_message"
    assert "archival_memory_insert returned" in done.messages[-1].content
    assert done.stop_reason.stop_reason == "end_turn" and done.usage.run_ids != [run_id]
    assert _passages(letta, agent_id) == ["the vault code is 4711"]
    assert letta.agents.retrieve(agent_id, include=["agent.pending_approval"]).pending_approval is None

    history = list(letta.agents.messages.list(agent_id, order="asc"))
    kinds = [m.message_type for m in history]
    i = kinds.index("approval_request_message")
    assert kinds[i + 1 : i + 3] == ["approval_response_message", "tool_return_message"]
    response = history[i + 1]
    assert response.approve is True and response.approval_request_id == call_id
    assert response.approvals[0].tool_call_id == call_id and response.approvals[0].approve is True

    with pytest.raises(BadRequestError, match="No tool call is currently awaiting approval"):
        letta.agents.messages.create(agent_id, messages=_approval(call_id, True))  # type: ignore[arg-type]
    assert letta.agents.messages.create(agent_id, input="thanks").stop_reason.stop_reason == "end_turn"


def test_deny_with_reason_is_an_error_tool_return(letta: Letta) -> None:
    agent_id = _agent(letta)
    _, call_id = _asked(letta, agent_id)
    done = letta.agents.messages.create(agent_id, messages=_approval(call_id, False, "not with that code"))  # type: ignore[arg-type]
    first = done.messages[0]
    assert first.message_type == "tool_return_message" and first.status == "error"
    assert "denied" in first.tool_return and "not with that code" in first.tool_return
    assert done.stop_reason.stop_reason == "end_turn" and "couldn't complete" in done.messages[-1].content
    assert _passages(letta, agent_id) == []
    [response] = [m for m in letta.agents.messages.list(agent_id) if m.message_type == "approval_response_message"]
    assert response.approvals[0].approve is False and response.approvals[0].reason == "not with that code"


def test_client_tool_result_continues_the_run(letta: Letta) -> None:
    agent_id = _agent(letta)
    _, call_id = _asked(letta, agent_id, 'call get_weather {"city": "Paris"}', client_tools=[WEATHER])
    answer = [{"type": "approval", "approvals": [
        {"type": "tool", "tool_call_id": call_id, "tool_return": "sunny, 21 C", "status": "success"}]}]  # fmt: skip
    done = letta.agents.messages.create(agent_id, messages=answer, client_tools=[WEATHER])  # type: ignore[arg-type]
    assert done.messages[0].message_type == "tool_return_message" and done.messages[0].tool_return == "sunny, 21 C"
    assert "get_weather returned: sunny, 21 C" in done.messages[-1].content
    [response] = [m for m in letta.agents.messages.list(agent_id) if m.message_type == "approval_response_message"]
    assert response.approvals[0].type == "tool" and response.approvals[0].tool_return == "sunny, 21 C"


def test_streaming_shows_the_request_and_a_tool_return_answers_it(letta: Letta) -> None:
    agent_id = _agent(letta)
    for stream_tokens in (False, True):
        chunks = list(letta.agents.messages.create(
            agent_id, input='call get_weather {"city": "Oslo"}', client_tools=[WEATHER], streaming=True,
            stream_tokens=stream_tokens,
        ))  # fmt: skip
        kinds = [c.message_type for c in chunks if c.message_type != "ping"]
        assert kinds[-2:] == ["stop_reason", "usage_statistics"] and "tool_call_message" not in kinds
        requests = [c for c in chunks if c.message_type == "approval_request_message"]
        assert requests and requests[0].tool_call.name == "get_weather"
        assert [c.stop_reason for c in chunks if c.message_type == "stop_reason"] == ["requires_approval"]
        call_id = requests[0].tool_call.tool_call_id
        answer = [{"type": "tool_return", "tool_returns": [
            {"type": "tool", "tool_call_id": call_id, "tool_return": "snow", "status": "success"}]}]  # fmt: skip
        after = [c for c in letta.agents.messages.create(agent_id, messages=answer, streaming=True)  # type: ignore[arg-type]
                 if c.message_type != "ping"]  # fmt: skip
        assert after[0].message_type == "tool_return_message" and after[0].tool_return == "snow"
        assert [c.stop_reason for c in after if c.message_type == "stop_reason"] == ["end_turn"]


def test_cancel_while_waiting_denies_and_frees_the_agent(letta: Letta) -> None:
    agent_id = _agent(letta)
    run_id, call_id = _asked(letta, agent_id)
    assert letta.agents.messages.cancel(agent_id) == {run_id: "cancelled"}
    assert letta.runs.retrieve(run_id).status == "cancelled"
    returns = [m for m in letta.agents.messages.list(agent_id) if m.message_type == "tool_return_message"]
    assert returns[0].tool_call_id == call_id and returns[0].status == "error"
    assert "cancelled" in returns[0].tool_return
    assert letta.agents.messages.create(agent_id, input="hello again").stop_reason.stop_reason == "end_turn"
    assert _passages(letta, agent_id) == []


def test_pending_approval_is_denied_after_its_timeout(letta: Letta) -> None:
    agent_id = _agent(letta, metadata={"approval_timeout_s": 0.5})
    _, call_id = _asked(letta, agent_id)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        returns = [m for m in letta.agents.messages.list(agent_id) if m.message_type == "tool_return_message"]
        if returns:
            break
        time.sleep(0.1)
    assert returns and returns[0].tool_call_id == call_id and returns[0].status == "error"
    assert "No approval arrived within 0.5 seconds" in returns[0].tool_return
    assert letta.agents.messages.create(agent_id, input="still there?").stop_reason.stop_reason == "end_turn"


def test_turning_approval_off_runs_the_tool_directly(letta: Letta) -> None:
    agent_id = _agent(letta)
    letta.agents.tools.update_approval("archival_memory_insert", agent_id=agent_id, body_requires_approval=False)
    done = letta.agents.messages.create(agent_id, input=ASK)
    assert done.stop_reason.stop_reason == "end_turn"
    assert [m.message_type for m in done.messages][:2] == ["reasoning_message", "tool_call_message"]
    assert json.loads(done.messages[1].tool_call.arguments) == {"content": "the vault code is 4711"}


def test_a_conversation_waits_on_its_own_and_its_cancel_denies(letta: Letta) -> None:
    agent_id = _agent(letta)
    conv = letta.conversations.create(agent_id=agent_id)
    chunks = [c for c in letta.conversations.messages.create(conv.id, input=ASK) if c.message_type != "ping"]
    [request] = [c for c in chunks if c.message_type == "approval_request_message"]
    assert [c.stop_reason for c in chunks if c.message_type == "stop_reason"] == ["requires_approval"]
    # The agent's own thread is not blocked by the conversation's pending call, and vice versa.
    assert letta.agents.messages.create(agent_id, input="hi").stop_reason.stop_reason == "end_turn"
    with pytest.raises(ConflictError, match="PENDING_APPROVAL"):
        list(letta.conversations.messages.create(conv.id, input="and now?"))
    cancelled = letta.conversations.cancel(conv.id)
    assert list(cancelled.values()) == ["cancelled"]
    after = [c for c in letta.conversations.messages.create(conv.id, input="and now?") if c.message_type != "ping"]
    assert [c.stop_reason for c in after if c.message_type == "stop_reason"] == ["end_turn"]
    history = list(letta.conversations.messages.list(conv.id, order="asc").items)
    denied = [m for m in history if m.message_type == "tool_return_message"]
    assert denied[0].tool_call_id == request.tool_call.tool_call_id and denied[0].status == "error"


def test_heartbeat_agent_approval_with_a_user_message_alongside(letta: Letta) -> None:
    agent = letta.agents.create(name="approver-v2", model="engram/offline", agent_type="memgpt_v2_agent",
                                tools=["archival_memory_insert"])  # fmt: skip
    letta.agents.tools.update_approval("archival_memory_insert", agent_id=agent.id, body_requires_approval=True)
    _, call_id = _asked(letta, agent.id)
    answer = [*_approval(call_id, True), {"type": "message", "role": "user", "content": "thanks, that is all"}]
    done = letta.agents.messages.create(agent.id, messages=answer)  # type: ignore[arg-type]
    assert done.messages[0].message_type == "tool_return_message" and done.messages[0].status == "success"
    assert done.stop_reason.stop_reason == "end_turn"
    assert [m for m in done.messages if m.message_type == "assistant_message"]
    assert _passages(letta, agent.id) == ["the vault code is 4711"]


def test_reset_messages_drops_what_waited(letta: Letta) -> None:
    agent_id = _agent(letta)
    _asked(letta, agent_id)
    letta.agents.messages.reset(agent_id)
    assert letta.agents.messages.create(agent_id, input="fresh start").stop_reason.stop_reason == "end_turn"


SECRET = 'def secret_code(text: str) -> str:\n    """Make a secret code.\n\n    Args:\n        text: The input.\n    """\n    return text[::-1]\n'


def test_a_custom_tool_with_default_requires_approval(letta: Letta) -> None:
    tool = letta.tools.upsert(source_code=SECRET, default_requires_approval=True)
    agent = letta.agents.create(name="approver-custom", model="engram/offline", tool_ids=[tool.id])
    _, call_id = _asked(letta, agent.id, 'call secret_code {"text": "abc"}')
    done = letta.agents.messages.create(agent.id, messages=_approval(call_id, True))  # type: ignore[arg-type]
    assert (done.messages[0].tool_return, done.messages[0].status) == ("cba", "success")  # ran in the sandbox
    letta.agents.tools.update_approval("secret_code", agent_id=agent.id, body_requires_approval=False)
    direct = letta.agents.messages.create(agent.id, input='call secret_code {"text": "xyz"}')
    assert direct.stop_reason.stop_reason == "end_turn" and "secret_code returned: zyx" in direct.messages[-1].content
