"""The built-in `engram/offline` model follows the MemGPT memory protocol with Letta-shaped tools."""

from __future__ import annotations

import json
import uuid

from engram.llm.anthropic_provider import AnthropicProvider
from engram.llm.base import ChatMessage, LlmRequest, LlmResponse, StreamDelta, ToolCall, ToolSpec
from engram.llm.offline import OfflineProvider
from engram.llm.openai_provider import OpenAIProvider
from engram.llm.tokens import estimate_tokens
from tests.fake_llm import FakeLlmServer

HEARTBEAT = {"type": "boolean", "description": "Request an immediate heartbeat after function execution."}
LABEL = {"type": "string", "description": "Section of the memory to be edited, identified by its label."}


def _tool(name: str, properties: dict, required: list[str], heartbeat: bool) -> ToolSpec:
    """A Letta built-in schema (reference B.3); memgpt styles add `request_heartbeat` to non-terminal tools."""
    props = dict(properties)
    if heartbeat:
        props["request_heartbeat"] = HEARTBEAT
        required = [*required, "request_heartbeat"]
    return ToolSpec(name, f"Letta's {name}.", {"type": "object", "properties": props, "required": required})


def _tools(style: str) -> list[ToolSpec]:
    heartbeat = style != "letta_v1"
    search = _tool(
        "conversation_search", {"query": {"type": "string"}, "limit": {"type": "integer"}}, [], heartbeat
    )
    send = _tool("send_message", {"message": {"type": "string"}}, ["message"], False)
    if style == "memgpt_v1":
        append = _tool(
            "core_memory_append", {"label": LABEL, "content": {"type": "string"}}, ["label", "content"], True
        )
        replace = _tool(
            "core_memory_replace",
            {"label": LABEL, "old_content": {"type": "string"}, "new_content": {"type": "string"}},
            ["label", "old_content", "new_content"],
            True,
        )
        return [send, search, append, replace]
    replace = _tool(
        "memory_replace",
        {"label": LABEL, "old_string": {"type": "string"}, "new_string": {"type": "string"}},
        ["label", "old_string", "new_string"],
        heartbeat,
    )
    insert = _tool(
        "memory_insert",
        {"label": LABEL, "new_string": {"type": "string"}, "insert_line": {"type": "integer"}},
        ["label", "new_string"],
        heartbeat,
    )
    return ([send] if style == "memgpt_v2" else []) + [search, replace, insert]


def _block(label: str, value: str, numbered: bool = False) -> str:
    if numbered:  # Letta's Anthropic variant prefixes each value line with "N→ "
        value = "\n".join(f"{n}→ {line}" for n, line in enumerate(value.splitlines(), 1))
    return (
        f"<{label}>\n<description>\nThe {label} block.\n</description>\n<metadata>\n- chars_current={len(value)}\n"
        f"- chars_limit=5000\n</metadata>\n<value>\n{value}\n</value>\n</{label}>"
    )


def _system(human: str, persona: str = "I am Sam, a friendly agent.", numbered: bool = False) -> ChatMessage:
    blocks = "\n\n".join([_block("persona", persona, numbered), _block("human", human, numbered)])
    return ChatMessage(
        "system",
        "<base_instructions>Be helpful.</base_instructions>\n\n<memory_blocks>\nThe following "
        f"memory blocks are currently engaged in your core memory unit:\n\n{blocks}\n</memory_blocks>\n\n"
        "<memory_metadata>\n- AGENT_ID: agent-1\n- 0 previous messages are stored in recall memory\n"
        "</memory_metadata>",
    )


async def _ask(messages: list[ChatMessage], style: str = "memgpt_v2", **kw: object) -> LlmResponse:
    request = LlmRequest("offline", messages, _tools(style), **kw)  # type: ignore[arg-type]
    return await OfflineProvider().complete(request)


def _args(response: LlmResponse) -> dict:
    assert len(response.tool_calls) == 1
    return json.loads(response.tool_calls[0].arguments)


def _after_tool(
    history: list[ChatMessage], response: LlmResponse, result: dict, heartbeat: bool
) -> list[ChatMessage]:
    call = response.tool_calls[0]
    tail = [
        ChatMessage("assistant", None, [call], reasoning=response.reasoning),
        ChatMessage("tool", json.dumps(result), tool_call_id=call.id, name=call.name),
    ]
    if heartbeat:
        tail.append(
            ChatMessage(
                "user",
                json.dumps(
                    {
                        "type": "heartbeat",
                        "reason": "[This is an automated system message hidden from the user] continue",
                        "time": "now",
                    }
                ),
            )
        )
    return history + tail


