"""The OpenAI provider drives the real `openai` SDK against the local fake server (no SDK patching)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest

from engram.llm.base import ChatMessage, LlmRequest, StreamDelta, ToolCall, ToolSpec
from engram.llm.errors import (
    ContextWindowExceeded,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)
from engram.llm.openai_provider import OpenAIProvider
from tests.fake_llm import FakeLlmServer, FakeReply, FakeToolCall

SEND_MESSAGE = ToolSpec(
    "send_message",
    "Sends a message to the human user.",
    {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
)
MEMORY_INSERT = ToolSpec(
    "memory_insert",
    "Insert text into a memory block.",
    {
        "type": "object",
        "properties": {
            "label": {"type": "string"},
            "new_string": {"type": "string"},
            "request_heartbeat": {"type": "boolean"},
        },
        "required": ["label", "new_string", "request_heartbeat"],
    },
)


@pytest.fixture(scope="session")
def fake_llm() -> FakeLlmServer:
    return FakeLlmServer.shared()


@pytest.fixture
async def provider(fake_llm: FakeLlmServer) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(api_key="sk-test", base_url=fake_llm.url)
    yield provider
    await provider.aclose()


def _model() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _request(model: str, **kw: object) -> LlmRequest:
    history = [
        ChatMessage("system", "You are a helpful agent."),
        ChatMessage("user", "My name is Ada"),
        ChatMessage("assistant", None, [ToolCall("call_1", "memory_insert", '{"label": "human"}')]),
        ChatMessage("tool", '{"status": "OK"}', tool_call_id="call_1", name="memory_insert"),
    ]
    return LlmRequest(model=model, messages=history, tools=[SEND_MESSAGE, MEMORY_INSERT], **kw)  # type: ignore[arg-type]


async def _streamed(provider: OpenAIProvider, request: LlmRequest) -> tuple[object, list[StreamDelta]]:
    deltas: list[StreamDelta] = []

    async def collect(delta: StreamDelta) -> None:
        deltas.append(delta)

    return await provider.complete(request, collect), deltas


async def test_tool_call_and_history_round_trip(provider: OpenAIProvider, fake_llm: FakeLlmServer) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.tool("send_message", {"message": "Hi Ada"})])
    response = await provider.complete(_request(model))

    assert [(c.name, c.arguments) for c in response.tool_calls] == [("send_message", '{"message": "Hi Ada"}')]
    assert response.finish_reason == "tool_calls"
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens > 0
    sent = fake_llm.requests(model)[0]
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool"]
    assert sent["messages"][2]["tool_calls"][0]["function"] == {
        "name": "memory_insert",
        "arguments": '{"label": "human"}',
    }
    assert sent["messages"][3]["tool_call_id"] == "call_1"
    assert [t["function"]["name"] for t in sent["tools"]] == ["send_message", "memory_insert"]
    assert sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is False


async def test_streamed_response_equals_plain_response(
    provider: OpenAIProvider, fake_llm: FakeLlmServer
) -> None:
    model = _model()
    reply = FakeReply.tools(
        FakeToolCall(
            "memory_insert",
            {"label": "human", "new_string": "Name: Ada", "request_heartbeat": True},
            "call_a",
        ),
        FakeToolCall("send_message", {"message": "Saved."}, "call_b"),
        content="Let me save that.",
        reasoning="User told me their name.",
    )
    fake_llm.script(model, [reply, reply])
    plain = await provider.complete(_request(model))
    streamed, deltas = await _streamed(provider, _request(model))

    assert streamed == plain
    assert "".join(d.text for d in deltas if d.kind == "content") == "Let me save that."
    assert "".join(d.text for d in deltas if d.kind == "reasoning") == "User told me their name."
    for index, call in enumerate(streamed.tool_calls):
        fragments = [d for d in deltas if d.kind == "tool_call" and d.index == index]
        assert (fragments[0].tool_call_id, fragments[0].tool_name) == (call.id, call.name)
        assert "".join(d.text for d in fragments) == call.arguments
    assert fake_llm.requests(model)[1]["stream_options"] == {"include_usage": True}


async def test_malformed_tool_arguments_pass_through_raw(
    provider: OpenAIProvider, fake_llm: FakeLlmServer
) -> None:
    model = _model()
    broken = '{"message": "unterminated'
    fake_llm.script(model, [FakeReply.tool("send_message", broken), FakeReply.tool("send_message", broken)])

    assert (await provider.complete(_request(model))).tool_calls[0].arguments == broken
    streamed, _ = await _streamed(provider, _request(model))
    assert streamed.tool_calls[0].arguments == broken


async def test_forced_tool_and_max_tokens_reach_the_server(
    provider: OpenAIProvider, fake_llm: FakeLlmServer
) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.tool("send_message", {"message": "ok"})])
    await provider.complete(_request(model, tool_choice="send_message", max_tokens=64, temperature=0.0))

    sent = fake_llm.requests(model)[0]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "send_message"}}
    assert sent["max_tokens"] == 64  # a compatible server gets the classic parameter
    assert sent["temperature"] == 0.0


@pytest.mark.parametrize(
    ("reply", "error", "retryable"),
    [
        (FakeReply.http_error(429, "slow down", "rate_limit_exceeded"), RateLimited, True),
        (FakeReply.http_error(500), ProviderUnavailable, True),
        (FakeReply.http_error(503), ProviderUnavailable, True),
        (FakeReply.http_error(401, "Incorrect API key provided", "invalid_api_key"), ProviderRejected, False),
        (FakeReply.http_error(404, "The model does not exist", "model_not_found"), ProviderRejected, False),
        (FakeReply.http_error(429, "You exceeded your quota", "insufficient_quota"), ProviderRejected, False),
        (FakeReply.context_overflow(), ContextWindowExceeded, False),
    ],
    ids=["429", "500", "503", "401", "404", "quota", "context"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_http_errors_map_to_llm_errors_without_sdk_retries(
    provider: OpenAIProvider,
    fake_llm: FakeLlmServer,
    reply: FakeReply,
    error: type,
    retryable: bool,
    stream: bool,
) -> None:
    model = _model()
    fake_llm.script(model, [reply])
    with pytest.raises(error) as caught:
        if stream:
            await _streamed(provider, _request(model))
        else:
            await provider.complete(_request(model))

    assert caught.value.retryable is retryable
    assert len(fake_llm.requests(model)) == 1  # the SDK did not retry; Temporal will


async def test_unreachable_server_is_retryable_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    provider = OpenAIProvider(api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.complete(_request(_model()))
    assert caught.value.retryable
    await provider.aclose()


async def test_slow_server_times_out_as_unavailable(fake_llm: FakeLlmServer) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("late", delay_s=2.0)])
    provider = OpenAIProvider(api_key="sk-test", base_url=fake_llm.url, timeout=0.2)
    with pytest.raises(ProviderUnavailable):
        await provider.complete(_request(model))
    assert len(fake_llm.requests(model)) == 1
    await provider.aclose()


async def test_models_are_listed_from_the_server(provider: OpenAIProvider, fake_llm: FakeLlmServer) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("hi")])
    assert model in await provider.list_model_names()


async def test_stream_cut_off_mid_answer_is_retryable_not_a_partial_answer(
    provider: OpenAIProvider, fake_llm: FakeLlmServer
) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.tool("send_message", {"message": "a long answer"}, cut_after_chunks=4)])
    with pytest.raises(ProviderUnavailable) as caught:
        await _streamed(provider, _request(model))
    assert caught.value.retryable


async def test_a_message_sent_again_is_encoded_once_and_sent_the_same(
    provider: OpenAIProvider, fake_llm: FakeLlmServer
) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("one"), FakeReply.text("two")])
    request = _request(model)
    await provider.complete(request)
    encoded = [m.derived["openai"] for m in request.messages]
    request.messages.append(ChatMessage(role="user", content="and then? ünïcode"))
    await provider.complete(request)
    assert [m.derived["openai"] for m in request.messages[:-1]] == encoded
    assert all(a is b for a, b in zip(encoded, [m.derived["openai"] for m in request.messages], strict=False))
    first, second = fake_llm.requests(model)
    assert second["messages"][:-1] == first["messages"]
    assert second["messages"][-1] == {"role": "user", "content": "and then? ünïcode"}
    assert second["model"] == first["model"] == model and second["tools"] == first["tools"]
