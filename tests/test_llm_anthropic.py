"""The Anthropic provider drives the real `anthropic` SDK against the local fake server (no SDK patching)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from engram.llm.anthropic_provider import DEFAULT_MAX_TOKENS, AnthropicProvider
from engram.llm.base import ChatMessage, LlmRequest, LlmResponse, StreamDelta, ToolCall, ToolSpec
from engram.llm.errors import ContextWindowExceeded, ProviderRejected, ProviderUnavailable, RateLimited
from tests.fake_llm import FakeLlmServer, FakeReply, FakeToolCall

SEND_MESSAGE = ToolSpec(
    "send_message",
    "Sends a message to the human user.",
    {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
)
CORE_MEMORY_APPEND = ToolSpec(
    "core_memory_append",
    "Append to the contents of a core memory block.",
    {
        "type": "object",
        "properties": {"label": {"type": "string"}, "content": {"type": "string"}},
        "required": ["label", "content"],
    },
)


@pytest.fixture(scope="session")
def fake_llm() -> FakeLlmServer:
    return FakeLlmServer.shared()


@pytest.fixture
async def provider(fake_llm: FakeLlmServer) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(api_key="sk-ant-test", base_url=fake_llm.anthropic_url)
    yield provider
    await provider.aclose()


def _model() -> str:
    return f"claude-t-{uuid.uuid4().hex[:10]}"


def _request(model: str, **kw: object) -> LlmRequest:
    history = [
        ChatMessage("system", "You are a helpful agent."),
        ChatMessage("user", "My name is Ada"),
        ChatMessage(
            "assistant",
            "Saving.",
            [
                ToolCall("toolu_1", "core_memory_append", '{"label": "human", "content": "Ada"}'),
                ToolCall("toolu_2", "core_memory_append", "{broken"),
            ],
        ),
        ChatMessage("tool", "ok", tool_call_id="toolu_1", name="core_memory_append"),
        ChatMessage("tool", "Error: bad JSON", tool_call_id="toolu_2", name="core_memory_append"),
        ChatMessage("user", '{"type": "heartbeat", "reason": "continue"}'),
    ]
    return LlmRequest(model=model, messages=history, tools=[SEND_MESSAGE, CORE_MEMORY_APPEND], **kw)  # type: ignore[arg-type]


async def _streamed(
    provider: AnthropicProvider, request: LlmRequest
) -> tuple[LlmResponse, list[StreamDelta]]:
    deltas: list[StreamDelta] = []

    async def collect(delta: StreamDelta) -> None:
        deltas.append(delta)

    return await provider.complete(request, collect), deltas


async def test_history_is_sent_in_anthropic_shape(
    provider: AnthropicProvider, fake_llm: FakeLlmServer
) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("Hello Ada")])
    response = await provider.complete(_request(model))

    assert (response.content, response.finish_reason, response.tool_calls) == ("Hello Ada", "stop", [])
    sent = fake_llm.requests(model)[0]
    assert sent["system"] == "You are a helpful agent."
    assert sent["max_tokens"] == DEFAULT_MAX_TOKENS
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assistant = sent["messages"][1]["content"]
    assert assistant[0] == {"type": "text", "text": "Saving."}
    assert assistant[1]["input"] == {"label": "human", "content": "Ada"}
    assert assistant[2]["input"] == {}  # malformed arguments of an earlier call cannot be sent as an object
    results = sent["messages"][2]["content"]  # both tool results and the heartbeat merged into one user turn
    assert [b["type"] for b in results] == ["tool_result", "tool_result", "text"]
    assert [b.get("tool_use_id") for b in results[:2]] == ["toolu_1", "toolu_2"]
    assert sent["tools"][0] == {
        "name": "send_message",
        "description": SEND_MESSAGE.description,
        "input_schema": SEND_MESSAGE.parameters,
    }


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", True, {"type": "any"}),
        ("send_message", False, {"type": "tool", "name": "send_message", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
    ],
)
async def test_tool_choice_is_mapped(
    provider: AnthropicProvider, fake_llm: FakeLlmServer, choice: str, parallel: bool, expected: dict
) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.text("ok")])
    await provider.complete(_request(model, tool_choice=choice, parallel_tool_calls=parallel, max_tokens=99))
    sent = fake_llm.requests(model)[0]
    assert sent["tool_choice"] == expected
    assert sent["max_tokens"] == 99


async def test_streamed_response_equals_plain_response(
    provider: AnthropicProvider, fake_llm: FakeLlmServer
) -> None:
    model = _model()
    reply = FakeReply.tools(
        FakeToolCall("core_memory_append", {"label": "human", "content": "Name: Ada"}, "toolu_a"),
        FakeToolCall("send_message", {"message": "Saved, Ada."}, "toolu_b"),
        content="Let me note that.",
        reasoning="The user shared their name.",
    )
    fake_llm.script(model, [reply, reply])
    plain = await provider.complete(_request(model))
    streamed, deltas = await _streamed(provider, _request(model))

    assert streamed == plain
    assert plain.reasoning == "The user shared their name." and plain.finish_reason == "tool_calls"
    assert "".join(d.text for d in deltas if d.kind == "content") == "Let me note that."
    assert "".join(d.text for d in deltas if d.kind == "reasoning") == "The user shared their name."
    for index, call in enumerate(streamed.tool_calls):
        fragments = [d for d in deltas if d.kind == "tool_call" and d.index == index]
        assert (fragments[0].tool_call_id, fragments[0].tool_name) == (call.id, call.name)
        assert "".join(d.text for d in fragments) == call.arguments
    assert streamed.usage.prompt_tokens > 0 and streamed.usage.completion_tokens > 0


async def test_malformed_streamed_tool_json_passes_through_raw(
    provider: AnthropicProvider, fake_llm: FakeLlmServer
) -> None:
    model = _model()
    broken = '{"message": "unterminated'
    fake_llm.script(model, [FakeReply.tool("send_message", broken)])
    streamed, _ = await _streamed(provider, _request(model))
    assert streamed.tool_calls[0].arguments == broken


@pytest.mark.parametrize(
    ("reply", "error", "retryable"),
    [
        (
            FakeReply.http_error(429, "Number of request tokens has exceeded your rate limit"),
            RateLimited,
            True,
        ),
        (FakeReply.http_error(500), ProviderUnavailable, True),
        (FakeReply.http_error(529, "Overloaded"), ProviderUnavailable, True),
        (FakeReply.http_error(401, "invalid x-api-key"), ProviderRejected, False),
        (
            FakeReply.http_error(400, "messages: text content blocks must be non-empty"),
            ProviderRejected,
            False,
        ),
        (FakeReply.context_overflow(), ContextWindowExceeded, False),
    ],
    ids=["429", "500", "529", "401", "400", "context"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_http_errors_map_to_llm_errors_without_sdk_retries(
    provider: AnthropicProvider,
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


async def test_stream_cut_off_mid_answer_is_retryable_not_a_partial_answer(
    provider: AnthropicProvider, fake_llm: FakeLlmServer
) -> None:
    model = _model()
    fake_llm.script(model, [FakeReply.tool("send_message", {"message": "a long answer"}, cut_after_chunks=4)])
    with pytest.raises(ProviderUnavailable) as caught:
        await _streamed(provider, _request(model))
    assert caught.value.retryable