async def test_stated_facts_are_saved_to_the_human_block_with_a_heartbeat() -> None:
    response = await _ask([_system(""), ChatMessage("user", "My name is Ada and I like chess")])

    assert response.tool_calls[0].name == "memory_insert" and response.finish_reason == "tool_calls"
    args = _args(response)
    assert args["label"] == "human" and args["request_heartbeat"] is True
    assert args["new_string"].splitlines() == ["Name: Ada", "Likes: chess"]
    assert response.reasoning and "core memory" in response.reasoning


async def test_after_the_memory_edit_the_reply_acknowledges_via_send_message() -> None:
    history = [_system(""), ChatMessage("user", "My name is Ada and I like chess")]
    first = await _ask(history)
    history = _after_tool(
        history, first, {"status": "OK", "message": "Name: Ada\nLikes: chess", "time": "now"}, True
    )
    second = await _ask(history)

    assert second.tool_calls[0].name == "send_message"
    message = _args(second)["message"]
    assert "Ada" in message and "chess" in message
    assert "request_heartbeat" not in _args(second)


async def test_name_is_answered_from_the_human_block() -> None:
    response = await _ask([_system("Name: Ada\nLikes: chess"), ChatMessage("user", "What is my name?")])
    assert response.tool_calls[0].name == "send_message"
    assert "Ada" in _args(response)["message"]


async def test_line_numbered_memory_is_read_like_plain_memory() -> None:
    response = await _ask(
        [_system("Name: Ada\nLikes: chess", numbered=True), ChatMessage("user", "what do I like?")]
    )
    assert "chess" in _args(response)["message"]


async def test_unknown_facts_are_admitted_not_invented() -> None:
    response = await _ask([_system("Likes: chess"), ChatMessage("user", "What is my name?")])
    assert "don't know your name" in _args(response)["message"]


async def test_letta_v1_style_saves_then_replies_with_plain_content() -> None:
    history = [_system(""), ChatMessage("user", "I live in Paris")]
    first = await _ask(history, style="letta_v1")
    assert first.tool_calls[0].name == "memory_insert"
    assert "request_heartbeat" not in _args(first)  # letta_v1 tools have no heartbeat parameter

    history = _after_tool(
        history, first, {"status": "OK", "message": "Lives in: Paris", "time": "now"}, False
    )
    second = await _ask(history, style="letta_v1")
    assert second.tool_calls == [] and second.finish_reason == "stop"
    assert second.content is not None and "Paris" in second.content


async def test_legacy_memory_tools_are_used_when_v2_tools_are_absent() -> None:
    response = await _ask([_system(""), ChatMessage("user", "call me Ada")], style="memgpt_v1")
    assert response.tool_calls[0].name == "core_memory_append"
    assert _args(response) == {"label": "human", "content": "Name: Ada", "request_heartbeat": True}


async def test_a_changed_name_replaces_the_old_entry() -> None:
    response = await _ask(
        [_system("Name: Ada\nLikes: chess"), ChatMessage("user", "Actually, my name is Grace.")]
    )
    assert response.tool_calls[0].name == "memory_replace"
    assert _args(response) == {
        "label": "human",
        "old_string": "Name: Ada",
        "new_string": "Name: Grace",
        "request_heartbeat": True,
    }


async def test_a_known_fact_is_not_saved_again() -> None:
    response = await _ask([_system("Name: Ada"), ChatMessage("user", "My name is Ada")])
    assert response.tool_calls[0].name == "send_message"


async def test_a_failed_memory_edit_gets_an_explanation_not_a_retry() -> None:
    history = [_system(""), ChatMessage("user", "My name is Ada")]
    first = await _ask(history)
    failure = {
        "status": "Failed",
        "message": "Error: This block is read-only and cannot be edited.",
        "time": "now",
    }
    second = await _ask(_after_tool(history, first, failure, True))

    assert second.tool_calls[0].name == "send_message"
    assert "read-only" in _args(second)["message"]


async def test_forced_tool_choice_is_obeyed() -> None:
    response = await _ask([_system(""), ChatMessage("user", "hello")], tool_choice="conversation_search")
    assert response.tool_calls[0].name == "conversation_search"
    assert isinstance(_args(response), dict)


