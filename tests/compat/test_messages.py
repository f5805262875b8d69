"""`client.agents.messages` through the real letta-client against a live Engram (offline model)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from letta_client import AsyncLetta, ConflictError, Letta, NotFoundError, UnprocessableEntityError
from letta_client.types.agents import AssistantMessage, UserMessage
from letta_client.types.agents.letta_streaming_response import (
    LettaPing,
    LettaStopReason,
    LettaUsageStatistics,
)

from engram.ids import DEFAULT_ORG_ID, new_id
from engram.schemas.agent import AgentSpec
from engram.store import agents as agents_repo
from engram.store import messages as messages_repo

LLM = {"model": "offline", "model_endpoint_type": "openai", "context_window": 32000}
STOP_REASONS = {"end_turn", "error", "llm_api_error", "invalid_llm_response", "invalid_tool_call", "max_steps",
                "max_tokens_exceeded", "no_tool_call", "tool_rule", "cancelled", "insufficient_credits",
                "requires_approval", "context_window_overflow_in_system_prompt"}  # fmt: skip


def _new_agent(letta: Letta, name: str = "compat") -> str:
    agent = letta.agents.create(
        name=name, model="engram/offline", agent_type="memgpt_v2_agent",
        memory_blocks=[{"label": "human", "value": "The user is Sam."}, {"label": "persona", "value": "Helpful."}],
    )  # fmt: skip
    return agent.id


# ---- no worker needed --------------------------------------------------------------------------------------


async def test_bad_bodies_are_422_with_a_message(sessions: Any, aletta: AsyncLetta) -> None:
    async with sessions.begin() as s:
        agent = await agents_repo.create_agent(s, DEFAULT_ORG_ID, AgentSpec(name="v", model="engram/offline"),
                                               llm_config=LLM)  # fmt: skip
    cases: list[dict[str, Any]] = [
        {"input": "hi", "messages": [{"role": "user", "content": "hi"}]},
        {},
        {"input": "hi", "stream_tokens": True},
        {"messages": [{"role": "wizard", "content": "hi"}]},
    ]
    for body in cases:
        with pytest.raises(UnprocessableEntityError) as err:
            await aletta.agents.messages.create(agent.id, extra_body=body)  # type: ignore[call-overload]
        assert err.value.body and "detail" in err.value.body  # type: ignore[operator]
    with pytest.raises(UnprocessableEntityError) as both:
        await aletta.agents.messages.create(agent.id, input="a", messages=[{"role": "user", "content": "b"}])
    assert "Cannot specify both" in json.dumps(both.value.body)
    with pytest.raises(UnprocessableEntityError) as neither:
        await aletta.agents.messages.create(agent.id)
    assert "Must specify either" in json.dumps(neither.value.body)
    with pytest.raises(NotFoundError):
        await aletta.agents.messages.create(new_id("agent"), input="hi")
    with pytest.raises(UnprocessableEntityError):
        await aletta.agents.messages.list("agent-123")


async def test_message_list_pages_to_the_end_newest_first(sessions: Any, letta: Letta) -> None:
    """Rows written as the loop would; `after` under the default desc order pages towards older messages."""
    async with sessions.begin() as s:
        agent = await agents_repo.create_agent(s, DEFAULT_ORG_ID, AgentSpec(name="p", model="engram/offline"),
                                               llm_config=LLM)  # fmt: skip
        rows = []
        for i in range(5):
            call = {"id": f"call_{i}", "type": "function",
                    "function": {"name": "send_message", "arguments": json.dumps({"message": f"reply {i}"})}}  # fmt: skip
            rows += [
                {"id": new_id("message"), "organization_id": DEFAULT_ORG_ID, "agent_id": agent.id, "role": "user",
                 "content": [{"type": "text", "text": f"question {i}"}], "text": f"question {i}"},
                {"id": new_id("message"), "organization_id": DEFAULT_ORG_ID, "agent_id": agent.id,
                 "role": "assistant", "content": [], "text": "", "tool_calls": [call]},
                {"id": new_id("message"), "organization_id": DEFAULT_ORG_ID, "agent_id": agent.id, "role": "tool",
                 "name": "send_message", "tool_call_id": f"call_{i}", "content": [], "text": "None",
                 "tool_returns": [{"tool_call_id": f"call_{i}", "status": "success", "func_response": "None"}]},
            ]  # fmt: skip
        await messages_repo.insert_messages(s, rows)

    listed = list(letta.agents.messages.list(agent.id, limit=2))
    texts = [m.content for m in listed if isinstance(m, (UserMessage, AssistantMessage))]
    assert texts[:3] == ["reply 4", "question 4", "reply 3"]
    assert texts[-1] == "question 0"
    assert len(texts) == 10  # send_message returns are hidden; every question and reply exactly once
    assert not any(type(m).__name__ == "SystemMessage" for m in listed)
    older = letta.agents.messages.list(agent.id, after=rows[-2]["id"], limit=1)
    assert [m.content for m in older.items] == ["question 4"]  # type: ignore[union-attr]
    oldest_first = letta.agents.messages.list(agent.id, order="asc", limit=1)
    assert [m.content for m in oldest_first.items] == ["question 0"]  # type: ignore[union-attr]


# ---- real turns of the offline model ----------------------------------------------------------------------


@pytest.mark.usefixtures("worker_running")
def test_sync_send_returns_typed_messages(letta: Letta) -> None:
    agent_id = _new_agent(letta)
    response = letta.agents.messages.create(agent_id, messages=[{"role": "user", "content": "Hello there"}])
    assistants = [m for m in response.messages if isinstance(m, AssistantMessage)]
    assert assistants, [type(m).__name__ for m in response.messages]
    assert not any(type(m).__name__ == "SystemMessage" for m in response.messages)
    for m in response.messages:
        assert m.id.startswith("message-") and m.date is not None and m.otid and m.run_id
    assert response.stop_reason.stop_reason in STOP_REASONS
    assert response.usage.step_count and response.usage.step_count >= 1
    run_id = assistants[0].run_id
    assert response.usage.run_ids == [run_id]
    assert letta.runs.retrieve(run_id).status == "completed"  # type: ignore[arg-type]


@pytest.mark.parametrize("stream_tokens", [False, True])
@pytest.mark.usefixtures("worker_running")
def test_streaming_send_reassembles_by_otid_and_ends_with_stop_and_usage(
    letta: Letta, stream_tokens: bool
) -> None:
    agent_id = _new_agent(letta)
    chunks = list(letta.agents.messages.create(agent_id, input="Tell me something", streaming=True,
                                               stream_tokens=stream_tokens))  # fmt: skip
    assert isinstance(chunks[0], LettaPing) and chunks[0].run_id
    body = [c for c in chunks if not isinstance(c, LettaPing)]
    assert not any(type(c).__name__ == "SystemMessage" for c in body)
    assert isinstance(body[-2], LettaStopReason) and body[-2].stop_reason in STOP_REASONS
    assert isinstance(body[-1], LettaUsageStatistics)
    seqs = [c.seq_id for c in body]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    replies: dict[str, str] = {}
    for c in body:
        if isinstance(c, AssistantMessage):
            replies[c.otid or ""] = replies.get(c.otid or "", "") + str(c.content)
    assert replies and all(replies.values())
    # The assembled text is the message the agent stored.
    listed = [m for m in letta.agents.messages.list(agent_id) if isinstance(m, AssistantMessage)]
    assert {m.otid: m.content for m in listed} == replies


@pytest.fixture()
def callback_receiver() -> Iterator[tuple[str, list[dict[str, Any]], threading.Event]]:
    received: list[dict[str, Any]] = []
    got = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            length = int(self.headers.get("content-length") or 0)
            received.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(200)
            self.end_headers()
            got.set()

        def log_message(self, *_: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received, got
    server.shutdown()


@pytest.mark.usefixtures("worker_running")
async def test_async_send_returns_a_run_that_completes_and_calls_back(
    letta: Letta, aletta: AsyncLetta, callback_receiver: Any
) -> None:
    import asyncio

    url, received, got = callback_receiver
    agent_id = _new_agent(letta, "async")
    run = await aletta.agents.messages.create_async(agent_id, input="Hi in the background", callback_url=url)
    assert run.id.startswith("run-") and run.agent_id == agent_id and run.status in ("created", "running")
    assert run.callback_url == url
    for _ in range(300):
        run = await aletta.runs.retrieve(run.id)
        if run.status in ("completed", "failed", "cancelled"):
            break
        await asyncio.sleep(0.1)
    assert run.status == "completed" and run.stop_reason in STOP_REASONS
    assert await asyncio.to_thread(got.wait, 30)
    assert received[0].get("run_id", received[0].get("id")) == run.id


@pytest.mark.usefixtures("worker_running")
def test_retried_send_with_the_same_otid_is_one_turn(letta: Letta) -> None:
    agent_id = _new_agent(letta, "retry")
    otid = str(uuid.uuid4())
    message = [{"role": "user", "content": "Only once please", "otid": otid}]
    first = letta.agents.messages.create(agent_id, messages=message)
    again = letta.agents.messages.create(
        agent_id, messages=message, extra_headers={"x-stainless-retry-count": "1"}
    )
    assert [m.id for m in again.messages] == [m.id for m in first.messages]
    users = [m for m in letta.agents.messages.list(agent_id) if isinstance(m, UserMessage) and m.otid == otid]
    assert len(users) == 1
    runs = list(letta.runs.list(agent_id=agent_id))
    assert len(runs) == 1


async def test_cancel_with_nothing_active_is_409_not_retried(
    sessions: Any, letta: Letta, live_url: str
) -> None:
    async with sessions.begin() as s:
        agent = await agents_repo.create_agent(s, DEFAULT_ORG_ID, AgentSpec(name="idle", model="engram/offline"),
                                               llm_config=LLM)  # fmt: skip
    agent_id = agent.id
    with pytest.raises(ConflictError):
        letta.agents.messages.cancel(agent_id)
    raw = httpx.post(f"{live_url}/v1/agents/{agent_id}/messages/cancel", json={})
    assert raw.status_code == 409 and raw.headers["x-should-retry"] == "false"


@pytest.mark.usefixtures("worker_running")
def test_sdk_retry_of_an_identical_body_attaches_to_the_first_run(letta: Letta) -> None:
    """No otid: only a request the SDK marks as a retry is deduped; the same text sent again on purpose is a turn."""
    agent_id = _new_agent(letta, "body-retry")
    first = letta.agents.messages.create(agent_id, input="Same words")
    retried = letta.agents.messages.create(
        agent_id, input="Same words", extra_headers={"x-stainless-retry-count": "1"}
    )
    assert retried.usage.run_ids == first.usage.run_ids
    streamed = list(letta.agents.messages.create(agent_id, input="Streamed words", streaming=True))
    replayed = list(letta.agents.messages.create(agent_id, input="Streamed words", streaming=True,
                                                 extra_headers={"x-stainless-retry-count": "1"}))  # fmt: skip
    assert [c.model_dump() for c in streamed[1:]] == [c.model_dump() for c in replayed[1:]]  # after the pings
    again = letta.agents.messages.create(agent_id, input="Same words")
    assert again.usage.run_ids != first.usage.run_ids
    users = [
        m
        for m in letta.agents.messages.list(agent_id)
        if isinstance(m, UserMessage) and m.content == "Same words"
    ]
    assert len(users) == 2


@pytest.mark.usefixtures("worker_running")
def test_reset_and_summarize(letta: Letta) -> None:
    agent_id = _new_agent(letta, "reset")
    letta.agents.messages.create(agent_id, input="Remember this turn")
    for text in ("My name is Ada", "I like chess", "What is my name?"):
        letta.agents.messages.create(agent_id, input=text)
    compacted = letta.agents.messages.compact(agent_id)
    assert compacted.num_messages_after < compacted.num_messages_before and "Remember this turn" in compacted.summary
    state = letta.agents.messages.reset(agent_id)
    assert state is None or state.id == agent_id
    after = letta.agents.messages.compact(agent_id)
    assert after.num_messages_before == 1  # only the system message is left in context
    assert any(
        isinstance(m, UserMessage) for m in letta.agents.messages.list(agent_id)
    )  # recall keeps history
    reply = letta.agents.messages.create(agent_id, input="Hello again")
    assert any(isinstance(m, AssistantMessage) for m in reply.messages)