async def test_tool_choice_none_gives_plain_content() -> None:
    response = await _ask([_system("Name: Ada"), ChatMessage("user", "What is my name?")], tool_choice="none")
    assert response.tool_calls == [] and response.content == "Your name is Ada."


async def test_same_request_gives_the_same_response() -> None:
    messages = [_system(""), ChatMessage("user", "My name is Ada")]
    assert await _ask(messages) == await _ask(messages)


async def test_streaming_deltas_rebuild_the_response() -> None:
    deltas: list[StreamDelta] = []

    async def collect(delta: StreamDelta) -> None:
        deltas.append(delta)

    for style in ("memgpt_v2", "letta_v1"):
        deltas.clear()
        request = LlmRequest(
            "offline", [_system("Name: Ada"), ChatMessage("user", "hello there")], _tools(style)
        )
        response = await OfflineProvider().complete(request, collect)

        assert "".join(d.text for d in deltas if d.kind == "reasoning") == response.reasoning
        assert "".join(d.text for d in deltas if d.kind == "content") == (response.content or "")
        calls = [d for d in deltas if d.kind == "tool_call"]
        if response.tool_calls:
            assert (calls[0].tool_call_id, calls[0].tool_name) == (response.tool_calls[0].id, "send_message")
            assert "".join(d.text for d in calls) == response.tool_calls[0].arguments
        else:
            assert calls == [] and response.content and "Ada" in response.content


async def test_usage_counts_the_prompt() -> None:
    messages = [_system("Name: Ada"), ChatMessage("user", "hi")]
    response = await _ask(messages)
    assert response.usage.prompt_tokens == estimate_tokens(messages, _tools("memgpt_v2"))
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_token_estimate_grows_with_messages_tool_calls_and_tools() -> None:
    short = [ChatMessage("user", "hi")]
    longer = [
        *short,
        ChatMessage("assistant", None, [ToolCall("c1", "send_message", '{"message": "' + "x" * 400 + '"}')]),
    ]
    assert (
        0
        < estimate_tokens(short, [])
        < estimate_tokens(longer, [])
        < estimate_tokens(longer, _tools("memgpt_v2"))
    )


async def test_unscripted_fake_server_models_behave_like_the_offline_model() -> None:
    """The fake server's fallback runs this model behind both wire formats (used by loop tests)."""
    server = FakeLlmServer.shared()
    for provider in (
        OpenAIProvider(api_key="x", base_url=server.url),
        AnthropicProvider(api_key="x", base_url=server.anthropic_url),
    ):
        history = [_system(""), ChatMessage("user", "My name is Ada and I like chess")]
        request = LlmRequest(f"unscripted-{uuid.uuid4().hex[:8]}", history, _tools("memgpt_v2"))
        first = await provider.complete(request)
        assert first.tool_calls[0].name == "memory_insert"
        request.messages = _after_tool(history, first, {"status": "OK", "message": "ok", "time": "now"}, True)
        second = await provider.complete(request)
        assert second.tool_calls[0].name == "send_message" and "Ada" in _args(second)["message"]
        await provider.aclose()


async def test_the_fake_servers_turn_only_reading_answers_as_the_whole_request_would() -> None:
    """Benchmarks rely on the fake reading only the current turn; every answer must stay the same."""
    from engram.llm.offline import respond
    from tests.fake_llm_wire import openai_to_request

    encoder = OpenAIProvider(api_key="x", base_url="http://127.0.0.1:9/v1")
    history = [_system("")]
    for words in ("My name is Ada and I like chess", "What is my name?", "I live in Paris", "Thanks!"):
        history.append(ChatMessage("user", words))
        for _ in range(4):  # the steps of one turn, up to the reply
            request = LlmRequest("offline", history, _tools("memgpt_v2"))
            body = json.loads(encoder._body(request))
            whole, turn_only = respond(openai_to_request(body)), respond(openai_to_request(body, turn_only=True))
            assert (turn_only.content, turn_only.reasoning, turn_only.tool_calls) == (
                whole.content, whole.reasoning, whole.tool_calls
            )  # fmt: skip
            if not whole.tool_calls or whole.tool_calls[0].name == "send_message":
                history.append(ChatMessage("assistant", whole.content, whole.tool_calls))
                for call in whole.tool_calls:
                    history.append(ChatMessage("tool", '{"status": "OK"}', tool_call_id=call.id, name=call.name))
                break
            history = _after_tool(history, whole, {"status": "OK", "message": "ok", "time": "now"}, True)
    assert len(history) > 12
    await encoder.aclose()
